"""The audit trail on SQLite and PostgreSQL: appends chain, concurrent appends never fork or gap, and
`api-engine audit verify` notices any row edited or deleted behind the application's back.

Strategy: the `database_url` fixture (both back ends); tampering is plain SQL on the table, the way
someone with database access would do it; the CLI is run in-process through `cli.main`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from api_engine.cli import main
from api_engine.protection.audit import AuditTrail, PersonalDataInAudit
from api_engine.store import Store
from api_engine.store.schema import audit_log


async def _trail_with(database_url: str, n: int) -> tuple[Store, AuditTrail]:
    store = await Store.open(database_url)
    trail = AuditTrail(store)
    for i in range(n):
        await trail.append(actor=f"officer-{i % 3}", action="traveller.read", subject=f"traveller:abc:{i}",
                           purpose="border", reason="case 2025/17", details={"fields": ["identity"], "n": i})
    return store, trail


async def test_intact_chain_verifies_and_cli_exits_0(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store, trail = await _trail_with(database_url, 5)
    try:
        result = await trail.verify()
        assert result.ok and result.entries == 5 and result.first_broken is None
        newest = await trail.recent(2)
        assert [e.seq for e in newest] == [5, 4] and newest[0].prev_hash == newest[1].hash
    finally:
        await store.close()
    assert await asyncio.to_thread(main, ["audit", "--database-url", database_url, "verify"]) == 0
    assert "5 entries" in capsys.readouterr().out


@pytest.mark.parametrize("tamper, broken", [
    ("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 3", 3),
    ("UPDATE audit_log SET details = '{}' WHERE seq = 2", 2),
    ("DELETE FROM audit_log WHERE seq = 4", 4),
    ("DELETE FROM audit_log WHERE seq = 6", 6),  # the newest entry
    ("DELETE FROM audit_log WHERE seq = 1", 1),
])
async def test_edit_or_delete_behind_the_applications_back_is_named(
        database_url: str, tamper: str, broken: int, capsys: pytest.CaptureFixture[str]) -> None:
    store, trail = await _trail_with(database_url, 6)
    try:
        async with store.transaction() as conn:
            await conn.execute(text(tamper))
        result = await trail.verify()
        assert not result.ok and result.first_broken == broken, result
    finally:
        await store.close()
    assert await asyncio.to_thread(main, ["audit", "--database-url", database_url, "verify"]) == 1
    assert f"entry {broken}" in capsys.readouterr().err


async def test_rewriting_an_entry_and_its_hash_is_still_caught(database_url: str) -> None:
    store, trail = await _trail_with(database_url, 4)
    try:
        async with store.transaction() as conn:  # a careful forger recomputes the hash of the row it edits
            from api_engine.protection.audit import entry_hash

            row = (await conn.execute(select(audit_log).where(audit_log.c.seq == 2))).one()
            forged = entry_hash(seq=2, at=row.at, actor="nobody", action=row.action, subject=row.subject,
                                purpose=row.purpose, reason=row.reason, details=row.details, prev_hash=row.prev_hash)
            await conn.execute(text("UPDATE audit_log SET actor = 'nobody', hash = :h WHERE seq = 2"), {"h": forged})
        result = await trail.verify()
        assert not result.ok and result.first_broken == 3  # entry 3 no longer follows entry 2
    finally:
        await store.close()


async def test_concurrent_appends_form_one_chain_without_gaps(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        trail = AuditTrail(store)
        await asyncio.gather(*(trail.append(actor="worker", action="manifest.read", subject=f"manifest:{i}")
                               for i in range(25)))
        result = await trail.verify()
        assert result.ok and result.entries == 25
        assert sorted(e.seq for e in await trail.recent(100)) == list(range(1, 26))
    finally:
        await store.close()


async def test_append_joins_the_callers_transaction(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        trail = AuditTrail(store)
        with pytest.raises(RuntimeError):
            async with store.transaction() as conn:
                await trail.append(actor="officer", action="hit.decide", subject="hit:1", session=conn)
                raise RuntimeError("the decision failed")
        assert await trail.count() == 0  # rolled back with the decision
        await trail.append(actor="officer", action="hit.decide", subject="hit:1")
        assert (await trail.verify()).ok
    finally:
        await store.close()


async def test_personal_data_is_refused(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        with pytest.raises(PersonalDataInAudit):
            await AuditTrail(store).append(actor="officer", action="traveller.read", subject="traveller:x:1",
                                           details={"traveller": {"surname": "DOE"}})
        assert await AuditTrail(store).count() == 0
    finally:
        await store.close()


async def test_pruning_old_entries_keeps_the_rest_verifiable(database_url: str) -> None:
    store, trail = await _trail_with(database_url, 5)
    try:
        removed = await trail.prune(datetime.now(UTC) + timedelta(seconds=1), actor="retention")
        assert removed == 4  # the newest entry stays to carry the chain on
        result = await trail.verify()
        assert result.ok and result.pruned_through == 4 and result.entries == 2  # entry 5 and the prune record
        [entry] = await trail.recent(1)
        assert entry.action == "audit.prune" and entry.details["entries_removed"] == 4
    finally:
        await store.close()
