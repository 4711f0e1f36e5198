"""End-to-end service benchmark: sustained travellers/s and produce→alert latency over Kafka on loopback.

Strategy: one process drives everything it can measure from the outside. Flights come from
`conformance.generator` (fixed seed), one single-part interchange per flight, with one traveller in
every other flight planted from an invented watchlist so alerts flow. Figures:

- baseline: the same messages through `Processor.process_batch` in this process, in batches of
  `max_batch` as a busy worker takes them, no Kafka (the work the service cannot avoid), travellers/s;
- throughput, per worker count: `api-engine serve --workers N` (a subprocess, against an embedded
  broker started here) is started, and once every worker holds its partitions (the ~5 s Tansu group
  join is excluded) all flights are produced at once and drained; sustained rate = travellers of
  the manifest events after the first one / time from the first to the last;
- throughput with `--rules` (default 50) targeting rules active (API_ENGINE_RULES), per worker count, beside the
  run without rules: a realistic mix of route, nationality-with-route, document age and age rules drawn from
  the flights' own routes (some fire), and the ratio of the two rates;
- latency, with the largest worker count, at `--load` (default 0.5) of the rate it sustained:
  messages are produced at a steady pace, and produce→alert (and produce→manifest) are taken at
  the moment this process reads the event; p50 and p99.

Every run uses fresh topics, a fresh group and a fresh store, so the duplicate register never
short-cuts work. Ratios against the in-process baseline are printed beside each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

from api_engine.service.broker import EmbeddedBroker, ensure_topics
from api_engine.settings import Settings, Topics

_SYLLABLES = ("KA", "LO", "MIR", "DA", "NE", "SU", "TOR", "VI", "RA", "BEL", "QUO", "ZEN")


@dataclass
class Message:
    key: bytes
    raw: bytes
    flight_key: str
    travellers: int


def _names(n: int, rng: random.Random) -> list[tuple[str, str, date]]:
    def word(k: int) -> str:
        return "".join(rng.choice(_SYLLABLES) for _ in range(k))

    return [(word(3), word(2), date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28)))
            for _ in range(n)]


def build_data(n_flights: int, seed: int, directory: Path, names_seed: int | None = None
               ) -> tuple[list[Message], Path]:
    """Flights with a planted name in every other one; the list is drawn from `names_seed` (or seed)."""
    from conformance.generator import generate_flights, to_bytes

    names = _names(60, random.Random(seed if names_seed is None else names_seed))
    planted = [names[i % len(names)] for i in range(max(1, n_flights // 2))]
    directory.mkdir(parents=True, exist_ok=True)
    watchlist = directory / "bench-watchlist.csv"
    with watchlist.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "list", "category", "surname", "given_names", "date_of_birth"])
        for i, (s, g, d) in enumerate(names):
            w.writerow([f"B-{i}", "bench", "individual", s, g, d.isoformat()])
    messages = []
    for parts in generate_flights(n_flights, seed=seed, plant=planted):
        (m,) = parts
        raw = to_bytes(m)
        messages.append(Message(f"{m.header.sender}/{m.header.common_access_ref}".encode(), raw, m.flight_key,
                                len(m.travellers)))
    return messages, watchlist


POSTGRES: str | None = None  # --postgres: admin URL of a server where the bench may create databases
CREATED: list[str] = []  # databases this run created, dropped at the end


async def drop_databases() -> None:
    if POSTGRES is None or not CREATED:
        return
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(POSTGRES)
    try:
        for name in CREATED:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def fresh_database() -> str | None:
    """A new, empty PostgreSQL database per run (None: SQLite under the run's data dir)."""
    if POSTGRES is None:
        return None
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    CREATED.append(name)
    return make_url(POSTGRES).set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False)


def build_rules(messages: list[Message], n: int, directory: Path) -> Path:
    """`n` targeting rules as a targeting unit writes them: mostly tied to routes and airports (taken from the
    flights, so some fire), with a few that look at every traveller (document age, minors travelling alone)."""
    rng = random.Random(n)
    routes = [m.flight_key.rsplit("/", 1)[-1] for m in messages]
    nationalities = ("USA", "CHN", "GBR", "ESP", "RUS", "GRC", "IND", "ITA", "JPN", "NLD", "KOR", "VNM", "TUR")
    lines = []
    for i in range(n):
        route = rng.choice(routes)
        dep, arr = route.split("-")
        kind = i % 5
        if kind == 0:
            lines.append(f'rule "route-{i}" when flight.route = "{route}" and traveller.age < 30 '
                         f'then flag severity medium score 0.6')
        elif kind == 1:
            nats = ", ".join(f'"{x}"' for x in rng.sample(nationalities, 2))
            lines.append(f'rule "nationality-route-{i}" when traveller.nationality in [{nats}] '
                         f'and flight.arrival_airport = "{arr}" then flag severity high score 0.9')
        elif kind == 2:
            lines.append(f'rule "new-document-route-{i}" when document.issued_days < {rng.randint(10, 60)} '
                         f'and flight.departure_airport = "{dep}" then flag severity medium score 0.7')
        elif kind == 3:
            lines.append(f'rule "young-adult-{i}" when traveller.age between 18 and {rng.randint(20, 25)} '
                         f'and traveller.gender = "M" and flight.route = "{route}" then flag severity low score 0.4')
        elif i % 10 == 4:
            lines.append(f'rule "new-document-{i}" when document.issued_days < {rng.randint(3, 10)} '
                         f'and document.type = "P" and traveller.nationality = "{rng.choice(nationalities)}" '
                         f'then flag severity low score 0.3')
        else:
            lines.append(f'rule "minor-alone-{i}" when traveller.age < {rng.randint(12, 16)} '
                         f'and traveller.travelling_alone = true and flight.arrival_airport = "{arr}" '
                         'then flag severity high score 0.8')
    path = directory / "bench.rules"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def fresh_settings(bootstrap: str, data_dir: Path, watchlist: Path, rules: Path | None = None) -> Settings:
    tag = uuid.uuid4().hex[:8]
    topics = Topics(inbound=f"b{tag}.in", acks=f"b{tag}.acks", alerts=f"b{tag}.alerts",
                    manifests=f"b{tag}.manifests", dlq=f"b{tag}.dlq")
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings(kafka_bootstrap_servers=bootstrap, kafka_group_id=f"bench-{tag}", topics=topics,
                    data_dir=data_dir, watchlists=[str(watchlist)], kafka_partitions=6, http_port=0,
                    database_url=await fresh_database(), rules=[str(rules)] if rules else [])


async def baseline(messages: list[Message], settings: Settings) -> float:
    """travellers/s of the processing core alone, in process, no Kafka."""
    from api_engine.service.pipeline import open_processor

    processor = await open_processor(settings)
    started = time.perf_counter()
    step = settings.max_batch
    for i in range(0, len(messages), step):
        await processor.process_batch([(m.raw, m.key) for m in messages[i:i + step]], source="bench")
    elapsed = time.perf_counter() - started
    await processor.close()
    return sum(m.travellers for m in messages) / elapsed


def start_service(settings: Settings, workers: int, log: Path) -> subprocess.Popen[bytes]:
    t = settings.topics
    env = {**os.environ, "API_ENGINE_TOPICS__INBOUND": t.inbound, "API_ENGINE_TOPICS__ACKS": t.acks,
           "API_ENGINE_TOPICS__ALERTS": t.alerts, "API_ENGINE_TOPICS__MANIFESTS": t.manifests,
           "API_ENGINE_TOPICS__DLQ": t.dlq, "API_ENGINE_DATA_DIR": str(settings.data_dir),
           "API_ENGINE_DATABASE_URL": settings.effective_database_url,
           "API_ENGINE_WATCHLISTS": ",".join(settings.watchlists), "API_ENGINE_RULES": ",".join(settings.rules)}
    cmd = [sys.executable, "-m", "api_engine.cli", "serve", "--workers", str(workers), "--bootstrap-servers",
           settings.kafka_bootstrap_servers or "", "--group-id", settings.kafka_group_id, "--http-port", "0"]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)


async def produce(settings: Settings, messages: list[Message], rate_per_s: float | None = None
                  ) -> dict[str, float]:
    """Produce (paced when a rate is given); returns flight key -> produce time (monotonic)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=False,
                                acks="all", linger_ms=2, max_request_size=8 * 1024 * 1024)
    await producer.start()
    sent: dict[str, float] = {}
    futures = []
    started = time.monotonic()
    for i, m in enumerate(messages):
        if rate_per_s:
            delay = started + i / rate_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        sent.setdefault(m.flight_key, time.monotonic())
        futures.append(await producer.send(settings.topics.inbound, m.raw, key=m.key))
    await asyncio.gather(*futures)
    await producer.stop()
    return sent


class Follower:
    """Reads manifests and alerts as they arrive (no group: no join delay) and time-stamps them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.manifests: list[tuple[float, str, int]] = []  # (arrival, flight key, travellers)
        self.alerts: list[tuple[float, str]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=None,
                                         auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
                                         fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
                                         max_partition_fetch_bytes=16 * 1024 * 1024)
        await self.consumer.start()
        topics = [self.settings.topics.manifests, self.settings.topics.alerts]
        tps = []
        for t in topics:
            while not self.consumer.partitions_for_topic(t):
                await self.consumer._client.force_metadata_update()
            tps += [TopicPartition(t, p) for p in self.consumer.partitions_for_topic(t)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.monotonic()
            for tp, records in batches.items():
                for r in records:
                    doc = json.loads(r.value)
                    if tp.topic == self.settings.topics.alerts:
                        self.alerts.append((now, doc["flight"]["flight_key"]))
                    else:
                        c = doc["counts"]
                        self.manifests.append((now, doc["flight"]["flight_key"], c["passengers"] + c["crew"]))

    async def wait_manifests(self, n: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.manifests) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.manifests)}/{n} manifests after {timeout_s:.0f} s")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def wait_group_settled(log: Path, workers: int, partitions: int, timeout_s: float) -> None:
    """Until the service log shows every worker's latest assignment, together covering each partition once."""
    deadline = time.monotonic() + timeout_s
    while True:
        latest: dict[str, list[str]] = {}
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        for line in text.splitlines():
            if "event=partitions_assigned" in line:
                fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
                latest[fields.get("worker", "?")] = [p for p in fields.get("partitions", "").split(",") if p]
        held = sorted(int(p) for ps in latest.values() for p in ps)
        if len(latest) >= workers and held == list(range(partitions)):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer group not settled after {timeout_s:.0f} s: {latest}")
        await asyncio.sleep(0.2)


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def throughput(bootstrap: str, messages: list[Message], workers: int, watchlist: Path, work: Path,
                     rules: Path | None = None) -> tuple[float, int]:
    """Sustained travellers/s, and the alerts raised meanwhile."""
    tag = f"w{workers}" + ("-rules" if rules else "")
    settings = await fresh_settings(bootstrap, work / f"store-{tag}", watchlist, rules)
    await ensure_topics(settings, bootstrap)
    follower = Follower(settings)
    await follower.start()
    log = work / f"service-{tag}.log"
    service = start_service(settings, workers, log)
    try:
        # Every worker holds its share of the partitions before the backlog arrives: a member joining
        # later would leave the first one alone with all the work until the group rebalances.
        await wait_group_settled(log, workers, settings.kafka_partitions, timeout_s=90)
        await produce(settings, messages)
        await follower.wait_manifests(len(messages), timeout_s=600)
        await asyncio.sleep(0.5)  # the alerts of the last flights
    finally:
        stop_service(service)
        await follower.stop()
    arrivals = sorted(follower.manifests)
    span = arrivals[-1][0] - arrivals[0][0]
    return (sum(t for _, _, t in arrivals[1:]) / span if span > 0 else float("nan")), len(follower.alerts)


async def latency(bootstrap: str, messages: list[Message], workers: int, watchlist: Path, work: Path,
                  travellers_per_s: float, seconds: float) -> tuple[list[float], list[float], float]:
    settings = await fresh_settings(bootstrap, work / "store-latency", watchlist)
    await ensure_topics(settings, bootstrap)
    follower = Follower(settings)
    await follower.start()
    service = start_service(settings, workers, work / "service-latency.log")
    try:
        # Steady state: every worker holds its share of the partitions (a member joining later would
        # make the group rebalance in the middle of the measurement), then one flight as a warm-up.
        await wait_group_settled(work / "service-latency.log", workers, settings.kafka_partitions, timeout_s=90)
        await produce(settings, messages[:1])
        await follower.wait_manifests(1, timeout_s=60)
        mean = statistics.fmean(m.travellers for m in messages)
        rate = travellers_per_s / mean
        paced = messages[1:1 + max(1, int(rate * seconds))]
        sent = await produce(settings, paced, rate_per_s=rate)
        await follower.wait_manifests(1 + len(paced), timeout_s=120)
        await asyncio.sleep(0.5)
    finally:
        stop_service(service)
        await follower.stop()
    to_manifest = [(t - sent[k]) * 1000 for t, k, _ in follower.manifests if k in sent]
    to_alert = [(t - sent[k]) * 1000 for t, k in follower.alerts if k in sent]
    return to_alert, to_manifest, sum(m.travellers for m in paced) / seconds


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    # Long enough (~7 s at 10,000 travellers/s) that the tail, when one worker's partitions run dry
    # before the other's (flights spread over partitions by key, not evenly), weighs little.
    ap.add_argument("--flights", type=int, default=400, help="flights in the throughput backlog")
    ap.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated")
    ap.add_argument("--load", type=float, default=0.5, help="latency run: fraction of the measured rate")
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rules", type=int, default=50, help="targeting rules of the run beside each throughput run "
                                                          "(0: no such run)")
    ap.add_argument("--latency-only", type=float, metavar="TRAVELLERS_PER_S",
                    help="skip the throughput runs; measure latency at this offered rate with the largest worker count")
    ap.add_argument("--postgres", metavar="URL",
                    help="store in PostgreSQL: a fresh database per run on this server "
                         "(e.g. postgresql://postgres@127.0.0.1:5432/postgres); default SQLite")
    args = ap.parse_args()
    global POSTGRES
    POSTGRES = args.postgres
    worker_counts = [int(w) for w in args.workers.split(",")]

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; store: "
          f"{'PostgreSQL (a fresh database per run)' if POSTGRES else 'SQLite (a fresh file per run)'}")
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        work = Path(tmp)
        messages, watchlist = build_data(args.flights, args.seed, work)
        n_trav = sum(m.travellers for m in messages)
        print(f"data: {len(messages)} flights, {n_trav} travellers, "
              f"{sum(len(m.raw) for m in messages) / len(messages) / 1024:.0f} KiB per interchange")
        base = float("nan") if args.latency_only is not None else await baseline(
            messages, Settings(data_dir=work / "store-baseline", watchlists=[str(watchlist)],
                               database_url=await fresh_database()))
        print(f"{'baseline: Processor.process_batch in process, no Kafka':58} {base:9.0f} travellers/s   1.00")
        # Each phase on a broker of its own: Tansu keeps every record in memory, and what earlier
        # phases left there must not slow the phase being measured.
        rules = build_rules(messages, args.rules, work) if args.rules else None
        rates: dict[int, float] = {}
        ruled: dict[int, float] = {}
        for w in worker_counts if args.latency_only is None else []:
            async with EmbeddedBroker(Settings(kafka_bootstrap_servers=None), create_topics=False) as broker:
                rates[w], alerts = await throughput(broker.bootstrap_servers, messages, w, watchlist, work)
            print(f"{f'service over Kafka, {w} worker(s), sustained':58} {rates[w]:9.0f} travellers/s"
                  f"   {rates[w] / base:.2f}   ({alerts} alerts, 0 rules)")
            if rules is None:
                continue
            async with EmbeddedBroker(Settings(kafka_bootstrap_servers=None), create_topics=False) as broker:
                ruled[w], alerts = await throughput(broker.bootstrap_servers, messages, w, watchlist, work, rules)
            print(f"{f'  the same with {args.rules} targeting rules active':58} {ruled[w]:9.0f} travellers/s"
                  f"   {ruled[w] / base:.2f}   ({alerts} alerts; {ruled[w] / rates[w]:.2f} of the rate "
                  "without rules)")
        top = max(worker_counts)
        target = rates[top] * args.load if args.latency_only is None else args.latency_only
        more, _ = build_data(max(args.flights, int(target * args.latency_seconds / 150) + 10), args.seed + 1,
                             work / "lat", names_seed=args.seed)
        gc.collect()  # this process's own collections must not pause the reader whose clock we read
        gc.freeze()
        async with EmbeddedBroker(Settings(kafka_bootstrap_servers=None), create_topics=False) as broker:
            to_alert, to_manifest, offered = await latency(broker.bootstrap_servers, more, top, watchlist, work,
                                                           target, args.latency_seconds)
        share = f"{args.load:.0%} of {top}-worker rate" if args.latency_only is None else "as asked"
        print(f"latency at {offered:.0f} travellers/s offered ({share}), {top} worker(s):")
        print(f"  produce→alert    p50 {pct(to_alert, 50):7.0f} ms   p99 {pct(to_alert, 99):7.0f} ms   "
              f"({len(to_alert)} alerts)")
        print(f"  produce→manifest p50 {pct(to_manifest, 50):7.0f} ms   p99 {pct(to_manifest, 99):7.0f} ms   "
              f"({len(to_manifest)} manifests)")
        goal = rates.get(2, 0.0)
        print(f"goal ≥ 10,000 travellers/s with 2 workers: {'met' if goal >= 10_000 else 'NOT met'} ({goal:.0f})")
        if 2 in ruled:
            print(f"goal ≥ 10,000 travellers/s with 2 workers and {args.rules} rules: "
                  f"{'met' if ruled[2] >= 10_000 else 'NOT met'} ({ruled[2]:.0f})")
        p99 = pct(to_alert, 99)
        print(f"goal p99 produce→alert < 500 ms at half load: {'met' if p99 < 500 else 'NOT met'} ({p99:.0f} ms)")
    await drop_databases()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
