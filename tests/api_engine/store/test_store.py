"""The store: migrations build the same schema on SQLite and PostgreSQL, and retention can reach data.

Strategy: every test gets a fresh database from the `database_url` fixture (both back ends); the
schema is checked against the SQLAlchemy metadata with Alembic's own comparison, so a model change
without a migration fails here.
"""

from __future__ import annotations

import asyncio

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
