"""What a newcomer and an officer found missing in the console, checked as they see it (issue "A newcomer and an
officer get on without help", item 2): the retention status, no escalation offered to a supervisor, arrival
countdowns, queue filters with counts, hits first in a manifest, features in words, hit titles, rows that open,
findings in words, list versions explained, what the list says of its entry, and the audit of failed sign-ins
and of accounts made on the command line.

Strategy: the processor fills the store from generated PAXLST (flights relative to now) and screens against the
national list of the console fixtures, on SQLite and (CI=true) PostgreSQL; the console answers through one
TestClient (one event loop, as asyncpg's pool needs), each person signing in on it in turn. Pages are read as
HTML, the way an officer or an auditor reads them.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import playwright.sync_api as sync_api
import pytest
from fastapi.testclient import TestClient

from api_engine.cli import main
from api_engine.console import create_app
from api_engine.protection.crypto import keyring_from_settings
from api_engine.protection.retention import load_policy, run_retention
from api_engine.store import Store

from .conftest import (
    PLANTED,
    SECOND,
    ConsoleEnv,
    RunningConsole,
    bystander,
    flight_env,
    paxlst,
)
from .test_browser import CHROMIUM, _page, _sign_in
from .test_security import sign_in


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> ConsoleEnv:
    """Flight XX100 carrying the second planted traveller (a hit), an account per role; SQLite or PostgreSQL."""
    return flight_env(tmp_path, database_url)


@pytest.fixture
def client(env: ConsoleEnv) -> Iterator[TestClient]:
    with TestClient(create_app(env.settings)) as c:
        yield c


def as_user(client: TestClient, name: str) -> str:
    """Sign `name` in on the shared client (the previous person's cookie dropped); the CSRF token."""
    client.cookies.clear()
    return sign_in(client, name)


def text_of(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def section(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}".*?</(table|dl|section|nav|p)>', page, re.S)
    assert found is not None, f"no #{element_id} on the page"
    return found.group(0)


def first_hit(client: TestClient, **params: str) -> dict[str, Any]:
    alerts: list[dict[str, Any]] = client.get("/api/alerts", params=params).json()["alerts"]
    assert alerts
    return alerts[0]


def audit_entries(client: TestClient) -> list[dict[str, Any]]:
    as_user(client, "auditor")
    return list(client.get("/api/audit").json()["recent"])


# 1 ---------------------------------------------------------------------------------------------------------

def test_the_auditor_sees_the_retention_policy_the_last_runs_and_what_falls_due_in_24_hours(
        client: TestClient, env: ConsoleEnv) -> None:
    # A flight that arrived more than a day ago: its two travellers are deleted within the next 24 hours
    # (border lane: 48 h after arrival).
    env.process(paxlst("XX700", [bystander(7), bystander(8)], depart_in=timedelta(hours=-40)))

    async def retention_run(store: Store) -> None:
        await run_retention(store, load_policy(), now=datetime.now(UTC), actor="retention-service",
                            keyring=keyring_from_settings(env.settings))

    env.run(retention_run)
    as_user(client, "auditor")
    page = client.get("/audit").text
    assert "exposes no status function" not in page

    policy = text_of(section(page, "retention-policy"))
    assert "traveller data (no held hit) border 48 h 48 h after scheduled arrival" in policy
    assert "traveller data (no held hit) law enforcement 183 days 5 years after receipt" in policy
    assert "audit trail all — 5 years" in policy

    backlog = text_of(section(page, "retention-backlog"))
    assert "Due in the next 24 hours" in page
    assert "traveller data (no held hit) border 0 2" in backlog  # XX700's two; XX100 arrives later
    assert "case data (traveller with a confirmed, escalated or pending-dismissal hit) border 0 0" in backlog

    runs = text_of(section(page, "retention-runs"))
    assert "retention-service" in runs and "dry run" not in runs


# 2 ---------------------------------------------------------------------------------------------------------

def test_a_supervisor_is_not_offered_escalation_an_officer_is(client: TestClient) -> None:
    as_user(client, "supervisor")
    hit_id = first_hit(client)["hit_id"]
    page = client.get(f"/hits/{hit_id}").text
    assert "Confirm match" in page and "Escalate to supervisor" not in page
    assert client.get(f"/api/hits/{hit_id}").json()["allowed"] == ["confirm", "dismiss"]

    as_user(client, "officer")
    assert "Escalate to supervisor" in client.get(f"/hits/{hit_id}").text


# 3 ---------------------------------------------------------------------------------------------------------

def _hours_until(iso: str) -> float:
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - datetime.now(UTC)).total_seconds() / 3600


def test_queue_and_flights_count_down_to_the_arrival_and_say_since_when_a_flight_landed(
        client: TestClient, env: ConsoleEnv) -> None:
    env.process(paxlst("XX300", [bystander(3), PLANTED], depart_in=timedelta(hours=-16)))
    as_user(client, "officer")
    alert = first_hit(client, flight="XX100")
    ahead = _hours_until(alert["arrival"]["utc"])
    assert ahead > 1

    row = re.search(rf'<tr data-hit-id="{alert["hit_id"]}".*?</tr>', client.get("/alerts").text, re.S)
    assert row is not None
    shown = re.search(r"arrives in (\d+) h( (\d+) min)?", text_of(row.group(0)))
    assert shown is not None
    assert abs(int(shown.group(1)) + int(shown.group(3) or 0) / 60 - ahead) < 0.1

    flights = client.get("/flights?all=true").text
    past = next(f for f in client.get("/api/flights", params={"all": "true"}).json() if f["flight_id"] == "XX300")
    ago = -_hours_until(past["arrival"]["utc"])
    assert ago > 1
    landed = re.search(r"landed (\d+) h( (\d+) min)? ago", text_of(flights.split("XX300", 1)[1]))
    assert landed is not None
    assert abs(int(landed.group(1)) + int(landed.group(3) or 0) / 60 - ago) < 0.1


# 4 ---------------------------------------------------------------------------------------------------------

def _filter_counts(page: str) -> dict[str, int]:
    return {key: int(n) for key, n in re.findall(
        r'data-show="(\w+)"[^>]*>[^<]*<span class="count">(\d+)</span>', section(page, "queue-show"))}


def test_the_queue_filters_open_escalated_and_decided_hits_with_their_counts(
        client: TestClient, env: ConsoleEnv) -> None:
    env.process(paxlst("XX400", [PLANTED, bystander(4)]))
    csrf = as_user(client, "officer")
    confirmed = first_hit(client, flight="XX100")["hit_id"]
    escalated = first_hit(client, flight="XX400")["hit_id"]
    for hit_id, decision in ((confirmed, "confirm"), (escalated, "escalate")):
        r = client.post(f"/api/hits/{hit_id}/decision", json={"decision": decision, "comment": "checked at gate"},
                        headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text

    def rows(show: str) -> list[int]:
        page = client.get(f"/alerts?show={show}").text
        return [int(x) for x in re.findall(r'<tr data-hit-id="(\d+)"', page)]

    page = client.get("/alerts").text
    assert _filter_counts(page) == {"waiting": 1, "open": 0, "escalated": 1, "decided": 1, "all": 2}
    assert 'href="/alerts?show=decided' in page
    assert rows("waiting") == [escalated] and rows("escalated") == [escalated]
    assert rows("open") == [] and rows("decided") == [confirmed]
    assert sorted(rows("all")) == sorted([confirmed, escalated])
    decided = client.get("/alerts?show=decided").text
    assert 'aria-current="page"' in section(decided, "queue-show").split('data-show="decided"', 1)[1][:40]
    assert client.get("/api/alerts?show=decided").json()["counts"]["decided"] == 1


# 5 ---------------------------------------------------------------------------------------------------------

def test_travellers_with_hits_come_first_in_the_manifest(client: TestClient, env: ConsoleEnv) -> None:
    env.process(paxlst("XX500", [*(bystander(n) for n in range(10, 16)), PLANTED]))
    as_user(client, "officer")
    uid = first_hit(client, flight="XX500")["manifest_uid"]
    page = client.get(f"/flights/{uid}").text
    rows = re.findall(r"<tr class=\"[^\"]*\" data-ref=\"[^\"]+\">(.*?)</tr>", page, re.S)
    assert len(rows) == 7
    assert "1 hit" in text_of(rows[0]) and text_of(rows[0]).startswith("7 ")  # the seventh on the list, first here
    assert all("hit" not in text_of(r) for r in rows[1:])
    assert [text_of(r).split()[0] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6"]


# 6 ---------------------------------------------------------------------------------------------------------

def test_the_explanation_names_features_in_words_and_keeps_the_identifier_as_a_title(client: TestClient) -> None:
    as_user(client, "officer")
    page = client.get(f"/hits/{first_hit(client)['hit_id']}").text
    explanation = section(page, "explanation")
    assert '<b title="date_of_birth">date of birth</b>' in explanation
    assert '<b title="name">name</b>' in explanation
    assert "date_of_birth" not in text_of(explanation)


# 7 ---------------------------------------------------------------------------------------------------------

def test_a_hit_page_is_titled_with_severity_list_and_flight(client: TestClient) -> None:
    as_user(client, "officer")
    alert = first_hit(client)
    page = client.get(f"/hits/{alert['hit_id']}").text
    expected = f"{alert['severity'].capitalize()} hit on NATIONAL list · XX100 LHR → JFK"
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title is not None and html.unescape(title.group(1)).startswith(expected)
    h1 = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert h1 is not None and text_of(h1.group(1)).startswith(expected)
    assert f"Hit {alert['hit_id']}" not in html.unescape(title.group(1))


# 8 ---------------------------------------------------------------------------------------------------------

def test_a_whole_queue_row_opens_its_hit_by_a_link_in_its_main_cell(client: TestClient) -> None:
    as_user(client, "officer")
    hit_id = first_hit(client)["hit_id"]
    page = client.get("/alerts").text
    assert "open a row" not in page and "select a hit" in page
    row = re.search(rf'<tr data-hit-id="{hit_id}"[^>]*>(.*?)</tr>', page, re.S)
    assert row is not None
    link = re.search(rf'<a class="main" href="/hits/{hit_id}">(.*?)</a>', row.group(1), re.S)
    assert link is not None and SECOND["surname"] in link.group(1)  # the traveller's name is the link
    assert client.get(f"/hits/{hit_id}").status_code == 200


def test_in_the_browser_a_click_anywhere_on_a_queue_row_or_enter_on_its_link_opens_the_hit(
        live_console: RunningConsole) -> None:
    # A Chromium of its own, closed before the next test: sync Playwright runs an event loop in this thread
    # while it is open, and the next tests' database fixture needs none running.
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page: Any = _page(browser, live_console.url)
            _sign_in(page, "officer")
            page.locator("#queue tr[data-hit-id] td.num").first.click()  # the score: no link there
            page.wait_for_url("**/hits/*")
            assert "hit on NATIONAL list" in page.title()
            page.go_back()
            page.wait_for_selector("#queue tr[data-hit-id]")
            page.locator("#queue tr[data-hit-id] a.main").first.focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**/hits/*")
        finally:
            browser.close()


# 9 ---------------------------------------------------------------------------------------------------------

def _parts_out_of_order(flight: str, first: list[dict[str, str]], second: list[dict[str, str]]) -> list[bytes]:
    """A list in two parts, the final part (02:F) sent before the first (01:C)."""
    one = paxlst(flight, first).replace(b"+01:F'", b"+01:C'")
    two = (paxlst(flight, second).replace(b"+01:F'", b"+02:F'")
           .replace(f"CNT+42:{len(second)}'".encode(), f"CNT+42:{len(first) + len(second)}'".encode()))
    return [two, one]


def test_findings_are_summarised_in_words_with_the_rule_ids_kept_aside(client: TestClient, env: ConsoleEnv) -> None:
    for part in _parts_out_of_order("XX600", [bystander(20), bystander(21)], [bystander(22)]):
        env.process(part)
    as_user(client, "officer")
    flights = client.get("/flights").text
    row = re.search(r'<tr class="rowlink" data-href="/flights/[^"]+">((?:(?!</tr>).)*XX600.*?)</tr>', flights, re.S)
    assert row is not None
    cell = row.group(1)
    shown = re.search(r'<ul class="findings">(.*?)</ul>', cell, re.S)
    assert shown is not None
    assert "parts arrived out of order (reordered)" in text_of(shown.group(1))
    assert "ASM-PART-ORDER" not in text_of(shown.group(1))  # the rule id is in the title and the details
    assert 'title="ASM-PART-ORDER: parts arrived out of sequence order; reordered"' in shown.group(1)
    assert "1 note" in text_of(cell) and "error" not in text_of(re.sub(r"<details.*?</details>", "", cell, flags=re.S))
    assert "ASM-PART-ORDER" in text_of(re.search(r"<details.*?</details>", cell, re.S).group(0))  # type: ignore[union-attr]


# 10 --------------------------------------------------------------------------------------------------------

def test_a_list_version_is_explained_and_only_shown_once_there_are_several(client: TestClient,
                                                                           env: ConsoleEnv) -> None:
    as_user(client, "officer")
    page = client.get("/flights").text
    assert not re.search(r">v\d+", page) and "version 1 of the list" not in page

    env.process(paxlst("XX100", [bystander(1), SECOND, bystander(2), bystander(3)]))  # the carrier sends it again
    page = client.get("/flights").text
    version = re.search(r'<small class="version" title="([^"]+)">version 2 of the list</small>', page)
    assert version is not None and "replaces the earlier ones" in version.group(1)


# 11 --------------------------------------------------------------------------------------------------------

def test_the_hit_page_shows_what_the_loaded_list_says_of_its_entry(client: TestClient) -> None:
    as_user(client, "supervisor")
    versions = {w["name"]: w["version"] for w in client.get("/api/watchlists").json()["lists"]}
    as_user(client, "officer")
    page = client.get(f"/hits/{first_hit(client)['hit_id']}").text
    listed = text_of(section(page, "entry-list"))
    assert versions["NATIONAL"] in listed and "loaded" in listed
    assert "no reason for the listing, no programme and no listing date" in text_of(section(page, "entry-no-reason"))


# 12 --------------------------------------------------------------------------------------------------------

def test_failed_sign_ins_and_accounts_made_on_the_command_line_are_in_the_audit_trail(
        client: TestClient, env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    client.cookies.clear()
    for name, password in (("officer", "not the right one at all"), ("no-such-officer", "hunter2 typed here")):
        client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        r = client.post("/login", data={"username": name, "password": password, "csrf_token": token.group(1)})
        assert r.status_code == 401

    monkeypatch.setenv("API_ENGINE_DATABASE_URL", env.settings.effective_database_url)
    monkeypatch.setenv("API_ENGINE_DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setattr("getpass.getuser", lambda: "ops-jane")
    monkeypatch.setattr("sys.stdin", io.StringIO("quartz meadow lantern vivid\n"))
    assert main(["users", "add", "carol", "--role", "officer", "--password-stdin"]) == 0

    entries = audit_entries(client)
    failed = {e["subject"]: e for e in entries if e["action"] == "auth.sign_in_failed"}
    assert set(failed) == {"user:officer", "user:(unknown account)"}
    assert failed["user:officer"]["details"]["reason"] == "wrong password"
    created = [e for e in entries if e["action"] == "users.created"]
    assert [(e["actor"], e["subject"], e["details"]["role"], e["details"]["via"]) for e in created] == [
        ("cli:ops-jane", "user:carol", "officer", "cli")]
    trail = repr(entries)
    assert "no-such-officer" not in trail and "not the right one" not in trail and "hunter2" not in trail
    assert "quartz meadow" not in trail
    page = client.get("/audit").text
    assert "auth.sign_in_failed" in page and "users.created" in page
