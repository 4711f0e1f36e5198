"""`api-engine users`: create and list console accounts (add, list, disable, enable).

Strategy: the same rules as the admin page (api_engine.console.users). The password is read from
stdin with --password-stdin (for scripts) or asked twice on the terminal; it is never an argument,
so it does not land in shell history or the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from api_engine.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("users", help="manage console accounts", description="Manage console accounts.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("officer", "supervisor", "auditor", "admin"))
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    actions.add_parser("list", help="list accounts")
    for verb in ("disable", "enable"):
        a = actions.add_parser(verb, help=f"{verb} an account")
        a.add_argument("name")
    p.set_defaults(func=run)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise ValueError("the passwords differ")
    return first


async def _run(args: argparse.Namespace) -> int:
    from api_engine.console.users import AccountError, add_user, list_users, set_active
    from api_engine.store import Store

    store = await Store.open(Settings().effective_database_url)
    try:
        if args.action == "add":
            try:
                account = await add_user(store, args.name, args.role, _password(args.password_stdin))
            except (AccountError, ValueError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(f"created {account.name} ({account.role})")
        elif args.action == "list":
            for a in await list_users(store):
                print(f"{a.name}\t{a.role}\t{a.identity_provider}\t{'active' if a.active else 'disabled'}")
        else:
            try:
                await set_active(store, args.name, args.action == "enable")
            except AccountError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(f"{args.name} {args.action}d")
        return 0
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
