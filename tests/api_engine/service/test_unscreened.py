"""A service without a watchlist screens nobody: it must refuse to start, or say so everywhere.

Strategy: the real `api-engine serve` in a subprocess against the session broker (its own topics
and group). Without a list and without `--allow-unscreened` it must exit at once with status 2 and
a message that names the cause and the way out. Started with `--allow-unscreened`, an operator sees
it on /readyz and in the metrics, and the border officer sees it on every manifest event
(`screened: false`); with a list loaded the same manifest says `screened: true`.
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
from pathlib import Path

from prometheus_client import REGISTRY

from api_engine.cli.demo import inbound_key
from api_engine.settings import Settings
from tests.api_engine.conftest import KafkaIO, running_pipeline

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "xx123_lhr-jfk_passengers.edi"


def _serve(settings: Settings, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    t = settings.topics
    environ = {k: v for k, v in os.environ.items() if k not in ("API_ENGINE_WATCHLISTS", "API_ENGINE_ALLOW_UNSCREENED")}
    environ.update({"API_ENGINE_TOPICS__INBOUND": t.inbound, "API_ENGINE_TOPICS__ACKS": t.acks,
                    "API_ENGINE_TOPICS__ALERTS": t.alerts, "API_ENGINE_TOPICS__MANIFESTS": t.manifests,
                    "API_ENGINE_TOPICS__DLQ": t.dlq, "API_ENGINE_DATA_DIR": str(settings.data_dir), **env})
    cmd = [sys.executable, "-m", "api_engine.cli", "serve", "--bootstrap-servers",
           settings.kafka_bootstrap_servers or "", "--group-id", settings.kafka_group_id, "--http-port", "0", *args]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=environ, stdout=fh, stderr=subprocess.STDOUT)


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_without_a_watchlist_refuses_to_start(kafka_settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    started = time.monotonic()
    proc = _serve(kafka_settings, log)
    status = proc.wait(60)
    text = log.read_text()
    assert status == 2, text[-3000:]
    assert time.monotonic() - started < 30
    assert "no watchlist is loaded" in text and "API_ENGINE_WATCHLISTS" in text and "--allow-unscreened" in text
    assert "event=start_refused reason=no_watchlist_loaded" in text
    assert "event=worker_started" not in text  # nothing consumed a record


async def test_serve_told_to_run_unscreened_says_so_on_readyz_metrics_and_every_manifest(
        kafka_settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    proc = _serve(kafka_settings, log, "--allow-unscreened")
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(rb"event=worker_started worker=0 http=127\.0\.0\.1:(\d+)", log.read_bytes())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        port = int(found.group(1))
        io = KafkaIO(kafka_settings)
        raw = EXAMPLE.read_bytes()
        await io.produce([(inbound_key(raw), raw)])
        out = await io.collect(lambda o: bool(o["manifests"]))
        while _get(port, "/readyz")[0] != 200:
            assert time.monotonic() < deadline + 30
            time.sleep(0.2)
        body = json.loads(_get(port, "/readyz")[1])
        metrics = _get(port, "/metrics")[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    (manifest,) = [r.json() for r in out["manifests"]]
    assert isinstance(manifest, dict) and manifest["screened"] is False
    assert manifest["counts"]["passengers"] == 2 and not out["alerts"]
    assert body["screened"] is False and "unscreened" in body["warning"]
    assert re.search(r"^api_engine_screening_active 0\.0$", metrics, re.M), metrics[-2000:]
    assert "event=unscreened" in log.read_text()


async def test_with_a_watchlist_the_manifest_says_screened(kafka_settings: Settings, tmp_path: Path) -> None:
    watchlist = tmp_path / "list.csv"
    watchlist.write_text("id,list,category,surname,given_names,date_of_birth\n"
                         "T-1,test,individual,O'BRIEN,MARY ANN,1985-04-12\n", encoding="utf-8")
    settings = kafka_settings.model_copy(update={"watchlists": [str(watchlist)]})
    io = KafkaIO(settings)
    raw = EXAMPLE.read_bytes()
    async with running_pipeline(settings) as pipeline:
        for _ in range(300):  # the processor (and its lists) opens after the HTTP side is up
            if getattr(pipeline, "processor", None) is not None:
                break
            await asyncio.sleep(0.05)
        assert REGISTRY.get_sample_value("api_engine_screening_active") == 1
        await io.produce([(inbound_key(raw), raw)])
        out = await io.collect(lambda o: bool(o["manifests"] and o["alerts"]))
    (manifest,) = [r.json() for r in out["manifests"]]
    assert isinstance(manifest, dict) and manifest["screened"] is True
