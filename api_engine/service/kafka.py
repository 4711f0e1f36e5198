"""aiokafka client keyword arguments from Settings (bootstrap servers, TLS, SASL).

Strategy: one function builds the connection part shared by consumers, producers and the admin
client, so a TLS or SASL cluster is configured in exactly one place; the producer and consumer
helpers add the delivery choices the pipeline depends on (acks from all replicas, no idempotent
producer because Tansu rejects it, manual commits).
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context  # type: ignore[import-untyped]

from api_engine.settings import Settings

_SSL_PROTOCOLS = {"SSL", "SASL_SSL"}
_SASL_PROTOCOLS = {"SASL_PLAINTEXT", "SASL_SSL"}


def connection_kwargs(settings: Settings, bootstrap_servers: str) -> dict[str, Any]:
    """Connection options common to every client; secrets never leave this dict."""
    protocol = settings.kafka_security_protocol.upper()
    kwargs: dict[str, Any] = {"bootstrap_servers": bootstrap_servers, "security_protocol": protocol}
    if protocol in _SSL_PROTOCOLS:
        kwargs["ssl_context"] = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
            certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
            keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    if protocol in _SASL_PROTOCOLS:
        kwargs["sasl_mechanism"] = (settings.kafka_sasl_mechanism or "PLAIN").upper()
        kwargs["sasl_plain_username"] = settings.kafka_sasl_username
        kwargs["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        )
    return kwargs


def producer_kwargs(settings: Settings, bootstrap_servers: str) -> dict[str, Any]:
    """acks=all so a commit after the ack means the output survives a broker failover."""
    return {
        **connection_kwargs(settings, bootstrap_servers),
        "acks": "all",
        "enable_idempotence": False,  # Tansu rejects idempotent producers; ids make replays harmless
        "linger_ms": 5,
        "max_request_size": 8 * 1024 * 1024,
    }


def consumer_kwargs(settings: Settings, bootstrap_servers: str, group_id: str | None = None) -> dict[str, Any]:
    """Manual commits (offsets only after outputs are acknowledged); start from the earliest record."""
    return {
        **connection_kwargs(settings, bootstrap_servers),
        "group_id": group_id if group_id is not None else settings.kafka_group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
        "fetch_max_bytes": 16 * 1024 * 1024,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }
