"""Each name-matching rule, as an officer meets it: the traveller is hit, and the name line of the
explanation shows the name as sent and names the rule that linked each token."""

from __future__ import annotations

import pytest

from watchlists import LoadResult, NameVariant, PartialDate, Screener, ScreeningQuery, WatchlistEntry
from watchlists.models import Hit

LISTED = {
    "PATRONYMIC": "Sergei Viktorovich LAVRENTIEV",
    "CHAIN": "Abdul Qadir bin Mohammed bin Saleh AL-HUWAITI",
    "NGUYEN": "NGUYEN VAN AN",
    "WILLIAM": "William Ernest KRONBERG",
    "ALEKSANDR": "Aleksandr Ivanovich KOZLOVSKY",
    "INITIALS": "Jonathan Pieter VAN DER MERWE-HOLTZHAUSEN",
    "JOINED": "ABDULRAHMAN AL-MASRI",
    "REPEATED": "Mohammed Mohammed ZUBEIDI",
    "HEBREW": "יהושע פרלמוטר",
    "CYRILLIC": "Юлия Владимировна Тимошенко",
    "ARABIC_LATIN": "FAZAL RAHIM",
    "PINYIN": "WANG ZHIMING",
}
BORN = PartialDate(year=1971, month=5, day=9)
# Names that share the listed people's common tokens, so rare tokens decide (as in a real list).
FILLER = ["Sergei IVANOV", "Mohammed SALEH", "William SMITH", "Aleksandr PETROV", "NGUYEN THI MAI", "Jonathan BROWN",
          "Abdul Qadir HAQQANI", "Mohammed OMAR", "Ernest HEMMING", "Pieter DE VRIES"]


@pytest.fixture(scope="module")
def screener() -> Screener:
    entries = [WatchlistEntry(id=key, list="NAT", names=[NameVariant(name=name)], dates_of_birth=[BORN])
               for key, name in LISTED.items()]
    entries += [WatchlistEntry(id=f"F{i}", list="NAT", names=[NameVariant(name=n)]) for i, n in enumerate(FILLER)]
    s = Screener()
    s.replace_list(LoadResult(entries=entries, rejected=[], list_name="NAT", version="v1", source_format="test"))
    return s


def hit_on(screener: Screener, entry_id: str, **query: str) -> Hit:
    hits = [h for h in screener.screen(ScreeningQuery(id="t", date_of_birth="1971-05-09", **query))
            if h.entry_id == entry_id]
    assert hits, f"no hit on {entry_id}"
    return hits[0]


def name_line(hit: Hit) -> str:
    return next(f.detail for f in hit.explanation if f.feature == "name")


def test_a_patronymic_the_passport_omits_costs_little(screener: Screener) -> None:
    hit = hit_on(screener, "PATRONYMIC", surname="LAVRENTIEV", given_names="SERGEI")
    assert "listed VIKTOROVICH not given (a middle name: costs little)" in name_line(hit)


def test_a_chain_of_fathers_names_the_passport_omits_costs_little(screener: Screener) -> None:
    hit = hit_on(screener, "CHAIN", surname="AL HUWAITI", given_names="ABDUL QADIR")
    line = name_line(hit)
    assert "listed SALEH not given (a middle name: costs little)" in line
    assert "HUWAITI=HUWAITI (exact)" in line


def test_particles_are_kept_and_the_name_as_sent_is_shown(screener: Screener) -> None:
    hit = hit_on(screener, "NGUYEN", surname="NGUYEN", given_names="VAN AN")
    line = name_line(hit)
    assert line.startswith("'VAN AN NGUYEN' vs listed 'NGUYEN VAN AN'")
    assert "VAN=VAN (exact, particle: weighs little)" in line and "AN=AN (exact)" in line


def test_a_nickname_meets_the_listed_given_name(screener: Screener) -> None:
    hit = hit_on(screener, "WILLIAM", surname="KRONBERG", given_names="BILL")
    assert "BILL=WILLIAM (nickname or short form: nicknames table)" in name_line(hit)


def test_a_short_form_meets_the_listed_name(screener: Screener) -> None:
    hit = hit_on(screener, "ALEKSANDR", surname="KOZLOVSKY", given_names="ALEK")
    assert "ALEK=ALEKSANDR (nickname or short form: nicknames table)" in name_line(hit)


def test_initials_stand_for_given_names(screener: Screener) -> None:
    hit = hit_on(screener, "INITIALS", surname="VAN DER MERWE HOLTZHAUSEN", given_names="J P")
    line = name_line(hit)
    assert "J=JONATHAN (initial)" in line and "P=PIETER (initial)" in line


def test_digits_typed_for_letters_are_read_as_letters(screener: Screener) -> None:
    hit = hit_on(screener, "PATRONYMIC", surname="LAVRENT1EV", given_names="5ERGE1")
    line = name_line(hit)
    assert line.startswith("'5ERGE1 LAVRENT1EV' vs listed")
    assert "LAVRENTIEV=LAVRENTIEV (OCR: digits read as letters)" in line


def test_words_written_apart_meet_a_joined_listed_name(screener: Screener) -> None:
    hit = hit_on(screener, "JOINED", surname="MASRI", given_names="ABDUL RAHMAN")
    assert "words joined or split" in name_line(hit) or "ABDUL" in name_line(hit)


def test_a_repeated_token_counts_once(screener: Screener) -> None:
    hit = hit_on(screener, "REPEATED", surname="ZUBEIDI", given_names="MOHAMMED")
    assert hit.score >= 0.95
    assert "not given" not in name_line(hit)


def test_a_misspelling_is_named_as_one(screener: Screener) -> None:
    hit = hit_on(screener, "WILLIAM", surname="KRONBERG", given_names="WILIAM ERNEST")
    assert "WILIAM=WILLIAM (spelling: edit similarity" in name_line(hit)


def test_a_traveller_name_the_entry_lacks_is_said(screener: Screener) -> None:
    hits = screener.rank(ScreeningQuery(id="t", surname="KOZLOVSKY", given_names="ALEKSANDR PETER"))
    line = name_line(next(h for h in hits if h.entry_id == "ALEKSANDR"))
    assert "PETER not on the entry" in line


def test_sharing_only_a_common_given_name_is_no_hit(screener: Screener) -> None:
    assert not [h for h in screener.screen(ScreeningQuery(id="t", surname="GARCIA", given_names="MOHAMMED"))
                if h.entry_id == "REPEATED"]
    assert not screener.screen(ScreeningQuery(id="t", surname="NGUYEN", given_names="VAN BINH"))


def test_a_listed_cyrillic_name_meets_the_passport_spelling_by_its_table(screener: Screener) -> None:
    hit = hit_on(screener, "CYRILLIC", surname="TYMOSHENKO", given_names="YULIIA")
    line = name_line(hit)
    assert line.startswith("'YULIIA TYMOSHENKO' vs listed 'Юлия Владимировна Тимошенко'")
    assert "TYMOSHENKO=TIMOSHENKO (transliteration:" in line and "writes TYMOSHENKO, exact)" in line


def test_a_traveller_written_in_arabic_meets_the_latin_list_on_consonants(screener: Screener) -> None:
    hit = hit_on(screener, "ARABIC_LATIN", full_name="فضل رحيم")
    assert "FDL=FAZAL (consonant skeleton: the name was written without vowels)" in name_line(hit)


def test_wade_giles_on_the_passport_meets_pinyin_on_the_list(screener: Screener) -> None:
    hit = hit_on(screener, "PINYIN", surname="WANG", given_names="CHIH-MING")
    assert name_line(hit).startswith("'CHIH-MING WANG' vs listed 'WANG CHIH MING' (Wade-Giles form of 'WANG ZHIMING')")
