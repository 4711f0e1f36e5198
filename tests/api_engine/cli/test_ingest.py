"""`api-engine ingest`: files through the same processor as the service, events as JSON Lines per topic.

Strategy: drive the real command line (`cli.main`) on copies of the example files, against both
databases, and check what an operator sees: exit status, summary, files per topic, and the store.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from api_engine.cli import main
from api_engine.store import Store

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def _count(url: str, table: str) -> int:
    store = await Store.open(url)
    try:
        return await store.count(table)
    finally:
        await store.close()


async def test_ingest_writes_jsonl_per_topic_and_fills_the_store(
        database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    for f in EXAMPLES.glob("*.edi"):
        shutil.copy(f, drop / f.name)
    out = tmp_path / "out"
    argv = ["ingest", str(drop), "--out", str(out), "--data-dir", str(tmp_path / "data"),
            "--database-url", database_url]
    status = await asyncio.to_thread(main, argv)
    assert status == 0
    assert "4 file(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["api.acks.jsonl", "border.manifests.jsonl"]
    assert len(_lines(out / "api.acks.jsonl")) == 4
    flights = sorted(str(m["flight"]["flight_key"]) for m in _lines(out / "border.manifests.jsonl"))  # type: ignore[index]
    assert flights == ["XX123/2025-03-01/LHR-JFK", "XX123/2025-03-01/LHR-JFK", "XX456/2025-03-02/CDG-YUL"]
    assert await _count(database_url, "manifests") == 3

    # A bad file among good ones: exit 1, a dead letter in api.dlq.jsonl, the good file still processed.
    shutil.copy(EXAMPLES / "invalid" / "xx789_bad_unt_count.edi", tmp_path / "bad.edi")
    (tmp_path / "new.edi").write_bytes((EXAMPLES / "xx123_crew.edi").read_bytes().replace(b"000000002", b"000000777"))
    status = await asyncio.to_thread(main, [*argv[:1], str(tmp_path / "bad.edi"), str(tmp_path / "new.edi"),
                                            *argv[2:]])
    assert status == 1
    [dead] = _lines(out / "api.dlq.jsonl")
    assert dead["rules"] == ["ENV-UNT-COUNT"]
    assert await _count(database_url, "manifests") == 4


def test_ingest_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(tmp_path / "missing.edi"), "--data-dir", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["ingest"])
    assert exc.value.code == 2
