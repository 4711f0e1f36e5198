"""Government-initiated changes of an iAPI answer (CUSRES 132) and the carrier's acknowledgement (CUSRES 312).

Strategy: an officer's decision on a hit of a traveller answered over iAPI changes the answer the
carrier holds: confirmed → 1Z (do not board), dismissed (and no other hit of the traveller still open
or confirmed) → 0Z (board). The console records the change in `iapi_changes` in the transaction of
the decision, with its audit entry (`request_change`); the console has no Kafka client, so the table
is an outbox. A worker (`ChangeSender`) sends each change as a CUSRES 132 on `api.acks`, keyed by the
carrier, and sends it again every `RESEND_S` until the carrier's CUSRES 312 quotes its reference
(RFF+TN), at most `MAX_ATTEMPTS` times; two workers never send the same attempt (compare-and-set on
the attempt count). The processor matches an incoming 312 (`acknowledge`). Only references, statuses
and counts are audited or logged.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api_engine.protection.audit import AuditTrail
from api_engine.store import Connected, Store
from api_engine.store.schema import hits, iapi_answers, iapi_changes, manifests, travellers
from api_engine.store.store import now, stored_utc
from parsers.profile import IapiPolicy

__all__ = ["MAX_ATTEMPTS", "RESEND_S", "ChangeSender", "acknowledge", "request_change"]

log = logging.getLogger("api_engine.service.iapi_changes")

RESEND_S = 30.0
MAX_ATTEMPTS = 5
OPEN_OR_HELD = ("open", "escalated", "dismiss_pending", "confirmed")


async def request_change(conn: AsyncConnection, store: Store, *, hit_id: int, traveller_id: int, new_hit_status: str,
                         decided_by: str, policy: IapiPolicy | None = None) -> int | None:
    """After a decision (same transaction): the change of the traveller's iAPI answer it makes, if any, in the
    profile's codes (`policy`, default the baseline's)."""
    policy = policy or IapiPolicy()
    answer = (await conn.execute(select(iapi_answers).where(iapi_answers.c.traveller_id == traveller_id))).first()
    if answer is None or answer.state == "cancelled":
        return None
    if new_hit_status == "confirmed":
        status, text = policy.no_board.pair()
    elif new_hit_status == "dismissed":
        others = await conn.scalar(select(hits.c.id).where(
            hits.c.traveller_id == traveller_id, hits.c.id != hit_id, hits.c.status.in_(OPEN_OR_HELD)).limit(1))
        if others is not None:
            return None  # another hit still holds the traveller: the answer stands
        status, text = policy.ok.pair()
    else:
        return None
    if answer.status == status:
        return None
    at = now()
    await conn.execute(update(iapi_answers).where(iapi_answers.c.id == answer.id).values(
        status=status, text=text, changed_by=decided_by[:100], changed_at=at))
    change_id = (await conn.execute(iapi_changes.insert().values(
        answer_id=answer.id, hit_id=hit_id, status=status, text=text, reference="", decided_by=decided_by[:100],
        created_at=at).returning(iapi_changes.c.id))).scalar_one()
    reference = f"GC{change_id:012d}"
    await conn.execute(update(iapi_changes).where(iapi_changes.c.id == change_id).values(reference=reference))
    await AuditTrail(store).append(actor=decided_by, action="iapi.change_requested", subject=f"hit:{hit_id}",
                                   purpose="border control", session=conn,
                                   details={"change": reference, "from": answer.status, "to": status,
                                            "sender": answer.sender, "flight": answer.flight_key})
    return int(change_id)


async def acknowledge(conn: Connected, store: Store, references: list[str], sender: str | None) -> int:
    """A carrier's CUSRES 312 quoting these references: the changes it acknowledges (of that carrier only)."""
    done = 0
    for reference in references:
        row = (await conn.execute(
            select(iapi_changes.c.id, iapi_answers.c.sender).join(iapi_answers,
                                                                  iapi_answers.c.id == iapi_changes.c.answer_id)
            .where(iapi_changes.c.reference == reference, iapi_changes.c.acknowledged_at.is_(None)))).first()
        if row is None or (sender is not None and row.sender != sender):
            continue  # unknown, acknowledged already, or another carrier's change
        await conn.execute(update(iapi_changes).where(iapi_changes.c.id == row.id).values(acknowledged_at=now()))
        await AuditTrail(store).append(actor=f"carrier:{sender or '?'}", action="iapi.change_acknowledged",
                                       subject=f"iapi:{reference}", session=conn, details={"change": reference})
        done += 1
    return done


@dataclass(frozen=True)
class Sent:
    reference: str
    sender: str
    attempt: int
    cusres: bytes


class ChangeSender:
    """Sends the pending 132s (first time, or again while no 312 came), from one worker."""

    def __init__(self, store: Store, keyring: Any, emit: Callable[[list[Any]], Awaitable[None]] | None = None,
                 *, resend_s: float = RESEND_S) -> None:
        self.store, self.keyring, self.emit, self.resend = store, keyring, emit, timedelta(seconds=resend_s)

    async def send_due(self, *, at: datetime | None = None) -> list[Sent]:
        """Send what is due now: never sent, or sent `resend_s` ago without a 312 (at most MAX_ATTEMPTS)."""
        at = at or now()
        async with self.store.engine.connect() as conn:
            due = (await conn.execute(
                select(iapi_changes, iapi_answers.c.sender, iapi_answers.c.traveller_id)
                .join(iapi_answers, iapi_answers.c.id == iapi_changes.c.answer_id)
                .where(iapi_changes.c.acknowledged_at.is_(None), iapi_changes.c.attempts < MAX_ATTEMPTS,
                       or_(iapi_changes.c.sent_at.is_(None), iapi_changes.c.sent_at <= at - self.resend))
                .order_by(iapi_changes.c.id).limit(100))).all()
        sent: list[Sent] = []
        for change in due:
            cusres = await self._cusres(change)
            if cusres is None:
                continue
            async with self.store.transaction() as conn:  # one attempt, one worker
                won = (await conn.execute(update(iapi_changes).where(
                    iapi_changes.c.id == change.id, iapi_changes.c.attempts == change.attempts)
                    .values(attempts=change.attempts + 1, sent_at=at))).rowcount
                if won and change.attempts == 0:
                    await AuditTrail(self.store).append(
                        actor="service", action="iapi.change_sent", subject=f"iapi:{change.reference}",
                        session=conn, details={"change": change.reference, "status": change.status,
                                               "sender": change.sender})
            if not won:
                continue
            item = Sent(change.reference, change.sender, change.attempts + 1, cusres)
            if self.emit is not None:
                await self.emit([_event(item)])
            log.info("event=iapi_change_sent change=%s sender=%s attempt=%d", change.reference, change.sender,
                     item.attempt)
            sent.append(item)
        return sent

    async def _cusres(self, change: Any) -> bytes | None:
        """The CUSRES 132 for one change: the traveller's references on the flight of the answer."""
        from parsers import Manifest, Traveller
        from parsers.cusres_writer import cusres_for_manifest, write_cusres

        if change.traveller_id is None:
            return None
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(travellers.c.traveller_json, manifests.c.header_json).join(
                manifests, manifests.c.id == travellers.c.manifest_id).where(and_(
                    travellers.c.id == change.traveller_id, travellers.c.pseudonymised_at.is_(None))))).first()
        if row is None or row.traveller_json is None:
            return None  # depersonalised or deleted meanwhile: nothing left to say it about
        traveller = Traveller.model_validate_json(self.keyring.decrypt_text(row.traveller_json,
                                                                            "travellers.traveller_json") or "")
        manifest = Manifest.model_validate_json(row.header_json).model_copy(
            update={"travellers": [traveller], "transaction_ref": change.reference})
        response = cusres_for_manifest(manifest, {0: (change.status, change.text)}, document_code="132")
        made = stored_utc(change.created_at) or now()
        # stamped when the officer decided: every resend carries the same bytes
        return write_cusres([response], control_ref=change.reference[-14:], prepared=made.replace(tzinfo=None))


def _event(item: Sent) -> Any:
    from api_engine.service.events import IapiChangeEvent, event_id
    from api_engine.store import StoredOutput

    ev = IapiChangeEvent(event_id=event_id(item.reference, item.sender, None, "", "iapi_change", item.attempt),
                         reference=item.reference, sender=item.sender, attempt=item.attempt,
                         cusres=item.cusres.decode("latin-1"), cusres_base64=base64.b64encode(item.cusres).decode())
    return StoredOutput(kind="acks", key=item.sender.encode(), value=ev.model_dump_json().encode(),
                        event_id=ev.event_id)
