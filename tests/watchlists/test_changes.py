"""A list change screened on its own: the entries added or changed since a version, weighed as the whole list."""

from __future__ import annotations

import random

from watchlists import LoadResult, Screener
from watchlists.screener import FingerprintBuilder, Fingerprints, changed_snapshot
from watchlists.synthetic import synthetic_travellers


def _install(entries: list, name: str = "OFAC", version: str = "v") -> Screener:  # type: ignore[type-arg]
    s = Screener()
    s.replace_list(LoadResult(entries=entries, rejected=[], list_name=name, version=version, source_format="test"))
    return s


def test_a_change_finds_what_the_whole_list_finds_with_the_same_scores(ofac: LoadResult) -> None:
    entries = list(ofac.entries)
    rng = random.Random(7)
    new_ids = {e.id for e in rng.sample(entries, 300)}
    old = [e for e in entries if e.id not in new_ids]
    old_prints = FingerprintBuilder()
    for _ in old_prints.observe(old):
        pass
    whole = _install(entries)
    snapshot = whole.lists["OFAC"]
    change = changed_snapshot(snapshot, old_prints.freeze())
    assert len(change.index) == 300
    listed = [e for e in entries if e.id in new_ids]
    travellers = synthetic_travellers(1500, seed=3, listed=listed, listed_share=0.3)
    found_whole: dict[tuple[str, str], float] = {}
    found_change: dict[tuple[str, str], float] = {}
    for q, _ in travellers:
        args = {"date_of_birth": None, "nationality": q.nationality, "documents": [(q.document_number, None)]}
        for h in whole.screen_traveller(q.id, q.full_name, **args):  # type: ignore[arg-type]
            if h.entry_id in new_ids:
                found_whole[(q.id, h.entry_id)] = round(h.score, 6)
        for h in whole.screen_traveller(q.id, q.full_name, lists={"OFAC": change}, **args):  # type: ignore[arg-type]
            found_change[(q.id, h.entry_id)] = round(h.score, 6)
    assert len(found_whole) > 100  # the mangled listed travellers are found
    # every hit of the whole list on a changed entry is found by the change alone, with the same score
    assert {k: found_change.get(k) for k in found_whole} == found_whole
    assert all(entry in new_ids for _, entry in found_change)


def test_fingerprints_survive_storage_and_name_the_version(ofac: LoadResult) -> None:
    entries = list(ofac.entries)[:500]
    b1, b2 = FingerprintBuilder(), FingerprintBuilder()
    for _ in b1.observe(entries):
        pass
    for _ in b2.observe(reversed(entries)):  # the same entries in another order: the same version
        pass
    f1, f2 = b1.freeze(), b2.freeze()
    assert f1.digest == f2.digest
    back = Fingerprints.from_bytes(f1.to_bytes())
    assert back.digest == f1.digest and back.find(entries[10].id) == f1.find(entries[10].id)
    edited = [entries[0].model_copy(update={"nationalities": ["ZZ"]}), *entries[1:]]
    b3 = FingerprintBuilder()
    for _ in b3.observe(edited):
        pass
    added, removed, changed = back.compare(b3.freeze())
    assert (len(added), len(removed), changed.tolist()) == (0, 0, [0])
