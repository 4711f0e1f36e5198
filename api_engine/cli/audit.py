"""`api-engine audit verify|recent`: check the hash chain of the audit trail, or list its newest entries.

Strategy: a thin shell over `api_engine.protection.audit.AuditTrail` on the configured store. `verify` prints the
number of entries and the head hash (record it elsewhere to anchor the chain) and exits 0 when the
chain is intact, 1 naming the first broken entry, 2 on usage problems. When retention has pruned
the oldest entries it says which, when, and by which run (actor, run id, clock, override). Output holds references only:
the trail never contains personal data. Both actions only read: with no store at the configured path they
say so and exit 1 rather than create one. The store options are taken before or after the action.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from api_engine.cli.options import add_store_options, refuse_missing_store, store_settings
from api_engine.settings import Settings

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any) -> None:
    p = sub.add_parser("audit", help="verify or list the hash-chained audit trail",
                       description="Verify the audit trail's hash chain, or list its newest entries.")
    add_store_options(p)
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION")
    asub.required = True
    v = asub.add_parser("verify", help="check the chain; exit 1 naming the first broken entry")
    add_store_options(v)
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(func=run_verify)
    r = asub.add_parser("recent", help="print the newest entries as JSON Lines")
    add_store_options(r)
    r.add_argument("--limit", type=int, default=20)
    r.add_argument("--action", help="only entries of this action (e.g. retention.run)")
    r.set_defaults(func=run_recent)


async def _verify(settings: Settings, as_json: bool) -> int:
    from api_engine.protection.audit import AuditTrail
    from api_engine.store import Store

    store = await Store.open(settings.effective_database_url)
    try:
        result = await AuditTrail(store).verify()
    finally:
        await store.close()
    if as_json:
        p = result.pruned_by
        print(json.dumps({"ok": result.ok, "entries": result.entries, "first_broken": result.first_broken,
                          "problem": result.problem, "head_hash": result.head_hash,
                          "pruned_through": result.pruned_through,
                          "pruned": None if p is None else {"at": p.at.isoformat(), "actor": p.actor, "record": p.seq,
                                                            **p.details}}))
    elif result.ok:
        print(f"audit trail intact: {result.entries} entries checked; head {result.head_hash}")
        if result.pruned_through:
            print(f"anchor: {result.anchor_text()}")
    else:
        print(f"audit trail BROKEN at entry {result.first_broken}: {result.problem} "
              f"({result.entries} entries verified before it)", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_BROKEN


async def _recent(settings: Settings, limit: int, action: str | None) -> int:
    from api_engine.protection.audit import AuditTrail
    from api_engine.store import Store

    store = await Store.open(settings.effective_database_url)
    try:
        entries = await AuditTrail(store).recent(limit, action=action)
    finally:
        await store.close()
    for e in entries:
        print(json.dumps({"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                          "subject": e.subject, "purpose": e.purpose, "reason": e.reason, "details": e.details,
                          "hash": e.hash}, ensure_ascii=False))
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    settings = store_settings(args)
    if refuse_missing_store(settings, "audit verify"):
        return EXIT_BROKEN
    return asyncio.run(_verify(settings, args.json))


def run_recent(args: argparse.Namespace) -> int:
    if args.limit < 1:
        print("--limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    settings = store_settings(args)
    if refuse_missing_store(settings, "audit recent"):
        return EXIT_BROKEN
    return asyncio.run(_recent(settings, args.limit, args.action))
