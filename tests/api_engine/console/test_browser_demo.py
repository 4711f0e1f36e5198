"""After the README's demo, the console as the officer and the auditor see it, in Debian's Chromium.

Strategy: the newcomer's path exactly: `api-engine demo --data-dir D`, an auditor account made with
`users add --password-stdin`, then `api-engine console` started the way the demo's summary says
(`API_ENGINE_CONFIG=D/demo.toml`), all as subprocesses with a clean environment. In the browser: the
Flights page lists the generated flights with their countdowns (a demo living in the past showed
"No flights arriving soon"), the alert queue holds the planted people, and the auditor's Retention
& audit page shows the policy in force, the next 24 hours' backlog and an intact audit chain.
Screenshots of each page go to test-artifacts/console/demo-*.png.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import playwright.sync_api as sync_api
import pytest

from api_engine.cli.demo import DEMO_WATCHLIST

from .conftest import free_port
from .test_browser import _shot

CLI = Path(sys.executable).parent / "api-engine"
AUDITOR_PASSWORD = "quiet ledger of the harbour 7"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """The demo's folder, its console's URL and the passwords it printed (plus an auditor's)."""
    data = tmp_path_factory.mktemp("demo") / "api-engine-demo"
    env = _clean_env() | {"COLUMNS": "120"}
    ran = subprocess.run([str(CLI), "demo", "--flights", "6", "--data-dir", str(data)], capture_output=True,
                         text=True, timeout=300, env=env)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    passwords = dict(re.findall(r"^  (officer|supervisor) \(role \w+\) password (\S+)$", ran.stdout, re.M))
    assert set(passwords) == {"officer", "supervisor"}, ran.stdout
    made = subprocess.run([str(CLI), "users", "add", "auditor", "--role", "auditor", "--password-stdin",
                           "--data-dir", str(data)], input=AUDITOR_PASSWORD + "\n", capture_output=True, text=True,
                          timeout=120, env=env)
    assert made.returncode == 0, made.stderr
    passwords["auditor"] = AUDITOR_PASSWORD
    port = free_port()
    console = subprocess.Popen([str(CLI), "console", "--port", str(port)],
                               env=env | {"API_ENGINE_CONFIG": str(data / "demo.toml")},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/login", timeout=2)
                break
            except httpx.TransportError:
                assert console.poll() is None and time.monotonic() < deadline, \
                    console.stderr.read() if console.stderr else "the console did not start"
                time.sleep(0.2)
        yield url, data, passwords
    finally:
        console.terminate()
        console.wait(20)


def _signed_in(browser: sync_api.Browser, url: str, name: str, password: str) -> sync_api.Page:
    page = browser.new_context(base_url=url, viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("header .who")
    return page


def test_after_the_demo_the_officer_sees_the_flights_arriving_and_the_planted_alerts(
        demo: tuple[str, Path, dict[str, str]], browser: sync_api.Browser) -> None:
    url, data, passwords = demo
    with sqlite3.connect(data / "api-engine.db") as db:
        generated = {key.split("/")[0] for (key,) in db.execute("select flight_key from manifests")
                     if not key.startswith("XX")}  # the example files keep their March 2025 dates
    assert len(generated) == 6
    page = _signed_in(browser, url, "officer", passwords["officer"])
    page.goto("/flights")
    rows = page.locator("table.grid tbody tr").all_inner_texts()
    assert not any("No flights" in r for r in rows), rows
    shown = {r.split()[0] for r in rows}
    assert generated <= shown, (generated, rows)
    countdowns = page.locator("span.countdown").all_inner_texts()
    assert any(c.startswith("arrives in ") for c in countdowns), countdowns
    assert any(c.startswith("landed ") for c in countdowns), countdowns
    _shot(page, "demo-flights")

    page.goto("/alerts")
    queue = page.inner_text("#queue")
    for surname, _, _ in DEMO_WATCHLIST:
        assert surname.upper() in queue.upper(), (surname, queue)
    _shot(page, "demo-alerts")
    page.locator("#queue a.main").first.click()
    page.wait_for_url(re.compile(r".*/hits/\d+"))
    assert "Why it matched, feature by feature" in page.inner_text("main")
    # The list entry says why the person is listed: here, that the demo invented and planted them.
    assert page.inner_text("#entry-programmes") == "demo"
    assert "planted by api-engine demo" in page.inner_text("#entry-reason")
    _shot(page, "demo-hit")


def test_after_the_demo_the_auditor_sees_the_retention_policy_and_backlog(
        demo: tuple[str, Path, dict[str, str]], browser: sync_api.Browser) -> None:
    url, _, passwords = demo
    page = _signed_in(browser, url, "auditor", passwords["auditor"])
    page.goto("/audit")
    assert "intact" in page.inner_text("#verification")
    policy = page.locator("#retention-policy tbody tr").all_inner_texts()
    assert policy and not any("exposes no status" in r for r in policy), policy
    backlog = page.locator("#retention-backlog tbody tr").all_inner_texts()
    assert backlog, "no backlog rows"
    counts = [int(n) for row in backlog for n in row.split("\t")[-2:]]
    # The example manifests are from March 2025: their travellers are long due; the demo's flights are not.
    assert sum(counts) > 0, backlog
    entries = page.locator("#audit-entries tbody tr").all_inner_texts()
    assert any("lists.version_installed" in e and "list management" in e for e in entries), entries
    assert not any("None" in e.split("\t") for e in entries), entries  # every entry states its purpose
    _shot(page, "demo-retention")
