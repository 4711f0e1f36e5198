"""The risk-rule language: good rules fire with explanations, bad ones name line and column."""

from __future__ import annotations

import pickle
import random
from typing import Any

import pytest

from watchlists.rules import ATTRIBUTES, RuleError, parse_rules

GOOD = '''# targeting rules for flight arrivals
rule "recent-document" when document.issued_days < 30 and flight.arrival_country = "XYZ" then flag severity medium
rule "young-alone-direct" when traveller.age between 18 and 25
    and traveller.travelling_alone = true and flight.transit = false then flag severity low score 0.4
rule "route" when flight.route in ["AAA-XYZ", "BBB-XYZ"] and not traveller.nationality = "XYZ"
    then flag severity high
'''


def test_good_rules_fire_with_explanations() -> None:
    rules = parse_rules(GOOD)
    assert [r.name for r in rules.rules] == ["recent-document", "young-alone-direct", "route"]
    attrs = {"document.issued_days": 12, "flight.arrival_country": "xyz", "traveller.age": 22,
             "traveller.travelling_alone": True, "flight.transit": False, "flight.route": "AAA-XYZ",
             "traveller.nationality": "ABC"}
    hits = {h.rule: h for h in rules.evaluate(attrs)}
    assert set(hits) == {"recent-document", "young-alone-direct", "route"}
    assert hits["young-alone-direct"].score == 0.4 and hits["route"].severity == "high"
    assert [e.detail for e in hits["recent-document"].explanation] == [
        "document.issued_days < 30 (yes: 12)", "flight.arrival_country = \"XYZ\" (yes: 'XYZ')"]


def test_rules_do_not_fire_on_missing_or_other_values() -> None:
    rules = parse_rules(GOOD)
    assert rules.evaluate({"document.issued_days": 45, "flight.arrival_country": "XYZ"}) == []
    assert rules.evaluate({}) == []
    # A value of the wrong type never matches (and never raises).
    assert rules.evaluate({"document.issued_days": "12", "flight.arrival_country": "XYZ"}) == []


def test_each_rule_names_the_attributes_it_reads() -> None:
    rules = parse_rules(GOOD)
    assert rules.rules[2].attributes == frozenset({"flight.route", "traveller.nationality"})
    assert "traveller.travelling_alone" in rules.attributes


def test_multi_valued_attributes_take_has_in_and_not_in() -> None:
    rules = parse_rules('rule "via-deu" when flight.via_countries has "deu" then flag severity low\n'
                        'rule "via-any" when flight.via_airports in ["IST", "FRA"] then flag severity low\n'
                        'rule "via-none" when flight.via_countries not in ["DEU", "TUR"] then flag severity low\n'
                        'rule "leg" when flight.legs has "FRA-JFK" then flag severity low\n')
    via_frankfurt = {"flight.via_countries": frozenset({"DEU"}), "flight.via_airports": frozenset({"fra"}),
                     "flight.legs": frozenset({"LHR-FRA", "FRA-JFK"})}
    direct = {"flight.via_countries": frozenset(), "flight.via_airports": frozenset(),
              "flight.legs": frozenset({"LHR-JFK"})}
    assert [h.rule for h in rules.evaluate(via_frankfurt)] == ["via-deu", "via-any", "leg"]
    assert [h.rule for h in rules.evaluate(direct)] == ["via-none"]
    assert rules.evaluate({}) == []  # an unknown journey is not "via none of them"
    hit = rules.evaluate(via_frankfurt)[1]
    assert [e.detail for e in hit.explanation] == ['flight.via_airports in ["IST", "FRA"] (yes: [\'FRA\'])']


def test_the_old_party_size_name_still_reads_the_traveller_party_size() -> None:
    rules = parse_rules('rule "group" when booking.party_size >= 4 and flight.route = "AAA-BBB" '
                        "then flag severity low")
    assert rules.rules[0].attributes == frozenset({"traveller.party_size", "flight.route"})
    assert [h.rule for h in rules.evaluate({"traveller.party_size": 5.0, "flight.route": "AAA-BBB"})] == ["group"]


@pytest.mark.parametrize(("text", "line", "col", "words"), [
    ('rule "a" when document.issued_days < 30 then flag severity urgent', 1, 60, "low, medium or high"),
    ('rule "a" when document.issued_days < 30 flag severity low', 1, 41, "then"),
    ('rule "ok" when traveller.crew = true then flag severity low\n\n'
     'rule "b" when\n   passenger.shoe_size > 40 then flag severity low', 4, 4, "unknown attribute"),
    ('rule "a" when traveller.nationality < "X" then flag severity low', 1, 15, "cannot be ordered"),
    ('rule "a" when document.issued_days < "soon" then flag severity low', 1, 15, "wrong type"),
    ('rule "a" when traveller.nationality = 5 then flag severity low', 1, 15, "wrong type"),
    ('rule "a" when traveller.nationality in ["ABC", 5] then flag severity low', 1, 15, "wrong type"),
    ('rule "a" when traveller.crew = true then flag severity low\n'
     'rule "a" when traveller.crew = false then flag severity low', 2, 1, "duplicate"),
    ('rule "a" when flight.via_countries = "DEU" then flag severity low', 1, 15, "use has"),
    ('rule "a" when flight.route has "AAA-BBB" then flag severity low', 1, 15, "use = instead of has"),
])
def test_bad_rules_name_line_and_column(text: str, line: int, col: int, words: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rules(text)
    assert (err.value.line, err.value.col) == (line, col)
    assert words in str(err.value) and f"line {line}, column {col}" in str(err.value)


MIXED = '''
rule "r1" when flight.route in ["AAA-BBB", "CCC-BBB"] and traveller.nationality = "ABC" then flag severity low
rule "r2" when not (document.expires_days > 180) and (traveller.gender = "F" or document.type != "P")
    then flag severity low
rule "r3" when traveller.age between 18 and 30 and flight.via_countries not in ["DEU"] then flag severity low
rule "r4" when traveller.crew != true and flight.legs has "AAA-CCC" or document.issuing_country not in ["ABC"]
    then flag severity low
rule "r5" when document.issued_days <= 10 or traveller.party_size = 1 or flight.transit = false
    then flag severity low
rule "r6" when traveller.verified in [false] and traveller.bag_count > 2 then flag severity low
'''


def _random_attrs(rng: random.Random) -> dict[str, Any]:
    choices: dict[type, list[Any]] = {
        str: ["ABC", "abc", "AAA-BBB", "ccc-bbb", "F", "P", "I", 7, None],
        float: [0.0, 1, 2.5, 10.0, 25.0, 181.0, 400.0, "12", True, None],
        bool: [True, False, 1, None],
        frozenset: [frozenset(), frozenset({"DEU"}), frozenset({"aaa-ccc"}), {"AAA-CCC", "BBB"}, "DEU", None],
    }
    attrs = {name: rng.choice(choices[kind]) for name, kind in ATTRIBUTES.items()}
    return {k: v for k, v in attrs.items() if v is not None or rng.random() < 0.5}


def test_the_rule_set_fires_exactly_the_rules_whose_condition_holds() -> None:
    """The whole-set fast path agrees with each rule's own condition and with its explanation walk."""
    rules = parse_rules(MIXED, inputs=("paxlst",))
    rng = random.Random(11)
    fired_any = set()
    for _ in range(3000):
        attrs = _random_attrs(rng)
        expected = [r.name for r in rules.rules if r.condition.test(attrs)]
        assert [h.rule for h in rules.evaluate(attrs)] == expected, attrs
        for r in rules.rules:
            assert r.condition.evaluate(attrs, []) == r.condition.test(attrs)
        fired_any.update(expected)
    assert fired_any == {r.name for r in rules.rules}


def test_a_rule_set_survives_pickling_for_worker_processes() -> None:
    rules = pickle.loads(pickle.dumps(parse_rules(MIXED)))
    attrs = {"document.issued_days": 3.0, "flight.via_countries": frozenset(), "traveller.age": 20.0}
    assert [h.rule for h in rules.evaluate(attrs)] == ["r3", "r5"]
