"""The suite's expectations are declared, not recorded, so the kit catches the project's code being wrong.

Strategy: every case's expectation is derived from its declaration (error rule ids, the rule
catalogue's CONTRL codes and layers, the generator's manifests); these tests show that derivation
alone gives the committed suite, without running the evaluator, and that an evaluator departing
from it (a wrong rule-to-CONTRL mapping, a wrong profile) fails the build with the case, profile
and field named, while the files written still hold the declared expectation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import conformance.build_suite as bs
import parsers.contrl
from conformance.build_suite import BuildError, Declared, Spec, declared_suite, departures, expectation, parts_of
from conformance.evaluate import evaluate
from conformance.suite import SUITE_DIR, evaluate_case, load_suite
from parsers.profile import load_profile
from parsers.rules import RULES

COMMITTED = SUITE_DIR / bs.SUITE_NAME


@pytest.fixture(scope="module")
def declared() -> dict[str, Declared]:
    return {d.id: d for d in declared_suite()}


def _inputs(d: Declared) -> list[tuple[str, bytes]]:
    return [(n, s.data) for n, s in zip(d.names, d.inputs, strict=True)]


def test_the_declarations_alone_give_the_committed_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_evaluation(*_: object, **__: object) -> None:
        raise AssertionError("the expectation must not come from an evaluation")

    monkeypatch.setattr(bs, "evaluate", no_evaluation)
    monkeypatch.setattr(bs, "expectation_of", no_evaluation)
    cases = declared_suite()
    assert [d.id for d in cases] == sorted(p.name for p in COMMITTED.iterdir() if p.is_dir())
    for d in cases:
        directory = COMMITTED / d.id
        assert d.case_toml() == (directory / "case.toml").read_text(encoding="utf-8"), d.id
        assert [s.data for s in d.inputs] == [(directory / n).read_bytes() for n in d.names], d.id


def test_a_wrong_contrl_code_for_a_rule_is_reported(declared: dict[str, Declared],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    case = declared["065-cod-gender"]
    monkeypatch.setitem(RULES, "COD-GENDER", dataclasses.replace(RULES["COD-GENDER"], contrl=37))
    ev = evaluate(_inputs(case), load_profile("baseline"))
    assert departures(case.id, case.expect["baseline"], ev) == [
        "065-cod-gender [baseline]: contrl: expected [12], got [37]"]


def test_a_wrong_profile_is_reported(declared: dict[str, Declared], tmp_path: Path) -> None:
    wrong = tmp_path / "expiry-an-error.toml"
    wrong.write_text('extends = "baseline"\nname = "expiry-an-error"\n[required]\ndoc_expiry = "error"\n',
                     encoding="utf-8")
    case = load_suite(bs.SUITE_NAME).case("078-req-doc-expiry")
    problems = departures(case.id, declared[case.id].expect["baseline"],
                          evaluate_case(case, "baseline", profile_override=wrong))
    assert problems == [
        "078-req-doc-expiry [baseline]: verdict: expected pass, got fail",
        "078-req-doc-expiry [baseline]: errors: expected [], got [REQ-DOC-EXPIRY]",
        "078-req-doc-expiry [baseline]: contrl: expected [], got [13]",
        "078-req-doc-expiry [baseline]: accepted: expected [True], got [False]",
        "078-req-doc-expiry [baseline]: warnings: expected at least [REQ-DOC-EXPIRY], got missing [REQ-DOC-EXPIRY]",
    ]


def test_the_build_fails_on_wrong_code_and_still_writes_the_declared_expectation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # A CONTRL writer answering an error without a catalogue code with 99 instead of 18 (unspecified)
    monkeypatch.setattr(parsers.contrl, "UNSPECIFIED", 99)
    out = tmp_path / bs.SUITE_NAME
    assert bs.main(["--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("0")] == [
        "088-cnt-passengers [baseline]: contrl: expected [18], got [99]",
        "089-cnt-crew [baseline]: contrl: expected [18], got [99]"]
    case = "088-cnt-passengers/case.toml"
    assert (out / case).read_text(encoding="utf-8") == (COMMITTED / case).read_text(encoding="utf-8")


def test_a_case_of_several_inputs_with_errors_must_say_which_input_has_them() -> None:
    spec = Spec("two-parts", "an error in one of two parts", lambda: parts_of(101, 6, 3),
                {"baseline": {"ENV-UNT-COUNT"}})
    with pytest.raises(BuildError, match="declare which inputs are accepted"):
        expectation(spec, spec.inputs(), "baseline")
    declared_per_input = dataclasses.replace(spec, accepted={"baseline": (False, True)},
                                             dead_letters={"baseline": (0,)})
    e = expectation(declared_per_input, declared_per_input.inputs(), "baseline")
    assert (e.accepted, e.dead_letters, e.contrl, e.travellers, e.manifests, e.complete) == (
        (False, True), (0,), frozenset({29}), 6, 0, False)


def test_repeated_bytes_must_be_declared_a_duplicate() -> None:
    spec = Spec("again", "the same bytes twice", lambda: parts_of(101, 3, 3) * 2, {"baseline": set()})
    with pytest.raises(BuildError, match=r"inputs \[1\] repeat earlier bytes"):
        expectation(spec, spec.inputs(), "baseline")
    e = expectation(dataclasses.replace(spec, duplicates=(1,)), spec.inputs(), "baseline")
    assert (e.duplicates, e.accepted, e.travellers, e.manifests) == ((1,), (True,), 3, 1)
