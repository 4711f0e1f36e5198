"""The national list format (CSV with a header row, or JSON Lines), also used for document lists
and for traveller files given to the CLI.

Strategy: both encodings are read into plain dicts and go through one `row_to_entry`, so CSV and
JSONL accept and reject exactly the same things. Columns: id, list, category, full_name, surname,
given_names, aliases (| separated), date_of_birth (YYYY, YYYY-MM or YYYY-MM-DD), nationality
(alpha-3 or alpha-2, | separated), gender, document_number, document_type, document_country, and
optionally why the entry is listed: programme (| separated), reason, listed_on (a date as above).
A row is rejected (with its line number and the column at fault) rather than guessed at.
Rows stream: the file is read again on each pass over the entries, and nothing of a row outlives
its entry but its id (for refusing duplicates, during the pass only).
"""

from __future__ import annotations

import csv
import json
import re
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from watchlists.countries import to_alpha2
from watchlists.dates import make_date
from watchlists.loaders.common import Entries, LoadResult, clean, dedupe_names, prose
from watchlists.models import Category, Document, NameVariant, PartialDate, Rejected, ScreeningQuery, WatchlistEntry

COLUMNS = ("id", "list", "category", "full_name", "surname", "given_names", "aliases", "date_of_birth",
           "nationality", "gender", "document_number", "document_type", "document_country",
           "programme", "reason", "listed_on")
_STRICT_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class RowError(ValueError):
    """A row-level problem; the message names the column, never the value."""


def _country(value: str, column: str) -> str:
    code = to_alpha2(value) if len(value) in (2, 3) and value.isalpha() else None
    if code is None:
        raise RowError(f"{column} is not an ISO 3166 alpha-2 or alpha-3 code")
    return code


def _date(value: str, column: str) -> PartialDate:
    """YYYY, YYYY-MM or YYYY-MM-DD, each part valid: a date the row does not spell out is refused, not guessed."""
    m = _STRICT_DATE.match(value)
    parsed = make_date(int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None) if m else None
    if parsed is None or (m and ((m[2] and parsed.month is None) or (m[3] and parsed.day is None))):
        raise RowError(f"{column} is not YYYY, YYYY-MM or YYYY-MM-DD")
    return parsed


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
    dobs = [_date(dob, "date_of_birth")] if (dob := get.get("date_of_birth")) else []
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
    programmes = dict.fromkeys(p.strip() for p in (get.get("programme") or "").split("|") if p.strip())
    listed_on = _date(listed, "listed_on") if (listed := get.get("listed_on")) else None
    return WatchlistEntry(id=entry_id, list=get.get("list") or default_list, category=category,
                          names=dedupe_names(names), dates_of_birth=dobs, nationalities=nationalities,
                          gender=_gender(get.get("gender")), documents=documents,
                          programmes=list(programmes), reason=prose(get.get("reason")), listed_on=listed_on)


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


class _SeenIds:
    """The ids met in one pass, to refuse duplicates: an open-addressing table of string hashes over one
    blob of the ids (about 40 bytes an id in a few flat arrays; a million ids as strings in a set cost
    twice that, in small objects scattered through the heap the index grows in)."""

    def __init__(self) -> None:
        self._mask = (1 << 12) - 1
        self._keys = array("q", bytes(8 << 12))  # 0: empty slot
        self._rows = array("i", bytes(4 << 12))
        self._blob = bytearray()
        self._offsets = array("q", [0])

    def add(self, entry_id: str) -> bool:
        """Whether the id is new (it is then remembered)."""
        key = hash(entry_id) or 1
        encoded = entry_id.encode()
        keys, mask, offsets = self._keys, self._mask, self._offsets
        slot = key & mask
        while (found := keys[slot]) != 0:
            if found == key:
                row = self._rows[slot]
                if self._blob[offsets[row]:offsets[row + 1]] == encoded:
                    return False
            slot = (slot + 1) & mask
        keys[slot] = key
        self._rows[slot] = len(offsets) - 1
        self._blob += encoded
        offsets.append(len(self._blob))
        if 2 * len(offsets) > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old = zip(self._keys, self._rows, strict=True)
        self._mask = mask = 2 * self._mask + 1
        self._keys = keys = array("q", bytes(8 * (mask + 1)))
        self._rows = rows = array("i", bytes(4 * (mask + 1)))
        for key, row in old:
            if key:
                slot = key & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot], rows[slot] = key, row


def _national_items(path: Path, jsonl: bool, default_list: str) -> Iterator[WatchlistEntry | Rejected]:
    """One pass over the file: each row as an entry or a rejection, in file order.

    The ids seen are the one thing kept per row (duplicates are refused), only for the pass."""
    seen = _SeenIds()
    for line_no, row in (_jsonl_rows(path) if jsonl else _csv_rows(path)):
        where = f"{path.name}:{line_no}"
        if row is None:
            yield Rejected(where=where, reason="not a JSON object")
            continue
        try:
            entry = row_to_entry(row, default_list)
        except RowError as exc:
            yield Rejected(where=where, reason=str(exc))
            continue
        if not seen.add(entry.id):
            yield Rejected(where=where, reason=f"duplicate id {entry.id}")
            continue
        yield entry


def load_national(path: Path, *, jsonl: bool) -> LoadResult:
    """The list named by its first valid row (else by the file name); entries stream from the file."""
    default_list = path.stem

    def list_name(entries: Entries) -> str:
        first = next(iter(entries), None)
        return first.list if first is not None else default_list

    return LoadResult.streamed(lambda: _national_items(path, jsonl, default_list), [path], list_name=list_name,
                               source_format="national_jsonl" if jsonl else "national_csv")


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
