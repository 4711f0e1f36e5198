"""`api-engine screen`: screen travellers against watchlists (and risk rules) from the command line.

Strategy: this is shell code, so it owns the file reading and the printing; the pure work is
`watchlists.Screener` and `watchlists.rules`. Exit codes: 0 no hits, 1 hits, 2 usage problems
(unreadable list, bad rule file, unsupported input). Messages name files, lines and entry ids,
never a traveller's name. EDIFACT manifests are read and their parts assembled by the parser
(`travellers_from_edi`), and each traveller also gets flight attributes for the risk rules.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from parsers import assemble, read_interchange
from watchlists import LoadError, Screener, ScreeningQuery, load
from watchlists.adapters import query_from_traveller, rule_attributes, rule_context, traveller_id
from watchlists.dates import parse_date
from watchlists.loaders import load_travellers
from watchlists.models import Hit
from watchlists.rules import RuleError, RuleSet, parse_rules

EXIT_CLEAR, EXIT_HITS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with what the user asked for; printed and turned into exit code 2."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("screen", help="screen travellers against watchlists and risk rules",
                                   description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--watchlist", action="append", default=[], metavar="FILE", type=Path,
                        help="UN XML, OFAC sdn.csv, UK tables folder, national CSV/JSONL (repeatable)")
    parser.add_argument("--rules", type=Path, metavar="FILE", help="risk rules file")
    parser.add_argument("--travellers", type=Path, metavar="FILE.jsonl", help="travellers as JSON Lines")
    parser.add_argument("manifests", nargs="*", type=Path, metavar="MANIFEST.edi", help="PAXLST manifests")
    parser.add_argument("--json", action="store_true", help="one JSON line per hit")
    parser.set_defaults(func=run)


def travellers_from_edi(paths: Sequence[Path]) -> list[tuple[ScreeningQuery, dict[str, Any]]]:
    """Travellers of PAXLST files (parts assembled), each with its rule attributes."""
    parts = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{path}: {exc}") from None
        parts.extend(read_interchange(data).manifests)
    out: list[tuple[ScreeningQuery, dict[str, Any]]] = []
    for assembly in assemble(parts):
        m = assembly.manifest
        ctx = rule_context(m)
        for i, t in enumerate(m.travellers):
            out.append((query_from_traveller(t, traveller_id(m, i)), rule_attributes(m, t, context=ctx)))
    return out


_GENDERS = frozenset("MFXU")


def jsonl_rule_attributes(query: ScreeningQuery, *, today: date | None = None) -> dict[str, Any]:
    """The attributes a JSONL traveller offers to rules (`FILLED_BY["jsonl"]`); flights come with manifests.

    A JSONL line has no travel date, so the age is taken on `today` (the screening day), and only
    from a full date of birth. Values are kept as written (e.g. "GB" or "GBR"): rules compare them so.
    """
    dob = parse_date(query.date_of_birth)
    age = None
    if dob is not None and dob.month is not None and dob.day is not None and dob.year_to is None:
        try:
            age = round(((today or date.today()) - date(dob.year, dob.month, dob.day)).days / 365.25, 1)
        except ValueError:  # 31 February and the like: no age rather than a wrong one
            age = None
    gender = (query.gender or "").strip().upper()[:1]
    return {"traveller.nationality": query.nationality,
            "traveller.gender": gender if gender in _GENDERS else None,
            "traveller.age": age,
            "document.issuing_country": query.document_country}


def _load_screener(paths: Sequence[Path]) -> tuple[Screener, list[str]]:
    screener = Screener()
    notes = []
    for path in paths:
        try:  # the entries stream from the file into the index: a bad row deep in it surfaces here
            result = load(path)
            diff = screener.replace_list(result)
        except (LoadError, OSError, csv.Error) as exc:
            raise UsageError(f"{path}: {exc}") from None
        except ValueError as exc:  # e.g. not UTF-8: the type only, a message could quote the file
            raise UsageError(f"{path}: unreadable list ({type(exc).__name__})") from None
        notes.append(f"{path.name}: list {result.list_name} version {result.version}, "
                     f"{len(result.entries)} entries, {len(result.rejected)} rejected rows ({diff.summary()})")
    return screener, notes


def _load_rules(path: Path | None, source: str) -> RuleSet | None:
    """Rules checked against what `source` (paxlst or jsonl) fills: a rule that could never fire is refused."""
    if path is None:
        return None
    try:
        return parse_rules(path.read_text(encoding="utf-8"), inputs=(source,))
    except OSError as exc:
        raise UsageError(f"{path}: {exc}") from None
    except RuleError as exc:
        raise UsageError(f"{path}: {exc}") from None


_ALPHA2 = re.compile(r"\b[A-Z]{2}\b")


def _both_codes(detail: str) -> str:
    """Nationalities are compared as alpha-2 codes, but lists and manifests mostly write alpha-3:
    show both (FR/FRA), so that an officer finds the code the list itself says."""
    import pycountry

    def both(m: re.Match[str]) -> str:
        country = pycountry.countries.get(alpha_2=m[0]) or pycountry.historic_countries.get(alpha_2=m[0])
        alpha3 = getattr(country, "alpha_3", None)
        return f"{m[0]}/{alpha3}" if alpha3 else m[0]

    return _ALPHA2.sub(both, detail)


def _hit_text(hit: Hit) -> str:
    lines = [f"score {hit.score:.2f} (threshold {hit.threshold:.2f}) against {hit.list}:{hit.entry_id}"]
    lines += [f"  {f.feature}: {f.outcome} ({f.contribution:+.2f}) "
              f"{_both_codes(f.detail) if f.feature == 'nationality' else f.detail}" for f in hit.explanation]
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except UsageError as exc:
        print(f"api-engine screen: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    if not args.watchlist and not args.rules:
        raise UsageError("give at least one --watchlist FILE (or --rules FILE)")
    if bool(args.travellers) == bool(args.manifests):
        raise UsageError("give either --travellers FILE.jsonl or MANIFEST.edi files")
    screener, notes = _load_screener(args.watchlist)
    rules = _load_rules(args.rules, "jsonl" if args.travellers else "paxlst")
    if args.travellers:
        try:
            travellers, rejected = load_travellers(args.travellers)
        except OSError as exc:
            raise UsageError(f"{args.travellers}: {exc}") from None
        for r in rejected:
            notes.append(f"traveller {r.where} skipped: {r.reason}")
        screened = [(t, jsonl_rule_attributes(t)) for t in travellers]
    else:
        screened = travellers_from_edi(args.manifests)
    for note in notes:
        print(note, file=sys.stderr)
    n_hits = 0
    for traveller, attributes in screened:
        for hit in screener.screen(traveller):
            n_hits += 1
            if args.json:
                print(json.dumps({"traveller_id": hit.traveller_id, "entry_id": hit.entry_id, "list": hit.list,
                                  "score": hit.score,
                                  "explanation": [f.model_dump() for f in hit.explanation]}, ensure_ascii=False))
            else:
                print(f"traveller {hit.traveller_id}: {_hit_text(hit)}")
        for rule_hit in rules.evaluate(attributes) if rules else []:
            n_hits += 1
            if args.json:
                print(json.dumps({"traveller_id": traveller.id, "entry_id": rule_hit.rule, "list": "rules",
                                  "score": rule_hit.score, "severity": rule_hit.severity,
                                  "explanation": [f.model_dump() for f in rule_hit.explanation]}))
            else:
                print(f"traveller {traveller.id}: rule {rule_hit.rule} ({rule_hit.severity}): "
                      + "; ".join(f.detail for f in rule_hit.explanation))
    print(f"{_count(len(screened), 'traveller')} screened, {_count(n_hits, 'hit')}", file=sys.stderr)
    return EXIT_HITS if n_hits else EXIT_CLEAR
