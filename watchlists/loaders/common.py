"""What every loader shares: the result type, the version stamp, and small field helpers.

Strategy: a loader never raises for one bad record; it appends a `Rejected(where, reason)` and goes
on. Reasons name the record (line or id), never a person's name. The version of a list is the
first 12 hex digits of the SHA-256 of its bytes (plus the source's own date where it has one), so
two loads of the same file compare equal and a changed file never does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watchlists.models import NameVariant, Rejected, WatchlistEntry


class LoadError(ValueError):
    """The file as a whole cannot be read (unknown format, missing companion file)."""


@dataclass(frozen=True)
class LoadResult:
    """Entries of one list as loaded, the rows that were rejected and why, and the list version."""

    entries: list[WatchlistEntry]
    rejected: list[Rejected]
    list_name: str
    version: str
    source_format: str
    as_of: str | None = None
    notes: list[str] = field(default_factory=list)


def content_version(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def clean(value: str | None) -> str | None:
    """Strip, and map the nulls lists use ("-0-", "", "na") to None."""
    if value is None:
        return None
    value = value.strip()
    if not value or value in {"-0-", "na", "n/a", "N/A"}:
        return None
    return value


def dedupe_names(names: Iterable[NameVariant]) -> list[NameVariant]:
    """Keep the first (strongest) variant of each spelling, ignoring case and spacing."""
    seen: set[str] = set()
    out: list[NameVariant] = []
    for variant in names:
        key = " ".join(variant.name.upper().split())
        if key and key not in seen:
            seen.add(key)
            out.append(variant)
    return out
