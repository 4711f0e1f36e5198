"""`load(path)`: pick the loader by content (and extension), return a `LoadResult`.

Strategy: sniff the first bytes rather than trust names: a folder with subjects.csv is the UK
tables; `<CONSOLIDATED_LIST` is the UN XML; a CSV whose header row names our columns is the
national format; a header-less CSV of 12 fields starting with a number is OFAC sdn.csv (its
alt.csv is picked up from the same folder); `{` or .jsonl/.ndjson is national JSON Lines.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from watchlists.loaders.common import LoadError, LoadResult
from watchlists.loaders.national import COLUMNS, load_national, load_travellers
from watchlists.loaders.ofac import load_ofac_sdn
from watchlists.loaders.uk import is_uk_folder, load_uk_folder
from watchlists.loaders.un import load_un_xml

__all__ = ["LoadError", "LoadResult", "detect_format", "load", "load_national", "load_ofac_sdn",
           "load_travellers", "load_uk_folder", "load_un_xml"]


def _first_csv_row(head: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(head)), [])
    except csv.Error:
        return []


def detect_format(path: Path) -> str:
    """One of un_xml, ofac_sdn_csv, ofac_alt_csv, uk_derived_tables, national_csv, national_jsonl."""
    if path.is_dir():
        if is_uk_folder(path):
            return "uk_derived_tables"
        raise LoadError("folder is not a known list layout")
    head = path.open("rb").read(4096).decode("utf-8", "replace").lstrip("\ufeff")
    stripped = head.lstrip()
    if stripped.startswith("<"):
        if "<CONSOLIDATED_LIST" in head:
            return "un_xml"
        raise LoadError("XML file is not a UN consolidated list")
    if stripped.startswith("{") or path.suffix.lower() in {".jsonl", ".ndjson"}:
        return "national_jsonl"
    first = _first_csv_row(head.split("\n", 1)[0] + "\n")
    names = {c.strip().lower() for c in first}
    if "id" in names and names & {"full_name", "surname", "document_number"}:
        return "national_csv"
    if first and first[0].strip().isdigit():
        if len(first) == 12:
            return "ofac_sdn_csv"
        if len(first) == 5 and first[2].strip().strip('"').lower() in {"aka", "fka", "nka"}:
            return "ofac_alt_csv"
    raise LoadError(f"unknown list format (expected one of: UN XML, OFAC CSV, UK tables, CSV with {COLUMNS[:4]}...)")


def _sibling_alt(path: Path) -> Path | None:
    for candidate in sorted(path.parent.glob("*.csv")):
        if candidate != path and "alt" in candidate.name.lower() and detect_format(candidate) == "ofac_alt_csv":
            return candidate
    return None


def load(path: str | Path, *, aliases: str | Path | None = None) -> LoadResult:
    """Load any supported list; `aliases` overrides the OFAC alt.csv found beside sdn.csv."""
    path = Path(path)
    kind = detect_format(path)
    if kind == "un_xml":
        return load_un_xml(path)
    if kind == "uk_derived_tables":
        return load_uk_folder(path)
    if kind == "ofac_sdn_csv":
        return load_ofac_sdn(path, Path(aliases) if aliases else _sibling_alt(path))
    if kind == "ofac_alt_csv":
        raise LoadError("an OFAC alt.csv holds only aliases: load the sdn.csv beside it")
    return load_national(path, jsonl=kind == "national_jsonl")
