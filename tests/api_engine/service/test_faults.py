"""Fault tests: a database outage and a broker restart in the middle of a stream, never a restart by hand.

Strategy: the real `api-engine serve` in a subprocess, the real session broker or a Tansu of the
test's own, and a PostgreSQL cluster of the test's own (initdb into a temporary directory, its own
loopback port, trust auth; run as the `postgres` user when the tests run as root): the shared
server at 5432 is never touched. The stream is generated flights with the names of a small
watchlist planted so that hits flow in every phase. A phase is produced before the fault, one
during it and one after it; what must hold is what an officer and an operator see: every input has
exactly one acknowledgement and one manifest (by event id), every planted name its alert, /readyz
and the metrics show the outage while it lasts, one log line marks each change of state, and the
service process is the one that was started.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_engine.cli.demo import DEMO_WATCHLIST, inbound_key, write_demo_watchlist
from api_engine.service.broker import EmbeddedBroker
from api_engine.service.prepare import record_id
from api_engine.settings import Settings
from tests.api_engine.conftest import KafkaIO, Record, kafka_test_settings

pytestmark = pytest.mark.slow

OUTAGE_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- a PostgreSQL of the test's own ----------------------------------------------------------------


class PrivatePostgres:
    """A throw-away cluster on a free loopback port that the test may stop and start at will."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
        if not found:
            pytest.fail("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="apie-pg-"))  # not under pytest's root-only tmp dir
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
            shutil.chown(self.root, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, timeout=60)
        assert done.returncode == 0, f"{tool} failed: {done.stderr.decode(errors='replace')[-2000:]}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


# -- the stream and the service ----------------------------------------------------------------------


def _phases(n_phases: int, per_phase: int) -> list[list[tuple[bytes | None, bytes]]]:
    """Generated flights in phases; each phase holds one flight with a planted watchlist name."""
    from conformance.generator import generate_flights, to_bytes

    flights = generate_flights(n_phases * per_phase, seed=20250915, travellers_per_flight=(2, 4),
                               plant=DEMO_WATCHLIST[:n_phases], expired_share=0.0)
    planted = {surname for surname, _, _ in DEMO_WATCHLIST}
    raws = [to_bytes(parts[0]) for parts in flights]
    hit = [r for parts, r in zip(flights, raws, strict=True) if any(t.surname in planted for t in parts[0].travellers)]
    rest = [r for r in raws if r not in hit]
    assert len(hit) == n_phases
    phases = [[hit[i], *rest[i * (per_phase - 1):(i + 1) * (per_phase - 1)]] for i in range(n_phases)]
    return [[(inbound_key(raw), raw) for raw in phase] for phase in phases]


def _service(settings: Settings, log: Path, **env: str) -> subprocess.Popen[bytes]:
    t = settings.topics
    environ = {**os.environ, "API_ENGINE_TOPICS__INBOUND": t.inbound, "API_ENGINE_TOPICS__ACKS": t.acks,
               "API_ENGINE_TOPICS__ALERTS": t.alerts, "API_ENGINE_TOPICS__MANIFESTS": t.manifests,
               "API_ENGINE_TOPICS__DLQ": t.dlq, "API_ENGINE_DATA_DIR": str(settings.data_dir),
               "API_ENGINE_WATCHLISTS": ",".join(settings.watchlists), "API_ENGINE_SHUTDOWN_TIMEOUT_S": "15",
               "API_ENGINE_RETRY_BACKOFF_MAX_S": "2", **env}
    cmd = [sys.executable, "-m", "api_engine.cli", "serve", "--bootstrap-servers",
           settings.kafka_bootstrap_servers or "", "--group-id", settings.kafka_group_id, "--http-port", "0"]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=environ, stdout=fh, stderr=subprocess.STDOUT)


def _http_port(log: Path, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(rb"event=worker_started worker=0 http=127\.0\.0\.1:(\d+)", log.read_bytes())
        if found:
            return int(found.group(1))
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError("the service did not start its HTTP endpoints:\n" + log.read_text()[-3000:])


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def _until(check: object, timeout_s: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.3)


def _metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(found.group(1)) if found else None


def _outputs_by_input(out: dict[str, list[Record]]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """content hash of each input -> the ack ids, and -> the manifest ids (copies deduplicated by id)."""
    acks: dict[str, set[str]] = {}
    manifests: dict[str, set[str]] = {}
    for kind, into in (("acks", acks), ("manifests", manifests)):
        for r in out[kind]:
            body = json.loads(r.value)
            assert r.event_id == body["event_id"]
            into.setdefault(body["interchange"]["content_hash"], set()).add(r.event_id)
    return acks, manifests


def _complete(stream: list[tuple[bytes | None, bytes]], alerts: int):  # type: ignore[no-untyped-def]
    hashes = {hashlib.sha256(raw).hexdigest() for _, raw in stream}

    def check(o: dict[str, list[Record]]) -> bool:
        acks, manifests = _outputs_by_input(o)
        return hashes <= set(acks) and hashes <= set(manifests) and len({r.event_id for r in o["alerts"]}) >= alerts
    return check


def _assert_each_input_once(stream: list[tuple[bytes | None, bytes]], out: dict[str, list[Record]],
                            entries: list[str]) -> None:
    hashes = {hashlib.sha256(raw).hexdigest() for _, raw in stream}
    acks, manifests = _outputs_by_input(out)
    assert set(acks) == hashes, f"{len(hashes - set(acks))} inputs have no acknowledgement"
    assert set(manifests) == hashes, f"{len(hashes - set(manifests))} inputs have no manifest"
    assert all(len(ids) == 1 for ids in acks.values()), "an input was acknowledged under two ids (done twice)"
    assert all(len(ids) == 1 for ids in manifests.values()), "an input produced two manifests (done twice)"
    assert all(json.loads(r.value)["accepted"] for r in out["acks"]), "an input was rejected (as a duplicate?)"
    assert not out["dlq"]
    unique = {r.event_id: r for r in out["alerts"]}.values()
    alerted = sorted(json.loads(r.value)["watchlist"]["entry_id"] for r in unique)
    assert alerted == entries, alerted


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# -- the tests ---------------------------------------------------------------------------------------


async def test_a_30_s_database_outage_is_waited_out_and_every_input_gets_its_outputs(
        kafka_bootstrap: str, tmp_path: Path, private_postgres: PrivatePostgres) -> None:
    settings = kafka_test_settings(kafka_bootstrap, tmp_path / "data", kafka_partitions=3,
                                   watchlists=[str(write_demo_watchlist(tmp_path))],
                                   database_url=private_postgres.url)
    from api_engine.service.broker import ensure_topics

    await ensure_topics(settings, kafka_bootstrap)
    io = KafkaIO(settings)
    before, during, after = _phases(3, 12)
    log = tmp_path / "service.log"
    proc = _service(settings, log, API_ENGINE_DATABASE_URL=private_postgres.url)
    try:
        port = _http_port(log, proc)
        await io.produce(before)
        await io.collect(_complete(before, 1), timeout_s=120)
        assert _get(port, "/readyz")[0] == 200

        private_postgres.stop()
        stopped = time.monotonic()
        await io.produce(during)
        await _until(lambda: _get(port, "/readyz")[0] == 503, 20, "/readyz turns false while the store is down")
        status, body = _get(port, "/readyz")
        assert json.loads(body)["store"].startswith("down"), body
        assert _metric(_get(port, "/metrics")[1], 'api_engine_dependency_up{dependency="store"}') == 0
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
        assert proc.poll() is None, "the service died of the outage:\n" + log.read_text()[-3000:]
        acks_during = _outputs_by_input(await io.collect(lambda o: True, timeout_s=10, kinds=("acks", "manifests")))[0]
        assert not {hashlib.sha256(raw).hexdigest() for _, raw in during} & set(acks_during), \
            "an input was acknowledged while nothing could be stored"

        private_postgres.start()
        await io.produce(after)
        stream = before + during + after
        out = await io.collect(_complete(stream, 3), timeout_s=120)
        _assert_each_input_once(stream, out, ["DEMO-1", "DEMO-2", "DEMO-3"])
        await _until(lambda: _get(port, "/readyz")[0] == 200, 20, "/readyz true again")
        metrics = _get(port, "/metrics")[1]
        assert _metric(metrics, 'api_engine_dependency_up{dependency="store"}') == 1
        assert (_metric(metrics, 'api_engine_retries_total{dependency="store"}') or 0) >= 1
        assert proc.poll() is None
    finally:
        status = _stop(proc)
    text = log.read_text()
    assert text.count("event=store_unavailable") == 1, text[-3000:]
    assert text.count("event=store_recovered") == 1, text[-3000:]
    assert "event=worker_exited" not in text and "event=record_failed" not in text
    assert status == 0, text[-3000:]
    for surname, given, _ in DEMO_WATCHLIST:  # the log names references, never a traveller
        assert surname not in text and given not in text


async def test_a_broker_restart_is_waited_out_and_what_follows_is_processed(tmp_path: Path) -> None:
    port = _free_port()
    base = kafka_test_settings(f"127.0.0.1:{port}", tmp_path / "data", kafka_partitions=3,
                               watchlists=[str(write_demo_watchlist(tmp_path))])
    own = base.model_copy(update={"kafka_bootstrap_servers": None, "embedded_broker_port": port})
    broker = EmbeddedBroker(own)
    await broker.start()  # creates the topics, as the service does at start
    io = KafkaIO(base)
    first, second = _phases(2, 10)
    log = tmp_path / "service.log"
    proc = _service(base, log)
    try:
        http = _http_port(log, proc)
        await io.produce(first)
        out_first = await io.collect(_complete(first, 1), timeout_s=120)
        _assert_each_input_once(first, out_first, ["DEMO-1"])
        await _until(lambda: _get(http, "/readyz")[0] == 200, 20, "/readyz true")

        await asyncio.to_thread(broker.stop)  # memory storage: every record and offset is gone
        await _until(lambda: _get(http, "/readyz")[0] == 503, 20, "/readyz turns false while the broker is away")
        assert json.loads(_get(http, "/readyz")[1])["broker"].startswith("down")
        assert _metric(_get(http, "/metrics")[1], 'api_engine_dependency_up{dependency="broker"}') == 0
        await asyncio.sleep(5)
        assert proc.poll() is None, "the service died of the broker restart:\n" + log.read_text()[-3000:]

        broker = EmbeddedBroker(own)
        await broker.start()
        await _until(lambda: _get(http, "/readyz")[0] == 200, 60, "/readyz true once the broker is back")
        await io.produce(second)
        out_second = await io.collect(_complete(second, 1), timeout_s=120)
        _assert_each_input_once(second, out_second, ["DEMO-2"])
        assert proc.poll() is None
    finally:
        status = _stop(proc)
        await asyncio.to_thread(broker.stop)
    text = log.read_text()
    assert "event=broker_unavailable" in text and "event=broker_recovered" in text, text[-3000:]
    assert text.count("event=broker_unavailable") == text.count("event=broker_recovered"), text[-3000:]
    assert "event=worker_exited" not in text and "event=record_failed" not in text, text[-3000:]
    assert status == 0, text[-3000:]

    # What was acknowledged before the restart is still answered from the store, with the same ids.
    from api_engine.store import Store

    first_ids = {r.event_id for r in out_first["acks"] + out_first["manifests"] + out_first["alerts"]}
    store = await Store.open(base.effective_database_url)
    try:
        async with store.engine.connect() as conn:
            stored = await Store.stored_outputs_many(conn, [record_id(raw, key, "kafka") for key, raw in first])
    finally:
        await store.close()
    assert len(stored) == len(first)
    assert {o.event_id for outputs in stored.values() for o in outputs} == first_ids


# -- a data directory that cannot be written -------------------------------------------------------


@contextlib.contextmanager
def _tmpfs(where: Path, *options: str) -> Iterator[Path]:
    """A small tmpfs of its own (a real read-only or full file system); needs root, as in CI."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=1m", *options)), "tmpfs", str(where)],
                          capture_output=True)
    if done.returncode != 0:
        message = f"cannot mount a tmpfs for this test: {done.stderr.decode(errors='replace').strip()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " -- CI=true, so the test must run")
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _refused(settings: Settings, data_dir: Path, log: Path) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = _service(settings.model_copy(update={"data_dir": data_dir}), log)
    try:
        status = proc.wait(60)
    finally:
        _stop(proc)
    return status, log.read_text(), time.monotonic() - started


def test_a_read_only_data_directory_is_a_clear_error_not_a_restart_loop(kafka_settings: Settings,
                                                                         tmp_path: Path) -> None:
    settings = kafka_settings.model_copy(update={"watchlists": [str(write_demo_watchlist(tmp_path))]})
    with _tmpfs(tmp_path / "ro", "ro") as data_dir:
        status, text, took = _refused(settings, data_dir, tmp_path / "service.log")
    assert status == 2, text[-3000:]
    assert f"the data directory {data_dir} is on a read-only file system" in text
    assert "event=start_refused reason=data_dir_unusable" in text
    assert "event=worker_started" not in text and "event=worker_exited" not in text and took < 30


def test_a_full_data_directory_is_a_clear_error_not_a_restart_loop(kafka_settings: Settings,
                                                                    tmp_path: Path) -> None:
    settings = kafka_settings.model_copy(update={"watchlists": [str(write_demo_watchlist(tmp_path))]})
    with _tmpfs(tmp_path / "full") as data_dir:
        fd = os.open(data_dir / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while True:  # fill the file system to the last byte
                os.write(fd, b"\0" * 4096)
        os.close(fd)
        status, text, took = _refused(settings, data_dir, tmp_path / "service.log")
    assert status == 2, text[-3000:]
    assert f"the data directory {data_dir} is on a full disk (no space left on device)" in text
    assert "event=worker_started" not in text and "event=worker_exited" not in text and took < 30


# -- a worker that dies --------------------------------------------------------------------------------


def _spawned(log: Path, worker: int) -> list[int]:
    return [int(p) for p in re.findall(rb"event=worker_spawned worker=%d pid=(\d+)" % worker, log.read_bytes())]


def _wait_for(what: str, check: object, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}:\n" + log.read_text()[-3000:]
        time.sleep(0.2)


def test_a_dead_worker_is_restarted_with_back_off_and_the_budget_is_bounded(kafka_settings: Settings,
                                                                             tmp_path: Path) -> None:
    settings = kafka_settings.model_copy(update={"watchlists": [str(write_demo_watchlist(tmp_path))]})
    log = tmp_path / "service.log"
    t = settings.topics
    environ = {**os.environ, "API_ENGINE_TOPICS__INBOUND": t.inbound, "API_ENGINE_TOPICS__ACKS": t.acks,
               "API_ENGINE_TOPICS__ALERTS": t.alerts, "API_ENGINE_TOPICS__MANIFESTS": t.manifests,
               "API_ENGINE_TOPICS__DLQ": t.dlq, "API_ENGINE_DATA_DIR": str(settings.data_dir),
               "API_ENGINE_WATCHLISTS": ",".join(settings.watchlists), "API_ENGINE_WORKER_RESTART_LIMIT": "1",
               "API_ENGINE_SHUTDOWN_TIMEOUT_S": "10"}
    cmd = [sys.executable, "-m", "api_engine.cli", "serve", "--workers", "2", "--bootstrap-servers",
           settings.kafka_bootstrap_servers or "", "--group-id", settings.kafka_group_id, "--http-port", "0"]
    with log.open("ab") as fh:
        proc = subprocess.Popen(cmd, env=environ, stdout=fh, stderr=subprocess.STDOUT)
    try:
        _wait_for("worker 1 never started", lambda: len(_spawned(log, 1)) == 1, proc, log)
        os.kill(_spawned(log, 1)[0], signal.SIGKILL)
        _wait_for("the dead worker was not restarted", lambda: len(_spawned(log, 1)) == 2, proc, log)
        assert proc.poll() is None
        text = log.read_text()
        assert re.search(r"event=worker_exited worker=1 status=-9 action=restart delay_s=\d", text), text[-3000:]
        os.kill(_spawned(log, 1)[1], signal.SIGKILL)  # the budget (1 restart) is spent: a person is needed
        status = proc.wait(60)
    finally:
        _stop(proc)
    text = log.read_text()
    assert "event=worker_restarts_exhausted worker=1 restarts=1" in text, text[-3000:]
    assert status == 1 and len(_spawned(log, 1)) == 2


async def test_an_embedded_broker_that_dies_is_started_again_with_its_topics(tmp_path: Path) -> None:
    port = _free_port()
    settings = kafka_test_settings(f"127.0.0.1:{port}", tmp_path / "data", kafka_partitions=3,
                                   watchlists=[str(write_demo_watchlist(tmp_path))])
    log = tmp_path / "service.log"
    t = settings.topics
    environ = {**os.environ, "API_ENGINE_TOPICS__INBOUND": t.inbound, "API_ENGINE_TOPICS__ACKS": t.acks,
               "API_ENGINE_TOPICS__ALERTS": t.alerts, "API_ENGINE_TOPICS__MANIFESTS": t.manifests,
               "API_ENGINE_TOPICS__DLQ": t.dlq, "API_ENGINE_DATA_DIR": str(settings.data_dir),
               "API_ENGINE_WATCHLISTS": ",".join(settings.watchlists), "API_ENGINE_EMBEDDED_BROKER_PORT": str(port),
               "API_ENGINE_KAFKA_PARTITIONS": "3", "API_ENGINE_RETRY_BACKOFF_MAX_S": "2",
               "API_ENGINE_SHUTDOWN_TIMEOUT_S": "10"}
    environ.pop("API_ENGINE_KAFKA_BOOTSTRAP_SERVERS", None)
    with log.open("ab") as fh:  # no --bootstrap-servers: the service runs the broker itself
        proc = subprocess.Popen([sys.executable, "-m", "api_engine.cli", "serve", "--group-id", settings.kafka_group_id,
                                 "--http-port", "0"], env=environ, stdout=fh, stderr=subprocess.STDOUT)
    io = KafkaIO(settings)
    (phase,) = _phases(1, 5)
    try:
        http = _http_port(log, proc)

        def brokers() -> list[int]:
            return [int(p) for p in re.findall(rb"event=broker_started bootstrap=\S+ pid=(\d+)", log.read_bytes())]
        _wait_for("the worker never joined", lambda: b"event=partitions_assigned" in log.read_bytes(), proc, log)
        (first,) = brokers()
        os.kill(first, signal.SIGKILL)  # with its memory storage: records, topics, group, offsets
        _wait_for("the embedded broker was not started again", lambda: len(brokers()) == 2, proc, log)
        await _until(lambda: _get(http, "/readyz")[0] == 200, 60, "/readyz true once the broker is back")
        await io.produce(phase)
        out = await io.collect(_complete(phase, 1), timeout_s=120)
        _assert_each_input_once(phase, out, ["DEMO-1"])
        assert proc.poll() is None
    finally:
        status = _stop(proc)
    text = log.read_text()
    assert "event=broker_exited" in text and "action=restart" in text
    assert "event=worker_exited" not in text and status == 0, text[-3000:]
