"""OFAC SDN legacy CSV (`sdn.csv`, no header, 12 columns) joined with `alt.csv` aliases.

Strategy: the csv module reads the records (CRLF, `-0- ` nulls, a trailing DOS EOF byte that
becomes a one-field row we skip). Everything about a person except the name lives in free-text
Remarks, split on ";" into items and read with one small regex per kind: DOB (day month year,
month year, year, circa, "to" ranges), nationality and citizen, Passport and National ID
(with the issuing country in brackets), Gender, and the weak a.k.a./f.k.a. names. Strong aliases
come from alt.csv, joined on ent_num; aliases whose ent_num is not in this sdn.csv (the two files
have different dates) are reported as rejected rows, not silently dropped. Person names are
written "LAST, First Middle" and are turned to natural order.
Program holds the sanctions programmes ("SDGT] [IFSR": two tags); the Remarks items no regex read
(place of birth, "Linked To: ...", secondary sanctions notes, titles) are the entry's reason, in
OFAC's words. The legacy CSV has no designation date, so `listed_on` stays empty.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from watchlists.countries import to_alpha2
from watchlists.dates import parse_date
from watchlists.loaders.common import LoadResult, clean, dedupe_names, prose
from watchlists.models import Category, Document, NameVariant, PartialDate, Rejected, WatchlistEntry

LIST_NAME = "OFAC-SDN"
_TYPES = {"individual": Category.INDIVIDUAL, "vessel": Category.VESSEL, "aircraft": Category.AIRCRAFT}

_DOB = re.compile(r"^(?:alt\.\s+)?DOB\s+(.+)$", re.IGNORECASE)
_NATIONALITY = re.compile(r"^(?:alt\.\s+)?(?:nationality|citizen)\s+(.+)$", re.IGNORECASE)
_DOCUMENT = re.compile(
    r"^(?:alt\.\s+)?(Passport|National ID No\.|Cedula No\.|Identification Number)\s+(?:No\.\s*)?"
    r"([A-Z0-9][A-Z0-9 \-/]*?)\s*(?:\(([^)]*)\))?(?:\s+(?:expires|issued).*)?$", re.IGNORECASE)
_GENDER = re.compile(r"^Gender\s+(Male|Female)$", re.IGNORECASE)
_AKA = re.compile(r"^(a\.k\.a\.|f\.k\.a\.|n\.k\.a\.)\s+'(.+)'$", re.IGNORECASE)


def natural_order(name: str, category: Category) -> str:
    """'AL ZAWAHIRI, Dr. Ayman' -> 'Dr. Ayman AL ZAWAHIRI' for people; other names unchanged."""
    if category is Category.INDIVIDUAL and name.count(",") == 1:
        last, first = (p.strip() for p in name.split(","))
        return f"{first} {last}".strip()
    return name


def _dob(text: str) -> PartialDate | None:
    text = text.strip().rstrip(".")
    if " to " in text:  # "1960 to 1962" or "01 Jan 1960 to 31 Dec 1962"
        start, end = (parse_date(p) for p in text.split(" to ", 1))
        if start is not None and end is not None:
            return PartialDate(year=start.year, year_to=end.year) if end.year != start.year else start
        return start
    return parse_date(text)


def programmes(program: str | None) -> list[str]:
    """'SDGT] [IFSR' -> ['SDGT', 'IFSR']: the CSV joins several programme tags with '] ['."""
    tags = (t.strip(" []") for t in (program or "").split("] ["))
    return list(dict.fromkeys(t for t in tags if t))


def parse_remarks(remarks: str, category: Category) -> dict[str, list[object]]:
    """The structured facts OFAC keeps in Remarks, keyed by kind; "remark" holds the items read as none."""
    found: dict[str, list[object]] = defaultdict(list)
    for raw in remarks.split(";"):
        item = raw.strip().rstrip(".").strip()
        if not item:
            continue
        if (m := _DOB.match(item)) and (dob := _dob(m[1])):
            found["dob"].append(dob)
        elif (m := _NATIONALITY.match(item)) and (code := to_alpha2(m[1])):
            found["nationality"].append(code)
        elif m := _DOCUMENT.match(item):
            kind = "passport" if m[1].lower() == "passport" else "national_id"
            found["document"].append(Document(number=m[2].strip(), doc_type=kind, country=to_alpha2(m[3])))
        elif m := _GENDER.match(item):
            found["gender"].append("M" if m[1].lower() == "male" else "F")
        elif m := _AKA.match(item):
            found["alias"].append(NameVariant(name=natural_order(m[2], category), kind="weak_alias",
                                              quality=m[1].lower()))
        else:
            found["remark"].append(item)
    return found


def _read_rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="latin-1", newline="") as handle:
        for row in csv.reader(handle):
            if row and row != ["\x1a"]:
                yield row


def _ofac_items(path: Path, alt_path: Path | None) -> Iterator[WatchlistEntry | Rejected]:
    """One pass: alias rows first (joined in memory, a few thousand), then sdn.csv row by row."""
    aliases: dict[str, list[NameVariant]] = defaultdict(list)
    alias_rows: dict[str, int] = {}
    if alt_path is not None:
        for line_no, row in enumerate(_read_rows(alt_path), start=1):
            if len(row) < 4 or not clean(row[0]) or not clean(row[3]):
                yield Rejected(where=f"{alt_path.name}:{line_no}", reason="alias row malformed")
                continue
            kind = (clean(row[2]) or "aka").lower()
            aliases[row[0].strip()].append(NameVariant(name=row[3].strip(), kind="alias", quality=kind))
            alias_rows.setdefault(row[0].strip(), line_no)
    for line_no, row in enumerate(_read_rows(path), start=1):
        where = f"{path.name}:{line_no}"
        if len(row) != 12:
            yield Rejected(where=where, reason=f"expected 12 columns, found {len(row)}")
            continue
        ent_num, name = clean(row[0]), clean(row[1])
        if not ent_num or not name:
            yield Rejected(where=where, reason="missing ent_num or SDN_Name")
            continue
        category = _TYPES.get((clean(row[2]) or "").lower(), Category.ENTITY)
        facts = parse_remarks(clean(row[11]) or "", category)
        names = [NameVariant(name=natural_order(name, category), kind="primary")]
        names += [a.model_copy(update={"name": natural_order(a.name, category)}) for a in aliases.pop(ent_num, [])]
        names += [n for n in facts["alias"] if isinstance(n, NameVariant)]
        gender = [g for g in facts["gender"] if isinstance(g, str)]
        remarks = [r for r in facts["remark"] if isinstance(r, str)]
        yield WatchlistEntry(
            id=ent_num, list=LIST_NAME, category=category, names=dedupe_names(names),
            dates_of_birth=list(dict.fromkeys(d for d in facts["dob"] if isinstance(d, PartialDate))),
            nationalities=list(dict.fromkeys(c for c in facts["nationality"] if isinstance(c, str))),
            gender=gender[0] if gender else None,
            documents=[d for d in facts["document"] if isinstance(d, Document)],
            programmes=programmes(clean(row[3])), reason=prose("; ".join(remarks)),
        )
    for ent_num in aliases:
        yield Rejected(where=f"{alt_path.name if alt_path else 'alt'}:{alias_rows[ent_num]}",
                       reason=f"aliases for ent_num {ent_num}, which is not in {path.name}")


def load_ofac_sdn(path: Path, alt_path: Path | None = None) -> LoadResult:
    paths = [path] + ([alt_path] if alt_path else [])
    return LoadResult.streamed(lambda: _ofac_items(path, alt_path), paths, list_name=LIST_NAME,
                               source_format="ofac_sdn_csv")
