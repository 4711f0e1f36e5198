"""`api-engine parse`: read files, validate against a profile, assemble parts, report.

Strategy: the command composes the pure parts (read → profile → assemble) and owns all I/O.
Exit status: 0 when no finding is an error, 1 when any is, 2 for usage problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parsers import Finding, Interchange, Manifest, Response, Severity, read_interchange
from parsers.assembly import assemble
from parsers.profile import Profile, ProfileError, load_profile
from parsers.validate import apply_profile, grade_findings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with how the command was called (exit status 2)."""


@dataclass
class ParseOutcome:
    manifests: list[Manifest] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    findings: list[tuple[str, Finding]] = field(default_factory=list)
    interchanges: list[tuple[str, Interchange]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for _, f in self.findings if f.severity is Severity.ERROR)


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files as given; directories contribute their files in name order; '-' is standard input."""
    out: list[str] = []
    for item in inputs:
        if item == "-":
            out.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            out.extend(str(f) for f in sorted(p.iterdir()) if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            out.append(item)
        else:
            raise UsageError(f"no such file or directory: {item}")
    if not out:
        raise UsageError("no input files")
    return out


def read_source(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def parse_inputs(names: list[str], profile: Profile) -> ParseOutcome:
    """Read every input, validate it, then assemble multi-part lists across all inputs."""
    outcome = ParseOutcome()
    parts: list[Manifest] = []
    for name in names:
        interchange = apply_profile(read_interchange(read_source(name)), profile)
        outcome.interchanges.append((name, interchange))
        parts.extend(interchange.manifests)
        outcome.responses.extend(interchange.responses)
        outcome.findings.extend((name, f) for f in interchange.findings)
    for assembly in assemble(parts):
        outcome.manifests.append(assembly.manifest)
        outcome.findings.extend(("(assembly)", f) for f in grade_findings(assembly.findings, profile))
    return outcome


def _finding_json(source: str, f: Finding) -> dict[str, Any]:
    d = f.model_dump(mode="json")
    d["file"] = source
    return d


def render_json(outcome: ParseOutcome) -> str:
    doc = {
        "manifests": [m.model_dump(mode="json") | {"flight_key": m.flight_key} for m in outcome.manifests],
        "responses": [r.model_dump(mode="json") for r in outcome.responses],
        "findings": [_finding_json(s, f) for s, f in outcome.findings],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def render_summary(outcome: ParseOutcome) -> str:
    sev = Counter(f.severity.value for _, f in outcome.findings)
    travellers = sum(len(m.travellers) for m in outcome.manifests)
    return (f"files={len(outcome.interchanges)} manifests={len(outcome.manifests)} travellers={travellers} "
            f"responses={len(outcome.responses)} errors={sev.get('error', 0)} warnings={sev.get('warning', 0)} "
            f"info={sev.get('info', 0)}")


def render_table(outcome: ParseOutcome) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped or redirected output is read by grep and scripts: no 80-column cut of rule ids or paths.
    console = Console() if sys.stdout.isatty() else Console(width=100_000)
    if outcome.manifests:
        t = Table(title="Manifests", title_justify="left")
        for col in ("flight", "route", "departure (local)", "kind", "parts", "passengers", "crew", "CNT"):
            t.add_column(col)
        for m in outcome.manifests:
            leg = m.legs[-1] if m.legs else None
            route = "-".join(filter(None, [m.legs[0].departure_airport if m.legs else None]
                                    + [lg.arrival_airport for lg in m.legs])) or "?"
            pax = sum(1 for x in m.travellers if x.role in ("passenger", "transit_passenger"))
            crew = sum(1 for x in m.travellers if x.role in ("crew", "transit_crew"))
            cnt = "/".join(str(v) for v in (m.totals.passengers, m.totals.crew) if v is not None)
            parts = ",".join(str(p) for p in m.parts) + ("" if m.complete else " (incomplete)")
            t.add_row(leg.flight_id or "?" if leg else "?", route,
                      leg.departure_local.strftime("%Y-%m-%d %H:%M") if leg and leg.departure_local else "?",
                      f"{m.document_code or '?'}{'/' + m.document_id if m.document_id else ''}",
                      parts or "1", str(pax), str(crew), cnt or "-")
        console.print(t)
    if outcome.responses:
        t = Table(title="Responses (CUSRES)", title_justify="left")
        for col in ("message", "kind", "flights", "statuses"):
            t.add_column(col)
        for r in outcome.responses:
            statuses = Counter(x.status or "?" for x in r.travellers)
            t.add_row(r.header.message_ref, r.document_code or "?",
                      ", ".join(f.flight_id or "?" for f in r.flights),
                      ", ".join(f"{k}×{v}" for k, v in sorted(statuses.items())) or (r.header_status or "-"))
        console.print(t)
    if outcome.findings:
        t = Table(title="Findings", title_justify="left")
        for col in ("severity", "rule", "file", "message", "segment", "CONTRL", "text"):
            t.add_column(col, overflow="fold")
        colour = {"error": "red", "warning": "yellow", "info": "cyan"}
        for source, f in outcome.findings:
            where = f"{f.segment_tag or ''}@{f.segment_position}" if f.segment_position else (f.segment_tag or "")
            t.add_row(f"[{colour[f.severity.value]}]{f.severity.value}[/]", f.rule, Path(source).name,
                      f"{f.message_ref + ': ' if f.message_ref else ''}{f.message}", where,
                      str(f.contrl_error or ""), f.value or "")
        console.print(t)
    console.print(render_summary(outcome))


def add_parser(sub: Any) -> None:
    p = sub.add_parser("parse", help="read PAXLST/CUSRES files, validate them against a profile and report",
                       description="Read UN/EDIFACT PAXLST and CUSRES files ('-' for standard input), validate "
                       "them against a country profile, assemble multi-part lists and report. Exit status 0: "
                       "no error findings; 1: error findings; 2: usage problem.")
    p.add_argument("files", nargs="+", metavar="FILE", help="input files or directories; '-' reads standard input")
    p.add_argument("--profile", default="baseline", help="country profile name or TOML file (default: baseline)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON object")
    fmt.add_argument("--summary", action="store_true", help="print only counts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile)
        names = expand_inputs(args.files)
        outcome = parse_inputs(names, profile)
    except (UsageError, ProfileError) as exc:
        print(f"api-engine parse: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(render_json(outcome))
    elif args.summary:
        print(render_summary(outcome))
    else:
        render_table(outcome)
    return EXIT_FINDINGS if outcome.errors else EXIT_OK
