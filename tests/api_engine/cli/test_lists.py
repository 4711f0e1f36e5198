"""`api-engine lists status|reload|rescreen`: what an operator sees and what lands in the store.

Strategy: drive the real command line (`cli.main`) against both databases, seeded with rows as the
service would leave them: two versions of a list whose fingerprints are built from real entries, a
second list whose file could not be loaded, and manifests in and out of the re-screening window.
No worker runs here, so a run with work stays "running" (what `--wait` must report as a timeout).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from api_engine.cli import main
from api_engine.protection.audit import AuditTrail
from api_engine.store import Store
from api_engine.store.schema import (
    interchanges,
    list_requests,
    list_states,
    list_versions,
    manifest_screens,
    manifests,
    rescreen_runs,
)
from watchlists.models import NameVariant, WatchlistEntry
from watchlists.screener import FingerprintBuilder, Fingerprints

NOW = datetime.now(UTC)


def _entry(entry_id: str, name: str) -> WatchlistEntry:
    return WatchlistEntry(id=entry_id, list="NATIONAL", names=[NameVariant(name=name)])


def _fingerprints(entries: list[WatchlistEntry]) -> Fingerprints:
    builder = FingerprintBuilder()
    for _ in builder.observe(entries):
        pass
    return builder.freeze()


# v1 -> v2: N2 changed, N3 removed, N4 and N5 added (3 entries to screen against, 1 removed).
V1 = _fingerprints([_entry("N1", "Viktor KRASNOV"), _entry("N2", "Olga PETROVA"), _entry("N3", "Ivan SOKOLOV")])
V2 = _fingerprints([_entry("N1", "Viktor KRASNOV"), _entry("N2", "Olga PETROVA SMIRNOVA"),
                    _entry("N4", "Pavel ORLOV"), _entry("N5", "Nina VOLKOVA")])
UN = _fingerprints([WatchlistEntry(id="U1", list="UN", names=[NameVariant(name="Some ONE")])])


@dataclass
class Seeded:
    current: int  # in the window, screened against v2
    replaced: int  # an earlier version of the same list, in the window by time
    arrived_long_ago: int  # arrived 3 days ago: outside the 24 h margin
    unscreened: int  # in the window, no manifest_screens row yet
    waiting_whole: int  # in the window, already waiting for the whole list ("")


async def _seed(url: str) -> Seeded:
    store = await Store.open(url)
    try:
        async with store.transaction() as conn:
            interchange = (await conn.execute(insert(interchanges).values(
                record_id="r1", source="test", content_hash="0" * 64, size=1, status="processed", lane="border",
                received_at=NOW).returning(interchanges.c.id))).scalar_one()

            async def manifest(uid: str, arrives: datetime, replaced_by: int | None = None) -> int:
                new_id: int = (await conn.execute(insert(manifests).values(
                    uid=uid, interchange_id=interchange, assembly_key="k", flight_key=f"XX1/{uid}", version=1,
                    replaced_by=replaced_by, lane="border", complete=True, parts="[1]", passengers=2, crew=0,
                    header_json="{}", created_at=arrives - timedelta(hours=6), departs_at=arrives - timedelta(hours=2),
                    arrives_at=arrives).returning(manifests.c.id))).scalar_one()
                return new_id

            current = await manifest("current", NOW + timedelta(hours=2))
            replaced = await manifest("replaced", NOW + timedelta(hours=2), replaced_by=current)
            old = await manifest("old", NOW - timedelta(days=3))
            unscreened = await manifest("unscreened", NOW + timedelta(days=1))
            waiting = await manifest("waiting", NOW - timedelta(hours=1))
            await conn.execute(insert(manifest_screens), [
                {"manifest_id": m, "list_name": "NATIONAL", "digest": V2.digest} for m in (current, replaced, old)
            ] + [{"manifest_id": waiting, "list_name": "NATIONAL", "digest": ""}])
            await conn.execute(insert(list_versions), [
                {"list_name": "NATIONAL", "digest": V1.digest, "version": "2025-01-01", "source": "/lists/national.csv",
                 "entries": len(V1), "previous_digest": None, "added": 3, "removed": 0, "changed": 0,
                 "fingerprints": V1.to_bytes(), "trigger": "start", "installed_at": NOW - timedelta(days=2), "seq": 1},
                {"list_name": "NATIONAL", "digest": V2.digest, "version": "2025-02-01", "source": "/lists/national.csv",
                 "entries": len(V2), "previous_digest": V1.digest, "added": 2, "removed": 1, "changed": 1,
                 "fingerprints": V2.to_bytes(), "trigger": "file_change", "installed_at": NOW - timedelta(hours=1),
                 "seq": 2},
                {"list_name": "UN", "digest": UN.digest, "version": "2026-02-27", "source": "/lists/un.xml",
                 "entries": 1, "previous_digest": None, "added": 1, "removed": 0, "changed": 0,
                 "fingerprints": UN.to_bytes(), "trigger": "start", "installed_at": NOW - timedelta(days=2), "seq": 1},
            ])
            await conn.execute(insert(list_states), [
                {"list_name": "NATIONAL", "source": "/lists/national.csv", "digest": V2.digest,
                 "version": "2025-02-01", "entries": len(V2), "checked_at": NOW, "error": None, "error_at": None},
                {"list_name": "UN", "source": "/lists/un.xml", "digest": UN.digest, "version": "2026-02-27",
                 "entries": 1, "checked_at": NOW, "error": "not well-formed XML at line 12",
                 "error_at": NOW - timedelta(minutes=30)},
            ])
        return Seeded(current, replaced, old, unscreened, waiting)
    finally:
        await store.close()


async def _read(url: str, table: Any, *where: Any) -> list[Any]:
    store = await Store.open(url)
    try:
        async with store.engine.connect() as conn:
            return list((await conn.execute(select(table).where(*where))).all())
    finally:
        await store.close()


async def _screens(url: str) -> dict[int, str]:
    rows = await _read(url, manifest_screens, manifest_screens.c.list_name == "NATIONAL")
    return {r.manifest_id: r.digest for r in rows}


async def _cli(*argv: str) -> int:
    status: int = await asyncio.to_thread(main, list(argv))
    return status


async def test_status_shows_versions_changes_and_the_list_in_error(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    await _seed(database_url)
    assert await _cli("lists", "status", "--database-url", database_url) == 1  # a list in error: monitoring sees it
    out = capsys.readouterr().out
    national = next(line for line in out.splitlines() if line.strip().startswith("NATIONAL"))
    assert "2025-02-01" in national and V2.digest[:12] in national
    assert "ERROR since" in out and "not well-formed XML at line 12; old version in force" in out
    assert "2025-01-01 -> 2025-02-01" in out and "+2 -1 ~1" in out

    assert await _cli("lists", "status", "--json", "--database-url", database_url) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {s["name"]: s["error"] for s in doc["lists"]} == {"NATIONAL": None, "UN": "not well-formed XML at line 12"}
    assert [c["version"] for c in doc["changes"] if c["list_name"] == "NATIONAL"] == ["2025-02-01", "2025-01-01"]


async def test_status_of_healthy_lists_exits_0(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    await _seed(database_url)
    store = await Store.open(database_url)
    try:
        async with store.transaction() as conn:
            await conn.execute(list_states.update().where(list_states.c.list_name == "UN")
                               .values(error=None, error_at=None))
    finally:
        await store.close()
    assert await _cli("lists", "status", "--database-url", database_url) == 0
    assert "ERROR" not in capsys.readouterr().out


async def test_reload_inserts_a_request_and_audits_it(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    await _seed(database_url)
    assert await _cli("lists", "reload", "--by", "operator:jo", "--database-url", database_url) == 0
    assert "within a few seconds" in capsys.readouterr().out
    [request] = await _read(database_url, list_requests)
    assert (request.kind, request.requested_by) == ("reload", "operator:jo")
    store = await Store.open(database_url)
    try:
        [entry] = await AuditTrail(store).recent(action="lists.reload_requested")
    finally:
        await store.close()
    assert entry.actor == "operator:jo" and entry.details == {"request": request.id}


async def test_rescreen_since_marks_the_window_back_to_the_older_version(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = await _seed(database_url)
    since = (NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")  # naive: UTC; v2 came after it
    assert await _cli("lists", "rescreen", "--since", since, "--list", "NATIONAL", "--by", "operator:jo",
                      "--database-url", database_url) == 0
    out = capsys.readouterr().out
    assert "2025-01-01 -> 2025-02-01: 3 entries added or changed; 2 manifest(s) marked" in out

    assert await _screens(database_url) == {
        seeded.current: V1.digest,  # screened against v2: now against v1 -> v2 again
        seeded.unscreened: V1.digest,  # had no row: inserted
        seeded.replaced: V2.digest,  # replaced by a later version of its list
        seeded.arrived_long_ago: V2.digest,  # arrived 3 days ago, outside the margin
        seeded.waiting_whole: "",  # already waiting for the whole list, which covers more
    }
    [run] = await _read(database_url, rescreen_runs)
    assert (run.list_name, run.trigger, run.requested_by, run.status) == ("NATIONAL", "operator", "operator:jo",
                                                                          "running")
    assert (run.from_digest, run.from_version, run.to_digest, run.to_version) == (V1.digest, "2025-01-01",
                                                                                  V2.digest, "2025-02-01")
    assert (run.entries, run.removed) == (3, 1)
    store = await Store.open(database_url)
    try:
        [entry] = await AuditTrail(store).recent(action="lists.rescreen_requested")
    finally:
        await store.close()
    assert entry.subject == "list:NATIONAL"
    assert entry.details["run"] == run.id and entry.details["manifests"] == 2
    assert entry.details["from_digest"] == V1.digest and entry.details["to_digest"] == V2.digest

    # No worker runs here: waiting ends in a timeout (exit 3) and says the runs go on.
    assert await _cli("lists", "rescreen", "--list", "NATIONAL", "--wait", "0.3", "--database-url",
                      database_url) == 3
    captured = capsys.readouterr()
    assert "whole list 2025-02-01: 4 entries" in captured.out and "not finished after 0.3 s" in captured.err
    assert set((await _screens(database_url)).values()) == {"", V2.digest}  # the window now waits for the whole list


async def test_rescreen_with_no_change_since_closes_its_run_at_once(
        database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = await _seed(database_url)
    assert await _cli("lists", "rescreen", "--since", NOW.date().isoformat() + "T23:59:59Z", "--list", "NATIONAL",
                      "--wait", "5", "--database-url", database_url) == 0
    out = capsys.readouterr().out
    assert "nothing to re-screen" in out and "done: 0 traveller(s) considered, 0 new hit(s)" in out
    assert (await _screens(database_url))[seeded.current] == V2.digest


async def test_rescreen_usage_errors(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    await _seed(database_url)
    with pytest.raises(SystemExit) as exc:
        await _cli("lists", "rescreen", "--since", "last tuesday", "--database-url", database_url)
    assert exc.value.code == 2
    assert "not an ISO 8601 date or time: 'last tuesday'" in capsys.readouterr().err
    assert await _cli("lists", "rescreen", "--list", "NATINAL", "--database-url", database_url) == 2
    assert "no version in force for list(s): NATINAL" in capsys.readouterr().err
    assert await _read(database_url, rescreen_runs) == []


def test_no_store_says_so_and_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("API_ENGINE_DATA_DIR", "API_ENGINE_DATABASE_URL", "API_ENGINE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["lists", "status", "--data-dir", str(empty)]) == 1
    assert "no store at" in capsys.readouterr().err
    assert main(["lists", "reload"]) == 1  # the default ./data
    assert main(["lists", "rescreen", "--since", "2025-03-01", "--data-dir", str(empty)]) == 1
    assert list(tmp_path.iterdir()) == [empty] and list(empty.iterdir()) == []
