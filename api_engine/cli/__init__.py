"""The `api-engine` command line: one entry point, one module per subcommand, named after it.

Strategy: argparse (exit status 2 on usage errors, as the commands promise); each subcommand
module exposes `add_parser(subparsers)` and sets `func` to a function returning the exit status.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

_SUBCOMMANDS = (
    "api_engine.cli.parse",
    "api_engine.cli.screen",
    "api_engine.cli.serve",
    "api_engine.cli.demo",
    "api_engine.cli.ingest",
    "api_engine.cli.conformance",
    "api_engine.cli.retention",
    "api_engine.cli.keys",
    "api_engine.cli.audit",
    "api_engine.cli.console",
    "api_engine.cli.users",
    "api_engine.cli.lists",
    "api_engine.cli.carriers",
    "api_engine.cli.rules",
    "api_engine.cli.backup",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="api-engine",
        description="Advance Passenger Information processor: read, validate and screen PAXLST manifests.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _SUBCOMMANDS:
        module = importlib.import_module(name)
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status

