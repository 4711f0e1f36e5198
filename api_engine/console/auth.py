"""Who is asking: local accounts (argon2id), server-side sessions, CSRF tokens and role gates.

Strategy: the session cookie carries a random token; the database keeps only its SHA-256 with the
user and a CSRF token, so a copy of the table yields no usable cookie and signing out (or an
admin disabling an account) takes effect at once. Every visit to the sign-in page gets an
anonymous session (for the form's CSRF token); signing in deletes it and issues a new token, so
a session id planted before sign-in is worthless afterwards (fixation). Unsafe requests must echo
the session's CSRF token in the form (`csrf_token`) or the `X-CSRF-Token` header.
Roles are checked by `RoleGate` dependencies attached to every page and JSON route; the tests
walk `app.routes` and read the gates back, so a route without one cannot slip through.
Identity providers are pluggable (`IdentityProvider`): local passwords today, an OIDC provider
can map its verified claims to a console user and role through the same `start_session`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from sqlalchemy import delete, insert, select, update

from api_engine.store import Store
from api_engine.store.schema import console_sessions, console_users
from api_engine.store.store import now

ROLES = ("officer", "supervisor", "auditor", "admin")
SESSION_COOKIE = "apie_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SIGNED_IN_TTL = timedelta(hours=8)  # one shift
ANONYMOUS_TTL = timedelta(hours=1)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_UNSET = object()
_DUMMY_HASH = _hasher.hash("not a password: evens out the time of unknown-user sign-ins")


class NotSignedIn(Exception):
    """No valid session: pages redirect to sign-in, JSON routes answer 401."""


class Forbidden(Exception):
    """Signed in, but the role may not do this: 403 on pages and JSON routes alike."""

    def __init__(self, detail: str = "your role may not use this page") -> None:
        super().__init__(detail)
        self.detail = detail


class CsrfRejected(Exception):
    """An unsafe request without the session's CSRF token: 403."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    identity_provider: str
    active: bool


@dataclass(frozen=True)
class Principal:
    """The signed-in user of one request."""

    user_id: int
    name: str
    role: str
    csrf_token: str


@dataclass(frozen=True)
class SessionInfo:
    token_hash: str
    csrf_token: str
    principal: Principal | None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IdentityProvider(Protocol):
    """Turns credentials into a console account; an OIDC provider would verify an ID token instead."""

    name: str

    async def authenticate(self, store: Store, credentials: dict[str, str]) -> Account | None: ...


class LocalPasswords:
    """Accounts in `console_users` with argon2id password hashes."""

    name = "local"

    async def authenticate(self, store: Store, credentials: dict[str, str]) -> Account | None:
        username, password = credentials.get("username", ""), credentials.get("password", "")
        async with store.engine.connect() as conn:
            row = (await conn.execute(select(console_users).where(console_users.c.name == username))).first()
        stored = row.password_hash if row is not None and row.identity_provider == self.name else None
        ok = await asyncio.to_thread(_verify, stored, password)  # argon2 is deliberately slow: off the loop
        if not ok or row is None or not row.active:
            return None
        if _hasher.check_needs_rehash(stored or ""):
            async with store.transaction() as conn:
                await conn.execute(update(console_users).where(console_users.c.id == row.id)
                                   .values(password_hash=await asyncio.to_thread(hash_password, password)))
        return Account(id=row.id, name=row.name, role=row.role, identity_provider=row.identity_provider,
                       active=row.active)


class Sessions:
    """Server-side sessions keyed by the hash of the cookie token."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def start(self, user_id: int | None, *, replaces: str | None = None) -> tuple[str, str]:
        """A new session (token, csrf); the session it replaces (if any) is deleted: ids rotate."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        stamp = now()
        async with self.store.transaction() as conn:
            if replaces:
                await conn.execute(delete(console_sessions)
                                   .where(console_sessions.c.token_hash == token_hash(replaces)))
            await conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < stamp))
            await conn.execute(insert(console_sessions).values(
                token_hash=token_hash(token), user_id=user_id, csrf_token=csrf, created_at=stamp,
                expires_at=stamp + (SIGNED_IN_TTL if user_id is not None else ANONYMOUS_TTL)))
            if user_id is not None:
                await conn.execute(update(console_users).where(console_users.c.id == user_id)
                                   .values(last_sign_in_at=stamp))
        return token, csrf

    async def lookup(self, token: str | None) -> SessionInfo | None:
        if not token:
            return None
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(
                select(console_sessions.c.token_hash, console_sessions.c.csrf_token, console_sessions.c.expires_at,
                       console_users.c.id, console_users.c.name, console_users.c.role, console_users.c.active)
                .select_from(console_sessions.outerjoin(console_users,
                                                        console_users.c.id == console_sessions.c.user_id))
                .where(console_sessions.c.token_hash == token_hash(token)))).first()
        if row is None or _aware(row.expires_at) < now():
            return None
        principal = None
        if row.id is not None and row.active:
            principal = Principal(user_id=row.id, name=row.name, role=row.role, csrf_token=row.csrf_token)
        return SessionInfo(token_hash=row.token_hash, csrf_token=row.csrf_token, principal=principal)

    async def end(self, token: str | None) -> None:
        if token:
            async with self.store.transaction() as conn:
                await conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == token_hash(token)))


def _aware(value: Any) -> Any:
    """SQLite gives naive datetimes back; they were written in UTC."""
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def current_session(request: Request) -> SessionInfo | None:
    """The request's session, looked up once per request."""
    cached = getattr(request.state, "console_session", _UNSET)
    if cached is not _UNSET:
        return cached if isinstance(cached, SessionInfo) else None
    sessions: Sessions = request.app.state.console.sessions
    info = await sessions.lookup(request.cookies.get(SESSION_COOKIE))
    request.state.console_session = info
    return info


async def check_csrf(request: Request, expected: str) -> None:
    """Unsafe methods must carry the session's CSRF token (header for JSON, hidden field for forms)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette: Form(...) parameters still work afterwards
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, expected):
        raise CsrfRejected()


class RoleGate:
    """A dependency: the request must come from a signed-in user holding one of `roles` (and, for
    unsafe methods, carry the CSRF token). Returns the Principal."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        self.roles = frozenset(roles)

    async def __call__(self, request: Request) -> Principal:
        info = await current_session(request)
        if info is None or info.principal is None:
            raise NotSignedIn()
        if info.principal.role not in self.roles:
            raise Forbidden()
        await check_csrf(request, info.csrf_token)
        return info.principal

    def __repr__(self) -> str:
        return f"RoleGate({', '.join(sorted(self.roles))})"


ANY_ROLE = RoleGate(*ROLES)
OFFICERS = RoleGate("officer", "supervisor")
LIST_MANAGERS = RoleGate("supervisor", "admin")
AUDITORS = RoleGate("auditor")
ADMINS = RoleGate("admin")
