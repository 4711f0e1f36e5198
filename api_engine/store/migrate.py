"""Run the packaged Alembic migrations on an async engine, from an installed package.

Strategy: no alembic.ini; the Config points at `api_engine/migrations` next to this package and
the migration runs on the caller's connection (see migrations/env.py). On PostgreSQL a
transaction-scoped advisory lock makes N workers starting at once migrate one after the other.
Inside one process, Alembic's environment lives in module globals, so upgrades are serialised per
event loop and skipped outright when the database is already at the heads.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_ADVISORY_LOCK = 0x41504945  # "APIE": any constant shared by every worker


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for the packaged migrations (usable with alembic.command.*)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """The newest revision; with several branches (heads) their ids sorted and joined by commas."""
    heads = sorted(ScriptDirectory.from_config(alembic_config()).get_heads())
    return ",".join(heads) or None


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _current(connection: Connection) -> str | None:
    heads = sorted(MigrationContext.configure(connection).get_current_heads())
    return ",".join(heads) or None


_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _loop_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _LOCKS.get(loop)
    if lock is None:
        lock = _LOCKS[loop] = asyncio.Lock()
    return lock


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the database to `revision` (default: every branch's newest) in one transaction."""
    async with _loop_lock():
        if revision == "heads" and await current_revision(engine) == head_revision():
            return  # already there: no Alembic environment needed (and none to collide with)
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
