"""Fixtures for the console tests: a store with real manifests and hits, accounts of every role.

Strategy: the processor (Processor.process on PAXLST bytes, screening against a national CSV
list with planted travellers) fills a SQLite store under tmp_path; the console runs on the same
database and data_dir (so it shares the processor's data key). Manifests are generated with times
relative to now, so flights are "upcoming". Sync helpers wrap the async processor with
asyncio.run (in a thread), so browser tests (sync Playwright) and TestClient tests can both use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import playwright.sync_api as sync_api
import pytest

from api_engine.console import ConsoleConfig, create_app
from api_engine.console.users import add_user
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from api_engine.store import Store

CHROMIUM = os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery"
ROLES = ("officer", "supervisor", "auditor", "admin")
# Planted travellers: on the national list (tests search the logs for these names).
PLANTED = {"surname": "QUILLFEATHER", "given": "ODALYS", "dob": "1981-07-19", "dob6": "810719", "nat": "ESP",
           "nat2": "ES", "doc": "XK9912345", "sex": "F"}
SECOND = {"surname": "VANTERPOOL", "given": "BARNABY", "dob": "1975-02-03", "dob6": "750203", "nat": "NLD",
          "nat2": "NL", "doc": "NX4455667", "sex": "M"}
NATIONAL_CSV = (
    "id,list,category,full_name,surname,given_names,aliases,date_of_birth,nationality,gender,document_number,"
    "document_type,document_country\n"
    f"NAT-001,NATIONAL,individual,,{PLANTED['surname']},{PLANTED['given']},,{PLANTED['dob']},{PLANTED['nat2']},"
    f"{PLANTED['sex']},{PLANTED['doc']},P,{PLANTED['nat2']}\n"
    f"NAT-002,NATIONAL,individual,,{SECOND['surname']},{SECOND['given']},,{SECOND['dob']},{SECOND['nat2']},"
    f"{SECOND['sex']},{SECOND['doc']},P,{SECOND['nat2']}\n"
    "NAT-003,NATIONAL,individual,,ZEBEDEE-NOBODY,CASSIUS,,1960-01-01,FR,M,,,\n"
)


def paxlst(flight: str, travellers: list[dict[str, str]], *, depart_in: timedelta = timedelta(hours=2),
           origin: str = "LHR", destination: str = "JFK") -> bytes:
    """A PAXLST interchange for `flight` leaving `depart_in` from now (times written as local)."""
    ref = f"{random.randrange(10**8, 10**9)}"
    dep = datetime.now(UTC) + depart_in
    arr = dep + timedelta(hours=8)
    carrier = flight[:2]
    segs = [
        f"UNB+UNOA:4+{carrier}AIRAPI:ZZ+ZZGOVAPI:ZZ+{dep:%y%m%d:%H%M}+{ref}++APIS",
        f"UNG+PAXLST+{carrier} AIRLINE+ZZGOVAPI+{dep:%y%m%d:%H%M}+1+UN+D:05B",
    ]
    body = [
        f"UNH+1+PAXLST:D:05B:UN:IATA+{flight}/{dep:%y%m%d/%H%M}+01:F", "BGM+745", f"RFF+TN:{flight}{ref}:::1",
        "NAD+MS+++APIS DESK", f"TDT+20+{flight}+++{carrier}", f"LOC+125+{origin}", f"DTM+189:{dep:%y%m%d%H%M}:201",
        f"LOC+87+{destination}", f"DTM+232:{arr:%y%m%d%H%M}:201",
    ]
    for i, t in enumerate(travellers, 1):
        body += [f"NAD+FL+++{t['surname']}:{t['given']}", f"ATT+2++{t['sex']}", f"DTM+329:{t['dob6']}",
                 f"LOC+178+{origin}", f"LOC+179+{destination}", f"NAT+2+{t['nat']}", f"RFF+ABO:{i:04d}",
                 f"DOC+P:110:111+{t['doc']}", "DTM+36:301231", f"LOC+91+{t['nat']}"]
    body.append(f"CNT+42:{len(travellers)}")
    body.append(f"UNT+{len(body) + 1}+1")
    segs += [*body, "UNE+1+1", f"UNZ+1+{ref}"]
    return ("UNA:+.? '" + "'".join(segs) + "'").encode()


def bystander(n: int) -> dict[str, str]:
    names = ["HARTLEY", "OKONKWO", "LINDQVIST", "MORETTI", "TANAKA", "SILVA", "NOWAK", "DUBOIS"]
    return {"surname": names[n % len(names)], "given": ["ANNA", "PETER", "LUCIA", "TOMAS"][n % 4],
            "dob6": f"{70 + n % 25:02d}0{1 + n % 9}1{n % 9}", "nat": "GBR", "doc": f"P{n:08d}", "sex": "MF"[n % 2]}


@dataclass
class ConsoleEnv:
    settings: Settings
    tmp: Path

    def process(self, data: bytes) -> None:
        _in_thread(lambda: self._process(data))

    async def _process(self, data: bytes) -> None:
        processor = await Processor.open(self.settings)
        try:
            await processor.process(data, source="test")
        finally:
            await processor.close()

    def run(self, coro_fn: object) -> object:
        async def go() -> object:
            store = await Store.open(self.settings.effective_database_url)
            try:
                return await coro_fn(store)  # type: ignore[operator]
            finally:
                await store.close()

        return _in_thread(go)


def _in_thread(make: object) -> object:
    """asyncio.run in a thread of its own: sync Playwright keeps an event loop running in this one."""
    out: list[object] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(make()))  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


def flight_env(tmp_path: Path, database_url: str, users: dict[str, str] | None = None) -> ConsoleEnv:
    """A store with one flight (XX100) carrying the second planted traveller (a hit on the national list),
    and the accounts `users` (name → role; default one per role, named after it)."""
    lists = tmp_path / "NATIONAL.csv"
    lists.write_text(NATIONAL_CSV, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, watchlists=[str(lists)],
                        profile="baseline")
    env = ConsoleEnv(settings=settings, tmp=tmp_path)
    env.process(paxlst("XX100", [bystander(1), SECOND, bystander(2)]))

    async def accounts(store: Store) -> None:
        for name, role in (users or {role: role for role in ROLES}).items():
            await add_user(store, name, role, PASSWORD)

    env.run(accounts)
    return env


@pytest.fixture
def console_env(tmp_path: Path) -> ConsoleEnv:
    """`flight_env` on a SQLite file."""
    return flight_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningConsole:
    url: str
    env: ConsoleEnv


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` under uvicorn in a background thread on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_console(console_env: ConsoleEnv) -> Iterator[RunningConsole]:
    """The console under uvicorn in a background thread on a free loopback port."""
    with serving(create_app(console_env.settings, config=ConsoleConfig(poll_interval_s=0.3))) as url:
        yield RunningConsole(url=url, env=console_env)


@pytest.fixture
def accounts_env(tmp_path: Path) -> ConsoleEnv:
    """A store with one account per role (named after the role) and nothing else."""
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
                        watchlists=[], profile="baseline")
    env = ConsoleEnv(settings=settings, tmp=tmp_path)

    async def accounts(store: Store) -> None:
        for role in ROLES:
            await add_user(store, role, role, PASSWORD)

    env.run(accounts)
    return env


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    """Debian's Chromium launched by path (never `playwright install`), one per test module."""
    assert Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield b
        finally:
            b.close()
