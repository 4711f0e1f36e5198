"""`api-engine serve --workers 2` as it runs in production: two processes, one store, one group, real HTTP.

Strategy: the real service in a subprocess against the session's Tansu broker (topics and group of
its own), once on a fresh PostgreSQL database and once on SQLite (the `database_url` fixture), with
a national list file named by API_ENGINE_WATCHLISTS. The inputs are the project's example
interchanges plus generated flights, one of them carrying a listed traveller. What must hold is
what a carrier, an officer and an operator see: each input exactly one acknowledgement and each
flight exactly one manifest (by event id), the listed traveller's alert, both workers holding
partitions and doing part of the work, and each worker's /healthz, /readyz and /metrics answering
over HTTP with the state of the service and no personal data. One service run per store carries
every assertion: the group joins are what costs time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]

from api_engine.cli.demo import inbound_key
from api_engine.settings import Settings
from tests.api_engine.conftest import KafkaIO, Record

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE_NAMES = ("KOWALSKI", "PIOTR", "O'BRIEN", "MARY", "SMITH", "JOHN", "DUBOIS", "CLAIRE", "NGUYEN",
                 "GARCIA LOPEZ", "JOSE LUIS")  # every traveller in examples/*.edi
EXAMPLE_MANIFESTS = 3  # XX123 crew, XX123 passengers, XX456 (two parts, one manifest)
EXAMPLE_TRAVELLERS = 1 + 2 + 3
LISTED = ("KOVALENKO", "ANDRIY", date(1979, 3, 14))
NATIONAL = ("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
            "N-1,NATIONAL,individual,ANDRIY KOVALENKO,KOVALENKO,ANDRIY,1979-03-14,UA\n"
            "N-2,NATIONAL,individual,PETER NOBODY,NOBODY,PETER,1960-01-01,FR\n")
GENERATED = 8
WORKERS = 2
PARTITIONS = 3  # kafka_test_settings: three per topic, so one worker holds two and the other one


@dataclass
class Inputs:
    """What is produced, and what the outputs must be checked against."""

    messages: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # every name and document number of every traveller
    travellers: int = EXAMPLE_TRAVELLERS
    listed_flight: str = ""


def _inputs() -> Inputs:
    from conformance.generator import generate_flights, to_bytes

    out = Inputs(names=set(EXAMPLE_NAMES))
    for path in sorted(EXAMPLES.glob("*.edi")):
        raw = path.read_bytes()
        out.messages.append((inbound_key(raw), raw))
    flights = generate_flights(GENERATED, seed=18062, travellers_per_flight=(2, 5), plant=[LISTED],
                               expired_share=0.0)
    for parts in flights:
        (manifest,) = parts  # single-part lists: one input, one manifest
        raw = to_bytes(manifest)
        out.messages.append((inbound_key(raw), raw))
        out.travellers += len(manifest.travellers)
        for t in manifest.travellers:
            out.names.update(n for n in (t.surname, *t.given_names, *(d.number for d in t.documents)) if n)
            if t.surname == LISTED[0]:
                out.listed_flight = manifest.legs[0].flight_id or ""
    assert out.listed_flight, "the listed traveller was not planted"
    assert len(out.messages) == len(list(EXAMPLES.glob("*.edi"))) + GENERATED
    return out


# -- the service ---------------------------------------------------------------------------------


def _serve(settings: Settings, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    t = settings.topics
    environ = {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}
    environ.update({"API_ENGINE_TOPICS__INBOUND": t.inbound, "API_ENGINE_TOPICS__ACKS": t.acks,
                    "API_ENGINE_TOPICS__ALERTS": t.alerts, "API_ENGINE_TOPICS__MANIFESTS": t.manifests,
                    "API_ENGINE_TOPICS__DLQ": t.dlq, "API_ENGINE_DATA_DIR": str(settings.data_dir),
                    "API_ENGINE_DATABASE_URL": database_url, "API_ENGINE_WATCHLISTS": ",".join(settings.watchlists),
                    "API_ENGINE_SHUTDOWN_TIMEOUT_S": "10"})
    cmd = [sys.executable, "-m", "api_engine.cli", "serve", "--workers", str(WORKERS), "--bootstrap-servers",
           settings.kafka_bootstrap_servers or "", "--group-id", settings.kafka_group_id, "--http-port", "0"]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=environ, stdout=fh, stderr=subprocess.STDOUT)


async def _worker_ports(proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> dict[int, int]:
    """worker index -> its HTTP port, from the `event=worker_started ... http=HOST:PORT` lines."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = dict(re.findall(r"event=worker_started worker=(\d+) http=127\.0\.0\.1:(\d+)", log.read_text()))
        if len(found) == WORKERS:
            return {int(w): int(p) for w, p in found.items()}
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        await asyncio.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


async def _poll(check: Any, timeout_s: float, what: str) -> Any:
    """The first truthy result of the coroutine function `check`, or an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.3)
    return result


def _sample(metrics: str, name: str) -> float:
    """One sample of the Prometheus text (0 when absent, as a counter never incremented)."""
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", metrics, re.M)
    return float(found.group(1)) if found else 0.0


# -- what the topics hold ------------------------------------------------------------------------


def _distinct(records: list[Record]) -> dict[str, dict[str, Any]]:
    """Bodies by event id: copies of one event (at-least-once delivery) count once, as consumers count them."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        body = json.loads(r.value)
        assert r.event_id == body["event_id"], "the event-id header differs from the event's id"
        out[r.event_id] = body
    return out


def _acks_by_input(out: dict[str, list[Record]]) -> dict[str, set[str]]:
    """content hash of each input -> the event ids of its acknowledgements."""
    by_input: dict[str, set[str]] = {}
    for event_id, body in _distinct(out["acks"]).items():
        by_input.setdefault(body["interchange"]["content_hash"], set()).add(event_id)
    return by_input


def _complete(inputs: Inputs, manifests: int) -> Any:
    hashes = {hashlib.sha256(raw).hexdigest() for _, raw in inputs.messages}

    def check(o: dict[str, list[Record]]) -> bool:
        return (hashes <= set(_acks_by_input(o)) and len({r.event_id for r in o["manifests"]}) >= manifests
                and bool(o["alerts"]))
    return check


# -- the test ------------------------------------------------------------------------------------


async def test_two_workers_share_the_stream_and_answer_over_http(kafka_settings: Settings, database_url: str,
                                                                 tmp_path: Path) -> None:
    listed = tmp_path / "national.csv"
    listed.write_text(NATIONAL, encoding="utf-8")
    settings = kafka_settings.model_copy(update={"watchlists": [str(listed)]})
    io = KafkaIO(settings)
    inputs = _inputs()
    partitions = list(range(PARTITIONS))
    spread = {DefaultPartitioner()(key, partitions, partitions) for key, _ in inputs.messages}  # as produced
    assert spread == set(partitions), "the inputs must reach every partition, so each worker gets some"
    manifests_expected = EXAMPLE_MANIFESTS + GENERATED
    log = tmp_path / "serve.log"
    proc = _serve(settings, database_url, log)
    try:
        ports = await _worker_ports(proc, log)
        async with httpx.AsyncClient(timeout=5) as http:

            async def get(worker: int, path: str) -> httpx.Response:
                return await http.get(f"http://127.0.0.1:{ports[worker]}{path}")

            # each worker answers /healthz as soon as its endpoints are up
            for w in ports:
                health = await get(w, "/healthz")
                assert (health.status_code, health.json()) == (200, {"status": "ok"})

            # ready once the group has split the partitions between the two workers
            async def split() -> dict[int, dict[str, Any]] | None:
                bodies = {}
                for w in ports:
                    r = await get(w, "/readyz")
                    if r.status_code != 200 or not r.json()["partitions"]:
                        return None
                    bodies[w] = r.json()
                held = [set(b["partitions"]) for b in bodies.values()]
                return bodies if sorted(p for s in held for p in s) == list(range(PARTITIONS)) else None
            await _poll(split, 60, "both workers ready, each holding partitions of its own")

            await io.produce(inputs.messages)
            out = await io.collect(_complete(inputs, manifests_expected), timeout_s=120)

            # every worker's counters, once the last record is counted (just after its outputs are acknowledged)
            async def counted() -> dict[int, str] | None:
                texts = {w: (await get(w, "/metrics")).text for w in ports}
                done = sum(_sample(t, 'api_engine_records_total{outcome="ok"}') for t in texts.values())
                return texts if done >= len(inputs.messages) else None
            metrics = await _poll(counted, 30, "every record counted in the workers' metrics")
            readyz = {w: (await get(w, "/readyz")) for w in ports}
        assert proc.poll() is None, "the service stopped by itself:\n" + log.read_text()[-3000:]
    finally:
        status = _stop(proc)
    text = log.read_text()

    # 1. a carrier: every input acknowledged exactly once, and accepted
    hashes = {hashlib.sha256(raw).hexdigest() for _, raw in inputs.messages}
    acks = _acks_by_input(out)
    assert set(acks) == hashes, f"{len(hashes - set(acks))} inputs have no acknowledgement"
    assert all(len(ids) == 1 for ids in acks.values()), "an input was acknowledged under two ids (done twice)"
    assert all(body["accepted"] for body in _distinct(out["acks"]).values())
    assert not out["dlq"]

    # 2. an officer: one manifest per flight list, every traveller in them, and the listed traveller's alert
    manifests = _distinct(out["manifests"])
    assert len(manifests) == manifests_expected, "a manifest is missing or was produced twice"
    lists = [(m["flight"]["flight_key"], m["document_code"]) for m in manifests.values()]
    assert len(set(lists)) == manifests_expected, f"one flight list has two manifests: {sorted(lists)}"
    assert all(m["complete"] and m["screened"] for m in manifests.values())
    assert sum(m["counts"].get("passengers", 0) + m["counts"].get("crew", 0)
               for m in manifests.values()) == inputs.travellers
    (alert,) = _distinct(out["alerts"]).values()
    assert (alert["identity"]["surname"], alert["identity"]["given_names"], alert["identity"]["date_of_birth"]) \
        == (LISTED[0], [LISTED[1]], LISTED[2].isoformat())
    assert (alert["watchlist"]["list"], alert["watchlist"]["entry_id"]) == ("NATIONAL", "N-1")
    assert alert["flight"]["flight_id"] == inputs.listed_flight
    (listed_manifest,) = [m for m in manifests.values() if m["flight"]["flight_id"] == inputs.listed_flight]
    assert alert["manifest_uid"] == listed_manifest["manifest_uid"] and listed_manifest["counts"]["hits"] == 1

    # 3. an operator: both workers joined and did part of the work; the service stopped cleanly
    for w in range(WORKERS):
        assert re.search(rf"worker={w} event=partitions_assigned worker={w} partitions=\d", text), text[-3000:]
        assert _sample(metrics[w], 'api_engine_records_total{outcome="ok"}') > 0, f"worker {w} processed nothing"
    assert sum(_sample(m, 'api_engine_records_total{outcome="ok"}') for m in metrics.values()) == \
        len(inputs.messages)
    assert sum(_sample(m, "api_engine_travellers_total") for m in metrics.values()) == inputs.travellers
    assert sum(_sample(m, "api_engine_hits_total") for m in metrics.values()) == 1
    assert "event=worker_exited" not in text and "event=record_failed" not in text, text[-3000:]
    assert status == 0, text[-3000:]

    # 4. /readyz: ready, the partitions held, store and broker up, screened against the national list
    held = sorted(p for r in readyz.values() for p in r.json()["partitions"])
    assert held == partitions, f"the partitions are not split between the workers: {held}"
    for w, r in readyz.items():
        body = r.json()
        assert r.status_code == 200 and body["status"] == "ready", body
        assert body["worker"] == w and body["partitions"], body
        assert (body["store"], body["broker"], body["screened"]) == ("up", "up", True), body
        assert set(body["lists"]) == {"NATIONAL"} and body["lists"]["NATIONAL"]["entries"] == 2, body
        assert re.fullmatch(r"[0-9a-f]{12}", body["lists"]["NATIONAL"]["digest"]) and "list_errors" not in body

    # 5. /metrics: Prometheus text, screening on, and no personal data (neither in /readyz nor in the log)
    for w, m in metrics.items():
        assert m.startswith("# HELP ") and "# TYPE api_engine_records_total counter" in m, m[:500]
        assert re.search(r"^api_engine_screening_active 1\.0$", m, re.M), f"worker {w}: {m[-2000:]}"
    exposed = "\n".join([*metrics.values(), *(r.text for r in readyz.values())])
    leaked = sorted(n for n in inputs.names | {LISTED[2].isoformat()}
                    if len(n) >= 3 and re.search(rf"(?<![A-Za-z0-9]){re.escape(n)}(?![A-Za-z0-9])", exposed))
    assert not leaked, f"personal data on /metrics or /readyz: {leaked}"
    assert LISTED[0] not in text and LISTED[1] not in text, "the listed traveller's name is in the log"
