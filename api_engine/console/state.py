"""What every request of the console shares: store, sessions, identity provider, audit, lists.

Strategy: one object on `app.state.console`, built by the app's lifespan (or handed in by a test
with its own store), so routes never reach for globals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.templating import Jinja2Templates

from api_engine.protection.crypto import Keyring
from api_engine.settings import Settings
from api_engine.store import Store

from .auditing import Auditor
from .auth import IdentityProvider, Sessions
from .catalog import Catalog

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ConsoleConfig:
    """Console knobs that are not service settings."""

    poll_interval_s: float = 1.0  # how often the live queue looks at the store
    cookie_secure: bool = False  # set True behind TLS (the CLI's --secure-cookies)
    list_dir: Path | None = None  # where accepted uploads are kept (default: data_dir/watchlists)


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
