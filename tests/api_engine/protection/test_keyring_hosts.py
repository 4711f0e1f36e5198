"""Several hosts, one PostgreSQL store: a process with another keyring refuses to start.

Strategy: the situation as an operator builds it, with real processes: host A (`api-engine ingest`,
its own data dir, so its own generated key file) writes the example list into a PostgreSQL store;
host B starts `api-engine serve` (embedded broker) against the same store with a key file of its
own. Before the check existed each warned and wrote rows the other could not read; now B stops
with a message naming the missing key and the documented remedy, having written nothing. With A's
key file copied to B (the documented setup) B runs, and A's keyring reads B's rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api_engine.protection.crypto import KEY_FILE, keyring_from_settings, open_traveller_secrets
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import key_fingerprints

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _env(data_dir: Path, database_url: str, listed: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}
    env.update(API_ENGINE_DATA_DIR=str(data_dir), API_ENGINE_DATABASE_URL=database_url, API_ENGINE_HTTP_PORT="0",
               API_ENGINE_WATCHLISTS=str(listed), API_ENGINE_RETENTION_INTERVAL_S="0")
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api_engine.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_second_host_with_its_own_key_refuses_to_start(database_url: str, tmp_path: Path) -> None:
    listed = tmp_path / "national.csv"
    listed.write_text("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                      "N-1,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n", encoding="utf-8")
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    env_a, env_b = _env(host_a, database_url, listed), _env(host_b, database_url, listed)

    first = _run(["ingest", str(EXAMPLES / "xx123_lhr-jfk_passengers.edi")], env_a)
    assert first.returncode == 0, first.stderr[-2000:]
    key_a = keyring_from_settings(Settings(data_dir=host_a)).current

    second = _run(["serve"], env_b)  # host B: its own generated key file, the same store
    assert second.returncode == 1, second.stderr[-2000:]
    assert "refusing to start" in second.stderr and key_a in second.stderr
    assert "docs/data-protection.md" in second.stderr and "Traceback" not in second.stderr
    store = await Store.open(database_url)
    try:
        assert await store.count("interchanges") == 1  # B wrote nothing
        async with store.engine.connect() as conn:
            data_keys = (await conn.execute(key_fingerprints.select().where(key_fingerprints.c.kind == "data"))).all()
        assert [r.fingerprint for r in data_keys] == [key_a]
    finally:
        await store.close()

    # The documented setup: one keyring on every host (here: A's key file copied to B).
    shutil.rmtree(host_b)
    host_b.mkdir(mode=0o700)
    shutil.copy2(host_a / KEY_FILE, host_b / KEY_FILE)
    third = _run(["ingest", str(EXAMPLES / "xx456_cdg-yul_part1of2.edi"), str(EXAMPLES / "xx456_cdg-yul_part2of2.edi"),
                  "--out", str(tmp_path / "out")], env_b)
    assert third.returncode == 0, third.stderr[-2000:]
    ring_a = keyring_from_settings(Settings(data_dir=host_a))
    store = await Store.open(database_url)
    try:
        rows = await store.rows("travellers")
        assert len(rows) == 5 and all(open_traveller_secrets(r, ring_a)["surname"] for r in rows)
    finally:
        await store.close()
    manifests = [json.loads(line) for line in (tmp_path / "out" / "border.manifests.jsonl").read_text().splitlines()]
    assert manifests and manifests[0]["flight"]["flight_id"] == "XX456"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_keyring_from_settings_with_another_pseudonym_key_is_refused(database_url: str,
                                                                             tmp_path: Path) -> None:
    """Same data key, different pseudonym key: pseudonyms would stop joining across hosts."""
    from base64 import b64encode

    from api_engine.protection.crypto import KeyringMismatch, check_keyring

    data_key = b64encode(os.urandom(32)).decode()
    one = keyring_from_settings(Settings(data_key=data_key, pseudonym_key=b64encode(os.urandom(32)).decode()))
    other = keyring_from_settings(Settings(data_key=data_key, pseudonym_key=b64encode(os.urandom(32)).decode()))
    store = await Store.open(database_url)
    try:
        await check_keyring(store, one)
        with pytest.raises(KeyringMismatch, match="pseudonym key"):
            await check_keyring(store, other)
        await check_keyring(store, one)  # the right keyring still starts
    finally:
        await store.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_console_with_another_keyring_refuses_to_start(database_url: str, tmp_path: Path) -> None:
    """A console on a second host with a key of its own would show officers rows it cannot open."""
    listed = tmp_path / "national.csv"
    listed.write_text("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                      "N-1,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n", encoding="utf-8")
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    first = _run(["ingest", str(EXAMPLES / "xx123_lhr-jfk_passengers.edi")], _env(host_a, database_url, listed))
    assert first.returncode == 0, first.stderr[-2000:]
    key_a = keyring_from_settings(Settings(data_dir=host_a)).current

    console = _run(["console", "--port", "0"], _env(host_b, database_url, listed), timeout=60)
    assert console.returncode == 1, console.stderr[-2000:]
    assert "refusing to start" in console.stderr and key_a in console.stderr and "Traceback" not in console.stderr
