"""`api-engine rules`: check rule files, and propose, approve, reject, retire and compare stored rule sets.

Strategy: `check` needs no store (a rule author's loop: exit 1 with `FILE:line:col: message`, as compilers
print it, so editors jump to the spot). Every other action goes through `RuleBook` (api_engine.service.rules),
the same code the console will use: four eyes (the approver is a second supervisor), and the audit entry in
the same transaction as the change. `--by` names the console account acting; `activate` is `approve`.
Exit status: 0 done, 1 refused (a rule error, not a supervisor, four eyes, wrong status), 2 usage problems.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from api_engine.cli.options import add_store_options, refuse_missing_store, store_settings

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rules", help="targeting rules: check files; propose, approve and retire rule sets",
                       description="Check rule files, and manage the rule sets the service evaluates "
                                   "(four eyes: a second supervisor approves).")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    check = actions.add_parser("check", help="parse a rule file (exit 1 with FILE:line:col: message)")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--input", choices=("paxlst", "jsonl"), default="paxlst",
                       help="the input the rules will read (default: paxlst)")
    check.add_argument("--profile", metavar="NAME", help="country profile whose rule policy applies")

    listing = actions.add_parser("list", help="every stored version of every rule set")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    add_store_options(listing)

    propose = actions.add_parser("propose", help="store a rule file as the next version of a rule set (pending)")
    propose.add_argument("file", type=Path, metavar="FILE")
    propose.add_argument("--name", required=True, help="rule set name (alerts name it as list rules:NAME)")
    propose.add_argument("--owner", required=True, help="the unit answerable for these rules")
    propose.add_argument("--purpose", required=True, help="what the rules are for")
    propose.add_argument("--legal-basis", required=True, help="the law that allows them")
    propose.add_argument("--by", required=True, metavar="USER", help="the proposing supervisor's console account")
    add_store_options(propose)

    for verb, text in (("approve", "make a pending version active (a supervisor other than its proposer)"),
                       ("activate", "the same as approve"),
                       ("reject", "turn a pending version down")):
        a = actions.add_parser(verb, help=text)
        a.add_argument("id", type=int, metavar="ID")
        a.add_argument("--by", required=True, metavar="USER", help="the deciding supervisor's console account")
        add_store_options(a)

    retire = actions.add_parser("retire", help="stop the active version of a rule set")
    retire.add_argument("name", metavar="NAME")
    retire.add_argument("--by", required=True, metavar="USER", help="the supervisor's console account")
    add_store_options(retire)

    diff = actions.add_parser("diff", help="a version against the rule set's previous version (unified diff)")
    diff.add_argument("id", type=int, metavar="ID")
    add_store_options(diff)
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> int:
    from api_engine.service.rules import parse_rule_text, rule_error_message
    from watchlists.rules import RuleError

    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"api-engine rules: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        rules = parse_rule_text(text, inputs=(args.input,), profile=args.profile)
    except RuleError as exc:
        print(f"{args.file}:{exc.line}:{exc.col}: {rule_error_message(exc)}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"{args.file}: {len(rules.rules)} rule(s), no errors")
    return EXIT_OK


def _row(v: Any) -> str:
    decided = v.approved_by or v.rejected_by or ""
    return (f"{v.id}\t{v.name}\tv{v.version}\t{v.status}\tproposed by {v.proposed_by}"
            + (f"\tdecided by {decided}" if decided else "") + (f"\tretired by {v.retired_by}" if v.retired_by else ""))


async def _stored(args: argparse.Namespace) -> int:
    from api_engine.service.rules import RuleBook, RuleBookError, rule_error_message
    from api_engine.store import Store
    from watchlists.rules import RuleError

    text = None
    if args.action == "propose":
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"api-engine rules: cannot read {args.file}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    settings = store_settings(args)
    if args.action in ("list", "diff") and refuse_missing_store(settings, f"rules {args.action}"):
        return EXIT_REFUSED  # reading creates nothing: no store, no key, no audit entry
    store = await Store.open(settings.effective_database_url)
    book = RuleBook(store)
    try:
        if args.action == "list":
            for v in await book.list():
                print(json.dumps(v.summary(), sort_keys=True) if args.json else _row(v))
        elif args.action == "diff":
            sys.stdout.write(await book.diff(args.id))
        elif args.action == "propose":
            assert text is not None
            v = await book.propose(args.name, text, args.owner, args.purpose, args.legal_basis, args.by)
            print(f"proposed {v.label} (id {v.id}): pending until a second supervisor approves it")
        elif args.action in ("approve", "activate"):
            v = await book.approve(args.id, args.by)
            print(f"{v.label} (id {v.id}) is active; the workers take it up within seconds")
        elif args.action == "reject":
            v = await book.reject(args.id, args.by)
            print(f"{v.label} (id {v.id}) rejected")
        elif args.action == "retire":
            v = await book.retire(args.name, args.by)
            print(f"{v.label} (id {v.id}) retired")
    except RuleError as exc:
        print(f"{args.file}:{exc.line}:{exc.col}: {rule_error_message(exc)}", file=sys.stderr)
        return EXIT_REFUSED
    except RuleBookError as exc:
        print(f"api-engine rules: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        await store.close()
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.action == "check":
        return _check(args)
    return asyncio.run(_stored(args))
