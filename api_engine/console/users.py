"""Console accounts: create, list, enable/disable, unlock, shared by `api-engine users` and the admin page.

Strategy: one small module both front doors call, so the CLI and the web page apply the same
rules: known role, unique name, argon2id hashes only, and a password policy after NIST SP 800-63B
(length over composition rules): at least MIN_PASSWORD characters, not on the list of passwords
most often found in breaches, and not easy to guess by zxcvbn's estimate (repeats, keyboard runs,
dates, words with substitutions, the user's own name). The breach list and the estimator are the
`zxcvbn` package's, shipped with it: nothing is fetched at run time. The last active admin cannot
be disabled, or nobody could manage accounts from the console any more.
"""

from __future__ import annotations

import asyncio
import re
from functools import cache
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from api_engine.store import Store
from api_engine.store.schema import console_users
from api_engine.store.store import now

from .auditing import Auditor
from .auth import ROLES, Account, SignInGuard, hash_password

AccountAction = Literal["disable", "enable", "unlock"]
CREATED = "users.created"  # the audit action of a new account, from every front door
MIN_PASSWORD = 12
MAX_PASSWORD = 256
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable" (about 10^8 guesses and more) for an online attack
_NAME = re.compile(r"^[A-Za-z0-9._@-]{2,100}$")
_CONTEXT = ["api", "engine", "console", "border", "police", "officer", "supervisor", "auditor", "admin"]


class AccountError(ValueError):
    """A request to create or change an account that the rules refuse."""


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, *, name: str = "") -> None:
    """Raises AccountError saying why `password` is refused; the message never repeats the password."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    if password.lower() in _common_passwords():
        raise AccountError("this password is on the list of passwords most often found in data breaches; "
                           "choose another")
    # zxcvbn's matching grows with the length; the first 100 characters decide for longer ones.
    result = zxcvbn(password[:100], user_inputs=[name, *_CONTEXT] if name else _CONTEXT)
    if result["score"] < MIN_SCORE:
        warning = str(result["feedback"].get("warning") or "").rstrip(".")
        raise AccountError("this password is too easy to guess" + (f" ({warning})" if warning else "")
                           + "; a phrase of four or more unrelated words works well")


async def add_user(store: Store, name: str, role: str, password: str | None, *,
                   identity_provider: str = "local", auditor: Auditor | None = None, actor: str = "",
                   via: str = "") -> Account:
    """Create an account; local accounts need a password that passes `check_password`.

    With an `auditor` the new account is recorded as `users.created` (actor, role and front door; never the
    password) once it exists: a trail failing then raises AuditUnavailable and the account stays, so a caller
    that must not create an unlogged account checks `auditor.trail` first."""
    if not _NAME.match(name):
        raise AccountError("a user name is 2-100 letters, digits or . _ @ -")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if identity_provider == "local":
        if password is None:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        check_password(password, name=name)
    hashed = await asyncio.to_thread(hash_password, password) if password else None
    try:
        async with store.transaction() as conn:
            new_id: int = (await conn.execute(console_users.insert().values(
                name=name, role=role, identity_provider=identity_provider, password_hash=hashed, active=True,
                created_at=now()).returning(console_users.c.id))).scalar_one()
    except IntegrityError as exc:
        raise AccountError(f"a user named {name!r} exists already") from exc
    if auditor is not None:
        await auditor.record(actor=actor or "(unknown)", action=CREATED, subject=f"user:{name}",
                             purpose="account management",
                             details={"role": role, "identity_provider": identity_provider, "via": via or "unknown"})
    return Account(id=new_id, name=name, role=role, identity_provider=identity_provider, active=True)


async def list_users(store: Store) -> list[Account]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(console_users).order_by(console_users.c.name))
        return [Account(id=r.id, name=r.name, role=r.role, identity_provider=r.identity_provider, active=r.active)
                for r in rows]


async def get_user(store: Store, name: str) -> Account:
    found = next((a for a in await list_users(store) if a.name == name), None)
    if found is None:
        raise AccountError(f"no user named {name!r}")
    return found


async def set_active(store: Store, name: str, active: bool) -> None:
    """Enable or disable an account; refuses to disable the last active admin."""
    users = console_users
    async with store.transaction() as conn:
        # Lock the admins first (PostgreSQL), so two admins disabling each other at once cannot both succeed.
        await conn.execute(select(users.c.id).where(users.c.role == "admin").with_for_update())
        result = await conn.execute(update(users).where(users.c.name == name).values(active=active))
        if result.rowcount == 0:
            raise AccountError(f"no user named {name!r}")
        admins = (await conn.execute(select(func.count()).select_from(users)
                                     .where(users.c.role == "admin", users.c.active.is_(True)))).scalar_one()
        if not active and admins == 0:  # raising rolls the change back
            raise AccountError(f"{name!r} is the last active admin: make another account admin first, "
                               "or nobody could manage accounts any more")


async def unlock(store: Store, guard: SignInGuard, name: str) -> bool:
    """End a sign-in pause of an existing account early; True if it was paused or had failures."""
    await get_user(store, name)
    return await guard.unlock(name)


async def change(store: Store, guard: SignInGuard, auditor: Auditor, actor: str, name: str,
                 action: AccountAction) -> Account:
    """Disable, enable or unlock an account and audit it (the web page, the JSON API and the CLI alike).
    Refused up front when the audit trail is missing: account changes are never unlogged."""
    auditor.trail  # noqa: B018  # raises AuditUnavailable without a trail
    if action == "unlock":
        await unlock(store, guard, name)
    else:
        await set_active(store, name, action == "enable")
    await auditor.record(actor=actor, action=f"user_{action}", subject=f"user:{name}",
                         purpose="account management")
    return await get_user(store, name)
