"""Targeting rules in the service: rule sets under four eyes, and their alerts through the real pipeline.

Strategy: the rule book runs on both databases (`database_url`) with real console accounts; the alerts are
checked where officers and consumers see them: a `hits` row (list, rule, declared severity, the explanation
sealed like a watchlist hit's) and an alert on the alerts topic of the session's real broker. The example
passenger list has O'BRIEN (IRL) and SMITH (GBR) flying LHR to JFK; the rule flags Irish travellers to JFK.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api_engine.cli.demo import inbound_key
from api_engine.console.users import add_user
from api_engine.protection.audit import AuditTrail
from api_engine.protection.crypto import keyring_from_settings
from api_engine.service.processor import Processor
from api_engine.service.rules import RULE_CHECK_S, FourEyesError, RuleBook, RuleBookError
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import hits
from tests.api_engine.conftest import KafkaIO, Record, running_pipeline
from watchlists.rules import RuleError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "xx123_lhr-jfk_passengers.edi"
RULES = 'rule "irish-to-jfk" when traveller.nationality = "IRL" and flight.arrival_airport = "JFK" ' \
        'then flag severity low score 0.5\n'
PASSWORD = "correct horse battery staple 42"
PURPOSE = {"owner": "targeting unit", "purpose": "test targeting", "legal_basis": "Reg. (EU) 2025/12 Art. 6"}


def example(flight: str = "XX123", control_ref: str = "000000001") -> tuple[bytes | None, bytes]:
    raw = EXAMPLE.read_bytes().replace(b"XX123", flight.encode()).replace(b"000000001", control_ref.encode())
    return inbound_key(raw), raw


async def accounts(store: Store) -> None:
    for name, role in (("alice", "supervisor"), ("carol", "supervisor"), ("oscar", "officer")):
        await add_user(store, name, role, PASSWORD)


async def rule_hits(store: Store) -> list[Any]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(select(hits).where(hits.c.category == "rule").order_by(hits.c.id))).all())


async def test_four_eyes_versions_diff_and_audit(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        await accounts(store)
        book = RuleBook(store)
        v1 = await book.propose("atlantic", RULES, by="alice", **PURPOSE)
        assert (v1.version, v1.status) == (1, "pending")
        assert await book.active() == []  # nothing evaluated until a second supervisor approves

        with pytest.raises(FourEyesError):
            await book.approve(v1.id, "alice")  # one supervisor cannot activate his own rule
        with pytest.raises(RuleBookError, match="not an active supervisor"):
            await book.approve(v1.id, "oscar")
        with pytest.raises(RuleBookError, match="not an active supervisor"):
            await book.propose("other", RULES, by="oscar", **PURPOSE)
        assert (await book.approve(v1.id, "carol")).status == "active"

        changed = RULES + 'rule "young-alone" when traveller.age < 16 and traveller.travelling_alone = true ' \
                          'and flight.arrival_airport = "JFK" then flag severity high\n'
        v2 = await book.propose("atlantic", changed, by="carol", **PURPOSE)
        assert v2.version == 2
        diff = await book.diff(v2.id)
        assert diff.startswith("--- atlantic v1\n+++ atlantic v2\n") and '+rule "young-alone"' in diff
        assert (await book.approve(v2.id, "alice")).status == "active"
        assert (await book.get(v1.id)).status == "retired"  # one active version per name
        assert [v.id for v in await book.active()] == [v2.id]

        v3 = await book.propose("atlantic", RULES, by="alice", **PURPOSE)
        assert (await book.reject(v3.id, "carol")).status == "rejected"
        with pytest.raises(RuleBookError, match="not pending"):
            await book.approve(v3.id, "carol")
        assert (await book.retire("atlantic", "carol")).status == "retired"
        assert await book.active() == []
        assert [(v.version, v.status) for v in await book.list()] == [(1, "retired"), (2, "retired"),
                                                                     (3, "rejected")]

        entries = list(reversed(await AuditTrail(store).recent(50)))
        actions = [(e.action, e.actor, e.details.get("version")) for e in entries if e.action.startswith("rules.")]
        assert actions == [("rules.proposed", "alice", 1), ("rules.approved", "carol", 1),
                           ("rules.proposed", "carol", 2), ("rules.approved", "alice", 2),
                           ("rules.proposed", "alice", 3), ("rules.rejected", "carol", 3),
                           ("rules.retired", "carol", 2)]
        assert (await AuditTrail(store).verify()).ok
    finally:
        await store.close()


async def test_a_rule_with_a_syntax_error_is_refused_with_line_and_column(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        await accounts(store)
        book = RuleBook(store)
        before = await AuditTrail(store).count()
        with pytest.raises(RuleError) as caught:
            await book.propose("broken", 'rule "x" when traveller.nationality = "IRL" and\nthen flag severity low',
                               by="alice", **PURPOSE)
        assert (caught.value.line, caught.value.col) == (2, 1)
        assert await book.list() == []  # nothing stored
        assert await AuditTrail(store).count() == before
    finally:
        await store.close()


async def test_an_approved_rule_alerts_on_the_next_manifest(store_settings: Settings) -> None:
    store = await Store.open(store_settings.effective_database_url)
    try:
        await accounts(store)
        book = RuleBook(store)
        await book.approve((await book.propose("atlantic", RULES, by="alice", **PURPOSE)).id, "carol")
    finally:
        await store.close()
    processor = await Processor.open(store_settings)
    try:
        events = await processor.process(example()[1])
        [alert] = [json.loads(e.value) for e in events if e.kind == "alerts"]
        assert alert["watchlist"] == {"list": "rules:atlantic", "entry_id": "irish-to-jfk", "category": "rule",
                                      "matched_name": None}
        assert alert["identity"]["surname"] == "O'BRIEN" and alert["score"] == 0.5  # SMITH (GBR) is not flagged
        assert "(low, score 0.5) of rule set atlantic v1" in alert["explanation_text"]
        [manifest] = [json.loads(e.value) for e in events if e.kind == "manifests"]
        assert [t["hit"] for t in manifest["travellers"]] == [True, False]

        [hit] = await rule_hits(processor.store)
        assert (hit.list, hit.entry_id, hit.severity, hit.score, hit.status) == \
            ("rules:atlantic", "irish-to-jfk", "low", 0.5, "open")
        assert "IRL" not in hit.explanation  # sealed at rest, like a watchlist hit's explanation
        details = [f["detail"] for f in json.loads(processor.keyring.decrypt_text(hit.explanation,
                                                                                 "hits.explanation") or "")]
        assert details == ["traveller.nationality = \"IRL\" (yes: 'IRL')",
                           "flight.arrival_airport = \"JFK\" (yes: 'JFK')"]
    finally:
        await processor.close()


async def test_a_configured_rule_file_is_followed_and_a_broken_edit_keeps_the_rules_in_force(
        store_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "atlantic.rules"
    path.write_text(RULES, encoding="utf-8")
    processor = await Processor.open(store_settings.model_copy(update={"rules": [str(path)]}))
    processor.rules.interval = 0.0  # look at the file before every batch
    try:
        first = await processor.process(example("XX123", "000000001")[1])
        assert [json.loads(e.value)["watchlist"]["entry_id"] for e in first if e.kind == "alerts"] == ["irish-to-jfk"]

        path.write_text(RULES.replace("IRL", "GBR").replace("irish", "british"), encoding="utf-8")
        second = await processor.process(example("XX124", "000000002")[1])
        assert [json.loads(e.value)["identity"]["surname"] for e in second if e.kind == "alerts"] == ["SMITH"]

        path.write_text('rule "x" when\n', encoding="utf-8")  # an edit that does not parse
        third = await processor.process(example("XX125", "000000003")[1])
        assert [json.loads(e.value)["watchlist"]["entry_id"] for e in third if e.kind == "alerts"] == \
            ["british-to-jfk"]
    finally:
        await processor.close()


def _distinct(records: list[Record]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in {r.event_id: r for r in records}.values()]


@pytest.mark.slow
async def test_approval_reaches_the_running_pipeline_within_seconds(kafka_settings: Settings) -> None:
    io = KafkaIO(kafka_settings)
    store = await Store.open(kafka_settings.effective_database_url)
    try:
        await accounts(store)
        book = RuleBook(store)
        async with running_pipeline(kafka_settings):
            await io.produce([example("XX123", "000000001")])  # before any rule: no alert
            await io.collect(lambda o: len(o["manifests"]) >= 1)
            proposed = await book.propose("atlantic", RULES, by="alice", **PURPOSE)
            with pytest.raises(FourEyesError):
                await book.approve(proposed.id, "alice")
            await book.approve(proposed.id, "carol")
            approved_at = time.monotonic()
            await asyncio.sleep(RULE_CHECK_S + 0.5)  # a worker looks for approved rule sets this often
            await io.produce([example("XX124", "000000002")])
            out = await io.collect(lambda o: len(o["manifests"]) >= 2 and len(o["alerts"]) >= 1, timeout_s=30)
            waited = time.monotonic() - approved_at
        alerts = _distinct(out["alerts"])
        assert [(a["flight"]["flight_id"], a["watchlist"]["list"], a["watchlist"]["entry_id"],
                 a["identity"]["surname"]) for a in alerts] == [("XX124", "rules:atlantic", "irish-to-jfk", "O'BRIEN")]
        assert waited < RULE_CHECK_S + 15
        [hit] = await rule_hits(store)
        assert (hit.alert_event_id, hit.severity) == (alerts[0]["event_id"], "low")
        keyring = keyring_from_settings(kafka_settings)
        explanation = json.loads(keyring.decrypt_text(hit.explanation, "hits.explanation") or "")
        assert [f["detail"] for f in explanation] == [f["detail"] for f in alerts[0]["explanation"]]
    finally:
        await store.close()
