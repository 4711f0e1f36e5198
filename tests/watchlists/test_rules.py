"""The risk-rule language: good rules fire with explanations, bad ones name line and column."""

from __future__ import annotations

import pytest

from watchlists.rules import RuleError, parse_rules

GOOD = '''# targeting rules for flight arrivals
rule "recent-document" when document.issued_days < 30 and flight.arrival_country = "XYZ" then flag severity medium
rule "young-alone-one-way" when traveller.age between 18 and 25
    and traveller.travelling_alone = true and booking.one_way = true then flag severity low score 0.4
rule "route" when flight.route in ["AAA-XYZ", "BBB-XYZ"] and not traveller.nationality = "XYZ"
    then flag severity high
'''


def test_good_rules_fire_with_explanations() -> None:
    rules = parse_rules(GOOD)
    assert [r.name for r in rules.rules] == ["recent-document", "young-alone-one-way", "route"]
    attrs = {"document.issued_days": 12, "flight.arrival_country": "xyz", "traveller.age": 22,
             "traveller.travelling_alone": True, "booking.one_way": True, "flight.route": "AAA-XYZ",
             "traveller.nationality": "ABC"}
    hits = {h.rule: h for h in rules.evaluate(attrs)}
    assert set(hits) == {"recent-document", "young-alone-one-way", "route"}
    assert hits["young-alone-one-way"].score == 0.4 and hits["route"].severity == "high"
    assert [e.detail for e in hits["recent-document"].explanation] == [
        "document.issued_days < 30 (yes: 12)", "flight.arrival_country = \"XYZ\" (yes: 'XYZ')"]


def test_rules_do_not_fire_on_missing_or_other_values() -> None:
    rules = parse_rules(GOOD)
    assert rules.evaluate({"document.issued_days": 45, "flight.arrival_country": "XYZ"}) == []
    assert rules.evaluate({}) == []


@pytest.mark.parametrize(("text", "line", "col", "words"), [
    ('rule "a" when document.issued_days < 30 then flag severity urgent', 1, 60, "low, medium or high"),
    ('rule "a" when document.issued_days < 30 flag severity low', 1, 41, "then"),
    ('rule "ok" when booking.one_way = true then flag severity low\n\n'
     'rule "b" when\n   passenger.shoe_size > 40 then flag severity low', 4, 4, "unknown attribute"),
    ('rule "a" when traveller.nationality < "X" then flag severity low', 1, 15, "cannot be ordered"),
    ('rule "a" when document.issued_days < "soon" then flag severity low', 1, 15, "wrong type"),
    ('rule "a" when booking.one_way = true then flag severity low\n'
     'rule "a" when booking.one_way = false then flag severity low', 2, 1, "duplicate"),
])
def test_bad_rules_name_line_and_column(text: str, line: int, col: int, words: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rules(text)
    assert (err.value.line, err.value.col) == (line, col)
    assert words in str(err.value) and f"line {line}, column {col}" in str(err.value)
