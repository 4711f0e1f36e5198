"""An iAPI answer within the profile's time budget even when the store is slow: the fallback status, never 0Z.

Strategy: the store is made slow for real: another connection holds the write lock (SQLite: a `BEGIN
IMMEDIATE` on the database file; PostgreSQL: `LOCK TABLE interchanges IN EXCLUSIVE MODE`), as a long
retention run or a stuck session would. A carrier's request must then be answered within the profile's
`answer_budget_ms` with the profile's fallback status at header level (no traveller cleared), and once
the lock goes, the request is still processed: its screened answer is produced and answers a resend.
Over Kafka the fallback is an `iapi_fallback` event on the acks topic ahead of the request's ack.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from api_engine.service.carriers import add_token
from api_engine.service.http import IAPI_PATH, IapiEndpoint, create_app
from api_engine.service.processor import OutputEvent, Processor
from api_engine.settings import Settings
from parsers import read_interchange
from parsers.profile import ProfileError, load_profile_file
from tests.api_engine.conftest import KafkaIO, running_pipeline
from tests.api_engine.service.test_iapi_http import REQUEST, _listed, _statuses

BUDGET_MS = 400


def _profile(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "budget.toml"
    path.write_text(f'extends = "baseline"\nname = "budget"\n[iapi]\nanswer_budget_ms = {BUDGET_MS}\n{extra}',
                    encoding="utf-8")
    return path


@asynccontextmanager
async def store_held(url: str) -> AsyncIterator[None]:
    """Another session holding the store's write lock until the block ends."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(parsed.database), timeout=5)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    engine = create_async_engine(url)
    try:
        async with engine.connect() as c:
            await c.execute(text("LOCK TABLE interchanges IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                await c.rollback()
    finally:
        await engine.dispose()


def _header_status(cusres: bytes) -> tuple[str | None, list[str | None]]:
    [response] = read_interchange(cusres).responses
    return response.header_status, [t.status for t in response.travellers]


def test_a_fallback_that_would_board_is_refused_unless_the_profile_says_so(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="fallback 0Z is the OK status"):
        load_profile_file(_profile(tmp_path, '[iapi.fallback]\ncode = "0Z"\ntext = "OK TO BOARD"\n'))
    meant = load_profile_file(_profile(tmp_path, 'fallback_may_board = true\n[iapi.fallback]\ncode = "0Z"\n'
                                                 'text = "OK TO BOARD"\n'))
    assert meant.iapi.fallback.code == "0Z"


async def test_over_https_a_slow_store_gets_the_fallback_in_time_and_the_screened_answer_follows(
        store_settings: Settings, tmp_path: Path) -> None:
    settings = store_settings.model_copy(update={"watchlists": [str(_listed(tmp_path))],
                                                 "profile": str(_profile(tmp_path))})
    processor = await Processor.open(settings)
    emitted: list[OutputEvent] = []

    async def emit(outputs: Sequence[OutputEvent]) -> None:
        emitted.extend(outputs)

    endpoint = IapiEndpoint(processor=lambda: processor, emit=emit, can_emit=lambda: True,
                            max_bytes=settings.max_record_bytes)
    app = create_app(lambda: True, iapi=endpoint)
    try:
        token, _ = await add_token(processor.store, "XXAIRAPI", actor="test:ops")
        headers = {"Content-Type": "application/edifact", "Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://worker") as client:
            async with store_held(settings.effective_database_url):
                started = time.monotonic()
                answer = await client.post(IAPI_PATH, content=REQUEST, headers=headers)
                waited = time.monotonic() - started
                await asyncio.sleep(0.5)  # the request stays blocked behind the lock meanwhile
                assert not [o for o in emitted if json.loads(o.value).get("type") == "ack"]
            assert answer.status_code == 200
            assert waited < BUDGET_MS / 1000 + 1.0
            # header level, for every traveller: the fallback status; nobody is cleared to board
            assert _header_status(answer.content) == ("2Z", [])
            assert b"NO ANSWER IN TIME" in answer.content
            for _ in range(100):  # the lock is gone: the request is processed after all
                if any(json.loads(o.value).get("type") == "ack" for o in emitted):
                    break
                await asyncio.sleep(0.1)
            types = [json.loads(o.value).get("type") for o in emitted if o.kind == "acks"]
            assert types == ["iapi_fallback", "ack"]
            assert sorted(o.kind for o in emitted) == ["acks", "acks", "alerts", "manifests"]
            again = await client.post(IAPI_PATH, content=REQUEST, headers=headers)
        assert again.status_code == 200
        assert _statuses(again.content) == {"0001": "0Z", "0002": "2Z"}  # the screened answer
    finally:
        await processor.close()


async def test_over_kafka_a_slow_store_gets_the_fallback_in_time_ahead_of_the_screened_answer(
        kafka_settings: Settings, tmp_path: Path) -> None:
    settings = kafka_settings.model_copy(update={"watchlists": [str(_listed(tmp_path))],
                                                 "profile": str(_profile(tmp_path))})
    io = KafkaIO(settings)
    async with running_pipeline(settings) as pipeline:
        for _ in range(300):  # the processor open and the partitions assigned
            if getattr(pipeline, "ready", False):
                break
            await asyncio.sleep(0.1)
        assert getattr(pipeline, "ready", False)
        async with store_held(settings.effective_database_url):
            await io.produce([(b"XXAIRAPI", REQUEST)])
            started = time.monotonic()
            early = await io.collect(lambda o: bool(o["acks"]), timeout_s=10, kinds=("acks",))
            waited = time.monotonic() - started
            [fallback] = [r.json() for r in early["acks"]]
        assert isinstance(fallback, dict) and fallback["type"] == "iapi_fallback"
        assert waited < BUDGET_MS / 1000 + 2.0
        assert fallback["budget_ms"] == BUDGET_MS and fallback["interchange"]["sender"] == "XXAIRAPI"
        assert _header_status(fallback["cusres"].encode("latin-1")) == ("2Z", [])
        out = await io.collect(lambda o: len(o["acks"]) == 2 and bool(o["alerts"]), timeout_s=30)
    acks = [r.json() for r in out["acks"]]
    assert [a["type"] for a in acks if isinstance(a, dict)] == ["iapi_fallback", "ack"]
    screened = acks[1]
    assert isinstance(screened, dict)
    assert _statuses(screened["cusres"].encode("latin-1")) == {"0001": "0Z", "0002": "2Z"}
