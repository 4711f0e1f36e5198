"""The async store: one engine, short transactions, and the few queries the processor needs.

Strategy: `Store.open(url)` creates the engine and runs the packaged migrations (never
`create_all`), so SQLite and PostgreSQL get the same schema by the same path. The processor owns
the transaction (`async with store.transaction() as conn`) and calls the query helpers with it,
so everything one input record changes (interchange, parts, manifests, travellers, hits, duplicate
register, outputs) commits or rolls back together.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, event, func, insert, select, update
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from api_engine.files import create_private_file

from . import migrate
from .schema import (
    assemblies,
    assembly_parts,
    duplicate_register,
    hits,
    interchanges,
    manifests,
    metadata,
    output_events,
    processed_records,
    raw_messages,
    travellers,
)
from .threaded import StoreThread, ThreadedConnection

_T = TypeVar("_T")
# A connection the per-record helpers accept: async, or the store thread's (see `threaded`).
Connected = AsyncConnection | ThreadedConnection

# Hit statuses awaiting a person: a newer version of the list carries them, it never closes them.
CARRIED_STATUSES = ("open", "escalated")


def now() -> datetime:
    return datetime.now(UTC)


def stored_utc(at: datetime | None) -> datetime | None:
    """A time as stored: SQLite gives it back naive, PostgreSQL aware; both mean UTC."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def insert_ignoring_conflicts(conn: Connected, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the primary key, in the connection's dialect: the rows
    another writer inserted first are left as they are, and the ids returned are the rows this one made."""
    from sqlalchemy.dialects import postgresql, sqlite

    stmt = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table).on_conflict_do_nothing()
    return stmt.returning(*table.primary_key.columns)


@dataclass(frozen=True)
class StoredOutput:
    """One output event as stored for a record: re-emitted unchanged on replay."""

    kind: str
    key: bytes
    value: bytes
    event_id: str


@dataclass(frozen=True)
class AssemblyState:
    key_hash: str
    generation: int
    complete: bool
    digest: str | None
    manifest_id: int | None


def _release_when_taken(fd: int, acquiring: asyncio.Future[None]) -> None:
    if not acquiring.cancelled() and acquiring.exception() is None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys (for ON DELETE CASCADE), a busy timeout instead of instant 'locked' errors, and
    secure delete: a deleted row's bytes are overwritten with zeros, not left in free pages for
    anyone with the file (retention deletes for real whatever the SQLite build's default)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across process crashes, fsync at checkpoints
    cursor.close()


_INSERTS: dict[tuple[str, str, tuple[str, ...]], str] = {}
_OUTPUT_COLUMNS = ("record_id", "position", "kind", "event_id", "key", "value")


def _insert_sql(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> str:
    """A plain positional INSERT of these columns in this dialect, compiled once."""
    key = (dialect.name, table.name, columns)
    sql = _INSERTS.get(key)
    if sql is None:
        compiled = insert(table).inline().compile(dialect=dialect, column_keys=list(columns))
        if list(compiled.positiontup or ()) != list(columns):
            raise ValueError(f"{dialect.name}: parameters of an INSERT into {table.name} are not positional")
        sql = _INSERTS[key] = str(compiled)
    return sql


# The statements of the per-record path, built once: building a statement for every call (`.values(...)`,
# `.where(...)`) and working out its cache key cost more Python than executing it.
_SEEN_RECORDS = select(processed_records.c.record_id).where(
    processed_records.c.record_id.in_(bindparam("ids", expanding=True)))
_OUTPUTS_OF = (select(output_events.c.record_id, output_events.c.kind, output_events.c.key, output_events.c.value,
                      output_events.c.event_id)
               .where(output_events.c.record_id.in_(bindparam("ids", expanding=True)))
               .order_by(output_events.c.record_id, output_events.c.position))
_DUP_BY_HASH = (select(duplicate_register.c.interchange_id)
                .where(duplicate_register.c.content_hash == bindparam("content_hash"))
                .order_by(duplicate_register.c.id).limit(1))
_REF_USES = select(func.count()).select_from(duplicate_register).where(
    duplicate_register.c.sender == bindparam("sender"),
    duplicate_register.c.interchange_ref == bindparam("interchange_ref"))
_REGISTER = insert(duplicate_register)
_ADD_INTERCHANGE = insert(interchanges).returning(interchanges.c.id)
_ADD_RAW = insert(raw_messages)
_ADD_RECORD = insert(processed_records)
_CURRENT_MANIFEST = {  # by whether the document code and sender are known (`= NULL` would never match)
    (known, sender): select(manifests.c.id, manifests.c.version, manifests.c.uid)
    .where(manifests.c.flight_key == bindparam("flight_key"),
           manifests.c.document_code == bindparam("document_code") if known else manifests.c.document_code.is_(None),
           manifests.c.sender == bindparam("sender") if sender else manifests.c.sender.is_(None),
           manifests.c.lane == bindparam("lane"), manifests.c.replaced_by.is_(None))
    .order_by(manifests.c.version.desc()).limit(1)
    for known in (True, False) for sender in (True, False)}
_OTHER_SENDERS = {  # by whether the document code and sender are known, as _CURRENT_MANIFEST
    (known, sender): select(manifests.c.sender).distinct()
    .where(manifests.c.flight_key == bindparam("flight_key"), manifests.c.lane == bindparam("lane"),
           manifests.c.document_code == bindparam("document_code") if known else manifests.c.document_code.is_(None),
           manifests.c.replaced_by.is_(None),
           manifests.c.sender.is_distinct_from(bindparam("sender")) if sender else manifests.c.sender.is_not(None))
    .order_by(manifests.c.sender)
    for known in (True, False) for sender in (True, False)}
_ADD_MANIFEST = insert(manifests).returning(manifests.c.id)
_REPLACE_MANIFEST = update(manifests).where(manifests.c.id == bindparam("prev_id")).values(
    replaced_by=bindparam("new_id"))
_TRAVELLER_IDS = select(travellers.c.position, travellers.c.id).where(
    travellers.c.manifest_id == bindparam("manifest_id"),
    travellers.c.position.in_(bindparam("positions", expanding=True)))
_ADD_HITS = insert(hits)


class Store:
    """Access to the database behind one URL (sqlite+aiosqlite:// or postgresql+asyncpg://)."""

    def __init__(self, engine: AsyncEngine, write_lock: Path | None = None, thread: StoreThread | None = None) -> None:
        self.engine = engine
        # SQLite file: writers of all processes take turns through a lock file (see `transaction`).
        self._lock_fd = os.open(write_lock, os.O_RDWR | os.O_CREAT, 0o600) if write_lock is not None else None
        self._local_writer = asyncio.Lock()
        self._thread = thread

    @classmethod
    async def open(cls, url: str, *, run_migrations: bool = True) -> Store:
        """Connect and bring the schema to the newest migration."""
        parsed = make_url(url)
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                # Created 0600 in a 0700 folder before SQLite opens it: SQLite gives its journal and
                # WAL files the database file's mode, so no local user can read any of them.
                create_private_file(Path(parsed.database))
        else:
            kwargs.update(pool_size=5, max_overflow=5, pool_recycle=1800)
        engine = create_async_engine(url, **kwargs)
        write_lock, thread = None, None
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            if parsed.database and parsed.database != ":memory:":
                write_lock = Path(f"{parsed.database}.writer-lock")
                thread = StoreThread(parsed.database, _sqlite_pragmas)
        store = cls(engine, write_lock, thread)
        if run_migrations:
            try:
                await migrate.upgrade(engine)
            except BaseException:
                await store.close()
                raise
        return store

    async def close(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self._thread.close)
            self._thread = None
        await self.engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @asynccontextmanager
    async def transaction(self, exclusive: asyncio.Lock | None = None) -> AsyncIterator[AsyncConnection]:
        """One read-write transaction; on a SQLite file, one writer at a time across processes.

        SQLite lets one writer in and makes the others poll with growing sleeps (up to 100 ms each)
        until the lock is free; with several workers on one file that idled whole cores. A kernel
        file lock wakes the next writer the moment the previous one commits.
        `exclusive`, if given, is held from the moment this process may write until the commit: taken
        after the file lock, so that waiting for another process's writer does not hold it.
        """
        if self._lock_fd is None:
            async with exclusive or contextlib.nullcontext(), self.engine.begin() as conn:
                yield conn
            return
        async with self._writer(exclusive), self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _writer(self, exclusive: asyncio.Lock | None) -> AsyncIterator[None]:
        """This process's turn to write the SQLite file, then the other processes' (the lock file)."""
        fd = self._lock_fd
        assert fd is not None
        async with self._local_writer:  # tasks of this process queue here (flock would let them all in)
            acquiring = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX))
            try:
                await asyncio.shield(acquiring)
            except asyncio.CancelledError:  # the thread still takes the lock: give it back when it does
                acquiring.add_done_callback(partial(_release_when_taken, fd))
                raise
            try:
                async with exclusive or contextlib.nullcontext():
                    yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    async def write(self, fn: Callable[[Connected], Awaitable[_T]], exclusive: asyncio.Lock | None = None) -> _T:
        """`fn(conn)` in one read-write transaction, as `transaction` gives it; on a SQLite file, run whole
        on the store thread (see `threaded`): the per-record path costs a tenth of what it does through
        aiosqlite."""
        if self._thread is None:
            async with self.transaction(exclusive) as conn:
                return await fn(conn)
        async with self._writer(exclusive):
            return await self._thread.run(fn, write=True)

    async def read(self, fn: Callable[[Connected], Awaitable[_T]]) -> _T:
        """`fn(conn)` on a read connection (the store thread on a SQLite file)."""
        if self._thread is None:
            async with self.engine.connect() as conn:
                return await fn(conn)
        return await self._thread.run(fn, write=False)

    # ---- replay and duplicates ------------------------------------------------------------------

    @staticmethod
    async def stored_outputs(conn: Connected, record_id: str) -> list[StoredOutput] | None:
        """The outputs of a record already processed, in their original order; None if new."""
        return (await Store.stored_outputs_many(conn, [record_id])).get(record_id)

    @staticmethod
    async def stored_outputs_many(conn: Connected, record_ids: Sequence[str]) -> dict[str, list[StoredOutput]]:
        """`stored_outputs` for many records in two queries; records not processed yet are absent."""
        wanted = list(dict.fromkeys(record_ids))
        if not wanted:
            return {}
        seen = (await conn.execute(_SEEN_RECORDS, {"ids": wanted})).scalars().all()
        out: dict[str, list[StoredOutput]] = {rid: [] for rid in seen}
        if out:
            rows = await conn.execute(_OUTPUTS_OF, {"ids": list(out)})
            for r in rows:
                out[r.record_id].append(StoredOutput(kind=r.kind, key=bytes(r.key), value=bytes(r.value),
                                                     event_id=r.event_id))
        return out

    @staticmethod
    async def find_duplicate(conn: Connected, content_hash: str) -> int | None:
        """The interchange id registered with exactly these bytes: only the same bytes are a duplicate.

        A reference reused with other content is not one (a decoy sent first must not get the real
        list dropped): see `reference_uses`."""
        found: int | None = await conn.scalar(_DUP_BY_HASH, {"content_hash": content_hash})
        return found

    @staticmethod
    async def reference_uses(conn: Connected, sender: str, interchange_ref: str) -> int:
        """How many processed interchanges were registered under this sender + UNB 0020 before."""
        n: int = await conn.scalar(_REF_USES, {"sender": sender, "interchange_ref": interchange_ref}) or 0
        return n

    @staticmethod
    async def register(conn: Connected, sender: str, interchange_ref: str, content_hash: str,
                       interchange_id: int, occurrence: int = 1) -> None:
        """Register a processed interchange; `occurrence` = 1 + `reference_uses` (two writers collide)."""
        await conn.execute(_REGISTER, {
            "sender": sender, "interchange_ref": interchange_ref, "content_hash": content_hash,
            "interchange_id": interchange_id, "registered_at": now(), "occurrence": occurrence})

    @staticmethod
    async def add_interchange(conn: Connected, raw: bytes, **values: Any) -> int:
        """The received interchange and, in its own table (for retention), its raw bytes."""
        values.setdefault("size", len(raw))  # the caller may store sealed bytes and give the original size
        new_id: int = (await conn.execute(_ADD_INTERCHANGE, {"received_at": now(), **values})).scalar_one()
        await conn.execute(_ADD_RAW, {"interchange_id": new_id, "raw": raw})
        return new_id

    @staticmethod
    async def save_record(conn: Connected, record_id: str, interchange_id: int | None, outcome: str,
                          outputs: Sequence[StoredOutput]) -> None:
        await conn.execute(_ADD_RECORD, {
            "record_id": record_id, "interchange_id": interchange_id, "outcome": outcome, "created_at": now()})
        if outputs:
            sql = _insert_sql(conn.dialect, output_events, _OUTPUT_COLUMNS)
            await conn.exec_driver_sql(sql, [(record_id, i, o.kind, o.event_id, o.key, o.value)
                                             for i, o in enumerate(outputs)])

    # ---- multi-part state -----------------------------------------------------------------------

    @staticmethod
    async def assembly_state(conn: Connected, key_hash: str) -> AssemblyState | None:
        row = (await conn.execute(select(assemblies).where(assemblies.c.key_hash == key_hash))).first()
        if row is None:
            return None
        return AssemblyState(key_hash=row.key_hash, generation=row.generation, complete=row.complete,
                             digest=row.digest, manifest_id=row.manifest_id)

    @staticmethod
    async def save_assembly(conn: Connected, state: AssemblyState, *, create: bool,
                            **identity: Any) -> None:
        values = {"generation": state.generation, "complete": state.complete, "digest": state.digest,
                  "manifest_id": state.manifest_id, "updated_at": now()}
        if create:
            await conn.execute(insert(assemblies).values(key_hash=state.key_hash, **identity, **values))
        else:
            await conn.execute(update(assemblies).where(assemblies.c.key_hash == state.key_hash).values(**values))

    @staticmethod
    async def link_assembly(conn: Connected, key_hash: str, manifest_id: int) -> None:
        """Point the multi-part state at the manifest its parts produced."""
        await conn.execute(update(assemblies).where(assemblies.c.key_hash == key_hash)
                           .values(manifest_id=manifest_id))

    @staticmethod
    async def add_part(conn: Connected, key_hash: str, generation: int, sequence: int | None,
                       sequence_flag: str | None, interchange_id: int, manifest_json: str) -> None:
        await conn.execute(insert(assembly_parts).values(
            key_hash=key_hash, generation=generation, sequence=sequence, sequence_flag=sequence_flag,
            interchange_id=interchange_id, manifest_json=manifest_json, received_at=now()))

    @staticmethod
    async def parts(conn: Connected, key_hash: str, generation: int) -> list[str]:
        """The stored parts of one assembly generation, in arrival order."""
        rows = await conn.execute(select(assembly_parts.c.manifest_json)
                                  .where(assembly_parts.c.key_hash == key_hash,
                                         assembly_parts.c.generation == generation)
                                  .order_by(assembly_parts.c.id))
        return [r[0] for r in rows]

    # ---- manifests, travellers, hits ------------------------------------------------------------

    @staticmethod
    async def add_manifest(conn: Connected, **values: Any) -> tuple[int, int, str | None]:
        """Insert a manifest version; the current one for the same flight, document, lane AND sender is
        replaced. A list from another sender never replaces it: it is kept beside (`other_senders`).

        Returns (id, version, uid of the version it replaces)."""
        code, sender = values.get("document_code"), values.get("sender")
        params = {"flight_key": values["flight_key"], "lane": values["lane"]}
        if code is not None:
            params["document_code"] = code
        if sender is not None:
            params["sender"] = sender
        prev = (await conn.execute(_CURRENT_MANIFEST[code is not None, sender is not None], params)).first()
        version = prev.version + 1 if prev is not None else 1
        new_id: int = (await conn.execute(_ADD_MANIFEST, {"version": version, "created_at": now(), **values})
                       ).scalar_one()
        if prev is not None:
            await conn.execute(_REPLACE_MANIFEST, {"prev_id": prev.id, "new_id": new_id})
        return new_id, version, prev.uid if prev is not None else None

    @staticmethod
    async def add_travellers(conn: Connected, manifest_id: int, rows: Sequence[Mapping[str, Any]],
                             want: Sequence[int] = ()) -> dict[int, int]:
        """Insert the travellers of one manifest (rows with the same keys); returns the ids of those at
        the positions in `want`."""
        if not rows:
            return {}
        # One executemany, then (only if ids are wanted) one SELECT: INSERT ... RETURNING in parameter
        # order runs row by row on SQLite (a round trip per traveller), which cost more than the rest of
        # the record. The statement is compiled once and fed plain tuples: SQLAlchemy's per-row
        # parameter processing had cost about a third of the insert.
        columns = tuple(rows[0])
        sql = _insert_sql(conn.dialect, travellers, ("manifest_id", *columns))
        await conn.exec_driver_sql(sql, [(manifest_id, *(r[c] for c in columns)) for r in rows])
        if not want:
            return {}
        found = await conn.execute(_TRAVELLER_IDS, {"manifest_id": manifest_id, "positions": list(set(want))})
        return {position: tid for position, tid in found}

    @staticmethod
    async def add_hits(conn: Connected, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await conn.execute(_ADD_HITS, [{"created_at": now(), "status": "open", **r} for r in rows])

    @staticmethod
    def _same_flight(flight_key: str, document_code: str | None, lane: str, sender: str | None) -> list[Any]:
        return [manifests.c.flight_key == flight_key, manifests.c.lane == lane,
                manifests.c.document_code == document_code if document_code is not None
                else manifests.c.document_code.is_(None),
                manifests.c.sender == sender if sender is not None else manifests.c.sender.is_(None)]

    @staticmethod
    async def carry_hits(conn: Connected, manifest_id: int, *, flight_key: str, document_code: str | None,
                         lane: str, sender: str | None) -> int:
        """Carry the open hits of this sender's earlier versions of the list to the new version.

        An earlier hit (open or escalated) goes to the new version's hit on the same list entry for the
        same traveller (`traveller_key`), one to one: it becomes `carried` (pointing at the new hit), the
        new hit takes its status (an escalation stays escalated). A hit with no such partner, because
        the traveller is gone or no longer matches, stays open where it is: it ends only by a decision.
        Returns how many were carried."""
        olds = (await conn.execute(
            select(hits.c.id, hits.c.status, hits.c.list, hits.c.entry_id, hits.c.traveller_key)
            .select_from(hits.join(manifests, manifests.c.id == hits.c.manifest_id))
            .where(*Store._same_flight(flight_key, document_code, lane, sender), manifests.c.id != manifest_id,
                   hits.c.status.in_(CARRIED_STATUSES), hits.c.traveller_key.is_not(None))
            .order_by(hits.c.id))).all()
        if not olds:
            return 0
        free: dict[tuple[str, str, str], list[int]] = {}
        for new in await conn.execute(select(hits.c.id, hits.c.list, hits.c.entry_id, hits.c.traveller_key)
                                      .where(hits.c.manifest_id == manifest_id, hits.c.status == "open",
                                             hits.c.traveller_key.is_not(None)).order_by(hits.c.id)):
            free.setdefault((new.list, new.entry_id, new.traveller_key), []).append(new.id)
        carried = 0
        for old in olds:
            partners = free.get((old.list, old.entry_id, old.traveller_key))
            if not partners:
                continue
            # Guarded by the status read: a decision taken meanwhile wins, and the new hit stays open.
            moved = await conn.execute(update(hits).where(hits.c.id == old.id, hits.c.status == old.status)
                                       .values(status="carried", carried_to=partners[0]))
            if moved.rowcount != 1:
                continue
            await conn.execute(update(hits).where(hits.c.id == partners.pop(0)).values(status=old.status))
            carried += 1
        return carried

    @staticmethod
    async def other_senders(conn: Connected, *, flight_key: str, document_code: str | None, lane: str,
                            sender: str | None) -> list[str]:
        """Senders other than `sender` with a current list for the same flight, document and lane."""
        params = {"flight_key": flight_key, "lane": lane}
        if document_code is not None:
            params["document_code"] = document_code
        if sender is not None:
            params["sender"] = sender
        rows = await conn.execute(_OTHER_SENDERS[document_code is not None, sender is not None], params)
        return [r[0] or "?" for r in rows]

    # ---- reading back (tests, console, retention) -----------------------------------------------

    async def count(self, table: str) -> int:
        async with self.engine.connect() as conn:
            n: int = (await conn.execute(select(func.count()).select_from(metadata.tables[table]))).scalar_one()
            return n

    async def rows(self, table: str, order_by: str = "id") -> list[dict[str, Any]]:
        t = metadata.tables[table]
        async with self.engine.connect() as conn:
            result = await conn.execute(select(t).order_by(t.c[order_by]))
            return [dict(r._mapping) for r in result]
