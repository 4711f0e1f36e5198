"""Screening a traveller against every loaded list: thresholds, allowlist, versioned lists.

Strategy: a `Screener` holds one immutable `ListSnapshot` per list (entries + index + version).
Replacing a list builds the new index first and then swaps one dict entry, so a traveller is
always screened against a whole old version or a whole new one, never a mix; the swap returns
the diff (added, removed, changed entry ids). Thresholds are looked up by (list, category) with
fallbacks. The allowlist is keyed by (list, entry id, a SHA-256 fingerprint of the traveller's
identifying attributes): a cleared traveller presenting the same attributes is not re-alerted,
while the same name with another date of birth or document is. The allowlist stores no personal
data, only the fingerprint and the officer's reason. The service screens through
`screen_traveller`: no query model, and no preparation at all for a traveller no list can match.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from types import MappingProxyType

from watchlists.index import WatchlistIndex, prepare_traveller
from watchlists.loaders.common import LoadResult
from watchlists.models import Hit, ScreeningQuery, WatchlistEntry
from watchlists.normalise import name_tokens
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
    parts = [" ".join(sorted(traveller.tokens)), str(traveller.dob or ""), traveller.nationality or "",
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


@dataclass(frozen=True)
class ListSnapshot:
    name: str
    version: str
    entries: tuple[WatchlistEntry, ...]
    index: WatchlistIndex


@dataclass(frozen=True)
class ListDiff:
    list: str
    old_version: str | None
    new_version: str
    added: builtins.list[str]
    removed: builtins.list[str]
    changed: builtins.list[str]

    def summary(self) -> str:
        return (f"{self.list} {self.old_version or '-'} -> {self.new_version}: "
                f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed")


def diff_entries(list_name: str, old: ListSnapshot | None, new_entries: list[WatchlistEntry],
                 new_version: str) -> ListDiff:
    before = {e.id: e for e in (old.entries if old else ())}
    after = {e.id: e for e in new_entries}
    return ListDiff(list=list_name, old_version=old.version if old else None, new_version=new_version,
                    added=sorted(after.keys() - before.keys()), removed=sorted(before.keys() - after.keys()),
                    changed=sorted(k for k in after.keys() & before.keys() if after[k] != before[k]))


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
        """Install a (new version of a) list atomically and report what changed."""
        name = result.list_name
        snapshot = ListSnapshot(name=name, version=result.version, entries=tuple(result.entries),
                                index=WatchlistIndex.build(result.entries))
        diff = diff_entries(name, self._lists.get(name), result.entries, result.version)
        self._lists = MappingProxyType({**self._lists, name: snapshot})  # the one atomic swap
        return diff

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
                         documents: Sequence[tuple[str | None, str | None]] = (), limit: int = 10) -> list[Hit]:
        """Hits of one traveller presenting several documents (number, issuing country): `screen` once
        per document (once without one when there are none), the best hit per entry, best first.

        What a `ScreeningQuery` per document gives, without building one: the traveller whom no list
        can match (nearly all of them) costs a few cached look-ups."""
        lists = self._lists  # one version of every list for all the traveller's documents
        tokens = name_tokens(name) if name else ()
        docs = [(prepare_document(number), country) for number, country in documents] or [((None, None), None)]
        floor = self.thresholds.floor
        keys = [key for key, _ in docs]
        for snapshot in lists.values():
            if snapshot.index.may_hit(tokens, floor, keys):
                break
        else:
            return []
        dob, nat, sex = prepare_birth_date(date_of_birth), prepare_country(nationality), prepare_gender(gender)
        best: dict[tuple[str, str], Hit] = {}
        for (doc, doc_ocr), country in docs:
            traveller = PreparedTraveller(traveller_id=traveller_id, tokens=tokens, dob=dob, nationality=nat,
                                          gender=sex, document=doc, document_ocr=doc_ocr,
                                          document_country=prepare_country(country))
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
