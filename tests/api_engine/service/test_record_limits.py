"""Inputs too large to read, and the escaped-separator flood, as a carrier's file meets the service.

Strategy: replay what was done. A generated manifest is dropped into `api-engine ingest` with
API_ENGINE_MAX_RECORD_BYTES just below its size, beside a good file: the operator sees exit 1, a
dead letter naming the rule, the size and the limit (and no traveller), the carrier a rejecting
CONTRL that names its interchange, the next file is processed, and `keys open-dead-letter` gives
the bytes back unchanged. The boundary (at the limit: read) and the flood of `?+` that once held a
worker for half a minute go through the `Processor`, where the flooded name must come out exactly.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from api_engine.cli import main
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from conformance.generator import generate_manifest, to_bytes
from parsers import read_interchange
from parsers.contrl import read_contrl

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PAX = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_bytes()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_default_limit_is_4_mib_and_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().max_record_bytes == 4 * 1024 * 1024
    monkeypatch.setenv("API_ENGINE_MAX_RECORD_BYTES", "1000000")
    assert Settings().max_record_bytes == 1_000_000
    monkeypatch.setenv("API_ENGINE_MAX_RECORD_BYTES", "0")
    with pytest.raises(ValueError, match="max_record_bytes"):
        Settings()


async def test_an_oversize_file_is_dead_lettered_unread_and_nothing_is_lost(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    manifest = generate_manifest(random.Random(15), travellers=60)
    big = to_bytes(manifest)
    sent_ref = read_interchange(big).header.control_ref
    (tmp_path / "a_big.edi").write_bytes(big)
    (tmp_path / "b_good.edi").write_bytes(PAX)
    monkeypatch.setenv("API_ENGINE_MAX_RECORD_BYTES", str(len(big) - 1))
    out, data = tmp_path / "out", tmp_path / "data"
    store = ["--data-dir", str(data), "--database-url", database_url]

    status = await asyncio.to_thread(main, ["ingest", str(tmp_path / "a_big.edi"), str(tmp_path / "b_good.edi"),
                                            "--out", str(out), *store])
    assert status == 1
    assert "2 file(s)" in capsys.readouterr().out

    [dead] = _lines(out / "api.dlq.jsonl")
    assert dead["rules"] == ["ENV-TOO-LARGE"]
    assert f"{len(big):,} bytes" in dead["reason"] and f"{len(big) - 1:,} bytes" in dead["reason"]
    assert dead["original_size"] == len(big)
    visible = json.dumps({k: v for k, v in dead.items() if k != "original_sealed"})
    for t in manifest.travellers:  # the reason and findings name sizes, never travellers
        for word in [t.surname, *(d.number for d in t.documents)]:
            if not word:
                continue
            assert not re.search(rf"\b{re.escape(word)}\b", visible), "personal data in the dead letter"

    acks = _lines(out / "api.acks.jsonl")
    assert [a["accepted"] for a in acks] == [False, True]
    report = read_contrl(base64.b64decode(acks[0]["contrl_base64"]))
    assert report.action == "4" and report.error == 18
    assert report.subject_control_ref == sent_ref  # the carrier learns which interchange was refused
    # the good file after it was processed as usual
    assert [m["flight"]["flight_key"] for m in _lines(out / "border.manifests.jsonl")] == ["XX123/2025-03-01/LHR-JFK"]

    # loses nothing: the operator gets the very bytes back from the dead letter
    (tmp_path / "dead.json").write_text(json.dumps(dead), encoding="utf-8")
    status = await asyncio.to_thread(main, ["keys", "open-dead-letter", str(tmp_path / "dead.json"), "--out",
                                            str(tmp_path / "original.edi"), "--reason", "carrier asks why", *store])
    assert status == 0
    assert (tmp_path / "original.edi").read_bytes() == big


async def test_a_record_at_the_limit_is_read_and_one_byte_more_is_not(store_settings: Settings) -> None:
    processor = await Processor.open(store_settings.model_copy(update={"max_record_bytes": len(PAX)}))
    try:
        events = await processor.process(PAX, key=b"at-limit")
        assert sorted(e.kind for e in events) == ["acks", "manifests"]
        longer = PAX + b"\n"  # the same interchange and one more byte (a line break between segments)
        events = await processor.process(longer, key=b"over-limit")
        assert sorted(e.kind for e in events) == ["acks", "dlq"]
        [dead] = [json.loads(e.value) for e in events if e.kind == "dlq"]
        assert dead["rules"] == ["ENV-TOO-LARGE"]
    finally:
        await processor.close()


async def test_the_escaped_separator_flood_is_read_exactly(store_settings: Settings) -> None:
    """The reported attack: 1.3 MB of `?+` in one element. The worker answers, and the officer sees
    the name exactly as the carrier meant it (a plus sign 650,000 times between O and N)."""
    manifest = generate_manifest(random.Random(1), travellers=3)
    flood = "O" + "+" * 650_000 + "N"
    first = manifest.travellers[0].model_copy(update={"surname": flood})
    data = to_bytes(manifest.model_copy(update={"travellers": [first, *manifest.travellers[1:]]}))
    assert data.count(b"?+") >= 650_000 and len(data) > 1_300_000
    processor = await Processor.open(store_settings)
    try:
        events = await processor.process(data, key=b"flood")
    finally:
        await processor.close()
    [ack] = [json.loads(e.value) for e in events if e.kind == "acks"]
    assert ack["accepted"] is True
    [event] = [json.loads(e.value) for e in events if e.kind == "manifests"]
    assert [t["surname"] for t in event["travellers"]] == [flood, *(t.surname for t in manifest.travellers[1:])]


async def test_a_large_dead_letter_travels_by_reference_and_the_store_gives_it_back(
        store_settings: Settings, tmp_path: Path) -> None:
    """Over 1 MiB the dead letter names its input instead of carrying it: an event near the producer's
    request limit would fail to produce for ever and stall the partition; the operator still gets the bytes."""
    big = PAX + b"\n" * (1024 * 1024 + 1)  # line breaks between segments: the same interchange, 1 MiB longer
    processor = await Processor.open(store_settings.model_copy(update={"max_record_bytes": len(PAX)}))
    try:
        events = await processor.process(big, key=b"big")
    finally:
        await processor.close()
    [dead] = [json.loads(e.value) for e in events if e.kind == "dlq"]
    assert dead["rules"] == ["ENV-TOO-LARGE"] and dead["original_size"] == len(big)
    assert dead.get("original_sealed") is None
    assert len(json.dumps(dead)) < 16 * 1024

    (tmp_path / "dead.json").write_text(json.dumps(dead), encoding="utf-8")
    store = ["--data-dir", str(store_settings.data_dir), "--database-url", store_settings.effective_database_url]
    status = await asyncio.to_thread(main, ["keys", "open-dead-letter", str(tmp_path / "dead.json"), "--out",
                                            str(tmp_path / "original.edi"), "--reason", "carrier asks why", *store])
    assert status == 0
    assert (tmp_path / "original.edi").read_bytes() == big
