"""Officers see the live lists: the version of each list in force, a file that cannot be loaded, recent changes
and re-screen runs on the watchlists page; a hit whose entry left its list says so in the queue and on its page
and stays open; the console's own copy of a configured list follows its file while it runs.

Strategy: the service's rows (list states, versions, runs, the flag on a hit) are written straight into the
store the fixture's processor filled, then read through the pages as an officer or supervisor reads them. The
catalog is driven directly against list files on disk rewritten under it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, update

from api_engine.console import create_app
from api_engine.console.catalog import Catalog
from api_engine.store import Store
from api_engine.store.schema import hits, list_states, list_versions, rescreen_runs

from .conftest import NATIONAL_CSV, PLANTED, SECOND, ConsoleEnv, bystander, paxlst
from .test_security import sign_in

STARTED = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
REMOVED_AT = datetime(2026, 3, 15, 6, 45, tzinfo=UTC)
ADDED_ENTRY = "NAT-004,NATIONAL,individual,,MARCHETTI-OYELARAN,FLAVIA,,1990-10-10,IT,F,,,\n"


@pytest.fixture
def client(console_env: ConsoleEnv) -> Iterator[TestClient]:
    with TestClient(create_app(console_env.settings)) as c:
        yield c


def _seed(env: ConsoleEnv) -> tuple[int, int]:
    """Two hits (SECOND's flagged "entry removed", PLANTED's not), list states, versions and runs; their ids."""
    env.process(paxlst("XX200", [PLANTED, bystander(4)]))

    async def seed(store: Store) -> tuple[int, int]:
        async with store.transaction() as conn:
            removed = (await conn.execute(select(hits.c.id).where(hits.c.entry_id == "NAT-002"))).scalar_one()
            kept = (await conn.execute(select(hits.c.id).where(hits.c.entry_id == "NAT-001"))).scalar_one()
            await conn.execute(update(hits).where(hits.c.id == removed).values(entry_removed_at=REMOVED_AT,
                                                                                 rescreen_run=7))
            for table in (list_states, list_versions, rescreen_runs):  # the processor's own rows: replaced by ours
                await conn.execute(delete(table))
            for row in [
                {"list_name": "NATIONAL", "source": "/lists/NATIONAL.csv", "digest": "0123456789abcdef" * 2,
                 "version": "2026-03-14", "entries": 4711, "checked_at": STARTED},
                {"list_name": "EU-SANCTIONS", "source": "/lists/eu.xml", "digest": "fedcba9876543210" * 2,
                 "version": "2026-03-01", "entries": 1503, "checked_at": STARTED,
                 "error": "XML not well-formed at line 12", "error_at": STARTED - timedelta(hours=2)},
            ]:
                await conn.execute(insert(list_states).values(**row))
            await conn.execute(insert(list_versions), [
                {"list_name": "NATIONAL", "digest": f"{n:032x}", "version": f"v{n}", "source": "/lists/NATIONAL.csv",
                 "entries": 4700 + n, "previous_digest": f"{n - 1:032x}" if n else None, "added": 10 + n,
                 "removed": 20 + n, "changed": 30 + n, "fingerprints": b"", "trigger": "file_change",
                 "installed_at": STARTED + timedelta(minutes=n), "seq": 1000 + n} for n in range(12)])
            runs: list[dict[str, object]] = [
                {"list_name": "NATIONAL", "from_digest": "a" * 32, "to_digest": "b" * 32, "from_version": "v10",
                 "to_version": "v11", "trigger": "file_change", "entries": 417, "removed": 3, "travellers": 8765,
                 "manifests": 12, "new_hits": 29, "flagged": 7, "status": "done", "started_at": STARTED,
                 "updated_at": STARTED, "finished_at": STARTED + timedelta(seconds=4), "seconds": 4.2},
                {"list_name": "EU-SANCTIONS", "from_digest": None, "to_digest": "c" * 32, "from_version": None,
                 "to_version": "2026-03-01", "trigger": "operator", "requested_by": "ops", "entries": 1503,
                 "removed": 0, "travellers": 99, "manifests": 2, "new_hits": 0, "flagged": 0, "status": "running",
                 "started_at": STARTED + timedelta(minutes=1), "updated_at": STARTED + timedelta(minutes=1)},
            ]
            for run in runs:
                await conn.execute(insert(rescreen_runs).values(**run))
        return removed, kept

    ids = env.run(seed)
    assert isinstance(ids, tuple)
    return ids


def _table(html: str, table_id: str) -> list[list[str]]:
    """The text of each body row's cells in the table with that id."""
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, f"no table {table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    return [[" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows]


def _queue_row(html: str, hit_id: int) -> str:
    row = re.search(rf'<tr data-hit-id="{hit_id}".*?</tr>', html, re.S)
    assert row is not None, f"hit {hit_id} not in the queue"
    return row.group(0)


def test_the_watchlists_page_shows_lists_in_force_changes_and_runs(client: TestClient,
                                                                   console_env: ConsoleEnv) -> None:
    _seed(console_env)
    sign_in(client, "supervisor")
    page = client.get("/watchlists")
    assert page.status_code == 200, page.text
    html = page.text

    alert = re.search(r'<p class="error" role="alert" data-list="EU-SANCTIONS">(.*?)</p>', html, re.S)
    assert alert is not None
    assert alert.group(1) == ("EU-SANCTIONS: the file could not be loaded (XML not well-formed at line 12) since "
                              "2026-03-14 07:30 UTC; the version loaded before stays in force")
    assert 'data-list="NATIONAL"' not in html  # no alert for a list whose file loads

    in_force = {r[0].split()[0]: r for r in _table(html, "lists-in-force")}
    assert in_force["NATIONAL"][1:] == ["2026-03-14", "4711", "0123456789ab", "2026-03-14 09:30 UTC"]
    assert "file not loaded" in in_force["EU-SANCTIONS"][0] and in_force["EU-SANCTIONS"][3] == "fedcba987654"

    changes = _table(html, "list-changes")
    assert len(changes) == 10  # the last ten of twelve, newest first
    assert changes[0] == ["2026-03-14 09:41 UTC", "NATIONAL", "v11", "+21 −31 ~41", "list file changed"]
    assert changes[-1][2] == "v2"

    runs = _table(html, "rescreen-runs")
    assert runs[0][:9] == ["2026-03-14 09:31 UTC", "operator request", "EU-SANCTIONS", "whole list → 2026-03-01",
                           "1503", "99", "0", "0", "running"]
    assert runs[0][9].startswith("running for")
    assert runs[1] == ["2026-03-14 09:30 UTC", "list file changed", "NATIONAL", "v10 → v11", "417", "8765", "29",
                       "7", "done", "4.2 s"]


def test_a_hit_whose_entry_left_its_list_says_so_and_stays_open(client: TestClient,
                                                                console_env: ConsoleEnv) -> None:
    removed, kept = _seed(console_env)
    sign_in(client, "officer")
    queue = client.get("/alerts").text
    assert "entry removed from list" in _queue_row(queue, removed)
    assert "entry removed from list" not in _queue_row(queue, kept)
    assert 'class="status st-open">open<' in _queue_row(queue, removed)

    page = client.get(f"/hits/{removed}").text
    flag = re.search(r'<p class="notice warn" id="entry-removed">(.*?)</p>', page, re.S)
    assert flag is not None and "entry removed from list" in flag.group(1)
    assert "2026-03-15 06:45 UTC" in flag.group(1)
    assert 'id="decision-form"' in page  # decided as usual
    assert 'id="entry-removed"' not in client.get(f"/hits/{kept}").text
    # a hit raised by re-screening says so (no new message came from the carrier); one raised on arrival does not
    assert "run 7" in page and 'id="raised-by-rescreen"' in page
    assert 'id="raised-by-rescreen"' not in client.get(f"/hits/{kept}").text

    h = {"X-CSRF-Token": sign_in(client, "officer")}
    r = client.post(f"/api/hits/{removed}/decision", json={"decision": "confirm", "comment": "checked in person"},
                    headers=h)
    assert r.status_code == 200 and r.json()["status"] == "confirmed", r.text


async def _catalog(tmp_path: Path, check_every_s: float = 30.0) -> tuple[Catalog, Store, Path]:
    path = tmp_path / "NATIONAL.csv"
    path.write_text(NATIONAL_CSV, encoding="utf-8")
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}")
    catalog = Catalog(store, tmp_path / "kept", check_every_s=check_every_s)
    await catalog.load_all([str(path)])
    return catalog, store, path


def test_the_catalog_finds_an_entry_added_to_a_configured_file(tmp_path: Path) -> None:
    async def go() -> None:
        catalog, store, path = await _catalog(tmp_path)
        try:
            before = catalog.lists["NATIONAL"].version
            assert catalog.entry("NATIONAL", "NAT-004") is None
            path.write_text(NATIONAL_CSV + ADDED_ENTRY, encoding="utf-8")
            assert catalog.notice() == []  # within 30 s of the last look: no stat, no load
            assert catalog.entry("NATIONAL", "NAT-002") is not None  # the version held answers
            found = await catalog.find("NATIONAL", "NAT-004")  # a hit names it: looked at now, waited for
            assert found is not None and found.names[0].name == "FLAVIA MARCHETTI-OYELARAN"
            assert catalog.lists["NATIONAL"].version != before and len(catalog.lists["NATIONAL"].entries) == 4
            assert catalog.lists["NATIONAL"].origin == "settings"
        finally:
            await store.close()

    asyncio.run(go())


def test_the_catalog_looks_at_its_files_every_interval(tmp_path: Path) -> None:
    async def go() -> None:
        catalog, store, path = await _catalog(tmp_path, check_every_s=0.0)
        try:
            path.write_text(NATIONAL_CSV.replace("NAT-003", "NAT-033"), encoding="utf-8")
            assert catalog.entry("NATIONAL", "NAT-002") is not None  # a look starts the load in the background
            await asyncio.wait(catalog.notice())
            assert catalog.entry("NATIONAL", "NAT-033") is not None
            assert catalog.entry("NATIONAL", "NAT-003") is None
        finally:
            await store.close()

    asyncio.run(go())


def test_a_changed_file_that_cannot_be_loaded_keeps_the_version_held(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def go() -> None:
        catalog, store, path = await _catalog(tmp_path)
        try:
            before = catalog.lists["NATIONAL"]
            path.write_bytes(NATIONAL_CSV.encode() + f"NAT-005,NATIONAL,individual,,{SECOND['surname']}\xff".encode(
                "latin-1"))
            await catalog.refresh()
            assert catalog.lists["NATIONAL"] is before
            assert catalog.entry("NATIONAL", "NAT-001") is not None
            path.write_text(NATIONAL_CSV + ADDED_ENTRY, encoding="utf-8")  # fixed: the next look loads it
            await catalog.refresh()
            assert catalog.entry("NATIONAL", "NAT-004") is not None
        finally:
            await store.close()

    asyncio.run(go())
    warning = [r.getMessage() for r in caplog.records if "could not be loaded" in r.getMessage()]
    assert warning == ["watchlist file changed but could not be loaded, the version held stays: list=NATIONAL "
                       "error=UnicodeDecodeError"]
    assert SECOND["surname"] not in caplog.text and PLANTED["surname"] not in caplog.text
