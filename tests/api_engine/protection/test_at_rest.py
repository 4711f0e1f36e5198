"""At rest: what a local user, a database reader or an operator of the dead-letter topic gets to see.

Strategy: the real `Processor` on SQLite and PostgreSQL with a real watchlist (JOHN SMITH, born
1979-02-28, a traveller of the example list), then plain SQL and plain `stat` the way a curious
reader would: the stored hit explanation must not show the name or birth date; the dead letter of
a broken list must not carry its names or document numbers, and `keys open-dead-letter` gives the
exact bytes back (audited) to an operator; files the service creates are private under a
permissive umask; SQLite zeroes deleted rows; a value found in clear in a sealed column is refused;
two processes creating the key file at once end up with one key; topics get a retention.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from api_engine.cli import main
from api_engine.protection.audit import AuditTrail
from api_engine.protection.crypto import KEY_FILE, PlaintextValue, open_traveller_secrets
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import hits, travellers

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PAX = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes()
BAD = (EXAMPLES / "invalid" / "xx789_bad_unt_count.edi").read_bytes()
LISTED = ("SMITH", "JOHN", "1979-02-28", "790228")  # the listed traveller, as the list and the manifest write it
BAD_VALUES = ("PAPADOPOULOS", "ELENI", "AE0123456", "990230")  # the traveller of the broken list


def _national_list(tmp_path: Path) -> Path:
    listed = tmp_path / "national.csv"
    listed.write_text("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                      "N-1,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n", encoding="utf-8")
    return listed


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default umask (files 0644, folders 0755 unless the code says otherwise)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_stored_hit_explanation_shows_no_name_or_birth_date(store_settings: Settings,
                                                                      tmp_path: Path) -> None:
    settings = store_settings.model_copy(update={"watchlists": [str(_national_list(tmp_path))]})
    p = await Processor.open(settings)
    try:
        events = await p.process(PAX, key=b"k")
        [alert] = [json.loads(e.value) for e in events if e.kind == "alerts"]
        assert any("SMITH" in f["detail"] for f in alert["explanation"])  # the officer's alert explains with names
        async with p.store.engine.connect() as conn:
            [stored] = (await conn.execute(select(hits.c.explanation))).scalars().all()
        assert not any(v in stored for v in LISTED), "the explanation is stored in clear"
        # ...yet the console (holding the key) reads the same explanation the alert carried
        opened = json.loads(p.keyring.decrypt_text(stored, "hits.explanation") or "")
        assert opened == alert["explanation"]
    finally:
        await p.close()


async def test_a_dead_letter_carries_no_personal_data_and_an_operator_can_open_it(
        store_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = await Processor.open(store_settings)
    try:
        events = await p.process(BAD, key=b"bad")
    finally:
        await p.close()
    [dead] = [e for e in events if e.kind == "dlq"]
    event = json.loads(dead.value)
    assert "original_base64" not in event and event["original_size"] == len(BAD)
    decoded = dead.value.decode() + "".join(  # every base64 field decoded too: nothing hides in an encoding
        base64.b64decode(v).decode("latin-1") for v in (event["original_sealed"], event["record_key_base64"]))
    assert not [v for v in BAD_VALUES if v in decoded]

    dumped = tmp_path / "dead.json"
    dumped.write_bytes(dead.value)
    out = tmp_path / "fix" / "original.edi"
    store_args = ["--database-url", store_settings.effective_database_url, "--data-dir", str(store_settings.data_dir)]
    assert await asyncio.to_thread(main, ["keys", "open-dead-letter", *store_args, str(dumped), "--out", str(out),
                                          "--reason", "ticket OPS-12: carrier asks why"]) == 0
    assert out.read_bytes() == BAD and _mode(out) == 0o600
    store = await Store.open(store_settings.effective_database_url)
    try:
        [opened] = await AuditTrail(store).recent(1, action="dead_letter.open")
        assert opened.subject == f"dead_letter:{event['event_id']}"
        assert opened.reason == "ticket OPS-12: carrier asks why"
    finally:
        await store.close()

    # Without the service's key (another data dir: another key file) the sealed bytes do not open.
    other = Settings(data_dir=tmp_path / "elsewhere", database_url=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    assert await asyncio.to_thread(main, ["keys", "open-dead-letter", "--database-url", other.effective_database_url,
                                          "--data-dir", str(other.data_dir), str(dumped), "--out",
                                          str(tmp_path / "nope.edi"), "--reason", "trying my luck"]) == 1
    assert not (tmp_path / "nope.edi").exists()


async def test_files_and_folders_the_service_creates_are_private(tmp_path: Path, permissive_umask: None) -> None:
    from api_engine.console.catalog import Catalog

    data = tmp_path / "srv" / "data"
    settings = Settings(data_dir=data)  # the default: SQLite under the data dir, a generated key file
    p = await Processor.open(settings)
    try:
        await p.process(PAX, key=b"k")
        catalog = Catalog(p.store, data / "watchlists")
        result = await catalog.upload(_national_list(tmp_path).read_bytes(), "national.csv", "admin")
        assert result.accepted
    finally:
        await p.close()
    db = data / "api-engine.db"
    assert _mode(data) == 0o700 and _mode(data.parent) == 0o700
    files = [db, data / KEY_FILE, Path(f"{db}.writer-lock"), *[f for f in data.iterdir() if f.name.startswith(db.name)]]
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    kept = list((data / "watchlists").iterdir())
    assert kept and _mode(data / "watchlists") == 0o700 and all(_mode(f) == 0o600 for f in kept)


async def test_sqlite_overwrites_deleted_rows(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA secure_delete"))).scalar() == 1
    finally:
        await store.close()


async def test_an_identifying_value_found_in_clear_is_refused_not_shown(store_settings: Settings) -> None:
    """A row written around the encryption (by hand, or by an old version) must fail loudly where it is read."""
    p = await Processor.open(store_settings)
    try:
        await p.process(PAX, key=b"k")
        async with p.store.transaction() as conn:
            await conn.execute(update(travellers).where(travellers.c.position == 1)
                               .values(traveller_json='{"surname": "SMITH", "given_names": ["JOHN"]}'))
        rows = await p.store.rows("travellers")
        clear = next(r for r in rows if r["position"] == 1)
        with pytest.raises(PlaintextValue) as refused:
            open_traveller_secrets(clear, p.keyring)
        assert "SMITH" not in str(refused.value) and "travellers.traveller_json" in str(refused.value)
    finally:
        await p.close()
    # `keys rotate` seals it: afterwards it reads again, under the current key.
    assert await asyncio.to_thread(main, ["keys", "rotate", "--database-url", store_settings.effective_database_url,
                                          "--data-dir", str(store_settings.data_dir)]) == 0
    from api_engine.protection.crypto import keyring_from_settings

    ring = keyring_from_settings(store_settings)
    store = await Store.open(store_settings.effective_database_url)
    try:
        rows = await store.rows("travellers")
        assert {open_traveller_secrets(r, ring)["surname"] for r in rows} >= {"SMITH"}
        assert all(ring.is_sealed(r["traveller_json"]) for r in rows)
    finally:
        await store.close()


def test_processes_starting_together_share_one_complete_key_file(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from api_engine.settings import Settings; "
            "from api_engine.protection.crypto import keyring_from_settings; "
            "print(keyring_from_settings(Settings(data_dir=Path(sys.argv[1]))).current)")
    for attempt in range(3):
        data = tmp_path / f"data{attempt}"
        procs = [subprocess.Popen([sys.executable, "-c", code, str(data)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(6)]
        results = [proc.communicate(timeout=60) for proc in procs]
        assert all(proc.returncode == 0 for proc in procs), [err.decode()[-300:] for _, err in results]
        assert len({out.strip() for out, _ in results}) == 1  # one key, the same for all
        assert [f.name for f in data.iterdir()] == [KEY_FILE]  # no temporary file left behind


async def test_topics_the_service_creates_keep_records_no_longer_than_the_policy(kafka_bootstrap: str,
                                                                                 tmp_path: Path) -> None:
    from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType  # type: ignore[import-untyped]

    from api_engine.service.broker import ensure_topics
    from api_engine.service.kafka import connection_kwargs
    from tests.api_engine.conftest import kafka_test_settings

    settings = kafka_test_settings(kafka_bootstrap, tmp_path / "data")
    await ensure_topics(settings, kafka_bootstrap)
    admin = AIOKafkaAdminClient(**connection_kwargs(settings, kafka_bootstrap))
    await admin.start()
    try:
        t = settings.topics
        names = [t.inbound, t.dlq, t.acks, t.alerts, t.manifests]
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        found: dict[str, Any] = {r[3]: {e[0]: e[1] for e in r[4]} for r in response.resources}
    finally:
        await admin.close()
    day, two_days = str(24 * 3600 * 1000), str(48 * 3600 * 1000)
    assert {n: found[n].get("retention.ms") for n in names} == {
        t.inbound: day, t.dlq: day, t.acks: day, t.alerts: two_days, t.manifests: two_days}
