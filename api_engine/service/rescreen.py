"""Re-screening: a list change reaches the travellers already received.

Strategy: every manifest records which version (digest) of each list its travellers were screened
against (`manifest_screens`, written with the manifest, the versions taken before screening began).
A worker's sweep looks for manifests of flights still in the window (not replaced, complete, arriving
no earlier than `rescreen_margin_s` ago) whose version of a list is not the one in force, and screens
their travellers against what changed in between only: the entries added or changed since that
version, indexed on their own but weighed as the whole list (`watchlists.screener.changed_snapshot`),
so the cost follows the size of the change. The older version's fingerprints come from
`list_versions`, so this works after a restart too; a manifest with no version of the list (screened
before the list was loaded) is screened against the whole list.
- Exactly once per change: the manifest's version is moved in the same transaction that stores its new
  hits and their alert events (compare-and-set on the old version), so two workers, a crash or a replay
  never alert twice, and a manifest screened by a worker still on the old version is caught later.
- Only new hits: a hit already stored for the traveller and entry (whatever its status) is not raised
  again; clearances approved in the console apply as in normal screening.
- Same path as any alert: the hit row (sealed explanation) for the console's queue, decisions and four
  eyes, and an AlertEvent on `border.alerts` (minimised, `raised_by: rescreen`), stored with the hits
  and produced afterwards (at-least-once; consumers deduplicate by event id). The stored copies belong
  to the manifest's interchange, so retention deletes them on the raw-message clock.
- Identity data is read only here, inside the service, for travellers in the window who are not
  depersonalised; nothing about a traveller is logged.
- Sharing the worker: screening runs in chunks on the processor's CPU thread, taking turns with the
  records; while records wait, a chunk is followed by a pause so that re-screening takes at most
  `rescreen_share` of the worker; an idle worker re-screens at full speed. With several workers each
  takes the manifests of its own residue (id modulo workers) first, then helps with the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from sqlalchemy import and_, func, or_, select, update

from api_engine.protection.audit import AuditTrail
from api_engine.service.events import AlertEvent, OutputKind, event_id
from api_engine.service.outputs import alert_event, flight_ref
from api_engine.store import Store, StoredOutput
from api_engine.store.schema import (
    hits,
    list_versions,
    manifest_screens,
    manifests,
    processed_records,
    rescreen_runs,
    travellers,
)
from api_engine.store.store import insert_ignoring_conflicts, now, stored_utc

if TYPE_CHECKING:
    from api_engine.service.processor import Processor
    from watchlists.models import Hit
    from watchlists.screener import ListSnapshot

__all__ = ["Rescreener", "SweepReport", "screen_rows", "window_clause"]

log = logging.getLogger("api_engine.service.rescreen")

RESCREENED = Counter("api_engine_rescreened_travellers", "Stored travellers screened again after a list change",
                     ["list"])
RESCREEN_HITS = Counter("api_engine_rescreen_hits", "New hits raised by re-screening", ["list"])

MANIFESTS_PER_CLAIM = 40  # about 8,000 travellers: one read, one transaction
CATCH_UP_S = 30.0  # a sweep at least this often, even with nothing announced
CHUNK = 1000  # travellers screened per turn on the CPU thread (tens of milliseconds)
PENDING = "rescreen"  # processed_records.outcome of stored alert events not yet acknowledged by the broker
SENT = "rescreen_sent"
SEALED_COLUMN = "travellers.traveller_json"


def window_clause(cutoff: datetime) -> Any:
    """Manifests whose travellers may still be re-screened: the list in force for the flight, complete,
    and not arrived longer ago than the margin (a flight with no times counts from its receipt)."""
    return and_(manifests.c.replaced_by.is_(None), manifests.c.complete.is_(True),
                func.coalesce(manifests.c.arrives_at, manifests.c.departs_at, manifests.c.created_at) >= cutoff)


def _screen_fields(d: Mapping[str, Any]) -> tuple[str, date | None, str | None, str | None,
                                                  list[tuple[str | None, str | None]]] | None:
    """What screening reads from a stored traveller (as `WatchlistScreener.screen` reads the model)."""
    given = d.get("given_names") or []
    name = d.get("full_name") or " ".join(p for p in (" ".join(given), d.get("surname")) if p)
    if not name:
        return None  # listed by reference only: nothing to screen
    raw = d.get("date_of_birth")
    dob = None
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            dob = date.fromisoformat(raw)
    docs = [(x.get("number"), x.get("issuing_state")) for x in d.get("documents") or [] if x.get("number")]
    return name, dob, d.get("nationality"), d.get("gender"), docs


def screen_rows(lists: Any, against: Mapping[str, ListSnapshot], keyring: Any,
                rows: Sequence[tuple[int, str]]) -> list[tuple[int, Hit]]:
    """(traveller row id, hit) for stored travellers (row id, sealed JSON) screened against `against`.

    Pure and CPU-bound: runs on the processor's CPU thread. `lists` is the `watchlists.Screener` in
    force (thresholds, clearances)."""
    out: list[tuple[int, Hit]] = []
    decrypt, loads, screen = keyring.decrypt_text, json.loads, lists.screen_traveller
    for tid, sealed in rows:
        fields = _screen_fields(loads(decrypt(sealed, SEALED_COLUMN)))
        if fields is None:
            continue
        name, dob, nat, sex, docs = fields
        for h in screen(str(tid), name, date_of_birth=dob, nationality=nat, gender=sex, documents=docs,
                        lists=against):
            out.append((tid, h))
    return out


@dataclass
class SweepReport:
    """What one sweep did, per list (for tests, the bench and the log)."""

    manifests: int = 0
    travellers: int = 0
    new_hits: int = 0
    alerts: list[AlertEvent] = field(default_factory=list)


class _RescreenOutputs:
    """Event ids of one re-screened manifest's alerts: unique per run, manifest and hit."""

    def __init__(self, rid: str) -> None:
        self.rid = rid
        self.items: list[StoredOutput] = []
        self._n = 0

    def next_id(self, kind: OutputKind) -> str:
        self._n += 1
        return event_id(self.rid, None, None, "", kind, self._n - 1)


class Rescreener:
    """The sweep of one worker over the manifests whose list versions are not those in force."""

    def __init__(self, processor: Processor, *, worker: int = 0, workers: int = 1) -> None:
        self.processor = processor
        self.store: Store = processor.store
        self.worker, self.workers = worker, max(1, workers)
        self.margin = timedelta(seconds=processor.settings.rescreen_margin_s)
        self.share = processor.settings.rescreen_share
        self._deltas: dict[tuple[str, str, str], ListSnapshot] = {}
        self.emit: Callable[[list[StoredOutput]], Awaitable[None]] | None = None
        self._unsent: set[str] = set()  # record ids of this worker whose alerts await the broker
        self._flushed_old = False

    # ---- the loop ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, idle_s: float = 2.0) -> None:
        """Until `stop`: look at the list files, and sweep at once after a version is installed or while a
        run is open (an operator's `lists rescreen`), else every CATCH_UP_S (a manifest a worker still on
        an older version stored meanwhile)."""
        lists = self.processor.lists
        swept = -1e9
        while not stop.is_set():
            try:
                await lists.maybe_check()
                if lists.changed.is_set() or time.monotonic() - swept >= CATCH_UP_S or await self._runs_open():
                    lists.changed.clear()
                    swept = time.monotonic()
                    await self.sweep()
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage: the next turn tries again (nothing is half done)
                log.warning("event=rescreen_turn_failed worker=%d error=%s", self.worker, type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lists.changed.wait())}
                try:
                    await asyncio.wait(waiters, timeout=idle_s, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waiters:
                        w.cancel()

    async def _runs_open(self) -> bool:
        async with self.store.engine.connect() as conn:
            return await conn.scalar(select(rescreen_runs.c.id).where(rescreen_runs.c.status == "running")
                                     .limit(1)) is not None

    # ---- one sweep --------------------------------------------------------------------------------

    async def sweep(self, *, at: datetime | None = None) -> SweepReport:
        """Re-screen every manifest in the window whose version of a list is not the one in force."""
        report = SweepReport()
        lists = self.processor.lists.lists
        if lists is None:
            return report
        cutoff = (at or now()) - self.margin
        for name, snap in list(lists.lists.items()):
            digest = snap.fingerprints.digest
            async with self.store.engine.connect() as conn:
                newest = await conn.scalar(select(list_versions.c.digest).where(list_versions.c.list_name == name)
                                           .order_by(list_versions.c.seq.desc()).limit(1))
            if newest is not None and newest != digest:
                continue  # another worker installed a newer version: tags only ever move forward
            for own in (True, False):
                while True:
                    claim = await self._claimable(name, digest, cutoff, own)
                    if not claim:
                        break
                    await self._screen_claim(name, snap, digest, claim, report)
            await self._finish_runs(name, digest, cutoff)
        return report

    async def _claimable(self, name: str, digest: str, cutoff: datetime,
                         own: bool) -> list[tuple[int, str | None, int, str]]:
        """(manifest id, its version of the list or None, interchange id, uid) still to re-screen."""
        query = (select(manifests.c.id, manifest_screens.c.digest, manifests.c.interchange_id, manifests.c.uid)
                 .select_from(manifests.outerjoin(manifest_screens, and_(
                     manifest_screens.c.manifest_id == manifests.c.id, manifest_screens.c.list_name == name)))
                 .where(window_clause(cutoff),
                        or_(manifest_screens.c.digest.is_(None), manifest_screens.c.digest != digest)))
        if own and self.workers > 1:
            query = query.where(manifests.c.id % self.workers == self.worker).order_by(manifests.c.id)
        else:  # helping the others: from the other end, so two helpers meet rather than collide
            query = query.order_by(manifests.c.id.desc() if self.workers > 1 else manifests.c.id)
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query.limit(MANIFESTS_PER_CLAIM))).all()
        return [(int(r[0]), r[1], int(r[2]), str(r[3])) for r in rows]

    async def _against(self, name: str, snap: ListSnapshot, digest: str, old: str | None) -> ListSnapshot:
        """What to screen a manifest screened against version `old` against: what changed since, or the
        whole list when that version is unknown (or there was none)."""
        from watchlists.screener import Fingerprints, changed_snapshot

        if not old:
            return snap
        key = (name, old, digest)
        found = self._deltas.get(key)
        if found is None:
            async with self.store.engine.connect() as conn:
                blob = await conn.scalar(select(list_versions.c.fingerprints).where(
                    list_versions.c.list_name == name, list_versions.c.digest == old).limit(1))
            if not blob:  # never recorded, or its fingerprints pruned (KEEP_FINGERPRINTS)
                log.warning("event=rescreen_version_unknown list=%s version=%s action=whole_list", name, old[:12])
                found = snap
            else:
                found = await asyncio.to_thread(changed_snapshot, snap, Fingerprints.from_bytes(blob))
            if len(self._deltas) > 16:
                self._deltas.clear()
            self._deltas[key] = found
        return found

    async def _screen_claim(self, name: str, snap: ListSnapshot, digest: str,
                            claim: list[tuple[int, str | None, int, str]], report: SweepReport) -> None:
        by_old: dict[str | None, list[tuple[int, str | None, int, str]]] = defaultdict(list)
        for item in claim:
            by_old[item[1]].append(item)
        for old, group in by_old.items():
            against = await self._against(name, snap, digest, old)
            ids = [m for m, *_ in group]
            found: list[tuple[int, Hit]] = []
            n_travellers = 0
            if len(against.index):
                async with self.store.engine.connect() as conn:
                    rows = [(int(r[0]), str(r[1])) for r in await conn.execute(
                        select(travellers.c.id, travellers.c.traveller_json).where(
                            travellers.c.manifest_id.in_(ids), travellers.c.pseudonymised_at.is_(None),
                            travellers.c.traveller_json.is_not(None)).order_by(travellers.c.id))]
                n_travellers = len(rows)
                for start in range(0, len(rows), CHUNK):
                    found += await self._cpu_turn(self.processor.lists.lists, {name: against},
                                                  rows[start:start + CHUNK])
            await self._commit(name, digest, old, group, found, n_travellers, report)

    async def _cpu_turn(self, lists: Any, against: Mapping[str, ListSnapshot],
                        rows: Sequence[tuple[int, str]]) -> list[tuple[int, Hit]]:
        """One chunk on the CPU thread, taking turns with the records; paced while records wait."""
        p = self.processor
        started = time.perf_counter()
        async with p._turn:
            result = await p._cpu(screen_rows, lists, against, p.keyring, rows)
        spent = time.perf_counter() - started
        if p.waiting and self.share < 1:
            await asyncio.sleep(spent * (1 - self.share) / self.share)
        else:
            await asyncio.sleep(0)
        return result

    async def _commit(self, name: str, digest: str, old: str | None,
                      group: list[tuple[int, str | None, int, str]], found: list[tuple[int, Hit]],
                      n_travellers: int, report: SweepReport) -> None:
        """Move the manifests to the version in force and store their new hits, in one transaction."""
        p = self.processor
        ids = [m for m, *_ in group]
        async with p._lock, self.store.transaction(exclusive=p._turn) as conn:
            won = await _move(conn, name, digest, old, ids)
            if not won:
                return  # another worker did these
            mine = found
            trows = {}
            if mine:
                trows = {int(r.id): r for r in await conn.execute(
                    select(travellers.c.id, travellers.c.manifest_id, travellers.c.position,
                           travellers.c.traveller_json).where(travellers.c.id.in_({t for t, _ in mine}),
                                                              travellers.c.manifest_id.in_(won)))}
                have = {(int(r[0]), str(r[1])) for r in await conn.execute(
                    select(hits.c.traveller_id, hits.c.entry_id).where(
                        hits.c.list == name, hits.c.traveller_id.in_(list(trows))))}
                mine = [(t, h) for t, h in mine if t in trows and (t, h.entry_id) not in have]
            run_id = await _run_for(conn, name, digest, old)
            by_manifest: dict[int, list[tuple[int, Hit]]] = defaultdict(list)
            for t, h in mine:
                by_manifest[int(trows[t].manifest_id)].append((t, h))
            info = {m: (iid, uid) for m, _, iid, uid in group}
            n_alerts = 0
            for manifest_id, items in by_manifest.items():
                iid, uid = info[manifest_id]
                alerts = await self._store_alerts(conn, run_id, manifest_id, iid, uid, items, trows)
                n_alerts += len(alerts)
                report.alerts.extend(alerts)
            n_trav = n_travellers if len(won) == len(ids) else await _count_travellers(conn, won)
            await conn.execute(update(rescreen_runs).where(rescreen_runs.c.id == run_id).values(
                travellers=rescreen_runs.c.travellers + n_trav, manifests=rescreen_runs.c.manifests + len(won),
                new_hits=rescreen_runs.c.new_hits + n_alerts, updated_at=now()))
        report.manifests += len(won)
        report.travellers += n_trav
        report.new_hits += n_alerts
        RESCREENED.labels(name).inc(n_trav)
        if n_alerts:
            RESCREEN_HITS.labels(name).inc(n_alerts)
            log.info("event=rescreen_hits list=%s run=%d manifests=%d new_hits=%d", name, run_id, len(won),
                        n_alerts)
            await self.flush()

    async def _store_alerts(self, conn: Any, run_id: int, manifest_id: int, interchange_id: int, uid: str,
                            items: list[tuple[int, Hit]], trows: Mapping[int, Any]) -> list[AlertEvent]:
        from parsers import Manifest, Traveller

        p = self.processor
        header = await conn.scalar(select(manifests.c.header_json).where(manifests.c.id == manifest_id))
        flight = flight_ref(Manifest.model_validate_json(header))
        rid = f"rescreen:{run_id}:{manifest_id}"
        out = _RescreenOutputs(rid)
        alerts: list[AlertEvent] = []
        hit_rows: list[dict[str, Any]] = []
        for t, h in items:
            row = trows[t]
            traveller = Traveller.model_validate_json(p.keyring.decrypt_text(row.traveller_json, SEALED_COLUMN) or "")
            alert = alert_event(out, flight, uid, int(row.position), traveller, h)  # type: ignore[arg-type]
            alert = alert.model_copy(update={"raised_by": "rescreen"})
            alerts.append(alert)
            hit_rows.append({"manifest_id": manifest_id, "traveller_id": t, "alert_event_id": alert.event_id,
                             "rescreen_run": run_id,
                             "list": alert.watchlist.list, "entry_id": h.entry_id,
                             "category": alert.watchlist.category, "score": h.score, "threshold": alert.threshold,
                             "traveller_key": p._traveller_key(traveller),
                             "explanation": p.keyring.encrypt_text(
                                 json.dumps([e.model_dump() for e in alert.explanation]), "hits.explanation")})
        await Store.add_hits(conn, hit_rows)
        from api_engine.protection.minimise import minimise_model

        outputs = [StoredOutput(kind="alerts", key=a.flight.flight_key.encode(), value=minimise_model("alerts", a),
                                event_id=a.event_id) for a in alerts]
        await Store.save_record(conn, rid, interchange_id, PENDING, p._seal_outputs(outputs))
        self._unsent.add(rid)
        return alerts

    async def _finish_runs(self, name: str, digest: str, cutoff: datetime) -> None:
        """A run is done when no manifest in the window is left on an older version of its list."""
        del cutoff
        async with self.store.engine.connect() as conn:
            running = (await conn.execute(select(rescreen_runs.c.id, rescreen_runs.c.to_digest).where(
                rescreen_runs.c.list_name == name, rescreen_runs.c.status == "running"))).all()
        if not running:
            return
        at = now()
        for run in running:
            if run.to_digest != digest:
                continue  # a version this worker does not have yet (or no longer): its sweep finishes it
            async with self.store.transaction() as conn:
                row = (await conn.execute(
                    update(rescreen_runs).where(rescreen_runs.c.id == run.id, rescreen_runs.c.status == "running")
                    .values(status="done", finished_at=at, updated_at=at)
                    .returning(rescreen_runs.c.started_at, rescreen_runs.c.travellers, rescreen_runs.c.manifests,
                               rescreen_runs.c.new_hits, rescreen_runs.c.trigger))).first()
                if row is None:
                    continue
                seconds = max(0.0, (at - (stored_utc(row.started_at) or at)).total_seconds())
                await conn.execute(update(rescreen_runs).where(rescreen_runs.c.id == run.id).values(seconds=seconds))
                await AuditTrail(self.store).append(
                    actor="service", action="lists.rescreen_done", subject=f"list:{name}", session=conn,
                    details={"run": int(run.id), "list": name, "to_digest": digest, "trigger": row.trigger,
                             "travellers": int(row.travellers), "manifests": int(row.manifests),
                             "new_hits": int(row.new_hits), "seconds": round(seconds, 3)})
            log.info("event=rescreen_done list=%s run=%d travellers=%d new_hits=%d seconds=%.1f", name, run.id,
                     row.travellers, row.new_hits, seconds)

    # ---- delivery ---------------------------------------------------------------------------------

    async def flush(self) -> int:
        """Produce the stored alert events of re-screening not yet acknowledged (this worker's, and at
        the first turn any left by a worker that stopped before its broker answered)."""
        if self.emit is None:
            return 0
        query = select(processed_records.c.record_id).where(processed_records.c.outcome == PENDING)
        if self._flushed_old:
            if not self._unsent:
                return 0
            query = query.where(processed_records.c.record_id.in_(sorted(self._unsent)))
        async with self.store.engine.connect() as conn:
            rids = list((await conn.execute(query.limit(500))).scalars())
            stored = await Store.stored_outputs_many(conn, rids) if rids else {}
        self._flushed_old = True
        sent = 0
        for rid in rids:
            outputs = self.processor._open_outputs(stored.get(rid, []))
            await self.emit(outputs)
            async with self.store.transaction() as conn:
                await conn.execute(update(processed_records).where(processed_records.c.record_id == rid)
                                   .values(outcome=SENT))
            self._unsent.discard(rid)
            sent += len(outputs)
        return sent


async def _move(conn: Any, name: str, digest: str, old: str | None, ids: list[int]) -> list[int]:
    """Compare-and-set the manifests' version of the list from `old` to `digest`; the ids this did."""
    stmt: Any
    if old is None:
        rows = [{"manifest_id": m, "list_name": name, "digest": digest} for m in ids]
        return [int(m) for m in (await conn.execute(insert_ignoring_conflicts(conn, manifest_screens), rows)).scalars()]
    else:
        stmt = (update(manifest_screens).where(manifest_screens.c.list_name == name,
                                               manifest_screens.c.digest == old,
                                               manifest_screens.c.manifest_id.in_(ids))
                .values(digest=digest).returning(manifest_screens.c.manifest_id))
    return [int(m) for m in (await conn.execute(stmt)).scalars()]


async def _count_travellers(conn: Any, manifest_ids: Sequence[int]) -> int:
    return int(await conn.scalar(select(func.count()).select_from(travellers).where(
        travellers.c.manifest_id.in_(manifest_ids), travellers.c.pseudonymised_at.is_(None),
        travellers.c.traveller_json.is_not(None))) or 0)


async def _run_for(conn: Any, name: str, digest: str, old: str | None) -> int:
    """The run these manifests count towards: the newest of this list's change to `digest` (one is
    opened, "catch_up", for manifests no recorded change accounts for: stored before the list was)."""
    found = await conn.scalar(select(rescreen_runs.c.id).where(
        rescreen_runs.c.list_name == name, rescreen_runs.c.to_digest == digest)
        .order_by(rescreen_runs.c.id.desc()).limit(1))
    if found is not None:
        return int(found)
    version = await conn.scalar(select(list_versions.c.version).where(
        list_versions.c.list_name == name, list_versions.c.digest == digest).limit(1)) or ""
    at = now()
    return int((await conn.execute(rescreen_runs.insert().values(
        list_name=name, from_digest=old, to_digest=digest, to_version=str(version)[:64], trigger="catch_up",
        entries=0, removed=0, status="running", started_at=at, updated_at=at)
        .returning(rescreen_runs.c.id))).scalar_one())
