"""Named defects for `conformance generate --defects`: each one a small, documented mutation.

Strategy: a defect is a function on one interchange (`Edi`) plus the rule it is meant to
trigger, so the generator's output can be made wrong in exactly one, known way; the suite
builder uses the same functions, so a defect that stops producing its rule fails the build.
Flight-level defects (`missing-final-part`) act on the list of parts and are handled apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .edi import Edi


@dataclass(frozen=True)
class Defect:
    name: str
    rule: str
    description: str
    apply: Callable[[Edi], Edi] | None  # None: acts on the list of parts (see generate)
    fix_counts: bool = True


def _bad_unt_count(e: Edi) -> Edi:
    i = e.index("UNT+")
    parts = e.segments[i].split("+")
    parts[1] = str(int(parts[1]) + 2)
    e.segments[i] = "+".join(parts)
    return e


def _missing_doc_expiry(e: Edi) -> Edi:
    e.segments.pop(e.in_traveller(0, "DTM+36:"))
    return e


def _expired_document(e: Edi) -> Edi:
    i = e.in_traveller(0, "DTM+36:")
    e.segments[i] = "DTM+36:150101"  # long before any generated flight (2025 onwards)
    return e


def _bad_country(e: Edi) -> Edi:
    e.segments[e.in_traveller(0, "NAT+")] = "NAT+2+QQQ"
    return e


def _lowercase_unoa(e: Edi) -> Edi:
    i = e.traveller(0)[0]
    e.segments[i] = e.segments[i][:9] + e.segments[i][9:].lower()  # NAD+FL+++ stays, the name does not
    return e


def _bad_unz_ref(e: Edi) -> Edi:
    e.segments[-1] = e.segments[-1] + "9"
    return e


def _bad_gender(e: Edi) -> Edi:
    e.segments[e.in_traveller(0, "ATT+")] = "ATT+2++Q"
    return e


def _bad_doc_type(e: Edi) -> Edi:
    i = e.in_traveller(0, "DOC+")
    e.segments[i] = "DOC+Q" + e.segments[i][e.segments[i].index(":"):]
    return e


def _bad_cnt(e: Edi) -> Edi:
    i = e.index("CNT+")
    q, n = e.segments[i][4:].split(":")
    e.segments[i] = f"CNT+{q}:{int(n) + 1}"
    return e


def _missing_unz(e: Edi) -> Edi:
    e.segments.pop()
    return e


DEFECTS: dict[str, Defect] = {d.name: d for d in (
    Defect("bad-unt-count", "ENV-UNT-COUNT", "UNT segment count off by two", _bad_unt_count, fix_counts=False),
    Defect("bad-unz-ref", "ENV-UNZ-REF", "UNZ reference differs from UNB 0020", _bad_unz_ref),
    Defect("missing-unz", "ENV-UNZ-MISSING", "interchange cut off before UNZ", _missing_unz, fix_counts=False),
    Defect("missing-doc-expiry", "REQ-DOC-EXPIRY", "first traveller's document has no DTM+36",
           _missing_doc_expiry),
    Defect("expired-document", "DAT-DOC-EXPIRED", "first traveller's document expired in 2015", _expired_document),
    Defect("bad-country", "COD-COUNTRY", "first traveller's nationality QQQ", _bad_country),
    Defect("bad-gender", "COD-GENDER", "first traveller's gender Q", _bad_gender),
    Defect("bad-doc-type", "COD-DOC-TYPE", "first traveller's document type Q", _bad_doc_type),
    Defect("bad-cnt", "CNT-PASSENGERS", "CNT total one more than the travellers sent", _bad_cnt),
    Defect("lowercase-unoa", "SYN-CHARSET", "first traveller's name in lower case under UNOA", _lowercase_unoa),
    Defect("missing-final-part", "ASM-FINAL-MISSING", "the part marked F of each list is not written", None),
)}
