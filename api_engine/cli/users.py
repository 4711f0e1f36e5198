"""`api-engine users`: manage console accounts (add, list, disable, enable, unlock).

Strategy: the same rules as the admin page (api_engine.console.users): the same password policy,
the last active admin stays, and every change goes to the audit trail with the operating-system
user as actor (`cli:<user>`), refused when the trail is missing. The password is read from stdin
with --password-stdin (for scripts) or asked twice on the terminal; it is never an argument, so it
does not land in shell history or the process list. With no terminal to ask on (cron, CI, a pipe
without --password-stdin) `add` says to use --password-stdin and exits 2 before touching the store.
`list` only reads: with no store at the configured path it says so and exits 1 instead of creating one.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from api_engine.cli.options import add_store_options, refuse_missing_store, store_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_NO_TERMINAL = ("api-engine users add: no terminal to ask for the password on; "
                "pipe it in with --password-stdin")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("users", help="manage console accounts", description="Manage console accounts.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    add = actions.add_parser("add", help="create an account (at least 12 characters, not a common password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("officer", "supervisor", "auditor", "admin"))
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    add_store_options(add)
    add_store_options(actions.add_parser("list", help="list accounts"))
    for verb, text in (("disable", "disable an account"), ("enable", "enable an account"),
                       ("unlock", "end a sign-in pause after repeated wrong passwords")):
        a = actions.add_parser(verb, help=text)
        a.add_argument("name")
        add_store_options(a)
    p.set_defaults(func=run)


def _can_ask() -> bool:
    """Whether getpass has a terminal: it asks on the controlling terminal, else on stdin."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return sys.stdin is not None and sys.stdin.isatty()
    os.close(fd)
    return True


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise ValueError("the passwords differ")
    return first


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli:unknown"


async def _run(args: argparse.Namespace) -> int:
    from api_engine.console.auditing import Auditor, AuditUnavailable
    from api_engine.console.auth import LocalPasswords, SignInGuard, console_secret
    from api_engine.console.users import AccountError, add_user, change, list_users
    from api_engine.protection.crypto import keyring_from_settings
    from api_engine.store import Store

    settings = store_settings(args)
    store = await Store.open(settings.effective_database_url)
    auditor = Auditor(store)
    try:
        if args.action == "list":
            for a in await list_users(store):
                print(f"{a.name}\t{a.role}\t{a.identity_provider}\t{'active' if a.active else 'disabled'}")
            return 0
        try:
            if args.action == "add":
                auditor.trail  # noqa: B018  # no account without its audit entry
                try:
                    password = _password(args.password_stdin)
                except EOFError:  # getpass fell back to an empty stdin
                    print(_NO_TERMINAL, file=sys.stderr)
                    return EXIT_USAGE
                account = await add_user(store, args.name, args.role, password, auditor=auditor, actor=_actor(),
                                         via="cli")
                print(f"created {account.name} ({account.role})")
            else:
                guard = SignInGuard(store, LocalPasswords(), auditor,
                                    console_secret(keyring_from_settings(settings).pseudonym_key))
                await change(store, guard, auditor, _actor(), args.name, args.action)
                print(f"{args.name} {args.action}ed" if args.action == "unlock" else f"{args.name} {args.action}d")
        except (AccountError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except AuditUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    if args.action == "add" and not args.password_stdin and not _can_ask():
        print(_NO_TERMINAL, file=sys.stderr)
        return EXIT_USAGE
    if args.action == "list" and refuse_missing_store(store_settings(args), "users list"):
        return EXIT_FAILED
    return asyncio.run(_run(args))
