"""Offline evaluation: inputs (bytes) → what a conforming receiving system must conclude about them.

Strategy: the same pure composition the service and `api-engine parse` use (read → apply the
profile → assemble multi-part lists across inputs), kept here instead of importing the shell
because `conformance` depends on `parsers` and `watchlists` only, and because certification
needs one thing the parse command does not keep: which input each assembly finding belongs to.
On top it derives the outcomes a black-box run can observe: the CONTRL 0085 codes (written and
read back with the project's own CONTRL writer and reader), whether an input is dead-lettered
(envelope or syntax errors, or nothing readable), which inputs are duplicates (the same bytes as
an input processed before) and which reuse a sender's interchange reference with other content
(processed, and flagged), which manifests a service announces (each single list, and multi-part
lists once complete), and which travellers hit the bundled test watchlist.
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
from parsers.contrl import ACTION_ACKNOWLEDGED, read_contrl, write_contrl
from parsers.profile import Profile
from parsers.validate import apply_profile

DATA_DIR = Path(__file__).with_name("data")
TEST_WATCHLIST = DATA_DIR / "test-watchlist.csv"
_ENVELOPE_PREFIXES = ("SYN-", "ENV-")
REF_REUSED = "ENV-REF-REUSED"  # the flag on an interchange reusing its sender's reference with other content
DUPLICATE_CODE = 26  # CONTRL 0085: duplicate detected


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
    duplicate_of: int | None = None  # index of an earlier processed input with the same bytes
    reuses_ref_of: int | None = None  # index of an earlier processed input with the same sender + UNB 0020

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


def contrl_codes(ic: Interchange, *, noted: int | None = None) -> set[int]:
    """0085 codes of the CONTRL answering `ic`, through the project's writer and reader.

    `noted`: a code a service notes on an accepting UCI (action 7 stays); a rejecting UCI keeps its
    own first error."""
    report = read_contrl(write_contrl(ic, control_ref="CONFORMANCE"))
    codes = codes_of(report)
    if noted is not None and report.action == ACTION_ACKNOWLEDGED:
        codes.add(noted)
    return codes


def codes_of(report: Any) -> set[int]:
    codes = {report.error} if report.error is not None else set()
    for m in report.messages:
        codes.update(m.codes)
    return codes


def evaluate(inputs: Sequence[tuple[str, bytes]], profile: Profile, *, screen: bool = True) -> Evaluation:
    """Read, grade and assemble `inputs` (in arrival order) as one receiving system would.

    An input that is not dead-lettered and has the same bytes as an input processed before is a
    duplicate: it is answered (CONTRL 0085 = 26 from a live system) but not processed again. The
    same sender + UNB 0020 with other bytes is not a duplicate: it is processed like any input and
    flagged (`ENV-REF-REUSED`, 0085 = 26 noted on an accepting UCI), so a decoy sent first cannot
    get the real list dropped. Single lists are announced one by one; parts are assembled.
    """
    results: list[InputResult] = []
    processed: dict[bytes, int] = {}  # sha256 of the bytes -> the first input processed with them
    refs: dict[tuple[str, str], int] = {}  # sender + UNB 0020 -> the first input processed under them
    singles: list[tuple[int, Manifest]] = []
    parts: list[tuple[int, Manifest]] = []
    for i, (name, data) in enumerate(inputs):
        ic = apply_profile(read_interchange(data), profile)
        if not ic.manifests and not ic.responses and not is_malformed(ic, readable_only=False):
            ic = ic.model_copy(update={"findings": [*ic.findings, Finding(
                rule="ENV-EMPTY", severity=Severity.ERROR, level="interchange", contrl_error=32,
                message="nothing readable: no PAXLST or CUSRES message")]})
        r = InputResult(name=name, data=data, interchange=ic, findings=list(ic.findings))
        results.append(r)
        if is_malformed(ic):  # answered with a negative CONTRL and dead-lettered, every time it comes
            r.contrl_codes = contrl_codes(ic)
            r.accepted = False
            r.dead_letter = True
            continue
        digest = hashlib.sha256(data).digest()
        if digest in processed:
            r.duplicate_of = processed[digest]
            continue
        processed[digest] = i
        h = ic.header
        ref = (h.sender or "", h.control_ref or "")
        r.reuses_ref_of = refs.get(ref)
        refs.setdefault(ref, i)
        if r.reuses_ref_of is not None:
            r.findings.append(Finding(
                rule=REF_REUSED, severity=Severity.WARNING, level="interchange", segment_tag="UNB",
                contrl_error=DUPLICATE_CODE,
                message=f"interchange reference {h.control_ref} was used before by sender {h.sender} with other "
                        f"content ({inputs[r.reuses_ref_of][0]}): processed and flagged, not dropped"))
        r.contrl_codes = contrl_codes(ic, noted=DUPLICATE_CODE if r.reuses_ref_of is not None else None)
        r.accepted = ic.ok
        for m in ic.manifests:
            (parts if _is_part(m) else singles).append((i, m))
    lists = [AssembledList(manifest=m, complete=m.complete, multipart=False, findings=[], inputs=[i])
             for i, m in singles]
    for a in assemble(m for _, m in parts):
        owners = sorted({i for i, m in parts if part_key(m) == a.key})
        lists.append(AssembledList(manifest=a.manifest, complete=a.complete, multipart=True,
                                   findings=list(a.findings), inputs=owners))
        for i in owners:  # an assembly finding concerns every file that holds a part of the list
            results[i].findings.extend(a.findings)
    if screen:
        screener = test_screener()
        for lst in lists:
            if lst.complete:
                lst.hits = screen_manifest(screener, lst.manifest)
    return Evaluation(inputs=results, lists=lists)


def _is_part(m: Manifest) -> bool:
    """A part of a multi-part list (UNH S010 other than 01:F); anything else is a single list."""
    h = m.header
    return h.sequence is not None and not (h.sequence == 1 and h.sequence_flag in ("F", None))


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
