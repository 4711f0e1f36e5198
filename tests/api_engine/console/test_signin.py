"""Signing in under attack: guessing pauses the account and the address, the pause holds against the
right password until it ends or an admin unlocks it, weak passwords are refused, and the auditor
sees every failure, every pause and every account made on the command line.

Strategy: each test replays the attack as it was done, over HTTP (TestClient) against the console on
a store of its own (accounts only: sign-in needs no manifests), with pauses of a second so a test
can wait one out.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api_engine.cli import main
from api_engine.console import ConsoleConfig, create_app
from api_engine.console.auth import SignInPolicy
from api_engine.console.users import add_user
from api_engine.protection.audit import AuditTrail
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import console_sessions

from .conftest import PASSWORD, ConsoleEnv

QUICK = SignInPolicy(account_limit=5, address_limit=20, lockout=timedelta(seconds=1), max_lockout=timedelta(seconds=4))


class Clock:
    """The sign-in guard's clock, moved on by the test instead of waiting out each back-off."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _client(env: ConsoleEnv, policy: SignInPolicy = QUICK) -> TestClient:
    return TestClient(create_app(env.settings, config=ConsoleConfig(signin=policy)))


@pytest.fixture
def client(accounts_env: ConsoleEnv, clock: Clock) -> Iterator[TestClient]:
    with _client(accounts_env) as c:
        c.app.state.console.guard.clock = clock  # type: ignore[attr-defined]
        yield c


def attempt(client: TestClient, name: str, password: str) -> httpx.Response:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    answer: httpx.Response = client.post("/login", follow_redirects=False, data={
        "username": name, "password": password, "csrf_token": token.group(1)})
    return answer


def audit_entries(env: ConsoleEnv) -> list[dict[str, Any]]:
    async def read(store: Store) -> list[dict[str, Any]]:
        return [{"actor": e.actor, "action": e.action, "subject": e.subject, "details": e.details}
                for e in await AuditTrail(store).recent(500)]

    entries: list[dict[str, Any]] = env.run(read)  # type: ignore[assignment]
    return entries


def as_auditor_sees_it(client: TestClient) -> list[dict[str, Any]]:
    """The audit trail as the auditor's console shows it (a fresh browser, signed in as the auditor)."""
    auditor = TestClient(client.app)
    assert attempt(auditor, "auditor", PASSWORD).status_code == 303
    page = auditor.get("/api/audit").json()
    assert page["available"] and page["verification"]["ok"]
    recent: list[dict[str, Any]] = page["recent"]
    return recent


def test_guessing_pauses_the_account_the_right_password_waits_for_the_back_off(
        client: TestClient, accounts_env: ConsoleEnv, clock: Clock) -> None:
    for _ in range(4):
        r = attempt(client, "officer", "not-the-password-1")
        assert r.status_code == 401 and "Wrong user name or password" in r.text
    fifth = attempt(client, "officer", "not-the-password-2")  # the limit: signing in pauses now
    assert fifth.status_code == 401 and "paused for 1 second" in fifth.text
    right = attempt(client, "officer", PASSWORD)  # the right password, during the pause
    assert right.status_code == 429, right.text
    assert "Too many failed sign-ins: signing in to this account is paused" in right.text
    assert "administrator unlocks it" in right.text and right.headers["Retry-After"] == "1"
    assert client.get("/api/me").status_code == 401  # not signed in
    clock.advance(1.1)  # the back-off ends
    wrong_again = attempt(client, "officer", "not-the-password-3")  # one try after the pause... and it doubles
    assert wrong_again.status_code == 401 and "paused for 2 seconds" in wrong_again.text
    assert attempt(client, "officer", PASSWORD).status_code == 429
    assert attempt(client, "officer", PASSWORD).status_code == 429
    clock.advance(2.1)
    assert attempt(client, "officer", PASSWORD).status_code == 303
    assert client.get("/api/me").json()["name"] == "officer"
    # Signed in, the failures are forgotten: one wrong password later is just one wrong password.
    other = TestClient(client.app)
    assert attempt(other, "officer", "not-the-password-4").status_code == 401
    assert attempt(other, "officer", PASSWORD).status_code == 303

    trail = as_auditor_sees_it(client)
    failed = [e for e in trail if e["action"] == "auth.sign_in_failed" and e["subject"] == "user:officer"]
    reasons = [e["details"]["reason"] for e in failed]
    assert reasons.count("wrong password") == 7 and reasons.count("paused") == 3
    assert all(e["details"]["client_ip"] == "testclient" for e in failed)
    pauses = [e for e in trail if e["action"] == "sign_in_lockout"]
    assert [(p["subject"], p["details"]["seconds"]) for p in pauses] == [("user:officer", 2), ("user:officer", 1)]
    assert sum(e["action"] == "sign_in" and e["subject"] == "user:officer" for e in trail) == 2
    assert PASSWORD not in str(trail) and "not-the-password" not in str(trail)


def test_an_admin_unlocks_a_paused_account(accounts_env: ConsoleEnv) -> None:
    long_pause = SignInPolicy(account_limit=3, lockout=timedelta(hours=1))
    with _client(accounts_env, long_pause) as officer:
        for _ in range(3):
            attempt(officer, "officer", "guessing-away-here")
        refused = attempt(officer, "officer", PASSWORD)
        assert refused.status_code == 429 and "paused for 60 minutes" in refused.text
        admin = TestClient(officer.app)
        assert attempt(admin, "admin", PASSWORD).status_code == 303
        page = admin.get("/admin/users")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf and 'action="/admin/users/officer/unlock"' in page.text
        done = admin.post("/admin/users/officer/unlock", data={"csrf_token": csrf.group(1)})
        assert done.status_code == 200 and "Account officer unlocked." in done.text
        assert attempt(officer, "officer", PASSWORD).status_code == 303
    unlocks = [e for e in audit_entries(accounts_env) if e["action"] == "user_unlock"]
    assert [(e["actor"], e["subject"]) for e in unlocks] == [("admin", "user:officer")]


def test_an_unknown_name_is_paused_exactly_like_a_real_one_and_never_stored(client: TestClient,
                                                                            accounts_env: ConsoleEnv) -> None:
    typed = "Hunter2-secret-typed-into-the-name-field"  # a password typed into the name field
    real = [attempt(client, "officer", "wrong-password-x").status_code for _ in range(6)]
    ghost = [attempt(client, typed, "wrong-password-x").status_code for _ in range(6)]
    assert real == ghost == [401, 401, 401, 401, 401, 429]  # no way to tell which accounts exist
    entries = audit_entries(accounts_env)
    assert typed.lower() not in str(entries).lower()
    assert any(e["action"] == "sign_in_lockout" and e["subject"] == "user:(unknown account)" for e in entries)

    async def throttle_table(store: Store) -> str:
        async with store.engine.connect() as conn:
            return str((await conn.exec_driver_sql("SELECT * FROM console_signin_failures")).fetchall())

    assert typed.lower() not in str(accounts_env.run(throttle_table)).lower()


def test_password_spraying_from_one_address_pauses_the_address(accounts_env: ConsoleEnv) -> None:
    spray = SignInPolicy(account_limit=5, address_limit=8, lockout=timedelta(minutes=5))  # no clock needed
    with _client(accounts_env, spray) as client:
        codes = [attempt(client, name, "Summer2025!Summer").status_code
                 for name in ("officer", "supervisor", "auditor", "admin", "alice", "bob", "carol", "dave")]
        assert codes == [401] * 8
        refused = attempt(client, "supervisor", PASSWORD)
        assert refused.status_code == 429 and "signing in to this address is paused for 5 minutes" in refused.text
    pauses = [e for e in audit_entries(accounts_env) if e["action"] == "sign_in_lockout"]
    assert [(e["subject"], e["details"]["scope"]) for e in pauses] == [("address:testclient", "address")]


async def test_a_burst_of_parallel_guesses_is_counted_before_the_passwords_are_checked(
        database_url: str, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL (the row locks are what keep the count right there)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, watchlists=[], profile="baseline")
    store = await Store.open(database_url)
    try:
        await add_user(store, "officer", "officer", PASSWORD)
    finally:
        await store.close()
    app = create_app(settings, config=ConsoleConfig(signin=SignInPolicy(lockout=timedelta(hours=1))))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)

        async def one(password: str) -> int:
            async with httpx.AsyncClient(transport=transport, base_url="http://console") as c:
                page = await c.get("/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert token
                r = await c.post("/login", data={"username": "officer", "password": password,
                                                 "csrf_token": token.group(1)})
                return r.status_code

        codes = await asyncio.gather(*(one(f"guess-number-{i:04d}x") for i in range(16)))
        assert sorted(codes) == [401] * 5 + [429] * 11  # only the limit's worth of passwords was ever tried
        assert await one(PASSWORD) == 429
        await app.state.console.guard.unlock("officer")
        assert await one(PASSWORD) == 303
        store = app.state.console.store
        checked = [e for e in await AuditTrail(store).recent(100)
                   if e.action == "auth.sign_in_failed" and e.details["reason"] == "wrong password"]
    assert len(checked) == 5


@pytest.mark.parametrize(("password", "message"), [
    ("aaaaaaaaaa", "a password needs at least 12 characters"),
    ("aaaaaaaaaaaaaaaa", 'too easy to guess (Repeats like "aaa" are easy to guess)'),
    ("mailcreated5240", "on the list of passwords most often found in data breaches"),
    ("qwertyuiop123456", "too easy to guess"),
    ("newofficer2025!", "too easy to guess"),  # the user's own name and a year
])
def test_weak_passwords_are_refused_with_a_clear_message(client: TestClient, password: str, message: str) -> None:
    assert attempt(client, "admin", PASSWORD).status_code == 303
    csrf = client.get("/api/me").json()["csrf_token"]
    r = client.post("/api/users", json={"name": "newofficer", "role": "officer", "password": password},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and message in r.json()["detail"], r.text
    assert password not in r.text
    page = client.post("/admin/users", data={"name": "newofficer", "role": "officer", "password": password,
                                             "csrf_token": csrf})
    assert page.status_code == 200 and message.replace('"', "&#34;") in page.text
    assert "newofficer" not in [u["name"] for u in client.get("/api/users").json()]


def test_a_long_unguessable_phrase_is_accepted(client: TestClient) -> None:
    assert attempt(client, "admin", PASSWORD).status_code == 303
    csrf = client.get("/api/me").json()["csrf_token"]
    r = client.post("/api/users", json={"name": "newofficer", "role": "officer",
                                        "password": "lantern orbit cobble fjord"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    assert attempt(TestClient(client.app), "newofficer", "lantern orbit cobble fjord").status_code == 303


def test_looking_at_the_sign_in_page_writes_no_session_row(client: TestClient, accounts_env: ConsoleEnv) -> None:
    async def sessions(store: Store) -> int:
        async with store.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(console_sessions))).scalar_one())

    for _ in range(3):
        assert client.get("/login").status_code == 200
        assert TestClient(client.app).get("/login").status_code == 200  # a new visitor each time
    assert accounts_env.run(sessions) == 0
    assert attempt(client, "officer", PASSWORD).status_code == 303  # the form still works
    assert accounts_env.run(sessions) == 1  # the signed-in session


def test_accounts_made_and_changed_on_the_command_line_are_audited(
        accounts_env: ConsoleEnv, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("API_ENGINE_DATABASE_URL", accounts_env.settings.effective_database_url)
    monkeypatch.setenv("API_ENGINE_DATA_DIR", str(accounts_env.settings.data_dir))
    monkeypatch.setattr("getpass.getuser", lambda: "ops-jane")

    monkeypatch.setattr("sys.stdin", io.StringIO("1qaz2wsx3edc\n"))
    assert main(["users", "add", "carol", "--role", "officer", "--password-stdin"]) == 1
    assert "most often found in data breaches" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("quartz meadow lantern vivid\n"))
    assert main(["users", "add", "carol", "--role", "officer", "--password-stdin"]) == 0
    assert main(["users", "unlock", "carol"]) == 0
    assert main(["users", "disable", "carol"]) == 0
    assert main(["users", "disable", "admin"]) == 1  # the last active admin
    assert "last active admin" in capsys.readouterr().err

    entries = [(e["actor"], e["action"], e["subject"]) for e in reversed(audit_entries(accounts_env))]
    assert entries == [("cli:ops-jane", "users.created", "user:carol"), ("cli:ops-jane", "user_unlock", "user:carol"),
                       ("cli:ops-jane", "user_disable", "user:carol")]
