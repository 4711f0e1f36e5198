"""Carrier bearer tokens for the HTTPS iAPI endpoint (`POST /iapi/v1/paxlst`, docs/carrier-identity.md).

Strategy: a token is 32 random bytes (`secrets.token_urlsafe`), shown once when made and stored only
as its SHA-256, bound to the one UNB sender id its carrier writes in every request. A plain, fast hash
is enough here: a password hash is slow so that guessing a low-entropy secret from its hash is
expensive, but a 256-bit random token cannot be guessed whatever the hash costs, and the endpoint
checks a token on every request. Tokens are listed by a short prefix of their hash (the token id),
which says nothing usable about the token. Every add and revoke goes to the audit trail in the same
transaction as the change (token id and sender only, never the token).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from api_engine.protection.audit import AuditTrail
from api_engine.store import Connected, Store
from api_engine.store.schema import carrier_tokens
from api_engine.store.store import stored_utc

__all__ = ["CarrierToken", "CarrierTokenError", "CarrierTokens", "add_token", "hash_token", "list_tokens",
           "revoke_tokens", "token_id"]

TOKEN_ID_LENGTH = 12
# A UNB sender id (S002 0004): up to 35 characters, none of them an EDIFACT separator or blank.
_SENDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_/&()]{0,34}")


class CarrierTokenError(ValueError):
    """A token request that cannot be done (a bad sender id, nothing to revoke, an ambiguous id)."""


@dataclass(frozen=True)
class CarrierToken:
    """A stored token as operators see it: never the token itself."""

    token_id: str
    sender: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    """SHA-256 of the token: see the module docstring for why a fast hash is right for random tokens."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id(token_hash: str) -> str:
    return token_hash[:TOKEN_ID_LENGTH]


def _row(r: Any) -> CarrierToken:
    created = stored_utc(r.created_at)
    assert created is not None
    return CarrierToken(token_id=token_id(r.token_hash), sender=r.sender, created_at=created,
                        created_by=r.created_by, revoked_at=stored_utc(r.revoked_at), revoked_by=r.revoked_by)


def check_sender(sender: str) -> str:
    value = sender.strip()
    if not _SENDER.fullmatch(value):
        raise CarrierTokenError(f"not a UNB sender id: {sender!r} (1 to 35 letters, digits or . - _ / & ( ))")
    return value


async def add_token(store: Store, sender: str, *, actor: str) -> tuple[str, CarrierToken]:
    """Make a token for the carrier sending as `sender`; returns the token (shown once) and its record."""
    sender = check_sender(sender)
    token = secrets.token_urlsafe(32)
    digest = hash_token(token)
    now = datetime.now(UTC)
    async with store.transaction() as conn:
        await conn.execute(insert(carrier_tokens).values(token_hash=digest, sender=sender, created_at=now,
                                                         created_by=actor[:100]))
        await AuditTrail(store).append(actor=actor, action="carrier_token_add", subject=f"carrier:{sender}",
                                       purpose="carrier authentication",
                                       details={"token_id": token_id(digest), "sender": sender}, session=conn)
    return token, CarrierToken(token_id=token_id(digest), sender=sender, created_at=now, created_by=actor[:100],
                               revoked_at=None, revoked_by=None)


async def list_tokens(store: Store) -> list[CarrierToken]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(carrier_tokens).order_by(carrier_tokens.c.sender, carrier_tokens.c.id))
        return [_row(r) for r in rows]


async def revoke_tokens(store: Store, what: str, *, actor: str) -> list[CarrierToken]:
    """Revoke one token by its id, or every active token of a sender; returns what was revoked.

    A token id (a hash prefix as `carriers list` shows it) is tried first, then a sender id. Revoking
    what is already revoked is an error: the operator meant something that is still active.
    """
    what = what.strip()
    now = datetime.now(UTC)
    async with store.transaction() as conn:
        rows: list[Any] = []
        by = "sender"
        if re.fullmatch(r"[0-9a-f]{8,64}", what):
            rows = list(await conn.execute(select(carrier_tokens).where(carrier_tokens.c.token_hash.startswith(what))))
            if len(rows) > 1:
                raise CarrierTokenError(f"token id {what} names {len(rows)} tokens: give more of it")
            by = "token_id"
        if not rows:
            rows = list(await conn.execute(select(carrier_tokens).where(carrier_tokens.c.sender == what)))
            by = "sender"
        if not rows:
            raise CarrierTokenError(f"no token with the id {what} and no carrier sending as {what}")
        active = [r for r in rows if r.revoked_at is None]
        if not active:
            raise CarrierTokenError(f"{what}: already revoked")
        await conn.execute(update(carrier_tokens).where(carrier_tokens.c.id.in_([r.id for r in active]))
                           .values(revoked_at=now, revoked_by=actor[:100]))
        trail = AuditTrail(store)
        for r in active:
            await trail.append(actor=actor, action="carrier_token_revoke", subject=f"carrier:{r.sender}",
                               purpose="carrier authentication",
                               details={"token_id": token_id(r.token_hash), "sender": r.sender, "by": by},
                               session=conn)
    return [CarrierToken(token_id=token_id(r.token_hash), sender=r.sender, created_at=stored_utc(r.created_at) or now,
                         created_by=r.created_by, revoked_at=now, revoked_by=actor[:100]) for r in active]


class CarrierTokens:
    """What the endpoint asks on each request: the carrier (UNB sender id) of an active token, if any.

    Read from the store every time (a primary-key lookup): a revocation takes effect at the next request.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    async def carrier_of(self, token: str) -> tuple[str, str] | None:
        """(sender, token id) of an active token; None for an unknown or revoked one."""
        if not token or len(token) > 200:
            return None
        digest = hash_token(token)

        async def look_up(conn: Connected) -> Any:
            return (await conn.execute(select(carrier_tokens.c.sender, carrier_tokens.c.revoked_at)
                                       .where(carrier_tokens.c.token_hash == digest))).first()

        row = await self.store.read(look_up)  # every request: one hop to the store thread, not four
        if row is None or row.revoked_at is not None:
            return None
        return str(row.sender), token_id(digest)
