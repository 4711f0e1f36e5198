"""The shipped suite stays true to the code: every case, under every profile it names, evaluates offline
exactly as its case.toml says; the suite covers what issue 6 promises; a released suite never changes.

Strategy: the expectations are derived by conformance/build_suite.py from each case's declarations,
the rule catalogue's CONTRL codes and the generated material (never from the evaluator); here
they are re-evaluated with the current parsers, so a change of behaviour shows up as a named case
and field, not as a silent drift of the certification suite. The released `baseline-1` is pinned by
a digest of its files; `baseline-2`, the suite built now, differs from it only where the duplicate
rule changed (case 097) and in the cases it added (098: a true duplicate; 099: the findings bound).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conformance.build_suite import SUITE_NAME, coverage
from conformance.suite import DEFAULT_SUITE, SUITE_DIR, check_case_offline, list_suites, load_suite
from parsers.profile import load_profile
from parsers.rules import RULES

SUITE = load_suite(SUITE_NAME)
# sha256 over (relative path, sha256 of the bytes) of every file of the released suite baseline-1
BASELINE_1_DIGEST = "45dc19b2e2bd0118275edbc117a54ac38ebebd7caa0e05ec7803a0c9b0e68a1e"
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "paxlst"
PAIRS = [(c, p) for c in SUITE.cases for p in c.expect]


@pytest.mark.parametrize(("case", "profile"), PAIRS, ids=[f"{c.id}[{p}]" for c, p in PAIRS])
def test_case_evaluates_as_recorded(case: object, profile: str) -> None:
    _, mismatches = check_case_offline(case, profile)  # type: ignore[arg-type]
    assert not mismatches, "\n".join(str(m) for m in mismatches)


def test_every_baseline_rule_a_message_can_trigger_has_a_case() -> None:
    sev = load_profile("baseline").severities()
    # Not triggerable by a message under baseline: CONTRL-only, and the flight window baseline leaves off.
    not_by_message = {"FMT-NOT-CONTRL", "DAT-FLIGHT-WINDOW"}
    missing = [r for r, cases in coverage(SUITE.directory).items()
               if not cases and sev.get(r) is not None and r not in not_by_message]
    assert missing == []


def test_every_contrl_code_of_the_syntax_layer_has_a_case() -> None:
    codes = {r.contrl for r in RULES.values() if r.layer in ("L0", "L1") and r.contrl}
    in_contrl = {c for case in SUITE.cases for e in case.expect.values() for c in e.contrl}
    in_findings = {RULES[r].contrl for case in SUITE.cases for e in case.expect.values() for r in e.errors}
    # 22 (SYN-RELEASE) is raised as a finding but the CONTRL's UCI carries only the first interchange
    # error (13, input truncated), so it reaches the carrier only through the finding.
    assert codes - in_contrl == {22}
    assert 22 in in_findings
    # 26, from a live system: a duplicate (the same bytes) is rejected with it; a reference reused with
    # other content is accepted with it noted, and flagged on its manifests
    assert any(e.duplicates for case in SUITE.cases for e in case.expect.values())
    assert any(26 in e.contrl and all(e.accepted) and "ENV-REF-REUSED" in e.warnings
               for case in SUITE.cases for e in case.expect.values())


def test_the_suite_covers_the_promised_scenarios() -> None:
    tags = {t for c in SUITE.cases for t in c.tags}
    assert {"multipart", "crew", "close-out", "cusres", "national", "screening"} <= tags
    ids = {c.id.split("-", 1)[1] for c in SUITE.cases}
    assert {"multipart-in-order", "multipart-out-of-order", "multipart-missing-final", "flight-close-out",
            "cusres-response", "watchlist-hits", "national-sire-syntax-id", "reused-interchange-reference",
            "duplicate-interchange"} <= ids
    national = {p for c in SUITE.cases for p in c.expect} - {"baseline"}
    assert national == {"cn-iapi", "us", "uk"}


def test_the_suite_ships_no_third_party_corpus_file() -> None:
    corpus = {hashlib.sha256(p.read_bytes()).hexdigest() for p in CORPUS.glob("*.edi")}
    shipped = {hashlib.sha256(p.read_bytes()).hexdigest() for p in SUITE_DIR.rglob("*.edi")}
    assert corpus and not corpus & shipped


def test_rebuilding_gives_the_committed_suite(tmp_path: Path) -> None:
    from conformance.build_suite import build

    build(tmp_path / SUITE_NAME)
    committed = sorted(f.relative_to(SUITE.directory) for f in SUITE.directory.rglob("*") if f.is_file())
    fresh = sorted(f.relative_to(tmp_path / SUITE_NAME) for f in (tmp_path / SUITE_NAME).rglob("*") if f.is_file())
    assert fresh == committed
    for rel in committed:
        rebuilt = tmp_path / SUITE_NAME / rel
        assert rebuilt.read_bytes() == (SUITE.directory / rel).read_bytes(), f"{rel} differs from a fresh build"


def _digest(directory: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in directory.rglob("*") if p.is_file()):
        h.update(f.relative_to(directory).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def test_the_newest_suite_is_built_and_the_default() -> None:
    assert {"baseline-1", SUITE_NAME} <= set(list_suites())
    assert SUITE_NAME == DEFAULT_SUITE == list_suites()[-1]


def test_a_released_suite_never_changes() -> None:
    assert _digest(SUITE_DIR / "baseline-1") == BASELINE_1_DIGEST


def test_baseline_2_differs_from_baseline_1_only_by_the_duplicate_rule_and_the_findings_bound() -> None:
    old, new = load_suite("baseline-1"), SUITE
    kept = [c.id for c in old.cases if c.id != "097-duplicate-interchange"]
    assert [c.id for c in new.cases] == [*kept, "097-reused-interchange-reference", "098-duplicate-interchange",
                                         "099-findings-bound"]
    for cid in kept:
        assert _digest(old.case(cid).directory) == _digest(new.case(cid).directory), cid
    # The same two inputs (one sender and reference, one minute apart), under a new expectation: baseline-1
    # dropped the second as a duplicate, which the current rule forbids (a decoy sent first would make the
    # real list vanish); now it is processed and flagged.
    was, now = old.case("097-duplicate-interchange"), new.case("097-reused-interchange-reference")
    assert was.input_bytes() == now.input_bytes()
    _, mismatches = check_case_offline(was, "baseline")
    assert {m.check for m in mismatches} == {"contrl", "accepted", "duplicates", "travellers", "manifests",
                                             "announced_travellers"}
    e = now.expect["baseline"]
    assert (e.duplicates, e.accepted, e.contrl, e.manifests) == ((), (True, True), {26}, 2)
    assert "ENV-REF-REUSED" in e.warnings
    same = new.case("098-duplicate-interchange")
    assert len({b for _, b in same.input_bytes()}) == 1 and same.expect["baseline"].duplicates == (1,)
