"""Crash test: SIGKILL `api-engine serve` mid-stream, restart it, and nothing is lost or doubled.

Strategy: the real command in a subprocess against the session broker (its own topics and group):
produce N small manifests, kill -9 the service once part of them is acknowledged, start it again
and read every output topic from the start. After deduplication by event id each input (known by
the sha256 its acknowledgement quotes) must have exactly one acknowledgement and one manifest, and
no input may be missing; events repeated by the replay must be byte-identical to the first copy.
Finally a SIGTERM must stop the service cleanly (exit status 0) within its shutdown bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

from api_engine.settings import Settings
from tests.api_engine.conftest import KafkaIO, Record

N_MESSAGES = int(os.environ.get("API_ENGINE_CRASH_MESSAGES", "10000"))


def _small_manifests(n: int) -> list[bytes]:
    from conformance.generator import generate_interchange_bytes

    return generate_interchange_bytes(n, seed=20250301, travellers_per_flight=(1, 1), expired_share=0.0)


def _service(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    t = settings.topics
    env = {**os.environ, "API_ENGINE_TOPICS__INBOUND": t.inbound, "API_ENGINE_TOPICS__ACKS": t.acks,
           "API_ENGINE_TOPICS__ALERTS": t.alerts, "API_ENGINE_TOPICS__MANIFESTS": t.manifests,
           "API_ENGINE_TOPICS__DLQ": t.dlq, "API_ENGINE_DATA_DIR": str(settings.data_dir),
           "API_ENGINE_SHUTDOWN_TIMEOUT_S": "15", "API_ENGINE_ALLOW_UNSCREENED": "true"}  # delivery, not screening
    cmd = [sys.executable, "-m", "api_engine.cli", "serve", "--bootstrap-servers",
           settings.kafka_bootstrap_servers or "", "--group-id", settings.kafka_group_id, "--http-port", "0"]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)


async def _everything_on(io: KafkaIO, kind: str) -> list[Record]:
    """Every record on one output topic right now (read up to the end offsets taken first)."""
    topic = getattr(io.settings.topics, kind)
    consumer = AIOKafkaConsumer(bootstrap_servers=io.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert tps, f"no partitions known for {topic}"
        ends = {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()

    def read_all(o: dict[str, list[Record]]) -> bool:
        got = Counter(r.partition for r in o[kind])
        return all(got[p] >= end for p, end in ends.items())
    return (await io.collect(read_all, timeout_s=60, kinds=(kind,)))[kind]


def _per_input(records: list[Record]) -> dict[str, dict[str, bytes]]:
    """content hash of the input -> {event id: value}."""
    out: dict[str, dict[str, bytes]] = defaultdict(dict)
    for r in records:
        body = json.loads(r.value)
        previous = out[body["interchange"]["content_hash"]].setdefault(r.event_id, r.value)
        assert previous == r.value, "one event id carried two different payloads"
    return out


@pytest.mark.slow
async def test_sigkill_mid_stream_then_restart_loses_and_doubles_nothing(kafka_settings: Settings,
                                                                          tmp_path: Path) -> None:
    settings = kafka_settings.model_copy(update={"kafka_partitions": 3})
    io = KafkaIO(settings)
    messages = _small_manifests(N_MESSAGES)
    hashes = {hashlib.sha256(m).hexdigest() for m in messages}
    assert len(hashes) == N_MESSAGES
    await io.produce([(f"XXAIRAPI/CRASH{i}".encode(), m) for i, m in enumerate(messages)])

    log = tmp_path / "service.log"
    first = _service(settings, log)
    try:
        await io.collect(lambda o: len(o["acks"]) >= N_MESSAGES // 4, timeout_s=240, kinds=("acks",))
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    killed_run = {r.event_id for r in await _everything_on(io, "acks")}  # all the killed run acknowledged
    assert N_MESSAGES // 4 <= len(killed_run) < N_MESSAGES, "the kill must land mid-stream"

    second = _service(settings, log)
    try:
        def complete(o: dict[str, list[Record]]) -> bool:
            return len({r.event_id for r in o["acks"]}) >= N_MESSAGES and \
                len({r.event_id for r in o["manifests"]}) >= N_MESSAGES
        out = await io.collect(complete, timeout_s=400)
    finally:
        started = time.monotonic()
        second.send_signal(signal.SIGTERM)
        status = second.wait(30)
        stop_s = time.monotonic() - started

    acks, manifests = _per_input(out["acks"]), _per_input(out["manifests"])
    assert set(acks) == hashes, f"{len(hashes - set(acks))} inputs have no acknowledgement"
    assert set(manifests) == hashes, f"{len(hashes - set(manifests))} inputs have no manifest"
    assert all(len(ids) == 1 for ids in acks.values()), "an input was acknowledged twice under two ids"
    assert all(len(ids) == 1 for ids in manifests.values()), "an input produced two different manifests"
    assert all(json.loads(v)["accepted"] for ids in acks.values() for v in ids.values())
    assert not out["dlq"]
    # Replays: ack ids present more than once (identical copies, checked by _per_input). How many
    # there are depends on where the kill lands relative to the 0.2 s commit tick (64 in a typical
    # run), so "some" is not asserted; what must always hold is that only outputs of the killed run
    # come again (under the ids it used) and that the restart resumed from its committed offsets
    # rather than re-running everything it had already done.
    copies = Counter(r.event_id for r in out["acks"])
    replayed = {event_id for event_id, n in copies.items() if n > 1}
    assert replayed <= killed_run, f"{len(replayed - killed_run)} acks doubled by the restarted run itself"
    assert all(copies[event_id] == 2 for event_id in replayed), "an ack was replayed more than once"
    assert len(replayed) < len(killed_run), \
        f"all {len(killed_run)} acks of the killed run were replayed: its offset commits were lost"
    assert status == 0, log.read_text()[-3000:]
    assert stop_s < 15 + 5
