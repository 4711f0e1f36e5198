"""Chinese and Korean names respelled between romanisations (pinyin, Wade-Giles, RR, MR)."""

from __future__ import annotations

import pytest

from watchlists.normalise import name_tokens
from watchlists.romanise import MAX_FORMS, other_romanisations

LABELS = {"Wade-Giles", "pinyin", "McCune-Reischauer", "Revised Romanisation", "Korean passport surname"}


def forms(name: str) -> list[tuple[str, ...]]:
    return [tokens for tokens, _ in other_romanisations(tuple(name.split()))]


PAIRS = [
    # pinyin (lists, PRC passports) and Wade-Giles (Taiwanese and older documents, hyphen split off)
    ("WANG ZHIMING", "WANG CHIH MING"),
    ("LUO GUIHUA", "LO KUEI HUA"),
    ("CHEN JIAWEI", "CHEN CHIA WEI"),
    ("ZHOU BIZHU", "CHOU PI CHU"),
    ("MAO ZEDONG", "MAO TSE TUNG"),
    ("ZHIMING WANG", "CHIH MING WANG"),
    # McCune-Reischauer or North Korean usage and Revised Romanisation or South Korean passports
    ("KIM JONG UN", "KIM JEONG EUN"),
    ("KIM JONG UN", "KIM JEONGEUN"),
    ("PAK SONG HUN", "PARK SEONGHUN"),
    ("LEE GYEONGSU", "YI KYONG SU"),
    ("CHOE YONG SUK", "CHOI YEONGSUK"),
    ("SONG HUN PAK", "SEONGHUN PARK"),
]


@pytest.mark.parametrize(("one", "other"), PAIRS)
def test_each_spelling_yields_the_other(one: str, other: str) -> None:
    assert tuple(other.split()) in forms(one)
    assert tuple(one.split()) in forms(other)


def test_hyphenated_wade_giles_as_tokenised_reads_as_pinyin() -> None:
    found = other_romanisations(name_tokens("Wang Chih-ming"))
    assert (("WANG", "ZHIMING"), "pinyin") in found


def test_forms_are_bounded_labelled_and_never_the_name_itself() -> None:
    for one, other in PAIRS:
        for name in (one, other):
            found = other_romanisations(tuple(name.split()))
            assert 0 < len(found) <= MAX_FORMS
            assert {label for _, label in found} <= LABELS
            assert tuple(name.split()) not in [tokens for tokens, _ in found]
            assert len(set(found)) == len(found)


def test_labels_name_the_system_of_the_form() -> None:
    assert (("WANG", "CHIH", "MING"), "Wade-Giles") in other_romanisations(("WANG", "ZHIMING"))
    assert (("PARK", "SEONGHUN"), "Revised Romanisation") in other_romanisations(("PAK", "SONG", "HUN"))
    assert (("PAK", "SONG", "HUN"), "McCune-Reischauer") in other_romanisations(("PARK", "SEONGHUN"))


@pytest.mark.parametrize("name", [
    "JOHN SMITH", "ANA MARIA LOPEZ", "MOHAMMED ALI", "ABU MAZEN", "OSAMA ALI", "HADI KAMALI",
    "MARIA", "WANG", "SERGEI IVANOV",
])
def test_names_that_are_not_chinese_or_korean_get_nothing(name: str) -> None:
    assert forms(name) == []


def test_a_chinese_name_is_not_read_as_korean() -> None:
    # NA is a Korean surname too; LI NA is Chinese and has no other spelling.
    assert forms("LI NA") == []


def test_one_letter_is_no_korean_surname() -> None:
    # A vessel's numeral (HILDA I) is not the surname 이.
    assert forms("HILDA I") == []
