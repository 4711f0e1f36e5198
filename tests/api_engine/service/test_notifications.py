"""Hit notifications: what the officers on duty receive by e-mail and webhook, and what is audited.

Strategy: a real SMTP server (aiosmtpd, on loopback, in its own thread) and a real HTTP server (asyncio, in the
test's loop) receive what the notifier sends. Alerts come from the real processor: a watchlist hit through the
real pipeline on the session's broker, and targeting rules with a declared severity (low or high) through the
processor and the notifier's public API. The example list has O'BRIEN MARY ANN (IRL, born 1985-04-12) and
SMITH JOHN (GBR, born 1979-02-28) flying LHR to JFK.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from api_engine.cli.demo import inbound_key
from api_engine.protection.audit import AuditEntry, AuditTrail
from api_engine.service.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, Notifier, verify_signature
from api_engine.service.processor import Processor
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import hits, notifications
from tests.api_engine.conftest import KafkaIO, running_pipeline

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "xx123_lhr-jfk_passengers.edi"
SECRET = "webhook secret of the duty desk"
DUTY = ["duty-one@border.example", "duty-two@border.example"]
PERSONAL = ("O'BRIEN", "OBRIEN", "MARY", "1985-04-12", "850412", "SMITH", "JOHN", "1979-02-28", "790228",
            "PA1234567", "533401234", "IRL", "GBR")
RULES = ('rule "irish-to-jfk" when traveller.nationality = "IRL" and flight.arrival_airport = "JFK" '
         'then flag severity low score 0.5\n'
         'rule "british-to-jfk" when traveller.nationality = "GBR" and flight.arrival_airport = "JFK" '
         'then flag severity high score 0.9\n')


class Mailbox:
    """An SMTP handler that keeps what it accepts and answers 451 (try again later) to the first `refuse` DATA."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.refused = 0
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > self.refused:
            self.refused += 1
            return "451 4.3.0 try again later"
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content)))
        return "250 OK"


class Receiver:
    """A minimal HTTP/1.1 server: keeps each POST (headers, raw body); answers 503 to the first `fail` requests."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.failed = 0
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:] if ":" in line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if self.fail > self.failed:
            self.failed += 1
            status = "503 Service Unavailable"
        else:
            self.requests.append((headers, body))
            status = "200 OK"
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    server = await asyncio.start_server(hooks.handle, "127.0.0.1", 0)
    hooks.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks/api-engine"
    try:
        yield hooks
    finally:
        server.close()
        await server.wait_closed()


def notify_settings(settings: Settings, smtp_port: int, webhook_url: str, **more: Any) -> Settings:
    return Settings(**{**settings.model_dump(), "notify_smtp_host": "127.0.0.1", "notify_smtp_port": smtp_port,
                       "notify_smtp_starttls": False, "notify_smtp_from": "api-engine@border.example",
                       "notify_email_to": DUTY, "notify_webhook_url": webhook_url, "notify_webhook_secret": SECRET,
                       "notify_console_url": "https://console.border.example/", "notify_backoff_initial_s": 0.05,
                       "notify_backoff_max_s": 0.2, **more})


def example(flight: str = "XX123", control_ref: str = "000000001") -> tuple[bytes | None, bytes]:
    raw = EXAMPLE.read_bytes().replace(b"XX123", flight.encode()).replace(b"000000001", control_ref.encode())
    return inbound_key(raw), raw


def text_of(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    return "\n".join(f"{k}: {v}" for k, v in message.items()) + "\n" + body.decode()


async def notify_entries(store: Store) -> list[AuditEntry]:
    return [e for e in reversed(await AuditTrail(store).recent(100)) if e.action.startswith("notify.")]


async def wait_for(condition: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_high_severity_hit_mails_the_duty_officers_and_calls_the_webhook_once(
        kafka_settings: Settings, tmp_path: Path, mailbox: tuple[Mailbox, int], receiver: Receiver) -> None:
    box, port = mailbox
    watchlist = tmp_path / "list.csv"
    watchlist.write_text("id,list,category,surname,given_names,date_of_birth\n"
                         "T-1,test,individual,O'BRIEN,MARY ANN,1985-04-12\n", encoding="utf-8")
    settings = notify_settings(kafka_settings, port, receiver.url, watchlists=[str(watchlist)])
    io = KafkaIO(settings)
    async with running_pipeline(settings) as pipeline:
        await io.produce([example()])
        out = await io.collect(lambda o: bool(o["alerts"]))
        await wait_for(lambda: pipeline.records_done >= 1)  # type: ignore[attr-defined]
        notifier = pipeline.notifier  # type: ignore[attr-defined]
        assert isinstance(notifier, Notifier)
        await notifier.idle()
        await io.produce([example()])  # the same record again: answered with the same alert event
        await io.collect(lambda o: len(o["acks"]) >= 2)
        await wait_for(lambda: pipeline.records_done >= 2)  # type: ignore[attr-defined]
        await notifier.idle()
    [alert] = {r.event_id: r for r in out["alerts"]}.values()

    store = await Store.open(settings.effective_database_url)
    try:
        async with store.engine.connect() as conn:
            hit_id = (await conn.execute(select(hits.c.id).where(hits.c.alert_event_id == alert.event_id))).scalar_one()
            rows = {r.channel: (r.status, r.attempts) for r in await conn.execute(select(notifications))}
        entries = await notify_entries(store)
    finally:
        await store.close()

    assert len(box.messages) == 1, "one e-mail, not one per replay"
    recipients, message = box.messages[0]
    assert sorted(recipients) == DUTY
    mail = text_of(message)
    assert f"https://console.border.example/hits/{hit_id}" in mail
    assert "XX123" in mail and "high" in mail and "T-1" in mail and "test" in mail
    assert not [word for word in PERSONAL if word in mail.upper()], mail

    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert verify_signature(SECRET.encode(), headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()])
    assert not verify_signature(b"another secret", headers[TIMESTAMP_HEADER.lower()], body,
                                headers[SIGNATURE_HEADER.lower()])
    assert not verify_signature(SECRET.encode(), headers[TIMESTAMP_HEADER.lower()], body + b" ",
                                headers[SIGNATURE_HEADER.lower()])
    doc = json.loads(body)
    assert (doc["event_id"], doc["hit_id"], doc["severity"]) == (alert.event_id, hit_id, "high")
    assert doc["flight"]["flight_id"] == "XX123" and doc["watchlist"]["entry_id"] == "T-1"
    assert "identity" not in doc and "explanation" not in doc
    assert not [word for word in PERSONAL if word in body.decode().upper()]

    assert rows == {"email": ("sent", 1), "webhook": ("sent", 1)}
    assert sorted((e.action, e.subject, e.details["channel"], e.details["recipients"]) for e in entries) == \
        [("notify.sent", f"hit:{hit_id}", "email", 2), ("notify.sent", f"hit:{hit_id}", "webhook", 1)]


async def test_only_alerts_of_the_minimum_severity_notify_and_a_restarted_worker_does_not_repeat_them(
        store_settings: Settings, tmp_path: Path, mailbox: tuple[Mailbox, int], receiver: Receiver) -> None:
    box, port = mailbox
    rules = tmp_path / "atlantic.rules"
    rules.write_text(RULES, encoding="utf-8")
    settings = notify_settings(store_settings, port, receiver.url, rules=[str(rules)])
    processor = await Processor.open(settings)
    try:
        alerts = [e for e in await processor.process(example()[1]) if e.kind == "alerts"]
        by_rule = {json.loads(a.value)["watchlist"]["entry_id"]: a for a in alerts}
        assert set(by_rule) == {"irish-to-jfk", "british-to-jfk"}

        notifier = Notifier.from_settings(settings, processor.store)
        assert notifier is not None
        try:
            assert await notifier.notify(by_rule["irish-to-jfk"].value) == \
                {"email": "below_severity", "webhook": "below_severity"}
            assert await notifier.notify(by_rule["british-to-jfk"].value) == {"email": "sent", "webhook": "sent"}
        finally:
            await notifier.close(1)
        again = Notifier.from_settings(settings, processor.store)  # a worker after a restart, the record replayed
        assert again is not None
        try:
            assert await again.notify(by_rule["british-to-jfk"].value) == {"email": "duplicate", "webhook": "duplicate"}
        finally:
            await again.close(1)

        assert len(box.messages) == 1 and len(receiver.requests) == 1
        mail = text_of(box.messages[0][1])
        assert "british-to-jfk" in mail and "rules:atlantic" in mail
        assert not [word for word in PERSONAL if word in mail.upper()], mail
        entries = await notify_entries(processor.store)
        assert sorted((e.action, e.details["channel"], e.details["alert_event_id"]) for e in entries) == \
            [("notify.sent", channel, by_rule["british-to-jfk"].event_id) for channel in ("email", "webhook")]
    finally:
        await processor.close()


async def test_nothing_is_sent_when_no_channel_is_configured(store_settings: Settings) -> None:
    processor = await Processor.open(store_settings)
    try:
        assert Notifier.from_settings(store_settings, processor.store) is None
        half = store_settings.model_copy(update={"notify_smtp_host": "127.0.0.1"})  # a server but nobody to mail
        assert Notifier.from_settings(half, processor.store) is None
    finally:
        await processor.close()
    with pytest.raises(ValueError, match="SECRET"):
        Settings(notify_webhook_url="https://hooks.example/x")  # an unsigned webhook is refused


async def test_a_refusing_smtp_server_is_retried_and_a_dead_webhook_fails_audited_without_personal_data(
        tmp_path: Path, mailbox: tuple[Mailbox, int], receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    box, port = mailbox
    box.refuse = 1  # 451 to the first message
    receiver.fail = 100  # the webhook never answers 2xx
    rules = tmp_path / "atlantic.rules"
    rules.write_text(RULES, encoding="utf-8")
    base = Settings(data_dir=tmp_path / "data", database_url=f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
                    rules=[str(rules)])
    settings = notify_settings(base, port, receiver.url, notify_attempts=3)
    processor = await Processor.open(settings)
    try:
        [alert] = [e for e in await processor.process(example()[1]) if e.kind == "alerts"
                   and json.loads(e.value)["watchlist"]["entry_id"] == "british-to-jfk"]
        notifier = Notifier.from_settings(settings, processor.store)
        assert notifier is not None
        with caplog.at_level(logging.INFO, logger="api_engine.service.notify"):
            try:
                assert await notifier.notify(alert.value) == {"email": "sent", "webhook": "failed"}
            finally:
                await notifier.close(1)

        assert box.refused == 1 and len(box.messages) == 1  # refused once, then accepted
        assert receiver.failed == 3 and receiver.requests == []  # three attempts, then given up
        entries = {e.details["channel"]: e for e in await notify_entries(processor.store)}
        assert (entries["email"].action, entries["email"].details["attempts"]) == ("notify.sent", 2)
        assert (entries["webhook"].action, entries["webhook"].details["attempts"],
                entries["webhook"].details["error"]) == ("notify.failed", 3, "DeliveryError")
        async with processor.store.engine.connect() as conn:
            rows = {r.channel: (r.status, r.attempts, r.sent_at is not None)
                    for r in await conn.execute(select(notifications))}
        assert rows == {"email": ("sent", 2, True), "webhook": ("failed", 3, False)}
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "event=notify_failed" in logged and "channel=webhook" in logged
        assert not [word for word in (*PERSONAL, *DUTY) if word.upper() in logged.upper()], logged
    finally:
        await processor.close()
