"""`api-engine conformance check/generate/profiles` as a user runs them: verdicts, exit codes, report files.

Strategy: the corpus verdicts are read from ../shared/corpus/paxlst/SOURCES.md (as tests/test_corpus.py
does for `parse`), so the certification verdict of every real file follows that table.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from api_engine.cli import main
from tests.corpus_table import CORPUS, corpus_rows, stated_travellers

ROWS = corpus_rows()


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def corpus_reports() -> dict[str, dict[str, dict[str, Any]]]:
    """One `check --json` over the whole corpus directory per profile: file name -> case."""
    out = {}
    for profile in ("baseline", "cn-iapi"):
        status, text, _ = cli("conformance", "check", "--json", "--profile", profile, str(CORPUS))
        doc = json.loads(text)
        assert status == 1 and doc["verdict"] == "FAIL"
        out[profile] = {Path(c["name"]).name: c for c in doc["cases"]}
    return out


def test_the_directory_check_reports_every_message_and_no_notes(corpus_reports: Any) -> None:
    assert set(corpus_reports["baseline"]) == {r["file"] for r in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["id"])
def test_corpus_verdicts_follow_sources_md(row: dict[str, str], corpus_reports: Any) -> None:
    base = corpus_reports["baseline"][row["file"]]
    cn = corpus_reports["cn-iapi"][row["file"]]
    expected = row["expected"]
    stated = stated_travellers(row["what"])
    if expected == "VALID":
        assert base["verdict"] == "PASS", base["lines"]
    elif expected.startswith("VALID*"):
        assert base["verdict"] == "FAIL"
        assert {ln["rule"] for ln in base["lines"] if ln["severity"] == "error"} == {"SYN-CHARSET-UNKNOWN"}
        assert cn["verdict"] == "PASS", cn["lines"]
    elif "fragment" in expected:
        assert base["verdict"] == "FAIL"
        assert "ENV-UNB-MISSING-ENVELOPE" in {ln["rule"] for ln in base["lines"] if ln["severity"] == "error"}
        assert stated and base["details"]["travellers"] == stated
    else:
        assert expected.startswith("INVALID")
        assert base["verdict"] == "FAIL" and cn["verdict"] == "FAIL"


def test_each_finding_carries_reference_position_text_and_fix(corpus_reports: Any) -> None:
    p01 = next(r for r in ROWS if r["id"] == "P01")
    lines = corpus_reports["baseline"][p01["file"]]["lines"]
    unt = next(ln for ln in lines if ln["rule"] == "ENV-UNT-COUNT")
    assert unt["reference"].startswith("ISO 9735") and unt["hint"] and unt["position"]
    assert unt["text"]  # the count as sent: shown on purpose, this is certification on sample data
    assert unt["contrl"] == 29


def test_junit_and_html_reports_are_written(tmp_path: Path) -> None:
    junit, page = tmp_path / "r.xml", tmp_path / "r.html"
    p01 = next(r for r in ROWS if r["id"] == "P01")
    p03 = next(r for r in ROWS if r["id"] == "P03")
    status, text, _ = cli("conformance", "check", "--junit", str(junit), "--html", str(page),
                          str(CORPUS / p01["file"]), str(CORPUS / p03["file"]))
    assert status == 1 and "FAIL" in text and "ENV-UNT-COUNT" in text
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {Path(tc.get("name", "")).name: tc for tc in suite.iter("testcase")}
    failure = cases[p01["file"]].find("failure")
    assert failure is not None and "ENV-UNT-COUNT" in (failure.text or "")
    assert cases[p03["file"]].find("failure") is None
    html = page.read_text(encoding="utf-8")
    assert "ENV-UNT-COUNT" in html and "<script" not in html and "http" not in html.split("</style>")[0]


def test_exit_status_pass_and_usage(tmp_path: Path) -> None:
    p03 = next(r for r in ROWS if r["id"] == "P03")
    assert cli("conformance", "check", str(CORPUS / p03["file"]))[0] == 0
    assert cli("conformance", "check", str(tmp_path / "nope.edi"))[0] == 2
    assert cli("conformance", "check", "--profile", "atlantis", str(CORPUS / p03["file"]))[0] == 2
    with pytest.raises(SystemExit) as exc:
        cli("conformance", "check", "--no-such-option")
    assert exc.value.code == 2


def test_suite_offline_check_passes() -> None:
    status, text, _ = cli("conformance", "check", "--json", "--suite", "baseline-2", "--profile", "us")
    doc = json.loads(text)
    assert status == 0 and doc["counts"]["passed"] == 1 and doc["counts"]["skipped"] == doc["counts"]["total"] - 1


def test_generate_plants_hits_and_defects_that_check_reports(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    status, text, _ = cli("conformance", "generate", "--profile", "baseline", "--flights", "3", "--seed", "5",
                          "--plant-hits", "2", "--defects", "bad-unt-count,missing-final-part", "--out", str(out))
    assert status == 0, text
    index = json.loads((out / "index.json").read_text())
    assert [h["entry_id"] for h in index["planted_hits"]] == ["TWL-0001", "TWL-0002"]
    flight1 = [f for f in index["files"] if f["file"].startswith("flight001")]
    flight2 = [f for f in index["files"] if f["file"].startswith("flight002")]
    assert flight1[0]["defect"] == "bad-unt-count" and len(flight1) > 1  # split into parts
    assert not any(f["final"] for f in flight2)  # its final part was never written
    _, text, _ = cli("conformance", "check", "--json", str(out))
    cases = {Path(c["name"]).name: c for c in json.loads(text)["cases"]}
    assert "ENV-UNT-COUNT" in {ln["rule"] for ln in cases[flight1[0]["file"]]["lines"]}
    assert "ASM-FINAL-MISSING" in {ln["rule"] for ln in cases[flight2[0]["file"]]["lines"]}
    flight3 = [c for n, c in cases.items() if n.startswith("flight003")]
    assert flight3 and all(c["verdict"] == "PASS" for c in flight3)
    assert cli("conformance", "generate", "--flights", "1", "--defects", "nonsense", "--out", str(out))[0] == 2


def test_profiles_list_and_validate(tmp_path: Path) -> None:
    status, text, _ = cli("conformance", "profiles", "--json")
    listed = {p["name"]: p for p in json.loads(text)}
    assert status == 0 and {"baseline", "us", "uk", "cn-iapi"} <= set(listed)
    assert listed["us"]["country"] == "USA"
    good = tmp_path / "my.toml"
    good.write_text('extends = "baseline"\nname = "my"\ndescription = "team profile"\n[required]\n'
                    'doc_expiry = "error"\n', encoding="utf-8")
    assert cli("conformance", "profiles", "--validate", str(good))[0] == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "baseline"\nname = "bad"\n\n[severity]\n"NO-SUCH-RULE" = "error"\n', encoding="utf-8")
    status, _, err = cli("conformance", "profiles", "--validate", str(bad))
    assert status == 1 and f"{bad}:5:" in err and "NO-SUCH-RULE" in err
