"""The embedded broker: starts on loopback with the service's topics, carries records, stops cleanly.

Strategy: these tests start their own short-lived Tansu (it starts in about 0.1 s) because they
check starting and stopping; everything else shares the session broker from conftest.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

from api_engine.service.broker import EmbeddedBroker, topic_names
from api_engine.service.kafka import consumer_kwargs, producer_kwargs
from api_engine.settings import Settings


def _accepts(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


async def test_embedded_broker_creates_topics_carries_records_and_stops() -> None:
    settings = Settings(kafka_bootstrap_servers=None, kafka_partitions=4)
    async with EmbeddedBroker(settings) as broker:
        address = broker.bootstrap_servers
        assert address.startswith("127.0.0.1:")
        admin = AIOKafkaAdminClient(bootstrap_servers=address)
        await admin.start()
        try:
            described = await admin.describe_topics(topic_names(settings))
        finally:
            await admin.close()
        assert {d["topic"]: len(d["partitions"]) for d in described} == {
            "api.inbound": 4, "api.acks": 4, "border.alerts": 4, "border.manifests": 4, "api.dlq": 4}

        producer = AIOKafkaProducer(**producer_kwargs(settings, address))
        await producer.start()
        await producer.send_and_wait("api.inbound", b"UNA:+.? '", key=b"XXAIRAPI/REF1", partition=2)
        await producer.stop()
        consumer = AIOKafkaConsumer(**{**consumer_kwargs(settings, address), "group_id": None})
        await consumer.start()
        tp = TopicPartition("api.inbound", 2)
        consumer.assign([tp])
        record = await asyncio.wait_for(consumer.getone(), 10)
        await consumer.stop()
        assert (record.key, record.value) == (b"XXAIRAPI/REF1", b"UNA:+.? '")
        process = broker.process
        assert process is not None
    assert process.poll() is not None, "the broker process is still running after exit"
    assert not _accepts(address)


async def test_configured_cluster_starts_nothing(tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap_servers="kafka-1.example:9093,kafka-2.example:9093", data_dir=tmp_path)
    async with EmbeddedBroker(settings) as broker:
        assert broker.process is None
        assert broker.bootstrap_servers == "kafka-1.example:9093,kafka-2.example:9093"


def test_producer_never_idempotent_and_waits_for_all_replicas() -> None:
    kwargs = producer_kwargs(Settings(), "127.0.0.1:9092")
    assert kwargs["enable_idempotence"] is False  # Tansu rejects idempotent producers
    assert kwargs["acks"] == "all"
    consumer = consumer_kwargs(Settings(kafka_group_id="border"), "127.0.0.1:9092")
    assert consumer["enable_auto_commit"] is False and consumer["group_id"] == "border"


def test_sasl_over_tls_settings_reach_the_client() -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_sasl_username="api", kafka_sasl_password="s3cret")
    kwargs = producer_kwargs(settings, "kafka.example:9093")
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("api", "s3cret")
    assert kwargs["ssl_context"] is not None


async def test_session_broker_is_shared(kafka_bootstrap: str) -> None:
    assert _accepts(kafka_bootstrap)
