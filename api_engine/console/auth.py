"""Who is asking: local accounts (argon2id), server-side sessions, CSRF tokens, sign-in throttling, role gates.

Strategy: the session cookie carries a random token; the database keeps only its SHA-256 with the
user and a CSRF token, so a copy of the table yields no usable cookie and signing out (or an
admin disabling an account) takes effect at once. Before sign-in nothing is stored: the sign-in
form's CSRF token is an HMAC of the (random, unsigned) cookie under a server secret, so looking at
the page costs no database row, and signing in issues a new token (a planted id is worthless:
fixation). Unsafe requests must echo the session's CSRF token in the form (`csrf_token`) or the
`X-CSRF-Token` header.
Guessing is throttled per account name and per client address (`SignInGuard`): every attempt is
charged before the password is checked (so parallel guesses cannot slip past the limit) and a
success gives its charge back; from the limit on, signing in pauses with a doubling back-off, the
right password included, until the pause ends or an admin unlocks the account. Unknown names are
throttled exactly like real ones, so the pauses reveal no account. Failures and pauses go to the
audit trail; names are stored only as HMACs in the throttle table.
Roles are checked by `RoleGate` dependencies attached to every page and JSON route; the tests
walk `app.routes` and read the gates back, so a route without one cannot slip through.
Identity providers are pluggable (`IdentityProvider`): local passwords today, an OIDC provider
can map its verified claims to a console user and role through the same `start_session`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from sqlalchemy import case, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from api_engine.store import Store
from api_engine.store.schema import console_sessions, console_signin_failures, console_users
from api_engine.store.store import now

from .auditing import Auditor, AuditUnavailable

log = logging.getLogger("api_engine.console.auth")

ROLES = ("officer", "supervisor", "auditor", "admin")
SIGN_IN_FAILED = "auth.sign_in_failed"  # audit action of a refused sign-in (wrong password, unknown name, pause)
UNKNOWN_ACCOUNT = "user:(unknown account)"  # the subject when the name typed is no account: it may be a password
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


def console_secret(pseudonym_key: bytes) -> bytes:
    """The console's HMAC key, derived from the data keyring so every console process agrees on it."""
    return hmac.new(pseudonym_key, b"api-engine console secret", hashlib.sha256).digest()


class Sessions:
    """Server-side sessions keyed by the hash of the cookie token."""

    def __init__(self, store: Store, secret: bytes | None = None) -> None:
        self.store = store
        self.secret = secret if secret is not None else secrets.token_bytes(32)

    def anonymous_csrf(self, token: str) -> str:
        """The sign-in form's CSRF token for a signed-out cookie: derived, not stored."""
        return hmac.new(self.secret, b"sign-in form\x00" + token.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

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


@dataclass(frozen=True)
class SignInPolicy:
    """When signing in pauses, and for how long."""

    account_limit: int = 5  # failures in a row on one account name
    address_limit: int = 20  # failures from one client address, whatever the names (password spraying)
    lockout: timedelta = timedelta(minutes=1)  # the first pause; each further failure doubles it
    max_lockout: timedelta = timedelta(hours=1)
    forget_after: timedelta = timedelta(hours=1)  # failures this long past (and past any pause) are forgotten

    def pause(self, failures: int, limit: int) -> timedelta:
        doubled: timedelta = self.lockout * (1 << min(max(failures - limit, 0), 20))
        return min(doubled, self.max_lockout)


@dataclass(frozen=True)
class SignInOutcome:
    """What a sign-in attempt came to: an account, or a refusal (possibly paused)."""

    account: Account | None
    paused: str | None = None  # "account" or "address" while signing in is paused
    retry_after: int = 0  # seconds until the pause ends
    just_paused: bool = False  # this failure started the pause (the password was checked)


_Key = tuple[str, str, int]  # (row key, scope, limit)


class SignInGuard:
    """Throttles, audits and performs sign-ins through the identity provider."""

    def __init__(self, store: Store, identity: IdentityProvider, auditor: Auditor, secret: bytes,
                 policy: SignInPolicy | None = None, clock: Callable[[], datetime] = now) -> None:
        self.store, self.identity, self.auditor, self.secret = store, identity, auditor, secret
        self.policy = policy or SignInPolicy()
        self.clock = clock

    def account_key(self, name: str) -> str:
        mac = hmac.new(self.secret, b"sign-in name\x00" + name.strip().casefold().encode(), hashlib.sha256)
        return "account:" + mac.hexdigest()

    @staticmethod
    def address_key(address: str) -> str:
        return "address:" + address[:64]

    async def sign_in(self, username: str, password: str, address: str) -> SignInOutcome:
        p, stamp = self.policy, self.clock()
        keys: list[_Key] = [(self.account_key(username), "account", p.account_limit),
                            (self.address_key(address), "address", p.address_limit)]
        paused, until, counts = await self._charge(keys, stamp)
        if paused is not None and until is not None:
            log.info("sign-in refused: reason=paused scope=%s", paused)
            await self._audit(SIGN_IN_FAILED, username, address, {"reason": "paused", "scope": paused})
            return SignInOutcome(None, paused=paused, retry_after=max(1, math.ceil((until - stamp).total_seconds())))
        account = await self.identity.authenticate(self.store, {"username": username, "password": password})
        if account is not None:
            await self._give_back(keys, counts)
            return SignInOutcome(account)
        reason = await self._reason(username)
        log.info("sign-in refused: reason=%s", reason)
        await self._audit(SIGN_IN_FAILED, username, address, {"reason": reason, "failures": counts["account"],
                                                                "address_failures": counts["address"]})
        for _, scope, limit in keys:
            if counts[scope] >= limit:
                seconds = int(p.pause(counts[scope], limit).total_seconds())
                log.warning("sign-in paused: scope=%s seconds=%d", scope, seconds)
                await self._audit("sign_in_lockout", username if scope == "account" else None, address,
                                  {"scope": scope, "failures": counts[scope], "seconds": seconds})
                return SignInOutcome(None, paused=scope, retry_after=seconds, just_paused=True)
        return SignInOutcome(None)

    async def unlock(self, name: str) -> bool:
        """Ends the pause (and forgets the failures) of an account name; True if there was something to clear."""
        async with self.store.transaction() as conn:
            result = await conn.execute(delete(console_signin_failures)
                                        .where(console_signin_failures.c.key == self.account_key(name)))
        return bool(result.rowcount)

    async def _charge(self, keys: list[_Key], stamp: datetime) -> tuple[str | None, datetime | None, dict[str, int]]:
        """Refuses while a pause runs; otherwise counts this attempt as a failure up front (and starts the
        pause once at the limit), so attempts in flight at the same time are counted too."""
        t, p = console_signin_failures, self.policy
        forgotten = stamp - p.forget_after
        async with self.store.transaction() as conn:
            dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
            for key, scope, _ in keys:
                await conn.execute(dialect_insert(t).values(key=key, scope=scope, failures=0, last_failure_at=stamp)
                                   .on_conflict_do_nothing(index_elements=["key"]))
            rows = {r.key: r for r in await conn.execute(
                select(t).where(t.c.key.in_([k for k, _, _ in keys])).order_by(t.c.key).with_for_update())}
            for key, scope, _ in keys:
                until = _aware(rows[key].locked_until)
                if until is not None and until > stamp:
                    return scope, until, {}
            counts: dict[str, int] = {}
            for key, scope, limit in keys:
                row = rows[key]
                until = _aware(row.locked_until)
                stale = _aware(row.last_failure_at) < forgotten and (until is None or until < forgotten)
                counts[scope] = 1 if stale else int(row.failures) + 1
                values: dict[str, Any] = {"failures": counts[scope], "last_failure_at": stamp}
                if counts[scope] >= limit:
                    values["locked_until"] = stamp + p.pause(counts[scope], limit)
                await conn.execute(update(t).where(t.c.key == key).values(**values))
            await conn.execute(delete(t).where(t.c.last_failure_at < forgotten,
                                               or_(t.c.locked_until.is_(None), t.c.locked_until < forgotten)))
        return None, None, counts

    async def _give_back(self, keys: list[_Key], counts: dict[str, int]) -> None:
        """A success: the account's failures are forgotten; the address gets this attempt's charge back."""
        t = console_signin_failures
        (account_key, _, _), (address_key, _, address_limit) = keys
        values: dict[str, Any] = {"failures": case((t.c.failures > 0, t.c.failures - 1), else_=0)}
        if counts["address"] >= address_limit:  # the pause this attempt started in advance
            values["locked_until"] = None
        async with self.store.transaction() as conn:
            await conn.execute(delete(t).where(t.c.key == account_key))
            await conn.execute(update(t).where(t.c.key == address_key).values(**values))

    async def _reason(self, username: str) -> str:
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(console_users.c.active, console_users.c.identity_provider)
                                      .where(console_users.c.name == username))).first()
        if row is None:
            return "unknown user"
        if not row.active:
            return "account disabled"
        return "wrong password" if row.identity_provider == self.identity.name else "other identity provider"

    async def _audit(self, action: str, username: str | None, address: str, details: dict[str, Any]) -> None:
        """Failures are audited when the trail is there; a missing trail must not turn a refusal into a 500.
        The subject names an existing account only: a mistyped name may be someone's password."""
        if username is None:
            subject = f"address:{address[:64]}"
        else:
            subject = f"user:{username}" if await self._reason(username) != "unknown user" else UNKNOWN_ACCOUNT
        try:
            await self.auditor.record(actor="(not signed in)", action=action, subject=subject, purpose="access",
                                      details={"client_ip": address[:64], **details})
        except AuditUnavailable:
            log.error("sign-in failure not audited: action=%s (audit trail unavailable)", action)


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
