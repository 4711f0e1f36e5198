"""What operators ask of the live lists: a reload, a re-screen since an instant, and their state.

Strategy: nothing here screens. A reload is a `list_requests` row the running workers notice; a
re-screen moves `manifest_screens.digest` of the manifests still in the window back to the version
that was in force at `since` (or to "", the whole list), so the workers, which re-screen every
manifest whose digest differs from the version in force, screen them against the changes made since
then. The run is recorded first, so the workers' counters have a row to land on; marking goes in
batches of short transactions so the service's own writers are not held up. A manifest already
waiting for an older point (an older digest, or "") is left there: moving it forward would skip
changes it was never screened against. Everything is audited by reference (list, digests, counts),
never personal data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api_engine.protection.audit import AuditTrail
from api_engine.service.rescreen import window_clause
from api_engine.store import Store
from api_engine.store.schema import (
    list_requests,
    list_states,
    list_versions,
    manifest_screens,
    manifests,
    rescreen_runs,
)
from api_engine.store.store import insert_ignoring_conflicts, stored_utc
from watchlists.screener import Fingerprints

__all__ = ["ListChange", "ListState", "ListsStatus", "RescreenRequested", "UnknownList", "lists_status",
           "request_reload", "request_rescreen_runs", "wait_for_runs"]

BATCH = 1000


class UnknownList(ValueError):
    """A list named for a re-screen has no version in force (never loaded, or misspelt)."""


def _utc_now(now: datetime | None) -> datetime:
    return stored_utc(now) or datetime.now(UTC)


# ---- reload ---------------------------------------------------------------------------------------


async def request_reload(store: Store, *, requested_by: str) -> int:
    """Ask every running worker to look at its list files now; the request and its audit entry commit together."""
    async with store.transaction() as conn:
        request_id: int = (await conn.execute(
            insert(list_requests).values(kind="reload", requested_by=requested_by[:100],
                                         requested_at=datetime.now(UTC))
            .returning(list_requests.c.id))).scalar_one()
        await AuditTrail(store).append(actor=requested_by, action="lists.reload_requested", subject="lists",
                                       details={"request": request_id}, session=conn)
    return request_id


# ---- re-screen ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RescreenRequested:
    """One run asked for: which list, from which version to which, how much work it marked."""

    run_id: int
    list_name: str
    from_digest: str | None
    from_version: str | None
    to_digest: str
    to_version: str
    entries: int
    removed: int
    manifests: int  # manifests marked for re-screening by this request

    @property
    def nothing_to_do(self) -> bool:
        return self.manifests == 0


async def request_rescreen_runs(store: Store, *, requested_by: str, since: datetime | None,
                                now: datetime | None = None, lists: Sequence[str] | None = None,
                                margin_s: float) -> list[RescreenRequested]:
    """Re-screen the travellers in the window against what changed in each list since `since` (None: against
    the whole list); per run, what it marked (what the command prints).

    Raises UnknownList, before anything is written, when a named list has no version in force."""
    at = _utc_now(now)
    since = stored_utc(since)
    async with store.engine.connect() as conn:
        in_force = {r.list_name: r for r in await conn.execute(
            select(list_states).where(list_states.c.digest.is_not(None)).order_by(list_states.c.list_name))}
    if lists:
        missing = sorted(set(lists) - set(in_force))
        if missing:
            raise UnknownList(f"no version in force for list(s): {', '.join(missing)}")
        names = sorted(set(lists))
    else:
        names = list(in_force)
    out = []
    for name in names:
        out.append(await _rescreen_list(store, in_force[name], requested_by=requested_by, since=since, now=at,
                                        margin_s=margin_s))
    return out


async def _version_at(conn: AsyncConnection, list_name: str, since: datetime | None) -> Any:
    if since is None:
        return None
    return (await conn.execute(
        select(list_versions).where(list_versions.c.list_name == list_name, list_versions.c.installed_at <= since)
        .order_by(list_versions.c.installed_at.desc(), list_versions.c.id.desc()).limit(1))).first()


async def _fingerprints(conn: AsyncConnection, list_name: str, digest: str) -> Fingerprints | None:
    blob = await conn.scalar(select(list_versions.c.fingerprints)
                             .where(list_versions.c.list_name == list_name, list_versions.c.digest == digest))
    return Fingerprints.from_bytes(bytes(blob)) if blob is not None else None


async def _rescreen_list(store: Store, state: Any, *, requested_by: str, since: datetime | None, now: datetime,
                         margin_s: float) -> RescreenRequested:
    name, to_digest = str(state.list_name), str(state.digest)
    to_version = str(state.version or to_digest[:12])
    async with store.engine.connect() as conn:
        start = await _version_at(conn, name, since)
        target = await _fingerprints(conn, name, to_digest)
        source = (Fingerprints.from_bytes(bytes(start.fingerprints))
                  if start is not None and start.digest != to_digest else None)
    if start is None:
        entries = int(state.entries if state.entries is not None else len(target) if target is not None else 0)
        removed = 0
    elif source is None:  # the version in force at `since` is still in force: nothing changed since
        entries = removed = 0
    elif target is None:  # the version in force was never recorded: count its changes as unknown (whole list)
        entries, removed = int(state.entries or 0), 0
    else:
        added, gone, changed = source.compare(target)
        entries, removed = len(added) + len(changed), len(gone)
    from_digest = None if start is None else str(start.digest)
    from_version = None if start is None else str(start.version)
    unchanged = from_digest == to_digest

    async with store.transaction() as conn:
        run_id: int = (await conn.execute(insert(rescreen_runs).values(
            list_name=name, from_digest=from_digest, to_digest=to_digest, from_version=from_version,
            to_version=to_version, trigger="operator", requested_by=requested_by[:100], since=since,
            entries=entries, removed=removed, status="running", started_at=now, updated_at=now)
            .returning(rescreen_runs.c.id))).scalar_one()

    marked = 0 if unchanged else await _mark(store, name, from_digest, start, to_digest, now=now, margin_s=margin_s)
    if marked == 0:  # nothing waits for the workers: the run is over as it starts
        async with store.transaction() as conn:
            await conn.execute(update(rescreen_runs).where(rescreen_runs.c.id == run_id).values(
                status="done", finished_at=now, updated_at=now, seconds=0.0))
    await AuditTrail(store).append(
        actor=requested_by, action="lists.rescreen_requested", subject=f"list:{name}",
        details={"list": name, "run": run_id, "from_digest": from_digest, "to_digest": to_digest,
                 "since": since.isoformat() if since else None, "manifests": marked})
    return RescreenRequested(run_id=run_id, list_name=name, from_digest=from_digest, from_version=from_version,
                             to_digest=to_digest, to_version=to_version, entries=entries, removed=removed,
                             manifests=marked)


async def _mark(store: Store, name: str, from_digest: str | None, start: Any, to_digest: str, *, now: datetime,
                margin_s: float) -> int:
    """Point the window's manifests at `from_digest` ("" when None), in batches; returns how many moved."""
    digest = from_digest or ""
    # Digests that already cover at least what this request asks for: stay as they are.
    keep: Any = manifest_screens.c.digest == ""
    if start is not None:  # a version in force again since (a file put back) is not "older" for that
        older = select(list_versions.c.digest).where(list_versions.c.list_name == name,
                                                     list_versions.c.installed_at <= start.installed_at,
                                                     list_versions.c.digest != to_digest)
        keep = keep | manifest_screens.c.digest.in_(older)
    window = window_clause(now - timedelta(seconds=margin_s))  # what the workers' sweep looks at
    marked, after = 0, 0
    while True:
        async with store.engine.connect() as conn:
            ids = list((await conn.execute(select(manifests.c.id).where(window, manifests.c.id > after)
                                           .order_by(manifests.c.id).limit(BATCH))).scalars())
        if not ids:
            return marked
        after = ids[-1]
        async with store.transaction() as conn:
            moved = await conn.execute(update(manifest_screens).where(
                manifest_screens.c.list_name == name, manifest_screens.c.manifest_id.in_(ids), ~keep)
                .values(digest=digest))
            have = set((await conn.execute(select(manifest_screens.c.manifest_id).where(
                manifest_screens.c.list_name == name, manifest_screens.c.manifest_id.in_(ids)))).scalars())
            new = [{"manifest_id": i, "list_name": name, "digest": digest} for i in ids if i not in have]
            added = 0
            if new:  # a worker screening a new manifest meanwhile may insert its row first: that row wins
                added = len((await conn.execute(insert_ignoring_conflicts(conn, manifest_screens), new)).all())
            marked += int(moved.rowcount or 0) + added


# ---- status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListState:
    """A configured list as the service last checked it; `error` set while its file cannot be loaded."""

    name: str
    source: str
    version: str | None
    digest: str | None
    entries: int | None
    checked_at: datetime | None
    error: str | None
    error_at: datetime | None


@dataclass(frozen=True)
class ListChange:
    """One installed version of a list and what it changed against the one before."""

    list_name: str
    installed_at: datetime | None
    version: str
    digest: str
    previous_version: str | None
    previous_digest: str | None
    entries: int
    added: int
    removed: int
    changed: int
    trigger: str


@dataclass(frozen=True)
class ListsStatus:
    lists: list[ListState]
    changes: list[ListChange]  # newest first
    runs: list[dict[str, Any]]  # rescreen_runs rows, newest first, times in UTC

    @property
    def in_error(self) -> list[ListState]:
        return [s for s in self.lists if s.error]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 strings."""
        out: dict[str, Any] = _jsonable({"lists": [asdict(s) for s in self.lists],
                                         "changes": [asdict(c) for c in self.changes], "runs": self.runs})
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _run_dict(row: Any) -> dict[str, Any]:
    return {k: stored_utc(v) if isinstance(v, datetime) else v for k, v in row._mapping.items()}


async def lists_status(store: Store, *, runs: int = 10, changes: int = 5) -> ListsStatus:
    """The lists in force (and in error), the last `changes` versions of each, the last `runs` re-screens."""
    without_blob = [c for c in list_versions.c if c.name != "fingerprints"]
    async with store.engine.connect() as conn:
        states = [ListState(name=r.list_name, source=r.source, version=r.version, digest=r.digest, entries=r.entries,
                            checked_at=stored_utc(r.checked_at), error=r.error, error_at=stored_utc(r.error_at))
                  for r in await conn.execute(select(list_states).order_by(list_states.c.list_name))]
        ranked = select(*without_blob, func.row_number().over(
            partition_by=list_versions.c.list_name,
            order_by=(list_versions.c.installed_at.desc(), list_versions.c.id.desc())).label("rank")).subquery()
        versions = (await conn.execute(select(ranked).where(ranked.c.rank <= changes)
                                       .order_by(ranked.c.installed_at.desc(), ranked.c.id.desc()))).all()
        labels = await _labels(conn, {(r.list_name, r.previous_digest) for r in versions if r.previous_digest})
        recent = [_run_dict(r) for r in await conn.execute(
            select(rescreen_runs).order_by(rescreen_runs.c.id.desc()).limit(runs))]
    return ListsStatus(lists=states, runs=recent, changes=[
        ListChange(list_name=r.list_name, installed_at=stored_utc(r.installed_at), version=r.version, digest=r.digest,
                   previous_digest=r.previous_digest, previous_version=labels.get((r.list_name, r.previous_digest)),
                   entries=r.entries, added=r.added, removed=r.removed, changed=r.changed, trigger=r.trigger)
        for r in versions])


async def _labels(conn: AsyncConnection, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The version labels of the previous versions named by the changes shown."""
    out: dict[tuple[str, str], str] = {}
    pairs = sorted(wanted)
    for name in {n for n, _ in pairs}:
        digests = [d for n, d in pairs if n == name]
        for r in await conn.execute(select(list_versions.c.digest, list_versions.c.version).where(
                list_versions.c.list_name == name, list_versions.c.digest.in_(digests))):
            out[(name, r.digest)] = r.version
    return out


# ---- waiting --------------------------------------------------------------------------------------


async def wait_for_runs(store: Store, run_ids: Sequence[int], *, timeout_s: float,
                        poll_s: float = 0.5) -> list[dict[str, Any]]:
    """The runs' rows once every one is done, or as they stand when `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with store.engine.connect() as conn:
            rows = [_run_dict(r) for r in await conn.execute(
                select(rescreen_runs).where(rescreen_runs.c.id.in_(list(run_ids))).order_by(rescreen_runs.c.id))]
        if all(r["status"] == "done" for r in rows) or time.monotonic() >= deadline:
            return rows
        await asyncio.sleep(max(0.0, min(poll_s, deadline - time.monotonic())))
