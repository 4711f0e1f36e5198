"""Purge throughput: travellers removed per second by the retention job, on SQLite and PostgreSQL.

Strategy: bulk-insert synthetic rows straight into the store (interchanges, manifests of 200
travellers with encrypted-looking identifying columns, raw bytes, a few confirmed hits that must
survive), then time `run_retention` with a clock past the border-lane period. The baseline, measured
in the same run on a sample of the same rows, is the plain job anyone would write first: select the
expired travellers not held by a hit, then `DELETE ... WHERE id IN (batch)` with one commit per
`--batch-size` rows (the job's own batch size). It deletes traveller rows only (no raw messages, no
manifests, no audit entry), so it is a floor under the job's cost, not the same work. Prints
travellers/s for both and their ratio.
Usage: python bench/bench_purge.py [--travellers 1000000] [--sample 2000] [--sqlite] [--postgresql URL]
PostgreSQL default: a fresh database on 127.0.0.1:5432 (user postgres), dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert, select

from api_engine.protection.crypto import Keyring
from api_engine.protection.retention import load_policy, run_retention
from api_engine.store import Store
from api_engine.store.schema import hits, interchanges, manifests, raw_messages, travellers

PER_MANIFEST = 200
RECEIVED = datetime(2025, 3, 1, 12, tzinfo=UTC)


async def populate(store: Store, n: int, ring: Keyring) -> None:
    """n travellers in manifests of PER_MANIFEST, with raw bytes; one traveller per 10,000 holds a hit."""
    n_manifests = (n + PER_MANIFEST - 1) // PER_MANIFEST
    token = ring.encrypt_text("SYNTHETIC", "travellers.surname")
    blob = ring.encrypt_bytes(b"UNA:+.? 'UNB+UNOA:4+XX+YY'" + b"x" * 4000, "raw_messages.raw")
    start = time.perf_counter()
    async with store.transaction() as conn:
        for lo in range(0, n_manifests, 500):
            hi = min(lo + 500, n_manifests)
            await conn.execute(insert(interchanges), [
                {"id": i + 1, "record_id": f"{i:064d}", "source": "bench", "sender": "XX", "content_hash": f"{i:064x}",
                 "size": 4000, "status": "processed", "lane": "border", "received_at": RECEIVED}
                for i in range(lo, hi)])
            await conn.execute(insert(raw_messages), [{"interchange_id": i + 1, "raw": blob} for i in range(lo, hi)])
            await conn.execute(insert(manifests), [
                {"id": i + 1, "uid": f"{i:032d}", "interchange_id": i + 1, "assembly_key": "k", "flight_key": f"XX{i}",
                 "version": 1, "lane": "border", "complete": True, "parts": "[]", "passengers": PER_MANIFEST,
                 "crew": 0, "header_json": "{}", "created_at": RECEIVED, "arrives_at": RECEIVED + timedelta(hours=8)}
                for i in range(lo, hi)])
        for lo in range(0, n, 20_000):
            hi = min(lo + 20_000, n)
            await conn.execute(insert(travellers), [
                {"id": t + 1, "manifest_id": t // PER_MANIFEST + 1, "position": t % PER_MANIFEST, "ref": f"r{t}",
                 "role": "passenger", "party_function": "FL", "surname": token, "given_names": token,
                 "date_of_birth": token, "gender": "F", "nationality": "GBR", "doc_type": "P", "doc_number": token,
                 "doc_issuing_state": "GBR", "traveller_json": token} for t in range(lo, hi)])
        held = list(range(0, n, 10_000))
        await conn.execute(insert(hits), [
            {"manifest_id": t // PER_MANIFEST + 1, "traveller_id": t + 1, "alert_event_id": f"a{t}", "list": "l",
             "entry_id": "e", "score": 0.9, "explanation": "[]", "status": "confirmed", "created_at": RECEIVED}
            for t in held])
        if store.engine.dialect.name == "postgresql":
            for table in ("interchanges", "manifests", "travellers", "hits"):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    if store.engine.dialect.name == "postgresql":
        async with store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("ANALYZE")
    print(f"  setup: {n:,} travellers in {n_manifests:,} manifests inserted in {time.perf_counter() - start:.1f} s",
          flush=True)


async def batched_baseline(store: Store, sample: int, batch: int) -> float:
    """Select the sample's ids, then one `DELETE ... WHERE id IN (...)` and one commit per batch; travellers/s."""
    start = time.perf_counter()
    async with store.engine.connect() as conn:
        ids = [r[0] for r in await conn.execute(
            select(travellers.c.id).where(~travellers.c.id.in_(select(hits.c.traveller_id)))
            .order_by(travellers.c.id.desc()).limit(sample))]
    for lo in range(0, len(ids), batch):
        async with store.transaction() as conn:
            await conn.execute(delete(travellers).where(travellers.c.id.in_(ids[lo:lo + batch])))
    return len(ids) / (time.perf_counter() - start)


async def bench(url: str, n: int, sample: int, batch: int) -> None:
    store = await Store.open(url)
    ring = Keyring.generate()
    try:
        await populate(store, n, ring)
        sample = min(sample, n // 4)  # most rows stay for the job itself
        baseline = await batched_baseline(store, sample, batch)
        start = time.perf_counter()
        report = await run_retention(store, load_policy(), now=RECEIVED + timedelta(days=3), batch_size=batch,
                                     keyring=ring)
        elapsed = time.perf_counter() - start
        purged = report.counts.get("travellers_deleted", 0)
        left = await store.count("travellers")
        rate = purged / elapsed
        print(f"  retention job: {purged:,} travellers purged (+{report.counts.get('raw_messages_deleted', 0):,} raw "
              f"messages) in {elapsed:.1f} s = {rate:,.0f} travellers/s; {left:,} held by confirmed hits remain")
        print(f"  baseline, batched DELETE of traveller rows only ({sample:,} travellers, {batch:,} per commit): "
              f"{baseline:,.0f} travellers/s; job/baseline {rate / baseline:.2f}x", flush=True)
        # A second run is a no-op (idempotence at scale).
        start = time.perf_counter()
        again = await run_retention(store, load_policy(), now=RECEIVED + timedelta(days=3), keyring=ring)
        assert not any(again.counts.values()), again.counts
        print(f"  second run (nothing due): {time.perf_counter() - start:.2f} s")
    finally:
        await store.close()


async def _pg_database(base: str) -> tuple[str, str]:
    import asyncpg  # type: ignore[import-untyped]

    name = f"apie_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return base.rsplit("/", 1)[0] + f"/{name}", name


async def _pg_drop(base: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--travellers", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=50_000,
                    help="travellers deleted by the batched baseline (at most a quarter of --travellers)")
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--sqlite", action="store_true", help="only SQLite")
    ap.add_argument("--postgresql", nargs="?", const="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                    help="only PostgreSQL (admin URL; a scratch database is created and dropped)")
    args = ap.parse_args(argv)
    both = not args.sqlite and not args.postgresql
    if args.sqlite or both:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite ({args.travellers:,} travellers)", flush=True)
            await bench(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args.travellers, args.sample, args.batch_size)
    if args.postgresql or both:
        base = args.postgresql or "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        url, name = await _pg_database(base)
        try:
            print(f"PostgreSQL ({args.travellers:,} travellers)", flush=True)
            await bench(url, args.travellers, args.sample, args.batch_size)
        finally:
            await _pg_drop(base, name)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
