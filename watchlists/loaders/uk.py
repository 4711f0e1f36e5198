"""UK Sanctions List as the relational tables of `covyr/uk-sanctions-list` (a folder of 5 CSVs).

Strategy: read `subjects.csv` for the entries, then attach names, dates of birth, identifiers and
countries by `unique_id`. The tables repeat rows heavily (10,573 passport rows hold 723 distinct
numbers), so every attachment is deduplicated on its natural key. Names keep the UK alias
strength (low_quality_aka is weak). The UN reference number, when present, goes to `source_ref`
so a hit on both UN and UK entries can be recognised as one person.
Why a subject is listed: `date_designated` (DD/MM/YYYY) is the listing date. The derived tables
have no regime column and no statement of reasons; a `regime_name` (or `regime`),
`statement_of_reasons` and `other_information` column of subjects.csv is read when present, else
the regime is the one the UK list's own unique ID names in its three-letter prefix (RUS0001:
Russia), and the reason stays empty (the hit page says the list does not give it).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from watchlists.countries import to_alpha2
from watchlists.dates import make_date, parse_date
from watchlists.loaders.common import LoadError, LoadResult, clean, dedupe_names, prose
from watchlists.models import Category, Document, NameVariant, PartialDate, Rejected, WatchlistEntry

LIST_NAME = "UK"
FILES = ("subjects.csv", "subject_names.csv", "subject_dobs.csv", "subject_identifiers.csv",
         "subject_countries.csv")
_TYPES = {"individual": Category.INDIVIDUAL, "entity": Category.ENTITY, "ship": Category.VESSEL}
# The regime a UK Sanctions List unique ID names in its prefix, in the list's own words.
REGIMES = {
    "AFG": "Afghanistan", "AQD": "ISIL (Da'esh) and Al-Qaida", "BEL": "Belarus", "BIH": "Bosnia and Herzegovina",
    "CAF": "Central African Republic", "CHW": "Chemical Weapons", "CTD": "Counter-Terrorism (Domestic)",
    "CTI": "Counter-Terrorism (International)", "CYB": "Cyber", "DPR": "Democratic People's Republic of Korea",
    "DRC": "Democratic Republic of the Congo", "GAC": "Global Anti-Corruption", "GHR": "Global Human Rights",
    "GIM": "Global Irregular Migration and Trafficking in Persons", "GUB": "Guinea-Bissau",
    "GUC": "Republic of Guinea", "HAI": "Haiti", "INU": "Iran (Nuclear)", "IRN": "Iran", "IRQ": "Iraq",
    "LIB": "Libya", "MAL": "Mali", "MYA": "Myanmar", "NIC": "Nicaragua", "RUS": "Russia", "SOM": "Somalia",
    "SSU": "South Sudan", "SUD": "Sudan", "SYR": "Syria", "VEN": "Venezuela", "YEM": "Yemen",
}
_DOC_COUNTRY = re.compile(r"^\s*([A-Za-z ,'()\-]+?)\s+(?:passport|national|identity|id)\b", re.IGNORECASE)


def is_uk_folder(path: Path) -> bool:
    return path.is_dir() and all((path / name).exists() for name in FILES[:2])


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _int(value: str | None) -> int | None:
    value = clean(value)
    return int(value) if value and value.isdigit() else None


def _regime(row: dict[str, str], uid: str) -> list[str]:
    named = clean(row.get("regime_name")) or clean(row.get("regime"))
    if named:
        return [named]
    prefix = re.match(r"[A-Z]{3}(?=\d)", uid)
    return [REGIMES[prefix[0]]] if prefix and prefix[0] in REGIMES else []


def _reason(row: dict[str, str]) -> str | None:
    parts = [prose(row.get(c)) for c in ("statement_of_reasons", "other_information")]
    return " ".join(p for p in parts if p) or None


def _uk_items(folder: Path) -> Iterator[WatchlistEntry | Rejected]:
    """One pass: the attachment tables into dicts keyed by unique_id, then subjects.csv row by row."""
    names: dict[str, list[NameVariant]] = defaultdict(list)
    for row in _rows(folder / "subject_names.csv"):
        full = clean(row.get("full_name"))
        if not full:
            yield Rejected(where=f"subject_names.csv:{row.get('name_id')}", reason="empty full_name")
            continue
        strength = clean(row.get("alias_strength")) or ""
        kind = "primary" if row.get("name_type") == "primary" else (
            "weak_alias" if strength.startswith("low") else "alias")
        names[row["unique_id"]].append(NameVariant(name=full, kind=kind, quality=strength or row.get("name_type")))
    dobs: dict[str, list[PartialDate]] = defaultdict(list)
    for row in _rows(folder / "subject_dobs.csv"):
        year = _int(row.get("year"))
        date = make_date(year, _int(row.get("month")), _int(row.get("day"))) if year else None
        if date is None:
            yield Rejected(where=f"subject_dobs.csv:{row.get('dob_id')}", reason="no usable year")
        elif date not in dobs[row["unique_id"]]:
            dobs[row["unique_id"]].append(date)
    documents: dict[str, dict[str, Document]] = defaultdict(dict)
    for row in _rows(folder / "subject_identifiers.csv"):
        id_type = row.get("identifier_type")
        number = clean(row.get("raw_value"))
        if id_type not in {"passport", "national"} or not number:
            continue
        info = row.get("additional_info") or ""
        match = _DOC_COUNTRY.match(info)
        documents[row["unique_id"]].setdefault(number.upper(), Document(
            number=number, doc_type="passport" if id_type == "passport" else "national_id",
            country=to_alpha2(match[1]) if match else None))
    nationalities: dict[str, list[str]] = defaultdict(list)
    for row in _rows(folder / "subject_countries.csv"):
        if row.get("country_type") == "nationality":
            code = clean(row.get("iso")) or to_alpha2(row.get("raw_value"))
            if code and code not in nationalities[row["unique_id"]]:
                nationalities[row["unique_id"]].append(code.upper())
    for row in _rows(folder / "subjects.csv"):
        uid = clean(row.get("unique_id"))
        if not uid:
            yield Rejected(where="subjects.csv", reason="row without unique_id")
            continue
        variants = sorted(names.get(uid, []), key=lambda n: n.kind != "primary")
        if not variants:
            yield Rejected(where=f"subjects.csv:{uid}", reason="subject has no name")
            continue
        category = _TYPES.get((row.get("subject_type") or "").lower(), Category.ENTITY)
        yield WatchlistEntry(
            id=uid, list=LIST_NAME, category=category, names=dedupe_names(variants),
            dates_of_birth=dobs.get(uid, []), nationalities=nationalities.get(uid, []),
            documents=list(documents.get(uid, {}).values()), source_ref=clean(row.get("un_reference_number")),
            programmes=_regime(row, uid), reason=_reason(row), listed_on=parse_date(clean(row.get("date_designated"))),
        )


def load_uk_folder(folder: Path) -> LoadResult:
    if not is_uk_folder(folder):
        raise LoadError("UK folder needs subjects.csv and subject_names.csv")
    return LoadResult.streamed(lambda: _uk_items(folder), [folder / n for n in FILES if (folder / n).exists()],
                               list_name=LIST_NAME, source_format="uk_derived_tables")
