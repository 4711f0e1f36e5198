"""Hit notifications: alerts of at least the configured severity tell the officers on duty by e-mail and webhook.

Strategy: the pipeline hands every record's outputs to `Notifier.offer` once the broker acknowledged them (they
are durable in the store and on the topic by then); `offer` only queues the alerts, so the per-record path pays a
`put_nowait`. A background task takes them from the bounded queue, looks up the hit (its id for the console link,
the severity a rule declared) and, when the alert is severe enough, delivers it on each configured channel:
- what a channel carries is policy as data: `[channel.<name>]` in policies/minimisation.toml lists the paths it
  may take from the alert (plus `severity`, `hit_id`, `console_link`); by default no name, no date of birth;
- a row per alert event and channel in `notifications` (pending, then sent or failed) keeps a replayed record
  from notifying twice; a row left pending (a stop in mid-delivery) is delivered again when its record is
  replayed, so delivery is at least once and receivers deduplicate by the event id header;
- failures are retried with a capped exponential back-off, `notify_attempts` times in all; the outcome is
  audited (`notify.sent` / `notify.failed`: channel, recipient count, attempts) and logged with references and
  error types only, never an address or a traveller's data;
- the webhook body is signed: `X-Api-Engine-Signature: sha256=<hex>`, HMAC-SHA256 under the shared secret over
  `<timestamp>.<raw body>`, the timestamp in `X-Api-Engine-Timestamp`; `verify_signature` is the receiver's check.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from typing import Any, Protocol

import httpx
from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api_engine.protection.audit import AuditTrail
from api_engine.protection.minimise import carry_tree, keep, policy
from api_engine.settings import Settings
from api_engine.store import Store
from api_engine.store.schema import hits, notifications, travellers
from api_engine.store.store import insert_ignoring_conflicts, now

__all__ = ["EVENT_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "ChannelPolicy", "EmailChannel", "Notifier",
           "WebhookChannel", "carried", "channel_policies", "sign", "verify_signature"]

log = logging.getLogger("api_engine.service.notify")

SIGNATURE_HEADER = "X-Api-Engine-Signature"
TIMESTAMP_HEADER = "X-Api-Engine-Timestamp"
EVENT_HEADER = "X-Api-Engine-Event-Id"
QUEUE_SIZE = 1000  # alerts waiting for the notifier; beyond that they are dropped (counted, logged)
CONCURRENCY = 4  # alerts delivered at once (one slow or failing receiver does not hold up the next alert)
RANKS = {"low": 0, "medium": 1, "high": 2}

NOTIFICATIONS = Counter("api_engine_notifications", "Notifications of hits, by channel and outcome",
                        ["channel", "outcome"])  # sent, failed
NOT_QUEUED = Counter("api_engine_notifications_dropped",
                     "Alerts not notified because the notifier's queue was full")


# -- what a channel may carry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelPolicy:
    name: str
    audience: str
    legal_basis: str
    carry: tuple[str, ...]


@cache
def channel_policies() -> dict[str, ChannelPolicy]:
    """The `[channel.*]` declarations of the minimisation policy."""
    return {name: ChannelPolicy(name=name, audience=c["audience"], legal_basis=c["legal_basis"],
                                carry=tuple(c["carry"]))
            for name, c in policy().get("channel", {}).items()}


@cache
def _tree(channel: str) -> dict[str, Any]:
    return carry_tree(channel_policies()[channel].carry)


def carried(channel: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The notification document as `channel` may carry it; a channel without a declaration raises KeyError."""
    kept: dict[str, Any] = keep(doc, _tree(channel))
    return kept


# -- the webhook signature ---------------------------------------------------------------------------------------


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value: the timestamp is signed with the body, so a replay cannot refresh it."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, signature: str, *, tolerance_s: float = 300.0,
                     at: float | None = None) -> bool:
    """What a receiver checks: the signature over the raw body, and a timestamp no older than `tolerance_s`."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if at is None else at) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


# -- channels ----------------------------------------------------------------------------------------------------


class Channel(Protocol):
    name: str

    @property
    def recipients(self) -> int: ...

    async def send(self, doc: dict[str, Any], event_id: str) -> None: ...


class DeliveryError(RuntimeError):
    """A receiver answered, but not with success (the message names a status code, never the content)."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def _lines(doc: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(_lines(value, path + "."))
        elif value is not None and value != [] and value != "":
            out.append(f"{path}: {_text(value)}")
    return out


class EmailChannel:
    """One message to all the configured duty officers, through the configured SMTP server (stdlib, in a thread)."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        assert settings.notify_smtp_host is not None
        self.host, self.port = settings.notify_smtp_host, settings.notify_smtp_port
        self.starttls, self.timeout = settings.notify_smtp_starttls, settings.notify_timeout_s
        self.username = settings.notify_smtp_username
        self.password = settings.notify_smtp_password.get_secret_value() if settings.notify_smtp_password else None
        self.sender, self.to = settings.notify_smtp_from, list(settings.notify_email_to)

    @property
    def recipients(self) -> int:
        return len(self.to)

    def message(self, doc: dict[str, Any], event_id: str) -> EmailMessage:
        """Subject and body from the carried fields only: what the policy drops cannot appear here."""
        flight: dict[str, Any] = doc["flight"] if isinstance(doc.get("flight"), dict) else {}
        severity = doc.get("severity")
        subject = f"[api-engine] {severity + '-severity ' if severity else ''}hit to review"
        if flight.get("flight_id"):
            route = "-".join(str(flight[k]) for k in ("departure_airport", "arrival_airport") if flight.get(k))
            subject += f": {flight['flight_id']}" + (f" {route}" if route else "")
        body = ["A hit awaits an officer's review. Review it in the console before any action is taken.", ""]
        if doc.get("console_link"):
            body += [f"Open it: {doc['console_link']}", ""]
        body += _lines({k: v for k, v in doc.items() if k != "console_link"})
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = subject, self.sender, ", ".join(self.to)
        msg[EVENT_HEADER] = event_id
        msg.set_content("\n".join(body) + "\n")
        return msg

    async def send(self, doc: dict[str, Any], event_id: str) -> None:
        await asyncio.to_thread(self._deliver, self.message(doc, event_id))

    def _deliver(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=self.to)
        if refused:  # some addresses refused, the others accepted: sent, and said (a count, not the addresses)
            log.warning("event=notify_recipients_refused channel=email refused=%d of=%d", len(refused), len(self.to))


class WebhookChannel:
    """An HTTP POST of the carried fields as JSON, signed with the shared secret."""

    name = "webhook"

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        assert settings.notify_webhook_url is not None and settings.notify_webhook_secret is not None
        self.url = settings.notify_webhook_url
        self.secret = settings.notify_webhook_secret.get_secret_value().encode()
        self.client = client

    @property
    def recipients(self) -> int:
        return 1

    async def send(self, doc: dict[str, Any], event_id: str) -> None:
        body = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        timestamp = str(int(time.time()))
        response = await self.client.post(self.url, content=body, headers={
            "Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.secret, timestamp, body), EVENT_HEADER: event_id})
        if not response.is_success:
            raise DeliveryError(f"webhook answered HTTP {response.status_code}")


# -- the notifier ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    id: int | None
    severity: str


async def _hit_of(conn: AsyncConnection, event_id: str, traveller_ref: str) -> Any:
    """The hit behind an alert (via the traveller's unique ref, then the hits of that traveller)."""
    query = (select(hits.c.id, hits.c.severity, hits.c.category, hits.c.score)
             .select_from(hits.join(travellers, travellers.c.id == hits.c.traveller_id))
             .where(travellers.c.ref == traveller_ref, hits.c.alert_event_id == event_id)
             .order_by(hits.c.id).limit(1))
    return (await conn.execute(query)).first()


async def _claim(conn: AsyncConnection, event_id: str, channel: str) -> bool:
    """True when this alert still has to be sent on this channel (no row yet, or one left pending)."""
    key = (notifications.c.event_id == event_id) & (notifications.c.channel == channel)
    status = (await conn.execute(select(notifications.c.status).where(key))).scalar_one_or_none()
    if status is not None:
        return bool(status == "pending")
    made = await conn.execute(insert_ignoring_conflicts(conn, notifications).values(
        event_id=event_id, channel=channel, status="pending", attempts=0))
    return made.first() is not None  # else another worker claimed it a moment ago


class Notifier:
    """Takes durable alerts off the pipeline's hands and notifies on every configured channel."""

    def __init__(self, settings: Settings, store: Store, channels: Sequence[Channel], *,
                 client: httpx.AsyncClient | None = None, worker: int = 0) -> None:
        unknown = [c.name for c in channels if c.name not in channel_policies()]
        if unknown:  # fail closed: a channel nobody declared carries nothing, so it does not start
            raise ValueError(f"no [channel.{unknown[0]}] declaration in the minimisation policy")
        from api_engine.service.severity import severity  # the console's rule, so both say the same

        self._severity: Callable[[float, str | None, str | None], str] = severity
        self.settings, self.store, self.channels, self.worker = settings, store, list(channels), worker
        self.min_rank = RANKS[settings.notify_min_severity]
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self._client = client
        self._busy: set[str] = set()  # alert event ids being delivered by this process
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, store: Store, *, worker: int = 0) -> Notifier | None:
        """The notifier for the configured channels; None when no channel is configured (nothing is sent)."""
        channels: list[Channel] = []
        client = None
        if settings.notify_smtp_host and settings.notify_email_to:
            channels.append(EmailChannel(settings))
        if settings.notify_webhook_url and settings.notify_webhook_secret is not None:
            client = httpx.AsyncClient(timeout=settings.notify_timeout_s, follow_redirects=False)
            channels.append(WebhookChannel(settings, client))
        if not channels:
            return None
        log.info("event=notify_configured worker=%d channels=%s min_severity=%s", worker,
                 ",".join(c.name for c in channels), settings.notify_min_severity)
        return cls(settings, store, channels, client=client, worker=worker)

    # -- the pipeline's side: cheap -----------------------------------------------------------------------------

    def offer(self, outputs: Sequence[Any]) -> None:
        """Queue the alerts among a record's outputs (called once they are acknowledged); never waits."""
        for output in outputs:
            if output.kind != "alerts":
                continue
            try:
                self.queue.put_nowait(output.value)
            except asyncio.QueueFull:
                NOT_QUEUED.inc()
                log.warning("event=notify_queue_full worker=%d action=alert_not_notified", self.worker)

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run())

    async def idle(self) -> None:
        """Wait until every alert offered so far has been handled (tests, shutdown)."""
        await self.queue.join()

    async def close(self, timeout_s: float) -> None:
        """Finish what is queued within `timeout_s`, then stop; what is left is said in the log (a count)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout_s)
        left = self.queue.qsize() + len(self._tasks)
        if left:
            log.warning("event=notify_unfinished_at_stop worker=%d alerts=%d", self.worker, left)
        for task in [*self._tasks, *([self._runner] if self._runner else [])]:
            task.cancel()
        for task in [*self._tasks, *([self._runner] if self._runner else [])]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            value = await self.queue.get()
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(value))
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        self.queue.task_done()

    async def _handle(self, value: bytes) -> None:
        try:
            await self.notify(value)
        except Exception as exc:  # the store is away, or a bug: this alert is not notified now (a replay retries)
            log.warning("event=notify_error worker=%d error=%s", self.worker, type(exc).__name__)

    # -- one alert -----------------------------------------------------------------------------------------------

    async def notify(self, value: bytes) -> dict[str, str]:
        """Notify one alert (its event JSON as produced): per channel, sent, failed, duplicate or below_severity."""
        alert: dict[str, Any] = json.loads(value)
        event_id = str(alert["event_id"])
        if event_id in self._busy:
            return {c.name: "duplicate" for c in self.channels}
        self._busy.add(event_id)
        try:
            hit = await self._hit(alert)
            if RANKS.get(hit.severity, 0) < self.min_rank:
                return {c.name: "below_severity" for c in self.channels}
            link = (f"{self.settings.notify_console_url.rstrip('/')}/hits/{hit.id}"
                    if self.settings.notify_console_url and hit.id is not None else None)
            doc = {**alert, "severity": hit.severity, "hit_id": hit.id, "console_link": link}
            subject = f"hit:{hit.id}" if hit.id is not None else f"alert:{event_id}"
            outcomes = await asyncio.gather(*(self._deliver(c, event_id, subject, hit.severity, carried(c.name, doc))
                                              for c in self.channels))
            return {c.name: o for c, o in zip(self.channels, outcomes, strict=True)}
        finally:
            self._busy.discard(event_id)

    async def _hit(self, alert: dict[str, Any]) -> _Hit:
        watchlist = alert.get("watchlist") or {}
        async with self.store.engine.connect() as conn:
            row = await _hit_of(conn, str(alert["event_id"]), str(alert.get("traveller_ref", "")))
        if row is None:  # not stored as a hit (should not happen): judge by what the alert says
            return _Hit(None, self._severity(float(alert.get("score") or 0), watchlist.get("category"), None))
        return _Hit(int(row.id), self._severity(float(row.score), row.category, row.severity))

    def _backoff_s(self, attempt: int) -> float:
        s = self.settings
        return min(s.notify_backoff_max_s, s.notify_backoff_initial_s * 2.0 ** min(attempt - 1, 30)) \
            * random.uniform(0.8, 1.0)

    async def _deliver(self, channel: Channel, event_id: str, subject: str, severity: str,
                       doc: dict[str, Any]) -> str:
        async with self.store.transaction() as conn:
            if not await _claim(conn, event_id, channel.name):
                return "duplicate"
        attempts = self.settings.notify_attempts
        error = ""
        for attempt in range(1, attempts + 1):
            try:
                await channel.send(doc, event_id)
            except Exception as exc:  # refused, unreachable, timed out: the type only (messages may quote addresses)
                error = type(exc).__name__
                if attempt < attempts:
                    log.info("event=notify_retry worker=%d channel=%s subject=%s attempt=%d error=%s",
                             self.worker, channel.name, subject, attempt, error)
                    await asyncio.sleep(self._backoff_s(attempt))
                continue
            await self._record(channel, event_id, subject, severity, "sent", attempt)
            log.info("event=notify_sent worker=%d channel=%s subject=%s recipients=%d attempts=%d",
                     self.worker, channel.name, subject, channel.recipients, attempt)
            return "sent"
        await self._record(channel, event_id, subject, severity, "failed", attempts, error)
        log.warning("event=notify_failed worker=%d channel=%s subject=%s recipients=%d attempts=%d error=%s",
                    self.worker, channel.name, subject, channel.recipients, attempts, error)
        return "failed"

    async def _record(self, channel: Channel, event_id: str, subject: str, severity: str, status: str,
                      attempts: int, error: str = "") -> None:
        """The row's final state and its audit entry, in one transaction."""
        NOTIFICATIONS.labels(channel.name, status).inc()
        details: dict[str, Any] = {"channel": channel.name, "recipients": channel.recipients, "attempts": attempts,
                                   "alert_event_id": event_id, "severity": severity}
        if error:
            details["error"] = error
        async with self.store.transaction() as conn:
            await conn.execute(update(notifications)
                               .where(notifications.c.event_id == event_id, notifications.c.channel == channel.name)
                               .values(status=status, attempts=attempts, sent_at=now() if status == "sent" else None))
            await AuditTrail(self.store).append(actor="service", action=f"notify.{status}", subject=subject,
                                                details=details, session=conn)
