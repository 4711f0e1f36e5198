"""`api-engine demo`: the whole service on a fresh machine, with no configuration, in under a minute.

Strategy: everything runs in this one process so there is nothing to clean up: the embedded
broker (unless a cluster is configured), one pipeline worker with its HTTP endpoints, a producer
that sends the project's example messages plus generated flights (some split into parts, a few
travellers planted with the names of a demo watchlist written beside the store), and a reader that
follows the output topics until every input has its acknowledgement. The store goes to a fresh
directory (kept afterwards, printed at the end) unless API_ENGINE_DATA_DIR is set. The summary
shows what a user came to see: flights, travellers, findings and hits with their explanations.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import random
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api_engine.service.broker import EmbeddedBroker
from api_engine.service.http import HttpServer, create_app
from api_engine.service.pipeline import Pipeline, run_worker
from api_engine.settings import Settings

log = logging.getLogger("api_engine.demo")

# Invented people for the demo watchlist; the generator plants them among the travellers.
DEMO_WATCHLIST: list[tuple[str, str, date]] = [
    ("KOVALENKO", "ANDRIY", date(1979, 3, 14)),
    ("MARTINEZ GARCIA", "LUCIA", date(1988, 11, 2)),
    ("OKAFOR", "CHINEDU EMEKA", date(1991, 6, 30)),
]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="start the embedded broker and the service, feed examples, show results",
                       description="The main job on a fresh machine: no configuration needed.")
    p.add_argument("--flights", type=int, default=30, help="generated flights to send (default 30)")
    p.add_argument("--seed", type=int, default=7, help="seed for the generated flights")
    p.add_argument("--timeout", type=float, default=90.0, help="give up waiting for outputs after this (s)")
    p.add_argument("--console", action="store_true",
                   help="afterwards, serve the border police console on the demo's data until Ctrl-C")
    p.add_argument("--console-port", type=int, default=8080, help="console port with --console (default 8080)")
    p.set_defaults(func=run)


def inbound_key(raw: bytes) -> bytes | None:
    """sender + common access reference: keeps the parts of one flight on one partition."""
    from parsers import read_interchange

    try:
        interchange = read_interchange(raw)
    except Exception:
        return None
    sender = interchange.header.sender or ""
    car = next((m.common_access_ref for m in interchange.messages if m.common_access_ref), None)
    if not sender and not car:
        return None
    return f"{sender}/{car or interchange.header.control_ref or ''}".encode()


def example_messages() -> list[tuple[str, bytes]]:
    """The project's examples (examples/*.edi and examples/invalid/*.edi) beside the package."""
    root = Path(__file__).resolve().parents[2] / "examples"
    files = sorted(root.glob("*.edi")) + sorted((root / "invalid").glob("*.edi"))
    return [(f.name, f.read_bytes()) for f in files]


def generated_messages(n_flights: int, seed: int, plant: list[tuple[str, str, date]] | None
                       ) -> list[tuple[str, bytes]]:
    """Generated flights, some split into parts, sent with the parts of each flight shuffled."""
    try:
        from conformance.generator import generate_flights, to_bytes
    except ImportError:  # the generator room is optional for the shell
        return []
    rng = random.Random(seed)
    flights = generate_flights(n_flights, seed=seed, travellers_per_flight=(60, 220), max_per_part=90,
                               plant=plant or None)
    out: list[tuple[str, bytes]] = []
    for i, parts in enumerate(flights):
        raws = [to_bytes(m) for m in parts]
        rng.shuffle(raws)  # carriers do not always send parts in order
        out.extend((f"generated-{i + 1}-part", raw) for raw in raws)
    return out


def write_demo_watchlist(directory: Path) -> Path:
    path = directory / "demo-watchlist.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "list", "category", "surname", "given_names", "date_of_birth"])
        for i, (surname, given, dob) in enumerate(DEMO_WATCHLIST, start=1):
            w.writerow([f"DEMO-{i}", "demo", "individual", surname, given, dob.isoformat()])
    return path


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="ts=%(asctime)s level=%(levelname)s %(message)s")
    for noisy in ("aiokafka", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    settings, planted = demo_settings()
    status = asyncio.run(demo(args.flights, args.seed, args.timeout, settings, planted))
    if args.console:
        serve_console(settings, args.console_port)
    return status


def serve_console(settings: Settings, port: int) -> None:
    """The console on the demo's store, with a fresh supervisor account whose password is printed once."""
    import secrets

    import uvicorn

    from api_engine.console import ConsoleConfig, create_app
    from api_engine.console.users import add_user
    from api_engine.store import Store

    password = secrets.token_urlsafe(12)

    async def make_user() -> None:
        store = await Store.open(settings.effective_database_url)
        try:
            await add_user(store, "demo", "supervisor", password)
        finally:
            await store.close()

    asyncio.run(make_user())
    print(f"\nConsole at http://{settings.http_host}:{port}/  sign in as demo (supervisor) with password "
          f"{password}  (Ctrl-C to stop)", flush=True)
    app = create_app(settings, config=ConsoleConfig(cookie_secure=False))
    uvicorn.run(app, host=settings.http_host, port=port, log_level="warning", timeout_graceful_shutdown=3)


def demo_settings() -> tuple[Settings, bool]:
    """Embedded defaults; a fresh store and the demo watchlist unless the user configured their own."""
    settings = Settings()
    updates: dict[str, Any] = {}
    if "data_dir" not in settings.model_fields_set:
        updates["data_dir"] = Path(tempfile.mkdtemp(prefix="api-engine-demo-"))
    data_dir: Path = updates.get("data_dir", settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    planted = not settings.watchlists
    if planted:
        updates["watchlists"] = [str(write_demo_watchlist(data_dir))]
    if "http_port" not in settings.model_fields_set:
        updates["http_port"] = 0
    return settings.model_copy(update=updates), planted


async def demo(n_flights: int, seed: int, timeout_s: float, settings: Settings, planted: bool) -> int:
    console = Console()
    started = time.monotonic()
    messages = example_messages() + generated_messages(n_flights, seed, DEMO_WATCHLIST if planted else None)
    console.print(f"[bold]api-engine demo[/]: {len(messages)} messages "
                  f"({len(example_messages())} examples), store in {settings.data_dir}")
    async with EmbeddedBroker(settings) as broker:
        where = "embedded broker" if broker.embedded else "configured cluster"
        console.print(f"Kafka: {where} at {broker.bootstrap_servers}")
        stop = asyncio.Event()
        http: dict[str, HttpServer] = {}

        async def on_start(pipeline: Pipeline) -> None:
            http["server"] = HttpServer(create_app(lambda: pipeline.ready), settings.http_host, settings.http_port)
            await http["server"].start()

        worker = asyncio.create_task(run_worker(settings, broker.bootstrap_servers, on_start=on_start, stop=stop))
        try:
            outputs = await _feed_and_follow(console, settings, broker.bootstrap_servers, messages, timeout_s,
                                             worker)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker, settings.shutdown_timeout_s)
            if "server" in http:
                port = http["server"].port
                await http["server"].stop()
            else:
                port = settings.http_port
    _summary(console, settings, outputs, time.monotonic() - started, port)
    return 0 if len(outputs["acks"]) >= len(messages) else 1


async def _feed_and_follow(console: Console, settings: Settings, bootstrap: str,
                           messages: list[tuple[str, bytes]], timeout_s: float,
                           worker: asyncio.Task[Pipeline]) -> dict[str, dict[str, dict[str, Any]]]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
    from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

    from api_engine.service.kafka import consumer_kwargs, producer_kwargs

    kinds = {settings.topics.acks: "acks", settings.topics.alerts: "alerts",
             settings.topics.manifests: "manifests", settings.topics.dlq: "dlq"}
    out: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in kinds.values()}
    producer = AIOKafkaProducer(**producer_kwargs(settings, bootstrap))
    consumer = AIOKafkaConsumer(**{**consumer_kwargs(settings, bootstrap), "group_id": None})
    await producer.start()
    await consumer.start()
    try:
        futures = [await producer.send(settings.topics.inbound, raw, key=inbound_key(raw)) for _, raw in messages]
        await asyncio.gather(*futures)
        tps: list[TopicPartition] = []
        for topic in kinds:
            parts = consumer.partitions_for_topic(topic)
            while not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic)
            tps.extend(TopicPartition(topic, p) for p in parts)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task("joining the consumer group", total=len(messages))
            deadline = time.monotonic() + timeout_s
            while len(out["acks"]) < len(messages) and time.monotonic() < deadline and not worker.done():
                batches = await consumer.getmany(timeout_ms=300, max_records=2000)
                for tp, records in batches.items():
                    for r in records:
                        event = json.loads(r.value)
                        out[kinds[tp.topic]][event.get("event_id", "")] = event
                hits = len(out["alerts"])
                progress.update(bar, completed=len(out["acks"]),
                                description=f"processed (acknowledged) · {hits} hits")
            # the last records' manifests and alerts may land a moment after their acknowledgements
            for tp, records in (await consumer.getmany(timeout_ms=500, max_records=5000)).items():
                for r in records:
                    event = json.loads(r.value)
                    out[kinds[tp.topic]][event.get("event_id", "")] = event
    finally:
        await consumer.stop()
        await producer.stop()
    if worker.done() and worker.exception() is not None:
        console.print(f"[red]the worker stopped: {type(worker.exception()).__name__}[/]")
    return out


def _summary(console: Console, settings: Settings, outputs: dict[str, dict[str, dict[str, Any]]],
             elapsed: float, http_port: int) -> None:
    manifests = list(outputs["manifests"].values())
    acks = list(outputs["acks"].values())
    flights = {m.get("flight", {}).get("flight_key") for m in manifests}
    travellers = sum(int(m["counts"]["passengers"]) + int(m["counts"]["crew"]) for m in manifests if "counts" in m)
    rejected = sum(1 for a in acks if a.get("accepted") is False)
    duplicates = sum(1 for a in acks if a.get("duplicate"))
    rules: Counter[str] = Counter()
    for d in outputs["dlq"].values():
        rules.update(f["rule"] for f in d.get("findings", []) if "rule" in f)
    table = Table(title=f"Results after {elapsed:.0f} s", show_header=False)
    table.add_row("flights (manifest events)", f"{len(flights)} ({len(manifests)})")
    table.add_row("travellers", str(travellers))
    table.add_row("acknowledgements (negative)", f"{len(acks)} ({rejected})")
    table.add_row("duplicates recognised", str(duplicates))
    table.add_row("dead letters", f"{len(outputs['dlq'])}" + (f" — rules: {dict(rules)}" if rules else ""))
    table.add_row("hits (alerts)", str(len(outputs["alerts"])))
    console.print(table)
    for alert in list(outputs["alerts"].values())[:10]:
        flight = alert.get("flight", {}).get("flight_key", "?")
        wl = alert.get("watchlist", {})
        console.print(f"[bold red]hit[/] flight {flight} traveller {alert.get('traveller_ref')} ↔ "
                      f"{wl.get('list')}:{wl.get('entry_id')} score {alert.get('score', 0):.2f}: "
                      f"{alert.get('explanation_text', '')}")
    t = settings.topics
    console.print(
        "\n[bold]Where to look next[/]\n"
        f"  store (SQLite): {settings.effective_database_url}\n"
        f"  topics: {t.inbound} → {t.acks}, {t.manifests}, {t.alerts}, {t.dlq}\n"
        f"  run it for real: api-engine serve (embedded broker) or "
        f"API_ENGINE_KAFKA_BOOTSTRAP_SERVERS=host:9092 api-engine serve --workers 2\n"
        f"  operations: /healthz, /readyz, /metrics on the worker port (was {http_port}); docs/service.md\n"
        f"  console on these results: api-engine demo --console, or API_ENGINE_DATA_DIR={settings.data_dir} "
        "api-engine users add NAME --role officer, then api-engine console\n"
        "  the embedded broker keeps records in memory only: use a real Kafka cluster in production."
    )
