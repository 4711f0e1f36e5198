"""Re-screening after a list change: stored travellers/s, the cost of the change index, service throughput.

Strategy: a national CSV list (synthetic entries, `--list-entries`) is the version in force while
`--travellers` generated travellers (flights arriving in the coming days, `conformance.generator`)
are stored through `Processor.process_batch`, the path every record takes (sealed rows, manifests
tagged with the list's digest). The file then gains `--change` entries; `--planted` of them are
people already among the stored travellers, their names put through `watchlists.synthetic.mangle`
as a traveller's data differs from a list. Figures, all in the same run on the same store:

- baseline: a sample of the stored travellers (`--sample`) screened with `screen_rows` against the
  whole new version (what re-screening costs without a change index), extrapolated to all of them;
- re-screen: `LiveLists.check_files` installs the new version, then `Rescreener.sweep` over every
  stored traveller, timed whole (store reads, decryption, screening against the change only,
  commits); travellers/s, seconds for all, new hits, recall of the planted ones; ratio to baseline;
- service: `api-engine serve --workers 2` on the same store and list file (embedded broker), sustained
  travellers/s of a backlog without a re-screen, then of the same-sized backlog while its workers
  re-screen the whole store after a second change of the file (read back from `rescreen_runs`).

The built store is kept under the temp dir, keyed by the parameters and the day (the flights must
be ahead of the clock), and copied for each run: building 1,000,000 travellers takes minutes.
Usage: python bench/bench_rescreen.py [--travellers 1000000] [--list-entries 20000] [--change 1000]
       [--planted 100] [--sample 20000] [--flights 400] [--no-service] [--no-cache] [--profile]
       [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import hashlib
import importlib
import json
import logging
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import func, select  # noqa: E402

from api_engine.service.processor import Processor  # noqa: E402
from api_engine.service.rescreen import Rescreener, screen_rows  # noqa: E402
from api_engine.settings import Settings  # noqa: E402
from api_engine.store import Store  # noqa: E402
from api_engine.store.schema import hits, list_versions, rescreen_runs, travellers  # noqa: E402
from watchlists.loaders.national import COLUMNS  # noqa: E402
from watchlists.models import Category, WatchlistEntry  # noqa: E402
from watchlists.normalise import to_ascii  # noqa: E402
from watchlists.screener import Fingerprints, changed_snapshot  # noqa: E402
from watchlists.synthetic import mangle, synthetic_entries  # noqa: E402

LIST = "NATIONAL"
BUILD = 2  # bump when the stored data changes shape: old caches are not reused
FLIGHTS_PER_CHUNK = 200  # generated and stored at a time (the generator holds a chunk in memory)
_UNOA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-/")


def _row(e: WatchlistEntry) -> list[str]:
    doc = e.documents[0] if e.documents else None
    dob = e.dates_of_birth[0] if e.dates_of_birth else None
    dob_text = "" if dob is None else "-".join(
        [f"{dob.year:04d}", *([f"{dob.month:02d}"] if dob.month else []), *([f"{dob.day:02d}"] if dob.day else [])])
    row = {"id": e.id, "list": LIST, "category": e.category.value, "full_name": e.primary_name,
           "aliases": "|".join(v.name for v in e.names[1:]), "date_of_birth": dob_text,
           "nationality": "|".join(e.nationalities), "gender": e.gender or "",
           "document_number": doc.number if doc else "", "document_type": (doc.doc_type if doc else "") or "",
           "document_country": (doc.country if doc else "") or ""}
    return [row.get(c, "") for c in COLUMNS]


def write_list(path: Path, parts: Iterable[Iterable[WatchlistEntry]]) -> None:
    """The national CSV, written beside and moved into place: a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for entries in parts:
            for e in entries:
                out.writerow(_row(e))
    os.replace(tmp, path)


def renumbered(lists: list[list[Any]], offset: int) -> list[list[Any]]:
    """Interchange references moved by `offset`: each call of the generator starts at 1, and a sender
    reusing a reference with other bytes is flagged (ENV-REF-REUSED), which real traffic is not."""
    for parts in lists:
        for m in parts:
            m.header.interchange_ref = f"{offset + int(m.header.interchange_ref):09d}"
    return lists


def base_entries(n: int) -> Iterable[WatchlistEntry]:
    return synthetic_entries(n, seed=0, list_name=LIST)


def change_entries(n: int, step: int) -> list[WatchlistEntry]:
    """The `step`-th change: n entries of ids the list never held."""
    return list(synthetic_entries(n, seed=1000 + step, list_name=f"{LIST}C{step}"))


def planted_people(change: list[WatchlistEntry], n: int, seed: int) -> tuple[list[tuple[str, str, date]], list[str]]:
    """(surname, given names, date of birth) of `n` listed individuals of the change as their travel
    documents give them (mangled), and the entries' ids."""
    rng = random.Random(seed)
    people = [e for e in change if e.category is Category.INDIVIDUAL and e.names and e.dates_of_birth]
    out: list[tuple[str, str, date]] = []
    ids: list[str] = []
    for e in people:
        if len(out) == n:
            break
        q = mangle(rng, e, e.id)
        name = "".join(c for c in to_ascii(q.full_name or "").upper() if c in _UNOA)
        tokens = name.split()
        if len(tokens) < 2:
            continue
        d = e.dates_of_birth[0]
        month, day = d.month or rng.randint(1, 12), d.day or rng.randint(1, 28)
        year = d.year if q.date_of_birth is None or len(q.date_of_birth) > 4 else int(q.date_of_birth)
        out.append((tokens[-1], " ".join(tokens[:-1]), date(year, month, day)))
        ids.append(e.id)
    return out, ids


async def build_store(settings: Settings, n_travellers: int, plant: list[tuple[str, str, date]], seed: int,
                      start: date) -> tuple[int, float]:
    """Store generated flights through the processor (the honest path); (travellers, seconds)."""
    from conformance.generator import generate_flights, to_bytes

    n_flights = max(1, round(n_travellers / 185))
    chunks = (n_flights + FLIGHTS_PER_CHUNK - 1) // FLIGHTS_PER_CHUNK
    processor = await Processor.open(settings)
    stored, started, last = 0, time.perf_counter(), time.perf_counter()
    try:
        for c in range(chunks):
            flights = min(FLIGHTS_PER_CHUNK, n_flights - c * FLIGHTS_PER_CHUNK)
            mine = [p for i, p in enumerate(plant) if i % chunks == c]
            lists = renumbered(generate_flights(flights, seed=seed * 7919 + c, plant=mine or None, start=start),
                               c * 10_000)
            records = [(to_bytes(m), f"{m.header.sender}/{m.header.common_access_ref}".encode())
                       for parts in lists for m in parts]
            stored += sum(len(m.travellers) for parts in lists for m in parts)
            for i in range(0, len(records), settings.max_batch):
                await processor.process_batch(records[i:i + settings.max_batch], source="bench")
            if time.perf_counter() - last > 15:
                last = time.perf_counter()
                print(f"  ... {stored:,} travellers stored ({stored / (last - started):,.0f}/s)", flush=True)
    finally:
        await processor.close()
    return stored, time.perf_counter() - started


async def count_travellers(store: Store) -> int:
    async with store.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(travellers)) or 0)


async def sample_rows(store: Store, n: int) -> list[tuple[int, str]]:
    """An even spread of stored travellers (row id, sealed JSON)."""
    total = await count_travellers(store)
    stride = max(1, total // max(1, n))
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(travellers.c.id, travellers.c.traveller_json)
                                  .where(travellers.c.id % stride == 0).order_by(travellers.c.id).limit(n))
        return [(int(r[0]), str(r[1])) for r in rows]


def rate_of(fn: Any, rows: list[tuple[int, str]]) -> tuple[float, int]:
    """travellers/s and hits of one warm run (a warm-up on a few rows first)."""
    fn(rows[:200])
    started = time.perf_counter()
    found = fn(rows)
    return len(rows) / (time.perf_counter() - started), len(found)


def load_line() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


# ---- the service phase ----------------------------------------------------------------------------


async def service_phase(settings: Settings, listed: Path, base_n: int, change_n: int, n_flights: int,
                        seed: int, work: Path, stored: int) -> dict[str, Any]:
    """Sustained rate of `serve --workers 2` without, then during, a re-screen of the whole store."""
    bs = importlib.import_module("bench_service")  # a sibling script, not a package
    Follower, Message, produce, start_service, stop_service, wait_group_settled = (
        bs.Follower, bs.Message, bs.produce, bs.start_service, bs.stop_service, bs.wait_group_settled)
    from api_engine.service.broker import EmbeddedBroker, ensure_topics
    from api_engine.settings import Topics
    from conformance.generator import generate_flights, to_bytes

    def backlog(s: int, offset: int) -> list[Any]:
        out = []
        for parts in renumbered(generate_flights(n_flights, seed=s, start=datetime.now(UTC).date()), offset):
            (m,) = parts
            out.append(Message(f"{m.header.sender}/{m.header.common_access_ref}".encode(), to_bytes(m),
                               m.flight_key, len(m.travellers)))
        return out

    first, second = backlog(seed + 101, 900_000_000), backlog(seed + 202, 910_000_000)
    os.environ["API_ENGINE_LIST_CHECK_INTERVAL_S"] = "1"  # the workers look at the file every second
    store = await Store.open(settings.effective_database_url)
    result: dict[str, Any] = {}
    try:
        async with EmbeddedBroker(Settings(kafka_bootstrap_servers=None), create_topics=False) as broker:
            tag = uuid.uuid4().hex[:8]
            topics = Topics(inbound=f"r{tag}.in", acks=f"r{tag}.acks", alerts=f"r{tag}.alerts",
                            manifests=f"r{tag}.manifests", dlq=f"r{tag}.dlq")
            svc = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap_servers, "topics": topics,
                                              "kafka_group_id": f"rescreen-{tag}", "kafka_partitions": 6,
                                              "http_port": 0})
            await ensure_topics(svc, broker.bootstrap_servers)
            follower = Follower(svc)
            await follower.start()
            log = work / "service.log"
            service = start_service(svc, 2, log)
            try:
                await wait_group_settled(log, 2, svc.kafka_partitions, timeout_s=120)
                await produce(svc, first)
                await follower.wait_manifests(len(first), timeout_s=900)
                result["quiet"] = _sustained(follower.manifests)
                async with store.engine.connect() as conn:
                    before = int(await conn.scalar(select(func.max(rescreen_runs.c.id))) or 0)
                # The second change of the file, made while the service runs; its workers notice it.
                write_list(listed, [base_entries(base_n), change_entries(change_n, 1), change_entries(change_n, 2)])
                changed_at = time.monotonic()
                run_id = await _wait_run(store, before, timeout_s=300)
                result["noticed_s"] = time.monotonic() - changed_at
                seen = len(follower.manifests)
                produced_at = time.monotonic()
                await produce(svc, second)
                await follower.wait_manifests(seen + len(second), timeout_s=1800)
                drained_at = time.monotonic()
                result["busy"] = _sustained(follower.manifests[seen:])
                run = await _wait_done(store, run_id, timeout_s=3600)
                result["run"] = run
                result["backlog_s"] = drained_at - produced_at
                result["run_wall_s"] = time.monotonic() - changed_at
            finally:
                stop_service(service)
                await follower.stop()
    finally:
        await store.close()
    result["stored"] = stored
    return result


def _sustained(manifests: list[tuple[float, str, int]]) -> float:
    arrivals = sorted(manifests)
    span = arrivals[-1][0] - arrivals[0][0]
    return sum(t for _, _, t in arrivals[1:]) / span if span > 0 else float("nan")


async def _wait_run(store: Store, after: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with store.engine.connect() as conn:
            found = await conn.scalar(select(rescreen_runs.c.id).where(
                rescreen_runs.c.id > after, rescreen_runs.c.list_name == LIST).order_by(rescreen_runs.c.id).limit(1))
        if found is not None:
            return int(found)
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no re-screen run opened after {timeout_s:.0f} s")


async def _wait_done(store: Store, run_id: int, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with store.engine.connect() as conn:
            row = (await conn.execute(select(rescreen_runs).where(rescreen_runs.c.id == run_id))).first()
        if row is not None and row.status == "done":
            return row
        await asyncio.sleep(0.5)
    raise TimeoutError(f"re-screen run not done after {timeout_s:.0f} s")


# ---- stores -----------------------------------------------------------------------------------------


async def _pg_database(admin: str) -> tuple[str, str]:
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    name = f"bench_rescreen_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(admin).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    return url, name


async def _pg_drop(admin: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def prepared_store(args: argparse.Namespace, work: Path, plant: list[tuple[str, str, date]],
                         start: date) -> tuple[Settings, int, float | None]:
    """Settings of a store holding the travellers (a copy of the cached one when there is one):
    (settings, travellers, seconds spent storing them or None when copied)."""
    listed = work / "national.csv"
    write_list(listed, [base_entries(args.list_entries)])
    if args.postgres:
        url, name = await _pg_database(args.postgres)
        args.pg_name = name
        settings = Settings(data_dir=work / "data", database_url=url, watchlists=[str(listed)])
        stored, seconds = await build_store(settings, args.travellers, plant, args.seed, start)
        return settings, stored, seconds
    key = hashlib.sha256(json.dumps([BUILD, args.travellers, args.list_entries, args.change, args.planted,
                                     args.seed, start.isoformat()]).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"bench-rescreen-{key}"
    data = work / "data"
    if not args.no_cache and (cache / "done").exists():
        shutil.copytree(cache / "data", data)
        stored = int((cache / "done").read_text())
        return Settings(data_dir=data, watchlists=[str(listed)]), stored, None
    settings = Settings(data_dir=data, watchlists=[str(listed)])
    stored, seconds = await build_store(settings, args.travellers, plant, args.seed, start)
    if not args.no_cache:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(data, cache / "data")
        (cache / "done").write_text(str(stored))
    return settings, stored, seconds


# ---- main -------------------------------------------------------------------------------------------


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--travellers", type=int, default=1_000_000, help="stored travellers (about 185 per flight)")
    ap.add_argument("--list-entries", type=int, default=20_000, help="entries of the list version in force")
    ap.add_argument("--change", type=int, default=1000, help="entries the new version adds")
    ap.add_argument("--planted", type=int, default=100, help="of which listed people among the stored travellers")
    ap.add_argument("--sample", type=int, default=20_000, help="travellers screened against the whole list")
    ap.add_argument("--flights", type=int, default=400, help="flights in each service backlog")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--no-service", action="store_true", help="skip the phase over Kafka")
    ap.add_argument("--no-cache", action="store_true", help="build the store afresh and do not keep it")
    ap.add_argument("--profile", action="store_true", help="cProfile the sweep (top 25 by own and by cumulative time)")
    ap.add_argument("--postgres", "--database-url", dest="postgres", metavar="URL",
                    help="store in PostgreSQL: a fresh database on this server (admin URL, e.g. "
                         "postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards; default SQLite")
    args = ap.parse_args()
    args.pg_name = None
    # One line per claim with new hits would bury the table (the figures are read from the report).
    logging.getLogger("api_engine.service.rescreen").setLevel(logging.ERROR)
    start = datetime.now(UTC).date()
    print(f"{load_line()}; store: {'PostgreSQL (a fresh database)' if args.postgres else 'SQLite'}", flush=True)

    change1 = change_entries(args.change, 1)
    plant, planted_ids = planted_people(change1, args.planted, args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-rescreen-") as tmp:
        work = Path(tmp)
        try:
            settings, stored, build_s = await prepared_store(args, work, plant, start)
            how = (f"stored through Processor.process_batch in {build_s:.0f} s ({stored / build_s:,.0f}/s)"
                   if build_s is not None else "copied from the cache (stored through Processor.process_batch)")
            print(f"data: {stored:,} travellers in flights arriving from {start} on, {how}; list {args.list_entries:,}"
                  f" entries, change +{args.change:,} ({len(plant)} planted among the travellers)", flush=True)
            listed = Path(settings.watchlists[0])
            figures = await in_process(args, settings, listed, planted_ids)
            print_in_process(figures, stored)
            if not args.no_service:
                print(f"service phase ({load_line()}): serve --workers 2 on the same store, embedded broker",
                      flush=True)
                svc = await service_phase(settings, listed, args.list_entries, args.change, args.flights,
                                          args.seed, work, stored)
                print_service(svc)
        finally:
            if args.pg_name:
                await _pg_drop(args.postgres, args.pg_name)
    return 0


async def in_process(args: argparse.Namespace, settings: Settings, listed: Path,
                     planted_ids: list[str]) -> dict[str, Any]:
    p = await Processor.open(settings)
    out: dict[str, Any] = {}
    try:
        lists = p.lists.lists
        old = lists.lists[LIST]
        old_prints = old.fingerprints
        write_list(listed, [base_entries(args.list_entries), change_entries(args.change, 1)])
        t0 = time.perf_counter()
        installed = await p.lists.check_files()
        out["install_s"] = time.perf_counter() - t0
        assert installed == [LIST], installed
        new = p.lists.lists.lists[LIST]
        async with p.store.engine.connect() as conn:
            out["diff"] = (await conn.execute(select(list_versions.c.added, list_versions.c.removed,
                                                     list_versions.c.changed).where(
                list_versions.c.digest == new.fingerprints.digest))).one()
        t0 = time.perf_counter()
        delta = changed_snapshot(new, Fingerprints.from_bytes(old_prints.to_bytes()))
        out["delta_s"] = time.perf_counter() - t0
        out["entries"], out["delta_entries"] = len(new.index), len(delta.index)

        rows = await sample_rows(p.store, args.sample)
        out["sample"] = len(rows)
        out["whole"] = rate_of(lambda r: screen_rows(p.lists.lists, {LIST: new}, p.keyring, r), rows)
        out["only_change"] = rate_of(lambda r: screen_rows(p.lists.lists, {LIST: delta}, p.keyring, r), rows)
        out["load_before"] = os.getloadavg()[0]

        rescreener = Rescreener(p)
        profiler = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        report = await rescreener.sweep()
        if profiler is not None:
            profiler.disable()
        out["sweep_s"] = time.perf_counter() - t0
        out["profiled"] = profiler is not None
        out["load_after"] = os.getloadavg()[0]
        out["report"] = report
        async with p.store.engine.connect() as conn:
            found = set((await conn.execute(select(hits.c.entry_id).distinct().where(
                hits.c.list == LIST, hits.c.entry_id.in_(planted_ids)))).scalars())
            out["run"] = (await conn.execute(
                select(rescreen_runs).order_by(rescreen_runs.c.id.desc()).limit(1))).first()
        out["recall"] = (len(found), len(planted_ids))
        out["other_hits"] = sum(1 for a in report.alerts if a.watchlist.entry_id not in set(planted_ids))
        if profiler is not None:
            out["profile"] = profiler
    finally:
        await p.close()
    return out


def print_in_process(f: dict[str, Any], stored: int) -> None:
    r = f["report"]
    added, removed, changed = f["diff"]
    whole_rate, whole_hits = f["whole"]
    delta_rate, _ = f["only_change"]
    sweep_rate = r.travellers / f["sweep_s"] if f["sweep_s"] > 0 else float("nan")
    per_m = 1_000_000 / sweep_rate if sweep_rate else float("nan")
    print(f"new version: {f['entries']:,} entries (+{added} -{removed} ~{changed}), installed by check_files in "
          f"{f['install_s']:.2f} s; change index of {f['delta_entries']:,} entries built in {f['delta_s']:.3f} s")
    print(f"{'':62} {'travellers/s':>13} {'1M travellers':>14} {'ratio':>7}")
    label = f"baseline: screen_rows vs whole list ({f['sample']:,} sample, extrapolated)"
    print(f"{label:62} {whole_rate:13,.0f} {1_000_000 / whole_rate:12,.0f} s {1.0:7.2f}")
    print(f"{'screen_rows vs change index only (same sample, CPU only)':62} {delta_rate:13,.0f} "
          f"{1_000_000 / delta_rate:12,.1f} s {delta_rate / whole_rate:7.1f}")
    label = f"Rescreener.sweep, all {r.travellers:,} stored (reads, commits)"
    print(f"{label:62} {sweep_rate:13,.0f} "
          f"{per_m:12,.1f} s {sweep_rate / whole_rate:7.1f}")
    print(f"sweep: {r.manifests:,} manifests, {r.travellers:,} travellers in {f['sweep_s']:.1f} s; new hits "
          f"{r.new_hits} (planted found {f['recall'][0]}/{f['recall'][1]} = "
          f"{f['recall'][0] / max(1, f['recall'][1]):.0%}; {f['other_hits']} on other entries); "
          f"the whole list would have raised {whole_hits} on the sample (old hits included)")
    run = f["run"]
    if run is not None:
        print(f"rescreen_runs: trigger {run.trigger}, entries {run.entries}, travellers {run.travellers:,}, "
              f"new_hits {run.new_hits}, status {run.status}, seconds {run.seconds or 0:.1f} (from the install: "
              f"the baseline's runs included)")
    scale = stored / r.travellers if r.travellers else float("nan")
    goal = f["sweep_s"] * (1_000_000 / stored if stored else float("nan"))
    print(f"goal: 1,000,000 travellers re-screened in under 60 s: {'met' if goal < 60 else 'NOT met'} "
          f"({goal:.1f} s{', scaled from ' + f'{stored:,}' if stored != 1_000_000 else ''}; "
          f"stored/considered {scale:.2f}); load {f['load_before']:.2f} -> {f['load_after']:.2f}"
          f"{'; UNDER cProfile (slower): run without --profile for the figure' if f['profiled'] else ''}", flush=True)
    if "profile" in f:
        stats = pstats.Stats(f["profile"], stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(25)


def print_service(s: dict[str, Any]) -> None:
    quiet, busy, run = s["quiet"], s["busy"], s["run"]
    print(f"{'service, 2 workers, sustained, no re-screen':62} {quiet:13,.0f} travellers/s {1.0:7.2f}")
    print(f"{'service, 2 workers, sustained, during the re-screen':62} {busy:13,.0f} travellers/s "
          f"{busy / quiet:7.2f}")
    print(f"the workers noticed the file in {s['noticed_s']:.1f} s; backlog drained in {s['backlog_s']:.1f} s; "
          f"run: {run.travellers:,} travellers, {run.manifests:,} manifests, new_hits {run.new_hits}, "
          f"{run.seconds or 0:.1f} s ({run.travellers / (run.seconds or float('nan')):,.0f} travellers/s), "
          f"status {run.status}")
    over = "the whole backlog" if s["backlog_s"] <= (run.seconds or 0) else \
        f"the first {(run.seconds or 0) / s['backlog_s']:.0%} of the backlog"
    print(f"the re-screen ran during {over}")
    print(f"goal ≥ 10,000 travellers/s with 2 workers during a re-screen: {'met' if busy >= 10_000 else 'NOT met'} "
          f"({busy:,.0f}; {quiet:,.0f} without); {load_line()}", flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
