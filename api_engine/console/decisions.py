"""Decisions on hits: confirm, dismiss as a false positive (→ a clearance), escalate, and the second
person's approve / reject. Strategy: the rules live here, in one function both the page and the JSON
route call, and `allowed_for` tells the pages the same rules. A comment is required.

Four eyes, because a dismissal hides a hit and a clearance hides every later hit of the traveller:
- an open hit is decided by an officer or a supervisor; an escalated one by a supervisor who did not
  escalate it (nobody decides his own escalation);
- dismissing a high-severity hit only proposes it: the hit stays in the queue as "dismiss_pending"
  until a supervisor other than the dismisser (and other than whoever escalated it) approves; a
  lower-severity dismissal takes the hit off the queue at once;
- every dismissal records a clearance (list entry, fingerprint of the traveller's attributes, as
  watchlists.Screener.clear computes it) as *pending*: the screening service installs approved
  clearances only (api_engine.service.lists), so the traveller alerts again until the second person
  approves. Rejecting puts the hit back in the queue (open, or escalated if it had been) and the
  clearance out of reach.
Each change (guarded by the status read before) and its audit entry commit in one transaction: no
decision without its entry, no entry for a decision that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api_engine.protection.crypto import reveal_traveller
from api_engine.service.iapi_changes import request_change
from api_engine.service.severity import severity
from api_engine.store.schema import allowlist, hit_decisions, hits, travellers
from api_engine.store.store import now
from parsers.profile import load_profile
from watchlists import ScreeningQuery, prepare_traveller
from watchlists.screener import traveller_fingerprint

from .auth import Forbidden, Principal
from .models import DecisionResult
from .state import ConsoleState

log = logging.getLogger("api_engine.console.decisions")

DECISIONS = ("confirm", "dismiss", "escalate", "approve", "reject")
PENDING = "dismiss_pending"  # a proposed dismissal of a high-severity hit, waiting for a second person
OFFICERS = ("officer", "supervisor")


class DecisionError(ValueError):
    """A decision the rules refuse (unknown hit, already decided, empty comment)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def fingerprint(t: Mapping[str, Any]) -> str:
    """The allowlist key of a (decrypted) traveller row, computed as the screener computes it."""
    query = ScreeningQuery(
        id="0", surname=t.get("surname"), given_names=t.get("given_names"), date_of_birth=t.get("date_of_birth"),
        nationality=t.get("nationality"), gender=t.get("gender"), document_number=t.get("doc_number"),
        document_country=t.get("doc_issuing_state"))
    return traveller_fingerprint(prepare_traveller(query))


@dataclass(frozen=True)
class HitState:
    """What the rules look at: the hit's status and severity, who took part so far, its clearance."""

    status: str
    severity: str
    escalated_by: frozenset[str]
    dismissed_by: str | None
    clearance: str | None  # status of the allowlist row for this traveller and entry, if any

    @property
    def before_dismissal(self) -> str:
        """Where a rejected dismissal sends the hit back: the queue state it was taken from."""
        return "escalated" if self.escalated_by else "open"


def allowed_for(state: HitState, who: Principal) -> list[str]:
    """The decisions `who` may take on a hit in `state` (the pages show these buttons, `decide` enforces them)."""
    if who.role not in OFFICERS:
        return []
    if state.status == "open":
        # Escalating hands the hit to a supervisor: a supervisor is not offered it (see `permitted`).
        return ["confirm", "dismiss", "escalate"] if who.role == "officer" else ["confirm", "dismiss"]
    if who.role != "supervisor" or who.name in state.escalated_by:
        return []  # escalated or pending: a supervisor, never one who escalated it
    if state.status == "escalated":
        return ["confirm", "dismiss"]
    second_person = who.name != state.dismissed_by
    if second_person and (state.status == PENDING or (state.status == "dismissed" and state.clearance == "pending")):
        return ["approve", "reject"]
    return []


def permitted(state: HitState, who: Principal) -> list[str]:
    """What `decide` accepts: the decisions offered, and a supervisor's escalation of an open hit, which the
    pages do not offer but a client of the JSON API may send to leave the hit to another supervisor."""
    offered = allowed_for(state, who)
    if state.status == "open" and who.role == "supervisor":
        return [*offered, "escalate"]
    return offered


def hit_state(status: str, severity_: str, history: Iterable[Any], clearance: str | None) -> HitState:
    """`history`: the hit's decisions so far, oldest first (anything with .decision and .decided_by)."""
    escalated: set[str] = set()
    dismissed_by: str | None = None
    for d in history:
        if d.decision == "escalate":
            escalated.add(d.decided_by)
        elif d.decision == "dismiss":
            dismissed_by = d.decided_by
    return HitState(status=status, severity=severity_, escalated_by=frozenset(escalated),
                    dismissed_by=dismissed_by, clearance=clearance)


async def clearance_status(conn: AsyncConnection, list_name: str, entry_id: str, print_: str) -> str | None:
    """The status of the clearance for this traveller (fingerprint) and list entry, if one was proposed."""
    found = await conn.scalar(select(allowlist.c.status).where(
        allowlist.c.list == list_name, allowlist.c.entry_id == entry_id, allowlist.c.fingerprint == print_))
    return str(found) if found is not None else None


async def _carried_chain(conn: AsyncConnection, hit_id: int) -> list[int]:
    """This hit and the earlier versions' hits carried into it: their decisions are its history too."""
    chain = [hit_id]
    while len(chain) < 100 and (earlier := (await conn.execute(
            select(hits.c.id).where(hits.c.carried_to == chain[-1]).order_by(hits.c.id).limit(1))).scalar()):
        chain.append(earlier)
    return chain


async def load_state(conn: AsyncConnection, hit: Any, print_: str) -> HitState:
    chain = await _carried_chain(conn, hit.id)
    history = (await conn.execute(select(hit_decisions.c.decision, hit_decisions.c.decided_by)
                                  .where(hit_decisions.c.hit_id.in_(chain)).order_by(hit_decisions.c.id))).all()
    clearance = await clearance_status(conn, hit.list, hit.entry_id, print_)
    return hit_state(hit.status, severity(hit.score, hit.category, hit.severity), history, clearance)


def _refusal(state: HitState, decision: str, who: Principal) -> Exception:
    """Why `decision` is not allowed: 403 for the wrong person, 409 for the wrong moment."""
    if state.status in ("escalated", PENDING) or (state.status == "dismissed" and state.clearance == "pending"):
        if who.role != "supervisor":
            return Forbidden("a supervisor decides this hit now (four eyes)")
        if who.name in state.escalated_by:
            return Forbidden("you escalated this hit: another supervisor decides it (four eyes)")
        if decision in ("approve", "reject") and who.name == state.dismissed_by:
            return Forbidden("you proposed this dismissal: another supervisor approves it (four eyes)")
    return DecisionError(f"this hit is {state.status}: '{decision}' is not possible now", 409)


async def _propose_clearance(conn: AsyncConnection, hit: Any, print_: str, reason: str, who: Principal,
                             stamp: datetime) -> str:
    """Record the clearance as pending (or re-propose a rejected one); returns its status afterwards."""
    key = (allowlist.c.list == hit.list, allowlist.c.entry_id == hit.entry_id, allowlist.c.fingerprint == print_)
    current = await conn.scalar(select(allowlist.c.status).where(*key))
    if current is None:
        await conn.execute(insert(allowlist).values(list=hit.list, entry_id=hit.entry_id, fingerprint=print_,
                                                    hit_id=hit.id, reason=reason, cleared_by=who.name,
                                                    cleared_at=stamp, status="pending"))
        return "pending"
    if current == "rejected":
        await conn.execute(update(allowlist).where(*key).values(
            hit_id=hit.id, reason=reason, cleared_by=who.name, cleared_at=stamp, status="pending",
            approved_by=None, approved_at=None))
        return "pending"
    return str(current)  # already pending (another hit of the same traveller) or approved


async def _settle_clearance(conn: AsyncConnection, hit: Any, print_: str, to: str, who: Principal,
                            stamp: datetime) -> str | None:
    """Approve or reject the pending clearance of this traveller and entry."""
    await conn.execute(update(allowlist).where(
        allowlist.c.list == hit.list, allowlist.c.entry_id == hit.entry_id, allowlist.c.fingerprint == print_,
        allowlist.c.status == "pending").values(status=to, approved_by=who.name, approved_at=stamp))
    return await clearance_status(conn, hit.list, hit.entry_id, print_)


async def decide(st: ConsoleState, hit_id: int, decision: str, comment: str, who: Principal) -> DecisionResult:
    comment = comment.strip()
    if len(comment) < 3:
        raise DecisionError("a decision needs a comment (at least 3 characters)", 422)
    if decision not in DECISIONS:
        raise DecisionError(f"unknown decision {decision!r}", 422)
    trail = st.auditor.trail  # AuditUnavailable here: nothing has changed yet
    async with st.store.transaction() as conn:
        hit = (await conn.execute(select(hits.c.id, hits.c.status, hits.c.score, hits.c.category, hits.c.severity,
                                         hits.c.list, hits.c.entry_id, hits.c.traveller_id)
                                  .where(hits.c.id == hit_id))).first()
        if hit is None:
            raise DecisionError("no such hit", 404)
        t = (await conn.execute(select(travellers).where(travellers.c.id == hit.traveller_id))).one()
        print_ = fingerprint(reveal_traveller(dict(t._mapping), st.keyring))
        state = await load_state(conn, hit, print_)
        if decision not in permitted(state, who):
            raise _refusal(state, decision, who)
        stamp = now()
        clearance = state.clearance
        if decision == "confirm":
            new_status = "confirmed"
        elif decision == "escalate":
            new_status = "escalated"
        elif decision == "dismiss":
            # A high-severity dismissal waits for a second person; the clearance always does.
            new_status = PENDING if state.severity == "high" else "dismissed"
            clearance = await _propose_clearance(conn, hit, print_, comment, who, stamp)
        elif decision == "approve":
            new_status = "dismissed"
            clearance = await _settle_clearance(conn, hit, print_, "approved", who, stamp)
        else:  # reject: the hit goes back to the queue, the clearance never takes effect
            new_status = state.before_dismissal
            clearance = await _settle_clearance(conn, hit, print_, "rejected", who, stamp)
        changed = await conn.execute(update(hits).where(hits.c.id == hit_id, hits.c.status == state.status)
                                     .values(status=new_status))
        if changed.rowcount != 1:
            raise DecisionError("someone decided this hit a moment ago; reload it", 409)
        await conn.execute(insert(hit_decisions).values(hit_id=hit_id, decision=decision, comment=comment,
                                                        decided_by=who.name, role=who.role, decided_at=stamp))
        # A traveller answered over iAPI: the carrier is told the new answer (CUSRES 132, sent by the service).
        await request_change(conn, st.store, hit_id=hit_id, traveller_id=hit.traveller_id,
                             new_hit_status=new_status, decided_by=who.name,
                             policy=load_profile(st.settings.profile).iapi)
        # Same transaction: the decision and its audit entry commit together or not at all.
        await trail.append(actor=who.name, action="decision", subject=f"hit:{hit_id}", purpose="border control",
                           reason=comment, details={"decision": decision, "from": state.status, "to": new_status,
                                                    "severity": state.severity, "list": hit.list,
                                                    "entry_id": hit.entry_id, "role": who.role,
                                                    "clearance": clearance, "proposed_by": state.dismissed_by,
                                                    "allowlisted": clearance == "approved"}, session=conn)
    log.info("hit decided: hit=%d decision=%s status=%s clearance=%s", hit_id, decision, new_status, clearance)
    return DecisionResult(hit_id=hit_id, status=new_status, allowlisted=clearance == "approved", clearance=clearance,
                          awaiting_approval=new_status == PENDING or clearance == "pending")
