"""The processing core the shells call: one input record in, its output events out, state in the store.

Strategy: two halves. The pure, CPU-bound half is module-level and synchronous (`prepare`: read,
validate, assemble single-part lists, screen, minimise, write CONTRL; `complete_assembly`: merge
the stored parts of a multi-part list, screen, minimise), so a shell may run it in an executor.
The I/O half (`Processor.process`) brackets it with the store:
  1. a record already processed (same source, key and bytes) returns its stored outputs: a replay
     after a crash re-emits identical events with identical ids and does no new work;
  2. a malformed input (an error of the envelope or syntax, or nothing readable) yields a
     negative CONTRL and a dead letter, never an exception;
  3. a duplicate interchange (same sender + UNB 0020, or same bytes) is acknowledged as a
     duplicate (CONTRL 0085 = 26) and not processed again;
  4. otherwise parts are stored per assembly key and merged with the parts already stored, so a
     restart between parts loses nothing, and a list is emitted once per distinct content;
  5. state and outputs commit in ONE transaction; only then are the outputs returned (the Kafka
     shell produces them and commits the offset afterwards: at-least-once in, idempotent out).
Messages with validation errors are rejected to the carrier in the CONTRL but still stored and
screened: a border officer must not miss a hit because a carrier sent a bad date. Logs name
interchange references, senders (carriers) and flight keys only, never a traveller.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from api_engine.protection.crypto import Keyring, keyring_from_settings
from api_engine.protection.minimise import minimise_model
from api_engine.service.events import (
    AckEvent,
    AlertEvent,
    Counts,
    DeadLetterEvent,
    FindingView,
    FlightRef,
    HitFeature,
    IdentityView,
    InterchangeRef,
    ManifestEvent,
    OutputEvent,
    OutputKind,
    WatchlistRef,
    event_id,
)
from api_engine.settings import Settings
from api_engine.store import AssemblyState, Store, StoredOutput
from api_engine.store.schema import allowlist, watchlist_uploads
from parsers import Finding, Interchange, Manifest, Severity, TravelDocument, Traveller, read_interchange
from parsers.assembly import CREW_ROLES, PASSENGER_ROLES, AssemblyKey, assemble, part_key
from parsers.contrl import write_contrl
from parsers.cusres_writer import cusres_for_manifest, write_cusres
from parsers.profile import Profile, load_profile
from parsers.validate import apply_profile

__all__ = [
    "HitLike", "NoScreener", "OutputEvent", "Processor", "Screened", "Screener", "WatchlistScreener",
    "complete_assembly", "prepare", "record_id", "screener_from_settings",
]

log = logging.getLogger("api_engine.service.processor")

LANE = "border"  # purpose lane (brief §5.5): this pipeline serves border control (Reg. 2025/12)
_ENVELOPE_PREFIXES = ("SYN-", "ENV-")
_T = TypeVar("_T")

# iAPI statuses (brief §3.2; a profile matter, China NIA values as implemented by astra).
IAPI_OK = ("0Z", "OK TO BOARD")
IAPI_ADVISORY = ("2Z", "ADVISORY - CONTACT AUTHORITY")  # a hit awaits an officer's review (PNR Dir. Art 6(5))
IAPI_INSUFFICIENT = ("4Z", "INSUFFICIENT DATA - RESEND")


# ---- screening: the seam the watchlist engine plugs into -------------------------------------------------


class HitLike(Protocol):
    """What the processor reads from a hit; `traveller_id` is the traveller's index in the manifest."""

    @property
    def traveller_id(self) -> str: ...
    @property
    def entry_id(self) -> str: ...
    @property
    def score(self) -> float: ...


class Screener(Protocol):
    """Screens every traveller of a manifest; pure and synchronous (it may run in an executor)."""

    def screen(self, manifest: Manifest) -> Sequence[HitLike]: ...


class NoScreener:
    """No lists loaded: no hits (the lead plugs a real screener in through Settings.watchlists)."""

    def screen(self, manifest: Manifest) -> Sequence[HitLike]:
        return []


class WatchlistScreener:
    """Adapts `watchlists.Screener` to a whole manifest: each traveller once per document he presents."""

    def __init__(self, screener: Any) -> None:
        self.screener = screener

    def screen(self, manifest: Manifest) -> Sequence[HitLike]:
        screen = self.screener.screen_traveller  # no query model per traveller: screening is hot
        out: list[HitLike] = []
        for i, t in enumerate(manifest.travellers):
            if not (t.surname or t.given_names or t.full_name):
                continue  # listed by reference only (flight close): nothing to screen
            # the name a query would display: the full name, else given names then surname
            name = t.full_name or " ".join(p for p in (" ".join(t.given_names), t.surname) if p)
            docs: list[TravelDocument] = [d for d in t.documents if d.number]
            out.extend(screen(str(i), name, date_of_birth=t.date_of_birth, nationality=t.nationality,
                              gender=t.gender, documents=[(d.number, d.issuing_state) for d in docs]))
        return out


def screener_from_settings(settings: Settings) -> Screener:
    """The watchlists named in Settings.watchlists, loaded once; no lists: no screening."""
    if not settings.watchlists:
        return NoScreener()
    from watchlists import Screener as ListScreener
    from watchlists import load

    lists = ListScreener()
    for path in settings.watchlists:
        diff = lists.replace_list(load(path))
        log.info("watchlist loaded: %s", diff.summary())
    return WatchlistScreener(lists)


# ---- the pure half ---------------------------------------------------------------------------------------


def record_id(value: bytes, key: bytes | None, source: str) -> str:
    """Identity of one input record: a replay of it is recognised by this."""
    h = hashlib.sha256()
    for part in (source.encode(), b"\x1f", (key or b"").hex().encode(), b"\x1f", value):
        h.update(part)
    return h.hexdigest()


@dataclass
class Screened:
    """A manifest ready to store and announce: screened, minimised, with its assembly findings."""

    key: AssemblyKey
    manifest: Manifest
    complete: bool
    findings: list[Finding]
    hits: list[HitLike]
    digest: str
    header_json: str  # the manifest without its travellers, as stored
    traveller_json: list[str]  # each traveller as stored (encrypted) and hashed into the digest
    multipart: bool = False
    # Built off the event loop before the transaction opens (see Processor._seal_screened):
    rows: list[dict[str, Any]] | None = None  # traveller rows, identifying columns encrypted, no manifest_id yet
    views: list[dict[str, Any]] | None = None  # TravellerView fields, validated once inside the ManifestEvent


@dataclass
class Prepared:
    """Everything `prepare` worked out from one input, before the store is consulted."""

    content_hash: str
    interchange: Interchange | None
    malformed: list[Finding] = field(default_factory=list)
    reason: str | None = None
    contrl: bytes = b""
    interactive: bool = False
    singles: list[Screened] = field(default_factory=list)
    parts: list[Manifest] = field(default_factory=list)
    sealed: bytes | None = None  # the input encrypted for raw_messages, when sealed ahead of the transaction

    @property
    def sender(self) -> str | None:
        return self.interchange.header.sender if self.interchange else None

    @property
    def interchange_ref(self) -> str | None:
        return self.interchange.header.control_ref if self.interchange else None


def _identity(t: Traveller) -> dict[str, Any]:
    """Minimisation (brief §5.5): names, date of birth, nationality, documents; nothing else leaves.

    The fields of `IdentityView` as a plain dict: pydantic validates them once, in the event that carries them."""
    return {"surname": t.surname, "given_names": list(t.given_names), "date_of_birth": t.date_of_birth,
            "nationality": t.nationality,
            "documents": [{"doc_type": d.doc_type, "number": d.number, "issuing_state": d.issuing_state}
                          for d in t.documents]}


def screen_manifest(key: AssemblyKey, manifest: Manifest, complete: bool, findings: list[Finding],
                    screener: Screener) -> Screened:
    """Screen (complete lists only) and serialise one manifest; its digest tells a changed list from a resend."""
    hits = list(screener.screen(manifest)) if complete else []
    header_json = manifest.model_copy(update={"travellers": []}).model_dump_json()
    traveller_json = [t.model_dump_json() for t in manifest.travellers]
    h = hashlib.sha256(header_json.encode())
    for j in traveller_json:
        h.update(b"\x1e")
        h.update(j.encode())
    return Screened(key=key, manifest=manifest, complete=complete, findings=findings, hits=hits,
                    digest=h.hexdigest(), header_json=header_json, traveller_json=traveller_json)


def _is_part(m: Manifest) -> bool:
    h = m.header
    return h.sequence is not None and not (h.sequence == 1 and h.sequence_flag in ("F", None))


def _malformed(ic: Interchange) -> list[Finding]:
    return [f for f in ic.findings if f.severity is Severity.ERROR
            and (f.level in ("interchange", "group") or f.rule.startswith(_ENVELOPE_PREFIXES))]


def _wants_cusres(ic: Interchange, profile: Profile) -> bool:
    """iAPI: UNB 0026 = IAPI, or a profile that declares itself interactive."""
    return (ic.header.application_ref or "").upper() == "IAPI" or profile.interactive


def prepare(value: bytes, profile: Profile, screener: Screener, *, control_ref: str,
            today: date | None = None) -> Prepared:
    """Read, validate, classify, write the CONTRL, and assemble + screen + minimise single-part lists.

    Pure and CPU-bound; never raises on bad input (an unexpected reader error becomes a dead letter).
    """
    content_hash = hashlib.sha256(value).hexdigest()
    try:
        ic = apply_profile(read_interchange(value, today=today), profile, today=today)
    except Exception as exc:  # the reader promises values, not exceptions; a bug must not stop the service
        bad = Finding(rule="INT-READER-FAILURE", severity=Severity.ERROR, level="interchange",
                      message=f"the reader failed ({type(exc).__name__}); the input is kept for analysis",
                      contrl_error=18)
        empty = Interchange.model_validate({"header": {}, "findings": [bad]})
        return Prepared(content_hash=content_hash, interchange=None, malformed=[bad], reason=bad.message,
                        contrl=write_contrl(empty, control_ref=control_ref))
    malformed = _malformed(ic)
    if not malformed and not ic.manifests and not ic.responses:
        malformed = [Finding(rule="ENV-EMPTY", severity=Severity.ERROR, level="interchange",
                             message="nothing readable: no PAXLST or CUSRES message", contrl_error=32)]
        ic = ic.model_copy(update={"findings": [*ic.findings, *malformed]})
    out = Prepared(content_hash=content_hash, interchange=ic, contrl=write_contrl(ic, control_ref=control_ref))
    if malformed:
        out.malformed = malformed
        out.reason = "; ".join(dict.fromkeys(f"{f.rule}: {f.message}" for f in malformed))
        return out
    out.interactive = _wants_cusres(ic, profile)
    for m in ic.manifests:
        if _is_part(m):
            out.parts.append(m)
        else:
            out.singles.append(screen_manifest(part_key(m), m, m.complete, [], screener))
    return out


def complete_assembly(parts: Sequence[Manifest], screener: Screener) -> Screened:
    """Merge the stored parts of one list (arrival order), then screen and minimise the result."""
    [a] = assemble(parts)
    screened = screen_manifest(a.key, a.manifest, a.complete, a.findings, screener)
    screened.multipart = True
    return screened


# ---- the I/O half ----------------------------------------------------------------------------------------


def _key_hash(key: AssemblyKey) -> str:
    return hashlib.sha256("\x1f".join(key).encode()).hexdigest()


def _flight(m: Manifest) -> FlightRef:
    leg = m.legs[-1] if m.legs else None
    return FlightRef(
        flight_key=m.flight_key, flight_id=leg.flight_id if leg else None, carrier=leg.carrier if leg else None,
        departure_airport=leg.departure_airport if leg else None,
        arrival_airport=leg.arrival_airport if leg else None,
        departure_local=leg.departure_local if leg else None, arrival_local=leg.arrival_local if leg else None,
        common_access_ref=m.header.common_access_ref)


def _finding_view(f: Finding) -> FindingView:
    return FindingView(rule=f.rule, severity=f.severity.value, message=f.message,
                       segment_position=f.segment_position, segment_tag=f.segment_tag, message_ref=f.message_ref)


def _primary_document(t: Traveller) -> tuple[str | None, str | None, str | None]:
    docs = [d for d in t.documents if d.doc_type != "V"] or t.documents
    d = docs[0] if docs else None
    return (d.doc_type, d.number, d.issuing_state) if d else (None, None, None)


def _json(model: Any) -> bytes:
    data: str = model.model_dump_json()
    return data.encode()


def _manifest_uid(rid: str, key: AssemblyKey) -> str:
    return hashlib.sha256(f"{rid}\x1f{_key_hash(key)}".encode()).hexdigest()[:32]


def _hit_positions(s: Screened) -> list[tuple[int, HitLike]]:
    """(traveller position, hit) for the hits that name a traveller of this manifest."""
    out = []
    n = len(s.manifest.travellers)
    for h in s.hits:
        try:
            idx = int(h.traveller_id)
        except ValueError:
            continue
        if 0 <= idx < n:
            out.append((idx, h))
    return out


_SEALED_RECORD = (("traveller_json", b"travellers.traveller_json"),)


class _Outputs:
    """Collects the events of one record with their deterministic ids."""

    def __init__(self, rid: str, prep: Prepared) -> None:
        self.rid, self.prep = rid, prep
        self.items: list[StoredOutput] = []
        self._index: dict[str, int] = {}

    def next_id(self, kind: OutputKind) -> str:
        i = self._index.get(kind, 0)
        self._index[kind] = i + 1
        return event_id(self.rid, self.prep.sender, self.prep.interchange_ref, self.prep.content_hash, kind, i)

    def add(self, kind: OutputKind, key: bytes, model: Any) -> None:
        # Minimised before it is stored or produced: only what the consumer declares leaves.
        self.items.append(StoredOutput(kind=kind, key=key, value=minimise_model(kind, model),
                                       event_id=model.event_id))


ALLOWLIST_REFRESH_S = 2.0
UPLOADS_REFRESH_S = 5.0


class Processor:
    """One input record → its output events, with state and outputs committed to the store first."""

    def __init__(self, settings: Settings, store: Store, profile: Profile, screener: Screener,
                 executor: Executor | None = None) -> None:
        self.settings = settings
        self.store = store
        self.profile = profile
        self.screener = screener
        self.executor = executor
        self._lock = asyncio.Lock()  # one writer per process: parts of a flight never race each other
        # One heavy thing at a time in this process: preparing a record (on the executor) or a write
        # transaction. A transaction whose Python half shares the GIL with a preparation takes about
        # twice as long, and on SQLite every other worker waits for the write lock meanwhile; under a
        # steady stream that made queues build well below the service's backlog throughput.
        self._turn = asyncio.Lock()
        self.keyring: Keyring = keyring_from_settings(settings)  # identifying data is encrypted at rest
        self._allowlist_seen = 0  # highest allowlist row id installed into the screener
        self._allowlist_checked = -1e9  # monotonic time of the last look at the allowlist table
        self._uploads_seen = 0  # highest watchlist upload id installed into the screener
        self._uploads_checked = -1e9
        self._uploads_task: asyncio.Task[None] | None = None

    def _seal_raw(self, value: bytes) -> bytes:
        return self.keyring.encrypt_bytes(value, "raw_messages.raw")

    def _raw(self, prep: Prepared, value: bytes) -> bytes:
        return prep.sealed if prep.sealed is not None else self._seal_raw(value)

    def _seal_outputs(self, items: list[StoredOutput]) -> list[StoredOutput]:
        return [StoredOutput(kind=o.kind, key=o.key, value=self.keyring.encrypt_bytes(o.value, "output_events.value"),
                             event_id=o.event_id) for o in items]

    def _open_outputs(self, items: list[StoredOutput]) -> list[StoredOutput]:
        return [StoredOutput(kind=o.kind, key=o.key, value=self.keyring.decrypt_bytes(o.value, "output_events.value"),
                             event_id=o.event_id) for o in items]

    @classmethod
    async def open(cls, settings: Settings, *, screener: Screener | None = None,
                   executor: Executor | None = None) -> Processor:
        """Load the profile and the lists, open the store (running migrations).

        `executor` (optional) runs the CPU-bound half off the event loop.
        """
        profile = load_profile(settings.profile)
        chosen = screener if screener is not None else screener_from_settings(settings)
        store = await Store.open(settings.effective_database_url)
        processor = cls(settings, store, profile, chosen, executor)
        await processor.install_uploads()
        return processor

    async def close(self) -> None:
        if self._uploads_task is not None and not self._uploads_task.done():
            self._uploads_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._uploads_task
        await self.store.close()

    async def _cpu(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self.executor is None:
            return fn(*args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args, **kwargs))

    async def seen(self, value: bytes, *, key: bytes | None = None, source: str = "kafka") -> bool:
        """Whether this exact record was processed before (processing it again is a replay)."""
        async with self.store.engine.connect() as conn:
            return await Store.stored_outputs(conn, record_id(value, key, source)) is not None

    async def process(self, value: bytes, *, key: bytes | None = None, source: str = "kafka") -> list[OutputEvent]:
        """Process one input record; returns its output events once they are durable in the store."""
        (events,) = await self.process_batch([(value, key)], source=source)
        return events

    async def process_batch(self, records: Sequence[tuple[bytes, bytes | None]], *,
                            source: str = "kafka") -> list[list[OutputEvent]]:
        """Process records (value, key) in the order given; one output list per record, durable in the store.

        The whole batch commits in one transaction (one write lock, one commit instead of one per
        record), applied in order, so parts and duplicates inside a batch behave exactly as if they
        had come one at a time. The CPU work (read, validate, screen, encrypt) runs before the
        transaction opens. If another writer raced us to a record, the batch is redone record by record.
        """
        rids = [record_id(value, key, source) for value, key in records]
        results: list[list[StoredOutput] | None] = [None] * len(records)
        async with self.store.engine.connect() as conn:
            stored = await Store.stored_outputs_many(conn, rids)
        for i, rid in enumerate(rids):
            if rid in stored:
                log.info("replay of record %s: %d stored output(s) re-emitted", rid[:12], len(stored[rid]))
                results[i] = self._open_outputs(stored[rid])
        first: dict[str, int] = {}  # a record repeated inside the batch is worked on once
        for i, rid in enumerate(rids):
            if results[i] is None:
                first.setdefault(rid, i)
        if first:
            await self._refresh_allowlist()
            await self._watch_uploads()
            work = []
            for rid, i in first.items():  # one record per turn: a waiting transaction waits for one at most
                async with self._turn:
                    prep = await self._cpu(self._prepare, records[i][0], rid)
                work.append((rid, prep, records[i][0], records[i][1]))
            try:
                applied = await self._commit(work, source)
            except IntegrityError:
                # Another worker committed one of these records or interchanges first: look again, one by one.
                log.info("batch of %d record(s) raced another writer; retrying one by one", len(work))
                applied = {}
                for item in work:
                    try:
                        applied.update(await self._commit([item], source))
                    except IntegrityError:
                        applied.update(await self._commit([item], source))
            for i, rid in enumerate(rids):
                if results[i] is None:
                    results[i] = applied[rid]
        return [[_to_event(o) for o in r or []] for r in results]

    def _prepare(self, value: bytes, rid: str) -> Prepared:
        """The CPU half of a record (runs in the executor): prepare, then seal what the store will keep."""
        prep = prepare(value, self.profile, self.screener, control_ref=rid[:14])
        prep.sealed = self._seal_raw(value)
        for s in prep.singles:
            self._seal_screened(rid, s)
        return prep

    def _seal_screened(self, rid: str, s: Screened) -> None:
        """Traveller rows with their identifying columns encrypted, and the manifest's traveller views."""
        uid = _manifest_uid(rid, s.key)
        counts: dict[int, int] = {}
        for idx, _ in _hit_positions(s):
            counts[idx] = counts.get(idx, 0) + 1
        encrypt = self.keyring.encrypt_fields
        rows: list[dict[str, Any]] = []
        views: list[dict[str, Any]] = []
        for i, t in enumerate(s.manifest.travellers):
            doc_type, _, doc_state = _primary_document(t)
            # The identifying columns stay NULL: the full record is the one sealed copy of the
            # traveller (crypto.open_traveller_secrets reads them from it).
            row: dict[str, Any] = {
                "position": i, "ref": f"{uid}:{i}", "role": t.role, "party_function": t.party_function[:3],
                "gender": t.gender, "nationality": t.nationality, "doc_type": doc_type,
                "doc_issuing_state": doc_state, "traveller_json": s.traveller_json[i]}
            encrypt(row, _SEALED_RECORD)
            rows.append(row)
            views.append({"traveller_ref": f"{uid}:{i}", "role": t.role, "hit": i in counts,
                          "hit_count": counts.get(i, 0), **_identity(t)})
        s.rows, s.views = rows, views

    async def _watch_uploads(self) -> None:
        """Every few seconds, start installing lists uploaded in the console since the last look.

        The new index is built on a thread of its own while records go on being screened against the
        lists in force; the swap is atomic (`watchlists.Screener.replace_list`)."""
        now_m = time.monotonic()
        if now_m - self._uploads_checked < UPLOADS_REFRESH_S:
            return
        self._uploads_checked = now_m
        if self._uploads_task is None or self._uploads_task.done():
            self._uploads_task = asyncio.create_task(self.install_uploads())

    async def install_uploads(self) -> None:
        """Install the accepted console uploads not installed yet, oldest first (the latest version of a
        list wins). A kept file that cannot be read is logged and skipped, never retried in a loop."""
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(
                select(watchlist_uploads.c.id, watchlist_uploads.c.list_name, watchlist_uploads.c.path)
                .where(watchlist_uploads.c.id > self._uploads_seen, watchlist_uploads.c.accepted.is_(True))
                .order_by(watchlist_uploads.c.id))).all()
        if not rows:
            return
        if not hasattr(getattr(self.screener, "screener", None), "replace_list"):
            from watchlists import Screener as ListScreener

            self.screener = WatchlistScreener(ListScreener())  # no list in the settings: uploads only
        lists = self.screener.screener  # type: ignore[attr-defined]
        from watchlists.loaders.national import load_national

        for row in rows:
            try:
                result = await asyncio.to_thread(load_national, Path(row.path or ""), jsonl=False)
                diff = await asyncio.to_thread(lists.replace_list, result)
            except (OSError, ValueError) as exc:  # unreadable file or content
                log.warning("watchlist upload %d (%s) not installed: %s", row.id, row.list_name, type(exc).__name__)
            else:
                log.info("watchlist upload %d installed: %s", row.id, diff.summary())
            self._uploads_seen = max(self._uploads_seen, row.id)

    async def _refresh_allowlist(self) -> None:
        """Clearances officers recorded in the console stop repeat alerts here (looked up every few seconds)."""
        lists = getattr(self.screener, "screener", None)
        if lists is None or not hasattr(lists, "add_clearance"):
            return
        now_m = time.monotonic()
        if now_m - self._allowlist_checked < ALLOWLIST_REFRESH_S:
            return
        self._allowlist_checked = now_m
        from watchlists.screener import Clearance

        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(select(allowlist).where(allowlist.c.id > self._allowlist_seen)
                                       .order_by(allowlist.c.id))).all()
        for r in rows:
            lists.add_clearance(Clearance(list=r.list, entry_id=r.entry_id, fingerprint=r.fingerprint, reason=r.reason,
                                          cleared_by=r.cleared_by, cleared_on=r.cleared_at.date()))
            self._allowlist_seen = max(self._allowlist_seen, r.id)

    async def _commit(self, work: Sequence[tuple[str, Prepared, bytes, bytes | None]],
                      source: str) -> dict[str, list[StoredOutput]]:
        """The one transaction of a batch: re-check for replays, apply each record in order, store outputs."""
        async with self._lock, self.store.transaction(exclusive=self._turn) as conn:
            stored = await Store.stored_outputs_many(conn, [rid for rid, *_ in work])
            out: dict[str, list[StoredOutput]] = {}
            for rid, prep, value, key in work:
                if rid in stored:
                    out[rid] = self._open_outputs(stored[rid])
                else:
                    out[rid] = await self._apply(conn, rid, prep, value, key, source)
            return out

    async def _apply(self, conn: AsyncConnection, rid: str, prep: Prepared, value: bytes, key: bytes | None,
                     source: str) -> list[StoredOutput]:
        out = _Outputs(rid, prep)
        ic = prep.interchange
        h = ic.header if ic else None
        iref = InterchangeRef(sender=h.sender if h else None, recipient=h.recipient if h else None,
                              interchange_ref=h.control_ref if h else None,
                              application_ref=h.application_ref if h else None, content_hash=prep.content_hash)
        ack_key = (iref.sender or "").encode()
        common = {"record_id": rid, "source": source[:200], "sender": iref.sender, "recipient": iref.recipient,
                  "interchange_ref": iref.interchange_ref, "application_ref": iref.application_ref,
                  "content_hash": prep.content_hash, "lane": LANE}

        if prep.malformed:
            iid = await Store.add_interchange(conn, self._raw(prep, value), size=len(value), status="dead_letter",
                                              **common)
            out.add("acks", ack_key, self._ack(out, iref, prep.contrl, accepted=False))
            out.add("dlq", key or ack_key, DeadLetterEvent(
                event_id=out.next_id("dlq"), reason=prep.reason or "malformed input",
                rules=list(dict.fromkeys(f.rule for f in prep.malformed)),
                findings=[_finding_view(f) for f in (ic.findings if ic else prep.malformed)
                          if f.severity is Severity.ERROR],
                source=source, record_key_base64=base64.b64encode(key).decode() if key is not None else None,
                original_base64=base64.b64encode(value).decode(), interchange=iref))
            await Store.save_record(conn, rid, iid, "dead_letter", self._seal_outputs(out.items))
            log.warning("dead letter: interchange %s from %s: %s", iref.interchange_ref, iref.sender,
                        ", ".join(dict.fromkeys(f.rule for f in prep.malformed)))
            return out.items
        assert ic is not None

        dup_of = await Store.find_duplicate(conn, iref.sender, iref.interchange_ref, prep.content_hash)
        if dup_of is not None:
            iid = await Store.add_interchange(conn, self._raw(prep, value), size=len(value), status="duplicate",
                                              **common)
            dup = Finding(rule="ENV-DUPLICATE", severity=Severity.ERROR, level="interchange", segment_tag="UNB",
                          message="interchange received before (same sender and reference, or same bytes)",
                          contrl_error=26)
            contrl = write_contrl(ic.model_copy(update={"findings": [dup]}), control_ref=rid[:14])
            out.add("acks", ack_key, self._ack(out, iref, contrl, accepted=False, duplicate=True))
            await Store.save_record(conn, rid, iid, "duplicate", self._seal_outputs(out.items))
            log.info("duplicate interchange %s from %s: acknowledged, not processed again",
                     iref.interchange_ref, iref.sender)
            return out.items

        iid = await Store.add_interchange(conn, self._raw(prep, value), size=len(value), status="processed",
                                              **common)
        await Store.register(conn, iref.sender or "", iref.interchange_ref or "", prep.content_hash, iid)
        ready: list[Screened] = list(prep.singles)
        for part in prep.parts:
            done = await self._add_part(conn, part, iid)
            if done is not None:
                ready.append(done)

        cusres_for: list[tuple[Manifest, dict[int | str, tuple[str, str]]]] = []
        manifest_events: list[ManifestEvent] = []
        alert_events: list[AlertEvent] = []
        for s in ready:
            mev, alerts = await self._store_manifest(conn, out, rid, iid, s, iref)
            manifest_events.append(mev)
            alert_events.extend(alerts)
            if prep.interactive:
                cusres_for.append((s.manifest, self._iapi_statuses(s, ic.findings)))

        cusres = None
        if cusres_for:
            responses = [cusres_for_manifest(m, st) for m, st in cusres_for]
            cusres = write_cusres(responses, control_ref=rid[:14])
        out.add("acks", ack_key, self._ack(out, iref, prep.contrl, accepted=ic.ok, cusres=cusres))
        for a in alert_events:
            out.add("alerts", a.flight.flight_key.encode(), a)
        for mev in manifest_events:
            out.add("manifests", mev.flight.flight_key.encode(), mev)
        await Store.save_record(conn, rid, iid, "processed", self._seal_outputs(out.items))
        log.info("interchange %s from %s: %d message(s), %d part(s) held, flights [%s], %d alert(s)",
                 iref.interchange_ref, iref.sender, len(ic.messages), len(prep.parts),
                 ", ".join(m.flight.flight_key for m in manifest_events), len(alert_events))
        return out.items

    def _ack(self, out: _Outputs, iref: InterchangeRef, contrl: bytes, *, accepted: bool,
             duplicate: bool = False, cusres: bytes | None = None) -> AckEvent:
        return AckEvent(
            event_id=out.next_id("acks"), interchange=iref, accepted=accepted, duplicate=duplicate,
            contrl=contrl.decode("latin-1"), contrl_base64=base64.b64encode(contrl).decode(),
            cusres=cusres.decode("latin-1") if cusres is not None else None,
            cusres_base64=base64.b64encode(cusres).decode() if cusres is not None else None)

    @staticmethod
    def _iapi_statuses(s: Screened, findings: list[Finding]) -> dict[int | str, tuple[str, str]]:
        """0Z unless a hit awaits review (2Z) or the traveller's data has an error (4Z)."""
        ref = s.manifest.header.message_ref
        bad_positions = {f.segment_position for f in findings
                         if f.severity is Severity.ERROR and f.message_ref == ref}
        hit_idx = {h.traveller_id for h in s.hits}
        statuses: dict[int | str, tuple[str, str]] = {}
        travellers = s.manifest.travellers
        for i, t in enumerate(travellers):
            nxt = travellers[i + 1].segment_position if i + 1 < len(travellers) else None
            start = t.segment_position
            own_errors = start is not None and any(
                p is not None and p >= start and (nxt is None or p < nxt) for p in bad_positions)
            if str(i) in hit_idx:
                statuses[i] = IAPI_ADVISORY
            elif own_errors:
                statuses[i] = IAPI_INSUFFICIENT
            else:
                statuses[i] = IAPI_OK
        return statuses

    async def _add_part(self, conn: AsyncConnection, part: Manifest, iid: int) -> Screened | None:
        """Store one part of a multi-part list; returns the list when this part completes (or changes) it."""
        key = part_key(part)
        kh = _key_hash(key)
        state = await Store.assembly_state(conn, kh)
        if state is None:
            state = AssemblyState(key_hash=kh, generation=1, complete=False, digest=None, manifest_id=None)
            await Store.save_assembly(conn, state, create=True, sender=key[0], common_access_ref=key[1][:70],
                                      document_code=key[2] or None, document_id=key[3] or None)
        stored = [Manifest.model_validate_json(self.keyring.decrypt_text(j, "assembly_parts.manifest_json") or "")
                  for j in await Store.parts(conn, kh, state.generation)]
        same_seq = [m for m in stored if m.header.sequence == part.header.sequence]
        if same_seq and all(m.travellers == part.travellers for m in same_seq):
            log.info("part %s of %s received again with the same travellers: nothing new",
                     part.header.sequence, part.header.common_access_ref)
            return None
        if state.complete and same_seq:
            # A different copy of a part of a list already assembled: a new transmission starts.
            state = AssemblyState(key_hash=kh, generation=state.generation + 1, complete=False,
                                  digest=state.digest, manifest_id=state.manifest_id)
            stored = []
        await Store.add_part(conn, kh, state.generation, part.header.sequence, part.header.sequence_flag, iid,
                             self.keyring.encrypt_text(part.model_dump_json(), "assembly_parts.manifest_json") or "")
        screened = await self._cpu(complete_assembly, [*stored, part], self.screener)
        emit = screened.complete and screened.digest != state.digest
        state = AssemblyState(key_hash=kh, generation=state.generation, complete=screened.complete,
                              digest=screened.digest if emit else state.digest, manifest_id=state.manifest_id)
        await Store.save_assembly(conn, state, create=False)
        return screened if emit else None

    async def _store_manifest(self, conn: AsyncConnection, out: _Outputs, rid: str, iid: int, s: Screened,
                              iref: InterchangeRef) -> tuple[ManifestEvent, list[AlertEvent]]:
        m = s.manifest
        kh = _key_hash(s.key)
        if s.rows is None or s.views is None:  # assembled here (multi-part): seal now
            self._seal_screened(rid, s)
        assert s.rows is not None and s.views is not None
        uid = _manifest_uid(rid, s.key)
        roles = [t.role for t in m.travellers]
        pax = sum(1 for r in roles if r in PASSENGER_ROLES)
        crew = sum(1 for r in roles if r in CREW_ROLES)
        manifest_id, version, replaces = await Store.add_manifest(
            conn, uid=uid, interchange_id=iid, assembly_key=kh, flight_key=m.flight_key[:120],
            sender=m.header.sender, common_access_ref=m.header.common_access_ref,
            document_code=m.document_code, document_id=m.document_id, transaction_ref=m.transaction_ref,
            lane=LANE, complete=s.complete, parts=json.dumps(m.parts), passengers=pax, crew=crew,
            declared_passengers=m.totals.passengers, declared_crew=m.totals.crew,
            header_json=s.header_json, **_clocks(m))
        if s.multipart:
            await Store.link_assembly(conn, kh, manifest_id)
        positions = _hit_positions(s)
        traveller_ids = await Store.add_travellers(conn, manifest_id, s.rows, [idx for idx, _ in positions])

        flight = _flight(m)
        alerts: list[AlertEvent] = []
        hit_rows = []
        for idx, h in positions:
            explanation = [HitFeature(feature=f.feature, outcome=f.outcome, contribution=f.contribution,
                                      detail=f.detail) for f in getattr(h, "explanation", [])]
            explain = getattr(h, "explain", None)
            category = getattr(h, "category", None)
            alert = AlertEvent(
                event_id=out.next_id("alerts"), flight=flight, traveller_ref=f"{uid}:{idx}",
                role=m.travellers[idx].role, identity=IdentityView.model_validate(_identity(m.travellers[idx])),
                watchlist=WatchlistRef(list=str(getattr(h, "list", "")), entry_id=h.entry_id,
                                       category=str(category.value if hasattr(category, "value") else category)
                                       if category is not None else None,
                                       matched_name=getattr(h, "matched_name", None)),
                score=h.score, threshold=getattr(h, "threshold", None), explanation=explanation,
                explanation_text=explain() if callable(explain) else "", manifest_uid=uid, lane=LANE)
            alerts.append(alert)
            hit_rows.append({"manifest_id": manifest_id, "traveller_id": traveller_ids[idx],
                             "alert_event_id": alert.event_id, "list": alert.watchlist.list,
                             "entry_id": h.entry_id, "category": alert.watchlist.category, "score": h.score,
                             "threshold": alert.threshold,
                             "explanation": json.dumps([e.model_dump() for e in explanation])})
        await Store.add_hits(conn, hit_rows)

        mev = ManifestEvent(
            event_id=out.next_id("manifests"), flight=flight, manifest_uid=uid, version=version, replaces=replaces,
            document_code=m.document_code, document_id=m.document_id, complete=s.complete, parts=m.parts,
            counts=Counts(passengers=pax, crew=crew, declared_passengers=m.totals.passengers,
                          declared_crew=m.totals.crew, hits=len(alerts)),
            travellers=s.views, findings=[_finding_view(f) for f in s.findings], lane=LANE, interchange=iref)
        return mev, alerts


def _utc_or_none(utc: datetime | None, local: datetime | None) -> datetime | None:
    """A leg time for the retention clocks: UTC as sent, else the local time read as UTC (hours of margin)."""
    t = utc or local
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _clocks(m: Manifest) -> dict[str, datetime | None]:
    first, last = (m.legs[0], m.legs[-1]) if m.legs else (None, None)
    return {"departs_at": _utc_or_none(first.departure_utc, first.departure_local) if first else None,
            "arrives_at": _utc_or_none(last.arrival_utc, last.arrival_local) if last else None}


def _to_event(o: StoredOutput) -> OutputEvent:
    kind: OutputKind = o.kind  # type: ignore[assignment]  # written by us from OutputKind
    return OutputEvent(kind=kind, key=o.key, value=o.value, event_id=o.event_id)
