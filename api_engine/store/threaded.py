"""A record's SQLite transaction run whole on one store thread, over a plain sqlite3 connection.

Why: aiosqlite hands every cursor call to its own thread and back (about four hops a statement:
0.37 ms for a one-row SELECT on this 2-core machine), while the same statement on a plain sqlite3
connection costs 0.03 ms. A small record makes about twenty statements, so the hops, not SQLite,
were most of what a worker spent on an iAPI request. Here the per-record path's coroutines run
unchanged on a private event loop in one thread, against `ThreadedConnection`, which answers the few
AsyncConnection calls they make directly from a synchronous connection. The caller's event loop
waits for one hop per transaction instead of a hundred.

PostgreSQL keeps the async driver: its statements are network round trips either way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import CursorResult, Dialect

_T = TypeVar("_T")


class ThreadedConnection:
    """The AsyncConnection calls of the per-record path, answered by a synchronous connection.

    Only for coroutines run by `StoreThread`: every call completes at once (SQLite does no I/O wait
    worth yielding for here), so nothing else runs on the store thread's loop meanwhile."""

    def __init__(self, conn: Connection) -> None:
        self.sync_connection = conn
        self.dialect: Dialect = conn.dialect

    async def execute(self, statement: Any, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
                      ) -> CursorResult[*tuple[Any, ...]]:
        return self.sync_connection.execute(statement, parameters)

    async def scalar(self, statement: Any, parameters: Mapping[str, Any] | None = None) -> Any:
        return self.sync_connection.scalar(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> CursorResult[*tuple[Any, ...]]:
        return self.sync_connection.exec_driver_sql(statement, parameters)

    async def run_sync(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        return fn(self.sync_connection, *args, **kwargs)


def _large_cache(dbapi_connection: Any, _record: Any) -> None:
    """64 MiB of page cache for the per-record connections (SQLite's default is 2 MiB): the indexes on
    record ids and content hashes take keys in random order, so once the file outgrew the cache nearly
    every insert read index pages back, and a record's cost grew with the store."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


class StoreThread:
    """A write thread and a read thread, each with its own event loop, and a synchronous engine on the same
    SQLite file (WAL: readers never wait for the writer)."""

    def __init__(self, database: str, on_connect: Callable[[Any, Any], None]) -> None:
        self.engine: Engine = create_engine(f"sqlite:///{database}", connect_args={"check_same_thread": False})
        event.listen(self.engine, "connect", on_connect)
        event.listen(self.engine, "connect", _large_cache)
        self._local = threading.local()
        # Writes take turns on one thread; reads have their own, so a write waiting for another process's
        # lock never holds up a look-up (a carrier's token, a replay check).
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-write")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-read")

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
        return loop

    def _connection(self) -> Connection:
        """This thread's connection, kept between transactions (a pool check-out and its reset cost more
        than a small record's statements)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self.engine.connect()
        return conn

    def _run(self, fn: Callable[[ThreadedConnection], Awaitable[_T]], write: bool) -> _T:
        conn = self._connection()
        try:
            if write:
                with conn.begin():
                    return self._loop().run_until_complete(fn(ThreadedConnection(conn)))
            try:
                return self._loop().run_until_complete(fn(ThreadedConnection(conn)))
            finally:
                conn.rollback()  # a read must not keep its snapshot open: it would hold the WAL back
        except BaseException:
            conn.close()  # whatever state it was left in, the next transaction starts on a fresh one
            raise

    async def run(self, fn: Callable[[ThreadedConnection], Awaitable[_T]], *, write: bool) -> _T:
        """`fn` on the store thread, in one transaction if `write` (committed when it returns, rolled
        back if it raises). If the caller is cancelled meanwhile, this still waits for the thread to
        finish: the caller's write lock must not be released while the transaction is open."""
        done = asyncio.get_running_loop().run_in_executor(self._writer if write else self._reader, self._run, fn, write)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            await asyncio.wait([done])
            raise

    def close(self) -> None:
        for pool in (self._writer, self._reader):
            pool.submit(self._close_loop).result()
            pool.shutdown(wait=True)
        self.engine.dispose()

    def _close_loop(self) -> None:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is not None:
            loop.close()
