"""Options several commands share: where the store is.

Strategy: a command that opens the store takes `--data-dir` and `--database-url` on top of the
environment's settings (`Settings.with_overrides`: only options actually given win).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from api_engine.settings import Settings


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="data directory (default: API_ENGINE_DATA_DIR or ./data)")
    p.add_argument("--database-url", help="database URL (default: SQLite under the data directory)")


def store_settings(args: argparse.Namespace) -> Settings:
    return Settings.with_overrides(data_dir=args.data_dir, database_url=args.database_url)
