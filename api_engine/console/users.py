"""Console accounts: create, list, enable/disable, shared by `api-engine users` and the admin page.

Strategy: one small module both front doors call, so the CLI and the web page apply the same
rules (known role, unique name, a password of reasonable length, argon2id hashes only).
"""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from api_engine.store import Store
from api_engine.store.schema import console_users
from api_engine.store.store import now

from .auth import ROLES, Account, hash_password

MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9._@-]{2,100}$")


class AccountError(ValueError):
    """A request to create or change an account that the rules refuse."""


async def add_user(store: Store, name: str, role: str, password: str | None, *,
                   identity_provider: str = "local") -> Account:
    """Create an account; local accounts need a password of at least MIN_PASSWORD characters."""
    if not _NAME.match(name):
        raise AccountError("a user name is 2-100 letters, digits or . _ @ -")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if identity_provider == "local" and (password is None or len(password) < MIN_PASSWORD):
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    hashed = await asyncio.to_thread(hash_password, password) if password else None
    try:
        async with store.transaction() as conn:
            new_id: int = (await conn.execute(insert(console_users).values(
                name=name, role=role, identity_provider=identity_provider, password_hash=hashed, active=True,
                created_at=now()).returning(console_users.c.id))).scalar_one()
    except IntegrityError as exc:
        raise AccountError(f"a user named {name!r} exists already") from exc
    return Account(id=new_id, name=name, role=role, identity_provider=identity_provider, active=True)


async def list_users(store: Store) -> list[Account]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(console_users).order_by(console_users.c.name))
        return [Account(id=r.id, name=r.name, role=r.role, identity_provider=r.identity_provider, active=r.active)
                for r in rows]


async def set_active(store: Store, name: str, active: bool) -> None:
    async with store.transaction() as conn:
        result = await conn.execute(update(console_users).where(console_users.c.name == name).values(active=active))
    if result.rowcount == 0:
        raise AccountError(f"no user named {name!r}")
