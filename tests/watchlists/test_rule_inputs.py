"""Rules may only use what an input fills and what the lawful-criteria policy allows; PAXLST fills them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from api_engine import cli
from api_engine.cli import screen as screen_cli
from parsers import read_interchange
from parsers.models import Manifest
from watchlists.adapters import manifest_rule_attributes, rule_attributes
from watchlists.models import ScreeningQuery
from watchlists.rule_policy import RulePolicyError, load_rule_policy, parse_rule_policy
from watchlists.rules import FILLED_BY, RuleError, parse_rules

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DIRECT = (EXAMPLES / "xx123_lhr-jfk_passengers.edi").read_text(encoding="ascii")
ONE_LEG = ("TDT+20+XX123+++XX'\nLOC+125+LHR'\nDTM+189:2503011030:201'\nLOC+87+JFK'\n"
           "DTM+232:2503011530:201'\n")


def _manifest(text: str) -> Manifest:
    interchange = read_interchange(text.encode("ascii"))
    assert interchange.findings == []
    return interchange.manifests[0]


def _variant(legs: str, *, extra_segments: int) -> str:
    """The LHR-JFK example with other flight legs (and the UNT count kept right)."""
    assert ONE_LEG in DIRECT and "UNT+38+1'" in DIRECT
    return DIRECT.replace(ONE_LEG, legs).replace("UNT+38+1'", f"UNT+{38 + extra_segments}+1'")


# Two TDT legs, LHR-FRA then FRA-JFK.
TWO_TDT = _variant(
    "TDT+20+XX122+++XX'\nLOC+125+LHR'\nDTM+189:2503010700:201'\nLOC+87+FRA'\nDTM+232:2503010940:201'\n"
    "TDT+20+XX123+++XX'\nLOC+125+FRA'\nDTM+189:2503011030:201'\nLOC+87+JFK'\nDTM+232:2503011530:201'\n",
    extra_segments=5)
# One TDT with a transit chain (LOC 92), the other way carriers send a stop.
CHAIN_92 = _variant(
    "TDT+20+XX123+++XX'\nLOC+92+LHR'\nDTM+189:2503010700:201'\nLOC+92+FRA'\nDTM+232:2503010940:201'\n"
    "LOC+92+FRA'\nDTM+189:2503011030:201'\nLOC+92+JFK'\nDTM+232:2503011530:201'\n",
    extra_segments=4)


# --- fillability -------------------------------------------------------------------------------------


def test_a_booking_attribute_no_input_fills_is_refused_at_its_place() -> None:
    text = 'rule "cash" when flight.route = "LHR-JFK"\n  and booking.paid_cash = true then flag severity high\n'
    with pytest.raises(RuleError) as err:
        parse_rules(text)
    assert (err.value.line, err.value.col) == (2, 7)
    assert "booking.paid_cash" in str(err.value) and "filled by no input yet" in str(err.value)


def test_an_attribute_is_refused_when_the_configured_input_does_not_fill_it() -> None:
    text = 'rule "route" when flight.route = "LHR-JFK" then flag severity low\n'
    with pytest.raises(RuleError) as err:
        parse_rules(text, inputs=("jsonl",))
    assert (err.value.line, err.value.col) == (1, 19)
    assert "filled only by paxlst" in str(err.value)
    assert parse_rules(text, inputs=("jsonl", "paxlst")).rules[0].name == "route"
    with pytest.raises(ValueError, match="inputs must name"):
        parse_rules(text, inputs=("pnr",))


def test_the_adapters_fill_exactly_what_fillability_declares() -> None:
    m = _manifest(DIRECT)
    assert set(rule_attributes(m, m.travellers[0])) == FILLED_BY["paxlst"]
    jsonl = screen_cli.jsonl_rule_attributes(ScreeningQuery(id="1", full_name="A B", nationality="IRL"))
    assert set(jsonl) == FILLED_BY["jsonl"]


def test_jsonl_travellers_fill_age_gender_and_document_country() -> None:
    q = ScreeningQuery(id="1", full_name="A B", date_of_birth="1990-03-01", gender="female",
                       nationality="IRL", document_country="IRL")
    attrs = screen_cli.jsonl_rule_attributes(q, today=date(2025, 3, 1))
    assert attrs == {"traveller.nationality": "IRL", "traveller.gender": "F", "traveller.age": 35.0,
                     "document.issuing_country": "IRL"}
    only_year = ScreeningQuery(id="2", full_name="A B", date_of_birth="1990")
    assert screen_cli.jsonl_rule_attributes(only_year, today=date(2025, 3, 1))["traveller.age"] is None


def test_screen_refuses_a_flight_rule_for_json_lines_travellers(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    travellers = tmp_path / "t.jsonl"
    travellers.write_text(json.dumps({"id": "p1", "full_name": "Jane Doe", "nationality": "IRL"}) + "\n",
                          encoding="utf-8")
    rules = tmp_path / "rules.txt"
    rules.write_text('rule "r" when flight.route = "LHR-JFK" then flag severity low\n', encoding="utf-8")
    assert cli.main(["screen", "--rules", str(rules), "--travellers", str(travellers)]) == 2
    err = capsys.readouterr().err
    assert "line 1, column 15" in err and "filled only by paxlst" in err
    assert cli.main(["screen", "--json", "--rules", str(rules), str(EXAMPLES / "xx123_lhr-jfk_passengers.edi")]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 2


# --- the lawful-criteria policy ----------------------------------------------------------------------

POLICY = load_rule_policy()


@pytest.mark.parametrize(("text", "line", "col", "words"), [
    ('rule "r" when flight.route = "LHR-JFK" and\n  traveller.religion = "X" then flag severity high',
     2, 3, "'special-categories'"),
    ('rule "r" when traveller.surname = "SMITH" then flag severity high', 1, 15, "'proxies-for-origin'"),
    ('rule "r" when traveller.nationality = "IRL" then flag severity high', 1, 15,
     "'protected-characteristics-need-context'"),
    # Only one branch of an OR has the route: the other selects by nationality alone.
    ('rule "r" when traveller.gender = "F" or flight.route = "LHR-JFK" then flag severity low', 1, 15,
     "'protected-characteristics-need-context'"),
    # "Every route but this one" is no route criterion.
    ('rule "r" when traveller.age < 25 and not flight.route = "LHR-JFK" then flag severity low', 1, 15,
     "'protected-characteristics-need-context'"),
    ('rule "r" when flight.route != "LHR-JFK"\n and traveller.age < 25 then flag severity low', 2, 6,
     "'protected-characteristics-need-context'"),
    # The issuing state mostly is the nationality: it does not make nationality acceptable.
    ('rule "r" when traveller.nationality = "IRL" and document.issuing_country = "IRL" then flag severity low',
     1, 15, "'protected-characteristics-need-context'"),
    # `not (A and B)` is `not A or not B`: the AND does not hold beside the nationality.
    ('rule "r" when not (traveller.nationality = "IRL" and flight.route = "LHR-JFK") then flag severity low',
     1, 20, "'protected-characteristics-need-context'"),
])
def test_the_default_policy_refuses_unlawful_criteria_at_their_place(text: str, line: int, col: int,
                                                                     words: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rules(text, policy=POLICY)
    assert (err.value.line, err.value.col) == (line, col)
    assert words in str(err.value)


@pytest.mark.parametrize("condition", [
    'traveller.nationality = "IRL" and flight.route = "LHR-JFK"',
    'flight.via_countries has "DEU" and traveller.age between 18 and 25 and traveller.gender = "M"',
    '(traveller.nationality in ["IRL", "GBR"] or traveller.age < 20) and document.expires_days < 30',
    'traveller.nationality = "IRL" and (flight.route = "LHR-JFK" or flight.arrival_country = "USA")',
    'document.type = "P" and not traveller.nationality = "IRL"',
    'traveller.crew = true and flight.transit = true',
])
def test_the_default_policy_accepts_restricted_attributes_in_the_allowed_combination(condition: str) -> None:
    rules = parse_rules(f'rule "r" when {condition} then flag severity low', policy=POLICY)
    POLICY.check(rules)  # rules parsed earlier (e.g. stored) are checked the same way
    assert rules.rules[0].name == "r"


PROFILED = '''
[[rules]]
name = "context"
reason = "narrow only"
attributes = ["traveller.nationality"]
only_with_any = ["flight.*", "document.*"]

[[profiles.strict.rules]]
name = "context"
reason = "route only"
attributes = ["traveller.nationality"]
only_with_any = ["flight.route"]

[[profiles.strict.rules]]
name = "no-gender"
reason = "not used here"
forbid = ["traveller.gender"]
'''


def test_a_profile_overrides_the_default_policy_rules_by_name(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(PROFILED, encoding="utf-8")
    policy = load_rule_policy(path)
    by_document = 'rule "r" when traveller.nationality = "IRL" and document.type = "P" then flag severity low'
    assert parse_rules(by_document, policy=policy).rules
    assert parse_rules(by_document, policy=policy, profile="other-country").rules  # no table: the default
    with pytest.raises(RuleError, match=r"only together with a flight\.route condition"):
        parse_rules(by_document, policy=policy, profile="strict")
    gender = 'rule "g" when traveller.gender = "F" then flag severity low'
    assert parse_rules(gender, policy=policy).rules
    rules = parse_rules(gender)
    with pytest.raises(RuleError, match="forbidden by policy rule 'no-gender'") as err:
        policy.check(rules, "strict")
    assert (err.value.line, err.value.col) == (1, 15)


@pytest.mark.parametrize(("text", "words"), [
    ('[[rules]]\nname = "x"\nreason = "y"\n', "either forbid"),
    ('[[rules]]\nname = "x"\nreason = "y"\nforbid = ["Traveller Religion"]\n', "not an attribute name"),
    ('[[rules]]\nname = "x"\nforbid = ["traveller.religion"]\n', "needs a name and a reason"),
    ('[[rules]]\nname = "x"\nreason = "y"\nattributes = ["traveller.age"]\n', "only_with_any"),
    ('[rule]\nname = "x"\n', "unknown top-level keys"),
    ('rules = [', "policy.toml"),
])
def test_a_broken_policy_file_is_refused(text: str, words: str) -> None:
    with pytest.raises(RulePolicyError, match=words):
        parse_rule_policy(text, "policy.toml")


# --- what PAXLST fills -------------------------------------------------------------------------------


def test_paxlst_fills_journey_document_and_traveller_attributes() -> None:
    text = (DIRECT.replace("ATT+2++F'\nDTM+329:850412'\nGEI+4+173'",
                           "ATT+2++F'\nDTM+329:850412'\nMEA+CT++:2'\nGEI+4+174'")
            .replace("GEI+4+173'\nLOC+178+LHR'\nLOC+179+JFK'\nNAT+2+GBR'",
                     "GEI+4+173'\nFTX+BAG+++XX123456:3'\nLOC+178+LHR'\nLOC+179+JFK'\nNAT+2+GBR'")
            .replace("UNT+38+1'", "UNT+40+1'"))
    mary, john = manifest_rule_attributes(_manifest(text))
    assert mary["flight.route"] == "LHR-JFK" and mary["flight.legs"] == frozenset({"LHR-JFK"})
    assert (mary["flight.departure_country"], mary["flight.arrival_country"]) == ("GBR", "USA")
    assert mary["flight.via_airports"] == frozenset() and mary["flight.transit"] is False
    assert (mary["traveller.nationality"], mary["traveller.gender"], mary["traveller.age"]) == ("IRL", "F", 39.9)
    assert (mary["document.type"], mary["document.issuing_country"]) == ("P", "IRL")
    assert mary["document.expires_days"] == float((date(2030, 1, 1) - date(2025, 3, 1)).days)
    assert mary["traveller.crew"] is False and mary["traveller.type"] == "passenger"
    assert (mary["traveller.party_size"], mary["traveller.travelling_alone"]) == (1.0, True)
    assert (mary["traveller.bag_count"], mary["traveller.verified"]) == (2.0, False)
    assert (john["traveller.bag_count"], john["traveller.verified"]) == (3.0, True)


def test_crew_lists_mark_crew() -> None:
    crew = read_interchange((EXAMPLES / "xx123_crew.edi").read_bytes()).manifests[0]
    attrs = manifest_rule_attributes(crew)
    assert attrs and all(a["traveller.crew"] is True for a in attrs)


def test_travellers_sharing_a_booking_reference_form_a_party() -> None:
    shared = DIRECT.replace("RFF+AVF:ABC124'", "RFF+AVF:ABC123'")
    attrs = manifest_rule_attributes(_manifest(shared))
    assert [(a["traveller.party_size"], a["traveller.travelling_alone"]) for a in attrs] == [(2.0, False)] * 2


@pytest.mark.parametrize("text", [TWO_TDT, CHAIN_92], ids=["two-tdt-legs", "loc-92-chain"])
def test_a_multi_leg_journey_has_its_legs_via_points_and_transit(text: str) -> None:
    attrs = manifest_rule_attributes(_manifest(text))[0]
    assert attrs["flight.route"] == "LHR-JFK"
    assert attrs["flight.legs"] == frozenset({"LHR-FRA", "FRA-JFK"})
    assert attrs["flight.via_airports"] == frozenset({"FRA"})
    assert attrs["flight.via_countries"] == frozenset({"DEU"})
    assert attrs["flight.transit"] is True


TRANSIT_RULES = '''
rule "via-germany" when flight.transit = true and flight.via_countries has "DEU"
    and traveller.age < 45 then flag severity medium
rule "second-leg" when flight.legs has "FRA-JFK" then flag severity low
'''


def test_a_transit_rule_fires_on_the_multi_leg_manifest_only_and_explains_itself() -> None:
    rules = parse_rules(TRANSIT_RULES, policy=POLICY)
    direct = [rules.evaluate(a) for a in manifest_rule_attributes(_manifest(DIRECT))]
    multi = [rules.evaluate(a) for a in manifest_rule_attributes(_manifest(TWO_TDT))]
    assert direct == [[], []]
    assert [[h.rule for h in hits] for hits in multi] == [["via-germany", "second-leg"], ["second-leg"]]
    assert [e.detail for e in multi[0][0].explanation] == [
        "flight.transit = true (yes: True)",
        "flight.via_countries has \"DEU\" (yes: ['DEU'])",
        "traveller.age < 45 (yes: 39.9)",
    ]


def test_an_explanation_says_which_comparisons_were_met() -> None:
    """An officer reads why a rule fired: the losing branch of an `or` is shown, marked not met."""
    rules = parse_rules('rule "r" when flight.arrival_airport = "JFK" and '
                        '(document.expires_days < 30 or document.issued_days < 10) then flag severity low')
    [hit] = rules.evaluate({"flight.arrival_airport": "JFK", "document.expires_days": 400.0,
                            "document.issued_days": 3.0})
    assert [(f.outcome, f.detail.split(" (")[0]) for f in hit.explanation] == [
        ("met", 'flight.arrival_airport = "JFK"'), ("not met", "document.expires_days < 30"),
        ("met", "document.issued_days < 10")]
