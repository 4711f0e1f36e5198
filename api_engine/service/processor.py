"""The I/O half of the processing core: one input record in, its output events out, state in the store.

Strategy: the CPU-bound work is `prepare` (read, validate, assemble single-part lists, screen, targeting rules),
run off the event loop when an executor is given; this half brackets it with the store:
  1. a record already processed (same source, key and bytes) returns its stored outputs: a replay
     after a crash re-emits identical events with identical ids and does no new work;
  2. a malformed input (an error of the envelope or syntax, or nothing readable) yields a
     negative CONTRL and a dead letter, never an exception;
  3. a duplicate interchange (the same bytes) is acknowledged as a duplicate (CONTRL 0085 = 26) and
     not processed again; the same sender + UNB 0020 with other bytes is processed and flagged (26
     noted on an accepting UCI, ENV-REF-REUSED on its manifests): a decoy sent first must not get the
     real list dropped. With a sender binding, a record whose authenticated identity may not use its
     UNB sender is refused (CONTRL 23, dead letter) before anything else;
  4. otherwise parts are stored per assembly key (sender included) and merged with the parts already
     stored, so a restart between parts loses nothing, and a list is emitted once per distinct content;
     a list replaces only the same sender's list for the flight (another sender's is kept beside it,
     MAN-TWO-SENDERS), and the open hits of the versions it replaces are carried to the same
     traveller's hit in it or stay open: only a decision ends a hit;
  5. state and outputs commit in ONE transaction; only then are the outputs returned (the Kafka
     shell produces them and commits the offset afterwards: at-least-once in, idempotent out).
Messages with validation errors are rejected to the carrier in the CONTRL but still stored and
screened: a border officer must not miss a hit because a carrier sent a bad date. Identifying
data is sealed (AES-GCM) before the transaction opens. Logs name interchange references, senders
(carriers) and flight keys only, never a traveller.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from api_engine.protection.crypto import Keyring, check_keyring, keyring_from_settings, seal_dead_letter
from api_engine.service.events import (
    AlertEvent,
    Counts,
    DeadLetterEvent,
    InterchangeRef,
    ManifestEvent,
    OutputEvent,
)
from api_engine.service.iapi import iapi_statuses, whole_request_answer
from api_engine.service.iapi_changes import acknowledge
from api_engine.service.lists import LiveLists
from api_engine.service.outputs import (
    LANE,
    Outputs,
    ack_event,
    alert_event,
    finding_view,
    flight_ref,
    to_event,
)
from api_engine.service.prepare import Prepared, Screened, complete_assembly, identity, prepare, record_id
from api_engine.service.rules import LiveRules, RuleAlert
from api_engine.service.screening import HitLike, Screener, screener_from_settings, screening_active
from api_engine.service.senders import Origin, SenderBinding
from api_engine.settings import Settings
from api_engine.store import AssemblyState, Connected, Store, StoredOutput
from api_engine.store.schema import iapi_answers, manifest_screens, processed_records
from parsers import Finding, Manifest, Severity, Traveller
from parsers.assembly import CREW_ROLES, PASSENGER_ROLES, AssemblyKey, part_key
from parsers.contrl import write_contrl
from parsers.cusres_writer import cusres_for_manifest, write_cusres
from parsers.profile import Profile, load_profile

__all__ = ["OutputEvent", "Processor"]

log = logging.getLogger("api_engine.service.processor")

_T = TypeVar("_T")


# Statements of the per-record path built once (building and keying one per call cost more than running it).
_ANSWERED_BEFORE = select(iapi_answers.c.abo_key, iapi_answers.c.id).where(
    iapi_answers.c.sender == bindparam("sender"), iapi_answers.c.flight_key == bindparam("flight_key"),
    iapi_answers.c.abo_key.in_(bindparam("keys", expanding=True)))
_ADD_ANSWERS = insert(iapi_answers)
_ADD_SCREENS = insert(manifest_screens)


def _key_hash(key: AssemblyKey) -> str:
    return hashlib.sha256("\x1f".join(key).encode()).hexdigest()


def _primary_document(t: Traveller) -> tuple[str | None, str | None, str | None]:
    docs = [d for d in t.documents if d.doc_type != "V"] or t.documents
    d = docs[0] if docs else None
    return (d.doc_type, d.number, d.issuing_state) if d else (None, None, None)


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
# A dead letter carries its input (sealed) only up to this size: a bigger event could exceed the
# producer's request limit, fail to produce for ever and stall the partition behind it. Bigger
# inputs stay sealed in the store only (raw_messages), where `keys open-dead-letter` finds them.
DEAD_LETTER_INLINE_MAX = 1024 * 1024

class Processor:
    """One input record → its output events, with state and outputs committed to the store first."""

    def __init__(self, settings: Settings, store: Store, profile: Profile, screener: Screener,
                 executor: Executor | None = None, binding: SenderBinding | None = None) -> None:
        self.settings = settings
        self.store = store
        self.profile = profile
        # the settings' lists (followed as their files change), plus the console's uploads and clearances
        self.lists = LiveLists(store, screener, check_interval_s=settings.list_check_interval_s)
        # the targeting rules in force: API_ENGINE_RULES files and the store's approved rule sets
        self.rules = LiveRules(store, settings.rules)
        self.waiting = 0  # records between arrival and commit: a re-screen paces itself while any wait
        self.executor = executor
        self._lock = asyncio.Lock()  # one writer per process: parts of a flight never race each other
        # One heavy thing at a time in this process: preparing a record (on the executor) or a write
        # transaction. A transaction whose Python half shares the GIL with a preparation takes about
        # twice as long, and on SQLite every other worker waits for the write lock meanwhile; under a
        # steady stream that made queues build well below the service's backlog throughput.
        self._turn = asyncio.Lock()
        self.keyring: Keyring = keyring_from_settings(settings)  # identifying data is encrypted at rest
        self.binding = binding  # None: carriers are not authenticated
        # Single records (HTTP requests) that arrive while others are being processed: taken together next.
        self._queued: list[tuple[bytes, bytes | None, str, str | None, asyncio.Future[list[OutputEvent]]]] = []
        self._taking: asyncio.Task[None] | None = None

    def _refusal(self, identity: str | None, sender: str | None) -> Finding | None:
        return self.binding.refusal(identity, sender) if self.binding is not None else None

    def _traveller_key(self, t: Traveller) -> str | None:
        """A keyed pseudonym of who the traveller is (names, date of birth, document): what pairs a hit
        with the same traveller's hit in a later version. Carrier references (ABO, AVF) are left out: a
        sender could give the listed person's reference to someone else."""
        _, number, state = _primary_document(t)
        parts = [t.surname or "", " ".join(t.given_names), str(t.date_of_birth or t.date_of_birth_raw or ""),
                 number or "", state or ""]
        return self.keyring.pseudonym("\x1f".join(" ".join(p.split()) for p in parts), "hit-traveller", 53)

    @property
    def screener(self) -> Screener:
        """The screener in force: an upload installed while the service runs may replace it."""
        return self.lists.screener

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
        binding = SenderBinding.from_settings(settings)  # a broken binding file stops us before the store opens
        store = await Store.open(settings.effective_database_url)
        processor = cls(settings, store, profile, chosen, executor, binding)
        try:  # a keyring the store's other writers do not share: refuse before writing anything
            await check_keyring(store, processor.keyring)
        except BaseException:
            await store.close()
            raise
        try:
            await processor.rules.start()  # a rule file that does not parse stops the start, like a bad list
            await processor.lists.install_uploads()
            await processor.lists.record_all("start")  # a file changed while the service was down is a change
        except BaseException:
            await store.close()
            raise
        return processor

    async def close(self) -> None:
        if self._taking is not None and not self._taking.done():
            self._taking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._taking
        for *_, done in self._queued:
            done.cancel()
        self._queued.clear()
        await self.lists.close()
        await self.store.close()

    async def _cpu(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self.executor is None:
            return fn(*args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor, partial(fn, *args, **kwargs))

    def _record_id(self, value: bytes, key: bytes | None, source: str, identity: str | None) -> str:
        """The record id; with sender binding, the authenticated identity is part of it: a spoofed copy
        refused first must not make the carrier's own record look like a replay of that refusal."""
        if self.binding is None or identity is None:
            return record_id(value, key, source)
        return record_id(value, key, f"{source}\x1fidentity={identity}")

    async def seen(self, value: bytes, *, key: bytes | None = None, source: str = "kafka",
                   identity: str | None = None) -> bool:
        """Whether this exact record was processed before (processing it again is a replay)."""
        async with self.store.engine.connect() as conn:
            return await Store.stored_outputs(conn, self._record_id(value, key, source, identity)) is not None

    async def process(self, value: bytes, *, key: bytes | None = None, source: str = "kafka",
                      identity: str | None = None) -> list[OutputEvent]:
        """Process one input record; returns its output events once they are durable in the store.

        `identity`: who the transport authenticated as the sender (checked against the sender binding).

        Records given while others are being processed are processed together next, as one batch (one
        transaction): with many HTTP requests at once, a transaction per request made them queue for the
        write lock, and the commits, not the work, set the pace."""
        done: asyncio.Future[list[OutputEvent]] = asyncio.get_running_loop().create_future()
        self._queued.append((value, key, source, identity, done))
        if self._taking is None or self._taking.done():
            self._taking = asyncio.create_task(self._take_queued())
        return await done

    async def _take_queued(self) -> None:
        while self._queued:
            source = self._queued[0][2]
            batch = [q for q in self._queued if q[2] == source][:self.settings.max_batch]
            taken = {id(q) for q in batch}
            self._queued = [q for q in self._queued if id(q) not in taken]
            # Taken together, then one by one if that failed: one carrier's record that breaks processing
            # must fail only its own request, never the others' that happened to arrive with it.
            for group in ([batch] if len(batch) == 1 else [batch, *([q] for q in batch)]):
                try:
                    results = await self.process_batch([(v, k) for v, k, *_ in group], source=source,
                                                       identities=[who for _, _, _, who, _ in group])
                except Exception as exc:  # an outage (the caller retries or answers 503), or this record's fault
                    if len(group) == 1:
                        done = group[0][4]
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for (*_, done), events in zip(group, results, strict=True):
                    if not done.done():  # a caller that went away (a carrier that hung up) is not waited for
                        done.set_result(events)
                if group is batch:
                    break

    async def process_batch(self, records: Sequence[tuple[bytes, bytes | None]], *,
                            source: str = "kafka", origins: Sequence[Origin] | None = None,
                            identities: Sequence[str | None] | None = None) -> list[list[OutputEvent]]:
        """Process records (value, key) in the order given; one output list per record, durable in the store.

        The whole batch commits in one transaction (one write lock, one commit instead of one per
        record), applied in order, so parts and duplicates inside a batch behave exactly as if they
        had come one at a time. The CPU work (read, validate, screen, encrypt) runs before the
        transaction opens. If another writer raced us to a record, the batch is redone record by record.
        The sender's authenticated identity comes from `identities`, or from each record's `origins`
        (Kafka topic and headers) as the sender binding reads them; without a binding it is ignored.
        """
        self.waiting += 1
        try:
            return await self._process_batch(records, source, origins, identities)
        finally:
            self.waiting -= 1

    async def _process_batch(self, records: Sequence[tuple[bytes, bytes | None]], source: str,
                             origins: Sequence[Origin] | None,
                             identities: Sequence[str | None] | None) -> list[list[OutputEvent]]:
        if identities is None:
            binding = self.binding
            identities = ([binding.identity_of(topic, headers) for topic, headers in origins]
                          if binding is not None and origins is not None else [None] * len(records))
        if len(identities) != len(records):
            raise ValueError(f"{len(records)} record(s) but {len(identities)} identities")
        rids = [self._record_id(value, key, source, who) for (value, key), who in zip(records, identities, strict=True)]
        # Taken before anything is screened: lists only ever get installed while running, so a batch
        # started without any is never reported as screened.
        screened = screening_active(self.screener)
        results: list[list[StoredOutput] | None] = [None] * len(records)
        stored = await self.store.read(partial(Store.stored_outputs_many, record_ids=rids))
        for i, rid in enumerate(rids):
            if rid in stored:
                log.info("replay of record %s: %d stored output(s) re-emitted", rid[:12], len(stored[rid]))
                results[i] = self._open_outputs(stored[rid])
        first: dict[str, int] = {}  # a record repeated inside the batch is worked on once
        for i, rid in enumerate(rids):
            if results[i] is None:
                first.setdefault(rid, i)
        if first:
            await self.lists.refresh()
            await self.rules.refresh()
            work = []
            for rid, i in first.items():  # one record per turn: a waiting transaction waits for one at most
                async with self._turn:
                    prep = await self._cpu(self._prepare, records[i][0], rid)
                work.append((rid, prep, records[i][0], records[i][1], identities[i]))
            try:
                applied = await self._commit(work, source, screened)
            except IntegrityError:
                # Another worker committed one of these records or interchanges first: look again, one by one.
                log.info("batch of %d record(s) raced another writer; retrying one by one", len(work))
                applied = {}
                for item in work:
                    try:
                        applied.update(await self._commit([item], source, screened))
                    except IntegrityError:
                        applied.update(await self._commit([item], source, screened))
            for i, rid in enumerate(rids):
                if results[i] is None:
                    results[i] = applied[rid]
        return [[to_event(o) for o in r or []] for r in results]

    def _prepare(self, value: bytes, rid: str) -> Prepared:
        """The CPU half of a record (runs in the executor): prepare, then seal what the store will keep."""
        versions = self.lists.versions()  # before screening: a swap meanwhile is re-screened, never missed
        prep = prepare(value, self.profile, self.screener, control_ref=rid[:14],
                       max_record_bytes=self.settings.max_record_bytes, rules=self.rules.current)
        for s in prep.singles:
            s.screened_with = versions
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
                          "hit_count": counts.get(i, 0), **identity(t)})
        s.rows, s.views = rows, views

    async def _commit(self, work: Sequence[tuple[str, Prepared, bytes, bytes | None, str | None]],
                      source: str, screened: bool) -> dict[str, list[StoredOutput]]:
        """The one transaction of a batch: re-check for replays, apply each record in order, store outputs."""
        async def apply_all(conn: Connected) -> dict[str, list[StoredOutput]]:
            stored = await Store.stored_outputs_many(conn, [rid for rid, *_ in work])
            out: dict[str, list[StoredOutput]] = {}
            for rid, prep, value, key, who in work:
                if rid in stored:
                    out[rid] = self._open_outputs(stored[rid])
                else:
                    out[rid] = await self._apply(conn, rid, prep, value, key, source, screened, who)
            return out

        async with self._lock:
            return await self.store.write(apply_all, exclusive=self._turn)

    async def _apply(self, conn: Connected, rid: str, prep: Prepared, value: bytes, key: bytes | None,
                     source: str, screened: bool, identity: str | None = None) -> list[StoredOutput]:
        out = Outputs(rid, prep)
        ic = prep.interchange
        h = ic.header if ic else None
        iref = InterchangeRef(sender=h.sender if h else None, recipient=h.recipient if h else None,
                              interchange_ref=h.control_ref if h else None,
                              application_ref=h.application_ref if h else None, content_hash=prep.content_hash)
        ack_key = (iref.sender or "").encode()
        common = {"record_id": rid, "source": source[:200], "sender": iref.sender, "recipient": iref.recipient,
                  "interchange_ref": iref.interchange_ref, "application_ref": iref.application_ref,
                  "content_hash": prep.content_hash, "lane": LANE}

        malformed, reason, contrl = prep.malformed, prep.reason, prep.contrl
        refusal = self._refusal(identity, iref.sender) if ic is not None and not malformed else None
        if refusal is not None and ic is not None:  # sender binding: refused like a malformed input, kept
            ic = ic.model_copy(update={"findings": [*ic.findings, refusal]})
            malformed, reason, contrl = [refusal], refusal.message, write_contrl(ic, control_ref=rid[:14])
        if malformed:
            iid = await Store.add_interchange(conn, self._raw(prep, value), size=len(value), status="dead_letter",
                                              **common)
            # iAPI: the DCS waits for a CUSRES: a header-level refusal (ERP+1), never a traveller cleared
            refused = (whole_request_answer(ic, malformed, self.profile.iapi)
                       if ic is not None and prep.interactive else None)
            out.add("acks", ack_key, ack_event(out, iref, contrl, accepted=False, cusres=refused))
            out.add("dlq", key or ack_key, DeadLetterEvent(
                event_id=out.next_id("dlq"), reason=reason or "malformed input",
                rules=list(dict.fromkeys(f.rule for f in malformed)),
                findings=[finding_view(f) for f in (ic.findings if ic else malformed)
                          if f.severity is Severity.ERROR],
                source=source, record_key_base64=base64.b64encode(key).decode() if key is not None else None,
                # sealed: the raw list names travellers, and the topic is read by operators
                original_sealed=seal_dead_letter(self.keyring, value) if len(value) <= DEAD_LETTER_INLINE_MAX
                else None, original_size=len(value),
                interchange=iref))
            await Store.save_record(conn, rid, iid, "dead_letter", self._seal_outputs(out.items))
            log.warning("dead letter: interchange %s from %s: %s", iref.interchange_ref, iref.sender,
                        ", ".join(dict.fromkeys(f.rule for f in malformed)))
            return out.items
        assert ic is not None

        dup_of = await Store.find_duplicate(conn, prep.content_hash)  # only the same bytes are a duplicate
        if dup_of is not None:
            iid = await Store.add_interchange(conn, self._raw(prep, value), size=len(value), status="duplicate",
                                              **common)
            dup = Finding(rule="ENV-DUPLICATE", severity=Severity.ERROR, level="interchange", segment_tag="UNB",
                          message="interchange received before (the same bytes)", contrl_error=26)
            contrl = write_contrl(ic.model_copy(update={"findings": [dup]}), control_ref=rid[:14])
            # iAPI: a resent request gets the answer the first one got (the carrier may have missed it)
            answer = await self._first_answer(conn, dup_of) if prep.interactive else None
            out.add("acks", ack_key, ack_event(out, iref, contrl, accepted=False, duplicate=True, cusres=answer))
            await Store.save_record(conn, rid, iid, "duplicate", self._seal_outputs(out.items))
            log.info("duplicate interchange %s from %s: acknowledged, not processed again",
                     iref.interchange_ref, iref.sender)
            return out.items

        iid = await Store.add_interchange(conn, self._raw(prep, value), size=len(value), status="processed",
                                              **common)
        sender_ref = (iref.sender or "", iref.interchange_ref or "")
        uses = await Store.reference_uses(conn, *sender_ref)
        await Store.register(conn, *sender_ref, prep.content_hash, iid, occurrence=uses + 1)
        flags: list[Finding] = []
        contrl = prep.contrl
        if uses:
            # Other bytes under a reference this sender used before: processed and flagged, never
            # dropped (a decoy sent first must not make the real list vanish).
            reused = Finding(
                rule="ENV-REF-REUSED", severity=Severity.WARNING, level="interchange", segment_tag="UNB",
                message=f"interchange reference {iref.interchange_ref} was used before by sender {iref.sender} "
                        f"with other content ({uses} time(s)): processed and flagged, not dropped",
                contrl_error=26)
            flags.append(reused)
            contrl = write_contrl(ic, control_ref=rid[:14], note=reused)
            log.warning("interchange %s from %s reuses its reference with other content: processed, flagged",
                        iref.interchange_ref, iref.sender)
        acknowledged = [r.transaction_ref for r in ic.responses if r.document_code == "312" and r.transaction_ref]
        if acknowledged:  # the carrier acknowledges government-initiated changes (CUSRES 132)
            await acknowledge(conn, self.store, acknowledged, iref.sender)
        ready: list[Screened] = list(prep.singles)
        for part in prep.parts:
            done = await self._add_part(conn, part, iid)
            if done is not None:
                ready.append(done)

        cusres_for: list[tuple[Manifest, dict[int | str, tuple[str, str]]]] = []
        manifest_events: list[ManifestEvent] = []
        alert_events: list[AlertEvent] = []
        for s in ready:
            mev, alerts = await self._store_manifest(conn, out, rid, iid, s, iref, screened, flags,
                                                     interactive=prep.interactive)
            manifest_events.append(mev)
            alert_events.extend(alerts)
            if prep.interactive:
                statuses = iapi_statuses(s, ic.findings, self.profile.iapi)
                cusres_for.append((s.manifest, statuses))
                await self._record_answers(conn, s, statuses)

        cusres = None
        if cusres_for:
            responses = [cusres_for_manifest(m, st) for m, st in cusres_for]
            cusres = write_cusres(responses, control_ref=rid[:14])
        out.add("acks", ack_key, ack_event(out, iref, contrl, accepted=ic.ok, cusres=cusres))
        for a in alert_events:
            out.add("alerts", a.flight.flight_key.encode(), a)
        for mev in manifest_events:
            out.add("manifests", mev.flight.flight_key.encode(), mev)
        await Store.save_record(conn, rid, iid, "processed", self._seal_outputs(out.items))
        log.info("interchange %s from %s: %d message(s), %d part(s) held, flights [%s], %d alert(s)",
                 iref.interchange_ref, iref.sender, len(ic.messages), len(prep.parts),
                 ", ".join(m.flight.flight_key for m in manifest_events), len(alert_events))
        return out.items

    async def _first_answer(self, conn: Connected, interchange_id: int) -> bytes | None:
        """The CUSRES the first copy of an interchange was answered with (None once retention deleted it)."""
        rid = await conn.scalar(select(processed_records.c.record_id).where(
            processed_records.c.interchange_id == interchange_id, processed_records.c.outcome == "processed")
            .limit(1))
        if rid is None:
            return None
        stored = await Store.stored_outputs(conn, rid) or []
        for o in self._open_outputs([o for o in stored if o.kind == "acks"]):
            sealed = json.loads(o.value).get("cusres_base64")
            if sealed:
                return base64.b64decode(sealed)
        return None

    async def _add_part(self, conn: Connected, part: Manifest, iid: int) -> Screened | None:
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
        versions = self.lists.versions()
        screened = await self._cpu(complete_assembly, [*stored, part], self.screener, self.rules.current)
        screened.screened_with = versions
        emit = screened.complete and screened.digest != state.digest
        state = AssemblyState(key_hash=kh, generation=state.generation, complete=screened.complete,
                              digest=screened.digest if emit else state.digest, manifest_id=state.manifest_id)
        await Store.save_assembly(conn, state, create=False)
        return screened if emit else None

    async def _record_answers(self, conn: Connected, s: Screened,
                              statuses: dict[int | str, tuple[str, str]]) -> None:
        """Keep the iAPI answer per traveller reference (RFF+ABO), and what the carrier told since: a 745
        answers (a CP answers again: "changed"), a 266 CLOB marks the answered travellers on board and the
        others off-loaded, a 266 CLNB the listed ones off-loaded, a 266 XF all of them cancelled."""
        m = s.manifest
        sender, flight = m.header.sender or "", m.flight_key[:120]
        at = datetime.now(UTC)
        keys = {i: self.keyring.pseudonym(t.abo, "iapi-abo", 43) for i, t in enumerate(m.travellers) if t.abo}
        if m.document_code == "266":
            same_flight = (iapi_answers.c.sender == sender, iapi_answers.c.flight_key == flight)
            listed = [k for k in keys.values() if k]
            if m.document_id == "XF":
                await conn.execute(update(iapi_answers).where(*same_flight).values(state="cancelled", state_at=at))
            elif m.document_id == "CLOB":
                await conn.execute(update(iapi_answers).where(*same_flight, iapi_answers.c.abo_key.in_(listed))
                                   .values(state="boarded", state_at=at))
                await conn.execute(update(iapi_answers).where(
                    *same_flight, iapi_answers.c.abo_key.not_in(listed),
                    iapi_answers.c.state.in_(("answered", "changed"))).values(state="offloaded", state_at=at))
            elif m.document_id == "CLNB":
                await conn.execute(update(iapi_answers).where(*same_flight, iapi_answers.c.abo_key.in_(listed))
                                   .values(state="offloaded", state_at=at))
            return
        ids = s.traveller_ids or {}
        answered = {key: (i, statuses[i]) for i, key in keys.items() if key and i in statuses}
        if not answered:
            return
        # One look-up and one insert for a first request (the usual case: a record costs a few milliseconds);
        # an update per traveller answered before (a CP, a resend with other bytes).
        before = dict((await conn.execute(_ANSWERED_BEFORE, {"sender": sender, "flight_key": flight,
                                                             "keys": list(answered)})).all())
        fresh = []
        for key, (i, (status, text)) in answered.items():
            values = {"traveller_id": ids.get(i), "status": status, "text": text[:70], "answered_at": at,
                      "state_at": at}
            if key in before:
                await conn.execute(update(iapi_answers).where(iapi_answers.c.id == before[key]).values(
                    **values, answers=iapi_answers.c.answers + 1, state="changed"))
            else:
                fresh.append({"sender": sender, "flight_key": flight, "abo_key": key, "answers": 1,
                              "state": "answered", **values})
        if fresh:
            await conn.execute(_ADD_ANSWERS, fresh)

    async def _store_manifest(self, conn: Connected, out: Outputs, rid: str, iid: int, s: Screened,
                              iref: InterchangeRef, screened: bool, flags: Sequence[Finding] = (), *,
                              interactive: bool = False) -> tuple[ManifestEvent, list[AlertEvent]]:
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
        same_flight: dict[str, Any] = {"flight_key": m.flight_key[:120], "document_code": m.document_code,
                                       "lane": LANE, "sender": m.header.sender}
        others = await Store.other_senders(conn, **same_flight)
        if others:  # kept beside, never replacing: the officer sees both lists and this finding
            flags = [*flags, Finding(
                rule="MAN-TWO-SENDERS", severity=Severity.WARNING, level="manifest",
                message=f"two senders for this flight: this list from {m.header.sender} is kept beside the "
                        f"list from {', '.join(others)}; neither replaces the other")]
            log.warning("flight %s: list from %s kept beside the list from %s (two senders)",
                        m.flight_key, m.header.sender, ", ".join(others))
        positions = _hit_positions(s)
        want = [idx for idx, _ in positions] + (list(range(len(m.travellers))) if interactive else [])
        traveller_ids = await Store.add_travellers(conn, manifest_id, s.rows, want)
        s.traveller_ids = traveller_ids

        flight = flight_ref(m)
        alerts: list[AlertEvent] = []
        hit_rows = []
        for idx, h in positions:
            alert = alert_event(out, flight, uid, idx, m.travellers[idx], h)
            alerts.append(alert)
            hit_rows.append({"manifest_id": manifest_id, "traveller_id": traveller_ids[idx],
                             "alert_event_id": alert.event_id, "list": alert.watchlist.list,
                             "entry_id": h.entry_id, "category": alert.watchlist.category, "score": h.score,
                             "threshold": alert.threshold, "traveller_key": self._traveller_key(m.travellers[idx]),
                             # a rule's declared severity; a watchlist hit's follows from its score and category
                             "severity": h.severity if isinstance(h, RuleAlert) else None,
                             # the feature details quote names and dates of birth: sealed like the traveller
                             "explanation": self.keyring.encrypt_text(
                                 json.dumps([e.model_dump() for e in alert.explanation]), "hits.explanation")})
        await Store.add_hits(conn, hit_rows)
        if s.complete and s.screened_with:
            await conn.execute(_ADD_SCREENS, [
                {"manifest_id": manifest_id, "list_name": name, "digest": digest}
                for name, digest in s.screened_with.items()])
        if version > 1:  # this sender's earlier versions: their open hits follow the traveller, or stay open
            carried = await Store.carry_hits(conn, manifest_id, **same_flight)
            if carried:
                log.info("flight %s: %d open hit(s) carried to version %d", m.flight_key, carried, version)

        mev = ManifestEvent(
            event_id=out.next_id("manifests"), flight=flight, manifest_uid=uid, version=version, replaces=replaces,
            document_code=m.document_code, document_id=m.document_id, complete=s.complete, parts=m.parts,
            counts=Counts(passengers=pax, crew=crew, declared_passengers=m.totals.passengers,
                          declared_crew=m.totals.crew, hits=len(alerts)), screened=screened,
            travellers=s.views, findings=[finding_view(f) for f in [*s.findings, *flags]], lane=LANE,
            interchange=iref)
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
