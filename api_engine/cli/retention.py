"""`api-engine retention run [--dry-run] [--now ISO-8601]`.

Strategy: a thin shell over `api_engine.protection.retention.run_retention` on the configured
store. `--now` moves the clock (what-if runs); a clock later than the real one would delete data not
due yet, so it is refused unless `--allow-future-now REASON` states why (audited before anything is
deleted). `--dry-run` counts what is due and changes nothing (and says so in the audit trail); with
no store at the configured path it says so and exits 1 instead of creating a store, a key and an entry.
Output and logs hold counts, never data. Exit status: 0 done, 1 no store to dry-run on, 2 usage
problems or a refused clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api_engine.cli.options import add_store_options, refuse_missing_store, store_settings
from api_engine.settings import Settings

EXIT_OK, EXIT_NO_STORE, EXIT_USAGE = 0, 1, 2


def _common(p: argparse.ArgumentParser) -> None:
    add_store_options(p)
    p.add_argument("--batch-size", type=int, default=2000, help="rows per transaction (default 2000)")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("retention", help="apply the retention policy (depersonalise, delete)",
                       description="Depersonalise and delete stored data as the retention policy says.")
    add_store_options(p)
    rsub = p.add_subparsers(dest="retention_command", metavar="ACTION")
    rsub.required = True
    run = rsub.add_parser("run", help="run the retention job once")
    _common(run)
    run.add_argument("--dry-run", action="store_true", help="count what is due; change nothing")
    run.add_argument("--now", help="the clock, ISO-8601 (default: now); later than the real clock only with "
                                   "--allow-future-now")
    run.add_argument("--allow-future-now", metavar="REASON",
                     help="run on a --now later than the real clock, for this stated reason (audited)")
    run.add_argument("--policy", type=Path, help="policy TOML (default: API_ENGINE_RETENTION_POLICY or packaged)")
    run.set_defaults(func=run_retention_cmd)


def _parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _run(settings: Settings, now: datetime, dry_run: bool, policy_path: Path | None, batch: int,
               override: str | None) -> int:
    from api_engine.protection.crypto import check_keyring, keyring_from_settings
    from api_engine.protection.retention import ClockRefused, check_clock, load_policy, run_retention
    from api_engine.store import Store

    try:  # before the store is even opened: a refused clock changes nothing
        check_clock(now, override)
    except ClockRefused as exc:
        print(f"retention run refused: {exc}", file=sys.stderr)
        return EXIT_USAGE
    policy = load_policy(policy_path or settings.retention_policy)
    store = await Store.open(settings.effective_database_url)
    try:
        ring = keyring_from_settings(settings)
        await check_keyring(store, ring)
        report = await run_retention(store, policy, now=now, dry_run=dry_run, batch_size=batch, keyring=ring,
                                     actor="retention-cli", clock_override=override)
    finally:
        await store.close()
    print(json.dumps({"now": report.now.isoformat(), "dry_run": report.dry_run, "counts": report.counts,
                      "batches": report.batches, "run": report.run,
                      "clock_override": report.clock_override is not None}, sort_keys=True))
    return EXIT_OK


def run_retention_cmd(args: argparse.Namespace) -> int:
    try:
        now = _parse_now(args.now)
    except ValueError:
        print(f"--now: not an ISO-8601 time: {args.now!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.batch_size < 1:
        print("--batch-size must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    settings = store_settings(args)
    if args.dry_run and refuse_missing_store(settings, "retention run --dry-run"):
        return EXIT_NO_STORE
    return asyncio.run(_run(settings, now, args.dry_run, args.policy, args.batch_size, args.allow_future_now))

