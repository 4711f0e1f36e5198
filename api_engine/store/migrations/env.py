"""Alembic environment for the store: runs on a connection handed over by the caller.

Strategy: `api_engine.store.migrate` opens the async engine, takes a connection, and passes its
sync face in `config.attributes["connection"]`, so migrations run inside the service's own
connection (and its PostgreSQL advisory lock) from an installed package, with no alembic.ini.
Run by hand (`alembic -c ...`) it builds its own engine from `sqlalchemy.url`. SQLite gets batch
mode so later ALTERs work there too.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from api_engine.store.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_own_engine(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def run() -> None:
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no connection given and sqlalchemy.url is not set")
        asyncio.run(_run_own_engine(url))


run()
