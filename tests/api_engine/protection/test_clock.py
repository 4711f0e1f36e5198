"""Clock safety: `retention run --now` in the far future cannot quietly wipe the cases and the trail.

Strategy: the attack as it was done, on SQLite and PostgreSQL: the example list is processed with a
real watchlist (one hit), an officer confirms the hit and the trail fills with entries; then
`api-engine retention run --now 2099-01-01T00:00:00Z`. Refused, nothing changes. With
`--allow-future-now REASON` the run goes ahead, the override is in the trail before anything is
deleted, the run's own entries stay, and `audit verify` names the anchor: what was pruned, when and
by which run. A case still held keeps its trail; an anchor moved by hand breaks the chain.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from api_engine.cli import main
from api_engine.protection.audit import AuditTrail
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import audit_head, audit_log, hits

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PAX = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes()
FAR = "2099-01-01T00:00:00Z"
REASON = "disaster-recovery drill DR-7, approved by the DPO"


@pytest.fixture
async def case(store_settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[Store, int]]:
    """A store with one confirmed hit and some audit entries about it and about other things."""
    listed = tmp_path / "national.csv"
    listed.write_text("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                      "N-1,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n", encoding="utf-8")
    settings = store_settings.model_copy(update={"watchlists": [str(listed)]})
    p = await Processor.open(settings)
    try:
        await p.process(PAX, key=b"k")
    finally:
        await p.close()
    store = await Store.open(settings.effective_database_url)
    trail = AuditTrail(store)
    for i in range(3):
        await trail.append(actor=f"officer-{i}", action="sign_in", subject=f"user:officer-{i}")
    async with store.transaction() as conn:
        hit_id = int((await conn.execute(select(hits.c.id))).scalar_one())
        await conn.execute(update(hits).values(status="confirmed"))
        await trail.append(actor="officer-1", action="decision", subject=f"hit:{hit_id}", purpose="border control",
                           reason="identity confirmed at the gate", session=conn)
    for i in range(3):
        await trail.append(actor="auditor", action="view_audit", subject=f"audit:{i}")
    try:
        yield store, hit_id
    finally:
        await store.close()


def _cli(settings: Settings, *args: str) -> list[str]:
    return [*args, "--database-url", settings.effective_database_url, "--data-dir", str(settings.data_dir)]


def _verify(settings: Settings, *extra: str) -> list[str]:
    return ["audit", "--database-url", settings.effective_database_url, "--data-dir", str(settings.data_dir),
            "verify", *extra]


async def test_a_far_future_clock_is_refused_and_changes_nothing(
        case: tuple[Store, int], store_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = case
    before = await AuditTrail(store).count()
    status = await asyncio.to_thread(main, _cli(store_settings, "retention", "run", "--now", FAR))
    assert status == 2
    err = capsys.readouterr().err
    assert "ahead of the real clock" in err and "--allow-future-now" in err
    assert await AuditTrail(store).count() == before  # not even a run entry: nothing was touched
    assert await store.count("hits") == 1 and await store.count("travellers") == 2


async def test_an_overridden_clock_is_audited_and_verify_names_the_anchor(
        case: tuple[Store, int], store_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = case
    trail = AuditTrail(store)
    before = await trail.head_seq()
    status = await asyncio.to_thread(main, _cli(store_settings, "retention", "run", "--now", FAR,
                                                "--allow-future-now", REASON))
    assert status == 0
    run = json.loads(capsys.readouterr().out)
    assert run["clock_override"] is True and run["counts"]["case_travellers_deleted"] == 1  # 2099: the case is due

    # The override came first, with its reason; the run's own entries all stay.
    [override] = await trail.recent(1, action="retention.clock_override")
    assert override.reason == REASON and override.details["run"] == run["run"] and override.seq == before + 1
    kept = [e.action for e in reversed(await trail.recent(10))]
    assert kept == ["retention.clock_override", "audit.prune", "retention.run"]

    assert await asyncio.to_thread(main, _verify(store_settings)) == 0
    text = capsys.readouterr().out
    assert "intact" in text and f"entries 1-{before} pruned" in text
    assert f"run {run['run']}" in text and "retention-cli" in text and "2099-01-01" in text
    assert "clock override" in text

    assert await asyncio.to_thread(main, _verify(store_settings, "--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] and result["pruned_through"] == before
    assert result["pruned"]["run"] == run["run"] and result["pruned"]["clock_override"] is True
    assert result["pruned"]["actor"] == "retention-cli" and result["pruned"]["entries_removed"] == before


async def test_the_trail_of_a_case_still_held_is_kept_with_the_case(
        case: tuple[Store, int], store_settings: Settings, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    store, hit_id = case
    policy = tmp_path / "policy.toml"  # cases kept for 100 years, the trail for 5
    policy.write_text('[raw_message.border]\ndelete_after = "24h"\n[traveller.border]\nclock = "arrival"\n'
                      'delete_after = "48h"\n[case.border]\ndelete_after = "100y"\n[audit_trail]\n'
                      'delete_after = "5y"\n', encoding="utf-8")
    trail = AuditTrail(store)
    [decision] = await trail.recent(1, action="decision")
    status = await asyncio.to_thread(main, _cli(store_settings, "retention", "run", "--now", FAR, "--policy",
                                                str(policy), "--allow-future-now", REASON))
    assert status == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["audit_entries_pruned"] == decision.seq - 1  # everything before the case's first entry
    assert await store.count("hits") == 1
    async with store.engine.connect() as conn:
        subjects = (await conn.execute(select(audit_log.c.subject))).scalars().all()
    assert f"hit:{hit_id}" in subjects
    assert (await trail.verify()).ok


async def test_entries_removed_by_hand_with_the_anchor_moved_break_the_chain(case: tuple[Store, int]) -> None:
    store, _ = case
    trail = AuditTrail(store)
    async with store.transaction() as conn:  # what someone with write access would do to hide a decision
        row = (await conn.execute(select(audit_log.c.seq, audit_log.c.hash).where(audit_log.c.seq == 5))).one()
        await conn.execute(audit_log.delete().where(audit_log.c.seq <= 5))
        await conn.execute(update(audit_head).values(pruned_seq=row.seq, pruned_hash=row.hash))
    result = await trail.verify()
    assert not result.ok and "no audit.prune entry" in (result.problem or "")
