"""The service's screening path (`Screener.screen_traveller`) gives what one query per document gives.

Strategy: the service screens every traveller of every manifest, so it skips the query model and
answers "no list can match" from cached look-ups. These tests hold that shortcut to the plain path:
the same hits (scores, thresholds, explanations, order) for listed, mangled and unlisted people,
with several documents, clearances and OCR-confused numbers, and the same normalisation.
"""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest
from rigour.names import remove_person_prefixes

from watchlists import Clearance, Hit, LoadResult, Screener, ScreeningQuery, Thresholds, WatchlistEntry, WatchlistIndex
from watchlists.normalise import _drop_honorifics, name_tokens
from watchlists.scoring import prepare_birth_date, prepare_dob, prepare_document
from watchlists.synthetic import synthetic_entries, synthetic_travellers


def _screener(entries: list[WatchlistEntry]) -> Screener:
    s = Screener(Thresholds.of(0.88, SYN__document=0.9))
    s.replace_list(LoadResult(entries=entries, rejected=[], list_name="SYN", version="v1", source_format="test"))
    return s


@pytest.fixture(scope="module")
def entries() -> list[WatchlistEntry]:
    return list(synthetic_entries(3000, seed=21))


def _per_document(s: Screener, tid: str, name: str, born: date | None, nat: str | None, sex: str | None,
                  docs: list[tuple[str | None, str | None]]) -> list[str]:
    """One query per document, the best hit per entry kept: what the service did before the shortcut."""
    best: dict[tuple[str, str], Hit] = {}
    for number, country in docs or [(None, None)]:
        query = ScreeningQuery(id=tid, full_name=name, date_of_birth=born.isoformat() if born else None,
                               nationality=nat, gender=sex, document_number=number, document_country=country)
        for hit in s.screen(query):
            k = (hit.list, hit.entry_id)
            if k not in best or hit.score > best[k].score:
                best[k] = hit
    return [h.model_dump_json() for h in sorted(best.values(), key=lambda h: -h.score)]


Presented = tuple[str, date | None, str | None, str | None, list[tuple[str | None, str | None]]]


def _travellers(entries: list[WatchlistEntry], n: int, seed: int) -> list[Presented]:
    rng = random.Random(seed)
    listed = [e for e in entries if e.names][:400]
    docs = [d for e in entries for d in e.documents]
    fold = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})
    out: list[Presented] = []
    for query, _ in synthetic_travellers(n, seed=seed, listed=listed, listed_share=0.3):
        born = date.fromisoformat(query.date_of_birth) if query.date_of_birth and len(query.date_of_birth) == 10 \
            else None
        presented: list[tuple[str | None, str | None]] = []
        for _ in range(rng.choice([0, 1, 1, 2])):
            d = rng.choice(docs)
            r = rng.random()
            number = d.number if r < 0.3 else d.number.translate(fold) if r < 0.5 else f"X{rng.randrange(10**8)}"
            presented.append((number, rng.choice([d.country, "FR", None])))
        out.append((query.display_name, born, query.nationality, query.gender, presented))
    return out


def test_the_shortcut_gives_the_hits_of_one_query_per_document(entries: list[WatchlistEntry]) -> None:
    s = _screener(entries)
    hits = 0
    for round_ in range(2):  # the second time from the caches
        for i, (name, born, nat, sex, docs) in enumerate(_travellers(entries, 600, seed=4)):
            fast = [h.model_dump_json() for h in s.screen_traveller(str(i), name, date_of_birth=born,
                                                                    nationality=nat, gender=sex, documents=docs)]
            assert fast == _per_document(s, str(i), name, born, nat, sex, docs), (round_, name, docs)
            hits += len(fast)
    assert hits > 200


def test_cleared_travellers_stay_cleared_on_the_shortcut(entries: list[WatchlistEntry]) -> None:
    s = _screener(entries)
    travellers = _travellers(entries, 300, seed=5)
    cleared = 0
    for i, (name, born, nat, sex, docs) in enumerate(travellers):
        number, country = docs[0] if docs else (None, None)
        query = ScreeningQuery(id=str(i), full_name=name, date_of_birth=born.isoformat() if born else None,
                               nationality=nat, gender=sex, document_number=number, document_country=country)
        for hit in s.screen(query)[:1]:
            s.clear(hit, query, "not him", "officer")
            cleared += 1
    s.add_clearance(Clearance(list="SYN", entry_id="nobody", fingerprint="0" * 64, reason="r", cleared_by="o",
                              cleared_on=date(2026, 1, 1)))
    for i, (name, born, nat, sex, docs) in enumerate(travellers):
        fast = [h.model_dump_json() for h in s.screen_traveller(str(i), name, date_of_birth=born,
                                                                nationality=nat, gender=sex, documents=docs)]
        assert fast == _per_document(s, str(i), name, born, nat, sex, docs)
    assert cleared > 30


def test_a_listed_document_is_never_filtered_out(entries: list[WatchlistEntry]) -> None:
    index = WatchlistIndex.build(entries)
    for e_idx, entry in enumerate(entries):
        for doc in entry.documents:
            key, ocr = prepare_document(doc.number)
            assert index.may_hit((), 0.88, [(key, ocr)])
            assert e_idx in index._document_entries(key, ocr)
    assert not index.may_hit((), 0.88, [(None, None)])


def test_birth_dates_and_document_keys_are_prepared_as_before() -> None:
    for day in (date(1970, 1, 1), date(2014, 8, 6), date(1849, 12, 31), date(2101, 1, 1), date(1, 1, 1)):
        assert prepare_birth_date(day) == prepare_dob(day.isoformat())
    assert prepare_birth_date(datetime(1970, 1, 1, 12, 0)) == prepare_dob("1970-01-01T12:00:00") is None
    assert prepare_birth_date(None) is None
    assert prepare_document("p-123 45o") == ("P12345O", "P123450")
    assert prepare_document("ab12cd") == ("AB12CD", "A812C0")
    assert prepare_document("--") == (None, None)


@pytest.mark.parametrize("text", [
    "Mr John Smith", "MR. JOHN SMITH", "mr.john smith", "Dr. Sheikh Abdul Rahman", "The Honourable Lady X",
    "His\tExcellency Y", "Herr Müller", "Sir", "Mrs", "Miss Daisy", "Mister", "Prof. Dr Z", "Rt. Hon. W",
    "ſir John", "Mıster K", "_Mr X", "(Dr) Y", " Mr Z", "Monsieur", "MONSIEURX Y", "Ex-Chair Q", "John Smith",
    "", "Фёдор", "Frau Präsident Q", "FRÄULEIN Q",
])
def test_honorifics_come_off_as_rigour_takes_them_off(text: str) -> None:
    assert _drop_honorifics(text) == remove_person_prefixes(text)
    assert name_tokens(text) == name_tokens.__wrapped__(text)
