"""`api-engine demo`: the whole service on a fresh machine, with no configuration, in under a minute.

Strategy: everything runs in this one process so there is nothing to clean up but one folder the
user can see: the embedded broker (unless a cluster is configured), one pipeline worker with its
HTTP endpoints, a producer that sends the project's example messages plus generated flights
arriving around now (some split into parts, a few travellers planted with the names of a demo
watchlist of invented people), and a reader that follows the output topics until every input has
its acknowledgement. The store, its key file, the demo watchlist and a config file for the other
commands go to `--data-dir`, API_ENGINE_DATA_DIR or ./api-engine-demo, never to a hidden temp dir:
the data are personal in form, so the summary says where they are and how to remove them. The
example files keep their fixed dates (March 2025); the summary says so. The summary explains each
number, and its lines never wrap when piped, so paths and commands can be copied.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import hashlib
import json
import logging
import os
import random
import secrets
import shlex
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api_engine.service.broker import EmbeddedBroker
from api_engine.service.http import HttpServer, create_app
from api_engine.service.pipeline import Pipeline, run_worker
from api_engine.settings import Settings

if TYPE_CHECKING:
    from parsers import Manifest

log = logging.getLogger("api_engine.demo")

# Invented people for the demo watchlist; the generator plants them among the travellers.
DEMO_WATCHLIST: list[tuple[str, str, date]] = [
    ("KOVALENKO", "ANDRIY", date(1979, 3, 14)),
    ("MARTINEZ GARCIA", "LUCIA", date(1988, 11, 2)),
    ("OKAFOR", "CHINEDU EMEKA", date(1991, 6, 30)),
]
DEFAULT_DIR = Path("api-engine-demo")
MARKER = ".api-engine-demo"  # written into every folder the demo fills: only such a folder is emptied on a rerun
CONFIG_FILE = "demo.toml"
# Generated flights arrive in this window around the clock: the console's "arriving soon" reaches back six hours.
LANDED_WITHIN = timedelta(hours=3)
ARRIVING_WITHIN = timedelta(hours=9)
ACCOUNTS = (("officer", "officer"), ("supervisor", "supervisor"))  # (name, role)
WIDE = 200  # columns when stdout is not a terminal: a pipe or a file gets whole lines


class DemoDirError(Exception):
    """The chosen data folder holds something that is not an earlier demo's: the demo will not mix into it."""


@dataclass
class Inputs:
    """What the demo sends, and what the summary needs to explain it."""

    messages: list[tuple[str, bytes]]
    examples: int
    generated_flights: int
    arrivals_utc: list[datetime] = field(default_factory=list)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="start the embedded broker and the service, feed examples, show results",
                       description="The main job on a fresh machine: no configuration needed. Everything it "
                                   "stores goes to one folder (default ./api-engine-demo), named at the end "
                                   "with the command that removes it.")
    p.add_argument("--flights", type=int, default=30, help="generated flights to send (default 30)")
    p.add_argument("--seed", type=int, default=7, help="seed for the generated flights")
    p.add_argument("--timeout", type=float, default=90.0, help="give up waiting for outputs after this (s)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help=f"folder for the demo's store, key file and lists (default: API_ENGINE_DATA_DIR or "
                        f"./{DEFAULT_DIR}); an earlier demo's folder is emptied first, any other non-empty "
                        "folder is refused")
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


def generated_flights(n_flights: int, seed: int, plant: list[tuple[str, str, date]] | None,
                      now: datetime) -> list[list[Manifest]]:
    """Flights arriving around `now`: a few landed in the last hours, most still to come."""
    try:
        from conformance.generator import generate_flights
    except ImportError:  # the generator room is optional for the shell
        return []
    return generate_flights(n_flights, seed=seed, travellers_per_flight=(60, 220), max_per_part=90,
                            plant=plant or None, arrivals=(now - LANDED_WITHIN, now + ARRIVING_WITHIN))


def demo_inputs(n_flights: int, seed: int, plant: list[tuple[str, str, date]] | None, now: datetime) -> Inputs:
    """The examples, then the generated flights with the parts of each flight shuffled."""
    examples = example_messages()
    flights = generated_flights(n_flights, seed, plant, now) if n_flights > 0 else []
    rng = random.Random(seed)
    messages = list(examples)
    arrivals: list[datetime] = []
    if flights:
        from conformance.generator import to_bytes

        for i, parts in enumerate(flights):
            raws = [to_bytes(m) for m in parts]
            rng.shuffle(raws)  # carriers do not always send parts in order
            messages.extend((f"generated flight {i + 1}", raw) for raw in raws)
            leg = parts[0].legs[0] if parts[0].legs else None
            if leg is not None and leg.arrival_utc is not None:
                arrivals.append(leg.arrival_utc)
    return Inputs(messages, len(examples), len(flights), arrivals)


def write_demo_watchlist(directory: Path) -> Path:
    path = directory / "demo-watchlist.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "list", "category", "surname", "given_names", "date_of_birth", "programme", "reason",
                    "listed_on"])
        for i, (surname, given, dob) in enumerate(DEMO_WATCHLIST, start=1):
            w.writerow([f"DEMO-{i}", "demo", "individual", surname, given, dob.isoformat(), "demo",
                        "An invented person, planted by api-engine demo among its generated travellers.",
                        date.today().isoformat()])
    return path


def make_console() -> Console:
    """A terminal gets rich's console as it is; a pipe or file gets wide lines so nothing splits a path."""
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console = Console(width=WIDE, soft_wrap=False)
    return console


def route_logging(console: Console) -> None:
    """Warnings go through the progress bar's console, above the bar instead of through it."""
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False,
                          rich_tracebacks=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler], force=True)
    for noisy in ("aiokafka", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def cli_name(argv0: str | None = None) -> str:
    """The command as the user started it (`.venv/bin/api-engine`), so the hints can be pasted as they are."""
    arg = sys.argv[0] if argv0 is None else argv0
    path = Path(arg)
    if os.sep not in arg or not path.name.startswith("api-engine") or not path.is_file():
        return "api-engine"  # python -m api_engine, or no script at all
    on_path = shutil.which("api-engine")
    if path.is_absolute() and on_path and Path(on_path).resolve() == path.resolve():
        return "api-engine"  # typed as a bare name: the shell found it on PATH and passed the full path
    return shlex.quote(arg)


def run(args: argparse.Namespace) -> int:
    console = make_console()
    route_logging(console)
    try:
        settings, planted = demo_settings(args.data_dir)
    except DemoDirError as exc:
        console.print(f"[red]{escape(str(exc))}[/]", soft_wrap=True)
        return 2
    status = asyncio.run(demo(console, args.flights, args.seed, args.timeout, settings, planted,
                              console_port=args.console_port if args.console else None))
    if args.console:
        serve_console(settings, args.console_port)
    return status


def serve_console(settings: Settings, port: int) -> None:
    """The console on the demo's store, signed in with the demo accounts printed in the summary."""
    import uvicorn

    from api_engine.console import ConsoleConfig, create_app

    print(f"\nConsole at http://{settings.http_host}:{port}/  sign in as {' or '.join(n for n, _ in ACCOUNTS)} "
          "with the passwords above (Ctrl-C to stop)", flush=True)
    app = create_app(settings, config=ConsoleConfig(cookie_secure=False))
    uvicorn.run(app, host=settings.http_host, port=port, log_level="warning", timeout_graceful_shutdown=3)


def prepare_data_dir(data_dir: Path) -> None:
    """Empty an earlier demo's folder (it holds only what the demo wrote); refuse a folder holding anything else."""
    if data_dir.exists() and not data_dir.is_dir():
        raise DemoDirError(f"{data_dir} is a file, not a folder: choose another with --data-dir")
    if data_dir.is_dir() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).is_file():
            raise DemoDirError(f"{data_dir} holds files the demo did not write: the demo plants invented people "
                               "and would mix them into that data. Choose an empty or new folder with --data-dir.")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("written by `api-engine demo`: this folder is emptied on the next demo run\n",
                                   encoding="utf-8")


def demo_settings(data_dir: Path | None = None) -> tuple[Settings, bool]:
    """Embedded defaults on the demo's folder; the demo watchlist unless the user configured their own."""
    settings = Settings.with_overrides(data_dir=data_dir)
    chosen = settings.data_dir if "data_dir" in settings.model_fields_set else DEFAULT_DIR
    chosen = chosen.expanduser().resolve()
    prepare_data_dir(chosen)
    updates: dict[str, Any] = {"data_dir": chosen}
    planted = not settings.watchlists
    if planted:
        updates["watchlists"] = [str(write_demo_watchlist(chosen))]
    settings = settings.model_copy(update=updates)
    write_config(settings)
    if "http_port" not in settings.model_fields_set:  # the worker's endpoints; the console keeps its own port
        settings = settings.model_copy(update={"http_port": 0})
    return settings, planted


def write_config(settings: Settings) -> Path:
    """The demo's folder and lists as an API_ENGINE_CONFIG file, so `console` and `retention` see what the demo saw."""
    path = settings.data_dir / CONFIG_FILE
    lists = ", ".join(json.dumps(w) for w in settings.watchlists)
    path.write_text("# written by `api-engine demo`: API_ENGINE_CONFIG=<this file> api-engine console\n"
                    f"data_dir = {json.dumps(str(settings.data_dir))}\n"
                    f"watchlists = [{lists}]\n", encoding="utf-8")
    return path


async def demo_accounts(settings: Settings) -> list[tuple[str, str, str | None]]:
    """An officer and a supervisor with fresh passwords (None: the account existed, its password is unchanged)."""
    from api_engine.console.auditing import Auditor
    from api_engine.console.users import add_user, list_users
    from api_engine.store import Store

    out: list[tuple[str, str, str | None]] = []
    store = await Store.open(settings.effective_database_url)
    try:
        existing = {a.name for a in await list_users(store)}
        for name, role in ACCOUNTS:
            if name in existing:
                out.append((name, role, None))
                continue
            password = secrets.token_urlsafe(12)
            await add_user(store, name, role, password, auditor=Auditor(store), actor="demo", via="demo")
            out.append((name, role, password))
    finally:
        await store.close()
    return out


async def demo(console: Console, n_flights: int, seed: int, timeout_s: float, settings: Settings, planted: bool,
               *, console_port: int | None = None) -> int:
    started = time.monotonic()
    now = datetime.now(UTC)
    inputs = demo_inputs(n_flights, seed, DEMO_WATCHLIST if planted else None, now)
    messages = inputs.messages
    console.print(f"[bold]api-engine demo[/]: {len(messages)} messages ({inputs.examples} example files, "
                  f"{inputs.generated_flights} generated flights), data in {escape(str(settings.data_dir))}",
                  soft_wrap=True)
    async with EmbeddedBroker(settings) as broker:
        where = "embedded broker" if broker.embedded else "configured cluster"
        console.print(f"Kafka: {where} at {broker.bootstrap_servers}", soft_wrap=True)
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
    accounts = await demo_accounts(settings)
    _summary(console, settings, inputs, outputs, time.monotonic() - started, port, now=now, planted=planted,
             accounts=accounts, console_port=console_port)
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
                                description=f"messages acknowledged · {hits} hits")
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


def _hours(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    return f"{minutes // 60} h" + (f" {minutes % 60:02d} min" if minutes % 60 else "")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _sources(inputs: Inputs, events: list[dict[str, Any]]) -> str:
    """Which inputs the events answer, by file name (matched on the hash of the bytes as sent)."""
    by_hash = {hashlib.sha256(raw).hexdigest(): name for name, raw in inputs.messages}
    names = Counter(by_hash.get(e.get("interchange", {}).get("content_hash", ""), "an input") for e in events)
    return ", ".join(name if n == 1 else f"{name} ({n}×)" for name, n in names.items())


def hit_lines(alert: dict[str, Any]) -> list[str]:
    """One hit: the list entry, the traveller as the console shows them (initials, position), the score once."""
    from api_engine.console.queries import initials

    flight = alert.get("flight", {})
    wl = alert.get("watchlist", {})
    who = alert.get("identity", {})
    position = str(alert.get("traveller_ref", "")).rpartition(":")[2]
    place = f"#{int(position) + 1}" if position.isdigit() else "?"
    arrival = flight.get("arrival_local")
    arrives = f", arriving {arrival[:16].replace('T', ' ')} local" if arrival else ""
    score = float(alert.get("score", 0))
    features = alert.get("explanation") or []
    total = sum(float(f.get("contribution", 0)) for f in features)
    capped = f", capped at {score:.2f}: the contributions add up to {total:.2f}" if total > score + 0.005 else ""
    threshold = alert.get("threshold")
    traveller = initials(who.get("surname"), " ".join(who.get("given_names") or []))
    head = (f"hit {wl.get('list')}:{wl.get('entry_id')} ↔ {traveller} ({alert.get('role', 'traveller')} {place} "
            f"on the list) on flight {flight.get('flight_key', '?')}{arrives}: score {score:.2f}{capped}"
            + (f" (threshold {threshold:.2f})" if threshold is not None else ""))
    if features:
        body = [f"  {f.get('feature')}: {f.get('outcome')} ({float(f.get('contribution', 0)):+.2f}) "
                f"{f.get('detail', '')}" for f in features]
    else:  # a targeting rule: its own text, without the score line the head already gives
        text = str(alert.get("explanation_text", "")).splitlines()
        body = ["  " + line.strip() for line in text if line.strip() and not line.strip().startswith("score ")]
    return [head, *body]


def _summary(console: Console, settings: Settings, inputs: Inputs, outputs: dict[str, dict[str, dict[str, Any]]],
             elapsed: float, http_port: int, *, now: datetime, planted: bool,
             accounts: list[tuple[str, str, str | None]], console_port: int | None) -> None:
    manifests = list(outputs["manifests"].values())
    acks = list(outputs["acks"].values())
    dead = list(outputs["dlq"].values())
    alerts = list(outputs["alerts"].values())
    flights = {m.get("flight", {}).get("flight_key") for m in manifests}
    example_flights = {k for k in flights if str(k).startswith("XX")}
    passengers = sum(int(m["counts"]["passengers"]) for m in manifests if "counts" in m)
    crew = sum(int(m["counts"]["crew"]) for m in manifests if "counts" in m)
    documents = Counter(m.get("document_code") for m in manifests)
    replaced = sum(1 for m in manifests if int(m.get("version", 1)) > 1)
    rejected = [a for a in acks if a.get("accepted") is False]
    duplicates = sum(1 for a in acks if a.get("duplicate"))
    generated_parts = len(inputs.messages) - inputs.examples

    table = Table(title=f"Results after {elapsed:.0f} s", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    table.add_column("what it counts")
    table.add_row("messages sent", str(len(inputs.messages)),
                  f"{inputs.examples} example files (examples/) + {generated_parts} parts of "
                  f"{inputs.generated_flights} generated flights (a list over 90 travellers is sent in parts)")
    table.add_row("acknowledgements", str(len(acks)),
                  f"one CONTRL per message received; {len(rejected)} negative (rejected)"
                  + (f": {_sources(inputs, rejected)}" if rejected else ""))
    table.add_row("duplicates recognised", str(duplicates),
                  "messages received before: answered again, not stored twice")
    if dead:
        for i, d in enumerate(dead):
            rules = ", ".join(d.get("rules") or sorted({f["rule"] for f in d.get("findings", []) if "rule" in f}))
            table.add_row("dead letters" if i == 0 else "", str(len(dead)) if i == 0 else "",
                          f"{_sources(inputs, [d])}: {d.get('reason', '')}" + (f" (rules {rules})" if rules else ""))
    else:
        table.add_row("dead letters", "0", "inputs that could not be processed")
    table.add_row("flights", str(len(flights)),
                  f"{len(flights) - len(example_flights)} generated + {len(example_flights)} from the examples")
    lists = [_plural(documents.get("745", 0), "passenger list"), _plural(documents.get("250", 0), "crew list")]
    other = sum(n for code, n in documents.items() if code not in ("745", "250"))
    if other:
        lists.append(f"{other} other")
    table.add_row("lists (manifest events)", str(len(manifests)),
                  f"{' + '.join(lists)}: a flight's crew list is a list of its own; a list sent in parts counts "
                  "once, when complete" + (f"; {replaced} replaced an earlier version" if replaced else ""))
    table.add_row("travellers", str(passengers + crew), f"{passengers} passengers + {crew} crew on those lists")
    demo_hits = sum(1 for a in alerts if a.get("watchlist", {}).get("list") == "demo")
    if planted:
        why = (f"planted: the demo watchlist ({escape(settings.watchlists[0])}) lists {len(DEMO_WATCHLIST)} "
               "invented people, and the demo gave their names and birth dates to random generated travellers; "
               f"{demo_hits} of them found" + (f", {len(alerts) - demo_hits} other" if len(alerts) > demo_hits else ""))
    else:
        why = "against the watchlists you configured (API_ENGINE_WATCHLISTS); nobody was planted"
    table.add_row("hits (alerts)", str(len(alerts)), why)
    console.print(table, soft_wrap=False)

    if inputs.arrivals_utc:
        landed = sum(1 for t in inputs.arrivals_utc if t <= now)
        first, last = min(inputs.arrivals_utc), max(inputs.arrivals_utc)
        console.print(f"Generated flights arrive between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC: "
                      f"{landed} landed in the last {_hours(LANDED_WITHIN)}, {len(inputs.arrivals_utc) - landed} "
                      f"arriving in the next {_hours(ARRIVING_WITHIN)} (local times at each airport in the lists).",
                      soft_wrap=True, highlight=False)
    console.print("The example files keep their fixed dates (flights XX123 and XX456, 1-2 March 2025): the console "
                  "lists them under all flights, not arriving soon, and retention finds them due for deletion.",
                  soft_wrap=True, highlight=False)
    for alert in alerts[:10]:
        head, *body = hit_lines(alert)
        console.print(f"[bold red]{escape(head[:3])}[/]{escape(head[3:])}", soft_wrap=True, highlight=False)
        for line in body:
            console.print(escape(line), soft_wrap=True, highlight=False)
    if len(alerts) > 10:
        console.print(f"... and {len(alerts) - 10} more hits: see the console's alert queue", soft_wrap=True)

    cli = cli_name()
    data = settings.data_dir
    config = shlex.quote(str(data / CONFIG_FILE))
    lines = ["", "[bold]Demo accounts[/] (for this demo only: real accounts get their passwords from their owner, "
                 "api-engine users add)"]
    for name, role, password in accounts:
        lines.append(f"  {name} (role {role}) password {password}" if password
                     else f"  {name} (role {role}) existed already: password unchanged")
    if console_port is not None:
        console_hint = f"the console starts below on port {console_port}"
    else:
        console_hint = (f"API_ENGINE_CONFIG={config} {cli} console   then http://{settings.http_host}:8080/ "
                        f"(or next time: {cli} demo --console)")
    t = settings.topics
    lines += [
        "",
        "[bold]Where to look next[/]",
        f"  data folder: {shlex.quote(str(data))} (store, its key file data-keys.json, the demo watchlist, "
        f"{CONFIG_FILE}); invented but personal-looking data: remove it with  rm -rf {shlex.quote(str(data))}",
        f"  console on these results: {console_hint}",
        f"  retention on these results: API_ENGINE_CONFIG={config} {cli} retention run --dry-run",
        f"  store (SQLite): {settings.effective_database_url}",
        f"  topics: {t.inbound} → {t.acks}, {t.manifests}, {t.alerts}, {t.dlq}",
        f"  run it for real: {cli} serve (embedded broker) or "
        f"API_ENGINE_KAFKA_BOOTSTRAP_SERVERS=host:9092 {cli} serve --workers 2",
        f"  operations: /healthz, /readyz, /metrics on the worker port (was {http_port}); docs/service.md",
        "  the embedded broker keeps records in memory only: use a real Kafka cluster in production.",
    ]
    if settings.database_url:
        lines.insert(-6, f"  the store is the database you configured (API_ENGINE_DATABASE_URL), not in {data}")
    for line in lines:
        bold = line.startswith("[bold]")
        console.print(line if bold else escape(line), soft_wrap=True, highlight=False)
