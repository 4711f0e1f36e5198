"""Options several commands share: where the store is.

Strategy: a command that opens the store takes `--data-dir` and `--database-url` on top of the
environment's settings (`Settings.with_overrides`: only options actually given win). The options
are accepted after the last word of the command (`audit verify --data-dir X`, like `retention run
--data-dir X`); a command that took them before its action keeps accepting them there too. They
default to "not given" (argparse.SUPPRESS) so that an action's parser does not overwrite with None
what was given to its parent. Read-only commands ask `missing_store` first: opening a store creates
it, and a look at a mistyped path must not leave a new database, key or audit entry behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from api_engine.settings import Settings


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                   help="data directory (default: API_ENGINE_DATA_DIR or ./data)")
    p.add_argument("--database-url", default=argparse.SUPPRESS,
                   help="database URL (default: SQLite under the data directory)")


def store_settings(args: argparse.Namespace) -> Settings:
    return Settings.with_overrides(data_dir=getattr(args, "data_dir", None),
                                   database_url=getattr(args, "database_url", None))


def missing_store(settings: Settings) -> Path | None:
    """The SQLite file the settings point at when it does not exist yet; None when it does or is a server."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    return None if path.exists() else path


def refuse_missing_store(settings: Settings, command: str) -> bool:
    """Say so and return True when there is no store to read; the caller then exits 1."""
    path = missing_store(settings)
    if path is None:
        return False
    print(f"api-engine {command}: no store at {path} (nothing created; give --data-dir or --database-url "
          "of an existing store)", file=sys.stderr)
    return True
