"""Officers' decisions on hits: confirm, dismiss as a false positive (→ allowlist), escalate. Strategy:
the rules live in one function both the page and the JSON route call. A comment is required. Open
hits are decided by officers or supervisors; an escalated hit only by a supervisor (four eyes). The
change (guarded by the status read before) and its audit entry are written in one transaction: no
decision without its entry, no entry for a decision that failed. A dismissal also allowlists the
pair (list entry, fingerprint of the traveller's attributes, as watchlists.Screener.clear computes
it): the same attributes need not be cleared again, other attributes are screened as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from api_engine.protection.crypto import reveal_traveller
from api_engine.store.schema import allowlist, hit_decisions, hits, travellers
from api_engine.store.store import now
from watchlists import ScreeningQuery, prepare_traveller
from watchlists.screener import traveller_fingerprint

from .auth import Forbidden, Principal
from .models import DecisionResult
from .queries import allowed_decisions
from .state import ConsoleState

log = logging.getLogger("api_engine.console.decisions")

NEW_STATUS = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}


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


async def _allowlist(conn: AsyncConnection, values: dict[str, object]) -> None:
    """Insert unless the same (list, entry, fingerprint) is there already."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        await conn.execute(postgresql.insert(allowlist).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        await conn.execute(sqlite.insert(allowlist).values(**values).on_conflict_do_nothing())
    else:
        await conn.execute(insert(allowlist).values(**values))


async def decide(st: ConsoleState, hit_id: int, decision: str, comment: str, who: Principal) -> DecisionResult:
    comment = comment.strip()
    if len(comment) < 3:
        raise DecisionError("a decision needs a comment (at least 3 characters)", 422)
    if decision not in NEW_STATUS:
        raise DecisionError(f"unknown decision {decision!r}", 422)
    async with st.store.engine.connect() as conn:
        row = (await conn.execute(select(hits.c.status, hits.c.list, hits.c.entry_id, hits.c.traveller_id)
                                  .where(hits.c.id == hit_id))).first()
    if row is None:
        raise DecisionError("no such hit", 404)
    if decision not in allowed_decisions(row.status, who.role):
        if row.status == "escalated" and who.role == "officer":
            raise Forbidden("an escalated hit is decided by a supervisor (four eyes)")
        raise DecisionError(f"this hit is {row.status}: it cannot be {NEW_STATUS[decision]} now", 409)
    new_status = NEW_STATUS[decision]
    trail = st.auditor.trail  # AuditUnavailable here: nothing has changed yet
    allowlisted = False
    async with st.store.transaction() as conn:
        changed = await conn.execute(update(hits).where(hits.c.id == hit_id, hits.c.status == row.status)
                                     .values(status=new_status))
        if changed.rowcount != 1:
            raise DecisionError("someone decided this hit a moment ago; reload it", 409)
        stamp = now()
        await conn.execute(insert(hit_decisions).values(hit_id=hit_id, decision=decision, comment=comment,
                                                        decided_by=who.name, role=who.role, decided_at=stamp))
        if decision == "dismiss":
            t = (await conn.execute(select(travellers).where(travellers.c.id == row.traveller_id))).one()
            await _allowlist(conn, {"list": row.list, "entry_id": row.entry_id,
                                    "fingerprint": fingerprint(reveal_traveller(dict(t._mapping), st.keyring)),
                                    "hit_id": hit_id, "reason": comment, "cleared_by": who.name,
                                    "cleared_at": stamp})
            allowlisted = True
        # Same transaction: the decision and its audit entry commit together or not at all.
        await trail.append(actor=who.name, action="decision", subject=f"hit:{hit_id}", purpose="border control",
                           reason=comment, details={"decision": decision, "from": row.status, "to": new_status,
                                                    "list": row.list, "entry_id": row.entry_id, "role": who.role,
                                                    "allowlisted": allowlisted}, session=conn)
    log.info("hit decided: hit=%d decision=%s status=%s", hit_id, decision, new_status)
    return DecisionResult(hit_id=hit_id, status=new_status, allowlisted=allowlisted)
