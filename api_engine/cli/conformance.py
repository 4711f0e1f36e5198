"""`api-engine conformance ...`: certify carrier files, test a live system, generate data, manage profiles.

Strategy: a thin shell over the `conformance` package. It owns the I/O (reading files and
directories with `parse_cmd`'s helpers, writing reports, talking to Kafka through the runner)
and the exit status: 0 pass, 1 fail, 2 usage problems (bad arguments, unknown profile or suite,
unreadable files). Every sub-command that judges something can print the terminal table
(default) or JSON, and write JUnit XML and a self-contained HTML page next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from api_engine.cli.parse import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, expand_inputs, read_source
from parsers.profile import ProfileError, list_profiles, load_profile, load_profile_file


def _add_report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    p.add_argument("--junit", metavar="FILE", type=Path, help="also write JUnit XML (one testcase per file/case)")
    p.add_argument("--html", metavar="FILE", type=Path, help="also write one self-contained HTML page")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("conformance", help="conformance kit: check carrier files, test a live system, generate data",
                       description="Certify carrier messages against a country profile, run the conformance "
                       "suite against a live system over Kafka, generate synthetic manifests, list and "
                       "validate profiles. Exit status 0: pass; 1: fail; 2: usage problem.")
    cs = p.add_subparsers(dest="conformance_command", metavar="SUBCOMMAND")
    cs.required = True

    c = cs.add_parser("check", help="certify carrier sample messages against a profile",
                      description="Report per file and per rule (id, implementation-guide reference, severity, "
                      "segment, offending text, fix) and a verdict. Multi-part lists are assembled across "
                      "all files given.")
    c.add_argument("files", nargs="*", metavar="FILE|DIR", help="message files or directories")
    c.add_argument("--profile", default="baseline", help="profile name or TOML file (default: baseline)")
    c.add_argument("--suite", metavar="NAME|DIR", help="instead of files: evaluate a conformance suite offline")
    _add_report_options(c)
    c.set_defaults(func=run_check)

    r = cs.add_parser("run", help="black-box test of a running system over Kafka",
                      description="Produce every suite case to the inbound topic and check the acks, alerts, "
                      "manifests and dead letters that come back. The system must screen against the bundled "
                      "test watchlist (conformance/data/test-watchlist.csv). With --iapi: play a carrier's "
                      "check-in sequences (request, listed traveller, resend, CP, CLOB, XF, 132 -> 312) instead.")
    r.add_argument("--bootstrap", required=True, metavar="HOST:PORT", help="Kafka bootstrap servers")
    r.add_argument("--suite", default=None, metavar="NAME|DIR", help="suite (default: the newest, baseline-2)")
    r.add_argument("--profile", default="baseline",
                   help="profile the system under test runs: selects each case's expectation (default: baseline)")
    r.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds to wait for answers")
    r.add_argument("--after-ack", type=float, default=10.0, metavar="S",
                   help="seconds a case whose inputs are acknowledged waits for its other events (default 10)")
    r.add_argument("--case", action="append", default=None, metavar="ID", help="run only this case (repeatable)")
    r.add_argument("--run-tag", default=None, help="tag appended to UNB senders (default: random)")
    for name, default in (("inbound", "api.inbound"), ("acks", "api.acks"), ("alerts", "border.alerts"),
                          ("manifests", "border.manifests"), ("dlq", "api.dlq")):
        r.add_argument(f"--topic-{name}", default=default, help=f"topic name (default: {default})")
    iapi = r.add_argument_group("carrier simulator (--iapi)")
    iapi.add_argument("--iapi", action="store_true",
                      help="run the iAPI carrier simulator's cases instead of the suite (--case selects them)")
    iapi.add_argument("--listed-name", metavar="SURNAME:GIVEN:YYMMDD",
                      help="the listed traveller to plant (default: the first of the bundled test watchlist)")
    iapi.add_argument("--watchlist", metavar="FILE", type=Path,
                      help="plant the first individual of this national list file (CSV) instead")
    iapi.add_argument("--budget", type=float, default=4.0, metavar="S",
                      help="seconds a request's answer may take (default: 4)")
    iapi.add_argument("--change-timeout", type=float, default=30.0, metavar="S",
                      help="seconds to wait for a government change (CUSRES 132) before skipping that case "
                      "(default: 30)")
    iapi.add_argument("--travellers", type=int, default=3, metavar="N",
                      help="clean travellers per request (default: 3)")
    iapi.add_argument("--sender", default="IAPISIM", help="UNB sender (the run tag is appended; default: IAPISIM)")
    _add_report_options(r)
    r.set_defaults(func=run_run)

    g = cs.add_parser("generate", help="write synthetic manifests with planted hits and chosen defects")
    g.add_argument("--profile", default="baseline", help="profile the data is meant for (default: baseline)")
    g.add_argument("--flights", type=int, required=True, help="number of flights")
    g.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    g.add_argument("--plant-hits", type=int, default=0, metavar="K", help="travellers taken from the test watchlist")
    g.add_argument("--defects", default="", metavar="LIST",
                   help="comma-separated defects, one per flight from the first (see --list-defects)")
    g.add_argument("--max-per-part", type=int, default=15, help="travellers per part (0: no splitting)")
    g.add_argument("--travellers", default="20-60", metavar="LO-HI", help="travellers per flight")
    g.add_argument("--out", type=Path, required=False, help="output directory")
    g.add_argument("--list-defects", action="store_true", help="list the defects and exit")
    g.set_defaults(func=run_generate)

    pr = cs.add_parser("profiles", help="list profiles, or validate a profile file",
                       description="List the shipped profiles, or validate a team's own profile file "
                       "(errors name the file, the line and what is wrong).")
    pr.add_argument("--validate", metavar="FILE", type=Path, action="append", help="profile file to validate")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=run_profiles)


# Files in a directory that are documentation or reports, not messages (files named explicitly are always read).
_NOT_MESSAGES = frozenset({".md", ".json", ".toml", ".html", ".xml", ".csv", ".png"})


def message_files(items: list[str]) -> list[str]:
    """`parse_cmd.expand_inputs`, minus the notes and reports that sit beside sample messages."""
    explicit = {i for i in items if not Path(i).is_dir()}
    return [n for n in expand_inputs(items) if n in explicit or Path(n).suffix.lower() not in _NOT_MESSAGES]


def _usage(msg: str) -> int:
    print(f"api-engine conformance: {msg}", file=sys.stderr)
    return EXIT_USAGE


def _emit(report: Any, args: argparse.Namespace) -> int:
    from conformance.report import print_terminal, to_html, to_json, to_junit

    written = []
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(to_junit(report), encoding="utf-8")
        written.append(("JUnit XML", args.junit))
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(to_html(report), encoding="utf-8")
        written.append(("HTML report", args.html))
    if args.json:
        print(to_json(report))
    else:
        print_terminal(report)
    for what, path in written:  # on stderr: --json keeps stdout one JSON document
        print(f"{what} written to {path}", file=sys.stderr)
    return EXIT_OK if report.passed else EXIT_FINDINGS


def run_check(args: argparse.Namespace) -> int:
    from conformance.check import check_inputs, check_suite_offline
    from conformance.suite import SuiteError, load_suite

    try:
        if args.suite:
            if args.files:
                return _usage("give either files or --suite, not both")
            suite = load_suite(args.suite)
            profile = load_profile(args.profile)
            report = check_suite_offline(suite, profile.name,
                                         profile_override=args.profile if profile.source and (
                                             "/" in args.profile or args.profile.endswith(".toml")) else None)
        else:
            if not args.files:
                return _usage("check needs FILE|DIR arguments (or --suite)")
            profile = load_profile(args.profile)
            names = message_files(args.files)
            report = check_inputs([(n, read_source(n)) for n in names], profile)
    except (UsageError, ProfileError, SuiteError, OSError) as exc:
        return _usage(str(exc))
    return _emit(report, args)


def run_iapi_cases(args: argparse.Namespace) -> int:
    from conformance.iapi import IapiError, IapiOptions, IapiTopics, listed_from_file, listed_from_name, run_iapi

    if args.suite:
        return _usage("--iapi runs the carrier simulator's cases, not a suite: drop --suite")
    if args.listed_name and args.watchlist:
        return _usage("give either --listed-name or --watchlist, not both")
    if min(args.timeout, args.budget, args.change_timeout) <= 0 or not 1 <= args.travellers <= 99:
        return _usage("--timeout, --budget and --change-timeout must be positive, --travellers 1..99")
    try:
        listed = (listed_from_name(args.listed_name) if args.listed_name
                  else listed_from_file(args.watchlist) if args.watchlist else None)
        opts = IapiOptions(budget_s=args.budget, timeout_s=args.timeout, change_timeout_s=args.change_timeout,
                           listed=listed, travellers=args.travellers, sender=args.sender, run_tag=args.run_tag,
                           case_ids=args.case, topics=IapiTopics(inbound=args.topic_inbound, acks=args.topic_acks))
    except IapiError as exc:
        return _usage(str(exc))
    try:
        report = asyncio.run(run_iapi(args.bootstrap, opts))
    except IapiError as exc:
        return _usage(str(exc))
    except Exception as exc:  # a broker we cannot reach is the caller's setup problem, not a verdict
        return _usage(f"cannot run against {args.bootstrap}: {type(exc).__name__}: {exc}")
    return _emit(report, args)


def run_run(args: argparse.Namespace) -> int:
    from conformance.runner import Topics, run_suite

    if args.iapi:
        return run_iapi_cases(args)
    from conformance.suite import DEFAULT_SUITE, SuiteError, load_suite

    try:
        suite = load_suite(args.suite or DEFAULT_SUITE)
    except SuiteError as exc:
        return _usage(str(exc))
    if args.timeout <= 0 or args.after_ack <= 0:
        return _usage("--timeout and --after-ack must be positive")
    topics = Topics(inbound=args.topic_inbound, acks=args.topic_acks, alerts=args.topic_alerts,
                    manifests=args.topic_manifests, dlq=args.topic_dlq)
    try:
        report = asyncio.run(run_suite(args.bootstrap, suite, profile=args.profile, timeout_s=args.timeout,
                                       topics=topics, run_tag=args.run_tag, case_ids=args.case,
                                       after_ack_s=args.after_ack))
    except Exception as exc:  # a broker we cannot reach is the caller's setup problem, not a verdict
        return _usage(f"cannot run against {args.bootstrap}: {type(exc).__name__}: {exc}")
    return _emit(report, args)


def run_generate(args: argparse.Namespace) -> int:
    from conformance.defects import DEFECTS
    from conformance.generate import GenerateError, write_flights

    if args.list_defects:
        for d in DEFECTS.values():
            print(f"{d.name:20} {d.rule:22} {d.description}")
        return EXIT_OK
    if args.out is None:
        return _usage("generate needs --out DIR")
    try:
        lo, _, hi = args.travellers.partition("-")
        travellers = (int(lo), int(hi or lo))
        if args.flights < 1 or travellers[0] < 1 or travellers[0] > travellers[1]:
            raise ValueError("--flights must be ≥ 1 and --travellers LO-HI with 1 ≤ LO ≤ HI")
        profile = load_profile(args.profile)
        written = write_flights(args.out, profile, flights=args.flights, seed=args.seed,
                                plant_hits=args.plant_hits,
                                defects=[d.strip() for d in args.defects.split(",") if d.strip()],
                                travellers=travellers, max_per_part=args.max_per_part or None)
    except (ValueError, ProfileError) as exc:
        return _usage(str(exc))
    except GenerateError as exc:
        return _usage(str(exc))
    print(f"{len(written.files)} file(s) written to {args.out} (index.json lists them); "
          f"planted hits: {', '.join(written.planted) or 'none'}; "
          f"defects: {', '.join(f'{k}={v}' for k, v in written.defects.items()) or 'none'}")
    return EXIT_OK


def run_profiles(args: argparse.Namespace) -> int:
    import json

    if args.validate:
        status = EXIT_OK
        for path in args.validate:
            try:
                p = load_profile_file(path)
            except ProfileError as exc:
                print(f"{exc}", file=sys.stderr)
                status = EXIT_FINDINGS
                continue
            print(f"{path}: OK (profile {p.name}{', extends ' + str(p.extends) if p.extends else ''})")
        return status
    profiles = list_profiles()
    if args.json:
        print(json.dumps([{"name": p.name, "description": p.description, "country": p.country,
                           "extends": p.extends, "source": p.source} for p in profiles], indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Profiles", title_justify="left")
    for col in ("name", "country", "extends", "description"):
        t.add_column(col, overflow="fold")
    for p in profiles:
        t.add_row(p.name, p.country or "-", p.extends or "-", p.description)
    Console().print(t)
    return EXIT_OK
