"""Fixtures for the api_engine tests (database fixtures above, Kafka fixtures in the section below)."""

from __future__ import annotations

# =================================================================================================
# Database fixtures (store, processing, ingest). Strategy: every store test runs twice, on SQLite
# (a file under tmp_path) and on PostgreSQL (127.0.0.1:5432, trust auth), each PostgreSQL test in a
# database of its own, created and dropped here, so tests never see each other's rows. With
# CI=true an unreachable PostgreSQL fails the test loudly; elsewhere it is skipped.
# Each section imports what it uses at its own start, hence E402 for the sections below this one.
# =================================================================================================
# ruff: noqa: E402
import os as _db_os
import uuid as _db_uuid
from collections.abc import AsyncIterator as _DbAsyncIterator
from pathlib import Path as _DbPath
from typing import Any as _DbAny

import pytest as _db_pytest

from api_engine.settings import Settings as _DbSettings

PG_HOST, PG_PORT, PG_DATABASE = "127.0.0.1", 5432, "test"
PG_USERS = ("postgres", "root")


async def _pg_admin() -> tuple[_DbAny, str]:
    """A connection to the `test` database as the first user that works, and that user."""
    import asyncpg  # type: ignore[import-untyped]

    errors = []
    for user in PG_USERS:
        try:
            conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database=PG_DATABASE, timeout=3)
            return conn, user
        except Exception as exc:
            errors.append(f"{user}: {type(exc).__name__}: {exc}")
    message = (f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}/{PG_DATABASE} "
               f"(tried users {', '.join(PG_USERS)}): {'; '.join(errors)}")
    if _db_os.environ.get("CI", "").lower() == "true":
        _db_pytest.fail(message + " -- CI=true, so the PostgreSQL half of the store tests must run")
    _db_pytest.skip(message)


@_db_pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: _db_pytest.FixtureRequest, tmp_path: _DbPath) -> _DbAsyncIterator[str]:
    """A fresh, empty database: SQLite file or a PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    admin, user = await _pg_admin()
    name = f"apie_test_{_db_uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@_db_pytest.fixture
def store_settings(database_url: str, tmp_path: _DbPath) -> _DbSettings:
    """Settings for a processor on the test database: baseline profile, no watchlists."""
    return _DbSettings(data_dir=tmp_path / "data", database_url=database_url, profile="baseline", watchlists=[])



# =================================================================================================
# Kafka broker fixtures (api_engine/service: broker.py, pipeline.py; api_engine/cli/serve.py). Strategy: one real
# Tansu broker for the whole session (it starts in ~0.1 s, but group joins take ~5 s, so every test
# gets a fresh group id and its own topic names instead of a fresh broker). Never a fake client.
# =================================================================================================

import asyncio as _kafka_asyncio
import uuid as _kafka_uuid
from collections.abc import AsyncIterator as _KafkaAsyncIterator
from collections.abc import Callable as _KafkaCallable
from collections.abc import Iterator as _KafkaIterator
from contextlib import asynccontextmanager as _kafka_asynccontextmanager
from pathlib import Path as _KafkaPath

import pytest as _kafka_pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

from api_engine.service.broker import EmbeddedBroker, ensure_topics, topic_names
from api_engine.settings import Settings, Topics


@_kafka_pytest.fixture(scope="session")
def kafka_bootstrap() -> _KafkaIterator[str]:
    """The session's real broker (embedded Tansu on loopback, memory storage)."""
    broker = EmbeddedBroker(Settings(kafka_bootstrap_servers=None, embedded_broker_port=0), create_topics=False)
    _kafka_asyncio.run(broker.start())
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


def kafka_test_settings(bootstrap: str, data_dir: _KafkaPath, **overrides: object) -> Settings:
    """Settings with topic names and a group id of their own, so tests never see each other's records."""
    tag = _kafka_uuid.uuid4().hex[:10]
    topics = Topics(inbound=f"t{tag}.api.inbound", acks=f"t{tag}.api.acks", alerts=f"t{tag}.border.alerts",
                    manifests=f"t{tag}.border.manifests", dlq=f"t{tag}.api.dlq")
    values: dict[str, object] = {
        "kafka_bootstrap_servers": bootstrap, "kafka_group_id": f"g-{tag}", "kafka_partitions": 3,
        "topics": topics, "data_dir": data_dir, "http_port": 0, "shutdown_timeout_s": 10.0, **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@_kafka_pytest.fixture
async def kafka_settings(kafka_bootstrap: str, tmp_path: _KafkaPath) -> Settings:
    settings = kafka_test_settings(kafka_bootstrap, tmp_path / "data")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await ensure_topics(settings, kafka_bootstrap)
    return settings


class KafkaIO:
    """Produce to and read back from one test's topics (reads use no group: no 5 s join)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bootstrap = settings.kafka_bootstrap_servers or ""

    async def produce(self, messages: list[tuple[bytes | None, bytes]], topic: str | None = None) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=False, acks="all",
                                    linger_ms=5, max_request_size=8 * 1024 * 1024)
        await producer.start()
        try:
            futures = [await producer.send(topic or self.settings.topics.inbound, value, key=key)
                       for key, value in messages]
            await _kafka_asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def collect(self, until: _KafkaCallable[[dict[str, list[Record]]], bool], timeout_s: float = 60.0,
                      kinds: tuple[str, ...] = ("acks", "alerts", "manifests", "dlq")) -> dict[str, list[Record]]:
        """Every record on the output topics, by kind, read from the start until `until` holds."""
        topics = {getattr(self.settings.topics, k): k for k in kinds}
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_bytes=32 * 1024 * 1024,
                                    fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms)
        await consumer.start()
        out: dict[str, list[Record]] = {k: [] for k in kinds}
        try:
            tps = [TopicPartition(t, p) for t in topics
                   for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            loop = _kafka_asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while not until(out):
                if loop.time() > deadline:
                    raise TimeoutError(f"outputs not complete after {timeout_s:.0f} s: "
                                       + ", ".join(f"{k}={len(v)}" for k, v in out.items()))
                batches = await consumer.getmany(timeout_ms=300, max_records=5000)
                for tp, records in batches.items():
                    for r in records:
                        headers = dict(r.headers or ())
                        out[topics[tp.topic]].append(
                            Record(key=r.key, value=r.value or b"",
                                   event_id=headers.get("event-id", b"").decode(), partition=tp.partition))
        finally:
            await consumer.stop()
        return out


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        await consumer._client.force_metadata_update()  # topic metadata on first use
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return set(parts)
        await _kafka_asyncio.sleep(0.1)
    raise TimeoutError(f"no metadata for topic {topic}")


class Record:
    __slots__ = ("event_id", "key", "partition", "value")

    def __init__(self, key: bytes | None, value: bytes, event_id: str, partition: int) -> None:
        self.key, self.value, self.event_id, self.partition = key, value, event_id, partition

    def json(self) -> object:
        import json

        return json.loads(self.value)


@_kafka_pytest.fixture
def kafka_io(kafka_settings: Settings) -> KafkaIO:
    return KafkaIO(kafka_settings)


@_kafka_asynccontextmanager
async def running_pipeline(settings: Settings) -> _KafkaAsyncIterator[object]:
    """The real pipeline and processor in the test's event loop, joined to the settings' fresh group."""
    from api_engine.service.pipeline import run_worker

    stop = _kafka_asyncio.Event()
    joined = _kafka_asyncio.Event()
    holder: list[object] = []

    async def started(pipeline: object) -> None:
        holder.append(pipeline)
        joined.set()

    task = _kafka_asyncio.create_task(
        run_worker(settings, settings.kafka_bootstrap_servers or "", on_start=started, stop=stop))
    await _kafka_asyncio.wait_for(joined.wait(), 30)
    try:
        yield holder[0]
    finally:
        stop.set()
        await _kafka_asyncio.wait_for(task, 30)


__all__ = ["KafkaIO", "Record", "kafka_test_settings", "running_pipeline", "topic_names"]


def pytest_configure(config: _kafka_pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long end-to-end tests (still part of the default run)")
