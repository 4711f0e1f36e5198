"""The audit trail: an append-only, hash-chained log of reads, decisions, purges and list changes.

Strategy: every entry's `hash` is sha256 over a canonical JSON of the entry (sequence number, time,
actor, action, subject, purpose, reason, details) plus the previous entry's hash, so editing or
deleting any row breaks the chain at that row and `verify()` names it. A one-row `audit_head` table
holds the newest sequence number and hash: an append starts by updating it, which takes the row lock
on PostgreSQL and the write lock on SQLite, so concurrent appends (threads, workers, processes) are
serialised without gaps, and a deleted newest entry is noticed too. Pruning (audit retention) moves an
anchor (`pruned_seq`, `pruned_hash`) instead of breaking the chain, and records itself in the chain
(`audit.prune`: how many, through which entry, when, by which actor and run, on which clock);
`verify()` reports that record with the anchor, and an anchor no prune record accounts for (rows
deleted and the head edited by hand) breaks the chain. The log names things by
reference only (traveller refs, manifest uids, hit ids, counts); `append` refuses details whose keys
name personal data. LED Art. 25 asks for exactly this: who, when, what, why, tamper-evident.
Limits: someone with write access to the database can rewrite the whole chain and its head; record
`verify()`'s head hash outside the database (the CLI prints it) to anchor it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api_engine.store.schema import audit_head, audit_log
from api_engine.store.threaded import ThreadedConnection

if TYPE_CHECKING:
    from api_engine.store import Store

__all__ = ["GENESIS", "AuditEntry", "AuditTrail", "AuditVerification", "PersonalDataInAudit", "entry_hash"]

GENESIS = "0" * 64
_BATCH = 5000

# Keys that would put personal data into the log; the log must hold references only.
_FORBIDDEN_KEYS = frozenset({
    "surname", "given_names", "given_name", "name", "full_name", "names", "date_of_birth", "dob", "birth_date",
    "doc_number", "document_number", "passport", "passport_number", "number", "email", "phone", "telephone",
    "address", "contact", "seat", "pnr", "record_locator", "ref_abo", "ref_avf", "traveller_json", "identity",
})

Executor = AsyncConnection | AsyncSession | ThreadedConnection


class PersonalDataInAudit(ValueError):
    """Raised for details that would store personal data in the audit trail."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    purpose: str | None
    reason: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditVerification:
    """Result of checking the chain: `first_broken` is the sequence number of the first bad entry."""

    ok: bool
    entries: int
    first_broken: int | None = None
    problem: str | None = None
    head_hash: str | None = None
    pruned_through: int = 0
    notes: list[str] = field(default_factory=list)
    pruned_by: AuditEntry | None = None  # the `audit.prune` entry that moved the anchor: when, who, which run

    def anchor_text(self) -> str:
        """What was pruned, when, by which run: one line for `audit verify`."""
        if not self.pruned_through:
            return "nothing pruned"
        p = self.pruned_by
        if p is None:
            return f"entries 1-{self.pruned_through} pruned (no prune record)"
        d = p.details
        clock = f", clock {d['now']}" if d.get("now") else ""
        override = " (clock override)" if d.get("clock_override") else ""
        run = f" run {d['run']}" if d.get("run") else ""
        return (f"entries 1-{self.pruned_through} pruned ({d.get('entries_removed', '?')} removed, older than "
                f"{d.get('before', '?')}) at {p.at.isoformat()} by {p.actor}{run}{clock}{override}, "
                f"recorded in entry {p.seq}")


def _utc(at: datetime) -> datetime:
    """Stored times come back naive from SQLite and aware from PostgreSQL: both mean UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _canonical_details(details: Mapping[str, Any] | None) -> str:
    _check_details(details or {}, "details")
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _check_details(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            if str(k).lower() in _FORBIDDEN_KEYS:
                raise PersonalDataInAudit(f"audit details must hold references only, not {path}.{k}")
            _check_details(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_details(v, f"{path}[{i}]")


def entry_hash(*, seq: int, at: datetime, actor: str, action: str, subject: str, purpose: str | None,
               reason: str | None, details: str, prev_hash: str) -> str:
    """sha256 over the canonical JSON of one entry and its predecessor's hash."""
    payload = {
        "seq": int(seq), "at": _utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "actor": actor, "action": action,
        "subject": subject, "purpose": purpose, "reason": reason, "details": details, "prev_hash": prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(seq=int(row.seq), at=_utc(row.at), actor=row.actor, action=row.action, subject=row.subject,
                      purpose=row.purpose, reason=row.reason, details=json.loads(row.details),
                      prev_hash=row.prev_hash, hash=row.hash)


def _recomputed(row: Any) -> str:
    return entry_hash(seq=row.seq, at=row.at, actor=row.actor, action=row.action, subject=row.subject,
                      purpose=row.purpose, reason=row.reason, details=row.details, prev_hash=row.prev_hash)


class AuditTrail:
    """Append to, read and verify the audit trail of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def append(self, *, actor: str, action: str, subject: str, purpose: str | None = None,
                     reason: str | None = None, details: dict[str, Any] | None = None,
                     session: Executor | None = None) -> AuditEntry:
        """Append one entry; with `session` it commits or rolls back with the caller's transaction."""
        if not actor or not action:
            raise ValueError("an audit entry needs an actor and an action")
        text = _canonical_details(details)
        if session is not None:
            return await self._append(session, actor, action, subject, purpose, reason, text)
        async with self.store.transaction() as conn:
            return await self._append(conn, actor, action, subject, purpose, reason, text)

    @staticmethod
    async def _append(conn: Executor, actor: str, action: str, subject: str, purpose: str | None,
                      reason: str | None, details: str) -> AuditEntry:
        # Updating the head first takes the lock that serialises appends (row lock / SQLite write lock).
        head = (await conn.execute(
            update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq + 1)
            .returning(audit_head.c.seq, audit_head.c.hash))).first()
        if head is None:  # a database created without the migration's head row
            await conn.execute(insert(audit_head).values(id=1, seq=1, hash=GENESIS, pruned_seq=0,
                                                         pruned_hash=GENESIS))
            seq, prev = 1, GENESIS
        else:
            seq, prev = int(head.seq), str(head.hash)
        at = datetime.now(UTC)
        subject = subject[:200]
        digest = entry_hash(seq=seq, at=at, actor=actor, action=action, subject=subject, purpose=purpose,
                            reason=reason, details=details, prev_hash=prev)
        await conn.execute(insert(audit_log).values(
            seq=seq, at=at, actor=actor[:200], action=action[:64], subject=subject, purpose=purpose, reason=reason,
            details=details, prev_hash=prev, hash=digest))
        await conn.execute(update(audit_head).where(audit_head.c.id == 1).values(hash=digest))
        return AuditEntry(seq=seq, at=at, actor=actor[:200], action=action[:64], subject=subject, purpose=purpose,
                          reason=reason, details=json.loads(details), prev_hash=prev, hash=digest)

    async def recent(self, limit: int = 100, *, action: str | None = None) -> list[AuditEntry]:
        """The newest entries first (optionally of one action)."""
        query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        async with self.store.engine.connect() as conn:
            return [_entry(r) for r in await conn.execute(query)]

    async def count(self) -> int:
        async with self.store.engine.connect() as conn:
            n: int = (await conn.execute(select(func.count()).select_from(audit_log))).scalar_one()
            return n

    async def verify(self) -> AuditVerification:
        """Recompute the chain from the anchor to the head; name the first entry that does not fit."""
        async with self.store.engine.connect() as conn:
            head = (await conn.execute(select(audit_head).where(audit_head.c.id == 1))).first()
            pruned_seq = int(head.pruned_seq) if head is not None else 0
            expected, prev, checked = pruned_seq + 1, head.pruned_hash if head is not None else GENESIS, 0
            last = pruned_seq
            while True:
                rows = (await conn.execute(select(audit_log).where(audit_log.c.seq >= expected)
                                           .order_by(audit_log.c.seq).limit(_BATCH))).all()
                for row in rows:
                    seq = int(row.seq)
                    if seq != expected:
                        return self._broken(checked, expected, f"entry {expected} is missing (deleted)", head)
                    if _recomputed(row) != row.hash:
                        return self._broken(checked, seq, f"entry {seq} was altered: its content does not match "
                                                          "its hash", head)
                    if row.prev_hash != prev:
                        return self._broken(checked, seq, f"entry {seq} does not follow entry {seq - 1}: the "
                                                          "chain was rewritten", head)
                    prev, expected, last, checked = row.hash, seq + 1, seq, checked + 1
                if len(rows) < _BATCH:
                    break
            if head is None:
                if checked:
                    return self._broken(checked, 1, "the chain's head row is missing", head)
                return AuditVerification(ok=True, entries=0, head_hash=GENESIS)
            if int(head.seq) > last:
                return self._broken(checked, last + 1, f"entry {last + 1} is missing (the newest entries up to "
                                                       f"{int(head.seq)} were deleted)", head)
            if int(head.seq) < last or head.hash != prev:
                return self._broken(checked, int(head.seq) + 1 if int(head.seq) < last else last,
                                    "the chain's head does not match its newest entry", head)
            record = await self._prune_record(conn, pruned_seq) if pruned_seq else None
            if pruned_seq and record is None:
                return self._broken(checked, pruned_seq + 1, f"entries up to {pruned_seq} are gone but no "
                                    "audit.prune entry records their pruning: they were deleted by hand", head)
            return AuditVerification(ok=True, entries=checked, head_hash=prev, pruned_through=pruned_seq,
                                     pruned_by=record)

    @staticmethod
    async def _prune_record(conn: AsyncConnection, pruned_seq: int) -> AuditEntry | None:
        """The newest `audit.prune` entry, if it is the one that set the anchor at `pruned_seq`."""
        row = (await conn.execute(select(audit_log).where(audit_log.c.action == "audit.prune",
                                                          audit_log.c.seq > pruned_seq)
                                  .order_by(audit_log.c.seq.desc()).limit(1))).first()
        if row is None:
            return None
        entry = _entry(row)
        return entry if entry.details.get("through_seq") == pruned_seq else None

    async def head_seq(self) -> int:
        """The newest entry's sequence number (0 for an empty trail)."""
        async with self.store.engine.connect() as conn:
            seq = (await conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1))).scalar()
            return int(seq or 0)

    @staticmethod
    def _broken(checked: int, seq: int, problem: str, head: Any) -> AuditVerification:
        return AuditVerification(ok=False, entries=checked, first_broken=seq, problem=problem,
                                 head_hash=head.hash if head is not None else None,
                                 pruned_through=int(head.pruned_seq) if head is not None else 0)

    async def prune(self, before: datetime, *, actor: str, keep_newest: int = 1, through_seq: int | None = None,
                    run: Mapping[str, Any] | None = None) -> int:
        """Delete entries older than `before` (audit retention), moving the anchor; returns how many.

        Never past `through_seq` (a retention run passes its start, so its own entries stay); `run`
        (run id, clock) goes into the prune record that `verify` reports with the anchor."""
        async with self.store.transaction() as conn:
            head = (await conn.execute(
                update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq)
                .returning(audit_head.c.seq, audit_head.c.pruned_seq))).first()
            if head is None:
                return 0
            limit_seq = int(head.seq) - keep_newest
            if through_seq is not None:
                limit_seq = min(limit_seq, through_seq)
            cut = (await conn.execute(
                select(audit_log.c.seq, audit_log.c.hash)
                .where(audit_log.c.at < before, audit_log.c.seq <= limit_seq)
                .order_by(audit_log.c.seq.desc()).limit(1))).first()
            if cut is None:
                return 0
            removed = (await conn.execute(delete(audit_log).where(audit_log.c.seq <= cut.seq))).rowcount or 0
            await conn.execute(update(audit_head).where(audit_head.c.id == 1)
                               .values(pruned_seq=cut.seq, pruned_hash=cut.hash))
            await self._append(conn, actor, "audit.prune", f"audit_log:1-{int(cut.seq)}", "retention", None,
                               _canonical_details({**(run or {}), "entries_removed": removed,
                                                   "through_seq": int(cut.seq), "before": _utc(before).isoformat()}))
            return int(removed)
