"""`conformance run --iapi`: the carrier simulator passes against `api-engine serve`, and fails exactly the case a
profile change breaks.

Strategy: the service runs as a subprocess on its embedded broker (own data dir and port), screening against a
national list file that names the planted traveller; the simulator plants the same traveller (`--watchlist`).
A black box cannot make an officer decide, so while the simulator waits for a government change the test
confirms the planted traveller's hit in the service's store as the console does (the hit confirmed and
`request_change` in one transaction); the service then sends the CUSRES 132 and the simulator answers it with
a 312. The profile change: `cn-iapi` requires RFF+AVF for every traveller, and the close-out lists travellers
by reference (NAD+FL, RFF+ABO only), so only the close-out case may fail under it.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from api_engine.cli import main
from conformance.iapi import CASES, NO_CHANGE, IapiError, listed_from_file, listed_from_name

NATIONAL = ("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
            "NAT-77,NATIONAL,individual,,VARGAS-HOLM,ESTEBAN,1974-06-19,CHL\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(tmp: Path, watchlist: Path, profile: str = "baseline") -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "API_ENGINE_DATA_DIR": str(tmp / "data"), "API_ENGINE_EMBEDDED_BROKER_PORT": str(port),
           "API_ENGINE_HTTP_PORT": "0", "API_ENGINE_WATCHLISTS": str(watchlist), "API_ENGINE_PROFILE": profile}
    env.pop("API_ENGINE_DATABASE_URL", None)
    log_path = tmp / "serve.log"
    log = log_path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "api_engine.cli", "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"event=partitions_assigned" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"api-engine serve did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def simulate(bootstrap: str, tmp: Path, watchlist: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["conformance", "run", "--iapi", "--bootstrap", bootstrap, "--watchlist", str(watchlist),
                       "--timeout", "30", "--json", "--junit", str(tmp / "iapi.xml"), "--html", str(tmp / "iapi.html"),
                       *extra])
    return status, json.loads(out.getvalue())


def verdicts(doc: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["verdict"] for c in doc["cases"]}


async def confirm_the_planted_hit(data_dir: Path, entry_id: str, stop: asyncio.Event) -> bool:
    """As an officer confirming the hit in the console: the hit confirmed and its iAPI change, one transaction."""
    from sqlalchemy import select, update

    from api_engine.service.iapi_changes import request_change
    from api_engine.settings import Settings
    from api_engine.store import Store
    from api_engine.store.schema import hits

    store = await Store.open(Settings(data_dir=data_dir).effective_database_url, run_migrations=False)
    try:
        while not stop.is_set():
            async with store.engine.connect() as conn:
                hit = (await conn.execute(select(hits.c.id, hits.c.traveller_id).where(
                    hits.c.entry_id == entry_id, hits.c.status == "open"))).first()
            if hit is not None:
                async with store.transaction() as conn:
                    await conn.execute(update(hits).where(hits.c.id == hit.id).values(status="confirmed"))
                    change = await request_change(conn, store, hit_id=hit.id, traveller_id=hit.traveller_id,
                                                  new_hit_status="confirmed", decided_by="officer")
                return change is not None
            await asyncio.sleep(0.2)
        return False
    finally:
        await store.close()


async def test_the_simulator_passes_against_the_service_including_a_government_change(tmp_path: Path) -> None:
    national = tmp_path / "national.csv"
    national.write_text(NATIONAL, encoding="utf-8")
    with serve(tmp_path, national) as bootstrap:
        stop = asyncio.Event()
        decider = asyncio.create_task(confirm_the_planted_hit(tmp_path / "data", "NAT-77", stop))
        try:
            status, doc = await asyncio.to_thread(simulate, bootstrap, tmp_path, national, "--change-timeout", "30")
        finally:
            stop.set()
            decided = await decider
    assert decided
    assert status == 0, [c for c in doc["cases"] if c["verdict"] != "PASS"]
    assert verdicts(doc) == dict.fromkeys(CASES, "PASS")
    cases = {c["name"]: c for c in doc["cases"]}
    assert cases["iapi-02-listed-traveller"]["details"]["listed_answer"] == "2Z"  # a hit awaits an officer
    assert cases["iapi-07-government-change"]["details"]["new_status"] == "1Z"  # confirmed: do not board
    assert cases["iapi-07-government-change"]["details"]["reference"].startswith("GC")
    assert all(0 <= c["details"]["latency_s"] < 4 for c in doc["cases"])
    junit = (tmp_path / "iapi.xml").read_text(encoding="utf-8")
    assert junit.count("<testcase") == len(CASES) and "<failure" not in junit
    html = (tmp_path / "iapi.html").read_text(encoding="utf-8")
    assert all(case in html for case in CASES) and "<script" not in html
    # The 312 was matched: the service stops sending the 132 (acknowledged in its store).
    from sqlalchemy import select

    from api_engine.settings import Settings
    from api_engine.store import Store
    from api_engine.store.schema import iapi_changes

    store = await Store.open(Settings(data_dir=tmp_path / "data").effective_database_url, run_migrations=False)
    try:
        async with store.engine.connect() as conn:
            acknowledged = (await conn.execute(select(iapi_changes.c.acknowledged_at))).scalars().all()
    finally:
        await store.close()
    assert len(acknowledged) == 1 and acknowledged[0] is not None


def test_a_profile_change_fails_exactly_the_case_it_breaks(tmp_path: Path) -> None:
    """Under cn-iapi every traveller needs RFF+AVF, also in a close-out by reference: only that case fails, and no
    government change comes, so that case is skipped with its reason."""
    national = tmp_path / "national.csv"
    national.write_text(NATIONAL, encoding="utf-8")
    with serve(tmp_path, national, profile="cn-iapi") as bootstrap:
        status, doc = simulate(bootstrap, tmp_path, national, "--change-timeout", "1")
    assert status == 1
    expected = {**dict.fromkeys(CASES, "PASS"), "iapi-05-close-out": "FAIL", "iapi-07-government-change": "SKIP"}
    assert verdicts(doc) == expected
    [close_out] = [c for c in doc["cases"] if c["name"] == "iapi-05-close-out"]
    assert [ln["rule"] for ln in close_out["lines"]] == ["accepted"]
    [change] = [c for c in doc["cases"] if c["name"] == "iapi-07-government-change"]
    assert change["details"]["skip_reason"].startswith(NO_CHANGE)
    junit = (tmp_path / "iapi.xml").read_text(encoding="utf-8")
    assert junit.count("<failure") == 1 and junit.count("<skipped") == 1


def test_the_listed_traveller_comes_from_the_name_or_the_list_file(tmp_path: Path) -> None:
    named = listed_from_name("vargas-holm:esteban:740619")
    assert (named.surname, named.given, named.born) == ("VARGAS-HOLM", "ESTEBAN", "740619")
    national = tmp_path / "national.csv"
    national.write_text(NATIONAL, encoding="utf-8")
    planted = listed_from_file(national)
    assert (planted.surname, planted.given, planted.born, planted.nationality) == (
        "VARGAS-HOLM", "ESTEBAN", "740619", "CHL")
    for bad in ("VARGAS-HOLM:ESTEBAN", "VARGAS:ESTEBAN:1974-06-19", "V4RGAS:ESTEBAN:740619"):
        with pytest.raises(IapiError):
            listed_from_name(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("id,surname,given_names,date_of_birth\n", encoding="utf-8")
    with pytest.raises(IapiError, match="no entry"):
        listed_from_file(empty)


@pytest.mark.parametrize("args", [
    ["--listed-name", "A:B:740619", "--watchlist", "x.csv"],
    ["--listed-name", "NOT A NAME"],
    ["--case", "iapi-99-nothing"],
    ["--budget", "0"],
])
def test_usage_problems_exit_2_before_touching_a_broker(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["conformance", "run", "--iapi", "--bootstrap", "127.0.0.1:1", "--timeout", "1", *args])
    assert status == 2
    assert "api-engine conformance:" in capsys.readouterr().err
