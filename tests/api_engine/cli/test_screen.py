"""`api-engine screen` through `run()`: exit codes and JSON lines."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from api_engine import cli
from api_engine.cli import screen as screen_cli

LIST = ("id,list,category,full_name,surname,given_names,aliases,date_of_birth,nationality,gender,"
        "document_number,document_type,document_country\n"
        "N1,NATIONAL,individual,Viktor Borisovich KRASNOV,,,,1968,RUS,M,,,\n"
        "D1,LOST,document,,,,,,,,X9988776,P,FRA\n")


def args_for(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    screen_cli.add_parser(sub)
    return parser.parse_args(["screen", *argv])


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    wl = tmp_path / "national.csv"
    wl.write_text(LIST, encoding="utf-8")
    travellers = tmp_path / "travellers.jsonl"
    travellers.write_text("\n".join(json.dumps(t) for t in [
        {"id": "p1", "surname": "Krasnov", "given_names": "Viktor", "date_of_birth": "1968-04-02", "nationality": "RU"},
        {"id": "p2", "full_name": "Anna Schmidt", "date_of_birth": "1990-01-01", "document_number": "X99BB776"},
        {"id": "p3", "full_name": "Jane Doe", "date_of_birth": "1985-02-03", "nationality": "GB"},
    ]) + "\n", encoding="utf-8")
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps({"id": "p3", "full_name": "Jane Doe"}) + "\n", encoding="utf-8")
    rules = tmp_path / "rules.txt"
    rules.write_text('rule "gb" when traveller.nationality = "GB" then flag severity low\n', encoding="utf-8")
    bad_rules = tmp_path / "bad.txt"
    bad_rules.write_text('rule "x" when\n  nope.nope = 1 then flag severity low\n', encoding="utf-8")
    return {"list": wl, "travellers": travellers, "clean": clean, "rules": rules, "bad_rules": bad_rules}


def test_json_hits_and_exit_1(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = screen_cli.run(args_for(["--watchlist", str(files["list"]), "--travellers", str(files["travellers"]),
                                    "--rules", str(files["rules"]), "--json"]))
    assert code == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    got = {(h["traveller_id"], h["entry_id"], h["list"]) for h in lines}
    assert got == {("p1", "N1", "NATIONAL"), ("p2", "D1", "LOST"), ("p3", "gb", "rules")}
    assert all({"traveller_id", "entry_id", "list", "score", "explanation"} <= set(h) for h in lines)
    p2 = next(h for h in lines if h["traveller_id"] == "p2")
    assert p2["explanation"][0]["outcome"] == "ocr_tolerant"


def test_no_hits_exit_0(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert screen_cli.run(args_for(["--watchlist", str(files["list"]), "--travellers", str(files["clean"])])) == 0
    assert capsys.readouterr().out == ""


def test_usage_problems_exit_2(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert screen_cli.run(args_for(["--watchlist", str(files["list"]), str(tmp_path / "m.edi")])) == 2
    assert "m.edi" in capsys.readouterr().err  # a manifest that does not exist is named
    assert screen_cli.run(args_for(["--watchlist", str(files["list"]), "--travellers", str(files["travellers"]),
                                    "--rules", str(files["bad_rules"])])) == 2
    assert "line 2, column 3" in capsys.readouterr().err
    assert screen_cli.run(args_for(["--travellers", str(files["travellers"])])) == 2
    missing = tmp_path / "missing.xml"
    assert screen_cli.run(args_for(["--watchlist", str(missing), "--travellers", str(files["travellers"])])) == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["screen", "--bogus"])
    assert exc.value.code == 2


EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NATIONAL_HEADER = ("id,list,category,full_name,surname,given_names,aliases,date_of_birth,nationality,gender,"
                   "document_number,document_type,document_country\n")


def test_edifact_manifests_are_screened_with_explanations_and_flight_rules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wl = tmp_path / "national.csv"
    wl.write_text(NATIONAL_HEADER + "N-1,national,individual,,OBRIEN,MARY ANNE,,1985-04-12,IRL,F,,,\n",
                  encoding="utf-8")
    rules = tmp_path / "rules.txt"
    rules.write_text('rule "young-on-route" when flight.route = "CDG-YUL" and traveller.age < 30 '
                     "then flag severity low\n", encoding="utf-8")
    manifests = sorted(str(p) for p in EXAMPLES.glob("*.edi"))
    status = cli.main(["screen", "--json", "--watchlist", str(wl), "--rules", str(rules), *manifests])
    assert status == 1
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_entry = {h["entry_id"]: h for h in hits}
    obrien = by_entry["N-1"]
    assert obrien["traveller_id"] == "XX123/2025-03-01/LHR-JFK#1"
    features = {f["feature"]: f["outcome"] for f in obrien["explanation"]}
    assert features["date_of_birth"] == "exact"
    # Only the traveller born in 2001 on the two-part CDG-YUL flight is under 30 there.
    assert [h["traveller_id"] for h in hits if h["list"] == "rules"] == ["XX456/2025-03-02/CDG-YUL#2"]


def test_manifests_without_a_listed_traveller_exit_0(tmp_path: Path) -> None:
    wl = tmp_path / "national.csv"
    wl.write_text(NATIONAL_HEADER + "N-9,national,individual,,ZYGMUNTOWICZ,BARTHOLOMEW,,1931-01-01,POL,M,,,\n",
                  encoding="utf-8")
    assert cli.main(["screen", "--watchlist", str(wl), str(EXAMPLES / "xx123_lhr-jfk_passengers.edi")]) == 0
