"""iAPI benchmark: request → answer latency over Kafka and over HTTP at steady rates, big-manifest throughput.

Strategy: one process drives `api-engine serve --workers 2` (a subprocess, against an embedded broker
started here) with the UN and OFAC lists loaded, and measures from the outside what a departure-control
system waits for. Requests are single-part PAXLSTs of 1–10 travellers from `conformance.generator` with
UNB 0026 = IAPI, each with its own interchange reference (none is a duplicate); one in `--listed-every`
carries a UN-listed person (full date of birth), so 2Z answers occur and a listed traveller answered 0Z
is counted. Figures, all in the same run:

- baseline: `Processor.process` of the same kind of requests one at a time in this process, no Kafka
  (what one record costs a worker): records/s and ms per record;
- per rate (`--rates`, default 50, 200, 400 requests/s), for `--seconds` each: over Kafka, requests are
  produced to the inbound topic (keyed by sender) at a steady pace and latency is produce → the moment
  this process reads the ack carrying the CUSRES (matched by the content hash in the ack's `interchange`);
  over HTTP, `POST /iapi/v1/paxlst` on both workers' ports in turn (bearer tokens made with
  `api-engine carriers add`), latency is send → response; p50, p99, max, answered/sent, status codes,
  and how many requests were first answered with the profile's fallback (the 2 s budget passed);
- big manifests: a backlog of 150–220-traveller flights produced at once and drained by a fresh
  `serve --workers 2` on a broker of its own (bench_service's sustained rate), travellers/s.

`--soak MINUTES` runs steady load instead and prints p99 per minute: big manifests at
`--soak-travellers` travellers/s (produce → manifest event and produce → alert), or iAPI requests over
Kafka at `--soak-rate` requests/s (produce → ack). The helpers of bench_service.py are reused.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import importlib
import itertools
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]  # noqa: E402
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]  # noqa: E402

from api_engine.service.broker import EmbeddedBroker, ensure_topics  # noqa: E402
from api_engine.settings import Settings  # noqa: E402

bs: Any = importlib.import_module("bench_service")  # a sibling script, not a package
Message, pct, produce, start_service, stop_service, wait_group_settled = (
    bs.Message, bs.pct, bs.produce, bs.start_service, bs.stop_service, bs.wait_group_settled)

LISTS = Path("/work/shared/data/watchlists")
UN_LIST = LISTS / "un_sc_consolidated_2026-02-27.xml"
OFAC_LIST = LISTS / "ofac_sdn_2024-05-03.csv"  # its alt.csv beside it is found by the loader
IAPI_PATH = "/iapi/v1/paxlst"
WORKERS = 2
HTTP_SENDERS = 4  # HTTP requests are spread over this many carriers (one token each)
_UNOA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ ")
GOAL_KAFKA_P99_MS, GOAL_HTTP_P99_MS, GOAL_RATE, AIM_RATE, GOAL_BIG = 500.0, 300.0, 200, 400, 10_000.0


@dataclass
class Request:
    """One iAPI request as sent: its bytes, Kafka key, content hash (what the ack quotes) and who is listed."""

    raw: bytes
    key: bytes
    sender: str
    digest: str
    travellers: int
    listed: frozenset[str] = frozenset()  # RFF ABO of the planted UN-listed travellers
    who: int = -1  # index of the planted person in `un_people` (never their name in the output)

    def message(self) -> Any:
        return Message(self.key, self.raw, self.digest, self.travellers)


@dataclass
class Outcome:
    """What one transport did at one rate."""

    transport: str
    rate: float
    sent: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # ERC per traveller (0Z, 2Z, ...)
    codes: Counter[str] = field(default_factory=Counter)  # HTTP status codes, or the client's error
    listed_seen: int = 0
    listed_cleared: int = 0  # listed travellers answered 0Z: must stay 0
    cleared_who: set[int] = field(default_factory=set)
    short_answers: int = 0  # answers with fewer traveller groups than the request had travellers
    fallbacks: int = 0  # answered first with the profile's fallback (the budget passed); latency is to that answer
    offered_s: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.latencies_ms)


# ---- data ------------------------------------------------------------------------------------------


def un_people(n: int, seed: int) -> list[tuple[str, str, date]]:
    """UN-listed individuals with a full date of birth and a plain Latin name, as a travel document gives them."""
    from watchlists.loaders import load

    people = []
    for e in load(UN_LIST).entries:
        dob = e.dates_of_birth[0] if e.dates_of_birth else None
        if e.category.value != "individual" or dob is None or not dob.month or not dob.day:
            continue
        tokens = e.primary_name.upper().split()
        if not 2 <= len(tokens) <= 4 or any(set(t) - _UNOA for t in tokens):
            continue
        people.append((tokens[-1], " ".join(tokens[:-1]), date(dob.year, dob.month, dob.day)))
    random.Random(seed).shuffle(people)
    return people[:n]


def build_requests(n: int, seed: int, ref_offset: int, listed: list[tuple[str, str, date]], listed_every: int,
                   senders: list[str] | None = None) -> list[Request]:
    """`n` iAPI requests (1–10 travellers) with interchange references from `ref_offset` on; every
    `listed_every`-th carries a UN-listed person. `senders`: the UNB senders to use (default: the generator's)."""
    from conformance.generator import generate_flights, plant_names, to_bytes

    rng = random.Random(seed ^ 0x1A91)
    out = []
    flights = generate_flights(n, seed=seed, travellers_per_flight=(1, 10), start=datetime.now(UTC).date())
    for i, parts in enumerate(flights):
        (m,) = parts
        m.header.interchange_ref = f"{ref_offset + i:09d}"
        if senders:
            m.header.sender = senders[i % len(senders)]
        refs: frozenset[str] = frozenset()
        who = -1
        if listed and listed_every and i % listed_every == listed_every // 2:
            who = (i // listed_every) % len(listed)
            [(_, j)] = plant_names([m], [listed[who]], rng)
            refs = frozenset(m.travellers[j].references.get("ABO", [])[:1])
        raw = to_bytes(m)
        iapi = raw.replace(b"++APIS'", b"++IAPI'", 1)
        if iapi == raw:
            raise ValueError("the generated UNB carries no APIS application reference to turn into IAPI")
        sender = m.header.sender or ""
        out.append(Request(iapi, sender.encode(), sender, hashlib.sha256(iapi).hexdigest(), len(m.travellers),
                           refs, who))
    return out


def big_backlog(n: int, seed: int, ref_offset: int, plant: list[tuple[str, str, date]] | None = None) -> list[Any]:
    """Big flights (150–220 travellers), one single-part interchange each, references from `ref_offset` on."""
    from conformance.generator import generate_flights, to_bytes

    out = []
    for i, parts in enumerate(generate_flights(n, seed=seed, start=datetime.now(UTC).date(), plant=plant)):
        (m,) = parts
        m.header.interchange_ref = f"{ref_offset + i:09d}"
        out.append(Message(f"{m.header.sender}/{m.header.common_access_ref}".encode(), to_bytes(m), m.flight_key,
                           len(m.travellers)))
    return out


def read_answer(cusres: bytes) -> dict[str, str | None]:
    """RFF ABO → ERC status of each traveller group of a CUSRES 962."""
    from parsers import read_interchange

    out: dict[str, str | None] = {}
    for response in read_interchange(cusres).responses:
        for t in response.travellers:
            out[(t.references.get("ABO") or ["?"])[0]] = t.status
    return out


def grade(outcome: Outcome, request: Request, cusres: bytes | None) -> None:
    """Count the answer's statuses and any listed traveller it cleared."""
    if cusres is None:
        outcome.short_answers += 1
        return
    answer = read_answer(cusres)
    outcome.statuses.update(s or "none" for s in answer.values())
    if len(answer) < request.travellers:
        outcome.short_answers += 1
    for ref in request.listed:
        outcome.listed_seen += 1
        if answer.get(ref) == "0Z":
            outcome.listed_cleared += 1
            outcome.cleared_who.add(request.who)


# ---- the service -----------------------------------------------------------------------------------


async def service_settings(bootstrap: str, data_dir: Path) -> Settings:
    s: Settings = await bs.fresh_settings(bootstrap, data_dir, UN_LIST)
    return s.model_copy(update={"watchlists": [str(UN_LIST), str(OFAC_LIST)]})


def service_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "API_ENGINE_DATA_DIR": str(settings.data_dir),
            "API_ENGINE_DATABASE_URL": settings.effective_database_url}


def add_token(settings: Settings, sender: str) -> str:
    """`api-engine carriers add SENDER` on the service's store; the token is the last word printed."""
    done = subprocess.run([sys.executable, "-m", "api_engine.cli", "carriers", "add", sender, "--data-dir",
                           str(settings.data_dir)], env=service_env(settings), capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"api-engine carriers add {sender} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.split()[-1]


async def http_ports(log: Path, workers: int, timeout_s: float) -> list[str]:
    """The workers' HTTP addresses, from `event=worker_started ... http=HOST:PORT` in the service log."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        found = {m.group(1): m.group(2) for m in re.finditer(r"event=worker_started worker=(\d+) http=(\S+)", text)}
        if len(found) >= workers:
            return [("127.0.0.1" + a[a.rindex(":"):]) if a.startswith("0.0.0.0") else a
                    for _, a in sorted(found.items())]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)}/{workers} workers reported their HTTP port after {timeout_s:.0f} s")
        await asyncio.sleep(0.2)


class AckReader:
    """Reads the acks topic as acks arrive (no group: no join delay) and time-stamps them by content hash."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.acks: dict[str, tuple[float, str | None]] = {}  # content hash -> (arrival, cusres base64)
        self.fallbacks: dict[str, float] = {}  # content hash -> arrival of an iapi_fallback (budget passed)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=None,
                                         auto_offset_reset="earliest", fetch_max_wait_ms=10,
                                         max_partition_fetch_bytes=16 * 1024 * 1024)
        await self.consumer.start()
        topic = self.settings.topics.acks
        while not self.consumer.partitions_for_topic(topic):
            await self.consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.monotonic()
            for records in batches.values():
                for r in records:
                    doc = json.loads(r.value)
                    if doc.get("type") == "ack":
                        self.acks.setdefault(doc["interchange"]["content_hash"], (now, doc.get("cusres_base64")))
                    elif doc.get("type") == "iapi_fallback":
                        self.fallbacks.setdefault(doc["interchange"]["content_hash"], now)

    async def wait(self, digests: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while any(d not in self.acks for d in digests) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


async def over_kafka(settings: Settings, reader: AckReader, requests: list[Request], rate: float,
                     drain_s: float) -> Outcome:
    outcome = Outcome("Kafka", rate, len(requests))
    started = time.monotonic()
    sent: dict[str, float] = await produce(settings, [r.message() for r in requests], rate_per_s=rate)
    outcome.offered_s = time.monotonic() - started
    await reader.wait([r.digest for r in requests], drain_s)
    for r in requests:
        got = reader.acks.get(r.digest)
        if got is None:
            continue
        first = got[0]
        fallback = reader.fallbacks.get(r.digest)
        if fallback is not None and fallback < first:  # the carrier's first answer was the fallback
            outcome.fallbacks += 1
            first = fallback
        outcome.latencies_ms.append((first - sent[r.digest]) * 1000)
        grade(outcome, r, base64.b64decode(got[1]) if got[1] else None)  # the screened answer
    return outcome


async def over_http(addresses: list[str], tokens: dict[str, str], requests: list[Request], rate: float,
                    timeout_s: float) -> Outcome:
    """aiohttp, not httpx, drives the requests: httpx's client cost this process about 3 ms of CPU per request,
    so at 200 requests/s the load generator, not the service, saturated (and starved the workers of CPU)."""
    import aiohttp

    outcome = Outcome("HTTP", rate, len(requests))
    answers: list[tuple[Request, float, int, bytes]] = []

    async def one(session: aiohttp.ClientSession, i: int, r: Request) -> None:
        url = f"http://{addresses[i % len(addresses)]}{IAPI_PATH}"
        t0 = time.monotonic()
        try:
            async with session.post(url, data=r.raw, headers={"Content-Type": "application/edifact",
                                                              "Authorization": f"Bearer {tokens[r.sender]}"}) as resp:
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:  # counted, not printed: under overload there are many
            outcome.codes[type(exc).__name__] += 1
            return
        answers.append((r, (time.monotonic() - t0) * 1000, resp.status, body))

    connector = aiohttp.TCPConnector(limit=512, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        tasks = []
        started = time.monotonic()
        for i, r in enumerate(requests):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, i, r)))
        outcome.offered_s = time.monotonic() - started
        await asyncio.gather(*tasks)
    for r, ms, code, body in answers:
        outcome.codes[str(code)] += 1
        if code == 200:
            outcome.latencies_ms.append(ms)
            if b"ERP+2" not in body and b"NO ANSWER IN TIME" in body:  # header-level fallback, no traveller
                outcome.fallbacks += 1
                continue
            grade(outcome, r, body)
    return outcome


async def warm_up(settings: Settings, reader: AckReader, addresses: list[str], tokens: dict[str, str],
                  kafka: list[Request], http: list[Request]) -> None:
    """A few requests through each path before measuring (first connections, caches, the answer path)."""
    import httpx

    await produce(settings, [r.message() for r in kafka])
    await reader.wait([r.digest for r in kafka], 120)
    async with httpx.AsyncClient(timeout=30) as client:
        for i, r in enumerate(http):
            for _ in range(100):  # 503 while the worker's processor opens
                resp = await client.post(f"http://{addresses[i % len(addresses)]}{IAPI_PATH}", content=r.raw,
                                         headers={"Content-Type": "application/edifact",
                                                  "Authorization": f"Bearer {tokens[r.sender]}"})
                if resp.status_code != 503:
                    break
                await asyncio.sleep(0.2)


# ---- baseline and big manifests --------------------------------------------------------------------


async def baseline(requests: list[Request], data_dir: Path) -> tuple[float, float, Outcome]:
    """records/s and ms per record of `Processor.process`, one request at a time, in this process."""
    from api_engine.service.processor import Processor

    settings = Settings(data_dir=data_dir, watchlists=[str(UN_LIST), str(OFAC_LIST)])
    processor = await Processor.open(settings)
    outcome = Outcome("in process", 0, len(requests) - 20)
    try:
        for r in requests[:20]:  # warm-up on requests not timed
            await processor.process(r.raw, key=r.key, source="bench")
        timed = requests[20:]
        started = time.perf_counter()
        for r in timed:
            t0 = time.perf_counter()
            outputs = await processor.process(r.raw, key=r.key, source="bench")
            outcome.latencies_ms.append((time.perf_counter() - t0) * 1000)
            ack = next(json.loads(o.value) for o in outputs if o.kind == "acks")
            grade(outcome, r, base64.b64decode(ack["cusres_base64"]) if ack.get("cusres_base64") else None)
        elapsed = time.perf_counter() - started
    finally:
        await processor.close()
    return len(timed) / elapsed, elapsed * 1000 / len(timed), outcome


async def big_throughput(backlog: list[Any], work: Path) -> float:
    """Sustained travellers/s of a backlog drained by a fresh `serve --workers 2`, on a broker of its own."""
    async with EmbeddedBroker(Settings(kafka_bootstrap_servers=None), create_topics=False) as broker:
        settings = await service_settings(broker.bootstrap_servers, work / "store-big")
        await ensure_topics(settings, broker.bootstrap_servers)
        follower = bs.Follower(settings)
        await follower.start()
        log = work / "service-big.log"
        service = start_service(settings, WORKERS, log)
        try:
            await wait_group_settled(log, WORKERS, settings.kafka_partitions, timeout_s=120)
            await produce(settings, backlog)
            await follower.wait_manifests(len(backlog), timeout_s=900)
        finally:
            stop_service(service)
            await follower.stop()
    arrivals = sorted(follower.manifests)
    span = arrivals[-1][0] - arrivals[0][0]
    return sum(t for _, _, t in arrivals[1:]) / span if span > 0 else float("nan")


# ---- the run ---------------------------------------------------------------------------------------


def load_line() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def row(o: Outcome, base_ms: float, base_rate: float) -> str:
    lost = o.sent - o.answered
    codes = ",".join(f"{c}:{n}" for c, n in sorted(o.codes.items())) if o.codes else "-"
    p50, p99, top = pct(o.latencies_ms, 50), pct(o.latencies_ms, 99), max(o.latencies_ms, default=float("nan"))
    return (f"{o.transport:6} {o.rate:6.0f} {o.sent / o.offered_s if o.offered_s else 0:8.0f} "
            f"{p50:8.0f} {p99:8.0f} {top:8.0f} {o.answered:6}/{o.sent:<6} {lost:5} {p50 / base_ms:7.1f} "
            f"{o.rate / base_rate:6.2f} {o.fallbacks:9}  {codes}")


def verdict(outcomes: list[Outcome], transport: str, rate: float, goal_ms: float) -> str:
    o = next((x for x in outcomes if x.transport == transport and x.rate == rate), None)
    if o is None:
        return "not measured"
    p99, lost = pct(o.latencies_ms, 99), o.sent - o.answered
    ok = p99 <= goal_ms and lost == 0 and o.listed_cleared == 0 and o.fallbacks == 0
    return f"{'met' if ok else 'NOT met'} (p99 {p99:.0f} ms, {lost} lost, {o.fallbacks} fallbacks)"


async def run(args: argparse.Namespace, work: Path) -> None:
    rates = [float(r) for r in args.rates.split(",")]
    listed = un_people(200, args.seed)
    per_rate = [max(1, int(r * args.seconds)) for r in rates]
    total = 2 * sum(per_rate) + 2 * args.warmup
    print(f"{load_line()}; lists: UN + OFAC; {len(listed)} UN-listed people to plant, one request in "
          f"{args.listed_every}", flush=True)
    # Kafka requests keep the generator's senders (so keys spread over partitions); HTTP requests use
    # HTTP_SENDERS carriers, one token each. References are unique across the whole run.
    kafka_all = build_requests(sum(per_rate) + args.warmup, args.seed, 1, listed, args.listed_every)
    senders = [s for s, _ in Counter(r.sender for r in kafka_all).most_common(HTTP_SENDERS)]
    http_all = build_requests(sum(per_rate) + args.warmup, args.seed + 1, 500_000_000, listed, args.listed_every,
                              senders=senders)
    base_set = build_requests(args.baseline, args.seed + 2, 800_000_000, listed, args.listed_every)
    n_trav = sum(r.travellers for r in kafka_all)
    print(f"data: {total} requests, {n_trav / len(kafka_all):.1f} travellers each on average, "
          f"{sum(len(r.raw) for r in kafka_all) / len(kafka_all):.0f} bytes each; "
          f"{len({r.sender for r in kafka_all})} senders over Kafka, {len(senders)} over HTTP", flush=True)

    base_rate, base_ms, base = await baseline(base_set, work / "store-baseline")
    print(f"baseline: Processor.process one at a time, in process: {base_rate:.0f} records/s, {base_ms:.2f} ms/record "
          f"(p50 {pct(base.latencies_ms, 50):.1f}, p99 {pct(base.latencies_ms, 99):.1f} ms); "
          f"statuses {dict(base.statuses)}; listed {base.listed_seen}, cleared {base.listed_cleared} "
          f"{sorted(base.cleared_who)}", flush=True)

    outcomes: list[Outcome] = []
    gc.collect()
    gc.freeze()  # this process's collections must not pause the readers whose clocks we read
    async with EmbeddedBroker(Settings(kafka_bootstrap_servers=None), create_topics=False) as broker:
        settings = await service_settings(broker.bootstrap_servers, work / "store-iapi")
        await ensure_topics(settings, broker.bootstrap_servers)
        # The tokens are made on the fresh store before the service opens it.
        # One at a time: the first one creates the store.
        tokens = {s: await asyncio.to_thread(add_token, settings, s) for s in senders}
        reader = AckReader(settings)
        await reader.start()
        log = work / "service-iapi.log"
        service = start_service(settings, WORKERS, log)
        try:
            await wait_group_settled(log, WORKERS, settings.kafka_partitions, timeout_s=120)
            addresses = await http_ports(log, WORKERS, timeout_s=60)
            await warm_up(settings, reader, addresses, tokens, kafka_all[:args.warmup], http_all[:args.warmup])
            print(f"service: serve --workers {WORKERS} ready, HTTP on {', '.join(addresses)}; {load_line()}",
                  flush=True)
            k, h = args.warmup, args.warmup
            for rate, n in zip(rates, per_rate, strict=True):
                for transport in ("Kafka", "HTTP"):
                    load0, cpu0, wall0 = os.getloadavg()[0], cpu_seconds(), time.monotonic()
                    if transport == "Kafka":
                        o = await over_kafka(settings, reader, kafka_all[k:k + n], rate, args.drain)
                        k += n
                    else:
                        o = await over_http(addresses, tokens, http_all[h:h + n], rate, args.drain)
                        h += n
                    outcomes.append(o)
                    bench_cpu = (cpu_seconds() - cpu0) / (time.monotonic() - wall0)
                    print(f"  {transport:5} at {rate:4.0f}/s: p50 {pct(o.latencies_ms, 50):6.0f} ms, p99 "
                          f"{pct(o.latencies_ms, 99):6.0f} ms, max {max(o.latencies_ms, default=0):6.0f} ms, "
                          f"{o.answered}/{o.sent} answered; load {load0:.2f} -> {os.getloadavg()[0]:.2f}; "
                          f"this process {bench_cpu:.0%} of a CPU", flush=True)
                    await asyncio.sleep(2)  # let the last answers' side work settle before the next phase
        finally:
            stop_service(service)
            await reader.stop()

    big = float("nan")
    if not args.no_big:
        backlog = big_backlog(args.big_flights, args.seed + 3, 900_000_000)
        print(f"big manifests: {len(backlog)} flights, {sum(m.travellers for m in backlog)} travellers, "
              f"produced at once to a fresh serve --workers {WORKERS}; {load_line()}", flush=True)
        big = await big_throughput(backlog, work)

    print()
    print(f"{'path':6} {'req/s':>6} {'sent/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'answered':>13} "
          f"{'lost':>5} {'p50/base':>7} {'load':>6} {'fallbacks':>9}  HTTP codes")
    print(f"{'base':6} {'':6} {base_rate:8.0f} {pct(base.latencies_ms, 50):8.1f} {pct(base.latencies_ms, 99):8.1f} "
          f"{max(base.latencies_ms):8.1f} {base.answered:6}/{base.sent:<6} {'':5} {1.0:7.1f} {'1.00':>6}")
    for o in outcomes:
        print(row(o, base_ms, base_rate))
    print("(p50/base: p50 over the per-record cost in process; load: requests/s offered over the baseline's "
          "records/s, i.e. cores' worth of record work; fallbacks: requests whose first answer was the profile's "
          "fallback status because the budget passed, their latency counted to it)")
    statuses: Counter[str] = Counter()
    for o in [base, *outcomes]:
        statuses.update(o.statuses)
    seen = sum(o.listed_seen for o in [base, *outcomes])
    cleared = sum(o.listed_cleared for o in [base, *outcomes])
    short = sum(o.short_answers for o in [base, *outcomes])
    who = sorted({w for o in [base, *outcomes] for w in o.cleared_who})
    print(f"answers: traveller statuses {dict(sorted(statuses.items()))}; UN-listed travellers answered {seen}, "
          f"of which 0Z: {cleared}{f' (planted people {who})' if who else ''}; "
          f"answers missing travellers or the CUSRES: {short}")
    print(f"big manifests, {WORKERS} workers, sustained: {big:.0f} travellers/s "
          f"({big / (base_rate * statistics_mean(base_set)):.2f} × the baseline's travellers/s)")
    print("goals:")
    print(f"  Kafka p99 ≤ {GOAL_KAFKA_P99_MS:.0f} ms at {GOAL_RATE} req/s, none lost: "
          f"{verdict(outcomes, 'Kafka', GOAL_RATE, GOAL_KAFKA_P99_MS)}")
    print(f"  HTTP  p99 ≤ {GOAL_HTTP_P99_MS:.0f} ms at {GOAL_RATE} req/s, none lost: "
          f"{verdict(outcomes, 'HTTP', GOAL_RATE, GOAL_HTTP_P99_MS)}")
    print(f"  aim {AIM_RATE} req/s: Kafka {verdict(outcomes, 'Kafka', AIM_RATE, GOAL_KAFKA_P99_MS)}; "
          f"HTTP {verdict(outcomes, 'HTTP', AIM_RATE, GOAL_HTTP_P99_MS)}")
    print(f"  no UN-listed traveller answered 0Z: {'met' if cleared == 0 else 'NOT met'} ({cleared} of {seen})")
    print(f"  big manifests ≥ {GOAL_BIG:,.0f} travellers/s with {WORKERS} workers: "
          f"{'not measured' if big != big else ('met' if big >= GOAL_BIG else 'NOT met')} ({big:,.0f})")
    print(load_line())


def statistics_mean(requests: list[Request]) -> float:
    return sum(r.travellers for r in requests) / len(requests)


# ---- soak ------------------------------------------------------------------------------------------


def _recycled(pool: list[Any], used: set[str]) -> Iterator[Any]:
    """The pool's flights over and over as new ones: another flight number and interchange reference each
    time round (byte replacement, same travellers), so each is a new flight and interchange, cheap to make.
    A flight key that came back would be a new version of a list already stored (its hits carried, a
    growing chain of versions): not the steady traffic a soak measures, and its answers would be matched
    to the wrong send."""
    rng = random.Random(0)
    for cycle in itertools.count(1):
        for i, m in enumerate(pool):
            number = m.flight_key.split("/")[0]
            carrier = number[:2]
            key, new = m.flight_key, number
            for _ in range(1000):  # four digits: a flight number space no soak exhausts (one or two did)
                new = carrier + str(rng.randrange(1000, 10_000))
                key = m.flight_key.replace(number, new, 1)
                if key not in used:
                    break
            else:
                raise RuntimeError("no unused flight number left for the soak")
            used.add(key)
            ref = f"{cycle * 1_000_000 + i:09d}".encode()
            raw = re.sub(rb"(UNB\+(?:[^+']*\+){4})\d+", rb"\g<1>" + ref, m.raw, count=1)
            raw = re.sub(rb"UNZ\+(\d+)\+\d+'", rb"UNZ+\g<1>+" + ref + b"'", raw, count=1)
            raw = raw.replace(number.encode(), new.encode())
            yield Message(m.key.replace(number.encode(), new.encode()), raw, key, m.travellers)


async def soak(args: argparse.Namespace, work: Path) -> None:
    """Steady load for `--soak` minutes; p50/p99/max per minute of the requests produced in that minute."""
    minutes = args.soak
    iapi = args.soak_rate is not None
    print(f"{load_line()}; soak {minutes:g} min: "
          + (f"iAPI requests over Kafka at {args.soak_rate:g}/s (produce → ack)" if iapi else
             f"big manifests at {args.soak_travellers:g} travellers/s (produce → manifest, produce → alert)"),
          flush=True)
    listed = un_people(200, args.seed)
    source: Iterator[Any]
    if iapi:
        rate = float(args.soak_rate)
        requests = build_requests(int(rate * minutes * 60) + 1, args.seed + 5, 1, listed, args.listed_every)
        source = iter([r.message() for r in requests])
    else:
        # One UN-listed person in every other flight so alerts flow (produce → alert).
        pool = big_backlog(600, args.seed + 5, 0, plant=[listed[i % len(listed)] for i in range(300)])
        rate = args.soak_travellers / (sum(m.travellers for m in pool) / len(pool))
        source = _recycled(pool, set())
    per_minute = max(1, int(rate * 60))
    gc.collect()
    gc.freeze()
    async with EmbeddedBroker(Settings(kafka_bootstrap_servers=None), create_topics=False) as broker:
        settings = await service_settings(broker.bootstrap_servers, work / "store-soak")
        await ensure_topics(settings, broker.bootstrap_servers)
        reader: Any = AckReader(settings) if iapi else bs.Follower(settings)
        await reader.start()
        log = work / "service-soak.log"
        service = start_service(settings, WORKERS, log)

        def report(minute: int, sent: dict[str, float], offered: float) -> None:
            if iapi:
                lat = [(reader.acks[k][0] - t) * 1000 for k, t in sent.items() if k in reader.acks]
                extra = ""
            else:
                lat = [(a - sent[k]) * 1000 for a, k, _ in reader.manifests if k in sent]
                alerts = [(a - sent[k]) * 1000 for a, k in reader.alerts if k in sent]
                extra = f"; produce→alert p99 {pct(alerts, 99):6.0f} ms ({len(alerts)} alerts)"
            what = "produce→ack" if iapi else "produce→manifest"
            print(f"minute {minute:3}: {offered:7.0f}/s offered; {what} p50 {pct(lat, 50):6.0f} ms, "
                  f"p99 {pct(lat, 99):6.0f} ms, max {max(lat, default=0):6.0f} ms, {len(lat)}/{len(sent)} "
                  f"answered{extra}; {load_line()}", flush=True)

        try:
            await wait_group_settled(log, WORKERS, settings.kafka_partitions, timeout_s=120)
            previous: tuple[int, dict[str, float], float] | None = None
            for minute in range(1, math.ceil(minutes) + 1):
                chunk = list(itertools.islice(source, per_minute))
                if not chunk:
                    break
                t0 = time.monotonic()
                sent = await produce(settings, chunk, rate_per_s=rate)
                offered = len(chunk) * (1 if iapi else statistics_of(chunk)) / (time.monotonic() - t0)
                if previous is not None:  # the minute before has had a minute to be answered
                    report(*previous)
                previous = (minute, sent, offered)
            if previous is not None:
                if iapi:
                    await reader.wait(list(previous[1]), args.drain)
                else:
                    deadline = time.monotonic() + args.drain
                    while time.monotonic() < deadline and not set(previous[1]) <= {k for _, k, _ in
                                                                                   reader.manifests}:
                        await asyncio.sleep(0.2)
                report(*previous)
        finally:
            stop_service(service)
            await reader.stop()


def statistics_of(chunk: list[Any]) -> float:
    """Mean travellers per message (the soak's offered rate in travellers/s)."""
    return float(sum(m.travellers for m in chunk)) / len(chunk)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rates", default="50,200,400", help="requests/s, comma-separated; each over Kafka then HTTP")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of steady load per rate and transport")
    ap.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the last answers")
    ap.add_argument("--listed-every", type=int, default=25, help="one request in N carries a UN-listed person")
    ap.add_argument("--baseline", type=int, default=1000, help="requests processed in process for the baseline")
    ap.add_argument("--warmup", type=int, default=20, help="requests per transport before measuring")
    ap.add_argument("--big-flights", type=int, default=400, help="flights in the big-manifest backlog")
    ap.add_argument("--no-big", action="store_true", help="skip the big-manifest throughput")
    ap.add_argument("--soak", type=float, metavar="MINUTES", help="steady load for MINUTES, p99 per minute")
    ap.add_argument("--soak-travellers", type=float, default=5000.0, help="soak: big-manifest travellers/s")
    ap.add_argument("--soak-rate", type=float, help="soak: iAPI requests/s over Kafka instead of big manifests")
    ap.add_argument("--seed", type=int, default=18)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-iapi-") as tmp:
        if args.soak:
            await soak(args, Path(tmp))
        else:
            await run(args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
