"""The lists a running service screens against, kept current with their files and with the console.

Strategy: the screener starts with the lists the settings name; three things change it while the
service runs:
- the configured list files themselves: looked at every `list_check_interval_s` (and at once on
  SIGHUP or `api-engine lists reload`); a file whose size or modification time moved is loaded on a
  thread of its own, indexed beside the version in force and swapped in atomically
  (`watchlists.Screener.replace_list`). A file that cannot be loaded, or that holds no entry where
  the version in force holds some, leaves that version in force and says so: a log line (list name
  and reason, never a line of the file), `api_engine_list_error`, `/readyz` and `list_states`;
- clearances recorded in the console (the allowlist) stop repeat alerts for the same traveller and
  entry, but only once a second person approved them (status "approved"): a pending or rejected
  clearance hides nothing. Rows are approved after they are inserted, so the set of approved ids is
  compared each time rather than a high-water mark;
- lists accepted in the console's upload page are installed, oldest first (the latest version of a
  list wins). An upload naming a list the settings configure is installed only when a supervisor
  confirmed the replacement (`confirmed_by`); otherwise it is skipped, at start as while running, so
  it cannot empty a configured list.
Every version installed is recorded once in the store (`list_versions`: digest, diff counts and the
entries' fingerprints, so any later version's diff can be worked out after a restart), with an audit
entry; the worker that records a change also opens its re-screen run and flags the open hits of
entries that left the list. The re-screening itself is `api_engine.service.rescreen`.
A kept upload file that cannot be read is logged (its id and list name, never its content) and
skipped, never retried in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from api_engine.protection.audit import AuditTrail
from api_engine.service.screening import Screener, WatchlistScreener, file_stat
from api_engine.store import Store
from api_engine.store.schema import (
    allowlist,
    hits,
    list_requests,
    list_states,
    list_versions,
    rescreen_runs,
    watchlist_uploads,
)
from api_engine.store.store import CARRIED_STATUSES as UNDECIDED
from api_engine.store.store import now

if TYPE_CHECKING:
    from watchlists import LoadResult
    from watchlists.screener import Fingerprints, ListSnapshot

__all__ = ["ALLOWLIST_REFRESH_S", "UPLOADS_REFRESH_S", "LiveLists", "request_check"]

log = logging.getLogger("api_engine.service.lists")

ALLOWLIST_REFRESH_S = 2.0
UPLOADS_REFRESH_S = 5.0
REQUESTS_REFRESH_S = 2.0  # how often the store is asked for `lists reload` requests
KEEP_FINGERPRINTS = 10  # versions per list whose fingerprints are kept: a manifest screened against an
# older one (past the window, nearly always) is re-screened against the whole list

# Counts and list names only.
LIST_ENTRIES = Gauge("api_engine_list_entries", "Entries of the list version in force", ["list"])
LIST_CHANGES = Counter("api_engine_list_changes", "Entries added, removed or changed by installed list versions",
                       ["list", "kind"])
LIST_INSTALLS = Counter("api_engine_list_installs", "List versions installed while running", ["list", "trigger"])
LIST_FAILURES = Counter("api_engine_list_load_failures", "Loads of a configured list file that failed", ["list"])
LIST_ERROR = Gauge("api_engine_list_error", "1 while the configured file of a list cannot be loaded "
                   "(the version loaded before stays in force)", ["list"])

_check_requested = False  # set from a signal handler: look at the files at the next turn


def request_check() -> None:
    """Ask every LiveLists of this process to look at its list files now (SIGHUP)."""
    global _check_requested
    _check_requested = True


@dataclass
class _Source:
    """One configured list file: the list it holds and what its file looked like when last loaded."""

    path: str
    list_name: str | None
    stat: tuple[int, int, int] | None  # (inode, size, mtime_ns)
    error: str | None = None


class LiveLists:
    """The screener in force, with list file changes, the console's clearances and uploads applied to it."""

    def __init__(self, store: Store, screener: Screener, *, check_interval_s: float = 30.0) -> None:
        self.store = store
        self._interval = check_interval_s
        self.screener = screener
        self._allowlist_installed: set[int] = set()  # approved allowlist row ids installed into the screener
        self.configured: frozenset[str] = frozenset(getattr(getattr(screener, "screener", None), "lists", {}))
        self.sources: list[_Source] = [
            _Source(path, name, stat) for path, (name, stat) in getattr(screener, "sources", {}).items()]
        self._allowlist_checked = -1e9  # monotonic time of the last look at the allowlist table
        self._uploads_seen = 0  # highest watchlist upload id installed into the screener
        self._uploads_checked = -1e9
        self._files_checked = time.monotonic()
        self._requests_checked = -1e9
        self._requests_seen: int | None = None  # highest `lists reload` request seen (None: not read yet)
        self.uploads_task: asyncio.Task[None] | None = None
        self._installing = asyncio.Lock()  # one list installation at a time in this process
        self.changed = asyncio.Event()  # set when a version is installed: the re-screener looks at once
        self.on_installed: list[Callable[[str], Awaitable[None]]] = []

    # ---- the screener's lists ---------------------------------------------------------------------

    @property
    def lists(self) -> Any:
        """The watchlists.Screener in force (None when nothing is configured or uploaded)."""
        return getattr(self.screener, "screener", None)

    def versions(self) -> dict[str, str]:
        """Digest of each list version in force: what a manifest screened now is screened against."""
        lists = self.lists
        if lists is None:
            return {}
        return {name: snap.fingerprints.digest for name, snap in lists.lists.items()}

    def status(self) -> dict[str, object]:
        """For /readyz: each list's version in force and, while its file cannot be loaded, why."""
        out: dict[str, object] = {}
        lists = self.lists
        snaps = lists.lists if lists is not None else {}
        for name, snap in snaps.items():
            out[name] = {"version": snap.version, "digest": snap.fingerprints.digest[:12],
                         "entries": len(snap.index)}
        for src in self.sources:
            if src.error is not None:
                key = src.list_name or src.path
                entry = dict(out.get(key) or {})  # type: ignore[call-overload]
                entry["error"] = f"{src.error}; the version loaded before stays in force" if key in snaps \
                    else src.error
                out[key] = entry
        return out

    @property
    def errors(self) -> list[str]:
        return [f"{s.list_name or s.path}: {s.error}" for s in self.sources if s.error is not None]

    async def refresh(self) -> None:
        """Called before a batch is prepared: cheap unless an interval has run out."""
        await self._refresh_allowlist()
        self._watch_uploads()

    async def close(self) -> None:
        if self.uploads_task is not None and not self.uploads_task.done():
            self.uploads_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.uploads_task

    # ---- versions in the store ----------------------------------------------------------------------

    async def record_all(self, trigger: str) -> None:
        """Record the versions in force (at start: a file changed while the service was down is a change)."""
        lists = self.lists
        if lists is None:
            return
        by_name = {s.list_name: s.path for s in self.sources}
        for name, snap in lists.lists.items():
            await self.record(snap, source=by_name.get(name, "upload"), trigger=trigger)

    async def record(self, snap: ListSnapshot, *, source: str, trigger: str,
                     previous: Fingerprints | None = None) -> int | None:
        """Record a version installed here; the worker that records it first also audits the change, opens
        its re-screen run and flags the open hits of removed entries. Returns the run id it opened."""
        from watchlists.screener import Fingerprints

        digest = snap.fingerprints.digest
        name = snap.name
        async with self.store.transaction() as conn:
            await self._state(conn, name, source, snap=snap)
        try:
            async with self.store.transaction() as conn:
                prev = (await conn.execute(
                    select(list_versions.c.id, list_versions.c.digest, list_versions.c.version, list_versions.c.seq)
                    .where(list_versions.c.list_name == name).order_by(list_versions.c.seq.desc()).limit(1))).first()
                if prev is not None and prev.digest == digest:
                    return None  # recorded already (by another worker, or before a restart)
                old = previous
                if prev is not None:  # read only for a change: 20 bytes an entry
                    old = Fingerprints.from_bytes(bytes(await conn.scalar(
                        select(list_versions.c.fingerprints).where(list_versions.c.id == prev.id)) or b""))
                if old is not None:
                    added, removed, changed = old.compare(snap.fingerprints)
                    counts = (len(added), len(removed), len(changed))
                else:
                    counts = (len(snap.fingerprints), 0, 0)
                at = now()
                await conn.execute(list_versions.insert().values(
                    list_name=name, digest=digest, version=snap.version[:64], source=source[:500],
                    entries=len(snap.fingerprints), previous_digest=prev.digest if prev is not None else None,
                    added=counts[0], removed=counts[1], changed=counts[2],
                    fingerprints=snap.fingerprints.to_bytes(), trigger=trigger, installed_at=at,
                    seq=prev.seq + 1 if prev is not None else 1))
                if prev is not None:  # older versions keep their counts; their fingerprints go (20 bytes an entry)
                    await conn.execute(update(list_versions).where(
                        list_versions.c.list_name == name, list_versions.c.seq <= prev.seq + 1 - KEEP_FINGERPRINTS)
                        .values(fingerprints=b""))
                run_id = None
                flagged = 0
                if prev is not None or trigger != "start":  # a change, or a list new to a running service
                    if prev is not None and old is not None:
                        flagged = await _flag_removed(conn, name, old, snap.fingerprints, at)
                    run_id = (await conn.execute(rescreen_runs.insert().values(
                        list_name=name, from_digest=prev.digest if prev is not None else None, to_digest=digest,
                        from_version=prev.version if prev is not None else None,
                        to_version=snap.version[:64], trigger=trigger, entries=counts[0] + counts[2],
                        removed=counts[1], flagged=flagged, status="running", started_at=at, updated_at=at)
                        .returning(rescreen_runs.c.id))).scalar_one()
                await AuditTrail(self.store).append(
                    actor="service", action="lists.version_installed", subject=f"list:{name}", session=conn,
                    purpose="list management",
                    details={"list": name, "version": snap.version, "digest": digest,
                             "previous_digest": prev.digest if prev is not None else None, "source": source,
                             "trigger": trigger, "entries": len(snap.fingerprints), "added": counts[0],
                             "removed": counts[1], "changed": counts[2], "open_hits_flagged_removed": flagged,
                             "rescreen_run": run_id})
        except IntegrityError:  # another worker recorded it first
            return None
        for kind, n in zip(("added", "removed", "changed"), counts, strict=True):
            LIST_CHANGES.labels(name, kind).inc(n)
        log.info("event=list_version_recorded list=%s digest=%s added=%d removed=%d changed=%d trigger=%s",
                 name, digest[:12], *counts, trigger)
        return run_id

    async def _state(self, conn: Any, name: str, source: str, *, snap: ListSnapshot | None = None,
                     error: str | None = None) -> None:
        """Upsert this list's row of `list_states` (the version in force, or the error next to it)."""
        at = now()
        values: dict[str, Any] = {"source": source[:500], "checked_at": at}
        if snap is not None:
            values.update(digest=snap.fingerprints.digest, version=snap.version[:64], entries=len(snap.index),
                          error=None, error_at=None)
        if error is not None:
            values.update(error=error)
        done = await conn.execute(update(list_states).where(list_states.c.list_name == name).values(**values))
        if error is not None:  # keep the first moment of a lasting error
            await conn.execute(update(list_states).where(list_states.c.list_name == name,
                                                         list_states.c.error_at.is_(None)).values(error_at=at))
        if done.rowcount == 0:
            with contextlib.suppress(IntegrityError):
                async with conn.begin_nested():
                    await conn.execute(list_states.insert().values(
                        list_name=name, **values, **({"error_at": at} if error is not None else {})))

    # ---- the configured files ---------------------------------------------------------------------

    async def check_files(self, *, trigger: str = "file_change", force: bool = False) -> list[str]:
        """Load the configured files that changed (all of them with `force`); returns the lists installed."""
        global _check_requested
        _check_requested = False
        self._files_checked = time.monotonic()
        installed: list[str] = []
        for src in self.sources:
            stat = file_stat(src.path)
            if not force and stat is not None and stat == src.stat and src.error is None:
                continue
            if not force and stat is None and src.error is not None:
                continue  # still missing: said already
            name = await self._load_source(src, stat, trigger)
            if name is not None:
                installed.append(name)
        return installed

    async def _load_source(self, src: _Source, stat: tuple[int, int, int] | None, trigger: str) -> str | None:
        from watchlists import load
        from watchlists.loaders.common import LoadError

        label = src.list_name or Path(src.path).name
        lists = self.lists
        async with self._installing:
            try:
                if stat is None:
                    raise FileNotFoundError(src.path)
                result: LoadResult = await asyncio.to_thread(load, src.path)
                if src.list_name is not None and result.list_name != src.list_name and result.entries:
                    raise _Renamed(f"the file now holds the list {result.list_name[:100]}, not {src.list_name}; "
                                   "restart the service to configure another list")
                if src.list_name is not None and result.list_name != src.list_name:
                    result = dataclasses.replace(result, list_name=src.list_name)  # an empty file names no list
                old = lists.lists.get(result.list_name) if lists is not None else None
                snap, previous = await asyncio.to_thread(self._install, result, old)
            except (OSError, ValueError, LoadError, csv.Error) as exc:
                reason = _reason(exc)
                first = src.error != reason
                src.error, src.stat = reason, stat
                LIST_ERROR.labels(label).set(1)
                if first:
                    LIST_FAILURES.labels(label).inc()
                    log.error("event=list_load_failed list=%s reason=%s action=keep_version_in_force", label, reason)
                    async with self.store.transaction() as conn:
                        await self._state(conn, label, src.path, error=reason)
                        await AuditTrail(self.store).append(
                            actor="service", action="lists.load_failed", subject=f"list:{label}", session=conn,
                            details={"list": label, "source": src.path, "reason": reason})
                return None
        src.error, src.stat, src.list_name = None, stat, snap.name
        LIST_ERROR.labels(snap.name).set(0)
        LIST_ENTRIES.labels(snap.name).set(len(snap.index))
        if previous is not None and previous.digest == snap.fingerprints.digest:
            async with self.store.transaction() as conn:
                await self._state(conn, snap.name, src.path, snap=snap)
            return None  # the same entries written again: nothing changed
        LIST_INSTALLS.labels(snap.name, trigger).inc()
        log.info("event=list_installed list=%s version=%s entries=%d trigger=%s", snap.name, snap.version,
                 len(snap.index), trigger)
        await self.record(snap, source=src.path, trigger=trigger, previous=previous)
        self.changed.set()
        for hook in self.on_installed:
            await hook(snap.name)
        return snap.name

    def _install(self, result: LoadResult, old: ListSnapshot | None) -> tuple[ListSnapshot, Fingerprints | None]:
        """Build the new version beside the one in force and swap it in (on a thread)."""
        from watchlists import Screener as ListScreener

        if old is not None and len(old.index) and not result.entries:
            raise _Empty("the file holds no entries")
        if not hasattr(self.lists, "replace_list"):
            self.screener = WatchlistScreener(ListScreener())
        lists = self.lists
        lists.replace_list(result)
        new = lists.lists[result.list_name]
        if old is not None and old.fingerprints.digest == new.fingerprints.digest:
            lists.put_back(old)  # the same entries written again: the version (and its label) stays
            return old, old.fingerprints
        return new, old.fingerprints if old is not None else None

    async def maybe_check(self) -> None:
        """The periodic look: files every interval, at once after SIGHUP or a `lists reload` request; the
        console's uploads every few seconds (installed in the background), records flowing or not."""
        self._watch_uploads()
        if not self.sources:
            return
        interval = self._interval
        trigger = "signal" if _check_requested else "file_change"
        due = _check_requested or time.monotonic() - self._files_checked >= interval
        if await self._reload_requested():
            due, trigger = True, "operator"
        if due:
            await self.check_files(trigger=trigger, force=trigger == "operator")

    async def _reload_requested(self) -> bool:
        now_m = time.monotonic()
        if now_m - self._requests_checked < REQUESTS_REFRESH_S:
            return False
        self._requests_checked = now_m
        async with self.store.engine.connect() as conn:
            newest = await conn.scalar(select(func.max(list_requests.c.id)))
        newest = int(newest or 0)
        if self._requests_seen is None:  # requests made before this worker started were served by its start
            self._requests_seen = newest
            return False
        if newest > self._requests_seen:
            self._requests_seen = newest
            return True
        return False

    # ---- console uploads --------------------------------------------------------------------------

    def _watch_uploads(self) -> None:
        """Every few seconds, start installing the uploads accepted since the last look (in the background)."""
        now_m = time.monotonic()
        if now_m - self._uploads_checked < UPLOADS_REFRESH_S:
            return
        self._uploads_checked = now_m
        if self.uploads_task is None or self.uploads_task.done():
            self.uploads_task = asyncio.create_task(self.install_uploads())

    async def install_uploads(self) -> None:
        """Install the accepted console uploads not installed yet, oldest first."""
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(
                select(watchlist_uploads.c.id, watchlist_uploads.c.list_name, watchlist_uploads.c.path,
                       watchlist_uploads.c.confirmed_by)
                .where(watchlist_uploads.c.id > self._uploads_seen, watchlist_uploads.c.accepted.is_(True))
                .order_by(watchlist_uploads.c.id))).all()
        if not rows:
            return
        from watchlists.loaders.national import load_national

        for row in rows:
            self._uploads_seen = max(self._uploads_seen, row.id)
            if row.list_name in self.configured and not row.confirmed_by:
                log.warning("watchlist upload %d (%s) not installed: it names a configured list and no "
                            "supervisor confirmed the replacement", row.id, row.list_name)
                continue
            try:
                result = await asyncio.to_thread(load_national, Path(row.path or ""), jsonl=False)
                if result.list_name in self.configured and not row.confirmed_by:
                    log.warning("watchlist upload %d not installed: its content names a configured list", row.id)
                    continue
                async with self._installing:
                    lists = self.lists
                    old = lists.lists.get(result.list_name) if lists is not None else None
                    snap, _ = await asyncio.to_thread(self._install, result, None)
            except (OSError, ValueError, csv.Error) as exc:  # unreadable file or content
                log.warning("watchlist upload %d (%s) not installed: %s", row.id, row.list_name, type(exc).__name__)
            else:
                log.info("watchlist upload %d installed: %s %s, %d entries", row.id, snap.name, snap.version,
                         len(snap.index))
                LIST_ENTRIES.labels(snap.name).set(len(snap.index))
                if old is None or old.fingerprints.digest != snap.fingerprints.digest:
                    await self.record(snap, source=f"upload:{row.id}", trigger="upload",
                                      previous=old.fingerprints if old is not None else None)
                    self.changed.set()

    # ---- the allowlist ----------------------------------------------------------------------------

    async def _refresh_allowlist(self) -> None:
        """Clearances approved in the console (four eyes) stop repeat alerts here; pending ones do not."""
        lists = self.lists
        if lists is None or not hasattr(lists, "add_clearance"):
            return
        now_m = time.monotonic()
        if now_m - self._allowlist_checked < ALLOWLIST_REFRESH_S:
            return
        self._allowlist_checked = now_m
        from watchlists.screener import Clearance

        async with self.store.engine.connect() as conn:
            approved = set((await conn.execute(select(allowlist.c.id).where(allowlist.c.status == "approved")))
                           .scalars())
            new = approved - self._allowlist_installed
            if not new:
                return
            rows = (await conn.execute(select(allowlist).where(allowlist.c.id.in_(sorted(new)))
                                       .order_by(allowlist.c.id))).all()
        for r in rows:
            lists.add_clearance(Clearance(list=r.list, entry_id=r.entry_id, fingerprint=r.fingerprint, reason=r.reason,
                                          cleared_by=r.cleared_by, cleared_on=r.cleared_at.date()))
            self._allowlist_installed.add(r.id)


class _Empty(ValueError):
    """A list file that now holds no entry: never installed over a version that holds some."""


class _Renamed(ValueError):
    """A configured file that now holds another list: the list it held stays in force."""


def _reason(exc: BaseException) -> str:
    """Why a list file could not be loaded, without quoting it (a line could hold a listed person's data)."""
    if isinstance(exc, FileNotFoundError):
        return "the file is missing"
    if isinstance(exc, PermissionError):
        return "the file cannot be read (permission denied)"
    if isinstance(exc, _Empty | _Renamed):
        return str(exc)
    name = type(exc).__name__
    return {"LoadError": "the file cannot be read as a list", "JSONDecodeError": "the file is not valid JSON",
            "ParseError": "the file is not valid XML", "Error": "the file is not valid CSV",
            "UnicodeDecodeError": "the file is not valid text"}.get(name, f"the file cannot be loaded ({name})")


async def _flag_removed(conn: Any, list_name: str, old: Fingerprints, new: Fingerprints, at: Any) -> int:
    """Flag the undecided hits of entries that left the list ("entry removed from list"); an entry back
    on the list loses the flag. Hits stay open: only an officer's decision closes one."""
    from watchlists.screener import id_key

    rows = (await conn.execute(select(hits.c.entry_id, hits.c.entry_removed_at).distinct()
                               .where(hits.c.list == list_name, hits.c.status.in_(UNDECIDED)))).all()
    if not rows:
        return 0
    present = set(new.keys.tolist())
    was = set(old.keys.tolist())
    gone = [r.entry_id for r in rows if r.entry_removed_at is None and id_key(r.entry_id) not in present
            and id_key(r.entry_id) in was]
    back = [r.entry_id for r in rows if r.entry_removed_at is not None and id_key(r.entry_id) in present]
    flagged = 0
    for chunk in _chunks(gone):
        flagged += (await conn.execute(update(hits).where(
            hits.c.list == list_name, hits.c.entry_id.in_(chunk), hits.c.status.in_(UNDECIDED),
            hits.c.entry_removed_at.is_(None)).values(entry_removed_at=at))).rowcount
    for chunk in _chunks(back):
        await conn.execute(update(hits).where(hits.c.list == list_name, hits.c.entry_id.in_(chunk))
                           .values(entry_removed_at=None))
    return int(flagged)


def _chunks(items: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
