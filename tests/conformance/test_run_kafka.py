"""`conformance run` against `api-engine serve` on its embedded broker: the whole suite passes, and a
service started with a deliberately broken setting fails exactly the cases that depend on it.

Strategy: the service runs as a subprocess (own data dir, own broker port, the bundled test
watchlist), as a national team would run the system under test. The broken setting needs no code
change: a profile file that turns ENV-UNT-COUNT (UNT control count) off, given through
API_ENGINE_PROFILE. Which cases depend on it is computed offline by evaluating the suite under the
broken profile; the live run must fail exactly those.
"""

from __future__ import annotations

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
from conformance.check import check_suite_offline
from conformance.evaluate import TEST_WATCHLIST
from conformance.suite import load_suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(tmp: Path, profile: str = "baseline") -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "API_ENGINE_DATA_DIR": str(tmp / "data"), "API_ENGINE_EMBEDDED_BROKER_PORT": str(port),
           "API_ENGINE_HTTP_PORT": "0", "API_ENGINE_WATCHLISTS": str(TEST_WATCHLIST),
           "API_ENGINE_PROFILE": profile}
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "api_engine.cli", "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"event=partitions_assigned" not in (tmp / "serve.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"api-engine serve did not start:\n{(tmp / 'serve.log').read_text()[-3000:]}")
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


def run(bootstrap: str, tmp: Path) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["conformance", "run", "--bootstrap", bootstrap, "--timeout", "90", "--json",
                       "--junit", str(tmp / "run.xml")])
    return status, json.loads(out.getvalue())


def failed(doc: dict[str, Any]) -> set[str]:
    return {c["name"] for c in doc["cases"] if c["verdict"] == "FAIL"}


def test_the_service_passes_the_whole_suite_twice(tmp_path: Path) -> None:
    with serve(tmp_path) as bootstrap:
        status, doc = run(bootstrap, tmp_path)
        assert status == 0, [c for c in doc["cases"] if c["verdict"] == "FAIL"]
        assert doc["counts"] == {"total": len(load_suite().cases), "passed": len(load_suite().cases),
                                 "failed": 0, "skipped": 0}
        status, again = run(bootstrap, tmp_path)  # a rerun is not mistaken for duplicates of the first
        assert status == 0, [c for c in again["cases"] if c["verdict"] == "FAIL"]
    assert (tmp_path / "run.xml").read_text().count("<testcase") == len(load_suite().cases)


def test_a_service_that_skips_control_counts_fails_exactly_the_cases_that_need_them(tmp_path: Path) -> None:
    broken = tmp_path / "no-unt-count.toml"
    broken.write_text('extends = "baseline"\nname = "no-unt-count"\n[severity]\n"ENV-UNT-COUNT" = "off"\n',
                      encoding="utf-8")
    offline = check_suite_offline(load_suite(), "baseline", profile_override=broken)
    depends = {c.name for c in offline.cases if not c.passed}
    assert depends and all("unt-count" in name for name in depends)
    with serve(tmp_path, profile=str(broken)) as bootstrap:
        began = time.monotonic()
        status, doc = run(bootstrap, tmp_path)
        took = time.monotonic() - began
    assert status == 1
    assert failed(doc) == depends
    # The cases that wait for a dead letter that never comes fail once acknowledged, not at the 90 s timeout.
    assert took < 60, took
    waited = {c["name"]: [ln["message"] for ln in c["lines"] if ln["rule"] == "timeout"] for c in doc["cases"]}
    assert any(m == ["not all expected events arrived within 10 s of the acknowledgements"]
               for m in waited.values()), waited
