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
  leave the group, all within `shutdown_timeout_s`. A processing or produce failure stops the worker
  without committing the failed record (exit status 1), so a supervisor restart replays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord  # type: ignore[import-untyped]
from aiokafka.errors import CommitFailedError, KafkaError  # type: ignore[import-untyped]
from aiokafka.structs import OffsetAndMetadata, TopicPartition  # type: ignore[import-untyped]
from prometheus_client import Counter, Gauge, Histogram

from api_engine.service.kafka import consumer_kwargs, producer_kwargs
from api_engine.settings import Settings

if TYPE_CHECKING:
    from api_engine.service.processor import Processor

log = logging.getLogger("api_engine.service.pipeline")

COMMIT_INTERVAL_S = 0.2

# Metrics carry counts and rule ids only: never a name, a date of birth or a document number.
RECORDS = Counter("api_engine_records", "Inbound records done (outputs acknowledged), by outcome",
                  ["outcome"])  # ok, rejected (negative CONTRL), dead_letter
TRAVELLERS = Counter("api_engine_travellers", "Travellers in manifests produced")
HITS = Counter("api_engine_hits", "Watchlist hits (alert events produced)")
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


class OutputLike(Protocol):
    """What the pipeline needs from `api_engine.service.processor.OutputEvent`."""

    kind: str
    key: bytes
    value: bytes
    event_id: str


class ProcessorLike(Protocol):
    """What the pipeline needs from `api_engine.service.processor.Processor`."""

    async def process_batch(self, records: Sequence[tuple[bytes, bytes | None]], *,
                            source: str = "kafka") -> Sequence[list[Any]]: ...

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
    """One consumer-group member: the loop, its lanes, the commit tracker and the shutdown."""

    def __init__(self, settings: Settings, bootstrap_servers: str, processor: ProcessorLike, *,
                 group_id: str | None = None, worker: int = 0) -> None:
        self.settings = settings
        self.bootstrap_servers = bootstrap_servers
        self.processor = processor
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
        self._in_flight = 0
        self._progress = asyncio.Event()  # set whenever a record completes (frees a slot)
        self._stop = asyncio.Event()
        self._failure: BaseException | None = None
        self.joined = False  # the group assigned us partitions (possibly none) at least once
        self.records_done = 0

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.joined and self.consumer is not None and not self._stop.is_set()

    def request_stop(self) -> None:
        """Stop fetching; `run` then finishes in-flight work, commits and returns."""
        self._stop.set()
        self._progress.set()

    async def run(self) -> None:
        """Run until `request_stop` (or a failure, re-raised after the orderly part of shutdown)."""
        self.producer = AIOKafkaProducer(**producer_kwargs(self.settings, self.bootstrap_servers))
        self.consumer = AIOKafkaConsumer(
            **consumer_kwargs(self.settings, self.bootstrap_servers, self.group_id))
        await self.producer.start()
        try:
            await self.consumer.start()
            self.consumer.subscribe([self.settings.topics.inbound], listener=_Rebalance(self))
            committer = asyncio.create_task(self._commit_loop())
            try:
                await self._fetch_loop()
            finally:
                await self._drain(self.settings.shutdown_timeout_s * 0.8)
                committer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await committer
                if self._failure is None:
                    await self._commit(final=True)
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
        while not self._stop.is_set():
            budget = self.max_in_flight - self._in_flight
            if budget <= 0:  # backpressure: fetch nothing until a record completes
                self._progress.clear()
                await self._progress.wait()
                continue
            batches = await self.consumer.getmany(timeout_ms=200, max_records=budget)
            now = time.monotonic()
            for tp, records in batches.items():
                tracker = self._trackers.setdefault(tp, _Tracker())
                lane = self._lanes.setdefault(tp, _Lane())
                for record in records:
                    tracker.add(record.offset)
                    lane.queue.append((record, now))
                    self._in_flight += 1
                if lane.task is None or lane.task.done():
                    lane.task = asyncio.create_task(self._run_lane(tp, lane))
            IN_FLIGHT.set(self._in_flight)

    # -- per-record work -------------------------------------------------------------------------

    async def _run_lane(self, tp: TopicPartition, lane: _Lane) -> None:
        assert self.producer is not None
        while lane.queue and self._failure is None:
            batch = [lane.queue.popleft() for _ in range(min(self.max_batch, len(lane.queue)))]
            try:
                started = time.perf_counter()
                results = await self.processor.process_batch(
                    [(record.value or b"", record.key) for record, _ in batch], source="kafka")
                PROCESSING.observe(time.perf_counter() - started)
                for (record, fetched), outputs in zip(batch, results, strict=True):
                    futures = [
                        await self.producer.send(self.topic_for[o.kind], o.value, key=o.key,
                                                 headers=[("event-id", o.event_id.encode())])
                        for o in outputs
                    ]
                    task = asyncio.create_task(self._await_acks(tp, record.offset, fetched, outputs, futures))
                    self._ack_tasks.add(task)
                    task.add_done_callback(self._ack_tasks.discard)
            except Exception as exc:  # no commit for these records: a restart replays them
                self._fail(exc, tp, batch[0][0].offset, "process")
                return
            await asyncio.sleep(0)  # let fetches, heartbeats and HTTP run between batches

    async def _await_acks(self, tp: TopicPartition, offset: int, fetched: float, outputs: list[Any],
                          futures: list[Awaitable[Any]]) -> None:
        try:
            await asyncio.gather(*futures)
        except Exception as exc:
            self._fail(exc, tp, offset, "produce")
            return
        outcomes = {_account(o) for o in outputs}
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
            except (CommitFailedError, KafkaError) as exc:  # a rebalance: the next owner replays
                log.warning("event=commit_failed worker=%d error=%s", self.worker, type(exc).__name__)

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

        while busy() and self._failure is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if busy():
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
    """Open the processor, run one pipeline until `stop` is set, close everything in order."""
    processor = await processor_factory(settings)
    pipeline = Pipeline(settings, bootstrap_servers, processor, worker=worker)
    watcher: asyncio.Task[None] | None = None
    if stop is not None:
        async def watch() -> None:
            await stop.wait()
            pipeline.request_stop()
        watcher = asyncio.create_task(watch())
    try:
        if on_start is not None:
            await on_start(pipeline)
        await pipeline.run()
    finally:
        if watcher is not None:
            watcher.cancel()
        await processor.close()
    return pipeline
