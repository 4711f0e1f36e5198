"""`api-engine backup`: a backup taken while the service writes restores into a store that reads.

Strategy: the commands as an operator types them, in subprocesses. `api-engine serve` runs against
the session broker with its own topics and data directory (a generated key file); it stores the
example manifests (one traveller on the example list, so a hit too), then keeps receiving generated
manifests while `backup create` runs, and after it. The backup is restored into a new data directory
and judged from the outside: `audit verify` passes, the restored store holds the travellers the
manifest counted and every one opens with the restored keyring, and the console built on the
restored directory shows an officer the listed traveller's name. Then the refusals: a non-empty
target, a backup with one byte changed (the file is named, nothing is written), a keyring from the
environment (the output says it is not in the backup), a PostgreSQL store (pg_dump).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from base64 import b64encode
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api_engine.cli import main
from api_engine.protection.audit import AuditTrail
from api_engine.protection.crypto import KEY_FILE, keyring_from_settings, open_traveller_secrets
from api_engine.settings import Settings
from api_engine.store import Store
from tests.api_engine.conftest import KafkaIO

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
# The test's own list: the example passenger MARY ANN O'BRIEN (1985-04-12) is on it, so she raises a hit.
LIST_CSV = ("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
            "T-1,NATIONAL,individual,MARY ANN O'BRIEN,O'BRIEN,MARY ANN,1985-04-12,IE\n")
PASSWORD = "restored console passphrase"
EXAMPLE_FILES = ("xx123_lhr-jfk_passengers.edi", "xx123_crew.edi", "xx456_cdg-yul_part1of2.edi",
                 "xx456_cdg-yul_part2of2.edi")


@pytest.fixture
def listed(tmp_path: Path) -> Path:
    path = tmp_path / "national.csv"
    path.write_text(LIST_CSV, encoding="utf-8")
    return path


def _env(settings: Settings, listed: Path) -> dict[str, str]:
    t = settings.topics
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}
    env.update(API_ENGINE_TOPICS__INBOUND=t.inbound, API_ENGINE_TOPICS__ACKS=t.acks, API_ENGINE_TOPICS__ALERTS=t.alerts,
               API_ENGINE_TOPICS__MANIFESTS=t.manifests, API_ENGINE_TOPICS__DLQ=t.dlq,
               API_ENGINE_DATA_DIR=str(settings.data_dir), API_ENGINE_WATCHLISTS=str(listed),
               API_ENGINE_RETENTION_INTERVAL_S="0", API_ENGINE_SHUTDOWN_TIMEOUT_S="10")
    return env


def _cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api_engine.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


async def _acli(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """The command without blocking the event loop (the producer keeps going meanwhile)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "api_engine.cli", *args, env=env,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        raise
    return proc.returncode or 0, out.decode(), err.decode()


async def _travellers(data_dir: Path) -> int:
    store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'api-engine.db'}", run_migrations=False)
    try:
        return await store.count("travellers")
    finally:
        await store.close()


async def _until(predicate: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await predicate():
        if loop.time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


def _sign_in(client: TestClient, name: str) -> dict[str, str]:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    r = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return {"X-CSRF-Token": client.get("/api/me").json()["csrf_token"]}


@pytest.mark.slow
async def test_a_backup_taken_while_serve_writes_restores_a_store_that_reads(kafka_settings: Settings,
                                                                            tmp_path: Path, listed: Path) -> None:
    from conformance.generator import generate_interchange_bytes

    settings = kafka_settings
    data, backup, restored = settings.data_dir, tmp_path / "backup", tmp_path / "restored"
    env = _env(settings, listed)
    added = _cli(["users", "add", "duty", "--role", "officer", "--password-stdin", "--data-dir", str(data)], env,
                 stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr[-2000:]

    io = KafkaIO(settings)
    serve = subprocess.Popen([sys.executable, "-m", "api_engine.cli", "serve", "--bootstrap-servers",
                              settings.kafka_bootstrap_servers or "", "--group-id", settings.kafka_group_id,
                              "--http-port", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = asyncio.Event()
    producer: asyncio.Task[None] | None = None
    try:
        await io.produce([(f"XXAIRAPI/{i}".encode(), (EXAMPLES / name).read_bytes())
                          for i, name in enumerate(EXAMPLE_FILES)])
        await io.collect(lambda o: len(o["acks"]) >= len(EXAMPLE_FILES), timeout_s=60, kinds=("acks",))
        examples = await _travellers(data)
        assert examples >= 5

        more = iter(generate_interchange_bytes(2000, seed=20261205, travellers_per_flight=(1, 2),
                                               expired_share=0.0))

        async def keep_producing() -> None:
            n = 0
            while not stop.is_set():
                batch = [next(more) for _ in range(10)]
                await io.produce([(f"XXAIRAPI/LIVE{n + i}".encode(), m) for i, m in enumerate(batch)])
                n += len(batch)
                await asyncio.sleep(0.5)

        producer = asyncio.create_task(keep_producing())

        async def writing() -> bool:
            return await _travellers(data) > examples
        await _until(writing, 30, "serve stored none of the generated manifests")
        status, out, err = await _acli(["backup", "create", "--out", str(backup), "--data-dir", str(data)], env)
        assert status == 0, err[-2000:]
        manifest = json.loads((backup / "backup.json").read_text())
        at_backup: int = manifest["counts"]["travellers"]
        assert json.loads(out)["counts"]["travellers"] == at_backup > examples  # taken mid-stream

        async def still_writing() -> bool:
            return await _travellers(data) > at_backup
        await _until(still_writing, 30, "serve stopped writing after the backup")
    finally:
        stop.set()
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer
        serve.send_signal(signal.SIGTERM)
        _, serve_err = serve.communicate(timeout=30)
    assert serve.returncode == 0, serve_err.decode()[-3000:]

    # What an operator gets: private files, the key file inside, key ids and counts but no key or name.
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    names = sorted(p.name for p in backup.iterdir())
    assert names == sorted(["api-engine.db", KEY_FILE, "backup.json"])
    assert all(stat.S_IMODE((backup / n).stat().st_mode) == 0o600 for n in names)
    ring = keyring_from_settings(Settings(data_dir=data))
    text = (backup / "backup.json").read_text()
    assert manifest["keyring"]["included"] and manifest["keyring"]["current"] == ring.current
    assert b64encode(ring.keys[ring.current]).decode() not in text and "SMITH" not in text and "O'BRIEN" not in text

    done = _cli(["backup", "restore", str(backup), "--data-dir", str(restored)], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["travellers"] == at_backup
    verified = _cli(["audit", "verify", "--data-dir", str(restored)], env)
    assert verified.returncode == 0 and "audit trail intact" in verified.stdout, verified.stderr

    restored_settings = Settings(data_dir=restored, watchlists=[str(listed)])
    restored_ring = keyring_from_settings(restored_settings)
    assert restored_ring.keys == ring.keys and restored_ring.pseudonym_key == ring.pseudonym_key
    store = await Store.open(restored_settings.effective_database_url)
    try:
        rows = await store.rows("travellers")
        newest = [e.action for e in await AuditTrail(store).recent(2)]
    finally:
        await store.close()
    assert len(rows) == at_backup
    assert newest[0] == "store.restore"
    assert all(open_traveller_secrets(r, restored_ring)["surname"] for r in rows)

    def officer_sees_the_listed_traveller() -> None:
        from api_engine.console import create_app

        with TestClient(create_app(restored_settings)) as client:
            headers = _sign_in(client, "duty")
            alerts = client.get("/api/alerts").json()["alerts"]
            assert alerts, "the restored store lost the hit"
            ref = next(a["traveller_ref"] for a in alerts)
            r = client.post(f"/api/travellers/{ref}/full", headers=headers,
                            json={"reason": "restore drill: reading the restored case file"})
            assert r.status_code == 200, r.text
            assert r.json()["traveller"]["surname"] == "O'BRIEN"
    await asyncio.to_thread(officer_sees_the_listed_traveller)


class Cli:
    """The same commands in this process (the subprocess path is the test above): exit status, stdout, stderr."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], listed: Path) -> None:
        self.monkeypatch, self.capsys = monkeypatch, capsys
        for key in [k for k in os.environ if k.startswith("API_ENGINE_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("API_ENGINE_WATCHLISTS", str(listed))

    def env(self, **values: str) -> None:
        for key, value in values.items():
            self.monkeypatch.setenv(key, value)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        status = main(list(args))
        out = self.capsys.readouterr()
        return status, out.out, out.err


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], listed: Path) -> Cli:
    return Cli(monkeypatch, capsys, listed)


def _small_store(tmp_path: Path, cli: Cli) -> Path:
    data = tmp_path / "data"
    status, _, err = cli("ingest", str(EXAMPLES / "xx123_lhr-jfk_passengers.edi"), "--data-dir", str(data),
                         "--out", str(tmp_path / "out"))
    assert status == 0, err[-2000:]
    return data


def test_restore_refuses_a_non_empty_target_and_an_altered_backup(tmp_path: Path, cli: Cli) -> None:
    data = _small_store(tmp_path, cli)
    backup = tmp_path / "backup"
    assert cli("backup", "create", "--out", str(backup), "--data-dir", str(data))[0] == 0

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me")
    status, _, err = cli("backup", "restore", str(backup), "--data-dir", str(occupied))
    assert status == 1 and "not empty" in err
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]

    status, _, err = cli("backup", "create", "--out", str(backup), "--data-dir", str(data))
    assert status == 1 and "not an empty folder" in err

    tampered = tmp_path / "tampered"
    shutil.copytree(backup, tampered)
    db = tampered / "api-engine.db"
    content = bytearray(db.read_bytes())
    content[len(content) // 2] ^= 0x01
    db.write_bytes(bytes(content))
    target = tmp_path / "from-tampered"
    status, _, err = cli("backup", "restore", str(tampered), "--data-dir", str(target))
    assert status == 1 and f"{db} does not match the manifest" in err, err
    assert not target.exists()
    status, _, err = cli("backup", "verify", str(tampered))
    assert status == 1 and "api-engine.db" in err
    assert cli("backup", "verify", str(backup))[0] == 0


def test_a_keyring_from_the_environment_is_named_as_not_in_the_backup(tmp_path: Path, cli: Cli) -> None:
    key, pseudonym_key = b64encode(os.urandom(32)).decode(), b64encode(os.urandom(32)).decode()
    cli.env(API_ENGINE_DATA_KEY=key, API_ENGINE_PSEUDONYM_KEY=pseudonym_key)
    data = _small_store(tmp_path, cli)
    backup = tmp_path / "backup"
    status, out, err = cli("backup", "create", "--out", str(backup), "--data-dir", str(data))
    assert status == 0, err
    assert "NOT in this backup" in err and not json.loads(out)["keyring_included"]
    assert sorted(p.name for p in backup.iterdir()) == ["api-engine.db", "backup.json"]
    assert key not in (backup / "backup.json").read_text()

    cli.monkeypatch.delenv("API_ENGINE_DATA_KEY")
    status, _, err = cli("backup", "restore", str(backup), "--data-dir", str(tmp_path / "r1"))
    assert status == 1 and "API_ENGINE_DATA_KEY" in err
    assert not (tmp_path / "r1").exists()
    cli.env(API_ENGINE_DATA_KEY=b64encode(os.urandom(32)).decode())  # another key than the store's
    status, _, err = cli("backup", "restore", str(backup), "--data-dir", str(tmp_path / "r2"))
    assert status == 1 and "refusing to start" in err, err
    assert not (tmp_path / "r2").exists()  # what it wrote is gone again
    cli.env(API_ENGINE_DATA_KEY=key)
    status, out, err = cli("backup", "restore", str(backup), "--data-dir", str(tmp_path / "r3"))
    assert status == 0 and json.loads(out)["travellers"] == 2, err


def test_a_postgresql_store_is_sent_to_pg_dump(tmp_path: Path, cli: Cli) -> None:
    url = "postgresql+asyncpg://api:s3cret@db.example:5432/api_engine"
    status, _, err = cli("backup", "create", "--out", str(tmp_path / "b"), "--database-url", url)
    assert status == 2 and "pg_dump" in err and "s3cret" not in err and not (tmp_path / "b").exists()
    status, _, err = cli("backup", "restore", str(tmp_path), "--database-url", url)
    assert status == 2 and "pg_restore" in err
