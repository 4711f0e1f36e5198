"""The versioned conformance suite: cases (messages + expected outcome per profile) stored as data files.

Strategy: a suite is a directory `conformance/suite/<name>/`, one sub-directory per case holding
the messages in sending order and a `case.toml` with the expected outcome under one or more
profiles. Data, not code, so a national team can read, copy and extend a suite without Python,
and a released suite (`baseline-1`, `baseline-2`) never changes under a system being certified; a
new expectation means a new suite version, and the newest one is the default. Expectations name
what any receiving system can be held to: the verdict, the exact set of error rule ids, the
CONTRL 0085 codes, travellers read and announced, dead letters, duplicates and watchlist hits.
`check_case_offline` holds an `Evaluation` (see evaluate.py) to them; the Kafka runner holds a live
system's events to the same fields.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from parsers.profile import load_profile

from .evaluate import Evaluation, evaluate

SUITE_DIR = Path(__file__).with_name("suite")
DEFAULT_SUITE = "baseline-2"


class SuiteError(ValueError):
    """A suite or case file that cannot be used: which file and what is wrong."""


@dataclass(frozen=True)
class Expectation:
    """The outcome a conforming system produces for a case under one profile."""

    profile: str
    verdict: Literal["pass", "fail"]
    errors: frozenset[str]  # exactly these rule ids at error severity
    warnings: frozenset[str] = frozenset()  # at least these rule ids at warning (or info) severity
    contrl: frozenset[int] = frozenset()  # exactly these CONTRL 0085 codes over all acknowledgements
    accepted: tuple[bool, ...] = ()  # per input: the CONTRL accepts it (duplicates excluded)
    dead_letters: tuple[int, ...] = ()  # indexes of inputs a service dead-letters
    duplicates: tuple[int, ...] = ()  # indexes of inputs a service acknowledges as duplicates (same bytes)
    travellers: int = 0  # travellers read from all inputs
    manifests: int = 0  # manifests a service announces
    announced_travellers: int = 0  # travellers in the announced manifests
    manifest_errors: frozenset[str] = frozenset()  # error rule ids on announced manifests (assembly)
    complete: bool | None = None  # every list assembled completely (None: no list)
    hits: tuple[str, ...] = ()  # watchlist entry ids, sorted, one per hit

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict, "errors": sorted(self.errors), "warnings": sorted(self.warnings),
            "contrl": sorted(self.contrl), "accepted": list(self.accepted),
            "dead_letters": list(self.dead_letters), "duplicates": list(self.duplicates),
            "travellers": self.travellers, "manifests": self.manifests,
            "announced_travellers": self.announced_travellers, "manifest_errors": sorted(self.manifest_errors),
            "hits": list(self.hits),
        }
        if self.complete is not None:
            out["complete"] = self.complete
        return out

    @classmethod
    def from_toml(cls, profile: str, d: dict[str, Any]) -> Expectation:
        verdict = d.get("verdict")
        if verdict not in ("pass", "fail"):
            raise ValueError(f"expect.{profile}.verdict must be 'pass' or 'fail'")
        return cls(profile=profile, verdict=verdict, errors=frozenset(d.get("errors", [])),
                   warnings=frozenset(d.get("warnings", [])), contrl=frozenset(d.get("contrl", [])),
                   accepted=tuple(d.get("accepted", [])), dead_letters=tuple(d.get("dead_letters", [])),
                   duplicates=tuple(d.get("duplicates", [])), travellers=int(d.get("travellers", 0)),
                   manifests=int(d.get("manifests", 0)),
                   announced_travellers=int(d.get("announced_travellers", 0)),
                   manifest_errors=frozenset(d.get("manifest_errors", [])), complete=d.get("complete"),
                   hits=tuple(d.get("hits", [])))


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    directory: Path
    inputs: tuple[str, ...]
    expect: dict[str, Expectation]
    covers: tuple[str, ...] = ()  # rule ids and "contrl:<code>" this case exists to show
    tags: tuple[str, ...] = ()
    description: str = ""

    def input_bytes(self) -> list[tuple[str, bytes]]:
        return [(n, (self.directory / n).read_bytes()) for n in self.inputs]


@dataclass
class Suite:
    name: str
    directory: Path
    description: str
    cases: list[Case] = field(default_factory=list)

    def case(self, case_id: str) -> Case:
        return next(c for c in self.cases if c.id == case_id)


def list_suites() -> list[str]:
    return sorted(p.name for p in SUITE_DIR.iterdir() if (p / "suite.toml").is_file()) if SUITE_DIR.is_dir() else []


def load_case(directory: Path) -> Case:
    path = directory / "case.toml"
    try:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
        inputs = tuple(d["inputs"])
        for n in inputs:
            if not (directory / n).is_file():
                raise ValueError(f"input {n} does not exist")
        expect = {p: Expectation.from_toml(p, e) for p, e in d["expect"].items()}
        if not expect:
            raise ValueError("no [expect.<profile>] table")
        return Case(id=d.get("id", directory.name), title=d.get("title", ""), directory=directory, inputs=inputs,
                    expect=expect, covers=tuple(d.get("covers", [])), tags=tuple(d.get("tags", [])),
                    description=d.get("description", ""))
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as exc:
        raise SuiteError(f"{path}: {exc}") from None


def load_suite(name_or_path: str | Path = DEFAULT_SUITE) -> Suite:
    """A shipped suite by name, or any suite directory by path."""
    directory = Path(name_or_path)
    if not (directory / "suite.toml").is_file():
        directory = SUITE_DIR / str(name_or_path)
    meta = directory / "suite.toml"
    if not meta.is_file():
        raise SuiteError(f"no suite {str(name_or_path)!r} (shipped: {', '.join(list_suites()) or 'none'})")
    try:
        d = tomllib.loads(meta.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{meta}: {exc}") from None
    cases = [load_case(p) for p in sorted(directory.iterdir()) if (p / "case.toml").is_file()]
    return Suite(name=d.get("name", directory.name), directory=directory, description=d.get("description", ""),
                 cases=cases)


# ---- offline comparison ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    check: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.check}: expected {self.expected}, got {self.actual}"


def _fmt(v: Any) -> str:
    if isinstance(v, (set, frozenset, list, tuple)):
        items = sorted(v, key=str)
        return "[" + ", ".join(str(x) for x in items) + "]"
    return str(v)


def expectation_of(ev: Evaluation, profile: str) -> Expectation:
    """What an evaluation shows, in the shape of an expectation (used to write and to compare)."""
    primary = [r for r in ev.inputs if r.duplicate_of is None]
    announced = [lst for lst in ev.lists if lst.announced]
    return Expectation(
        profile=profile, verdict="pass" if ev.passed else "fail", errors=frozenset(ev.errors),
        warnings=frozenset(f.rule for r in ev.inputs for f in r.findings if f.severity.value != "error"),
        contrl=frozenset(c for r in primary for c in r.contrl_codes),
        accepted=tuple(r.accepted for r in primary),
        dead_letters=tuple(i for i, r in enumerate(ev.inputs) if r.duplicate_of is None and r.dead_letter),
        duplicates=tuple(i for i, r in enumerate(ev.inputs) if r.duplicate_of is not None),
        travellers=sum(r.travellers for r in primary), manifests=len(announced),
        announced_travellers=sum(len(lst.manifest.travellers) for lst in announced),
        manifest_errors=frozenset(f.rule for lst in announced for f in lst.findings if f.severity.value == "error"),
        complete=all(lst.complete for lst in ev.lists) if ev.lists else None,
        hits=tuple(sorted(h for lst in ev.lists for h in lst.hits)))


def compare(expected: Expectation, actual: Expectation) -> list[Mismatch]:
    """Every field where `actual` departs from `expected` (warnings: expected ones must be present)."""
    out: list[Mismatch] = []
    for name in ("verdict", "errors", "contrl", "accepted", "dead_letters", "duplicates", "travellers",
                 "manifests", "announced_travellers", "manifest_errors", "complete", "hits"):
        e, a = getattr(expected, name), getattr(actual, name)
        if e != a:
            out.append(Mismatch(name, _fmt(e), _fmt(a)))
    missing = expected.warnings - actual.warnings
    if missing:
        out.append(Mismatch("warnings", f"at least {_fmt(expected.warnings)}", f"missing {_fmt(missing)}"))
    return out


def evaluate_case(case: Case, profile: str, *, profile_override: str | Path | None = None) -> Evaluation:
    """Offline evaluation of a case under `profile` (or a profile file standing in for it)."""
    return evaluate(case.input_bytes(), load_profile(profile_override or profile))


def check_case_offline(case: Case, profile: str, *,
                       profile_override: str | Path | None = None) -> tuple[Evaluation, list[Mismatch]]:
    ev = evaluate_case(case, profile, profile_override=profile_override)
    return ev, compare(case.expect[profile], expectation_of(ev, profile))
