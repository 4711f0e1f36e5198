"""A list change reaches the travellers already received: what an officer and an auditor see.

Strategy: a real processor on a real store (SQLite and PostgreSQL) with a configured national list
file; the file is then edited as an operator would and the worker's own steps are run (look at the
files, sweep), asserting the hits in the officers' queue, the alert events stored for border.alerts,
the audit trail and the re-screen runs. The example flight lands on 2025-03-01, so the sweeps are
run as of that day (`at`); one test moves the clock past the window.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from api_engine.protection.audit import AuditTrail
from api_engine.service.processor import Processor
from api_engine.service.rescreen import Rescreener
from api_engine.settings import Settings
from api_engine.store.schema import hits, list_states, manifest_screens, rescreen_runs, travellers

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PAX = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes()  # MARY ANN O'BRIEN, JOHN SMITH; lands 2025-03-01
LANDING_DAY = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HEADER = "id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
OTHER = "N-1,NATIONAL,individual,PETER NOBODY,NOBODY,PETER,1960-01-01,FR\n"
SMITH = "N-2,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n"


def write(path: Path, *rows: str) -> None:
    path.write_text(HEADER + "".join(rows), encoding="utf-8")


@pytest.fixture
async def live(store_settings: Settings, tmp_path: Path) -> Any:
    listed = tmp_path / "national.csv"
    write(listed, OTHER)
    p = await Processor.open(store_settings.model_copy(update={"watchlists": [str(listed)]}))
    yield p, listed
    await p.close()


async def _rows(p: Processor, table: Any, *where: Any) -> list[Any]:
    async with p.store.engine.connect() as conn:
        return list((await conn.execute(select(table).where(*where))).all())


async def test_an_entry_added_to_the_list_file_alerts_on_a_manifest_received_before(live: Any) -> None:
    p, listed = live
    events = await p.process(PAX, key=b"XXAIRAPI/XX123")
    assert not [e for e in events if e.kind == "alerts"]  # nobody listed yet
    rescreener = Rescreener(p)
    assert (await rescreener.sweep(at=LANDING_DAY)).travellers == 0  # screened against the version in force

    write(listed, OTHER, SMITH)  # the national service lists JOHN SMITH
    assert await p.lists.check_files() == ["NATIONAL"]
    report = await rescreener.sweep(at=LANDING_DAY)
    assert (report.manifests, report.travellers, report.new_hits) == (1, 2, 1)
    [alert] = report.alerts
    assert alert.identity.surname == "SMITH" and alert.watchlist.entry_id == "N-2"
    assert alert.raised_by == "rescreen" and alert.flight.flight_key == "XX123/2025-03-01/LHR-JFK"
    # in the officers' queue, like any hit
    [hit] = await _rows(p, hits)
    assert (hit.status, hit.entry_id, hit.list) == ("open", "N-2", "NATIONAL")
    # the run, as the console and `lists status` show it, and the audit trail
    [run] = await _rows(p, rescreen_runs)
    assert (run.trigger, run.entries, run.travellers, run.new_hits, run.status) == ("file_change", 1, 2, 1, "done")
    assert hit.rescreen_run == run.id  # the console says which run raised it
    actions = [e.action for e in await AuditTrail(p.store).recent(20)]
    assert "lists.version_installed" in actions and "lists.rescreen_done" in actions

    # nothing twice: sweeping again, or the same file written again, raises nothing new
    assert (await rescreener.sweep(at=LANDING_DAY)).new_hits == 0
    write(listed, OTHER, SMITH)
    assert await p.lists.check_files() == []
    assert (await rescreener.sweep(at=LANDING_DAY)).new_hits == 0
    assert len(await _rows(p, hits)) == 1


async def test_only_the_change_is_screened_and_depersonalised_travellers_never_are(live: Any) -> None:
    p, listed = live
    await p.process(PAX, key=b"XXAIRAPI/XX123")
    async with p.store.transaction() as conn:  # retention depersonalised JOHN SMITH already
        await conn.execute(update(travellers).where(travellers.c.position == 1)
                           .values(pseudonymised_at=LANDING_DAY))
    write(listed, OTHER, SMITH)
    await p.lists.check_files()
    report = await Rescreener(p).sweep(at=LANDING_DAY)
    assert (report.travellers, report.new_hits) == (1, 0)  # MARY ANN only; SMITH's identity is not read
    assert await _rows(p, hits) == []


async def test_a_flight_that_landed_longer_ago_than_the_margin_is_left_alone(live: Any) -> None:
    p, listed = live
    await p.process(PAX, key=b"XXAIRAPI/XX123")
    write(listed, OTHER, SMITH)
    await p.lists.check_files()
    report = await Rescreener(p).sweep(at=datetime(2025, 3, 4, tzinfo=UTC))  # three days after landing
    assert (report.manifests, report.new_hits) == (0, 0)
    [tag] = await _rows(p, manifest_screens)
    assert tag.list_name == "NATIONAL"  # still on the version it was screened against


async def test_a_removed_entry_flags_its_open_hit_and_closes_nothing(live: Any) -> None:
    p, listed = live
    write(listed, OTHER, SMITH)
    await p.lists.check_files()
    events = await p.process(PAX, key=b"XXAIRAPI/XX123")
    assert len([e for e in events if e.kind == "alerts"]) == 1
    write(listed, OTHER)  # the entry leaves the list
    await p.lists.check_files()
    [hit] = await _rows(p, hits)
    assert hit.status == "open" and hit.entry_removed_at is not None
    [run] = await _rows(p, rescreen_runs, rescreen_runs.c.removed == 1)
    assert run.flagged == 1


async def test_a_broken_list_file_leaves_the_version_in_force_and_says_so(live: Any) -> None:
    p, listed = live
    write(listed, OTHER, SMITH)
    await p.lists.check_files()
    listed.write_bytes(b"\x00\xff not a list at all")
    assert await p.lists.check_files() == []
    status = p.lists.status()
    assert status["NATIONAL"]["entries"] == 2 and "stays in force" in status["NATIONAL"]["error"]  # type: ignore[index]
    [state] = await _rows(p, list_states)
    assert state.error and state.entries == 2 and "SMITH" not in state.error
    events = await p.process(PAX, key=b"XXAIRAPI/XX123")  # still screened against the old version
    assert len([e for e in events if e.kind == "alerts"]) == 1
    write(listed)  # a file emptied by mistake is refused too: never an empty list
    await p.lists.check_files()
    assert p.lists.status()["NATIONAL"]["entries"] == 2  # type: ignore[index]
    assert "no entries" in p.lists.errors[0]
    audit = [json.dumps(e.details) for e in await AuditTrail(p.store).recent(20) if e.action == "lists.load_failed"]
    assert audit and not any("SMITH" in a for a in audit)


async def test_two_workers_alert_once_and_a_worker_behind_never_moves_a_manifest_back(
        store_settings: Settings, tmp_path: Path) -> None:
    listed = tmp_path / "national.csv"
    write(listed, OTHER)
    settings = store_settings.model_copy(update={"watchlists": [str(listed)], "workers": 2})
    a, b = await Processor.open(settings), await Processor.open(settings)
    try:
        await a.process(PAX, key=b"XXAIRAPI/XX123")
        write(listed, OTHER, SMITH)
        await a.lists.check_files()  # worker 0 sees the change first
        behind = await Rescreener(b, worker=1, workers=2).sweep(at=LANDING_DAY)
        assert (behind.manifests, behind.new_hits) == (0, 0)  # worker 1, still on the old version, leaves it
        [tag] = await _rows(a, manifest_screens)
        assert tag.digest != a.lists.versions()["NATIONAL"]
        await b.lists.check_files()
        both = [await Rescreener(p, worker=i, workers=2).sweep(at=LANDING_DAY) for i, p in enumerate((b, a))]
        assert sum(r.new_hits for r in both) == 1 and sum(r.manifests for r in both) == 1
        assert len(await _rows(a, hits)) == 1
        [run] = await _rows(a, rescreen_runs)  # one change, one run, recorded once
        assert (run.new_hits, run.status) == (1, "done")
    finally:
        await a.close()
        await b.close()


async def test_a_list_accepted_in_the_console_reaches_the_travellers_already_received(live: Any,
                                                                                      tmp_path: Path) -> None:
    from api_engine.store.schema import watchlist_uploads

    p, _ = live
    await p.process(PAX, key=b"XXAIRAPI/XX123")
    upload = tmp_path / "wanted.csv"
    upload.write_text(HEADER + "W-7,WANTED,individual,MARY ANN O'BRIEN,O'BRIEN,MARY ANN,1985-04-12,IE\n",
                      encoding="utf-8")
    async with p.store.transaction() as conn:
        await conn.execute(watchlist_uploads.insert().values(
            list_name="WANTED", version="1", source_format="national_csv", entries=1, rejected=0, report_json="{}",
            path=str(upload), accepted=True, uploaded_by="supervisor1", uploaded_at=LANDING_DAY))
    await p.lists.install_uploads()
    report = await Rescreener(p).sweep(at=LANDING_DAY)
    assert report.new_hits == 1 and report.alerts[0].identity.surname == "O'BRIEN"
    [run] = await _rows(p, rescreen_runs, rescreen_runs.c.list_name == "WANTED")
    assert (run.trigger, run.new_hits, run.from_digest) == ("upload", 1, None)  # a new list: all of it, once


async def test_old_versions_keep_their_counts_and_drop_their_fingerprints(live: Any) -> None:
    from api_engine.service.lists import KEEP_FINGERPRINTS
    from api_engine.store.schema import list_versions

    p, listed = live
    await p.process(PAX, key=b"XXAIRAPI/XX123")  # screened against the first version
    for n in range(KEEP_FINGERPRINTS + 1):
        write(listed, OTHER, f"X-{n},NATIONAL,individual,PERSON {n} NOONE,NOONE,PERSON {n},1950-01-01,FR\n")
        await p.lists.check_files()
    versions = sorted(await _rows(p, list_versions), key=lambda r: r.seq)
    assert len(versions) == KEEP_FINGERPRINTS + 2
    assert [bool(v.fingerprints) for v in versions] == [False, False] + [True] * KEEP_FINGERPRINTS
    assert versions[0].entries == 1  # the counts stay
    write(listed, OTHER, SMITH)
    await p.lists.check_files()
    report = await Rescreener(p).sweep(at=LANDING_DAY)  # its version's fingerprints are gone: the whole list
    assert (report.travellers, report.new_hits) == (2, 1)
