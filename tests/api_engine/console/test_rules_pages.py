"""Targeting rules where the officers are: the rules page and its editor, four eyes, the dry run, and the
severity a rule declares on its hits.

Strategy: real manifests processed by the real Processor into SQLite or (CI=true) PostgreSQL, the console on
the same database, people signed in over the pages and the JSON API (one shared client, as asyncpg's pool
needs). The dry run's promise is checked the hard way: its counts over the stored manifests must equal the
rule hits the processor raises once the set is approved and the same manifests arrive again.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api_engine.console import create_app
from api_engine.console.users import add_user
from api_engine.protection.audit import AuditTrail
from api_engine.protection.crypto import keyring_from_settings
from api_engine.service.rule_dryrun import dry_run
from api_engine.service.rules import parse_rule_text
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import hits, rule_sets
from api_engine.store.store import now

from .conftest import NATIONAL_CSV, PASSWORD, PLANTED, ROLES, SECOND, ConsoleEnv, bystander, paxlst
from .test_four_eyes import Person

LEGAL = "Customs Act s. 12(3), targeting order 2025/7"
RULES = (
    '# routes the unit watches\n'
    'rule "spanish-to-jfk" when traveller.nationality = "ESP" and flight.arrival_airport = "JFK" '
    'then flag severity high score 0.9\n'
    'rule "from-cdg" when flight.departure_airport = "CDG" then flag severity low score 1.0\n'
    'rule "gb-documents-to-jfk" when document.issuing_country = "GBR" and flight.arrival_airport = "JFK" '
    'then flag severity medium score 0.5\n'
    'rule "to-lax" when flight.arrival_airport = "LAX" then flag severity high\n'
)
PROPOSAL = {"name": "watched-routes", "text": RULES, "owner": "targeting unit", "purpose": "route risk",
            "legal_basis": LEGAL}


class Env:
    """The console's database with three flights in it, the bytes they came as, and the console app."""

    def __init__(self, env: ConsoleEnv, sent: list[bytes], client: TestClient) -> None:
        self.env, self.sent, self.client = env, sent, client

    def person(self, name: str) -> Person:
        return Person(self.client, name)

    def rule_hits(self) -> list[Any]:
        async def read(store: Store) -> list[Any]:
            async with store.engine.connect() as conn:
                return list((await conn.execute(select(hits).where(hits.c.category == "rule")
                                                .order_by(hits.c.id))).all())
        return self.env.run(read)  # type: ignore[return-value]

    def stored_rule_sets(self) -> int:
        async def read(store: Store) -> int:
            async with store.engine.connect() as conn:
                return len((await conn.execute(select(rule_sets.c.id))).all())
        return self.env.run(read)  # type: ignore[return-value]

    def audit_actions(self) -> list[str]:
        async def read(store: Store) -> list[str]:
            return [e.action for e in await AuditTrail(store).recent(limit=200)]
        return self.env.run(read)  # type: ignore[return-value]

    def resend_all(self) -> None:
        """The same manifests again under new interchange references: new versions, not duplicates."""
        for n, data in enumerate(self.sent):
            ref = re.search(rb"\+(\d{9})\+\+APIS'", data)
            assert ref is not None
            self.env.process(data.replace(ref.group(1), f"{777000001 + n}".encode()))


@pytest.fixture
def rules_env(tmp_path: Path, database_url: str) -> Iterator[Env]:
    lists = tmp_path / "NATIONAL.csv"
    lists.write_text(NATIONAL_CSV, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, watchlists=[str(lists)],
                        profile="baseline")
    env = ConsoleEnv(settings=settings, tmp=tmp_path)
    sent = [paxlst("XX100", [bystander(1), SECOND, bystander(2)]),
            paxlst("XX200", [bystander(3), PLANTED, bystander(4)]),
            paxlst("XX300", [bystander(5), bystander(6)], origin="CDG")]
    for data in sent:
        env.process(data)

    async def accounts(store: Store) -> None:
        for role in ROLES:
            await add_user(store, role, role, PASSWORD)
        await add_user(store, "supervisor2", "supervisor", PASSWORD)

    env.run(accounts)
    with TestClient(create_app(settings)) as client:
        yield Env(env, sent, client)


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _propose(p: Person, **changes: str) -> Any:
    return p.client.post("/rules/new", data={**PROPOSAL, **changes, "action": "propose",
                                             "csrf_token": p.csrf}, follow_redirects=False)


def test_a_text_that_does_not_parse_is_shown_at_its_line_and_column_and_nothing_is_stored(rules_env: Env) -> None:
    sup = rules_env.person("supervisor")
    bad = 'rule "ok" when flight.arrival_airport = "JFK" then flag severity low\n' \
          'rule "broken" when flight.arrival_airport == "JFK" then flag severity low\n'
    r = _propose(sup, text=bad)
    assert r.status_code == 422
    problem = re.search(r'<div class="error" role="alert" id="rule-problem">(.*?)</div>', r.text, re.S)
    assert problem is not None
    shown = html.unescape(problem.group(1))
    assert "Line 2, column" in shown and "Nothing was stored" in shown
    assert 'rule "broken" when flight.arrival_airport == "JFK"' in shown  # the offending line, with a caret
    col = int(re.search(r"Line 2, column (\d+)", shown).group(1))  # type: ignore[union-attr]
    caret = re.search(r'<span class="caret">( *)\^</span>', problem.group(1))
    assert caret is not None and len(caret.group(1)) == col - 1
    kept = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', r.text, re.S)
    assert kept is not None and html.unescape(kept.group(1)) == bad  # kept in the editor, to be fixed
    # The JSON twin says the same, and nothing was stored either way.
    j = sup.client.post("/api/rules", json={**PROPOSAL, "text": bad}, headers={"X-CSRF-Token": sup.csrf})
    assert j.status_code == 422 and j.json()["line"] == 2 and j.json()["col"] == col
    # A forbidden criterion (nationality alone) is refused at its place too.
    alone = sup.client.post("/api/rules", json={**PROPOSAL, "text": 'rule "n" when traveller.nationality = "ESP" '
                                                                   'then flag severity low\n'},
                            headers={"X-CSRF-Token": sup.csrf})
    assert alone.status_code == 422 and alone.json()["line"] == 1
    assert rules_env.stored_rule_sets() == 0
    assert sup.client.get("/api/rules").json() == []
    assert "rules.proposed" not in rules_env.audit_actions()


def test_four_eyes_on_a_proposal_and_who_may_do_what(rules_env: Env) -> None:
    officer, auditor = rules_env.person("officer"), rules_env.person("auditor")
    sup, sup2 = rules_env.person("supervisor"), rules_env.person("supervisor2")
    assert _propose(officer).status_code == 403  # officers read the rules, they do not write them
    assert officer.client.post("/api/rules", json=PROPOSAL, headers={"X-CSRF-Token": officer.csrf}).status_code == 403
    assert 'href="/rules"' not in officer.client.get("/alerts").text  # linked for supervisors
    assert 'href="/rules"' in sup.client.get("/alerts").text

    r = _propose(sup)
    assert r.status_code == 303
    rid = int(r.headers["location"].split("/")[2].split("?")[0])
    listed = _text(sup.client.get("/rules").text)
    assert "watched-routes" in listed and "pending" in listed and LEGAL in listed
    page = sup.client.get(f"/rules/{rid}").text
    assert "Approve: make it active" not in page  # not offered to the proposer
    assert '+rule "from-cdg"' in html.unescape(page)  # the diff against nothing: every line added

    # The proposer approves anyway: the rule book refuses, and the page says why.
    refused = sup.client.post(f"/rules/{rid}/approve", data={"csrf_token": sup.csrf})
    assert "another supervisor must approve it" in _text(refused.text)
    assert sup.client.post(f"/api/rules/{rid}/approve", headers={"X-CSRF-Token": sup.csrf}).status_code == 403
    assert officer.client.post(f"/rules/{rid}/approve", data={"csrf_token": officer.csrf},
                               follow_redirects=False).status_code == 403
    assert officer.client.post(f"/api/rules/{rid}/approve",
                               headers={"X-CSRF-Token": officer.csrf}).status_code == 403
    assert officer.client.get(f"/api/rules/{rid}").json()["rule_set"]["status"] == "pending"
    assert officer.client.get(f"/api/rules/{rid}").json()["allowed"] == []
    assert auditor.client.get("/api/rules").json()[0]["legal_basis"] == LEGAL

    assert "approve" in sup2.client.get(f"/api/rules/{rid}").json()["allowed"]
    done = sup2.client.post(f"/rules/{rid}/approve", data={"csrf_token": sup2.csrf})
    assert "Approved" in _text(done.text)
    row = auditor.client.get("/api/rules").json()[0]
    assert (row["status"], row["proposed_by"], row["approved_by"]) == ("active", "supervisor", "supervisor2")

    # A second version: the diff shows the change; once approved it is listed first and v1 retires.
    v2_text = RULES.replace('"CDG"', '"ORY"')
    r2 = sup2.client.post("/api/rules", json={**PROPOSAL, "text": v2_text}, headers={"X-CSRF-Token": sup2.csrf})
    assert r2.status_code == 201 and r2.json()["version"] == 2
    diff = sup.client.get(f"/api/rules/{r2.json()['id']}").json()["diff"]
    assert '-rule "from-cdg" when flight.departure_airport = "CDG"' in diff and '"ORY"' in diff
    assert sup.client.post(f"/api/rules/{r2.json()['id']}/approve",
                           headers={"X-CSRF-Token": sup.csrf}).json()["status"] == "active"
    rows = officer.client.get("/api/rules").json()
    assert [(x["version"], x["status"]) for x in rows] == [(2, "active"), (1, "retired")]
    assert sup.client.post(f"/api/rules/{rid}/retire", headers={"X-CSRF-Token": sup.csrf}).status_code == 409
    assert sup.client.post(f"/rules/{r2.json()['id']}/retire", data={"csrf_token": sup.csrf}).status_code == 200
    assert officer.client.get("/api/rules").json()[0]["status"] == "retired"
    actions = rules_env.audit_actions()
    assert actions.count("rules.proposed") == 2 and actions.count("rules.approved") == 2
    assert "rules.retired" in actions


def test_the_dry_run_counts_what_the_rules_then_flag(rules_env: Env) -> None:
    sup, sup2 = rules_env.person("supervisor"), rules_env.person("supervisor2")
    # In the editor, before proposing: counts per rule over the stored manifests, no names.
    page = sup.client.post("/rules/new", data={**PROPOSAL, "action": "dry_run", "csrf_token": sup.csrf})
    assert page.status_code == 200
    shown = dict(re.findall(r'<tr data-rule="([^"]+)">.*?<td class="num count">(\d+)</td>', page.text))
    assert PLANTED["surname"] not in page.text and SECOND["surname"] not in page.text
    assert "3</b> current, complete manifest(s)" in page.text and "8</b> traveller(s) evaluated" in page.text
    assert rules_env.stored_rule_sets() == 0  # a dry run stores nothing

    rid = sup.client.post("/api/rules", json=PROPOSAL, headers={"X-CSRF-Token": sup.csrf}).json()["id"]
    run = sup2.client.post(f"/api/rules/{rid}/dry-run", headers={"X-CSRF-Token": sup2.csrf}).json()
    counts = {c["rule"]: c["flagged"] for c in run["rules"]}
    assert counts == {k: int(v) for k, v in shown.items()}
    # Spanish traveller to JFK; the CDG flight's two; six British documents to JFK; nobody to LAX.
    assert counts == {"spanish-to-jfk": 1, "from-cdg": 2, "gb-documents-to-jfk": 6, "to-lax": 0}
    assert (run["manifests"], run["travellers"], run["flagged"]) == (3, 8, 7)  # all but the Dutch traveller
    assert "rules.dry_run" in rules_env.audit_actions()

    assert rules_env.rule_hits() == []
    sup2.client.post(f"/api/rules/{rid}/approve", headers={"X-CSRF-Token": sup2.csrf}).raise_for_status()
    rules_env.resend_all()
    raised = Counter(h.entry_id for h in rules_env.rule_hits())
    assert {name: raised.get(name, 0) for name in counts} == counts
    assert {h.list for h in rules_env.rule_hits()} == {"rules:watched-routes"}


def test_the_dry_run_function_reads_only_the_window_and_stops_at_its_bound(rules_env: Env) -> None:
    rules = parse_rule_text(RULES)
    keyring = keyring_from_settings(rules_env.env.settings)

    async def run(store: Store, **kw: Any) -> Any:
        return await dry_run(store, keyring, rules, **kw)

    full = rules_env.env.run(lambda store: run(store))
    assert (full.manifests, full.travellers, full.truncated) == (3, 8, False)  # type: ignore[attr-defined]
    bounded = rules_env.env.run(lambda store: run(store, max_travellers=5))
    # whole manifests only, newest first: XX300 (2) and XX200 (3), then the bound
    assert (bounded.manifests, bounded.travellers, bounded.truncated) == (2, 5, True)  # type: ignore[attr-defined]
    assert bounded.counts == {"spanish-to-jfk": 1, "from-cdg": 2, "gb-documents-to-jfk": 4, "to-lax": 0}  # type: ignore[attr-defined]
    later = rules_env.env.run(lambda store: run(store, at=now() + timedelta(days=8)))
    assert later.manifests == 0 and later.travellers == 0  # type: ignore[attr-defined]


def test_a_rule_hit_shows_the_severity_its_rule_declares(rules_env: Env) -> None:
    sup, sup2, officer = rules_env.person("supervisor"), rules_env.person("supervisor2"), rules_env.person("officer")
    text = ('rule "spanish-to-jfk" when traveller.nationality = "ESP" and flight.arrival_airport = "JFK" '
            'then flag severity low score 1.0\n')
    rid = sup.client.post("/api/rules", json={**PROPOSAL, "text": text}, headers={"X-CSRF-Token": sup.csrf}).json()
    sup2.client.post(f"/api/rules/{rid['id']}/approve", headers={"X-CSRF-Token": sup2.csrf}).raise_for_status()
    rules_env.env.process(paxlst("XX400", [bystander(7), PLANTED]))

    queue = officer.client.get("/api/alerts").json()["alerts"]
    rule_alerts = [a for a in queue if a["category"] == "rule"]
    assert len(rule_alerts) == 1
    alert = rule_alerts[0]
    assert (alert["score"], alert["severity"], alert["list"]) == (1.0, "low", "rules:watched-routes")
    page = officer.client.get("/alerts").text
    row = re.search(rf'<tr data-hit-id="{alert["hit_id"]}" class="sev-(\w+)">', page)
    assert row is not None and row.group(1) == "low"

    hit_page = officer.client.get(f"/hits/{alert['hit_id']}").text
    origin = re.search(r'<section class="card" id="raised-by-rule">(.*?)</section>', hit_page, re.S)
    assert origin is not None
    said = _text(origin.group(1))
    assert "watched-routes v1" in said and "spanish-to-jfk" in said and LEGAL in said
    explained = _text(hit_page.split('id="explanation"')[1].split("</table>")[0])
    assert """traveller.nationality = "ESP" (yes: 'ESP')""" in explained
    assert """flight.arrival_airport = "JFK" (yes: 'JFK')""" in explained
    detail = officer.client.get(f"/api/hits/{alert['hit_id']}").json()
    assert detail["rule"]["version"] == 1 and detail["rule"]["legal_basis"] == LEGAL

    # Four eyes follows the declared severity: a low hit's dismissal takes it off the queue at once
    # (a watchlist hit scoring 1.0 would wait for a second person).
    decided = officer.client.post(f"/api/hits/{alert['hit_id']}/decision",
                                  json={"decision": "dismiss", "comment": "known route, cleared"},
                                  headers={"X-CSRF-Token": officer.csrf}).json()
    assert decided["status"] == "dismissed"
