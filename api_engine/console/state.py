"""What every request of the console shares: store, sessions, sign-in guard, audit, lists, live streams.

Strategy: one object on `app.state.console`, built by the app's lifespan (or handed in by a test
with its own store), so routes never reach for globals. Live-queue streams are counted here per
session and per account: each one polls the store, so an unbounded number would slow everyone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.templating import Jinja2Templates

from api_engine.protection.crypto import Keyring
from api_engine.settings import Settings
from api_engine.store import Store

from .auditing import Auditor
from .auth import IdentityProvider, Sessions, SignInGuard, SignInPolicy
from .catalog import Catalog

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ConsoleConfig:
    """Console knobs that are not service settings."""

    poll_interval_s: float = 1.0  # how often the live queue looks at the store
    cookie_secure: bool = False  # set True behind TLS (the CLI does with --certfile, or --secure-cookies)
    list_dir: Path | None = None  # where accepted uploads are kept (default: data_dir/watchlists)
    signin: SignInPolicy = field(default_factory=SignInPolicy)
    streams_per_session: int = 3  # a few browser tabs
    streams_per_account: int = 6  # the same officer on a second machine


class TooManyStreams(Exception):
    """A session (or account) already holds as many live-queue streams as allowed: 429."""


@dataclass
class StreamLimiter:
    """Counts open live-queue streams; `acquire` returns an idempotent release."""

    per_session: int
    per_account: int
    sessions: Counter[str] = field(default_factory=Counter)
    accounts: Counter[int] = field(default_factory=Counter)

    def acquire(self, session: str, account: int) -> Callable[[], None]:
        if self.sessions[session] >= self.per_session:
            raise TooManyStreams(f"this session already has {self.per_session} live queues open; "
                                 "close a tab or window showing the alert queue")
        if self.accounts[account] >= self.per_account:
            raise TooManyStreams(f"this account already has {self.per_account} live queues open; "
                                 "close some of them first")
        self.sessions[session] += 1
        self.accounts[account] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.sessions[session] -= 1
                self.accounts[account] -= 1
                if self.sessions[session] <= 0:
                    del self.sessions[session]
                if self.accounts[account] <= 0:
                    del self.accounts[account]

        return release


@dataclass
class ConsoleState:
    settings: Settings
    config: ConsoleConfig
    store: Store
    sessions: Sessions
    identity: IdentityProvider
    auditor: Auditor
    catalog: Catalog
    templates: Jinja2Templates
    keyring: Keyring  # identifying traveller fields are encrypted at rest (api_engine.protection.crypto)
    guard: SignInGuard
    streams: StreamLimiter
