"""The store: migrations build the same schema on SQLite and PostgreSQL, and retention can reach data.

Strategy: every test gets a fresh database from the `database_url` fixture (both back ends); the
schema is checked against the SQLAlchemy metadata with Alembic's own comparison, so a model change
without a migration fails here.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, inspect, select
from sqlalchemy.engine import Connection

from api_engine.store import Store, current_revision, head_revision, metadata
from api_engine.store.schema import interchanges, raw_messages

TABLES = {"interchanges", "raw_messages", "duplicate_register", "manifests", "travellers", "hits", "assemblies",
          "assembly_parts", "processed_records", "output_events"}


def _diff(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_open_runs_migrations_and_creates_the_schema(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_tables) >= TABLES
            assert await conn.run_sync(_diff) == []  # migrations and schema.py agree
        assert await current_revision(store.engine) == head_revision()
    finally:
        await store.close()
    again = await Store.open(database_url)  # reopening an up-to-date database is a no-op
    try:
        assert await again.count("manifests") == 0
    finally:
        await again.close()


async def test_raw_bytes_can_be_deleted_without_losing_the_interchange_record(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        async with store.transaction() as conn:
            iid = await Store.add_interchange(conn, b"UNA:+.? '", record_id="r" * 64, source="test",
                                              sender="XXAIRAPI", interchange_ref="1", content_hash="h" * 64,
                                              status="processed", lane="border")
        async with store.transaction() as conn:
            await conn.execute(delete(raw_messages).where(raw_messages.c.interchange_id == iid))
        async with store.engine.connect() as conn:
            assert (await conn.execute(select(interchanges.c.sender))).scalar_one() == "XXAIRAPI"
        assert await store.count("raw_messages") == 0
    finally:
        await store.close()


async def test_writers_of_two_stores_on_one_file_take_turns(database_url: str) -> None:
    """Two workers (two stores) writing to one database: both transactions commit, neither fails with
    'database is locked'; on a SQLite file the second writer waits for the first to commit (PostgreSQL
    lets writers of different rows through together)."""
    first, second = await Store.open(database_url), await Store.open(database_url)
    order: list[str] = []
    held = asyncio.Event()

    async def write(store: Store, name: str, hold_s: float) -> None:
        async with store.transaction() as conn:
            order.append(f"{name} in")
            await Store.add_interchange(conn, b"UNA:+.? '", record_id=name * 64, source="test", sender=name,
                                        interchange_ref=name, content_hash=name * 64, status="processed",
                                        lane="border")
            held.set()
            await asyncio.sleep(hold_s)
            order.append(f"{name} out")

    try:
        a = asyncio.create_task(write(first, "a", 0.5))
        await held.wait()
        await write(second, "b", 0.0)
        await a
        assert await first.count("interchanges") == 2
    finally:
        await first.close()
        await second.close()
    if database_url.startswith("sqlite"):
        assert order == ["a in", "a out", "b in", "b out"]


_BUSY_WRITER = """
import asyncio, sys, time
from sqlalchemy import text
from api_engine.store import Store

async def main() -> None:
    store = await Store.open(sys.argv[1], run_migrations=False)
    print("writing", flush=True)
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:  # a worker with records queued: asks again the moment it commits
        async with store.transaction() as conn:
            await conn.execute(text("UPDATE busy SET n = n + 1"))
            time.sleep(0.002)
    await store.close()

asyncio.run(main())
"""


async def test_writers_in_other_processes_that_never_pause_do_not_starve_this_one(tmp_path: Path) -> None:
    """Two serve workers with records queued take the write lock again the moment they commit. An
    officer's decision, a backup's audit entry or `users add` in another process must still get its
    turn within a few of their transactions, not wait for as long as they stay busy."""
    from sqlalchemy import text

    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    store = await Store.open(url)
    async with store.transaction() as conn:
        await conn.execute(text("CREATE TABLE busy (n INTEGER)"))
        await conn.execute(text("INSERT INTO busy VALUES (0)"))
    busy = await asyncio.create_subprocess_exec(sys.executable, "-c", _BUSY_WRITER, url, "12",
                                                stdout=asyncio.subprocess.PIPE)
    busy2 = await asyncio.create_subprocess_exec(sys.executable, "-c", _BUSY_WRITER, url, "12",
                                                 stdout=asyncio.subprocess.PIPE)
    try:
        assert busy.stdout is not None
        assert (await busy.stdout.readline()).strip() == b"writing"
        assert busy2.stdout is not None and (await busy2.stdout.readline()).strip() == b"writing"
        await asyncio.sleep(0.5)
        waits = []
        for _ in range(20):
            asked = time.monotonic()
            async with store.transaction() as conn:
                waits.append(time.monotonic() - asked)
                await conn.execute(text("UPDATE busy SET n = n - 1"))
        assert busy.returncode is None and busy2.returncode is None, "a busy writer stopped before the test ended"
        assert max(waits) < 2.0, [round(w, 3) for w in waits]
        async with store.transaction() as conn:
            assert (await conn.execute(text("SELECT n FROM busy"))).scalar_one() > 100  # they did keep writing
    finally:
        for proc in (busy, busy2):
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        await store.close()
