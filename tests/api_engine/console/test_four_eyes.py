"""Four eyes on everything that hides a hit: a dismissal of a high-severity hit and every clearance
(allowlist entry) take effect only when a second person, a supervisor other than the first, approves;
nobody decides his own escalation.

Strategy: replay the attacks as they were done, over the JSON API, on SQLite and (CI=true) PostgreSQL:
an officer dismisses the planted traveller's hit, the carrier sends the list again and the screening
service (a freshly started Processor, which installs approved clearances only) must alert again; a
supervisor escalates and then tries to decide his own escalation. The officer's and the auditor's view
(queue, hit detail, audit trail) is what is asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api_engine.console import create_app

from .conftest import ROLES, SECOND, ConsoleEnv, bystander, flight_env, paxlst
from .test_security import sign_in

SUPERVISORS = ("supervisor", "supervisor2", "supervisor3")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> ConsoleEnv:
    """Flight XX100 carrying the planted traveller (a high-severity hit), on SQLite or PostgreSQL."""
    return flight_env(tmp_path, database_url, {**{role: role for role in ROLES},
                                               **{name: "supervisor" for name in SUPERVISORS}})


class Person:
    """One signed-in user of the console. All share the one client (one event loop, as asyncpg's pool
    needs) and take turns with their own session cookie."""

    def __init__(self, shared: TestClient, name: str) -> None:
        self.shared = shared
        shared.cookies.clear()
        self.csrf = sign_in(shared, name)
        self.cookies = dict(shared.cookies.items())

    @property
    def client(self) -> TestClient:
        self.shared.cookies.clear()
        for key, value in self.cookies.items():
            self.shared.cookies.set(key, value)
        return self.shared

    def decide(self, hit_id: int, decision: str, comment: str) -> Any:
        return self.client.post(f"/api/hits/{hit_id}/decision", json={"decision": decision, "comment": comment},
                                headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def console(env: ConsoleEnv) -> Iterator[TestClient]:
    with TestClient(create_app(env.settings)) as client:
        yield client


def _second_alerts(person: Person, flight: str) -> list[dict[str, Any]]:
    return [a for a in person.client.get("/api/alerts").json()["alerts"]
            if a["surname"] == SECOND["surname"] and a["flight_key"].startswith(flight)]


def _audit(app: TestClient) -> list[dict[str, Any]]:
    auditor = Person(app, "auditor")
    return list(auditor.client.get("/api/audit").json()["recent"])


def test_an_officers_dismissal_of_a_high_hit_waits_and_the_traveller_alerts_again(env: ConsoleEnv,
                                                                                   console: TestClient) -> None:
    officer = Person(console, "officer")
    [alert] = _second_alerts(officer, "XX100")
    assert alert["severity"] == "high"
    hit_id = alert["hit_id"]

    r = officer.decide(hit_id, "dismiss", "passport checked at the desk, different person")
    assert r.status_code == 200, r.text
    assert r.json() == {**r.json(), "status": "dismiss_pending", "clearance": "pending", "allowlisted": False,
                        "awaiting_approval": True}
    # The hit is still in the queue, marked as waiting for a second person.
    [still] = _second_alerts(officer, "XX100")
    assert still["status"] == "dismiss_pending"
    assert officer.client.get("/api/alerts").json()["pending"] == 1
    assert officer.client.get(f"/api/hits/{hit_id}").json()["clearance"] == "pending"

    # The carrier sends the traveller again: the screening service alerts, the clearance is not in force.
    env.process(paxlst("XX300", [SECOND, bystander(5)]))
    assert len(_second_alerts(officer, "XX300")) == 1

    # Nobody approves his own dismissal; officers approve nothing.
    assert officer.decide(hit_id, "approve", "I am sure about it").status_code == 403
    supervisor = Person(console, "supervisor")
    detail = supervisor.client.get(f"/api/hits/{hit_id}").json()
    assert detail["allowed"] == ["approve", "reject"]
    r = supervisor.decide(hit_id, "approve", "looked at the passport scan: not the listed person")
    assert r.status_code == 200, r.text
    assert r.json() == {**r.json(), "status": "dismissed", "clearance": "approved", "allowlisted": True}
    assert _second_alerts(officer, "XX100") == []

    # Now, and only now, the same traveller no longer alerts on this entry.
    env.process(paxlst("XX400", [SECOND, bystander(6)]))
    assert _second_alerts(officer, "XX400") == []

    entries = [e for e in _audit(console) if e["subject"] == f"hit:{hit_id}" and e["action"] == "decision"]
    by_actor = {e["actor"]: json.loads(e["details"]) if isinstance(e["details"], str) else e["details"]
                for e in entries}
    assert by_actor["officer"]["decision"] == "dismiss" and by_actor["officer"]["clearance"] == "pending"
    assert by_actor["supervisor"] == {**by_actor["supervisor"], "decision": "approve", "proposed_by": "officer",
                                      "clearance": "approved", "to": "dismissed"}


def test_a_supervisor_cannot_decide_his_own_escalation(env: ConsoleEnv, console: TestClient) -> None:
    first, second, third = (Person(console, name) for name in SUPERVISORS)
    [alert] = _second_alerts(first, "XX100")
    hit_id = alert["hit_id"]
    assert first.decide(hit_id, "escalate", "unsure: the date of birth matches exactly").status_code == 200

    assert first.client.get(f"/api/hits/{hit_id}").json()["allowed"] == []
    for decision in ("confirm", "dismiss"):
        r = first.decide(hit_id, decision, "deciding my own escalation")
        assert r.status_code == 403 and "escalated" in r.json()["detail"]
    assert _second_alerts(first, "XX100")[0]["status"] == "escalated"

    # Another supervisor proposes the dismissal; neither he nor the escalating one may approve it.
    r = second.decide(hit_id, "dismiss", "different person: checked the document number")
    assert r.json()["status"] == "dismiss_pending"
    assert second.decide(hit_id, "approve", "approving my own dismissal").status_code == 403
    assert first.decide(hit_id, "approve", "approving the dismissal of my escalation").status_code == 403
    r = third.decide(hit_id, "approve", "second look: the document number differs")
    assert r.status_code == 200 and r.json()["status"] == "dismissed"


def test_a_rejected_dismissal_goes_back_to_the_queue_and_clears_nobody(env: ConsoleEnv, console: TestClient) -> None:
    officer, supervisor = Person(console, "officer"), Person(console, "supervisor")
    hit_id = _second_alerts(officer, "XX100")[0]["hit_id"]
    officer.decide(hit_id, "dismiss", "looks like a namesake to me")
    r = supervisor.decide(hit_id, "reject", "dates of birth and document both match: not a namesake")
    assert r.status_code == 200 and r.json()["status"] == "open" and r.json()["clearance"] == "rejected"
    assert _second_alerts(officer, "XX100")[0]["status"] == "open"
    env.process(paxlst("XX500", [SECOND]))
    assert len(_second_alerts(officer, "XX500")) == 1
