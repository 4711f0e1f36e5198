"""A list change reaches a flight received before, through the real service and broker, with no new message.

Strategy: the real `api-engine serve --workers 1` in a subprocess against the session's Tansu broker
(topics and group of its own, SQLite store in the test's data directory) with one national list
file. The example passenger list, its dates moved to tomorrow (a flight in the re-screening window),
is produced to the inbound topic and screened clean; the list file is then edited as an operator
would, and what a border officer sees is read back: the alert on the alerts topic (identity, entry,
`raised_by: rescreen`) and the hit in the console's queue. Writing the same list again raises nothing;
a broken file leaves the version in force and says so on /readyz and /metrics while new manifests are
still screened against it. A second test shows that SIGHUP makes the service look at its files at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from api_engine.cli.demo import inbound_key
from api_engine.console.queries import alert_queue
from api_engine.protection.crypto import keyring_from_settings
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import hits, list_states
from tests.api_engine.conftest import KafkaIO, Record

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "xx123_lhr-jfk_passengers.edi"  # O'BRIEN, SMITH
HEADER = "id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
OTHER = "N-1,NATIONAL,individual,PETER NOBODY,NOBODY,PETER,1960-01-01,FR\n"
SMITH = "N-2,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n"
INTERVAL_S = 2  # API_ENGINE_LIST_CHECK_INTERVAL_S for these tests (the default is at most a minute)


def write(path: Path, *rows: str) -> None:
    path.write_text(HEADER + "".join(rows), encoding="utf-8")


def manifest_for_tomorrow(flight: str = "XX123", control_ref: str = "000000001") -> tuple[bytes | None, bytes]:
    """The example passenger list, prepared today, for a flight that leaves and lands tomorrow."""
    raw = EXAMPLE.read_bytes()
    today, tomorrow = date.today(), date.today() + timedelta(days=1)
    raw = raw.replace(b"250301:1200", today.strftime("%y%m%d:0600").encode())  # UNB and UNG preparation time
    raw = raw.replace(b"250301", tomorrow.strftime("%y%m%d").encode())  # flight date, DTM 189/232, RFF TN
    raw = raw.replace(b"XX123", flight.encode()).replace(b"000000001", control_ref.encode())
    return inbound_key(raw), raw


def _serve(settings: Settings, log: Path, **env: str) -> subprocess.Popen[bytes]:
    t = settings.topics
    environ = {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}
    environ.update({"API_ENGINE_TOPICS__INBOUND": t.inbound, "API_ENGINE_TOPICS__ACKS": t.acks,
                    "API_ENGINE_TOPICS__ALERTS": t.alerts, "API_ENGINE_TOPICS__MANIFESTS": t.manifests,
                    "API_ENGINE_TOPICS__DLQ": t.dlq, "API_ENGINE_DATA_DIR": str(settings.data_dir),
                    "API_ENGINE_WATCHLISTS": ",".join(settings.watchlists), "API_ENGINE_SHUTDOWN_TIMEOUT_S": "10",
                    **env})
    cmd = [sys.executable, "-m", "api_engine.cli", "serve", "--bootstrap-servers",
           settings.kafka_bootstrap_servers or "", "--group-id", settings.kafka_group_id, "--http-port", "0",
           "--workers", "1"]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=environ, stdout=fh, stderr=subprocess.STDOUT)


class Service:
    """The running service as an operator and an officer reach it: HTTP endpoints, its store, its topics."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path, port: int, store: Store, settings: Settings) -> None:
        self.proc, self.log, self.port, self.store, self.settings = proc, log, port, store, settings
        self.io = KafkaIO(settings)
        self.keyring = keyring_from_settings(settings)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def readyz(self) -> dict[str, Any]:
        body = json.loads(self.get("/readyz")[1])
        assert isinstance(body, dict)
        return body

    async def hits(self) -> list[Any]:
        async with self.store.engine.connect() as conn:
            return list((await conn.execute(select(hits).order_by(hits.c.id))).all())

    async def checked_at(self) -> datetime | None:
        """When the service last looked at the national list file (and found it loadable or not)."""
        async with self.store.engine.connect() as conn:
            at = await conn.scalar(select(list_states.c.checked_at).where(list_states.c.list_name == "NATIONAL"))
        return None if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)

    async def alerts_for(self, seconds: float) -> list[dict[str, Any]]:
        """Every distinct alert on the alerts topic after waiting `seconds` (what a consumer ends up with)."""
        end = time.monotonic() + seconds
        out = await self.io.collect(lambda o: time.monotonic() >= end, timeout_s=seconds + 30, kinds=("alerts",))
        return _distinct(out["alerts"])


def _distinct(records: list[Record]) -> list[dict[str, Any]]:
    """Alert bodies deduplicated by event id, as consumers deduplicate them (delivery is at-least-once)."""
    return [json.loads(r.value) for r in {r.event_id: r for r in records}.values()]


@asynccontextmanager
async def service(kafka_settings: Settings, tmp_path: Path, **env: str) -> AsyncIterator[Service]:
    log = tmp_path / "serve.log"
    proc = _serve(kafka_settings, log, **env)
    store: Store | None = None
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(rb"event=worker_started worker=0 http=127\.0\.0\.1:(\d+)", log.read_bytes())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.2)
        store = await Store.open(kafka_settings.effective_database_url, run_migrations=False)
        yield Service(proc, log, int(found.group(1)), store, kafka_settings)
        assert proc.poll() is None, "the service stopped by itself:\n" + log.read_text()[-3000:]
    finally:
        if store is not None:
            await store.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def _until(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.3)


@pytest.fixture
def national(kafka_settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    listed = tmp_path / "national.csv"
    write(listed, OTHER)  # JOHN SMITH is not listed yet
    return kafka_settings.model_copy(update={"watchlists": [str(listed)]}), listed


def test_the_list_files_are_looked_at_at_least_once_a_minute() -> None:
    assert Settings.model_fields["list_check_interval_s"].default <= 60
    with pytest.raises(ValidationError):  # an operator cannot configure a longer wait either
        Settings(list_check_interval_s=61)


async def test_a_listed_traveller_of_tomorrows_flight_alerts_without_a_new_message(
        national: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, listed = national
    async with service(settings, tmp_path, API_ENGINE_LIST_CHECK_INTERVAL_S=str(INTERVAL_S)) as svc:
        # 1. tomorrow's flight arrives and is screened: nobody is listed
        await svc.io.produce([manifest_for_tomorrow()])
        out = await svc.io.collect(lambda o: bool(o["manifests"]))
        [manifest] = [r.json() for r in out["manifests"]]
        assert isinstance(manifest, dict)
        assert manifest["flight"]["flight_key"].startswith(f"XX123/{date.today() + timedelta(days=1)}")
        assert manifest["screened"] is True and manifest["counts"]["passengers"] == 2
        assert manifest["counts"]["hits"] == 0 and not out["alerts"]

        # 2. the national service lists JOHN SMITH: an alert within a minute, with no new message
        write(listed, OTHER, SMITH)
        listed_at = time.monotonic()
        out = await svc.io.collect(lambda o: bool(o["alerts"]), timeout_s=60, kinds=("alerts",))
        assert time.monotonic() - listed_at < 60
        [alert] = _distinct(out["alerts"])
        assert alert["raised_by"] == "rescreen"
        assert (alert["identity"]["surname"], alert["identity"]["given_names"], alert["identity"]["date_of_birth"]) \
            == ("SMITH", ["JOHN"], "1979-02-28")
        assert (alert["watchlist"]["list"], alert["watchlist"]["entry_id"]) == ("NATIONAL", "N-2")
        assert alert["manifest_uid"] == manifest["manifest_uid"] and alert["flight"]["flight_id"] == "XX123"
        [hit] = await svc.hits()
        assert (hit.status, hit.list, hit.entry_id, hit.alert_event_id) == ("open", "NATIONAL", "N-2",
                                                                            alert["event_id"])
        queue = await alert_queue(svc.store, svc.keyring)  # the officers' queue in the console
        assert [(a.surname, a.entry_id, a.status, a.flight_id) for a in queue.alerts] == \
            [("SMITH", "N-2", "open", "XX123")] and queue.open == 1

        # 3. the same change again: the file rewritten as it is, then with the entry added again under its id
        for rows in ((OTHER, SMITH), (OTHER, SMITH, SMITH)):
            written = datetime.now(UTC)
            write(listed, *rows)

            async def looked_at(since: datetime = written) -> bool:
                at = await svc.checked_at()
                return at is not None and at >= since
            await _until(looked_at, 6 * INTERVAL_S, "the rewritten list file was not looked at")
        again = await svc.alerts_for(3 * INTERVAL_S)
        assert [a["event_id"] for a in again] == [alert["event_id"]], "the same change raised another alert"
        assert len(await svc.hits()) == 1
        assert "SMITH" not in svc.get("/readyz")[1]

        # 4. a broken file: the version in force stays, /readyz and /metrics say so
        listed.write_bytes(b"\x00\xff\xfe not a list at all \x00")

        async def reported() -> bool:
            return bool(svc.readyz().get("list_errors"))
        await _until(reported, 6 * INTERVAL_S, "the broken list file was not reported on /readyz")
        body = svc.readyz()
        [error] = body["list_errors"]
        assert error.startswith("NATIONAL: ")
        assert body["lists"]["NATIONAL"]["entries"] == 2 and "stays in force" in body["lists"]["NATIONAL"]["error"]
        assert svc.get("/readyz")[0] == 200  # the service still screens: a list error does not stop it
        metrics = svc.get("/metrics")[1]
        assert re.search(r'^api_engine_list_error\{list="NATIONAL"\} 1\.0$', metrics, re.M), metrics[-3000:]
        # a new flight with JOHN SMITH aboard is screened against the version in force
        await svc.io.produce([manifest_for_tomorrow("XX125", "000000002")])
        out = await svc.io.collect(lambda o: len(_distinct(o["alerts"])) >= 2, timeout_s=60)
        [new] = [a for a in _distinct(out["alerts"]) if a["event_id"] != alert["event_id"]]
        assert (new["flight"]["flight_id"], new["watchlist"]["entry_id"], new["identity"]["surname"],
                new["raised_by"]) == ("XX125", "N-2", "SMITH", "manifest")
        [m2] = [m for m in (r.json() for r in out["manifests"]) if m["flight"]["flight_id"] == "XX125"]  # type: ignore[index]
        assert m2["counts"]["hits"] == 1  # type: ignore[index]
        assert "SMITH" not in svc.log.read_text() and "1979-02-28" not in svc.log.read_text()


async def test_sighup_makes_the_service_look_at_its_list_files_at_once(
        national: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, listed = national
    async with service(settings, tmp_path, API_ENGINE_LIST_CHECK_INTERVAL_S="60") as svc:
        await svc.io.produce([manifest_for_tomorrow()])
        out = await svc.io.collect(lambda o: bool(o["manifests"]))
        assert not out["alerts"]
        write(listed, OTHER, SMITH)
        svc.proc.send_signal(signal.SIGHUP)
        signalled = time.monotonic()
        out = await svc.io.collect(lambda o: bool(o["alerts"]), timeout_s=20, kinds=("alerts",))
        assert time.monotonic() - signalled < 15  # well before the minute the periodic look would take
        [alert] = _distinct(out["alerts"])
        assert (alert["watchlist"]["entry_id"], alert["raised_by"]) == ("N-2", "rescreen")
