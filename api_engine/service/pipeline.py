"""The Kafka loop of one worker: consume api.inbound, process, produce outputs, commit.

Strategy (at-least-once in, idempotent out):
- One aiokafka consumer per worker process, group `settings.kafka_group_id`, manual commits.
- Records of one partition are processed strictly in order (multi-part state depends on it) by one
  lane task per partition; partitions proceed concurrently, so one slow flight never stalls the rest.
  A lane takes what has queued up for it (at most `max_batch` records) as one batch: the processor
  commits a batch in one transaction, so a busy service pays one commit per batch, not per record,
  while a quiet one still handles each record as it comes.
- After `process_batch()` a lane hands every output to the producer (acks=all, header `event-id`)
  and moves on; a small task per record awaits its produce acks and only then marks it done.
- An offset tracker per partition commits an offset only when every earlier record of that
  partition is done, so a crash at any point replays records whose outputs may be missing, never
  skips one; the processor re-returns identical outputs (same event ids) for a replay, which a
  consumer deduplicating by id sees as nothing new.
- Backpressure: at most `max_in_flight` records are between fetch and ack; when that many are out
  the loop stops calling `getmany` until one completes (the fetcher's own prefetch is bounded in
  bytes). There is no unbounded queue anywhere.
- Shutdown (SIGTERM/SIGINT via `request_stop`): stop fetching, finish in-flight records, commit,
  leave the group, all within `shutdown_timeout_s`.
- Faults are waited out, not died of: a store that cannot be reached (or is full, or read-only) makes
  a lane retry the same batch with a capped exponential back-off; a broker that cannot be reached
  makes a record's outputs be produced again until acknowledged. Meanwhile /readyz is false,
  `api_engine_dependency_up` is 0 and one log line marks each change of state. Nothing is lost (no
  offset passes a record whose outputs are not acknowledged) and nothing is done twice (a retried
  batch that did commit is answered from the store with the same events and ids). Only an error that
  is not an outage (a bug) stops the worker without committing the record (exit status 1), and the
  supervisor in `serve` restarts it with a bounded back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import json
import logging
import random
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    CommitFailedError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
)
from aiokafka.structs import OffsetAndMetadata, TopicPartition  # type: ignore[import-untyped]
from prometheus_client import Counter, Gauge, Histogram

from api_engine.service.kafka import consumer_kwargs, producer_kwargs
from api_engine.service.screening import screening_active
from api_engine.service.senders import SenderBinding
from api_engine.settings import Settings

if TYPE_CHECKING:
    from api_engine.service.notify import Notifier
    from api_engine.service.processor import Processor

log = logging.getLogger("api_engine.service.pipeline")

COMMIT_INTERVAL_S = 0.2

# Metrics carry counts and rule ids only: never a name, a date of birth or a document number.
RECORDS = Counter("api_engine_records", "Inbound records done (outputs acknowledged), by outcome",
                  ["outcome"])  # ok, rejected (negative CONTRL), dead_letter
TRAVELLERS = Counter("api_engine_travellers", "Travellers in manifests produced")
HITS = Counter("api_engine_hits", "Hits of watchlists and targeting rules (alert events produced)")
FINDINGS = Counter("api_engine_findings", "Findings that sent a record to the dead letters, by rule", ["rule"])
DEAD_LETTERS = Counter("api_engine_dead_letters", "Records sent to the dead-letter topic")
OUTPUTS = Counter("api_engine_outputs", "Output events produced and acknowledged", ["topic_kind"])
PROCESSING = Histogram("api_engine_processing_seconds", "Time in the processing core per batch of records",
                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
RECORD_LATENCY = Histogram("api_engine_record_seconds", "Fetch to all outputs acknowledged, per record",
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
LAG = Gauge("api_engine_consumer_lag", "Highwater minus committed offset", ["partition"])
_DECODER = json.JSONDecoder()
IN_FLIGHT = Gauge("api_engine_in_flight", "Records between fetch and produce acknowledgement")
DEPENDENCY_UP = Gauge("api_engine_dependency_up", "1 while the store or broker answers, 0 while waited for",
                      ["dependency"])  # store, broker
RETRIES = Counter("api_engine_retries", "Attempts that met an outage and were retried after a back-off",
                  ["dependency"])
SCREENING = Gauge("api_engine_screening_active",
                  "1 when travellers are screened against at least one watchlist, 0 when running unscreened")
BROKER_PROBE_S = 1.0


class OutputLike(Protocol):
    """What the pipeline needs from `api_engine.service.processor.OutputEvent`."""

    kind: str
    key: bytes
    value: bytes
    event_id: str


class ProcessorLike(Protocol):
    """What the pipeline needs from `api_engine.service.processor.Processor`."""

    async def process_batch(self, records: Sequence[tuple[bytes, bytes | None]], *,
                            source: str = "kafka",
                            origins: Sequence[tuple[str | None, Sequence[tuple[str, bytes]] | None]] | None = None,
                            ) -> Sequence[list[Any]]: ...

    async def close(self) -> None: ...


async def open_processor(settings: Settings) -> Processor:
    """The processing core (imported late: it owns the store and the heavy imports)."""
    from api_engine.service.processor import Processor

    # One thread for the CPU-bound half: the GIL still serialises it, but the event loop gets a turn
    # every few milliseconds (heartbeats, fetches, /healthz) instead of waiting out a whole manifest.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-engine-cpu")
    processor = await Processor.open(settings, executor=executor)
    warm_up(processor)
    tune_gc()
    return processor


def warm_up(processor: Processor) -> None:
    """Read and screen one generated flight (no store) so that reference data loaded on first use
    (airports and time zones, countries, name tables) is in memory before the first carrier message
    waits for it, and is frozen with the rest by `tune_gc`."""
    from api_engine.service.prepare import prepare
    from conformance.generator import generate_flights, to_bytes

    [[manifest]] = generate_flights(1, seed=1, travellers_per_flight=(3, 3))
    prepare(to_bytes(manifest), processor.profile, processor.screener, control_ref="WARMUP")


GC_GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a long-running worker.

    Reading a manifest allocates hundreds of thousands of short-lived objects, which with the default
    gen-0 threshold (700) triggers collections that keep rescanning everything loaded at start-up
    (lists, profiles, code). Freezing what exists once loaded takes it out of every later collection;
    a higher gen-0 threshold makes the young collections rarer. Cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


class PipelineFailure(RuntimeError):
    """Processing or producing failed; the worker stops without committing the record."""


# -- outages: what is waited out rather than died of ---------------------------------------------

_SQLITE_FAULTS = (("disk is full", "disk_full"), ("readonly", "read_only"), ("read-only", "read_only"),
                  ("unable to open", "unavailable"), ("disk i/o error", "io_error"), ("locked", "busy"))
_ERRNO_FAULTS = {errno.ENOSPC: "disk_full", errno.EDQUOT: "disk_full", errno.EROFS: "read_only",
                 errno.EACCES: "read_only", errno.EPERM: "read_only", errno.EIO: "io_error"}


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, the driver errors SQLAlchemy wraps and their causes (each once)."""
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(out) < 20:
        e = todo.pop()
        if e is None or any(e is seen for seen in out):
            continue
        out.append(e)
        orig = getattr(e, "orig", None)
        todo.extend([orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__])
    return out


def store_fault(exc: BaseException) -> str | None:
    """A short reason when `exc` says the store is unreachable, full or read-only; None for anything else.

    Only these are waited out: a constraint violation or a bug must not stall a partition forever.
    The reason is a fixed word (never the driver's message, which may quote a value).
    """
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    for e in _chain(exc):
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return "connection"
        if isinstance(e, PoolTimeout):
            return "pool_timeout"
        if isinstance(e, sqlite3.OperationalError):
            text = str(e).lower()
            return next((reason for needle, reason in _SQLITE_FAULTS if needle in text), None)
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state:
            if state == "53100":
                return "disk_full"
            if state == "25006":
                return "read_only"
            if state[:2] in {"08", "53"} or state.startswith("57P"):
                return "connection"
            if state in {"40001", "40P01"}:  # serialization failure, deadlock: a retry succeeds
                return "conflict"
        if type(e).__module__.startswith("asyncpg") and type(e).__name__ in {
                "ConnectionDoesNotExistError", "InterfaceError", "ClientCannotConnectError",
                "ConnectionFailureError", "ConnectionRejectionError", "CannotConnectNowError"}:
            return "connection"
        if isinstance(e, OSError):
            return _ERRNO_FAULTS.get(e.errno or 0, "connection" if isinstance(e, ConnectionError) else "io_error")
        if isinstance(e, TimeoutError):
            return "timeout"
    return None


def broker_fault(exc: BaseException) -> str | None:
    """A short reason when `exc` says the broker is unreachable or not ready; None for anything else
    (a record too large for the broker, an authorisation error: those are not waited out)."""
    if isinstance(exc, KafkaConnectionError | OSError):
        return "connection"
    if isinstance(exc, KafkaTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, KafkaError) and getattr(exc, "retriable", False):
        return type(exc).__name__
    return None


_CLIENT_NOISE = ("Unable connect to node", "Unable to update metadata", "Failed fetch messages",
                 "Connection at", "not ready", "Heartbeat failed", "coordinator dead")


class QuietClientDuringOutage(logging.Filter):
    """Drops the Kafka client's per-attempt connection errors (hundreds a minute while a broker is
    away): the pipeline reports the outage itself, once when it starts and once when it ends."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka"):
            return True
        if any(h.name == "broker" and not h.up for h in Health.instances):
            return False
        message = record.getMessage()
        return not any(noise in message for noise in _CLIENT_NOISE)


class Health:
    """Up or down of one dependency: a gauge, and one log line per change of state (not per retry)."""

    instances: list[Health] = []  # noqa: RUF012 (the process's dependencies, for the log filter)

    def __init__(self, name: str, worker: int) -> None:
        self.name, self.worker = name, worker
        self.down_since: float | None = None
        self.reason = ""
        DEPENDENCY_UP.labels(name).set(1)
        Health.instances = [*[h for h in Health.instances if h.name != name or h.worker != worker], self]

    @property
    def up(self) -> bool:
        return self.down_since is None

    def mark_down(self, reason: str) -> None:
        RETRIES.labels(self.name).inc()
        if self.down_since is not None:
            return
        self.down_since, self.reason = time.monotonic(), reason
        DEPENDENCY_UP.labels(self.name).set(0)
        log.warning("event=%s_unavailable worker=%d reason=%s action=wait_and_retry", self.name, self.worker, reason)

    def mark_up(self) -> None:
        if self.down_since is None:
            return
        log.warning("event=%s_recovered worker=%d reason=%s down_s=%.1f", self.name, self.worker, self.reason,
                    time.monotonic() - self.down_since)
        self.down_since, self.reason = None, ""
        DEPENDENCY_UP.labels(self.name).set(1)

    def describe(self) -> str:
        return "up" if self.down_since is None else f"down ({self.reason})"


def backoff_s(settings: Settings, attempt: int) -> float:
    """Capped exponential back-off with jitter (workers that met the same outage do not retry in step)."""
    base = min(settings.retry_backoff_max_s, settings.retry_backoff_initial_s * 2.0 ** min(attempt, 30))
    return base * random.uniform(0.8, 1.0)


@dataclass
class _Tracker:
    """Offsets of one partition in fetch order; the committable offset is the end of the done prefix."""

    pending: deque[list[int]] = field(default_factory=deque)  # [offset, done]
    by_offset: dict[int, list[int]] = field(default_factory=dict)
    committed: int = -1

    def add(self, offset: int) -> None:
        entry = [offset, 0]
        self.pending.append(entry)
        self.by_offset[offset] = entry

    def done(self, offset: int) -> None:
        self.by_offset.pop(offset)[1] = 1

    def committable(self) -> int | None:
        """The next offset to commit if it advanced, else None."""
        last = None
        while self.pending and self.pending[0][1]:
            last = self.pending.popleft()[0]
        if last is None or last + 1 <= self.committed:
            return None
        return last + 1

    @property
    def idle(self) -> bool:
        return not self.pending


@dataclass
class _Lane:
    """Records of one partition waiting for the processor, in order, plus the task draining them."""

    queue: deque[tuple[ConsumerRecord[bytes, bytes], float]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


def _account(output: OutputLike) -> str:
    """Metrics from one output event (counts and rule ids only); returns the record's outcome."""
    OUTPUTS.labels(output.kind).inc()
    if output.kind == "alerts":
        HITS.inc()
        return "ok"
    if output.kind == "dlq":
        DEAD_LETTERS.inc()
    if output.kind == "manifests":  # only the small counts object, not the whole (large) manifest
        at = output.value.find(b'"counts":')
        if at >= 0:
            try:
                counts, _ = _DECODER.raw_decode(output.value[at + 9:at + 400].decode("utf-8", "replace"))
            except ValueError:
                counts = None
            if isinstance(counts, dict):
                TRAVELLERS.inc(int(counts.get("passengers") or 0) + int(counts.get("crew") or 0))
                return "ok"
    try:
        doc = json.loads(output.value)
    except ValueError:
        return "ok"
    if not isinstance(doc, dict):
        return "ok"
    if output.kind == "manifests":
        counts = doc.get("counts")
        if isinstance(counts, dict):
            TRAVELLERS.inc(int(counts.get("passengers") or 0) + int(counts.get("crew") or 0))
        elif isinstance(doc.get("travellers"), list):
            TRAVELLERS.inc(len(doc["travellers"]))
        return "ok"
    if output.kind == "acks":
        return "rejected" if doc.get("accepted") is False else "ok"
    findings = doc.get("findings")
    rules = [f.get("rule") for f in findings if isinstance(f, dict)] if isinstance(findings, list) else []
    for rule in rules or doc.get("rules") or ["unknown"]:
        if isinstance(rule, str):
            FINDINGS.labels(rule).inc()
    return "dead_letter"


class Pipeline:
    """One consumer-group member: the loop, its lanes, the commit tracker, outages and the shutdown."""

    def __init__(self, settings: Settings, bootstrap_servers: str, processor: ProcessorLike | None, *,
                 group_id: str | None = None, worker: int = 0) -> None:
        self.settings = settings
        self.bootstrap_servers = bootstrap_servers
        self.processor = processor  # None until `open` succeeded (the store may be down at start)
        self.group_id = group_id or settings.kafka_group_id
        self.worker = worker
        self.max_in_flight = max(1, settings.max_in_flight)
        self.max_batch = max(1, settings.max_batch)
        self.topic_for = {
            "acks": settings.topics.acks, "alerts": settings.topics.alerts,
            "manifests": settings.topics.manifests, "dlq": settings.topics.dlq,
        }
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._lanes: dict[TopicPartition, _Lane] = {}
        self._trackers: dict[TopicPartition, _Tracker] = {}
        self._ack_tasks: set[asyncio.Task[None]] = set()
        # Records fetched and not answered yet, in fetch order, with when they were fetched (iAPI time budget).
        self._unanswered: dict[tuple[TopicPartition, int], tuple[ConsumerRecord[bytes, bytes], float]] = {}
        self._in_flight = 0
        self._progress = asyncio.Event()  # set whenever a record completes (frees a slot)
        self._stop = asyncio.Event()
        self._failure: BaseException | None = None
        self._gave_up = False  # stopped while waiting out an outage: the rest is replayed next time
        self._producing_again = 0  # records whose outputs are being produced again after a broker fault
        self.store = Health("store", worker)
        self.broker = Health("broker", worker)
        self.joined = False  # the group assigned us partitions (possibly none) at least once
        self.records_done = 0
        self.notifier: Notifier | None = None  # hit notifications, when configured (api_engine.service.notify)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return (self.joined and self.consumer is not None and self.processor is not None
                and self.store.up and self.broker.up and not self._stop.is_set())

    @property
    def screened(self) -> bool:
        """Whether records are screened against at least one watchlist right now."""
        return screening_active(getattr(self.processor, "screener", None))

    def status(self) -> dict[str, object]:
        """What /readyz shows besides ready or not: dependencies and screening (no personal data)."""
        out: dict[str, object] = {"store": self.store.describe() if self.processor is not None else "opening",
                                  "broker": self.broker.describe(), "screened": self.screened}
        if not self.screened:
            out["warning"] = "running unscreened: no watchlist is loaded, no traveller is screened"
        lists = getattr(self.processor, "lists", None)
        if lists is not None:
            out["lists"] = lists.status()
            if lists.errors:
                out["list_errors"] = lists.errors
        return out

    def request_stop(self) -> None:
        """Stop fetching; `run` then finishes in-flight work, commits and returns."""
        self._stop.set()
        self._progress.set()

    async def _pause(self, attempt: int) -> bool:
        """Wait out one back-off step; False when a stop was requested meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), backoff_s(self.settings, attempt))
        return not self._stop.is_set()

    async def _wait_out(self, health: Health, reason: str | None, exc: Exception, attempt: int) -> bool:
        """After a failure: re-raise it unless it is an outage of `health` (`reason` from store_fault or
        broker_fault); else mark the dependency down and wait one back-off step (False: stop requested)."""
        if reason is None:
            raise exc
        health.mark_down(reason)
        return await self._pause(attempt)

    async def open(self, processor_factory: Callable[[Settings], Awaitable[ProcessorLike]]) -> bool:
        """Open the processor, waiting out a store that is not reachable yet; False if stopped first."""
        attempt = 0
        while self.processor is None:
            try:
                self.processor = await processor_factory(self.settings)
            except Exception as exc:
                if not await self._wait_out(self.store, store_fault(exc), exc, attempt):
                    return False
                attempt += 1
        self.store.mark_up()
        SCREENING.set_function(lambda: float(self.screened))
        if not self.screened:
            log.warning("event=unscreened worker=%d reason=no_watchlist_loaded "
                        "detail=travellers_are_not_screened", self.worker)
        return True

    async def _start_clients(self) -> bool:
        """Start producer and consumer, waiting out a broker that is not reachable yet."""
        attempt = 0
        while True:
            producer = AIOKafkaProducer(**producer_kwargs(self.settings, self.bootstrap_servers))
            consumer = AIOKafkaConsumer(**consumer_kwargs(self.settings, self.bootstrap_servers, self.group_id))
            try:
                await producer.start()
                await consumer.start()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                with contextlib.suppress(Exception):
                    await producer.stop()
                if not await self._wait_out(self.broker, broker_fault(exc), exc, attempt):
                    return False
                attempt += 1
                continue
            self.producer, self.consumer = producer, consumer
            self.broker.mark_up()
            return True

    async def run(self) -> None:
        """Run until `request_stop` (or a failure, re-raised after the orderly part of shutdown)."""
        if not await self._start_clients():
            log.info("event=worker_stopped worker=%d records=0", self.worker)
            return
        assert self.consumer is not None and self.producer is not None
        try:
            binding = SenderBinding.from_settings(self.settings)  # per-carrier topics: their ACLs name the sender
            self.consumer.subscribe([self.settings.topics.inbound, *(binding.topics if binding else ())],
                                    listener=_Rebalance(self))
            committer = asyncio.create_task(self._commit_loop())
            prober = asyncio.create_task(self._probe_loop())
            rescreener = asyncio.create_task(self._rescreen_loop())
            changes = asyncio.create_task(self._iapi_changes_loop())
            budget = asyncio.create_task(self._budget_loop())
            self._start_notifier()
            try:
                await self._fetch_loop()
            finally:
                await self._drain(self.settings.shutdown_timeout_s * 0.8)
                for task in (committer, prober, rescreener, changes, budget):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if self.notifier is not None:  # what the drained records raised, within the rest of the time
                    await self.notifier.close(self.settings.shutdown_timeout_s * 0.15)
                if self._failure is None:
                    try:
                        await self._commit(final=True)
                    except KafkaError as exc:  # uncommitted records are replayed next time: nothing lost
                        log.warning("event=final_commit_failed worker=%d error=%s", self.worker,
                                    type(exc).__name__)
        finally:
            with contextlib.suppress(Exception):
                await self.consumer.stop()
            with contextlib.suppress(Exception):
                await self.producer.stop()
            log.info("event=worker_stopped worker=%d records=%d", self.worker, self.records_done)
        if self._failure is not None:
            raise PipelineFailure("worker stopped after a failure") from self._failure

    async def _fetch_loop(self) -> None:
        assert self.consumer is not None
        attempt = 0
        while not self._stop.is_set():
            budget = self.max_in_flight - self._in_flight
            if budget <= 0:  # backpressure: fetch nothing until a record completes
                self._progress.clear()
                await self._progress.wait()
                continue
            try:
                batches = await self.consumer.getmany(timeout_ms=200, max_records=budget)
            except KafkaError as exc:  # the client reconnects by itself; we only wait
                if not await self._wait_out(self.broker, broker_fault(exc), exc, attempt):
                    return
                attempt += 1
                continue
            attempt = 0
            now = time.monotonic()
            for tp, records in batches.items():
                tracker = self._trackers.setdefault(tp, _Tracker())
                lane = self._lanes.setdefault(tp, _Lane())
                for record in records:
                    tracker.add(record.offset)
                    lane.queue.append((record, now))
                    self._unanswered[tp, record.offset] = (record, now)
                    self._in_flight += 1
                if lane.task is None or lane.task.done():
                    lane.task = asyncio.create_task(self._run_lane(tp, lane))
            IN_FLIGHT.set(self._in_flight)

    async def _rescreen_loop(self) -> None:
        """List files followed and stored travellers re-screened after a change (api_engine.service.rescreen)."""
        if not hasattr(self.processor, "lists"):
            return
        from api_engine.service.rescreen import Rescreener

        rescreener = Rescreener(self.processor, worker=self.worker, workers=self.settings.workers)  # type: ignore[arg-type]
        rescreener.emit = self.emit_outputs
        await rescreener.run(self._stop)

    async def _iapi_changes_loop(self) -> None:
        """Send the officers' changes of iAPI answers (CUSRES 132) and resend them until acknowledged."""
        store, keyring = getattr(self.processor, "store", None), getattr(self.processor, "keyring", None)
        if store is None or keyring is None:
            return
        from api_engine.service.iapi_changes import ChangeSender

        sender = ChangeSender(store, keyring, self.emit_outputs)
        while not self._stop.is_set():
            try:
                await sender.send_due()
            except Exception as exc:  # an outage: a change not sent now is sent again after RESEND_S
                log.warning("event=iapi_changes_turn_failed worker=%d error=%s", self.worker, type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)

    async def _budget_loop(self) -> None:
        """iAPI requests fetched but not answered within the profile's budget get the fallback answer now.

        A carrier waits about 4 s for an answer and then resends; when screening or the store is slow (or
        a backlog formed), the profile's fallback status (never the OK status by default) reaches the
        carrier in time. The screened answer follows as usual, and answers a resend."""
        policy = getattr(getattr(self.processor, "profile", None), "iapi", None)
        if policy is None:
            return
        from api_engine.service.iapi import IAPI_FALLBACKS, fallback_event
        from api_engine.service.prepare import record_id

        budget = policy.answer_budget_ms / 1000
        interactive = bool(getattr(getattr(self.processor, "profile", None), "interactive", False))
        while not self._stop.is_set():
            now = time.monotonic()
            due = []
            for key, (_, fetched) in self._unanswered.items():  # in fetch order: the oldest first
                if fetched + budget > now:
                    break
                due.append(key)
            fallbacks = []
            for key in due:
                record, _ = self._unanswered.pop(key)
                value = record.value or b""
                event = fallback_event(value, record_id(value, record.key, "kafka"), policy, interactive=interactive)
                if event is not None:
                    fallbacks.append(event)
            if fallbacks:
                IAPI_FALLBACKS.labels("kafka").inc(len(fallbacks))
                log.warning("event=iapi_fallback transport=kafka worker=%d requests=%d budget_ms=%d status=%s",
                            self.worker, len(fallbacks), policy.answer_budget_ms, policy.fallback.code)
                try:
                    await self.emit_outputs(fallbacks)
                except Exception as exc:  # the broker is down: the screened answer follows once it is back
                    log.warning("event=iapi_fallback_not_sent worker=%d error=%s", self.worker, type(exc).__name__)
            oldest = next(iter(self._unanswered.values()), None)
            wait = min(0.25, max(0.01, oldest[1] + budget - time.monotonic())) if oldest else 0.25
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    async def emit_outputs(self, outputs: Sequence[Any]) -> None:
        """Produce events made outside a record (re-screening) and wait for the broker's acknowledgement."""
        futures = await self._send(list(outputs))
        await asyncio.gather(*futures)
        for o in outputs:
            _account(o)
        if self.notifier is not None:  # stored and acknowledged: a re-screen's hits notify like any other
            self.notifier.offer(outputs)

    def _start_notifier(self) -> None:
        """Hit notifications off the per-record path: a queue and a task of their own (none when not configured)."""
        store = getattr(self.processor, "store", None)
        if store is None:
            return
        from api_engine.service.notify import Notifier

        self.notifier = Notifier.from_settings(self.settings, store, worker=self.worker)
        if self.notifier is not None:
            self.notifier.start()

    async def _probe_loop(self) -> None:
        """Ask the broker for metadata every second: readiness follows the broker even when idle."""
        assert self.consumer is not None
        while True:
            await asyncio.sleep(BROKER_PROBE_S)
            try:
                topics = await asyncio.wait_for(self.consumer.topics(), 5)
            except (KafkaError, OSError, TimeoutError):
                self.broker.mark_down("unreachable")
                continue
            if self.settings.topics.inbound not in topics:
                self.broker.mark_down("inbound_topic_missing")
            elif self._producing_again == 0:  # a produce still failing keeps it down
                self.broker.mark_up()

    # -- per-record work -------------------------------------------------------------------------

    async def _process(self, batch: list[tuple[ConsumerRecord[bytes, bytes], float]]) -> Sequence[list[Any]] | None:
        """The processor's outputs for a batch, waiting out a store outage; None if stopped meanwhile.

        Retrying is safe: a batch that failed did not commit, and one that committed but lost its
        answer is found in the store and answered with the same events and ids.
        """
        assert self.processor is not None
        attempt = 0
        while True:
            try:
                started = time.perf_counter()
                results = await self.processor.process_batch(
                    [(record.value or b"", record.key) for record, _ in batch], source="kafka",
                    origins=[(record.topic, record.headers) for record, _ in batch])  # the sender's identity
                PROCESSING.observe(time.perf_counter() - started)
            except Exception as exc:
                if not await self._wait_out(self.store, store_fault(exc), exc, attempt):
                    return None
                attempt += 1
                continue
            self.store.mark_up()
            return results

    async def _send(self, outputs: list[Any]) -> list[Awaitable[Any]]:
        assert self.producer is not None
        return [await self.producer.send(self.topic_for[o.kind], o.value, key=o.key,
                                         headers=[("event-id", o.event_id.encode())])
                for o in outputs]

    async def _run_lane(self, tp: TopicPartition, lane: _Lane) -> None:
        while lane.queue and self._failure is None and not self._gave_up:
            batch = [lane.queue.popleft() for _ in range(min(self.max_batch, len(lane.queue)))]
            try:
                results = await self._process(batch)
                if results is None:  # stopped while the store was down: replayed next time
                    self._gave_up = True
                    return
                for record, _ in batch:
                    self._unanswered.pop((tp, record.offset), None)
                for (record, fetched), outputs in zip(batch, results, strict=True):
                    try:
                        futures: list[Awaitable[Any]] | None = await self._send(outputs)
                    except Exception as exc:
                        if broker_fault(exc) is None:
                            raise
                        futures = None  # the ack task produces them again once the broker answers
                    task = asyncio.create_task(self._await_acks(tp, record.offset, fetched, outputs, futures))
                    self._ack_tasks.add(task)
                    task.add_done_callback(self._ack_tasks.discard)
            except Exception as exc:  # no commit for these records: a restart replays them
                self._fail(exc, tp, batch[0][0].offset, "process")
                return
            await asyncio.sleep(0)  # let fetches, heartbeats and HTTP run between batches

    async def _await_acks(self, tp: TopicPartition, offset: int, fetched: float, outputs: list[Any],
                          futures: list[Awaitable[Any]] | None) -> None:
        attempt = 0
        try:
            while True:
                try:
                    if futures is None:
                        futures = await self._send(outputs)
                    await asyncio.gather(*futures)
                    break
                except Exception as exc:
                    reason = broker_fault(exc)
                    if reason is None:
                        self._fail(exc, tp, offset, "produce")
                        return
                    if attempt == 0:
                        self._producing_again += 1
                    self.broker.mark_down(reason)
                    futures = None  # produce all of them again: same ids, consumers deduplicate
                    if not await self._pause(attempt):
                        self._gave_up = True  # not done, not committed: replayed next time
                        return
                    attempt += 1
        finally:
            if attempt:
                self._producing_again -= 1
        if attempt:
            self.broker.mark_up()
        outcomes = {_account(o) for o in outputs}
        if self.notifier is not None:  # durable in the store and acknowledged by the broker
            self.notifier.offer(outputs)
        RECORDS.labels(next((o for o in ("dead_letter", "rejected") if o in outcomes), "ok")).inc()
        RECORD_LATENCY.observe(time.monotonic() - fetched)
        tracker = self._trackers.get(tp)
        if tracker is not None:
            tracker.done(offset)
        self._in_flight -= 1
        self.records_done += 1
        IN_FLIGHT.set(self._in_flight)
        self._progress.set()

    def _fail(self, exc: BaseException, tp: TopicPartition, offset: int, stage: str) -> None:
        # References only: topic, partition, offset; the record's bytes may hold personal data.
        log.error("event=record_failed stage=%s topic=%s partition=%d offset=%d error=%s",
                  stage, tp.topic, tp.partition, offset, type(exc).__name__)
        if self._failure is None:
            self._failure = exc
        self.request_stop()

    # -- commits, drain, rebalance ---------------------------------------------------------------

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(COMMIT_INTERVAL_S)
            try:
                await self._commit()
            except CommitFailedError as exc:  # a rebalance: the next owner replays
                log.warning("event=commit_failed worker=%d error=%s", self.worker, type(exc).__name__)
            except KafkaError as exc:  # the broker is away: commit later (the probe logs the outage)
                self.broker.mark_down(broker_fault(exc) or type(exc).__name__)

    async def _commit(self, *, final: bool = False, only: set[TopicPartition] | None = None) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, tracker in list(self._trackers.items()):
            if only is not None and tp not in only:
                continue
            nxt = tracker.committable()
            if nxt is not None:
                offsets[tp] = OffsetAndMetadata(nxt, "")
        if offsets:
            await consumer.commit(offsets)
            for tp, om in offsets.items():
                self._trackers[tp].committed = om.offset
            if final:
                log.info("event=final_commit worker=%d partitions=%d", self.worker, len(offsets))
        for tp, tracker in self._trackers.items():
            high = consumer.highwater(tp)
            if high is not None and tracker.committed >= 0:
                LAG.labels(str(tp.partition)).set(max(0, high - tracker.committed))

    async def _drain(self, timeout_s: float, only: set[TopicPartition] | None = None) -> None:
        """Wait for lanes and produce acks (of `only` partitions, or all) to finish."""
        deadline = time.monotonic() + timeout_s

        def busy() -> bool:
            for tp, lane in self._lanes.items():
                if only is not None and tp not in only:
                    continue
                if lane.queue or (lane.task is not None and not lane.task.done()):
                    return True
                tracker = self._trackers.get(tp)
                if tracker is not None and tracker.by_offset:
                    return True
            return False

        while busy() and self._failure is None and not self._gave_up and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if busy() and self._failure is None:
            log.warning("event=drain_incomplete worker=%d in_flight=%d", self.worker, self._in_flight)

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish and commit what we hold of the revoked partitions before another member takes them."""
        if not revoked:
            return
        await self._drain(self.settings.shutdown_timeout_s / 2, only=revoked)
        with contextlib.suppress(CommitFailedError, KafkaError):
            await self._commit(only=revoked)
        for tp in revoked:
            lane = self._lanes.pop(tp, None)
            if lane is not None and lane.queue:  # only after a drain timeout: replayed by the next owner
                self._in_flight -= len(lane.queue)
                lane.queue.clear()
            self._trackers.pop(tp, None)
            with contextlib.suppress(KeyError):
                LAG.remove(str(tp.partition))
        for key in [k for k in self._unanswered if k[0] in revoked]:  # the next owner answers them
            del self._unanswered[key]
        self._progress.set()

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        self.joined = True
        log.info("event=partitions_assigned worker=%d partitions=%s", self.worker,
                 ",".join(str(tp.partition) for tp in sorted(assigned)))

    # -- introspection for /readyz and tests ------------------------------------------------------

    def assignment(self) -> set[TopicPartition]:
        return set(self.consumer.assignment()) if self.consumer is not None else set()


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.pipeline.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.pipeline.on_assigned(set(assigned))


async def run_worker(settings: Settings, bootstrap_servers: str, *, worker: int = 0,
                     processor_factory: Callable[[Settings], Awaitable[ProcessorLike]] = open_processor,
                     on_start: Callable[[Pipeline], Awaitable[None]] | None = None,
                     stop: asyncio.Event | None = None) -> Pipeline:
    """Run one pipeline until `stop` is set, close everything in order.

    `on_start` runs before the processor is opened, so the HTTP endpoints answer (/readyz false)
    while a store that is down at start is waited for.
    """
    pipeline = Pipeline(settings, bootstrap_servers, None, worker=worker)
    watcher: asyncio.Task[None] | None = None
    if stop is not None:
        async def watch() -> None:
            await stop.wait()
            pipeline.request_stop()
        watcher = asyncio.create_task(watch())
    try:
        if on_start is not None:
            await on_start(pipeline)
        if await pipeline.open(processor_factory):
            await pipeline.run()
    finally:
        if watcher is not None:
            watcher.cancel()
        if pipeline.processor is not None:
            await pipeline.processor.close()
    return pipeline
