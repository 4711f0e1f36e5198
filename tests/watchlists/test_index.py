"""The compact index: entries are rebuilt from arrays, scoring is the documented name similarity."""

from __future__ import annotations

import random
from itertools import islice

import pytest

from watchlists import WatchlistIndex
from watchlists.normalise import name_tokens
from watchlists.scoring import name_similarity
from watchlists.synthetic import synthetic_entries, synthetic_travellers


@pytest.fixture(scope="module")
def index() -> WatchlistIndex:
    return WatchlistIndex.build(synthetic_entries(4000, seed=11))  # a generator: consumed, not kept


def test_entries_are_rebuilt_from_the_compact_arrays(index: WatchlistIndex) -> None:
    originals = list(islice(synthetic_entries(4000, seed=11), 4000))
    assert len(index) == len(originals)
    for i in random.Random(1).sample(range(len(originals)), 200):
        rebuilt, original = index.entry(i), originals[i]
        assert rebuilt.id == original.id and rebuilt.list == original.list
        assert rebuilt.category == original.category and rebuilt.gender == original.gender
        assert [str(d) for d in rebuilt.dates_of_birth] == [str(d) for d in original.dates_of_birth]
        assert rebuilt.nationalities == original.nationalities
        assert [(d.number, d.doc_type, d.country) for d in rebuilt.documents] == \
            [(d.number, d.doc_type, d.country) for d in original.documents]
        assert [(v.name, v.kind) for v in rebuilt.names] == \
            [(v.name, v.kind) for v in original.names if name_tokens(v.name)]


def test_vectorised_name_scores_equal_the_documented_similarity(index: WatchlistIndex) -> None:
    travellers = synthetic_travellers(150, seed=2, listed=[index.entry(i) for i in range(300)], listed_share=0.5)
    checked = 0
    for query, _ in travellers:
        tokens = name_tokens(query.display_name)
        names = index.candidates(tokens)
        if not names:
            continue
        fast = index.name_scores(tokens, names)
        for n_idx, score in zip(names, fast, strict=True):
            listed = tuple(index.vocab_list[t] for t in index.name_token_ids(n_idx))
            assert score == pytest.approx(name_similarity(tokens, listed, index.weight, index.phonetic), abs=1e-9)
            checked += 1
    assert checked > 100


def test_unlisted_travellers_are_not_on_the_list(index: WatchlistIndex) -> None:
    first = index.entry(0) if index.entry(0).names else index.entry(1)
    assert index.contains_name(first.names[0].name)
    travellers = synthetic_travellers(200, seed=3, is_listed=index.contains_name)
    assert not any(index.contains_name(q.display_name) for q, expected in travellers if expected is None)
