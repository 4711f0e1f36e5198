"""Nothing can hide a hit: a spoofed list from another sender, a newer version without the listed
traveller, a decoy under the real list's interchange reference, a part slipped in by another sender,
and a sender id the authenticated carrier may not use.

Strategy: each attack is replayed as it would be done, on both databases: files ingested through
`api-engine ingest` or records handed to the `Processor` as the Kafka shell hands them (with their
topic and headers). What is checked is what people notice: the officer's alert queue and flight list
(the console's own queries), the manifest and alert events, and the carrier's CONTRL read back with
the project's reader. The watchlist is a real national CSV naming JOHN SMITH, a traveller of the
example list.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from api_engine.cli import main
from api_engine.console.queries import alert_queue, flights
from api_engine.protection.crypto import Keyring, keyring_from_settings
from api_engine.service.events import OutputEvent
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import hits
from parsers.contrl import read_contrl

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PAX = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes()
PART1 = (EXAMPLES / "xx456_cdg-yul_part1of2.edi").read_bytes()
PART2 = (EXAMPLES / "xx456_cdg-yul_part2of2.edi").read_bytes()
FLIGHT = "XX123/2025-03-01/LHR-JFK"
NATIONAL_CSV = ("id,list,category,full_name,surname,given_names,date_of_birth,nationality\n"
                "N-1,NATIONAL,individual,JOHN SMITH,SMITH,JOHN,1979-02-28,GB\n")
SMITH = (b"NAD+FL+++SMITH:JOHN'\nATT+2++M'\nDTM+329:790228'\nGEI+4+173'\nLOC+178+LHR'\nLOC+179+JFK'\n"
         b"NAT+2+GBR'\nRFF+AVF:ABC124'\nRFF+ABO:0002'\nRFF+SEA:23B'\nDOC+P:110:111+533401234'\nDTM+36:290615'\n"
         b"LOC+91+GBR'\n")


def without_smith(data: bytes) -> bytes:
    """The list with the listed traveller taken out, counts made right: a well-formed list."""
    assert data.count(SMITH) == 1
    return data.replace(SMITH, b"").replace(b"CNT+42:2'", b"CNT+42:1'").replace(b"UNT+38+1'", b"UNT+25+1'")


def as_sender(data: bytes, sender: bytes) -> bytes:
    assert data.count(b"+XXAIRAPI:ZZ+") == 1
    return data.replace(b"+XXAIRAPI:ZZ+", b"+" + sender + b":ZZ+")


def with_ref(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 2  # UNB and UNZ 0020
    return data.replace(old, new)


def by_kind(events: Sequence[OutputEvent], kind: str) -> list[dict[str, Any]]:
    return [json.loads(e.value) for e in events if e.kind == kind]


def rules(manifest_event: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in manifest_event["findings"]]


def contrl(ack: dict[str, Any]) -> Any:
    return read_contrl(base64.b64decode(ack["contrl_base64"]))


@pytest.fixture
def national(tmp_path: Path) -> Path:
    path = tmp_path / "national.csv"
    path.write_text(NATIONAL_CSV, encoding="utf-8")
    return path


@pytest.fixture
async def processor(store_settings: Settings, national: Path) -> AsyncIterator[Processor]:
    p = await Processor.open(store_settings.model_copy(update={"watchlists": [str(national)]}))
    yield p
    await p.close()


async def queue(p: Processor | tuple[Store, Keyring]) -> list[tuple[str, str | None, str]]:
    """The officer's alert queue: (manifest uid, surname, status) per row."""
    store, keyring = (p.store, p.keyring) if isinstance(p, Processor) else p
    return [(a.manifest_uid, a.surname, a.status) for a in (await alert_queue(store, keyring)).alerts]


# ---- 2. spoofed replacement ---------------------------------------------------------------------


async def test_a_list_from_another_sender_is_kept_beside_and_the_hit_stays_in_the_queue(
        processor: Processor) -> None:
    real = await processor.process(PAX, key=b"XXAIRAPI/XX123")
    [real_m] = by_kind(real, "manifests")
    [alert] = by_kind(real, "alerts")
    assert alert["identity"]["surname"] == "SMITH"

    # Someone else sends a list for the same flight, document and lane, without the listed traveller.
    spoof = await processor.process(as_sender(without_smith(PAX), b"YYSPOOF"), key=b"YYSPOOF/XX123")
    [spoof_m] = by_kind(spoof, "manifests")
    assert spoof_m["flight"]["flight_key"] == real_m["flight"]["flight_key"] == FLIGHT
    assert (spoof_m["version"], spoof_m["replaces"]) == (1, None)  # it replaces nothing
    assert "MAN-TWO-SENDERS" in rules(spoof_m)

    assert await queue(processor) == [(real_m["manifest_uid"], "SMITH", "open")]
    both = [f for f in await flights(processor.store, processor.keyring, upcoming=False) if f.flight_key == FLIGHT]
    assert {f.manifest_uid for f in both} == {real_m["manifest_uid"], spoof_m["manifest_uid"]}
    for f in both:  # the officer sees it on either list, the first one too
        [line] = [x for x in f.findings if "two senders for this flight" in x]
        assert "XXAIRAPI" in line and "YYSPOOF" in line


async def test_a_newer_version_without_the_traveller_leaves_the_hit_open_and_one_with_him_carries_it(
        processor: Processor) -> None:
    [v1] = by_kind(await processor.process(PAX, key=b"k"), "manifests")
    # The same sender's newer version drops the listed traveller: the hit does not leave the queue.
    [v2] = by_kind(await processor.process(with_ref(without_smith(PAX), b"000000001", b"000000002"), key=b"k"),
                   "manifests")
    assert v2["replaces"] == v1["manifest_uid"] and v2["counts"]["hits"] == 0
    assert await queue(processor) == [(v1["manifest_uid"], "SMITH", "open")]

    # An officer escalated it meanwhile (the console's decision sets the status).
    [h1] = await processor.store.rows("hits")
    async with processor.store.transaction() as conn:
        await conn.execute(update(hits).where(hits.c.id == h1["id"]).values(status="escalated"))

    # A third version holds him again: the hit is carried there, still escalated, and listed once.
    third = await processor.process(with_ref(PAX, b"000000001", b"000000003"), key=b"k")
    [v3] = by_kind(third, "manifests")
    assert len(by_kind(third, "alerts")) == 1
    assert await queue(processor) == [(v3["manifest_uid"], "SMITH", "escalated")]
    old, new = await processor.store.rows("hits")
    assert (old["status"], old["carried_to"]) == ("carried", new["id"])


async def test_a_newer_version_where_another_traveller_hits_does_not_take_the_listed_ones_place(
        processor: Processor) -> None:
    """Carrying follows the traveller, not the list entry: a different person matching the same entry
    in the next version must not close the first person's hit."""
    [v1] = by_kind(await processor.process(PAX, key=b"k"), "manifests")
    # The next version swaps the listed traveller for a namesake born on another day, documents apart.
    namesake = with_ref(PAX, b"000000001", b"000000002").replace(b"DTM+329:790228'", b"DTM+329:790227'")
    [v2] = by_kind(await processor.process(namesake.replace(b"533401234", b"999999999"), key=b"k"), "manifests")
    rows = sorted(await queue(processor))
    assert rows == sorted([(v1["manifest_uid"], "SMITH", "open"), (v2["manifest_uid"], "SMITH", "open")])


# ---- 3. decoy duplicate -------------------------------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_a_decoy_under_the_real_reference_is_flagged_and_the_real_list_is_processed(
        database_url: str, tmp_path: Path, national: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("API_ENGINE_WATCHLISTS", str(national))
    decoy, real = tmp_path / "1-decoy.edi", tmp_path / "2-real.edi"
    decoy.write_bytes(without_smith(PAX))  # same sender, same reference 000000001, sent first
    real.write_bytes(PAX)
    out = tmp_path / "out"
    store_args = ["--out", str(out), "--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    assert await asyncio.to_thread(main, ["ingest", str(decoy), str(real), *store_args]) == 0
    assert "2 file(s): 2 ack(s) (0 duplicate), 2 manifest(s), 1 alert(s)" in capsys.readouterr().out

    decoy_ack, real_ack = _lines(out / "api.acks.jsonl")
    assert decoy_ack["accepted"] and not decoy_ack["duplicate"]
    assert real_ack["accepted"] and not real_ack["duplicate"]  # not dropped as a duplicate
    report = contrl(real_ack)
    assert (report.action, report.error) == ("7", 26)  # acknowledged; the reused reference is noted
    assert (contrl(decoy_ack).action, contrl(decoy_ack).error) == ("7", None)

    decoy_m, real_m = _lines(out / "border.manifests.jsonl")
    assert len(real_m["travellers"]) == 2 and real_m["replaces"] == decoy_m["manifest_uid"]
    assert "ENV-REF-REUSED" in rules(real_m)
    [alert] = _lines(out / "border.alerts.jsonl")
    assert alert["identity"]["surname"] == "SMITH" and alert["manifest_uid"] == real_m["manifest_uid"]

    store = await Store.open(database_url)
    try:
        keyring = keyring_from_settings(Settings(data_dir=tmp_path / "data", database_url=database_url))
        assert await queue((store, keyring)) == [(real_m["manifest_uid"], "SMITH", "open")]
    finally:
        await store.close()

    # A true resend (the same bytes again, under another file name) is still a duplicate: CONTRL 26.
    again = tmp_path / "3-again.edi"
    again.write_bytes(PAX)
    assert await asyncio.to_thread(main, ["ingest", str(again), *store_args]) == 0
    dup_ack = _lines(out / "api.acks.jsonl")[-1]
    assert dup_ack["duplicate"] and not dup_ack["accepted"]
    assert (contrl(dup_ack).action, contrl(dup_ack).error) == ("4", 26)
    assert len(_lines(out / "border.manifests.jsonl")) == 2


async def test_a_part_sent_by_another_sender_never_joins_the_real_list(processor: Processor) -> None:
    spoofed_part2 = as_sender(PART2, b"YYSPOOF").replace(b"GARCIA LOPEZ:JOSE LUIS", b"DECOY:ANNA")
    assert by_kind(await processor.process(spoofed_part2, key=b"XXAIRAPI/XX456"), "manifests") == []
    assert by_kind(await processor.process(PART1, key=b"XXAIRAPI/XX456"), "manifests") == []
    [assembled] = by_kind(await processor.process(PART2, key=b"XXAIRAPI/XX456"), "manifests")
    assert assembled["complete"] and assembled["parts"] == [1, 2]
    assert [t["surname"] for t in assembled["travellers"]] == ["DUBOIS", "NGUYEN", "GARCIA LOPEZ"]
    assert assembled["interchange"]["sender"] == "XXAIRAPI"


# ---- sender binding -----------------------------------------------------------------------------


BINDING = """
[senders]
carrier-xx = ["XXAIRAPI"]
carrier-yy = ["YYAPIS"]

[topics]
"api.inbound.xx" = "carrier-xx"
"""


async def test_ingest_refuses_a_sender_id_the_authenticated_carrier_may_not_use(
        database_url: str, tmp_path: Path, national: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binding = tmp_path / "senders.toml"
    binding.write_text(BINDING, encoding="utf-8")
    monkeypatch.setenv("API_ENGINE_WATCHLISTS", str(national))
    monkeypatch.setenv("API_ENGINE_SENDER_BINDING", str(binding))
    listed = tmp_path / "xx123.edi"
    listed.write_bytes(PAX)  # UNB sender XXAIRAPI
    out = tmp_path / "out"
    store_args = [str(listed), "--out", str(out), "--data-dir", str(tmp_path / "data"), "--database-url", database_url]

    # Carrier YY, authenticated, sends under XX's sender id; then the same file with no identity at all.
    assert await asyncio.to_thread(main, ["ingest", *store_args, "--identity", "carrier-yy"]) == 1
    assert await asyncio.to_thread(main, ["ingest", *store_args]) == 1
    not_bound, unauthenticated = _lines(out / "api.dlq.jsonl")
    assert not_bound["rules"] == ["ENV-SENDER-NOT-BOUND"] and "carrier-yy" in not_bound["reason"]
    assert unauthenticated["rules"] == ["ENV-SENDER-UNAUTHENTICATED"]
    for ack in _lines(out / "api.acks.jsonl"):
        assert not ack["accepted"] and (contrl(ack).action, contrl(ack).error) == ("4", 23)
    assert not (out / "border.manifests.jsonl").exists()

    # The real carrier's own delivery of the very same bytes is neither a replay nor a duplicate.
    assert await asyncio.to_thread(main, ["ingest", *store_args, "--identity", "carrier-xx"]) == 0
    [manifest] = _lines(out / "border.manifests.jsonl")
    assert manifest["interchange"]["sender"] == "XXAIRAPI"
    assert [a["identity"]["surname"] for a in _lines(out / "border.alerts.jsonl")] == ["SMITH"]


async def test_kafka_records_are_bound_by_gateway_header_or_carrier_topic(
        store_settings: Settings, tmp_path: Path) -> None:
    binding = tmp_path / "senders.toml"
    binding.write_text(BINDING, encoding="utf-8")
    settings = store_settings.model_copy(update={"sender_binding": binding,
                                                 "sender_identity_header": "carrier-identity"})
    p = await Processor.open(settings)
    try:
        records = [(with_ref(PAX, b"000000001", ref), b"XXAIRAPI/XX123")
                   for ref in (b"000000011", b"000000012", b"000000013", b"000000014")]
        spoofed, doubled, by_header, by_topic = await p.process_batch(records, origins=[
            ("api.inbound", [("carrier-identity", b"carrier-yy")]),  # the gateway says YY
            ("api.inbound", [("carrier-identity", b"carrier-xx"), ("Carrier-Identity", b"carrier-yy")]),
            ("api.inbound", [("carrier-identity", b"carrier-xx")]),
            ("api.inbound.xx", None),  # only carrier XX's principal may write this topic
        ])
        assert [d["rules"] for d in by_kind(spoofed, "dlq")] == [["ENV-SENDER-NOT-BOUND"]]
        assert [d["rules"] for d in by_kind(doubled, "dlq")] == [["ENV-SENDER-UNAUTHENTICATED"]]
        assert len(by_kind(by_header, "manifests")) == 1 and not by_kind(by_header, "dlq")
        assert len(by_kind(by_topic, "manifests")) == 1 and not by_kind(by_topic, "dlq")
    finally:
        await p.close()


async def test_a_broken_binding_file_stops_the_processor_with_its_reason(store_settings: Settings,
                                                                        tmp_path: Path) -> None:
    binding = tmp_path / "senders.toml"
    binding.write_text('[senders]\ncarrier-xx = []\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"senders\.carrier-xx must be a non-empty list"):
        await Processor.open(store_settings.model_copy(update={"sender_binding": binding}))


async def test_over_kafka_a_forged_identity_is_refused_and_the_carriers_own_topic_is_trusted(
        kafka_settings: Settings, tmp_path: Path) -> None:
    """The running service on the real broker: a record whose gateway header names another carrier is
    refused; the same list on carrier XX's own topic (only XX's principal may write it) is processed."""
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

    from api_engine.service.broker import ensure_topics
    from tests.api_engine.conftest import KafkaIO, running_pipeline

    bootstrap = kafka_settings.kafka_bootstrap_servers or ""
    carrier_topic = f"{kafka_settings.topics.inbound}.xx"
    await ensure_topics(kafka_settings, bootstrap, names=[carrier_topic])
    binding = tmp_path / "senders.toml"
    binding.write_text(BINDING.replace('"api.inbound.xx"', f'"{carrier_topic}"'), encoding="utf-8")
    settings = kafka_settings.model_copy(update={"sender_binding": binding,
                                                 "sender_identity_header": "carrier-identity"})
    async with running_pipeline(settings):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
        await producer.start()
        try:
            await (await producer.send(settings.topics.inbound, with_ref(PAX, b"000000001", b"000000021"),
                                       key=b"XXAIRAPI/XX123", headers=[("carrier-identity", b"carrier-yy")]))
            await (await producer.send(carrier_topic, with_ref(PAX, b"000000001", b"000000022"),
                                       key=b"XXAIRAPI/XX123"))
        finally:
            await producer.stop()
        out = await KafkaIO(settings).collect(lambda o: len(o["acks"]) == 2 and bool(o["manifests"] and o["dlq"]))
    [dead] = [r.json() for r in out["dlq"]]
    assert isinstance(dead, dict) and dead["rules"] == ["ENV-SENDER-NOT-BOUND"]
    assert dead["interchange"]["interchange_ref"] == "000000021"
    [manifest] = [r.json() for r in out["manifests"]]
    assert isinstance(manifest, dict) and manifest["interchange"]["interchange_ref"] == "000000022"
