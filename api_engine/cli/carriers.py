"""`api-engine carriers add|list|revoke`: the bearer tokens carriers use on the HTTPS iAPI endpoint.

Strategy: a thin shell over `api_engine.service.carriers` on the configured store. `add` prints the
token once, as the last word of its output (so `... | awk '{print $NF}'` hands it to a secret store);
only its hash is kept, so a lost token is revoked and replaced, never shown again. `list` shows token
ids (a hash prefix), never a token. Every change is audited with the operating-system user as actor
(`cli:<user>`). Exit status: 0 done; 1 nothing to revoke, an ambiguous id or a bad sender id.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from api_engine.cli.options import add_store_options, store_settings
from api_engine.settings import Settings

EXIT_OK, EXIT_FAILED = 0, 1


def add_parser(sub: Any) -> None:
    p = sub.add_parser("carriers", help="bearer tokens of carriers on the HTTPS iAPI endpoint",
                       description="Make, list and revoke the bearer tokens carriers present on "
                                   "POST /iapi/v1/paxlst. A token is bound to one UNB sender id.")
    csub = p.add_subparsers(dest="carriers_command", metavar="ACTION")
    csub.required = True
    add = csub.add_parser("add", help="make a token for the carrier sending as SENDER (printed once, last word)")
    add.add_argument("sender", metavar="SENDER", help="the UNB sender id (S002 0004) the carrier writes")
    add_store_options(add)
    add.set_defaults(func=run_add)
    lst = csub.add_parser("list", help="tokens: sender, token id, created, revoked (never a token)")
    add_store_options(lst)
    lst.set_defaults(func=run_list)
    rev = csub.add_parser("revoke", help="revoke one token (TOKEN_ID) or every active token of SENDER")
    rev.add_argument("what", metavar="SENDER|TOKEN_ID")
    add_store_options(rev)
    rev.set_defaults(func=run_revoke)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli:unknown"


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


async def _with_store(settings: Settings, action: str, args: argparse.Namespace) -> int:
    from api_engine.service.carriers import CarrierTokenError, add_token, list_tokens, revoke_tokens
    from api_engine.store import Store

    store = await Store.open(settings.effective_database_url)
    try:
        if action == "add":
            token, made = await add_token(store, args.sender, actor=_actor())
            print(f"token {made.token_id} for carrier {made.sender} (shown once, keep it secret): {token}")
        elif action == "list":
            rows = await list_tokens(store)
            print("SENDER\tTOKEN_ID\tCREATED\tCREATED_BY\tREVOKED")
            for t in rows:
                revoked = f"{_when(t.revoked_at)} by {t.revoked_by}" if t.revoked_at else "-"
                print(f"{t.sender}\t{t.token_id}\t{_when(t.created_at)}\t{t.created_by}\t{revoked}")
        else:
            for t in await revoke_tokens(store, args.what, actor=_actor()):
                print(f"revoked token {t.token_id} of carrier {t.sender}")
        return EXIT_OK
    except CarrierTokenError as exc:
        print(f"api-engine carriers {action}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await store.close()


def run_add(args: argparse.Namespace) -> int:
    return asyncio.run(_with_store(store_settings(args), "add", args))


def run_list(args: argparse.Namespace) -> int:
    return asyncio.run(_with_store(store_settings(args), "list", args))


def run_revoke(args: argparse.Namespace) -> int:
    return asyncio.run(_with_store(store_settings(args), "revoke", args))
