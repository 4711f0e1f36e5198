"""What every loader shares: the result type, the version stamp, and small field helpers.

Strategy: a loader never raises for one bad record; it appends a `Rejected(where, reason)` and goes
on. Reasons name the record (line or id), never a person's name. The version of a list is the
first 12 hex digits of the SHA-256 of its bytes (plus the source's own date where it has one), so
two loads of the same file compare equal and a changed file never does.

A loader keeps no entry: `load` reads what it needs up front (version, list name) and returns
`Entries`, which parse the file again on every pass, one record at a time, so a million-entry list
streams into an index without being held as models (about 3 KB an entry). A complete pass records
the rejected rows and the count, so the usual single consumer (the screener building its index)
reads the file once. A file changed on disk since the load is an error on the next pass, never a
silent other version under the old version stamp.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice, zip_longest
from pathlib import Path
from typing import overload

from watchlists.models import NameVariant, Rejected, WatchlistEntry

Reader = Callable[[], Iterator[WatchlistEntry | Rejected]]


class LoadError(ValueError):
    """The file as a whole cannot be read (unknown format, missing companion file, changed under us)."""


def _stamp(paths: Sequence[Path]) -> tuple[tuple[int, int, int], ...]:
    stats = [p.stat() for p in paths]
    return tuple((s.st_size, s.st_mtime_ns, s.st_ino) for s in stats)


class Entries(Sequence[WatchlistEntry]):
    """The entries of a loaded list, read from its file(s) again on each iteration.

    `len`, `rejected` and truthiness after a complete pass cost nothing; before one, `len` and
    `rejected` make one (reading and discarding) and truthiness reads up to the first entry.
    Indexing streams to the position: for tests and small lists, not for a hot path."""

    def __init__(self, read: Reader, paths: Sequence[Path] = ()) -> None:
        self._read = read
        self._paths = tuple(paths)
        self._stamp = _stamp(self._paths)
        self._count: int | None = None
        self._rejected: list[Rejected] | None = None

    def _check(self) -> None:
        if _stamp(self._paths) != self._stamp:
            raise LoadError("the list file changed since it was loaded: load it again")

    def __iter__(self) -> Iterator[WatchlistEntry]:
        self._check()
        rejected: list[Rejected] = []
        count = 0
        for item in self._read():
            if isinstance(item, Rejected):
                rejected.append(item)
            else:
                count += 1
                yield item
        self._check()
        self._rejected, self._count = rejected, count

    def scan(self) -> None:
        """One complete pass for the count and the rejected rows (the entries are dropped as read)."""
        for _ in self:
            pass

    @property
    def rejected(self) -> list[Rejected]:
        if self._rejected is None:
            self.scan()
        assert self._rejected is not None
        return self._rejected

    def __len__(self) -> int:
        if self._count is None:
            self.scan()
        assert self._count is not None
        return self._count

    def __bool__(self) -> bool:
        if self._count is not None:
            return self._count > 0
        return next(iter(self), None) is not None

    @overload
    def __getitem__(self, i: int) -> WatchlistEntry: ...

    @overload
    def __getitem__(self, i: slice) -> list[WatchlistEntry]: ...

    def __getitem__(self, i: int | slice) -> WatchlistEntry | list[WatchlistEntry]:
        if isinstance(i, slice):
            return list(self)[i]
        if i < 0:
            i += len(self)
        found = next(islice(self, i, None), None) if i >= 0 else None
        if found is None:
            raise IndexError("entry index out of range")
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Iterable) or isinstance(other, str | bytes):
            return NotImplemented
        missing = object()
        return all(a == b for a, b in zip_longest(self, other, fillvalue=missing))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        count = "?" if self._count is None else self._count
        return f"<Entries of {', '.join(p.name for p in self._paths)}: {count}>"


class RejectedRows(Sequence[Rejected]):
    """The rejected rows of `Entries`, known once a pass completed (asking first makes one)."""

    def __init__(self, entries: Entries) -> None:
        self._entries = entries

    @overload
    def __getitem__(self, i: int) -> Rejected: ...

    @overload
    def __getitem__(self, i: slice) -> list[Rejected]: ...

    def __getitem__(self, i: int | slice) -> Rejected | list[Rejected]:
        return self._entries.rejected[i]

    def __len__(self) -> int:
        return len(self._entries.rejected)

    def __iter__(self) -> Iterator[Rejected]:
        return iter(self._entries.rejected)

    def __eq__(self, other: object) -> bool:
        return list(self) == (list(other) if isinstance(other, Iterable) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._entries.rejected)


@dataclass(frozen=True)
class LoadResult:
    """Entries of one list as loaded, the rows that were rejected and why, and the list version.

    A loader's result holds `Entries` (read from the file on each pass); a caller may also build one
    from any sequence of entries (tests, lists made in memory)."""

    entries: Sequence[WatchlistEntry]
    rejected: Sequence[Rejected]
    list_name: str
    version: str
    source_format: str
    as_of: str | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def streamed(cls, read: Reader, paths: Sequence[Path], *, list_name: str | Callable[[Entries], str],
                 source_format: str, as_of: str | None = None) -> LoadResult:
        """A result whose entries `read` yields afresh on each pass (with the rejected rows among them).

        The files are stamped before they are hashed, so a change while hashing is caught too."""
        entries = Entries(read, paths)
        version = content_version(paths)
        name = list_name(entries) if callable(list_name) else list_name
        return cls(entries=entries, rejected=RejectedRows(entries), list_name=name, version=version,
                   source_format=source_format, as_of=as_of)


def content_version(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:12]


def clean(value: str | None) -> str | None:
    """Strip, and map the nulls lists use ("-0-", "", "na") to None."""
    if value is None:
        return None
    value = value.strip()
    if not value or value in {"-0-", "na", "n/a", "N/A"}:
        return None
    return value


def prose(value: str | None) -> str | None:
    """A list's narrative (reason, comments) on one line: line breaks and runs of spaces of the source's
    wrapping become one space; None when nothing is left. Kept as a plain str: the index never holds it."""
    value = clean(value)
    return " ".join(value.split()) if value else None


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
