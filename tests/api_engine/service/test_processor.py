"""The processing core on a real store (SQLite and PostgreSQL): what a carrier, an officer and an
operator would notice: acknowledgements, minimised manifests, alerts, dead letters, and that nothing
is lost or reported twice across replays, duplicates, parts out of order and restarts.

Strategy: the project's example messages, read from examples/, fed to `Processor.process` as the
Kafka shell would; outputs are checked through their JSON and the CONTRL/CUSRES they carry (read
back with the project's own readers), the state through the store's row counts.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api_engine.protection.crypto import open_dead_letter, open_traveller_secrets
from api_engine.service.events import OutputEvent
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from parsers import Manifest, read_interchange
from parsers.contrl import read_contrl

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PAX = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes()
CREW = (EXAMPLES / "xx123_crew.edi").read_bytes()
PART1 = (EXAMPLES / "xx456_cdg-yul_part1of2.edi").read_bytes()
PART2 = (EXAMPLES / "xx456_cdg-yul_part2of2.edi").read_bytes()
BAD_COUNT = (EXAMPLES / "invalid" / "xx789_bad_unt_count.edi").read_bytes()


def by_kind(events: Sequence[OutputEvent], kind: str) -> list[dict[str, Any]]:
    return [json.loads(e.value) for e in events if e.kind == kind]


def contrl_of(events: Sequence[OutputEvent]) -> Any:
    [ack] = by_kind(events, "acks")
    return read_contrl(base64.b64decode(ack["contrl_base64"]))


def with_ref(data: bytes, old: bytes, new: bytes) -> bytes:
    """The same interchange under another UNB reference (a carrier's resend)."""
    assert data.count(old) == 2  # UNB 0020 and UNZ 0020
    return data.replace(old, new)


def with_national_list(settings: Settings, tmp_path: Path) -> Settings:
    """The settings with a national list naming JOHN SMITH (born 1979-02-28), a traveller of PAX."""
    listed = tmp_path / "national.csv"
    listed.write_text("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                      "N-1,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n", encoding="utf-8")
    return settings.model_copy(update={"watchlists": [str(listed)]})


@pytest.fixture
async def processor(store_settings: Settings) -> Any:
    p = await Processor.open(store_settings)
    yield p
    await p.close()


async def test_examples_are_stored_and_answered_with_ack_and_minimised_manifest(processor: Processor) -> None:
    pax = await processor.process(PAX, key=b"XXAIRAPI/XX123")
    [ack] = by_kind(pax, "acks")
    assert ack["accepted"] is True
    report = contrl_of(pax)
    assert report.action == "7" and report.subject_control_ref == "000000001"
    [manifest] = by_kind(pax, "manifests")
    assert manifest["flight"]["flight_key"] == "XX123/2025-03-01/LHR-JFK"
    assert manifest["counts"]["passengers"] == 2 and manifest["version"] == 1
    traveller = manifest["travellers"][0]
    assert traveller["surname"] and traveller["date_of_birth"] and traveller["documents"]
    # minimisation: nothing beyond identity, documents and hit flags leaves for the officers
    assert set(traveller) == {"traveller_ref", "role", "surname", "given_names", "date_of_birth", "nationality",
                              "documents", "hit", "hit_count"}
    assert set(traveller["documents"][0]) == {"doc_type", "number", "issuing_state"}
    for needle in ("bag", "seat", "contact", "address", "SEA"):
        assert needle not in manifest_text(manifest)

    crew = await processor.process(CREW, key=b"XXAIRAPI/XX123C")
    assert by_kind(crew, "manifests")[0]["counts"]["crew"] == 1
    assert await processor.store.count("manifests") == 2
    assert await processor.store.count("travellers") == 3
    rows = await processor.store.rows("travellers")
    # One sealed copy of each traveller: the identity columns are read from the record, never stored beside it.
    assert all(r["traveller_json"].startswith("enc1:") and r["surname"] is None and r["doc_number"] is None
               for r in rows)
    opened = [open_traveller_secrets(r, processor.keyring) for r in rows]
    assert all(o["surname"] and o["doc_number"] and o["date_of_birth"] for o in opened)
    member = by_kind(crew, "manifests")[0]["travellers"][0]
    assert (member["surname"], member["documents"][0]["number"], member["date_of_birth"]) in {
        (o["surname"], o["doc_number"], o["date_of_birth"]) for o in opened}
    assert await processor.store.count("raw_messages") == 2


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest["travellers"])


async def test_parts_out_of_order_are_assembled_exactly_once(processor: Processor) -> None:
    first = await processor.process(PART2, key=b"XXAIRAPI/XX456")
    assert by_kind(first, "manifests") == []  # held: part 1 is missing
    assert by_kind(first, "acks")[0]["accepted"] is True
    second = await processor.process(PART1, key=b"XXAIRAPI/XX456")
    [manifest] = by_kind(second, "manifests")
    assert manifest["complete"] is True and manifest["parts"] == [1, 2]
    assert manifest["counts"] == {"passengers": 3, "crew": 0, "declared_passengers": 3, "declared_crew": None,
                                  "hits": 0}
    # The carrier resends part 1 under a new interchange reference: acknowledged, nothing new for officers.
    resend = await processor.process(with_ref(PART1, b"000000101", b"000000109"), key=b"XXAIRAPI/XX456")
    assert by_kind(resend, "manifests") == []
    assert await processor.store.count("manifests") == 1
    assert await processor.store.count("travellers") == 3


async def test_a_restart_between_parts_loses_nothing(store_settings: Settings) -> None:
    before = await Processor.open(store_settings)
    try:
        assert by_kind(await before.process(PART1, key=b"k"), "manifests") == []
    finally:
        await before.close()
    after = await Processor.open(store_settings)  # a new process on the same database
    try:
        [manifest] = by_kind(await after.process(PART2, key=b"k"), "manifests")
        assert manifest["parts"] == [1, 2] and len(manifest["travellers"]) == 3
    finally:
        await after.close()


async def test_replaying_a_record_re_emits_identical_outputs_and_does_no_new_work(processor: Processor) -> None:
    await processor.process(PART2, key=b"k")
    first = await processor.process(PART1, key=b"k")
    counts = {t: await processor.store.count(t) for t in ("interchanges", "manifests", "travellers", "output_events")}
    replay = await processor.process(PART1, key=b"k")
    assert replay == first  # same kinds, keys, bytes and ids, in the same order
    assert {t: await processor.store.count(t) for t in counts} == counts
    assert len({e.event_id for e in first}) == len(first)


async def test_a_duplicate_interchange_is_acknowledged_and_not_processed_twice(processor: Processor) -> None:
    original = await processor.process(PAX, key=b"a")
    # the same bytes as another record, twice (the same sender + reference with OTHER bytes is not a
    # duplicate: processed and flagged, see test_sender_integrity.py)
    for dup_value, dup_key in ((PAX, b"b"), (PAX, b"c")):
        events = await processor.process(dup_value, key=dup_key)
        [ack] = by_kind(events, "acks")
        assert ack["duplicate"] is True and ack["accepted"] is False
        report = contrl_of(events)
        assert (report.action, report.error) == ("4", 26)  # CONTRL: duplicate detected
        assert [e.kind for e in events] == ["acks"]
        assert {e.event_id for e in events}.isdisjoint({e.event_id for e in original})
    assert await processor.store.count("manifests") == 1
    assert await processor.store.count("travellers") == 2


@pytest.mark.parametrize("bad", [BAD_COUNT, b"this is not EDIFACT", b"", b"\xff\xfe\x00UNB+"],
                         ids=["unt-count", "text", "empty", "binary"])
async def test_malformed_input_gives_negative_contrl_and_dead_letter_then_processing_goes_on(
        processor: Processor, bad: bytes) -> None:
    events = await processor.process(bad, key=b"bad")
    assert sorted(e.kind for e in events) == ["acks", "dlq"]
    [ack] = by_kind(events, "acks")
    assert ack["accepted"] is False
    report = contrl_of(events)
    assert report.action == "4" or any(m.action == "4" for m in report.messages)
    [dead] = by_kind(events, "dlq")
    assert open_dead_letter(processor.keyring, dead["original_sealed"]) == bad and dead["original_size"] == len(bad)
    assert dead["reason"] and dead["rules"]
    good = await processor.process(PAX, key=b"good")
    assert len(by_kind(good, "manifests")) == 1


@dataclass(frozen=True)
class FakeHit:
    traveller_id: str
    entry_id: str
    score: float
    list: str = "NATIONAL"
    threshold: float = 0.88


class FirstTravellerIsListed:
    """Stands in for the watchlist engine: the first traveller of every manifest matches an entry."""

    def screen(self, manifest: Manifest) -> list[FakeHit]:
        return [FakeHit(traveller_id="0", entry_id="NAT-42", score=0.97)] if manifest.travellers else []


async def test_hits_become_alerts_with_minimised_identity_and_flag_the_manifest(store_settings: Settings) -> None:
    p = await Processor.open(store_settings, screener=FirstTravellerIsListed())
    try:
        events = await p.process(PAX, key=b"k")
        [alert] = by_kind(events, "alerts")
        assert alert["watchlist"] == {"list": "NATIONAL", "entry_id": "NAT-42", "category": None,
                                      "matched_name": None}
        assert alert["score"] == 0.97 and alert["flight"]["flight_key"] == "XX123/2025-03-01/LHR-JFK"
        assert set(alert["identity"]) == {"surname", "given_names", "date_of_birth", "nationality", "documents"}
        [manifest] = by_kind(events, "manifests")
        assert [t["hit"] for t in manifest["travellers"]] == [True, False]
        assert manifest["travellers"][0]["traveller_ref"] == alert["traveller_ref"]
        [hit] = await p.store.rows("hits")
        assert hit["entry_id"] == "NAT-42" and hit["alert_event_id"] == alert["event_id"]
        [listed] = [t for t in await p.store.rows("travellers") if t["id"] == hit["traveller_id"]]
        assert listed["ref"] == alert["traveller_ref"] and listed["position"] == 0
    finally:
        await p.close()


async def test_iapi_request_is_answered_with_cusres_status_per_traveller(store_settings: Settings) -> None:
    request = PAX.replace(b"++APIS'", b"++IAPI'", 1)
    assert request != PAX
    p = await Processor.open(store_settings, screener=FirstTravellerIsListed())
    try:
        [ack] = by_kind(await p.process(request, key=b"k"), "acks")
        answer = read_interchange(base64.b64decode(ack["cusres_base64"]))
        [response] = answer.responses
        assert response.document_code == "962"
        assert [t.status for t in response.travellers] == ["2Z", "0Z"]  # hit: advisory, awaiting review
    finally:
        await p.close()


async def test_logs_carry_references_not_personal_data(processor: Processor,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="api_engine")
    events = await processor.process(PAX, key=b"k")
    await processor.process(BAD_COUNT, key=b"bad")
    assert "000000001" in caplog.text  # the interchange reference is logged
    for t in by_kind(events, "manifests")[0]["travellers"]:
        for value in (t["surname"], *t["given_names"], t["date_of_birth"], t["documents"][0]["number"]):
            assert value not in caplog.text


async def test_watchlists_from_settings_raise_an_alert_with_an_explanation(store_settings: Settings,
                                                                          tmp_path: Path) -> None:
    settings = with_national_list(store_settings, tmp_path)
    p = await Processor.open(settings)
    try:
        events = await p.process(PAX, key=b"k")
        [alert] = by_kind(events, "alerts")
        assert alert["watchlist"]["entry_id"] == "N-1" and alert["score"] >= alert["threshold"]
        assert alert["explanation"] and "N-1" in alert["explanation_text"]
        [manifest] = by_kind(events, "manifests")
        assert [t["hit"] for t in manifest["travellers"]] == [False, True]
    finally:
        await p.close()


async def test_a_dismissal_recorded_in_the_console_stops_the_repeat_alert(store_settings: Settings,
                                                                           tmp_path: Path) -> None:
    """Console decision → allowlist row → the processor's screener suppresses the same traveller next time."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    import api_engine.service.lists as live_lists
    from api_engine.console.decisions import fingerprint
    from api_engine.protection.crypto import reveal_traveller
    from api_engine.store.schema import allowlist, travellers

    settings = with_national_list(store_settings, tmp_path)
    p = await Processor.open(settings)
    try:
        [alert] = by_kind(await p.process(PAX, key=b"k"), "alerts")
        async with p.store.transaction() as conn:
            row = (await conn.execute(select(travellers).where(travellers.c.ref == alert["traveller_ref"]))).one()
            cleared = fingerprint(reveal_traveller(dict(row._mapping), p.keyring))
            await conn.execute(insert(allowlist).values(
                list="NATIONAL", entry_id="N-1", fingerprint=cleared,
                reason="different person, checked passport", cleared_by="officer1", cleared_at=datetime.now(UTC),
                status="approved", approved_by="supervisor2", approved_at=datetime.now(UTC)))  # four eyes
        live_lists.ALLOWLIST_REFRESH_S = 0.0
        resent = with_ref(PAX, b"000000001", b"000000777")  # the carrier sends the list again, new reference
        events = await p.process(resent, key=b"k2")
        assert by_kind(events, "manifests") and not by_kind(events, "alerts")
    finally:
        live_lists.ALLOWLIST_REFRESH_S = 2.0
        await p.close()


NATIONAL_CSV = (b"id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                b"N-1,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n")


async def test_a_list_uploaded_in_the_console_is_screened_by_the_running_service(store_settings: Settings) -> None:
    """No list in the settings; a list manager uploads one; the running processor alerts on it within
    the refresh interval, and a processor started later has it from its first record."""
    import asyncio

    import api_engine.service.lists as live_lists
    from api_engine.console.catalog import Catalog

    p = await Processor.open(store_settings)
    try:
        assert not by_kind(await p.process(PAX, key=b"k"), "alerts")
        report = await Catalog(p.store, store_settings.data_dir / "watchlists").upload(NATIONAL_CSV, "national.csv",
                                                                                      "manager1")
        assert report.accepted
        live_lists.UPLOADS_REFRESH_S = 0.0
        events = await p.process(with_ref(PAX, b"000000001", b"000000002"), key=b"k2")  # starts the install
        for _ in range(100):
            if p.lists.uploads_task is None or p.lists.uploads_task.done():
                break
            await asyncio.sleep(0.05)
        events = await p.process(with_ref(PAX, b"000000001", b"000000003"), key=b"k3")
        [alert] = by_kind(events, "alerts")
        assert alert["watchlist"] == {**alert["watchlist"], "list": "NATIONAL", "entry_id": "N-1"}
    finally:
        live_lists.UPLOADS_REFRESH_S = 5.0
        await p.close()
    restarted = await Processor.open(store_settings)
    try:
        [alert] = by_kind(await restarted.process(with_ref(PAX, b"000000001", b"000000004"), key=b"k4"), "alerts")
        assert alert["watchlist"]["entry_id"] == "N-1"
    finally:
        await restarted.close()


async def test_an_upload_whose_kept_file_is_gone_is_skipped_and_processing_goes_on(store_settings: Settings,
                                                                                   caplog: Any) -> None:
    from api_engine.console.catalog import Catalog

    p = await Processor.open(store_settings)
    try:
        await Catalog(p.store, store_settings.data_dir / "watchlists").upload(NATIONAL_CSV, "national.csv", "m1")
        for kept in (store_settings.data_dir / "watchlists").iterdir():
            kept.unlink()
        with caplog.at_level(logging.WARNING, logger="api_engine.service.lists"):
            await p.lists.install_uploads()
            await p.lists.install_uploads()  # skipped once, not retried
        assert caplog.text.count("not installed") == 1 and "SMITH" not in caplog.text
        events = await p.process(PAX, key=b"k")
        assert by_kind(events, "manifests") and not by_kind(events, "alerts")
    finally:
        await p.close()


async def test_a_batch_gives_what_one_at_a_time_gives(tmp_path: Path, database_url: str) -> None:
    """Parts out of order, a duplicate, a malformed message and a repeated record in ONE batch (one
    transaction) yield the same events, with the same ids, as the same records one by one."""
    records = [(PART2, b"P"), (PAX, b"A"), (BAD_COUNT, b"B"), (PAX, b"D"), (PART1, b"P"), (PAX, b"A")]

    def events_of(results: Sequence[Sequence[OutputEvent]]) -> list[list[tuple[str, str, Any]]]:
        def value(e: OutputEvent) -> Any:
            doc = json.loads(e.value)
            if e.kind == "acks":  # the CONTRL bytes carry the minute they were written
                doc = {k: v for k, v in doc.items() if not k.startswith("contrl")}
            if e.kind == "dlq":  # the original is sealed with a fresh nonce (and another key here)
                doc = {k: v for k, v in doc.items() if k != "original_sealed"}
            return doc
        return [[(e.kind, e.event_id, value(e)) for e in out] for out in results]

    one = await Processor.open(Settings(data_dir=tmp_path / "one"))
    try:
        singly = [await one.process(value, key=key) for value, key in records]
    finally:
        await one.close()
    batch = await Processor.open(Settings(data_dir=tmp_path / "batch", database_url=database_url))
    try:
        together = await batch.process_batch(records)
        assert await batch.store.count("manifests") == 2  # PAX once (the same bytes again: a duplicate), XX456 once
        assert await batch.store.count("processed_records") == 5  # the repeated record is one record
    finally:
        await batch.close()
    assert len(together) == len(records)
    # the same events with the same ids as one by one, in the same order
    assert events_of(together) == events_of(singly)
    kinds = [[k for k, _, _ in out] for out in events_of(together)]
    assert kinds == [["acks"], ["acks", "manifests"], ["acks", "dlq"], ["acks"], ["acks", "manifests"],
                     ["acks", "manifests"]]
    assert events_of(together)[5] == events_of(together)[1]  # the repeat re-emits the first, byte for byte
    dup_ack = events_of(together)[3][0][2]
    assert dup_ack["duplicate"] is True and dup_ack["accepted"] is False
    [assembled] = [v for k, _, v in events_of(together)[4] if k == "manifests"]
    assert assembled["complete"] is True and assembled["counts"]["passengers"] == len(assembled["travellers"])


async def test_a_transaction_never_shares_the_process_with_a_preparation(tmp_path: Path, database_url: str) -> None:
    """Two lanes' batches at once on one processor (as two partitions of one worker): no record is
    being prepared on the executor while this process holds a write transaction, so the transaction
    (and, on SQLite, the other workers waiting for the write lock) is not slowed by sharing the GIL."""
    import asyncio
    import time
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=1)
    p = await Processor.open(Settings(data_dir=tmp_path, database_url=database_url), executor=executor)
    preparing: list[tuple[float, float]] = []
    writing: list[tuple[float, float]] = []
    prepare_one, write = p._prepare, p.store.write

    def timed_prepare(value: bytes, rid: str) -> Any:
        started = time.monotonic()
        try:
            return prepare_one(value, rid)
        finally:
            preparing.append((started, time.monotonic()))

    async def timed_write(fn: Any, *args: Any, **kwargs: Any) -> Any:
        async def timed(conn: Any) -> Any:
            started = time.monotonic()
            try:
                return await fn(conn)
            finally:
                writing.append((started, time.monotonic()))
        return await write(timed, *args, **kwargs)

    p._prepare = timed_prepare  # type: ignore[method-assign]
    p.store.write = timed_write  # type: ignore[method-assign]
    try:
        lane_a = [(PAX, b"A1"), (with_ref(PAX, b"000000001", b"000000101"), b"A2"), (CREW, b"A3")]
        lane_b = [(with_ref(PAX, b"000000001", b"000000201"), b"B1"), (PART1, b"B2"), (PART2, b"B3")]
        results = await asyncio.gather(p.process_batch(lane_a), p.process_batch(lane_b))
    finally:
        await p.close()
        executor.shutdown()
    assert [len(r) for r in results] == [3, 3] and len(preparing) == 6 and len(writing) == 2
    overlaps = [(w, c) for w in writing for c in preparing if c[0] < w[1] and w[0] < c[1]]
    assert overlaps == []


class _BreaksOnKowalski:
    """Screening that fails on one traveller: a fault of one record (as a bug or a pathological input would be)."""

    def screen(self, manifest: Manifest) -> list[Any]:
        if any(t.surname == "KOWALSKI" for t in manifest.travellers):
            raise RuntimeError("screening failed")
        return []


async def test_requests_taken_together_fail_only_where_the_fault_is(tmp_path: Path, database_url: str) -> None:
    """HTTP requests arriving together are processed as one batch; a record whose processing fails must fail its
    own request only: the other carrier's request arriving with it is answered as if it had come alone."""
    import asyncio

    p = await Processor.open(Settings(data_dir=tmp_path, database_url=database_url), screener=_BreaksOnKowalski())
    try:
        broken, fine = await asyncio.gather(p.process(CREW, key=b"XXAIRAPI/XX123C", source="https"),
                                            p.process(PAX, key=b"XXAIRAPI/XX123", source="https"),
                                            return_exceptions=True)
        assert isinstance(broken, RuntimeError)
        assert isinstance(fine, list) and sorted(o.kind for o in fine) == ["acks", "manifests"]
        assert await p.store.count("manifests") == 1
    finally:
        await p.close()
