"""Offline evaluation: inputs (bytes) → what a conforming receiving system must conclude about them.

Strategy: the same pure composition the service and `api-engine parse` use (read → apply the
profile → assemble multi-part lists across inputs), kept here instead of importing the shell
because `conformance` depends on `parsers` and `watchlists` only, and because certification
needs one thing the parse command does not keep: which input each assembly finding belongs to.
On top it derives the outcomes a black-box run can observe: the CONTRL 0085 codes (written and
read back with the project's own CONTRL writer and reader), whether an input is dead-lettered
(envelope or syntax errors, or nothing readable), which manifests a service announces (single
lists, and multi-part lists once complete), and which travellers hit the bundled test watchlist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from parsers import Finding, Interchange, Manifest, Severity, TravelDocument, read_interchange
from parsers.assembly import assemble, part_key
from parsers.contrl import read_contrl, write_contrl
from parsers.profile import Profile
from parsers.validate import apply_profile

DATA_DIR = Path(__file__).with_name("data")
TEST_WATCHLIST = DATA_DIR / "test-watchlist.csv"
_ENVELOPE_PREFIXES = ("SYN-", "ENV-")


@dataclass
class InputResult:
    """One input as read and graded, plus what a receiving system answers to it."""

    name: str
    data: bytes
    interchange: Interchange
    findings: list[Finding] = field(default_factory=list)  # the input's own plus its assembly findings
    contrl_codes: set[int] = field(default_factory=set)
    accepted: bool = True
    dead_letter: bool = False
    duplicate_of: int | None = None  # index of an earlier input with the same bytes or sender + UNB 0020

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def travellers(self) -> int:
        return sum(len(m.travellers) for m in self.interchange.manifests)


@dataclass
class AssembledList:
    manifest: Manifest
    complete: bool
    multipart: bool
    findings: list[Finding]
    inputs: list[int]  # indexes of the inputs holding its parts
    hits: list[str] = field(default_factory=list)  # watchlist entry ids, one per hit

    @property
    def announced(self) -> bool:
        """A service announces single lists at once and multi-part lists when complete."""
        return self.complete or not self.multipart


@dataclass
class Evaluation:
    inputs: list[InputResult]
    lists: list[AssembledList]

    @property
    def errors(self) -> set[str]:
        return {f.rule for r in self.inputs for f in r.errors}

    @property
    def rules(self) -> set[str]:
        return {f.rule for r in self.inputs for f in r.findings}

    @property
    def passed(self) -> bool:
        return not self.errors


def is_malformed(ic: Interchange, *, readable_only: bool = True) -> bool:
    """The dead-letter contract: an error of the envelope or syntax, or nothing readable at all.

    "Nothing readable" is itself reported as ENV-EMPTY (0085 = 32), as a service answers it.
    """
    bad = any(f.severity is Severity.ERROR and (f.level in ("interchange", "group")
                                                or f.rule.startswith(_ENVELOPE_PREFIXES)) for f in ic.findings)
    return bad or (readable_only and not ic.manifests and not ic.responses)


def contrl_codes(ic: Interchange) -> set[int]:
    """0085 codes of the CONTRL answering `ic`, through the project's writer and reader."""
    report = read_contrl(write_contrl(ic, control_ref="CONFORMANCE"))
    return codes_of(report)


def codes_of(report: Any) -> set[int]:
    codes = {report.error} if report.error is not None else set()
    for m in report.messages:
        codes.update(m.codes)
    return codes


def evaluate(inputs: Sequence[tuple[str, bytes]], profile: Profile, *, screen: bool = True) -> Evaluation:
    """Read, grade and assemble `inputs` (in arrival order) as one receiving system would.

    An input with the bytes, or the sender and UNB 0020, of an earlier one is a duplicate: it is
    answered (CONTRL 0085 = 26 from a live system) but not processed again.
    """
    results: list[InputResult] = []
    seen: dict[bytes, int] = {}
    parts: list[tuple[int, Manifest]] = []
    seen_refs: dict[tuple[str, str], int] = {}
    for i, (name, data) in enumerate(inputs):
        ic = apply_profile(read_interchange(data), profile)
        if not ic.manifests and not ic.responses and not is_malformed(ic, readable_only=False):
            ic = ic.model_copy(update={"findings": [*ic.findings, Finding(
                rule="ENV-EMPTY", severity=Severity.ERROR, level="interchange", contrl_error=32,
                message="nothing readable: no PAXLST or CUSRES message")]})
        r = InputResult(name=name, data=data, interchange=ic, findings=list(ic.findings))
        digest = hashlib.sha256(data).digest()
        h = ic.header
        ref = (h.sender, h.control_ref) if h.sender and h.control_ref else None
        earlier = seen.get(digest, seen_refs.get(ref) if ref else None)
        if earlier is not None:
            r.duplicate_of = earlier
            results.append(r)
            continue
        seen[digest] = i
        if ref:
            seen_refs[ref] = i
        r.contrl_codes = contrl_codes(ic)
        r.accepted = ic.ok
        r.dead_letter = is_malformed(ic)
        results.append(r)
        if not r.dead_letter:
            parts.extend((i, m) for m in ic.manifests)
    lists: list[AssembledList] = []
    for a in assemble(m for _, m in parts):
        owners = sorted({i for i, m in parts if part_key(m) == a.key})
        multipart = len([1 for i, m in parts if part_key(m) == a.key]) > 1 or _is_part(a.manifest, parts, a.key)
        lists.append(AssembledList(manifest=a.manifest, complete=a.complete, multipart=multipart,
                                   findings=list(a.findings), inputs=owners))
        for i in owners:  # an assembly finding concerns every file that holds a part of the list
            results[i].findings.extend(a.findings)
    if screen:
        screener = test_screener()
        for lst in lists:
            if lst.complete:
                lst.hits = screen_manifest(screener, lst.manifest)
    return Evaluation(inputs=results, lists=lists)


def _is_part(merged: Manifest, parts: list[tuple[int, Manifest]], key: Any) -> bool:
    for _, m in parts:
        if part_key(m) == key:
            h = m.header
            return h.sequence is not None and not (h.sequence == 1 and h.sequence_flag in ("F", None))
    return False


# ---- screening against the bundled synthetic test watchlist --------------------------------------------


@lru_cache(maxsize=4)
def test_screener(path: Path = TEST_WATCHLIST) -> Any:
    """A watchlists.Screener holding the bundled synthetic list (no real person is on it)."""
    from watchlists import Screener, load

    screener = Screener()
    screener.replace_list(load(path))
    return screener


def screen_manifest(screener: Any, manifest: Manifest) -> list[str]:
    """Entry ids hit by the travellers of `manifest`, best hit per (traveller, entry), sorted.

    Mirrors how the service queries the engine: one query per traveller and document number.
    """
    from watchlists import ScreeningQuery

    out: list[str] = []
    for i, t in enumerate(manifest.travellers):
        if not (t.surname or t.given_names or t.full_name):
            continue
        docs: list[TravelDocument | None] = [d for d in t.documents if d.number] or [None]
        found: set[str] = set()
        for d in docs:
            query = ScreeningQuery(
                id=str(i), surname=t.surname, given_names=" ".join(t.given_names) or None, full_name=t.full_name,
                date_of_birth=t.date_of_birth.isoformat() if t.date_of_birth else None,
                nationality=t.nationality, gender=t.gender,
                document_number=d.number if d else None, document_country=d.issuing_state if d else None)
            found.update(h.entry_id for h in screener.screen(query))
        out.extend(found)
    return sorted(out)
