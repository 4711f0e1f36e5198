"""Screening behaviour an officer notices: who is hit, why, and what is not re-alerted."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from watchlists import (
    Category,
    Document,
    LoadResult,
    NameVariant,
    PartialDate,
    Screener,
    ScreeningQuery,
    Thresholds,
    WatchlistEntry,
    WatchlistIndex,
)
from watchlists.index import prepare_traveller
from watchlists.normalise import name_tokens, script_of
from watchlists.synthetic import synthetic_entries, synthetic_travellers


def person(entry_id: str, name: str, *aliases: str, dob: PartialDate | None = None, nat: str | None = None,
           doc: str | None = None, list_name: str = "TEST") -> WatchlistEntry:
    return WatchlistEntry(
        id=entry_id, list=list_name,
        names=[NameVariant(name=name), *(NameVariant(name=a, kind="alias") for a in aliases)],
        dates_of_birth=[dob] if dob else [], nationalities=[nat] if nat else [],
        documents=[Document(number=doc, doc_type="passport", country=nat)] if doc else [])


ENTRIES = [
    person("E1", "Abdul Rahman AL-ZINDANI", dob=PartialDate(year=1966, month=3, day=12), nat="YE", doc="A0128S5B"),
    person("E2", "MOHAMMED ALI HASSAN"),
    person("E3", "Ivan Petrovich SIDOROV", "Иван Сидоров", dob=PartialDate(year=1970), nat="RU"),
    *(person(f"F{i}", f"MOHAMMED {s}") for i, s in enumerate(["KARIMI", "TAHERI", "OSMAN", "NOURI", "AZIZI"])),
    WatchlistEntry(id="D1", list="LOST", category=Category.DOCUMENT,
                   documents=[Document(number="P1234567", doc_type="P", country="FR")]),
]


@pytest.fixture(scope="module")
def screener() -> Screener:
    s = Screener(Thresholds.of(0.88, LOST__document=0.9))
    s.replace_list(LoadResult(entries=[e for e in ENTRIES if e.list == "TEST"], rejected=[], list_name="TEST",
                              version="v1", source_format="test"))
    s.replace_list(LoadResult(entries=[e for e in ENTRIES if e.list == "LOST"], rejected=[], list_name="LOST",
                              version="v1", source_format="test"))
    return s


def test_normalisation_handles_scripts_mrz_titles_and_particles() -> None:
    assert name_tokens("SIDOROV<<IVAN<PETROVICH") == ("SIDOROV", "IVAN", "PETROVICH")
    assert name_tokens("Dr. Sheikh Abdul Rahman al-Zindani") == ("ABDUL", "RAHMAN", "AL", "ZINDANI")  # particle kept
    assert name_tokens("Nguyen Van An") == ("NGUYEN", "VAN", "AN")
    assert name_tokens("MOHAMMED MOHAMMED ALI") == ("MOHAMMED", "ALI")  # a repeated token counts once
    assert name_tokens("M0HAMMED 5ERGEI J.") == ("MOHAMMED", "SERGEI", "J")  # typed digits, an initial
    assert name_tokens("FNU KARIMI") == ("KARIMI",)
    assert name_tokens("Иван Сидоров") == ("IVAN", "SIDOROV")
    assert name_tokens("李小龙") == ("LIXIAOLONG",)
    assert name_tokens("김민준") == ("GIMMINJUN",)
    assert name_tokens("Γιώργος") == ("GIORGOS",)
    assert script_of("สมชาย") == "Thai" and script_of("محمد") == "Arabic"


@pytest.mark.parametrize("presented", [
    "AL-ZINDANI, Abdul Rahman",  # Last, First
    "ABDULRAHMAN ZINDANI",  # joined tokens, particle dropped
    "Abdul Rahman Al Zindanee",  # transliteration variant
    "ZINDANI<<ABDUL<RAHMAN",  # MRZ
])
def test_variants_of_a_listed_name_hit(screener: Screener, presented: str) -> None:
    hits = screener.screen(ScreeningQuery(id="t", full_name=presented, date_of_birth="1966-03-12"))
    assert [h.entry_id for h in hits][:1] == ["E1"]


def test_original_script_query_hits_latin_entry(screener: Screener) -> None:
    hits = screener.screen(ScreeningQuery(id="t", full_name="Иван Сидоров", date_of_birth="1970"))
    assert hits and hits[0].entry_id == "E3"


def test_common_token_does_not_decide_a_match(screener: Screener) -> None:
    assert screener.screen(ScreeningQuery(id="t", full_name="Mohammed Smith")) == []
    assert screener.screen(ScreeningQuery(id="t", full_name="Mohammed Karimov", date_of_birth="1980")) == []


def test_explanation_lists_every_feature(screener: Screener) -> None:
    hit = screener.screen(ScreeningQuery(id="t", full_name="Abdul Rahman Zindani", date_of_birth="1966-12-03",
                                         nationality="YEM", document_number="A0128-S5B"))[0]
    features = {f.feature: f for f in hit.explanation}
    assert features["date_of_birth"].outcome == "day_month_swap"
    assert features["nationality"].outcome == "match"
    assert features["document"].outcome == "exact"
    assert hit.score == pytest.approx(min(1.0, sum(f.contribution for f in hit.explanation)), abs=1e-3)
    text = hit.explain()
    assert "date_of_birth: day_month_swap" in text and "TEST:E1" in text


def test_screening_a_traveller_again_gives_the_same_hits(screener: Screener) -> None:
    """Normalisations are memoised: what one caller gets back must not change what the next one gets."""
    query = ScreeningQuery(id="t", surname="AL-ZINDANI", given_names="Abdul Rahman", date_of_birth="1966-03-12",
                           nationality="Yemen", gender="M", document_number="A0128S5B", document_country="YEM")
    first = screener.screen(query)
    assert [h.entry_id for h in first] == ["E1"]
    traveller = prepare_traveller(query)
    assert isinstance(traveller.tokens, tuple)
    assert traveller.dob is not None
    with pytest.raises(ValueError):
        traveller.dob.year = 1900  # shared by every traveller born that day: frozen
    assert screener.screen(query) == first
    assert screener.screen(query.model_copy(update={"id": "u"})) == [h.model_copy(update={"traveller_id": "u"})
                                                                      for h in first]


def test_date_of_birth_mismatch_lowers_score(screener: Screener) -> None:
    same = screener.rank(ScreeningQuery(id="t", full_name="Ivan Sidorow", date_of_birth="1970-01-01"))[0]
    near = screener.rank(ScreeningQuery(id="t", full_name="Ivan Sidorow", date_of_birth="1971-01-01"))[0]
    far = screener.rank(ScreeningQuery(id="t", full_name="Ivan Sidorow", date_of_birth="1990-01-01"))[0]
    assert same.score > near.score > far.score
    assert {f.feature: f.outcome for f in far.explanation}["date_of_birth"] == "mismatch"


def test_ocr_tolerant_document_match_on_document_list(screener: Screener) -> None:
    exact = screener.screen(ScreeningQuery(id="t", document_number="P1234567", document_country="FR"))
    assert [(h.list, h.entry_id) for h in exact] == [("LOST", "D1")] and exact[0].score == 1.0
    ocr = screener.screen(ScreeningQuery(id="t", document_number="P12345G7".replace("G", "6").replace("1", "I")))
    assert [h.entry_id for h in ocr] == ["D1"]
    assert ocr[0].explanation[0].outcome == "ocr_tolerant" and ocr[0].score < 1.0
    other_country = screener.screen(ScreeningQuery(id="t", document_number="P1234567", document_country="DE"))
    assert other_country == []  # 0.75 < the LOST/document threshold 0.9


def test_allowlist_suppresses_same_attributes_only(screener: Screener) -> None:
    query = ScreeningQuery(id="t1", full_name="Mohammed Ali Hassan", date_of_birth="1990-01-01", nationality="GB")
    hit = screener.screen(query)[0]
    assert hit.entry_id == "E2"
    clearance = screener.clear(hit, query, reason="different person, checked passport photo", cleared_by="officer 7",
                               cleared_on=date(2026, 11, 23))
    again = screener.screen_detailed(query.model_copy(update={"id": "t2"}))
    assert again.hits == [] and again.suppressed[0].clearance == clearance
    other = screener.screen(query.model_copy(update={"date_of_birth": "1991-01-01"}))
    assert [h.entry_id for h in other] == ["E2"]
    with pytest.raises(ValueError):
        screener.clear(hit, query, reason=" ", cleared_by="officer 7")


def test_list_replacement_is_versioned_with_a_diff() -> None:
    s = Screener()
    first = s.replace_list(LoadResult(entries=ENTRIES[:3], rejected=[], list_name="TEST", version="v1",
                                      source_format="test"))
    assert first.old_version is None and first.added == ["E1", "E2", "E3"]
    changed_e2 = ENTRIES[1].model_copy(update={"nationalities": ["IQ"]})
    new = [ENTRIES[0], changed_e2, ENTRIES[3]]
    diff = s.replace_list(LoadResult(entries=new, rejected=[], list_name="TEST", version="v2", source_format="test"))
    assert (diff.added, diff.removed, diff.changed) == (["F0"], ["E3"], ["E2"])
    assert s.lists["TEST"].version == "v2"
    assert s.screen(ScreeningQuery(id="t", full_name="Ivan Sidorov")) == []
    assert "1 added, 1 removed, 1 changed" in diff.summary()


def test_thresholds_per_list_and_category() -> None:
    t = Thresholds.of(0.88, UN__individual=0.85, star__entity=0.92)
    assert t.for_entry("UN", "individual") == 0.85
    assert t.for_entry("OFAC", "entity") == 0.92
    assert t.for_entry("OFAC", "individual") == 0.88


def test_synthetic_index_finds_mangled_listed_people() -> None:
    entries = list(synthetic_entries(3000, seed=3))
    index = WatchlistIndex.build(entries)
    travellers = synthetic_travellers(300, seed=4, listed=entries, listed_share=0.3)
    listed = [(q, e) for q, e in travellers if e is not None]
    found = sum(any(h.entry_id == e for h in index.screen(q, 0.8)) for q, e in listed)
    assert found / len(listed) >= 0.85
    scripts = {script_of(v.name) for e in entries for v in e.names}
    assert {"Latin", "Han", "Hangul", "Arabic", "Cyrillic", "Devanagari", "Thai", "Greek", "Hebrew"} <= scripts


def test_real_lists_hit_a_listed_person(un: LoadResult) -> None:
    s = Screener()
    s.replace_list(un)
    hits = s.screen(ScreeningQuery(id="t", full_name="BADEGE, ERIC", date_of_birth="1971", nationality="CD"))
    assert hits and hits[0].entry_id == "CDi.001"


def test_a_two_digit_year_read_in_the_wrong_century_does_not_clear_a_listed_person(un: Any) -> None:
    """PAXLST writes DTM+329:250125: a UN-listed man born on 25 January 1925 arrives as born in 2025. The same
    day a century apart is the format's ambiguity, not another person: it must not push him below the threshold."""
    from watchlists import Screener

    s = Screener()
    s.replace_list(un)
    [hit] = [h for h in s.screen_traveller("0", "RI YONG MU", date_of_birth=date(2025, 1, 25)) if h.list == "UN"]
    features = {f.feature: f for f in hit.explanation}
    assert features["date_of_birth"].outcome == "century" and "two-digit year" in (features["date_of_birth"].detail
                                                                                  or "")
    assert s.screen_traveller("0", "RI YONG MU", date_of_birth=date(2025, 3, 9)) == []  # another day: no
