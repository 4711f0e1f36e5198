"""The `api-engine` command line: one entry point, one module per subcommand.

Strategy: argparse (exit status 2 on usage errors, as the commands promise); each subcommand
module exposes `add_parser(subparsers)` and sets `func` to a function returning the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

_SUBCOMMANDS = (
    "api_engine.parse_cmd",
    "api_engine.screen_cli",
    "api_engine.serve_cmd",
    "api_engine.demo_cmd",
    "api_engine.ingest_cmd",
    "api_engine.conformance_cmd",
    "api_engine.retention_cmd",
    "api_engine.audit_cmd",
    "api_engine.console_cmd",
    "api_engine.users_cmd",
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


if __name__ == "__main__":
    sys.exit(main())
