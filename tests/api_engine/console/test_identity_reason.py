"""Identity outside a hit needs a reason that means something, and every such view is audited.

Strategy: replay the request that leaked identity (GET /api/travellers/{uid}:{n} of a traveller with no
hit) and the reasons that were accepted ("aaa"); assert what the officer gets back (no name, date of
birth or document without a reason; them with one) and what the auditor finds in the trail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api_engine.console import create_app

from .conftest import ConsoleEnv, bystander
from .test_security import sign_in

FILLER = ["aaa", "", "   ", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "check check check check check", "xxx yyy zzz www vvv uuu",
          "asdf asdf asdf asdf asdf", "need it", "ab ab ab ab ab ab ab ab ab ab"]
GOOD = "secondary check at gate B12: document photo unclear"
BYSTANDER = bystander(2)  # the last of three on XX100 (position 2), no hit


@pytest.fixture
def officer(console_env: ConsoleEnv) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(console_env.settings)) as client:
        csrf = sign_in(client, "officer")
        yield client, {"X-CSRF-Token": csrf}


def _ref(client: TestClient) -> str:
    uid = client.get("/api/flights").json()[0]["manifest_uid"]
    return f"{uid}:2"


def _identity_views(client: TestClient) -> list[dict[str, object]]:
    auditor = TestClient(client.app)
    auditor.cookies.clear()
    sign_in(auditor, "auditor")
    return [e for e in auditor.get("/api/audit").json()["recent"]
            if e["action"] in ("view_traveller_full", "view_manifest_full")]


def test_a_traveller_without_a_hit_is_minimised_without_a_reason(
        officer: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = officer
    ref = _ref(client)
    r = client.get(f"/api/travellers/{ref}")
    assert r.status_code == 200
    body = r.json()
    assert body["traveller"]["initials"] == f"{BYSTANDER['given'][0]}.{BYSTANDER['surname'][0]}."
    for value in (BYSTANDER["surname"], BYSTANDER["given"], BYSTANDER["doc"]):
        assert value not in r.text
    assert "date_of_birth" not in body["traveller"] and "doc_number" not in body["traveller"]
    assert body["hits"] == []
    page = client.get(f"/travellers/{ref}")
    assert page.status_code == 200 and BYSTANDER["surname"] not in page.text and "Reason" in page.text


def test_identity_with_a_filler_reason_is_refused_and_nothing_is_shown(
        officer: tuple[TestClient, dict[str, str]]) -> None:
    client, h = officer
    ref = _ref(client)
    uid = ref.split(":")[0]
    for reason in FILLER:
        r = client.post(f"/api/travellers/{ref}/full", json={"reason": reason}, headers=h)
        assert r.status_code == 422 and "reason" in r.text and BYSTANDER["surname"] not in r.text, reason
        m = client.post(f"/api/manifests/{uid}/full", json={"reason": reason}, headers=h)
        assert m.status_code == 422 and BYSTANDER["surname"] not in m.text, reason
        page = client.post(f"/travellers/{ref}/full", data={"reason": reason, "csrf_token": h["X-CSRF-Token"]})
        assert page.status_code == 422 and BYSTANDER["surname"] not in page.text, reason
    assert _identity_views(client) == []


def test_identity_with_a_reason_is_shown_and_audited(officer: tuple[TestClient, dict[str, str]]) -> None:
    client, h = officer
    ref = _ref(client)
    r = client.post(f"/api/travellers/{ref}/full", json={"reason": GOOD}, headers=h)
    assert r.status_code == 200, r.text
    t = r.json()["traveller"]
    assert (t["surname"], t["given_names"], t["doc_number"]) == (BYSTANDER["surname"], BYSTANDER["given"],
                                                                  BYSTANDER["doc"])
    page = client.post(f"/travellers/{ref}/full", data={"reason": GOOD, "csrf_token": h["X-CSRF-Token"]})
    assert page.status_code == 200 and BYSTANDER["surname"] in page.text
    views = _identity_views(client)
    assert len(views) == 2
    assert all(v["action"] == "view_traveller_full" and v["subject"] == f"traveller:{ref}" and v["reason"] == GOOD
               and v["actor"] == "officer" for v in views)
    assert all(BYSTANDER["surname"] not in str(v) for v in views)  # the trail holds references, not names
