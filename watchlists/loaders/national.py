"""The national list format (CSV with a header row, or JSON Lines), also used for document lists
and for traveller files given to the CLI.

Strategy: both encodings are read into plain dicts and go through one `row_to_entry`, so CSV and
JSONL accept and reject exactly the same things. Columns: id, list, category, full_name, surname,
given_names, aliases (| separated), date_of_birth (YYYY, YYYY-MM or YYYY-MM-DD), nationality
(alpha-3 or alpha-2, | separated), gender, document_number, document_type, document_country.
A row is rejected (with its line number and the column at fault) rather than guessed at.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from watchlists.countries import to_alpha2
from watchlists.dates import make_date
from watchlists.loaders.common import LoadResult, clean, content_version, dedupe_names
from watchlists.models import Category, Document, NameVariant, Rejected, ScreeningQuery, WatchlistEntry

COLUMNS = ("id", "list", "category", "full_name", "surname", "given_names", "aliases", "date_of_birth",
           "nationality", "gender", "document_number", "document_type", "document_country")
_STRICT_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class RowError(ValueError):
    """A row-level problem; the message names the column, never the value."""


def _country(value: str, column: str) -> str:
    code = to_alpha2(value) if len(value) in (2, 3) and value.isalpha() else None
    if code is None:
        raise RowError(f"{column} is not an ISO 3166 alpha-2 or alpha-3 code")
    return code


def _gender(value: str | None) -> str | None:
    value = (clean(value) or "").upper()
    if not value:
        return None
    if value in {"M", "MALE"}:
        return "M"
    if value in {"F", "FEMALE"}:
        return "F"
    if value in {"X", "U", "UNKNOWN"}:
        return None
    raise RowError("gender is not M, F or X")


def row_to_entry(row: dict[str, Any], default_list: str) -> WatchlistEntry:
    get = {k: clean(str(v)) if v is not None else None for k, v in row.items()}
    entry_id = get.get("id")
    if not entry_id:
        raise RowError("id is empty")
    try:
        category = Category((get.get("category") or "individual").lower())
    except ValueError:
        raise RowError("category is not one of " + ", ".join(c.value for c in Category)) from None
    full = get.get("full_name") or " ".join(p for p in (get.get("given_names"), get.get("surname")) if p)
    names = [NameVariant(name=full, kind="primary")] if full else []
    names += [NameVariant(name=a.strip(), kind="alias") for a in (get.get("aliases") or "").split("|") if a.strip()]
    dobs = []
    if dob := get.get("date_of_birth"):
        m = _STRICT_DATE.match(dob)
        parsed = make_date(int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None) if m else None
        if parsed is None or (m and ((m[2] and parsed.month is None) or (m[3] and parsed.day is None))):
            raise RowError("date_of_birth is not YYYY, YYYY-MM or YYYY-MM-DD")
        dobs.append(parsed)
    nationalities = [_country(v.strip(), "nationality") for v in (get.get("nationality") or "").split("|") if v.strip()]
    documents = []
    if number := get.get("document_number"):
        country = get.get("document_country")
        documents.append(Document(number=number, doc_type=get.get("document_type"),
                                  country=_country(country, "document_country") if country else None))
    if category is Category.DOCUMENT and not documents:
        raise RowError("a document entry needs document_number")
    if category is not Category.DOCUMENT and not names:
        raise RowError("full_name or surname/given_names is empty")
    return WatchlistEntry(id=entry_id, list=get.get("list") or default_list, category=category,
                          names=dedupe_names(names), dates_of_birth=dobs, nationalities=nationalities,
                          gender=_gender(get.get("gender")), documents=documents)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, row


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                yield line_no, None
                continue
            yield line_no, value if isinstance(value, dict) else None


def load_national(path: Path, *, jsonl: bool) -> LoadResult:
    default_list = path.stem
    entries: list[WatchlistEntry] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for line_no, row in (_jsonl_rows(path) if jsonl else _csv_rows(path)):
        where = f"{path.name}:{line_no}"
        if row is None:
            rejected.append(Rejected(where=where, reason="not a JSON object"))
            continue
        try:
            entry = row_to_entry(row, default_list)
        except RowError as exc:
            rejected.append(Rejected(where=where, reason=str(exc)))
            continue
        if entry.id in seen:
            rejected.append(Rejected(where=where, reason=f"duplicate id {entry.id}"))
            continue
        seen.add(entry.id)
        entries.append(entry)
    list_name = entries[0].list if entries else default_list
    return LoadResult(entries=entries, rejected=rejected, list_name=list_name,
                      version=content_version([path]), source_format="national_jsonl" if jsonl else "national_csv")


def load_travellers(path: Path) -> tuple[list[ScreeningQuery], list[Rejected]]:
    """Travellers for the CLI: JSON Lines with the national-format person fields."""
    travellers: list[ScreeningQuery] = []
    rejected: list[Rejected] = []
    fields = set(ScreeningQuery.model_fields)
    for line_no, row in _jsonl_rows(path):
        where = f"{path.name}:{line_no}"
        if row is None:
            rejected.append(Rejected(where=where, reason="not a JSON object"))
            continue
        values = {k: (str(v) if v is not None else None) for k, v in row.items() if k in fields}
        values["id"] = values.get("id") or str(line_no)
        query = ScreeningQuery.model_validate(values)
        if not query.display_name and not query.document_number:
            rejected.append(Rejected(where=where, reason="no name and no document_number"))
            continue
        travellers.append(query)
    return travellers, rejected
