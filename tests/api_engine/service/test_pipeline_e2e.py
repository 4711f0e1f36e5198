"""End to end through a real broker: what a carrier and a border officer see on the topics.

Strategy: each test gets its own topics and consumer group on the session's Tansu broker, runs the
real pipeline with the real processor (SQLite store in tmp_path) in its event loop, produces the
project's example files to the inbound topic with the keys carriers use, and reads the output
topics back from the start.
"""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import REGISTRY

from api_engine.cli.demo import inbound_key
from api_engine.settings import Settings
from tests.api_engine.conftest import KafkaIO, Record, running_pipeline

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _message(name: str) -> tuple[bytes | None, bytes]:
    raw = (EXAMPLES / name).read_bytes()
    return inbound_key(raw), raw


def _acks(out: dict[str, list[Record]]) -> list[dict[str, object]]:
    return [json.loads(r.value) for r in out["acks"]]


async def test_manifest_yields_ack_manifest_and_alert(kafka_settings: Settings, tmp_path: Path) -> None:
    watchlist = tmp_path / "list.csv"
    watchlist.write_text("id,list,category,surname,given_names,date_of_birth\n"
                         "T-1,test,individual,O'BRIEN,MARY ANN,1985-04-12\n", encoding="utf-8")
    settings = kafka_settings.model_copy(update={"watchlists": [str(watchlist)]})
    io = KafkaIO(settings)
    names = ("api_engine_travellers_total", "api_engine_hits_total")
    before = {n: REGISTRY.get_sample_value(n) or 0.0 for n in names}
    ok_before = REGISTRY.get_sample_value("api_engine_records_total", {"outcome": "ok"}) or 0.0
    async with running_pipeline(settings):
        await io.produce([_message("xx123_lhr-jfk_passengers.edi")])
        out = await io.collect(lambda o: bool(o["acks"] and o["manifests"] and o["alerts"]))
    # what /metrics reports for this record: its travellers, its hit, one record done
    assert {n: (REGISTRY.get_sample_value(n) or 0.0) - before[n] for n in names} == \
        {"api_engine_travellers_total": 2, "api_engine_hits_total": 1}
    assert (REGISTRY.get_sample_value("api_engine_records_total", {"outcome": "ok"}) or 0.0) - ok_before == 1

    (ack,) = _acks(out)
    assert ack["accepted"] is True and "UCI" in str(ack["contrl"])
    (manifest,) = [r.json() for r in out["manifests"]]
    assert isinstance(manifest, dict)
    assert manifest["flight"]["flight_key"] == "XX123/2025-03-01/LHR-JFK"
    assert manifest["counts"]["passengers"] == 2
    (alert,) = out["alerts"]
    body = alert.json()
    assert isinstance(body, dict)
    assert body["watchlist"]["entry_id"] == "T-1" and body["flight"]["flight_id"] == "XX123"
    assert body["explanation_text"]  # an officer sees why
    # every output carries its deterministic id in the event-id header
    assert all(r.event_id and r.event_id == json.loads(r.value)["event_id"]
               for r in out["acks"] + out["manifests"] + out["alerts"])


async def test_malformed_message_dead_letters_and_the_next_one_still_flows(kafka_settings: Settings) -> None:
    io = KafkaIO(kafka_settings)
    bad_key, bad = _message("invalid/xx789_bad_unt_count.edi")
    garbage = b"this is not EDIFACT at all"
    good = _message("xx123_lhr-jfk_passengers.edi")
    async with running_pipeline(kafka_settings):
        # same key: same partition, so the good message is strictly behind the bad ones
        await io.produce([(good[0], garbage), (good[0], bad), good])
        out = await io.collect(lambda o: len(o["acks"]) >= 3 and len(o["dlq"]) >= 2 and bool(o["manifests"]))

    accepted = sorted(bool(a["accepted"]) for a in _acks(out))
    assert accepted == [False, False, True]  # two negative CONTRLs, one positive
    dead = [r.json() for r in out["dlq"]]
    from api_engine.protection.crypto import keyring_from_settings, open_dead_letter

    ring = keyring_from_settings(kafka_settings)  # the originals travel sealed under the service's key
    originals = {open_dead_letter(ring, d["original_sealed"]) for d in dead if isinstance(d, dict)}
    assert originals == {garbage, bad}
    assert any("ENV-UNT-COUNT" in d["rules"] for d in dead if isinstance(d, dict))
    assert [r.json()["flight"]["flight_id"] for r in out["manifests"]] == ["XX123"]  # type: ignore[index]
    assert bad_key is not None


async def test_multipart_flight_out_of_order_is_assembled_exactly_once(kafka_settings: Settings) -> None:
    io = KafkaIO(kafka_settings)
    part1, part2 = _message("xx456_cdg-yul_part1of2.edi"), _message("xx456_cdg-yul_part2of2.edi")
    assert part1[0] == part2[0]  # one key: the parts stay on one partition
    async with running_pipeline(kafka_settings):
        await io.produce([part2, part1, part1])  # out of order, and part 1 sent twice (a replay)
        out = await io.collect(lambda o: len(o["acks"]) >= 3 and bool(o["manifests"]))

    # a record sent again is indistinguishable from a replay: same outputs, same ids
    manifests = {r.event_id: r.json() for r in out["manifests"]}
    assert len(manifests) == 1, "the flight was assembled more than once"
    (m,) = manifests.values()
    assert isinstance(m, dict)
    assert m["flight"]["flight_key"] == "XX456/2025-03-02/CDG-YUL"
    assert m["complete"] is True and m["parts"] == [1, 2] and m["counts"]["passengers"] == 3
    assert len({r.event_id for r in out["acks"]}) == 2  # one acknowledgement per distinct part
