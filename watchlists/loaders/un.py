"""UN Security Council Consolidated List (official XML, `CONSOLIDATED_LIST`).

Strategy: ElementTree read incrementally (iterparse: a record is dropped once read); one entry per
INDIVIDUAL or ENTITY keyed by REFERENCE_NUMBER (e.g. QDi.001), which other lists (UK) quote back.
Name parts FIRST..FOURTH are joined in the order given (the order is not always given-then-family;
matching is order-free).
Aliases keep the UN QUALITY: "Low" becomes a weak alias that scores a little lower. Dates of birth
keep their precision: DATE, YEAR, APPROXIMATELY (widened by a year), BETWEEN FROM_YEAR/TO_YEAR.
Nationalities are country names in the file and become ISO alpha-2.
Why a record is listed comes with it: UN_LIST_TYPE is the sanctions regime (its committee's short
name; the abbreviations are spelt out, keeping the code), LISTED_ON the date of listing (the time
zone a few carry is dropped: the day is the one written) and COMMENTS1 the Committee's narrative
(the line breaks of its wrapping removed).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from watchlists.countries import to_alpha2
from watchlists.dates import make_date, parse_date
from watchlists.loaders.common import LoadError, LoadResult, clean, dedupe_names, prose
from watchlists.models import Category, Document, NameVariant, PartialDate, Rejected, WatchlistEntry

LIST_NAME = "UN"
# UN_LIST_TYPE values that are abbreviations; the others (Al-Qaida, Taliban, Iraq, ...) read as they are.
REGIMES = {"DRC": "Democratic Republic of the Congo", "CAR": "Central African Republic", "GB": "Guinea-Bissau",
           "DPRK": "Democratic People's Republic of Korea", "SouthSudan": "South Sudan"}


def regime(list_type: str | None) -> list[str]:
    """The sanctions regime of a UN record, as an officer reads it ("Guinea-Bissau (GB)", "Al-Qaida")."""
    if not list_type:
        return []
    name = REGIMES.get(list_type)
    return [f"{name} ({list_type})" if name else list_type]


def _text(node: ET.Element, tag: str) -> str | None:
    child = node.find(tag)
    return clean(child.text) if child is not None else None


def _listed_on(text: str | None) -> PartialDate | None:
    """LISTED_ON is an xs:date, a few with a time zone ("2015-07-01-04:00"): the day as written."""
    return parse_date(re.sub(r"(?:Z|[+-]\d{2}:\d{2})$", "", text)) if text else None


def _dates(node: ET.Element) -> list[PartialDate]:
    out: list[PartialDate] = []
    for dob in node.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        kind = (_text(dob, "TYPE_OF_DATE") or "EXACT").upper()
        approximate = kind.startswith("APPROX")
        date_text, year, y_from, y_to = (_text(dob, t) for t in ("DATE", "YEAR", "FROM_YEAR", "TO_YEAR"))
        found: PartialDate | None = None
        if date_text:
            parsed = parse_date(date_text)
            if parsed is not None:
                found = parsed.model_copy(update={"approximate": approximate})
        elif year and year.isdigit():
            found = make_date(int(year), approximate=approximate)
        elif y_from and y_to and y_from.isdigit() and y_to.isdigit():
            found = make_date(int(y_from), year_to=int(y_to), approximate=approximate)
        if found is not None and found not in out:
            out.append(found)
    return out


def _documents(node: ET.Element) -> list[Document]:
    out: list[Document] = []
    for doc in node.findall("INDIVIDUAL_DOCUMENT"):
        number = _text(doc, "NUMBER")
        if not number:
            continue
        kind = (_text(doc, "TYPE_OF_DOCUMENT") or "").lower()
        doc_type = "passport" if "pas" in kind else "national_id" if "national" in kind else kind or None
        country = to_alpha2(_text(doc, "ISSUING_COUNTRY") or _text(doc, "COUNTRY_OF_ISSUE"))
        out.append(Document(number=number, doc_type=doc_type, country=country, note=_text(doc, "NOTE")))
    return out


def _names(node: ET.Element, alias_tag: str) -> list[NameVariant]:
    parts = [_text(node, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")]
    names = [NameVariant(name=" ".join(p for p in parts if p), kind="primary")]
    for alias in node.findall(alias_tag):
        alias_name = _text(alias, "ALIAS_NAME")
        if alias_name:
            quality = _text(alias, "QUALITY")
            weak = (quality or "").lower() == "low"
            names.append(NameVariant(name=alias_name, kind="weak_alias" if weak else "alias", quality=quality))
    original = _text(node, "NAME_ORIGINAL_SCRIPT")
    if original:
        names.append(NameVariant(name=original, kind="original_script"))
    return dedupe_names(n for n in names if n.name)


_GROUPS = {("INDIVIDUALS", "INDIVIDUAL"): (Category.INDIVIDUAL, "INDIVIDUAL_ALIAS"),
           ("ENTITIES", "ENTITY"): (Category.ENTITY, "ENTITY_ALIAS")}


def _un_items(path: Path) -> Iterator[WatchlistEntry | Rejected]:
    """One pass: each INDIVIDUAL / ENTITY element as it ends, then dropped (the tree never grows)."""
    with path.open("rb") as handle:
        try:
            yield from _records(ET.iterparse(handle, events=("start", "end")))
        except ET.ParseError as exc:
            raise LoadError(f"not well-formed XML ({exc.position[0]}:{exc.position[1]})") from None


def _records(events: Iterator[tuple[str, ET.Element]]) -> Iterator[WatchlistEntry | Rejected]:
    positions: dict[tuple[str, str], int] = {}
    stack: list[str] = []
    for event, node in events:
        if event == "start":
            stack.append(node.tag)
            continue
        stack.pop()
        group = (stack[-1], node.tag) if len(stack) == 2 else None
        if group not in _GROUPS:
            continue
        assert group is not None
        category, alias_tag = _GROUPS[group]
        positions[group] = position = positions.get(group, 0) + 1
        ref = _text(node, "REFERENCE_NUMBER") or _text(node, "DATAID")
        where = ref or f"{'/'.join(group)}[{position}]"
        names = _names(node, alias_tag)
        if not ref:
            yield Rejected(where=where, reason="no REFERENCE_NUMBER or DATAID")
        elif not names:
            yield Rejected(where=where, reason="no name")
        else:
            nationalities = [c for v in node.findall("NATIONALITY/VALUE") if (c := to_alpha2(v.text))]
            gender = (_text(node, "GENDER") or "").lower()
            yield WatchlistEntry(
                id=ref, list=LIST_NAME, category=category, names=names,
                dates_of_birth=_dates(node) if category is Category.INDIVIDUAL else [],
                nationalities=list(dict.fromkeys(nationalities)),
                gender="M" if gender == "male" else "F" if gender == "female" else None,
                documents=_documents(node), source_ref=ref,
                programmes=regime(_text(node, "UN_LIST_TYPE")), reason=prose(_text(node, "COMMENTS1")),
                listed_on=_listed_on(_text(node, "LISTED_ON")),
            )
        node.clear()


def _date_generated(path: Path) -> str | None:
    with path.open("rb") as handle:
        for _, root in ET.iterparse(handle, events=("start",)):
            generated: str | None = root.get("dateGenerated")
            return generated
    return None


def load_un_xml(path: Path) -> LoadResult:
    try:
        as_of = _date_generated(path)
    except ET.ParseError as exc:
        raise LoadError(f"not well-formed XML ({exc.position[0]}:{exc.position[1]})") from None
    return LoadResult.streamed(lambda: _un_items(path), [path], list_name=LIST_NAME, source_format="un_xml",
                               as_of=as_of)
