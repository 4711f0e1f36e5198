"""Retention with a moved clock, on SQLite and PostgreSQL: after the retention period no identifying
value of a traveller without a held hit is left anywhere the store keeps data, while the confirmed
hit's traveller and case data stay as the policy says; depersonalisation keeps statistics and allows
only a supervisor's recorded re-identification; runs are idempotent and audited with counts only.

Strategy: the project's example manifests go through the real `Processor` (encryption at rest on);
one traveller gets a hit which the test confirms the way the console would (hits.status). The search
walks every text and binary column of every table in the SQLAlchemy metadata, decrypting what is
encrypted (so ciphertext cannot hide a leftover), and looks for the original names, birth dates,
document numbers and references. The border case runs through `api-engine retention run --now`.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import LargeBinary, String, Text, select, update

from api_engine.cli import main
from api_engine.protection.audit import AuditTrail
from api_engine.protection.crypto import Keyring, keyring_from_settings, open_traveller_secrets
from api_engine.protection.retention import ReidentificationRefused, load_policy, reidentify, run_retention
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import hits, interchanges, manifests, metadata, travellers
from parsers import Manifest, read_interchange

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PAX = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes()
PART1 = (EXAMPLES / "xx456_cdg-yul_part1of2.edi").read_bytes()
PART2 = (EXAMPLES / "xx456_cdg-yul_part2of2.edi").read_bytes()
HIT_SURNAME = "SMITH"


@dataclass
class Hit:
    traveller_id: str
    entry_id: str = "TEST-1"
    score: float = 0.97
    list: str = "test-list"


class OneNameScreener:
    """Hits every traveller called SMITH: enough to give one traveller case data."""

    def screen(self, manifest: Manifest) -> list[Hit]:
        return [Hit(str(i)) for i, t in enumerate(manifest.travellers) if t.surname == HIT_SURNAME]


_PSEUDONYM = re.compile(r"#[A-Z2-7]{1,52}")
_CIPHERTEXT = re.compile(r"enc1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+")


def identifying_values(*messages: bytes, surname: str | None = None, exclude: str | None = None) -> set[str]:
    """Names, birth dates, document numbers and references of the travellers in the messages."""
    out: set[str] = set()
    for data in messages:
        for m in read_interchange(data).manifests:
            for t in m.travellers:
                if (surname is not None and t.surname != surname) or (exclude is not None and t.surname == exclude):
                    continue
                out.update(v for v in (t.surname, *t.given_names) if v and len(v) > 2)
                if t.date_of_birth:
                    out.update({t.date_of_birth.isoformat(), t.date_of_birth.strftime("%y%m%d")})
                out.update(d.number for d in t.documents if d.number)
                out.update(v for vs in t.references.values() for v in vs if len(v) > 4)  # not "0001" or a seat
    return out


async def leftovers(store: Store, ring: Keyring | None, values: set[str], *,
                    skip: frozenset[str] = frozenset()) -> list[str]:
    """Every (table.column, value) where an original value is still stored, decrypting as needed."""
    found: list[str] = []
    async with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, String | Text | LargeBinary)
                    and f"{table.name}.{c.name}" not in skip]
            if not cols:
                continue
            for row in await conn.execute(select(*cols)):
                for col, value in zip(cols, row, strict=True):
                    if value is None:
                        continue
                    name = f"{table.name}.{col.name}"
                    if isinstance(value, str):
                        text = (ring.decrypt_text(value, name) if ring and ring.is_sealed(value) else value) or ""
                    elif ring is None and bytes(value).startswith(b"ENC1"):
                        continue  # ciphertext: random bytes, not a stored original
                    else:
                        text = (ring.decrypt_bytes(bytes(value), name) if ring else bytes(value)).decode("latin-1")
                    # Random text may spell a short name by chance: a pseudonym ("#" + base32 of an HMAC)
                    # or, read without the key, a ciphertext. Neither is an original value.
                    text = _CIPHERTEXT.sub("enc1", _PSEUDONYM.sub("#", text))
                    found.extend(f"{name}: {v}" for v in values if v in text)
    return found


@pytest.fixture
async def loaded(store_settings: Settings) -> Any:
    processor = await Processor.open(store_settings, screener=OneNameScreener())
    await processor.process(PAX, key=b"XX123")
    await processor.process(PART1, key=b"XX456-1")
    await processor.process(PART2, key=b"XX456-2")
    async with processor.store.transaction() as conn:  # an officer confirms the hit (as the console does)
        await conn.execute(update(hits).values(status="confirmed"))
    yield processor
    await processor.close()


WHAT_IF = "test: the clock moved past the retention periods"


async def _latest_clock(store: Store) -> datetime:
    async with store.engine.connect() as conn:
        row = (await conn.execute(select(manifests.c.arrives_at, manifests.c.created_at))).all()
    stamps: list[datetime] = [s if s.tzinfo else s.replace(tzinfo=UTC) for r in row for s in r if s]
    return max(stamps)


async def test_border_retention_leaves_no_identifying_value_but_keeps_the_confirmed_case(
        loaded: Processor, store_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    store, ring = loaded.store, loaded.keyring
    non_hit = identifying_values(PAX, PART1, PART2, exclude=HIT_SURNAME)
    hit_values = identifying_values(PAX, surname=HIT_SURNAME)
    assert non_hit and hit_values
    assert await leftovers(store, ring, non_hit)  # the search finds them before retention
    assert not await leftovers(store, None, non_hit)  # ...and only by decrypting: encrypted at rest

    later = await _latest_clock(store) + timedelta(hours=49)
    args = ["retention", "run", "--database-url", store_settings.effective_database_url,
            "--data-dir", str(store_settings.data_dir), "--now", later.isoformat(),
            "--allow-future-now", "what-if: the day after arrival"]

    assert await asyncio.to_thread(main, [*args, "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] and dry["counts"]["travellers_deleted"] > 0
    assert await leftovers(store, ring, non_hit)  # a dry run changes nothing

    assert await asyncio.to_thread(main, args) == 0
    done = json.loads(capsys.readouterr().out)["counts"]
    assert done["travellers_deleted"] == dry["counts"]["travellers_deleted"]
    assert done["raw_messages_deleted"] == 3 and done["case_travellers_deleted"] == 0

    assert await leftovers(store, ring, non_hit) == []
    assert await store.count("raw_messages") == 0 and await store.count("assembly_parts") == 0
    # The confirmed hit is case data: its traveller and hit stay, readable (5 years on the border rules).
    assert await leftovers(store, ring, hit_values)
    [kept] = await store.rows("travellers")
    assert open_traveller_secrets(kept, ring)["surname"] == HIT_SURNAME
    assert await store.count("hits") == 1
    # Statistics survive: the manifests keep their counts.
    assert sum(m["passengers"] for m in await store.rows("manifests")) >= 2

    # Idempotent: a second run finds nothing; both runs are in the audit trail, counts only.
    assert await asyncio.to_thread(main, args) == 0
    again = json.loads(capsys.readouterr().out)["counts"]
    assert not any(again.values()), again
    trail = AuditTrail(store)
    runs = await trail.recent(10, action="retention.run")
    assert len(runs) == 2 and runs[1].details["counts"]["travellers_deleted"] == done["travellers_deleted"]
    assert (await trail.verify()).ok

    # After the case retention, the case goes too.
    end = later + timedelta(days=5 * 365 + 2)
    report = await run_retention(store, load_policy(), now=end, keyring=ring, clock_override=WHAT_IF)
    assert report.counts["case_travellers_deleted"] == 1
    assert await leftovers(store, ring, hit_values) == [] and await store.count("hits") == 0


async def test_a_dismissal_awaiting_its_second_person_keeps_the_traveller(loaded: Processor) -> None:
    """One officer's dismissal is not final until approved: the border clock must not delete the traveller
    meanwhile (which would make it final by deletion); an open hit, by contrast, is not held."""
    store, ring = loaded.store, loaded.keyring
    hit_values = identifying_values(PAX, surname=HIT_SURNAME)
    later = await _latest_clock(store) + timedelta(hours=49)
    async with store.transaction() as conn:
        await conn.execute(update(hits).values(status="dismiss_pending"))
    report = await run_retention(store, load_policy(), now=later, keyring=ring, clock_override=WHAT_IF)
    assert report.counts["case_travellers_deleted"] == 0
    assert await leftovers(store, ring, hit_values) and await store.count("hits") == 1

    async with store.transaction() as conn:
        await conn.execute(update(hits).values(status="open"))
    await run_retention(store, load_policy(), now=later, keyring=ring, clock_override=WHAT_IF)
    assert await leftovers(store, ring, hit_values) == [] and await store.count("hits") == 0


async def test_law_enforcement_lane_depersonalises_with_pseudonyms_then_deletes(loaded: Processor) -> None:
    store, ring = loaded.store, loaded.keyring
    async with store.transaction() as conn:
        await conn.execute(update(manifests).values(lane="law_enforcement"))
        await conn.execute(update(interchanges).values(lane="law_enforcement"))
    everyone = identifying_values(PAX, PART1, PART2)
    six_months = await _latest_clock(store) + timedelta(days=184)

    report = await run_retention(store, load_policy(), now=six_months, keyring=ring, clock_override=WHAT_IF)
    assert report.counts["travellers_depersonalised"] > 0 and report.counts["case_travellers_depersonalised"] == 1
    assert report.counts.get("travellers_deleted", 0) == 0
    # Nothing identifying is readable any more, except the sealed copy kept for supervised re-identification.
    assert await leftovers(store, ring, everyone, skip=frozenset({"travellers.reid_sealed"})) == []
    rows = await store.rows("travellers")
    assert all(r["surname"].startswith("#") and r["pseudonymised_at"] for r in rows)
    # Statistics survive: nationality stays, and equal names give equal pseudonyms.
    assert all(r["nationality"] for r in rows)
    assert len({r["surname"] for r in rows}) == len({t.surname for m in read_interchange(PAX).manifests
                                                    for t in m.travellers} | {t.surname for data in (PART1, PART2)
                                                    for m in read_interchange(data).manifests for t in m.travellers})

    ref = rows[0]["ref"]
    with pytest.raises(ReidentificationRefused):
        await reidentify(store, ref, actor="officer-7", role="officer", reason="curious", keyring=ring)
    identity = await reidentify(store, ref, actor="sup-1", role="supervisor", reason="case LE-2025-114, judge order",
                                keyring=ring, purpose="law enforcement")
    assert identity["surname"] in everyone
    trail = AuditTrail(store)
    [granted] = await trail.recent(1, action="traveller.reidentify")
    assert granted.reason == "case LE-2025-114, judge order" and granted.subject == f"traveller:{ref}"
    assert await trail.recent(1, action="traveller.reidentify_refused")

    again = await run_retention(store, load_policy(), now=six_months, keyring=ring, clock_override=WHAT_IF)
    assert not any(again.counts.values())  # idempotent

    report = await run_retention(store, load_policy(), now=six_months + timedelta(days=5 * 365), keyring=ring,
                                 clock_override=WHAT_IF)
    assert report.counts["travellers_deleted"] + report.counts["case_travellers_deleted"] == len(rows)
    assert await leftovers(store, ring, everyone) == [] and await store.count("travellers") == 0
    with pytest.raises(LookupError):
        await reidentify(store, ref, actor="sup-1", role="supervisor", reason="case LE-2025-114", keyring=ring)
    assert (await trail.verify()).ok


async def test_key_rotation_reencrypts_everything(loaded: Processor, store_settings: Settings,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    old = keyring_from_settings(store_settings)
    args = ["keys", "rotate", "--database-url", store_settings.effective_database_url,
            "--data-dir", str(store_settings.data_dir), "--batch-size", "3"]
    assert await asyncio.to_thread(main, args) == 0
    result = json.loads(capsys.readouterr().out)
    new = keyring_from_settings(store_settings)
    assert new.current != old.current and list(new.keys) == [new.current] and result["rewritten"]["travellers"] > 0
    rows = await loaded.store.rows("travellers")
    assert rows and all(new.key_id_of(r["traveller_json"]) == new.current for r in rows)
    names = {open_traveller_secrets(r, new)["surname"] for r in rows}
    assert HIT_SURNAME in names
    async with loaded.store.engine.connect() as conn:
        raw = (await conn.execute(select(travellers.c.traveller_json))).scalars().all()
    assert raw and all(v.startswith("enc1:") for v in raw)


async def test_the_service_runs_the_retention_job_on_its_own_clock(tmp_path: Path) -> None:
    """`serve` starts this loop: each run is audited (counts only) and the loop stops when asked."""
    import asyncio

    from api_engine.protection.audit import AuditTrail
    from api_engine.protection.retention import retention_loop
    from api_engine.settings import Settings
    from api_engine.store import Store

    settings = Settings(data_dir=tmp_path, retention_interval_s=0.05)
    store = await Store.open(settings.effective_database_url)  # migrated first, as `serve` does
    stop = asyncio.Event()
    task = asyncio.create_task(retention_loop(settings, stop))
    try:
        runs: list[object] = []
        for _ in range(200):
            runs = await AuditTrail(store).recent(action="retention.run")
            if len(runs) >= 2:
                break
            await asyncio.sleep(0.05)
        assert len(runs) >= 2, "the loop should have run the job at least twice"
        stop.set()
        await asyncio.wait_for(task, 10)
        assert (await AuditTrail(store).verify()).ok
    finally:
        stop.set()
        await store.close()


async def test_a_decision_taken_while_retention_looks_for_due_travellers_commits_at_once_and_is_respected(
        loaded: Processor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding the due travellers scans the store (about 20 s at 4.5 million): the run must not hold the write
    lock meanwhile, or every worker's commit (and an officer's decision) waits for it. And what changed meanwhile
    counts: a hit escalated between the scan and the deletion holds its traveller (case rules, not border)."""
    from api_engine.protection import retention

    store, ring = loaded.store, loaded.keyring
    hit_values = identifying_values(PAX, surname=HIT_SURNAME)
    async with store.transaction() as conn:
        await conn.execute(update(hits).values(status="open"))  # not held: due on the border clock
    find = retention._due_batch
    waited: list[float] = []

    async def officer_decides_meanwhile(*args: Any, **kwargs: Any) -> list[int]:
        found = await find(*args, **kwargs)
        started = asyncio.get_running_loop().time()
        async with store.transaction() as conn:  # would wait for the run's lock if it held one
            await conn.execute(update(hits).values(status="escalated"))
        waited.append(asyncio.get_running_loop().time() - started)
        return found

    monkeypatch.setattr(retention, "_due_batch", officer_decides_meanwhile)
    later = await _latest_clock(store) + timedelta(hours=49)
    report = await asyncio.wait_for(run_retention(store, load_policy(), now=later, keyring=ring,
                                                  clock_override=WHAT_IF), 60)
    assert waited and max(waited) < 5
    assert report.counts["travellers_deleted"] > 0  # the others went
    assert await leftovers(store, ring, hit_values) and await store.count("hits") == 1  # the escalated one stays
