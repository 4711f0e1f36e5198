"""Screening a traveller against every loaded list: thresholds, allowlist, versioned lists.

Strategy: a `Screener` holds one immutable `ListSnapshot` per list (index + fingerprints +
version; no entry: a loader's entries stream into the index once). Replacing a list builds the new
index first and then swaps one dict entry, so a traveller is always screened against a whole old
version or a whole new one, never a mix; the swap returns the diff (added, removed, changed entry
ids), worked out from per-entry fingerprints (id key and a digest of the entry's canonical JSON).
Thresholds are looked up by (list, category) with fallbacks. The allowlist is keyed by (list,
entry id, a SHA-256 fingerprint of the traveller's identifying attributes): a cleared traveller
presenting the same attributes is not re-alerted, while the same name with another date of birth
or document is. The allowlist stores no personal
data, only the fingerprint and the officer's reason. The service screens through
`screen_traveller`: no query model, and no preparation at all for a traveller no list can match.
"""

from __future__ import annotations

import builtins
import hashlib
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from types import MappingProxyType
from typing import overload

import numpy as np
import numpy.typing as npt

from watchlists.index import WatchlistIndex, is_vowelless, other_forms, prepare_traveller
from watchlists.loaders.common import LoadResult
from watchlists.models import Hit, ScreeningQuery, WatchlistEntry
from watchlists.normalise import identity_tokens, name_tokens
from watchlists.scoring import PreparedTraveller, prepare_birth_date, prepare_country, prepare_document, prepare_gender

DEFAULT_THRESHOLD = 0.88


@dataclass(frozen=True)
class Thresholds:
    """Score at or above which a hit is raised, per (list, category); '*' is a wildcard."""

    default: float = DEFAULT_THRESHOLD
    per_list: MappingProxyType[tuple[str, str], float] = field(default_factory=lambda: MappingProxyType({}))

    @cached_property
    def floor(self) -> float:
        """The lowest threshold of all: what an index must score to at all (worked out once, not per query)."""
        return min([self.default, *self.per_list.values()])

    def for_entry(self, list_name: str, category: str) -> float:
        for key in ((list_name, category), (list_name, "*"), ("*", category)):
            if key in self.per_list:
                return self.per_list[key]
        return self.default

    @classmethod
    def of(cls, default: float = DEFAULT_THRESHOLD, **pairs: float) -> Thresholds:
        """`Thresholds.of(0.88, UN__individual=0.85, star__document=0.9)` ('star' means '*')."""
        table = {}
        for key, value in pairs.items():
            list_name, _, category = key.partition("__")
            table[(list_name.replace("star", "*"), category.replace("star", "*") or "*")] = value
        return cls(default=default, per_list=MappingProxyType(table))


def traveller_fingerprint(traveller: PreparedTraveller) -> str:
    """What 'the same traveller attributes' means for the allowlist: sorted name tokens, date of
    birth, nationality and document number, hashed."""
    parts = [" ".join(sorted(identity_tokens(traveller.tokens))), str(traveller.dob or ""), traveller.nationality or "",
             traveller.document or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Clearance:
    """An officer's decision that a traveller is not the listed entry."""

    list: str
    entry_id: str
    fingerprint: str
    reason: str
    cleared_by: str
    cleared_on: date


@dataclass(frozen=True)
class SuppressedHit:
    hit: Hit
    clearance: Clearance


@dataclass(frozen=True)
class ScreeningOutcome:
    hits: list[Hit]
    suppressed: list[SuppressedHit]


def canonical_json(entry: WatchlistEntry) -> bytes:
    """What 'the same entry' means for a diff: every field, as pydantic writes it."""
    return entry.__pydantic_serializer__.to_json(entry)


def content_digest(canonical: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(canonical, digest_size=8).digest(), "little", signed=True)


def id_key(entry_id: str) -> int:
    """A stable 64-bit key of an entry id: the same in every process, so fingerprints can be stored."""
    return int.from_bytes(hashlib.blake2b(entry_id.encode("utf-8"), digest_size=8, person=b"entry-id").digest(),
                          "little", signed=True)


@dataclass(frozen=True)
class Fingerprints:
    """One list version as 20 bytes an entry (id key, content digest, position), sorted by id key:
    what a diff and a look-up by id need, instead of the entries.

    Keys and digests are blake2b, the same in every process: a version's fingerprints are stored
    (`to_bytes`) and a later version is compared with them after a restart. Two ids sharing a 64-bit
    key (about 1 in 10^7 for two million-entry lists) would count as one."""

    keys: npt.NDArray[np.int64]
    digests: npt.NDArray[np.int64]
    positions: npt.NDArray[np.int32]

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.digests.nbytes + self.positions.nbytes)

    def __len__(self) -> int:
        return len(self.keys)

    @cached_property
    def digest(self) -> str:
        """The version's identity: its entries' keys and contents (not their order in the file)."""
        h = hashlib.blake2b(digest_size=16, person=b"list-version")
        h.update(self.keys.tobytes())
        h.update(self.digests.tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        return self.keys.astype("<i8").tobytes() + self.digests.astype("<i8").tobytes() + \
            self.positions.astype("<i4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprints:
        n = len(data) // 20
        if n * 20 != len(data):
            raise ValueError("not a fingerprints blob")
        return cls(keys=np.frombuffer(data, "<i8", n).astype(np.int64),
                   digests=np.frombuffer(data, "<i8", n, 8 * n).astype(np.int64),
                   positions=np.frombuffer(data, "<i4", n, 16 * n).astype(np.int32))

    def find(self, entry_id: str) -> int | None:
        """Position of the entry with this id (by key: the caller checks the id where a wrong one matters)."""
        key = id_key(entry_id)
        i = int(np.searchsorted(self.keys, key))
        return int(self.positions[i]) if i < len(self.keys) and int(self.keys[i]) == key else None

    def compare(self, new: Fingerprints) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32],
                                                  npt.NDArray[np.int32]]:
        """Positions of the entries added (in `new`), removed (in `self`) and changed (in `new`)."""
        _, i_old, i_new = np.intersect1d(self.keys, new.keys, assume_unique=True, return_indices=True)
        changed = new.positions[i_new[self.digests[i_old] != new.digests[i_new]]]
        return np.delete(new.positions, i_new), np.delete(self.positions, i_old), changed


class FingerprintBuilder:
    """Fingerprints of entries as they stream past (into an index, an archive): nothing else is kept."""

    def __init__(self) -> None:
        self._keys = array("q")
        self._digests = array("q")

    def add(self, entry_id: str, canonical: bytes) -> None:
        self._keys.append(id_key(entry_id))
        self._digests.append(content_digest(canonical))

    def observe(self, entries: Iterable[WatchlistEntry]) -> Iterator[WatchlistEntry]:
        for entry in entries:
            self.add(entry.id, canonical_json(entry))
            yield entry

    def freeze(self) -> Fingerprints:
        """Sorted by id key; of entries sharing an id the last counts (as in a dict built in load order)."""
        keys = np.frombuffer(self._keys, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        last = np.ones(len(keys), dtype=bool)
        last[:-1] = keys[:-1] != keys[1:]
        order = order[last]
        return Fingerprints(keys=keys[last], digests=np.frombuffer(self._digests, dtype=np.int64)[order],
                            positions=order.astype(np.int32))


class IndexEntries(Sequence[WatchlistEntry]):
    """The entries of an index, rebuilt from its arrays on access (what scoring keeps of them)."""

    def __init__(self, index: WatchlistIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index)

    @overload
    def __getitem__(self, i: int) -> WatchlistEntry: ...

    @overload
    def __getitem__(self, i: slice) -> list[WatchlistEntry]: ...

    def __getitem__(self, i: int | slice) -> WatchlistEntry | list[WatchlistEntry]:
        if isinstance(i, slice):
            return [self._index.entry(k) for k in range(len(self._index))[i]]
        if not -len(self._index) <= i < len(self._index):
            raise IndexError("entry index out of range")
        return self._index.entry(i % len(self._index))

    def __iter__(self) -> Iterator[WatchlistEntry]:
        return self._index.entries()


@dataclass(frozen=True)
class ListSnapshot:
    """One version of one list: its index, its fingerprints and (where the loader can read it again)
    its source. Holds no entry: a million-entry list costs its index and 20 MB of fingerprints."""

    name: str
    version: str
    index: WatchlistIndex
    fingerprints: Fingerprints
    source: Sequence[WatchlistEntry] | None = None

    @property
    def entries(self) -> Sequence[WatchlistEntry]:
        """The entries of this version: the loader's, read from the file again (every field; a file
        changed since is a LoadError), else those rebuilt from the index (what scoring reads)."""
        return self.source if self.source is not None else IndexEntries(self.index)

    def position(self, entry_id: str) -> int | None:
        """The entry's position in the index (`index.entry(position)`), or None."""
        found = self.fingerprints.find(entry_id)
        return found if found is not None and self.index.entry_id(found) == entry_id else None

    def entry(self, entry_id: str) -> WatchlistEntry | None:
        """The entry with this id as the index keeps it, or None."""
        found = self.position(entry_id)
        return self.index.entry(found) if found is not None else None


class EntryIds(Sequence[str]):
    """Ids of some entries of an index, sorted: counted for free, read out (and sorted) when first
    looked at, so the summary of a first load of a million entries makes no million strings."""

    def __init__(self, index: WatchlistIndex, positions: npt.NDArray[np.int32]) -> None:
        self._index: WatchlistIndex | None = index
        self._positions = positions
        self._ids: builtins.list[str] | None = None

    def _read(self) -> builtins.list[str]:
        ids = self._ids
        if ids is None:
            index = self._index
            if index is None:  # another thread read them a moment ago
                ids = self._ids
            else:
                ids = self._ids = sorted(index.entry_id(p) for p in self._positions.tolist())
                self._index = None  # read once: the diff does not hold the index after
        assert ids is not None
        return ids

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> builtins.list[str]: ...

    def __getitem__(self, i: int | slice) -> str | builtins.list[str]:
        return self._read()[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Iterable) or isinstance(other, str | bytes):
            return NotImplemented
        return self._read() == builtins.list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._read())


@dataclass(frozen=True)
class ListDiff:
    list: str
    old_version: str | None
    new_version: str
    added: Sequence[str]
    removed: Sequence[str]
    changed: Sequence[str]

    def summary(self) -> str:
        return (f"{self.list} {self.old_version or '-'} -> {self.new_version}: "
                f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed")


def diff_entries(list_name: str, old: ListSnapshot | None, new: ListSnapshot) -> ListDiff:
    """Added, removed and changed entry ids, from fingerprints. Added and changed ids are read from the
    new index when first looked at; removed ones at once (the old index is not kept alive by a diff)."""
    if old is None:
        added, removed, changed = new.fingerprints.positions, np.empty(0, np.int32), np.empty(0, np.int32)
    else:
        added, removed, changed = old.fingerprints.compare(new.fingerprints)
    gone = sorted(old.index.entry_id(p) for p in removed.tolist()) if old is not None else []
    return ListDiff(list=list_name, old_version=old.version if old else None, new_version=new.version,
                    added=EntryIds(new.index, added), removed=gone, changed=EntryIds(new.index, changed))


def changed_snapshot(new: ListSnapshot, old: Fingerprints | None) -> ListSnapshot:
    """The entries added or changed since `old` (None: all of them), indexed as part of `new`: a traveller
    scores against them exactly as against the whole list (`WatchlistIndex(reference=...)`), and the
    index costs what the change holds, not what the list holds."""
    if old is None:
        return new
    added, _, changed = old.compare(new.fingerprints)
    positions = sorted(set(added.tolist()) | set(changed.tolist()))
    index = WatchlistIndex((new.index.entry(p) for p in positions), reference=new.index)
    builder = FingerprintBuilder()
    for p in positions:
        builder.add(new.index.entry_id(p), b"")
    return ListSnapshot(name=new.name, version=new.version, index=index, fingerprints=builder.freeze())


class Screener:
    """All loaded lists, their thresholds and the allowlist."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._lists: MappingProxyType[str, ListSnapshot] = MappingProxyType({})
        self._clearances: MappingProxyType[tuple[str, str, str], Clearance] = MappingProxyType({})

    @property
    def lists(self) -> MappingProxyType[str, ListSnapshot]:
        return self._lists

    def replace_list(self, result: LoadResult) -> ListDiff:
        """Install a (new version of a) list atomically and report what changed.

        The entries stream once into the index, fingerprinted on the way; none is kept."""
        name = result.list_name
        prints = FingerprintBuilder()
        index = WatchlistIndex.build(prints.observe(result.entries))
        source = result.entries if isinstance(result.entries, Sequence) else None
        snapshot = ListSnapshot(name=name, version=result.version, index=index, fingerprints=prints.freeze(),
                                source=source)
        diff = diff_entries(name, self._lists.get(name), snapshot)
        self._lists = MappingProxyType({**self._lists, name: snapshot})  # the one atomic swap
        return diff

    def put_back(self, snapshot: ListSnapshot) -> None:
        """Put a snapshot in force again (the same entries loaded anew keep the version they had)."""
        self._lists = MappingProxyType({**self._lists, snapshot.name: snapshot})

    def entry(self, list_name: str, entry_id: str) -> WatchlistEntry | None:
        """A listed entry by id, as the index in force keeps it (None: no such list or entry)."""
        snapshot = self._lists.get(list_name)
        return snapshot.entry(entry_id) if snapshot is not None else None

    def clear(self, hit: Hit, query: ScreeningQuery, reason: str, cleared_by: str,
              cleared_on: date | None = None) -> Clearance:
        """Record that this traveller is not this entry; same attributes will not alert again."""
        if not reason.strip():
            raise ValueError("a clearance needs a reason")
        clearance = Clearance(list=hit.list, entry_id=hit.entry_id,
                              fingerprint=traveller_fingerprint(prepare_traveller(query)), reason=reason,
                              cleared_by=cleared_by, cleared_on=cleared_on or date.today())
        key = (clearance.list, clearance.entry_id, clearance.fingerprint)
        self._clearances = MappingProxyType({**self._clearances, key: clearance})
        return clearance

    def add_clearance(self, clearance: Clearance) -> None:
        """Install a clearance decided elsewhere (e.g. stored by the console); same effect as `clear`."""
        key = (clearance.list, clearance.entry_id, clearance.fingerprint)
        self._clearances = MappingProxyType({**self._clearances, key: clearance})

    @property
    def clearances(self) -> list[Clearance]:
        return list(self._clearances.values())

    def screen_detailed(self, query: ScreeningQuery | PreparedTraveller, *, limit: int = 10) -> ScreeningOutcome:
        traveller = query if isinstance(query, PreparedTraveller) else prepare_traveller(query)
        return self._screen(self._lists, traveller, limit)

    def _screen(self, lists: MappingProxyType[str, ListSnapshot], traveller: PreparedTraveller,
                limit: int) -> ScreeningOutcome:
        clearances = self._clearances
        fingerprint: str | None = None  # worked out for the first hit only: most travellers have none
        floor = self.thresholds.floor
        hits: list[Hit] = []
        suppressed: list[SuppressedHit] = []
        for snapshot in lists.values():
            for hit in snapshot.index.screen(traveller, floor, limit=limit):
                threshold = self.thresholds.for_entry(hit.list, hit.category.value if hit.category else "*")
                if hit.score < threshold:
                    continue
                hit = hit.model_copy(update={"threshold": threshold})
                clearance = None
                if clearances:
                    if fingerprint is None:
                        fingerprint = traveller_fingerprint(traveller)
                    clearance = clearances.get((hit.list, hit.entry_id, fingerprint))
                if clearance is not None:
                    suppressed.append(SuppressedHit(hit=hit, clearance=clearance))
                else:
                    hits.append(hit)
        hits.sort(key=lambda h: -h.score)
        return ScreeningOutcome(hits=hits[:limit], suppressed=suppressed)

    def screen_traveller(self, traveller_id: str, name: str | None, *, date_of_birth: date | None = None,
                         nationality: str | None = None, gender: str | None = None,
                         documents: Sequence[tuple[str | None, str | None]] = (), limit: int = 10,
                         lists: Mapping[str, ListSnapshot] | None = None) -> list[Hit]:
        """Hits of one traveller presenting several documents (number, issuing country): `screen` once
        per document (once without one when there are none), the best hit per entry, best first.

        What a `ScreeningQuery` per document gives, without building one: the traveller whom no list
        can match (nearly all of them) costs a few cached look-ups. `lists` screens against other
        snapshots than those in force (a change's entries: `changed_snapshot`), with the same
        thresholds and clearances."""
        lists = self._lists if lists is None else MappingProxyType(dict(lists))  # one version for all documents
        tokens = name_tokens(name) if name else ()
        forms = other_forms(name) if name else ()
        vowelless = is_vowelless(name) if name else False
        docs = [(prepare_document(number), country) for number, country in documents] or [((None, None), None)]
        floor = self.thresholds.floor
        keys = [key for key, _ in docs]
        for snapshot in lists.values():
            if snapshot.index.may_hit(tokens, floor, keys, forms, vowelless):
                break
        else:
            return []
        dob, nat, sex = prepare_birth_date(date_of_birth), prepare_country(nationality), prepare_gender(gender)
        best: dict[tuple[str, str], Hit] = {}
        for (doc, doc_ocr), country in docs:
            traveller = PreparedTraveller(traveller_id=traveller_id, tokens=tokens, dob=dob, nationality=nat,
                                          gender=sex, document=doc, document_ocr=doc_ocr,
                                          document_country=prepare_country(country), name=name or "",
                                          forms=forms, vowelless=vowelless)
            for hit in self._screen(lists, traveller, limit).hits:
                k = (hit.list, hit.entry_id)
                if k not in best or hit.score > best[k].score:
                    best[k] = hit
        return sorted(best.values(), key=lambda h: -h.score)

    def screen(self, query: ScreeningQuery | PreparedTraveller, *, limit: int = 10) -> list[Hit]:
        return self.screen_detailed(query, limit=limit).hits

    def rank(self, query: ScreeningQuery | PreparedTraveller, *, limit: int = 10) -> list[Hit]:
        """Best-scoring entries whatever their score (for ranking metrics and investigation)."""
        traveller = query if isinstance(query, PreparedTraveller) else prepare_traveller(query)
        hits = [h for s in self._lists.values() for h in s.index.screen(traveller, None, limit=limit)]
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]
