"""Build the conformance suite `baseline-2` from the generator plus small, named mutations.

Strategy: each case is declared here by what it is meant to show: its inputs (generated with a
fixed seed, then mutated segment by segment) and, per profile, the error rule ids it must raise
(and any warning or hit it must show). The whole expectation is derived from that declaration and
from data that does not come from the code under test, never recorded from an evaluation:

- CONTRL 0085 codes: each declared error's code in the rule catalogue (`parsers/rules.py`, from
  ISO 9735 and the MIG); a rejection whose errors have no code there says 18, "unspecified error"
  in the 0085 code list. A case declares its codes outright only where they come from something
  else: a note on an accepting UCI (a reused reference: 26), or the one code a rejecting UCI holds.
- accepted, dead letters, duplicates: from the declared errors' layer in the catalogue (an error
  of the envelope or of the ISO 9735 syntax dead-letters its input; any other error rejects the
  message but the list is still read; a multi-part assembly error concerns the list, not an
  interchange) and from the inputs: a case repeating earlier bytes declares that input a duplicate.
  A case of several inputs with errors declares per input which are accepted and dead-lettered.
- travellers, announced manifests and their travellers, completeness: from the generator's
  `Manifest` objects each input was written from (travellers, UNH part number and final flag,
  common access reference); a mutation that adds, removes or hides travellers declares the change.

The builder then evaluates every case offline with the project's own code and fails, naming each
case, profile and field, where the code departs from the declared expectation; it never writes
what the code concluded. The output is data (`conformance/suite/baseline-2/<case>/{1.edi,...,
case.toml}`), committed so that the suite never changes silently; `tests/conformance` re-evaluates
it against the current code.

A released suite never changes: a new expectation means a new version (SUITE_NAME and
SUITE_VERSION below), and the released ones stay as they are. `baseline-2` supersedes
`baseline-1`: case 097 now shows that the same sender and interchange reference with other
content is processed and flagged (ENV-REF-REUSED, CONTRL 0085 = 26 on an accepting UCI), where
`baseline-1` expected it to be dropped as a duplicate; case 098 shows the real duplicate, the
same bytes again. Cases 001-096 are the same in both.

Run: `python -m conformance.build_suite [--out DIR]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from parsers import Manifest
from parsers._lexer import Separators
from parsers.cusres_writer import cusres_for_manifest, write_cusres
from parsers.profile import load_profile
from parsers.rules import RULES

from .defects import DEFECTS
from .edi import Edi
from .evaluate import TEST_WATCHLIST, Evaluation, evaluate
from .generator import generate_flights, generate_manifest, to_bytes
from .suite import SUITE_DIR, Expectation, compare, expectation_of

SUITE_NAME = "baseline-2"
SUITE_VERSION = 2
UNSPECIFIED = 18  # UN/EDIFACT 0085: "an error has been identified, but the nature of the error is not reported"
DUPLICATE_DETECTED = 26  # UN/EDIFACT 0085: "duplicate detected"
_ISO_9735 = "ISO 9735"


@dataclass(frozen=True)
class Sent:
    """One input as sent, with what the generator put into it: the ground truth for travellers and lists."""

    data: bytes
    travellers: int = 0  # travellers in it as generated
    list_id: str | None = None  # the list it carries (a part of); None: no list (a CUSRES)
    part: int = 1  # UNH S010 sequence number
    final: bool = True  # UNH S010 F: the last part of its list

    @classmethod
    def of(cls, m: Manifest, data: bytes | None = None) -> Sent:
        """`m` written out (or `data`, bytes made from it), described by the generator's own model."""
        h = m.header
        return cls(to_bytes(m) if data is None else data, len(m.travellers), h.common_access_ref or h.message_ref,
                   h.sequence or 1, h.sequence_flag != "C")

    def with_data(self, data: bytes) -> Sent:
        return dataclasses.replace(self, data=data)

    @property
    def single_part(self) -> bool:
        return self.part == 1 and self.final


Inputs = Callable[[], list[Sent]]


@dataclass
class Spec:
    id: str
    title: str
    inputs: Inputs
    errors: dict[str, set[str]]  # profile -> exact error rule ids
    warnings: dict[str, set[str]] = field(default_factory=dict)  # profile -> warnings that must show
    hits: dict[str, list[str]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    covers: tuple[str, ...] = ()
    # Declared where the errors and the generated material cannot tell (see the module docstring):
    contrl: dict[str, set[int]] = field(default_factory=dict)  # profile -> the CONTRL 0085 codes outright
    accepted: dict[str, tuple[bool, ...]] = field(default_factory=dict)  # profile -> per non-duplicate input
    dead_letters: dict[str, tuple[int, ...]] = field(default_factory=dict)  # profile -> input indexes
    duplicates: tuple[int, ...] = ()  # inputs repeating the bytes of an earlier one
    traveller_change: int = 0  # travellers the mutation adds (+) or removes or makes unreadable (-)


# ---- material -------------------------------------------------------------------------------------------


def flight(seed: int, n: int = 3, *, parts: int | None = None) -> list[Manifest]:
    """One passenger list of `n` travellers (split into parts of `parts` travellers if given)."""
    [lst] = generate_flights(1, seed=seed, travellers_per_flight=(n, n), max_per_part=parts, expired_share=0.0)
    return lst


def edi(seed: int, n: int = 3) -> Edi:
    return Edi.parse(to_bytes(flight(seed, n)[0]))


def one(mutate: Callable[[Edi], object], *, seed: int = 11, n: int = 3, fix: bool = True) -> Inputs:
    def build() -> list[Sent]:
        m = flight(seed, n)[0]
        e = Edi.parse(to_bytes(m))
        mutate(e)
        if fix:
            e.fix_counts()
        return [Sent.of(m, e.to_bytes())]
    return build


def single(seed: int, n: int, change: Callable[[bytes], bytes] | None = None) -> list[Sent]:
    """One generated list as one input, its bytes changed by `change` if given."""
    m = flight(seed, n)[0]
    data = to_bytes(m)
    return [Sent.of(m, change(data) if change else data)]


def crew_list(seed: int = 23, n: int = 4) -> Manifest:
    return generate_manifest(random.Random(seed), travellers=n, crew=True, expired_share=0.0)


def crew(seed: int = 23, n: int = 4) -> Edi:
    return Edi.parse(to_bytes(crew_list(seed, n)))


def watchlist_people(k: int) -> list[tuple[str, str, date]]:
    """The first k individuals of the bundled test watchlist: (surname, given names, date of birth)."""
    import csv

    with TEST_WATCHLIST.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["category"] == "individual"]
    return [(r["surname"], r["given_names"], date.fromisoformat(r["date_of_birth"])) for r in rows[:k]]


def parts_of(seed: int, n: int, per: int) -> list[Sent]:
    return [Sent.of(m) for m in flight(seed, n, parts=per)]


def _set(e: Edi, prefix: str, new: str, nth: int = 0) -> Edi:
    return e.replace(prefix, new, nth)


def _trav(e: Edi, n: int, prefix: str, new: str | None) -> Edi:
    i = e.in_traveller(n, prefix)
    if new is None:
        del e.segments[i]
    else:
        e.segments[i] = new
    return e


def _with(fn: Callable[[Edi], object]) -> Callable[[Edi], Edi]:
    def go(e: Edi) -> Edi:
        fn(e)
        return e
    return go


def _fragment(e: Edi) -> None:
    e.una = False
    e.segments = [s for s in e.segments if s[:3] not in ("UNB", "UNG", "UNE", "UNZ")]


def _bare(e: Edi) -> None:
    """Drop UNG/UNE: messages directly in the interchange."""
    e.segments = [s for s in e.segments if s[:3] not in ("UNG", "UNE")]


def _dropper(prefix: str) -> Callable[[Edi], Edi]:
    """Remove the first traveller's segment starting with `prefix`."""
    return lambda e: _trav(e, 0, prefix, None)


def _ung_before_unb(e: Edi) -> None:
    e.segments[0], e.segments[1] = e.segments[1], e.segments[0]


def _typeb(data: bytes) -> bytes:
    return b"QK LONPPXS\n.MUCKMTS 250521\n" + data


def _cusres() -> list[Sent]:
    """A government's answer: no passenger list, no traveller read."""
    m = flight(61, 2)[0]
    r = cusres_for_manifest(m, {0: ("0Z", "OK TO BOARD"), 1: ("1Z", "DO NOT BOARD")})
    return [Sent(write_cusres(r, control_ref="CUSRES61"))]


def _close_out() -> list[Sent]:
    """BGM 266 CLOB: boarded travellers by reference only (NAD+ZZZ and RFF), no identity data."""
    m = flight(71, 3)[0]
    e = Edi.parse(to_bytes(m))
    _set(e, "BGM+", "BGM+266+CLOB")
    out: list[str] = []
    skip = False
    for s in e.segments:
        if re.match(r"NAD\+(FL|DDU)\+", s):
            # NAD+FL by reference; astra writes NAD+ZZZ, which the validator does not count for CNT 42.
            out.append("NAD+FL")
            skip = True
            continue
        if s.startswith(("CNT+", "UNT+")):
            skip = False
        if skip and not s.startswith("RFF+"):
            continue
        out.append(s)
    e.segments = out
    e.fix_counts()
    return [Sent.of(m, e.to_bytes())]


def _planted(seed: int, k: int) -> list[Sent]:
    [lst] = generate_flights(1, seed=seed, travellers_per_flight=(6, 6), expired_share=0.0,
                             plant=watchlist_people(k))
    return [Sent.of(m) for m in lst]


def _swap_unb_ref(data: bytes, ref: str) -> bytes:
    e = Edi.parse(data)
    i = e.index("UNB+")
    p = e.segments[i].split("+")
    old, p[5] = p[5], ref
    e.segments[i] = "+".join(p)
    e.segments[-1] = e.segments[-1].replace(old, ref)
    return e.to_bytes()


def _resent(data: bytes) -> bytes:
    """The same sender and UNB 0020 prepared at another time: other bytes under a reference already used."""
    e = Edi.parse(data)
    i = e.index("UNB+")
    p = e.segments[i].split("+")
    day, _, hhmm = p[4].partition(":")
    p[4] = f"{day}:{(int(hhmm) + 1) % 2400:04d}"
    e.segments[i] = "+".join(p)
    return e.to_bytes()


def _sire() -> list[Sent]:
    m = flight(81, 2)[0]
    return [Sent.of(m, to_bytes(m, syntax_id="SIRE"))]


def _us_uk_expiry() -> list[Sent]:
    return one(lambda e: _trav(e, 0, "DTM+36:", None), seed=83)()


def _cn_no_abo() -> list[Sent]:
    return one(lambda e: _trav(e, 0, "RFF+ABO:", None), seed=85)()


def _cn_eleven() -> list[Sent]:
    return single(87, 11)


def _legacy_us() -> list[Sent]:
    """Written by hand, not generated: one passenger (the PDT) in one single-part list."""
    text = ("UNA:+.? 'UNB+UNOA:1+CARRIER+USCSAPIS+070218:1545+000000777++USADHS'"
            "UNH+PAX001+PAXLST:001:000:NZ'BGM+745'CTA++APIS DESK'TDT++UA123+40+UA'LOC+005+NZAKL:50'"
            "DTM+136+070219+1030+M05'LOC+008+USLAX:50'DTM+132+070219+2200+M08'UNS+D'"
            "PDT+P/E1234567:120101:NZ+MANGUS:JOHN::500101:M+PAX+AKL:LAX'"
            "UNT+11+PAX001'UNZ+1+000000777'")
    return [Sent(text.encode("latin-1"), travellers=1, list_id="PAX001")]


def _alt_separators() -> list[Sent]:
    m = flight(91, 2)[0]
    return [Sent.of(m, to_bytes(m, separators=Separators(component="*", element="(", release=")",
                                                         terminator="-")))]


# ---- the cases -----------------------------------------------------------------------------------------

B = "baseline"
T = TypeVar("T")


def _per_profile(value: T | dict[str, T] | None) -> dict[str, T]:
    """A declaration per profile; a plain value is the baseline profile's."""
    if value is None:
        return {}
    return value if isinstance(value, dict) else {B: value}


def uci(rule: str) -> set[int]:
    """The CONTRL codes of an interchange rejected on its UCI: ISO 9735 gives the UCI one 0085 code, so a
    case with several interchange errors names the one it reports (the first found)."""
    code = RULES[rule].contrl
    return {UNSPECIFIED if code is None else code}


def _specs() -> list[Spec]:
    s: list[Spec] = []

    def add(id: str, title: str, inputs: Inputs, errors: set[str] | dict[str, set[str]], *,
            warnings: set[str] | dict[str, set[str]] | None = None, tags: Sequence[str] = (),
            covers: Sequence[str] = (), hits: dict[str, list[str]] | None = None,
            contrl: set[int] | dict[str, set[int]] | None = None,
            accepted: tuple[bool, ...] | dict[str, tuple[bool, ...]] | None = None,
            dead_letters: tuple[int, ...] | dict[str, tuple[int, ...]] | None = None,
            duplicates: tuple[int, ...] = (), traveller_change: int = 0) -> None:
        errs = errors if isinstance(errors, dict) else {B: errors}
        warns = _per_profile(warnings)
        cov = tuple(covers) or tuple(sorted(set().union(*errs.values(), *warns.values())))
        s.append(Spec(id, title, inputs, errs, warns, hits or {}, tuple(tags), cov, contrl=_per_profile(contrl),
                      accepted=_per_profile(accepted), dead_letters=_per_profile(dead_letters), duplicates=duplicates,
                      traveller_change=traveller_change))

    # -- clean material
    add("valid-passenger-list", "A clean single-part passenger list", lambda: single(1, 5), set(),
        tags=("valid",))
    add("valid-crew-list", "A clean crew list (BGM 250)", lambda: [Sent.of(crew_list())], set(), tags=("valid", "crew"))
    add("valid-alt-separators", "Type-B style separators declared in UNA (element '(', terminator '-')",
        _alt_separators, set(), tags=("valid", "syntax"))
    add("valid-typeb-envelope", "Interchange inside a Type-B teletype header",
        lambda: single(93, 2, _typeb), set(), warnings={"ENV-TYPEB"},
        tags=("valid", "syntax"), covers=("ENV-TYPEB",))
    add("flight-close-out", "Flight close-out BGM 266 CLOB: boarded travellers by reference only", _close_out,
        set(), tags=("valid", "close-out"))
    add("cusres-response", "CUSRES 962 answer (0Z / 1Z) read per traveller", _cusres, set(), tags=("valid", "cusres"))
    add("legacy-us-format", "Legacy US EDIFACT PAXLST 001:000 read into the same model", _legacy_us, set(),
        warnings={"FMT-LEGACY-US"}, tags=("valid", "legacy"))
    add("watchlist-hits", "Two travellers planted from the bundled test watchlist", lambda: _planted(95, 2), set(),
        hits={B: ["TWL-0001", "TWL-0002"]}, tags=("valid", "screening"))

    # -- multi-part lists
    add("multipart-in-order", "Three parts 01:C 02:C 03:F in order", lambda: parts_of(101, 7, 3), set(),
        tags=("multipart",))
    add("multipart-out-of-order", "Three parts arriving 03:F, 01:C, 02:C",
        lambda: [p for i, p in sorted(enumerate(parts_of(103, 7, 3)), key=lambda x: (x[0] + 1) % 3)], set(),
        warnings={"ASM-PART-ORDER"}, tags=("multipart",))
    add("multipart-missing-final", "Parts 01:C and 02:C; the final part never arrives",
        lambda: parts_of(105, 7, 3)[:2], set(), warnings={"ASM-FINAL-MISSING"}, tags=("multipart",))
    add("multipart-missing-middle", "Parts 01:C and 03:F; part 02 is missing",
        lambda: [parts_of(107, 7, 3)[i] for i in (0, 2)], {"ASM-PART-MISSING"}, tags=("multipart",))
    add("multipart-duplicate-part", "Part 01 sent twice (new interchange reference), then 02:F",
        lambda: (lambda p: [p[0], p[0].with_data(_swap_unb_ref(p[0].data, "DUP000001")), p[1]])(
            parts_of(109, 5, 3)), set(),
        warnings={"ASM-PART-DUPLICATE"}, tags=("multipart",))
    add("multipart-cnt-mismatch", "Final part's CNT says one traveller more than all parts hold",
        lambda: (lambda p: [*p[:-1], p[-1].with_data(Edi.parse(p[-1].data).replace("CNT+", "CNT+42:8").to_bytes())])(
            parts_of(111, 7, 3)), {"ASM-CNT-MISMATCH"}, tags=("multipart",))
    add("multipart-header-mismatch", "Part 02 names another flight than part 01",
        lambda: (lambda p: [p[0], p[1].with_data(Edi.parse(p[1].data).sub("TDT+", "+++", "9+++").to_bytes())])(
            parts_of(113, 5, 3)),
        set(), warnings={"ASM-HEADER-MISMATCH"}, tags=("multipart",))

    # -- L0 envelope
    add("env-unt-count", "UNT segment count off by two", one(DEFECTS["bad-unt-count"].apply or _with(print),
                                                             fix=False), {"ENV-UNT-COUNT"}, tags=("envelope",))
    add("env-unt-ref", "UNT reference differs from UNH", one(lambda e: _set(e, "UNT+", e.segments[e.index("UNT+")]
                                                                       + "9")), {"ENV-UNT-REF"}, tags=("envelope",))
    add("env-unt-missing", "Message without UNT", one(lambda e: e.delete("UNT+")), {"ENV-UNT-MISSING"},
        tags=("envelope",))
    add("env-unt-stray", "UNT without UNH", one(lambda e: e.insert_before("UNE+", "UNT+2+77")),
        {"ENV-UNT-STRAY"}, tags=("envelope",))
    add("env-unh-ref", "UNH without message reference",
        one(lambda e: (_set(e, "UNH+", "UNH++" + e.segments[e.index("UNH+")].split("+", 2)[2]),
                       _set(e, "UNT+", e.segments[e.index("UNT+")].rsplit("+", 1)[0] + "+"))),
        {"ENV-UNH-REF", "ENV-UNT-REF"}, tags=("envelope",))
    add("env-une-count", "UNE message count wrong", one(lambda e: _set(e, "UNE+", "UNE+3+1"), fix=False),
        {"ENV-UNE-COUNT"}, tags=("envelope",))
    add("env-une-ref", "UNE reference differs from UNG", one(lambda e: _set(e, "UNE+", "UNE+1+7")),
        {"ENV-UNE-REF"}, tags=("envelope",))
    add("env-une-missing", "Group without UNE", one(lambda e: e.delete("UNE+")), {"ENV-UNE-MISSING"},
        tags=("envelope",))
    add("env-une-stray", "UNE without UNG", one(lambda e: e.delete("UNG+")), {"ENV-UNE-STRAY"}, tags=("envelope",))
    add("env-unz-count", "UNZ count wrong", one(lambda e: _set(e, "UNZ+", "UNZ+4+" + e.segments[-1].split("+")[2]),
                                                fix=False), {"ENV-UNZ-COUNT"}, tags=("envelope",))
    add("env-unz-ref", "UNZ reference differs from UNB 0020", one(DEFECTS["bad-unz-ref"].apply or _with(print)),
        {"ENV-UNZ-REF"}, tags=("envelope",))
    add("env-unz-missing", "Interchange cut off before UNZ", one(lambda e: e.segments.pop(), fix=False),
        {"ENV-UNZ-MISSING"}, tags=("envelope",))
    add("env-unz-stray", "UNZ without UNB (fragment with a trailer)",
        one(lambda e: e.delete("UNB+"), fix=False), {"ENV-UNZ-STRAY", "ENV-UNB-MISSING-ENVELOPE"},
        contrl=uci("ENV-UNB-MISSING-ENVELOPE"), tags=("envelope",))
    add("env-fragment", "Message fragment UNH..UNT without UNB/UNZ (travellers still read)", one(_fragment),
        {"ENV-UNB-MISSING-ENVELOPE"}, tags=("envelope", "fragment"))
    add("env-empty", "Interchange without any message",
        one(lambda e: setattr(e, "segments", [e.segments[0], "UNZ+0+" + e.segments[-1].split("+")[2]]), fix=False),
        {"ENV-EMPTY"}, traveller_change=-3, tags=("envelope",))
    add("env-mixed", "A group and a bare message in one interchange",
        one(lambda e: e.insert_before("UNZ+", *e.segments[e.index("UNH+"):e.index("UNT+") + 1])),
        {"ENV-MIXED"}, traveller_change=+3, tags=("envelope",))
    add("env-outside", "A data segment between UNE and UNZ", one(lambda e: e.insert_before("UNZ+", "FTX+AAI")),
        {"ENV-OUTSIDE"}, tags=("envelope",))
    add("env-syntax-version", "Syntax version 9 in UNB", one(lambda e: e.sub("UNB+", "UNOA:4", "UNOA:9")),
        {"ENV-SYNTAX-VERSION"}, tags=("envelope",))
    add("env-unb-date", "UNB date unreadable", one(lambda e: e.sub("UNB+", "+2503", "+25X3")), {"ENV-UNB-DATE"},
        tags=("envelope",))
    add("env-unb-missing-element", "UNB without recipient",
        one(lambda e: _set(e, "UNB+", "+".join(p if i != 3 else "" for i, p in
                                               enumerate(e.segments[e.index("UNB+")].split("+"))))),
        {"ENV-UNB-MISSING"}, tags=("envelope",))
    add("env-unb-not-first", "UNG before UNB", one(_ung_before_unb),
        {"ENV-UNB-NOT-FIRST"}, tags=("envelope",))
    add("env-unb-repeated", "Two interchanges in one transmission",
        one(lambda e: e.insert_before("UNZ+", e.segments[e.index("UNB+")]), seed=121),
        {"ENV-UNB-REPEATED"}, tags=("envelope",))
    add("env-junk-before", "Banner text before UNA", lambda: single(125, 2, lambda b: b"HELLO GOVERNMENT\n" + b),
        set(), warnings={"ENV-JUNK-BEFORE"}, tags=("envelope",))
    add("env-junk-after", "Segments after UNZ", one(lambda e: e.segments.append("FTX+AAI")), set(),
        warnings={"ENV-JUNK-AFTER"}, tags=("envelope",))
    add("fmt-unsupported", "A message type other than PAXLST/CUSRES",
        one(lambda e: e.sub("UNH+", "PAXLST:D:05B:UN:IATA", "IFTMIN:D:05B:UN")), {"FMT-UNSUPPORTED", "ENV-EMPTY"},
        traveller_change=-3, tags=("envelope",))  # an IFTMIN's travellers are not read

    # -- L1 syntax
    add("syn-una", "UNA uses one character for two functions",
        lambda: single(131, 2, lambda b: b"UNA:+:? '" + b[9:]), {"SYN-UNA"}, tags=("syntax",))
    add("syn-separators", "Non-default terminator without UNA",
        lambda: single(133, 2, lambda b: b.replace(b"UNA:+.? '\n", b"").replace(b"'", b'"')),
        {"SYN-SEPARATORS", "ENV-EMPTY", "ENV-UNZ-MISSING"}, contrl=uci("SYN-SEPARATORS"),
        traveller_change=-2, tags=("syntax",), covers=("SYN-SEPARATORS",))  # no segment is read
    add("syn-truncated", "Input ends inside a segment", one(lambda e: setattr(
        e, "suffix", "UNZ+1"), fix=False), {"SYN-TRUNCATED"}, tags=("syntax",))
    add("syn-charset", "Lower-case name under UNOA", one(DEFECTS["lowercase-unoa"].apply or _with(print)),
        {"SYN-CHARSET"}, tags=("syntax",))
    add("syn-encoding", "Invalid UTF-8 bytes under UNOW", lambda: single(135, 2, lambda b: (
        Edi.parse(b).sub("UNB+", "UNOA", "UNOW").to_bytes().replace(b"NAD+FL+++", b"NAD+FL+++\xff", 1))),
        {"SYN-ENCODING"}, tags=("syntax",))
    add("syn-charset-unsupported", "Syntax identifier UNOX (code extension) not supported",
        one(lambda e: e.sub("UNB+", "UNOA", "UNOX")), {"SYN-CHARSET-UNSUPPORTED"}, tags=("syntax",))
    add("syn-release", "Release character at the very end of the input",
        lambda: single(137, 2, lambda b: b.rstrip(b"\n") + b"?"), {"SYN-RELEASE", "SYN-TAG", "SYN-TRUNCATED"},
        contrl=uci("SYN-TRUNCATED"), tags=("syntax",), covers=("SYN-RELEASE",))
    add("syn-tag", "A segment tag that is not three letters", one(lambda e: e.insert_after("BGM+", "B1M+745")),
        {"SYN-TAG"}, tags=("syntax",))
    add("syn-tag-space", "Spaces around a segment tag", one(lambda e: _set(e, "BGM+", "BGM +745")), set(),
        warnings={"SYN-TAG-SPACE"}, tags=("syntax",))
    add("dat-date", "Date of birth with month 13", one(lambda e: _trav(e, 0, "DTM+329:", "DTM+329:851307")),
        {"DAT-DATE"}, tags=("syntax",))
    add("dat-number", "Bag weight that is not a number",
        one(lambda e: e.insert_after("NAD+FL+", "MEA+WT++KGM:ABC") if not e.has("MEA+WT") else
            _set(e, "MEA+WT", "MEA+WT++KGM:ABC")), {"DAT-NUMBER"}, tags=("syntax",))

    # -- L2 structure
    add("str-sg4-order", "NAT before ATT in a traveller group",
        one(lambda e: e.insert_after("NAD+FL+", "NAT+2+GBR")), set(), warnings={"STR-SG4-ORDER"},
        tags=("structure",))
    add("str-unexpected", "A segment the MIG does not define in the traveller group",
        one(lambda e: e.insert_after("NAD+FL+", "QTY+1:1")), set(), warnings={"STR-UNEXPECTED"},
        tags=("structure",))
    add("str-bgm-missing", "No BGM", one(lambda e: e.delete("BGM+")), {"STR-BGM-MISSING"}, tags=("structure",))
    add("str-leg-missing", "No TDT group", one(lambda e: e.delete("TDT+", count=5)), {"STR-LEG-MISSING"},
        tags=("structure",))
    add("str-leg-endpoints", "Flight leg without arrival", one(lambda e: e.delete("LOC+87+", count=2)),
        {"STR-LEG-ENDPOINTS"}, tags=("structure",))
    add("str-crew-list-pax", "A passenger in a crew list",
        lambda: [Sent.of(crew_list(), crew().replace("NAD+FM+", crew().segments[crew().index("NAD+FM+")]
                                                     .replace("FM", "FL", 1))
                         .replace("CNT+", "CNT+41:3").insert_before("UNT+", "CNT+42:1").fix_counts().to_bytes())],
        set(), warnings={"STR-CREW-LIST-PAX"}, tags=("structure", "crew"))
    add("str-cnt-missing", "No CNT", one(lambda e: e.delete("CNT+")), set(), warnings={"STR-CNT-MISSING"},
        tags=("structure",))
    add("dat-doc-type-missing", "DOC without document type",
        one(lambda e: _trav(e, 0, "DOC+", "DOC++" + e.segments[e.in_traveller(0, "DOC+")].split("+")[2])),
        {"DAT-DOC-TYPE-MISSING"}, tags=("structure",))

    # -- L3 code lists
    add("cod-cnt", "CNT qualifier 3", one(lambda e: _set(e, "CNT+", "CNT+3:3")), {"COD-CNT"}, tags=("codes",))
    add("dat-cnt", "CNT with element separator instead of component separator",
        one(lambda e: _set(e, "CNT+", "CNT+42+3")), {"DAT-CNT"}, tags=("codes",))
    add("cod-country", "Nationality QQQ", one(DEFECTS["bad-country"].apply or _with(print)), {"COD-COUNTRY"},
        tags=("codes",))
    add("cod-airport", "Embarkation airport that is not an IATA code",
        one(lambda e: _trav(e, 0, "LOC+178+", "LOC+178+12")), {"COD-AIRPORT"}, tags=("codes",))
    add("cod-airport-unknown", "Well-formed but unknown airport code",
        one(lambda e: _trav(e, 0, "LOC+178+", "LOC+178+QQJ")), set(), warnings={"COD-AIRPORT-UNKNOWN"},
        tags=("codes",))
    add("cod-gender", "Gender Q", one(DEFECTS["bad-gender"].apply or _with(print)), {"COD-GENDER"}, tags=("codes",))
    add("cod-doc-type", "Document type Q", one(DEFECTS["bad-doc-type"].apply or _with(print)), {"COD-DOC-TYPE"},
        tags=("codes",))
    add("cod-bgm", "BGM document code 999", one(lambda e: _set(e, "BGM+", "BGM+999")), {"COD-BGM"},
        tags=("codes",))
    add("cod-bgm-id", "BGM identifier ZZ", one(lambda e: _set(e, "BGM+", "BGM+745+ZZ")), set(),
        warnings={"COD-BGM-ID"}, tags=("codes",))
    add("cod-party", "NAD party function XX", one(lambda e: e.sub("NAD+FL+", "NAD+FL+", "NAD+XX+")),
        {"COD-PARTY", "CNT-PASSENGERS"}, tags=("codes",), covers=("COD-PARTY",))
    add("cod-transport-stage", "TDT transport stage 99", one(lambda e: e.sub("TDT+", "TDT+20", "TDT+99")),
        {"COD-TRANSPORT-STAGE"}, tags=("codes",))
    add("cod-loc-qualifier", "Flight leg LOC qualifier 999", one(lambda e: e.insert_after("DTM+189", "LOC+999+ZRH")),
        set(), warnings={"COD-LOC-QUALIFIER"}, tags=("codes",))
    add("cod-rff", "Traveller reference qualifier QQQ", one(lambda e: e.insert_before("DOC+", "RFF+QQQ:1")), set(),
        warnings={"COD-RFF"}, tags=("codes",))
    add("cod-carrier", "Carrier designator of one character",
        one(lambda e: _set(e, "TDT+", e.segments[e.index("TDT+")].rsplit("+", 1)[0] + "+"
                           + e.segments[e.index("TDT+")][7])), set(), warnings={"COD-CARRIER"}, tags=("codes",))

    # -- L4 semantics and identity completeness (baseline: surname error, other fields warnings)
    add("dat-name-missing", "Traveller without surname",
        one(lambda e: _trav(e, 0, "NAD+FL+", "NAD+FL+++:" + e.segments[e.traveller(0)[0]].split(":", 1)[1])),
        {"DAT-NAME-MISSING"}, tags=("identity",))
    for rule, title, prefix in (("REQ-GENDER", "No gender", "ATT+"), ("REQ-DOB", "No date of birth", "DTM+329:"),
                                ("REQ-NATIONALITY", "No nationality", "NAT+"),
                                ("REQ-DOC-EXPIRY", "No document expiry", "DTM+36:"),
                                ("REQ-DOC-ISSUING-STATE", "No document issuing state", "LOC+91+")):
        add(rule.lower(), title, one(_dropper(prefix)), set(), warnings={rule},
            tags=("identity",))
    add("req-given-names", "No given names",
        one(lambda e: _trav(e, 0, "NAD+FL+", e.segments[e.traveller(0)[0]].split(":", 1)[0])), set(),
        warnings={"REQ-GIVEN-NAMES"}, tags=("identity",))
    add("req-document", "No travel document",
        one(lambda e: e.segments.__delitem__(slice(e.in_traveller(0, "DOC+"), e.traveller(0)[1]))), set(),
        warnings={"REQ-DOCUMENT"}, tags=("identity",))
    add("req-doc-number", "Document without number",
        one(lambda e: _trav(e, 0, "DOC+", e.segments[e.in_traveller(0, "DOC+")].split("+")[1].join(["DOC+", ""]))),
        set(), warnings={"REQ-DOC-NUMBER"}, tags=("identity",))
    add("dat-birth-after-departure", "Date of birth after departure",
        one(lambda e: _trav(e, 0, "DTM+329:", "DTM+329:20400101:102")), {"DAT-BIRTH-AFTER-DEPARTURE"},
        tags=("dates",))
    add("dat-age", "Traveller born in 1890", one(lambda e: _trav(e, 0, "DTM+329:", "DTM+329:18900101:102")),
        set(), warnings={"DAT-AGE"}, tags=("dates",))
    add("dat-doc-expired", "Document expired in 2015", one(DEFECTS["expired-document"].apply or _with(print)),
        set(), warnings={"DAT-DOC-EXPIRED"}, tags=("dates",))
    add("dat-doc-issued-late", "Document issued after departure",
        one(lambda e: e.segments.insert(e.in_traveller(0, "DTM+36:") + 1, "DTM+182:20401231:102")), set(),
        warnings={"DAT-DOC-ISSUED-LATE"}, tags=("dates",))
    add("dat-leg-order", "Scheduled arrival before departure",
        one(lambda e: _set(e, "DTM+232:", "DTM+232:" + e.segments[e.index("DTM+189:")][8:14] + "0001:201")),
        set(), warnings={"DAT-LEG-ORDER"}, tags=("dates",))
    add("cnt-passengers", "CNT 42 one more than the passengers sent", one(DEFECTS["bad-cnt"].apply or _with(print)),
        {"CNT-PASSENGERS"}, tags=("counts",))
    add("cnt-crew", "CNT 41 one more than the crew sent",
        lambda: [Sent.of(crew_list(), (lambda e: e.replace(
            "CNT+", "CNT+41:" + str(int(e.segments[e.index("CNT+")][7:]) + 1)))(crew()).to_bytes())],
        {"CNT-CREW"}, tags=("counts", "crew"))
    add("con-carrier-flight", "Flight id does not start with the carrier",
        one(lambda e: _set(e, "TDT+", "TDT+20+XQ" + e.segments[e.index("TDT+")].split("+")[2][2:] + "+++"
                           + e.segments[e.index("TDT+")].split("+")[-1])), set(), warnings={"CON-CARRIER-FLIGHT"},
        tags=("consistency",))
    add("con-route-embark", "Embarkation airport not on the route",
        one(lambda e: _trav(e, 0, "LOC+178+", "LOC+178+NRT")), set(), warnings={"CON-ROUTE-EMBARK"},
        tags=("consistency",))
    add("con-route-debark", "Debarkation airport not on the route",
        one(lambda e: _trav(e, 0, "LOC+179+", "LOC+179+NRT")), set(), warnings={"CON-ROUTE-DEBARK"},
        tags=("consistency",))

    # -- national-profile differences (each case carries the expectation of every profile it shows)
    add("national-sire-syntax-id", "Syntax id SIRE: rejected by baseline, accepted by cn-iapi", _sire,
        {B: {"SYN-CHARSET-UNKNOWN"}, "cn-iapi": set()}, tags=("national",))
    add("national-expiry-required", "No document expiry: warning in baseline, error in us, not needed in uk",
        _us_uk_expiry, {B: set(), "us": {"REQ-DOC-EXPIRY"}, "uk": set()},
        warnings={B: {"REQ-DOC-EXPIRY"}}, tags=("national",))
    add("national-abo-required", "No RFF+ABO: fine in baseline, an error for cn-iapi", _cn_no_abo,
        {B: set(), "cn-iapi": {"REQ-RFF-ABO"}}, tags=("national",))
    add("national-too-many-travellers", "Eleven travellers in one message: cn-iapi allows ten", _cn_eleven,
        {B: set(), "cn-iapi": {"STR-TOO-MANY-TRAVELLERS"}}, tags=("national",))

    # -- the service remembers. The same sender + UNB 0020 with other bytes (here: prepared a minute later)
    #    is processed and flagged, never dropped: a decoy sent first must not make the real list vanish.
    #    Only the same bytes again are a duplicate (CONTRL 0085 = 26, not processed again); a black-box run
    #    sends that second copy under a key of its own once the first is acknowledged, because identical
    #    bytes under the same key are a replay of the record, answered with the same events.
    add("reused-interchange-reference",
        "The same sender and reference with other content: processed and flagged, never dropped",
        lambda: (lambda s: [s, s.with_data(_resent(s.data))])(single(141, 2)[0]),
        set(), warnings={"ENV-REF-REUSED"}, contrl={DUPLICATE_DETECTED},  # noted on the accepting UCI
        tags=("envelope", "service"), covers=("ENV-REF-REUSED", "contrl:26"))
    add("duplicate-interchange", "The same bytes sent again: answered once, then as a duplicate (CONTRL 26)",
        lambda: single(143, 2) * 2,
        set(), duplicates=(1,), tags=("envelope", "service"), covers=("contrl:26",))

    # -- bounded findings: a message cannot make the receiver build a finding per byte. Past 999 per message
    #    (the most UCS a CONTRL lists) findings are counted, not listed, in one summary of their worst severity.
    add("findings-bound", "A thousand unexpected segments: 999 findings listed, the rest counted in one summary",
        one(lambda e: e.segments.__setitem__(slice(e.index("UNT+"), e.index("UNT+")), ["DTM+329:851307"] * 1000),
            seed=147),
        set(), warnings={"STR-UNEXPECTED", "SYN-TOO-MANY-FINDINGS"}, tags=("syntax", "limits"),
        covers=("SYN-TOO-MANY-FINDINGS",))
    return s


# ---- the expectation, derived from the declaration -------------------------------------------------------


class BuildError(RuntimeError):
    pass


def _dead_letters_its_input(rule: str) -> bool:
    """An error of the envelope (L0) or of the ISO 9735 syntax (L1): the input is rejected whole."""
    r = RULES[rule]
    return r.layer == "L0" or (r.layer == "L1" and r.reference.startswith(_ISO_9735))


def _of_assembly(rule: str) -> bool:
    """Found when the parts of a list are put together: it concerns the list, not an interchange's CONTRL."""
    return rule.startswith("ASM-")


def contrl_codes(errors: set[str]) -> set[int]:
    """The 0085 codes answering an input with `errors`: each error's code in the catalogue; a rejection
    none of whose errors has one is still answered, with 18 (unspecified)."""
    codes = {c for r in errors if (c := RULES[r].contrl) is not None}
    return codes or ({UNSPECIFIED} if errors else set())


@dataclass(frozen=True)
class _List:
    travellers: int
    complete: bool
    multipart: bool


def _lists(sent: Sequence[Sent]) -> list[_List]:
    """The lists the inputs carry: each single-part list, and the parts of each multi-part list together
    (a part received again counts once; complete when parts 1 up to the final one are all there)."""
    out: list[_List] = []
    parts: dict[str, dict[int, Sent]] = {}
    for s in sent:
        if s.list_id is None:
            continue
        if s.single_part:
            out.append(_List(s.travellers, True, False))
        else:
            parts.setdefault(s.list_id, {}).setdefault(s.part, s)
    for got in parts.values():
        final = next((p.part for p in got.values() if p.final), None)
        complete = final is not None and set(got) == set(range(1, final + 1))
        out.append(_List(sum(p.travellers for p in got.values()), complete, True))
    return out


def expectation(spec: Spec, sent: Sequence[Sent], profile: str) -> Expectation:
    """What a conforming system concludes about `sent` under `profile`, from the declaration alone."""
    errors = spec.errors[profile]
    unknown = sorted(errors - RULES.keys())
    if unknown:
        raise BuildError(f"{spec.id} [{profile}]: {unknown} are not in the rule catalogue")
    repeats = tuple(i for i, s in enumerate(sent) if any(t.data == s.data for t in sent[:i]))
    if repeats != spec.duplicates:
        raise BuildError(f"{spec.id}: inputs {list(repeats)} repeat earlier bytes, declared duplicates "
                         f"{list(spec.duplicates)}")
    primary = [i for i in range(len(sent)) if i not in spec.duplicates]
    own = {r for r in errors if not _of_assembly(r)}
    if len(primary) == 1:
        accepted: tuple[bool, ...] = (not own,)
        dead: tuple[int, ...] = tuple(primary) if any(_dead_letters_its_input(r) for r in own) else ()
    elif not own:
        accepted, dead = (True,) * len(primary), ()
    elif profile in spec.accepted and profile in spec.dead_letters:
        accepted, dead = spec.accepted[profile], spec.dead_letters[profile]
    else:
        raise BuildError(f"{spec.id} [{profile}]: errors in a case of several inputs: declare which inputs are "
                         "accepted and which are dead-lettered")
    lists = _lists([sent[i] for i in primary if i not in dead])
    announced = [lst for lst in lists if lst.complete or not lst.multipart]
    assembly = {r for r in errors if _of_assembly(r)} if any(lst.multipart for lst in announced) else set()
    return Expectation(
        profile=profile, verdict="fail" if errors else "pass", errors=frozenset(errors),
        warnings=frozenset(spec.warnings.get(profile, set())),
        contrl=frozenset(spec.contrl.get(profile, contrl_codes(own))), accepted=accepted, dead_letters=dead,
        duplicates=spec.duplicates, travellers=sum(sent[i].travellers for i in primary), manifests=len(announced),
        announced_travellers=sum(lst.travellers for lst in announced), manifest_errors=frozenset(assembly),
        complete=all(lst.complete for lst in lists) if lists else None,
        hits=tuple(sorted(spec.hits.get(profile, []))))


@dataclass
class Declared:
    """A case as declared: its inputs and, per profile, the expectation derived from the declaration."""

    id: str
    spec: Spec
    inputs: list[Sent]
    expect: dict[str, Expectation]

    @property
    def names(self) -> list[str]:
        return [f"{i}.edi" for i in range(1, len(self.inputs) + 1)]

    def case_toml(self) -> str:
        return _toml({"id": self.id, "title": self.spec.title, "inputs": self.names, "tags": list(self.spec.tags),
                      "covers": list(self.spec.covers),
                      "expect": {p: e.to_toml() for p, e in self.expect.items()}})


def declare(n: int, spec: Spec) -> Declared:
    sent = spec.inputs()
    if spec.traveller_change:
        sent[0] = dataclasses.replace(sent[0], travellers=sent[0].travellers + spec.traveller_change)
    return Declared(f"{n:03d}-{spec.id}", spec, sent, {p: expectation(spec, sent, p) for p in spec.errors})


def declared_suite() -> list[Declared]:
    return [declare(n, spec) for n, spec in enumerate(_specs(), start=1)]


def departures(case_id: str, expected: Expectation, ev: Evaluation) -> list[str]:
    """Where the project's evaluation departs from the declared expectation: one line per field."""
    return [f"{case_id} [{expected.profile}]: {m}" for m in compare(expected, expectation_of(ev, expected.profile))]


# ---- building ------------------------------------------------------------------------------------------


def _toml(d: Mapping[str, object]) -> str:
    """A tiny TOML writer for the case files (strings, ints, bools, lists of those, tables)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, object]]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            tables.append((k, dict(v)))
        else:
            lines.append(f"{k} = {json.dumps(v)}")
    for name, table in tables:
        sub = [(k, v) for k, v in table.items() if isinstance(v, dict)]
        for k, v in sub:
            lines.append(f"\n[{name}.{k}]")
            lines.extend(f"{kk} = {json.dumps(vv)}" for kk, vv in v.items())
    return "\n".join(lines) + "\n"


def build(out: Path) -> list[str]:
    """Write every case under `out`; returns the case ids. Raises BuildError, naming each case, profile and
    field, where the project's code departs from what the case declares."""
    cases = declared_suite()
    problems: list[str] = []
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for case in cases:
        d = out / case.id
        d.mkdir()
        for name, sent in zip(case.names, case.inputs, strict=True):
            (d / name).write_bytes(sent.data)
        inputs = [(name, sent.data) for name, sent in zip(case.names, case.inputs, strict=True)]
        for profile, expected in case.expect.items():
            problems.extend(departures(case.id, expected, evaluate(inputs, load_profile(profile))))
        (d / "case.toml").write_text(case.case_toml(), encoding="utf-8")
    (out / "suite.toml").write_text(_toml({
        "name": out.name, "version": SUITE_VERSION,
        "description": "Baseline conformance suite: one case per baseline rule a message can trigger, every "
                       "CONTRL 0085 code of the syntax layer, multi-part lists, crew lists, flight close-out, "
                       "CUSRES, watchlist hits, national-profile differences, duplicates (the same bytes) "
                       "reused interchange references (processed and flagged) and the bound on findings. "
                       "Supersedes baseline-1, "
                       "whose case 097 expected a reused reference to be dropped as a duplicate. Generated by "
                       "conformance/build_suite.py; do not edit by hand.",
    }), encoding="utf-8")
    if problems:
        raise BuildError("\n".join(problems))
    return [case.id for case in cases]


def coverage(ids_dir: Path) -> dict[str, list[str]]:
    """Which rules of the catalogue the built suite raises (any profile), for the docs and the tests."""
    from .suite import load_suite

    suite = load_suite(ids_dir)
    seen: dict[str, list[str]] = {}
    for c in suite.cases:
        for e in c.expect.values():
            for r in (*e.errors, *e.warnings, *e.manifest_errors):
                seen.setdefault(r, []).append(c.id)
    return {r: seen.get(r, []) for r in RULES}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", type=Path, default=SUITE_DIR / SUITE_NAME)
    args = p.parse_args(argv)
    try:
        ids = build(args.out)
    except BuildError as exc:
        print(f"build_suite: the code departs from what the cases declare (MIG, catalogue, profiles):\n{exc}",
              file=sys.stderr)
        return 1
    print(f"{len(ids)} cases written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
