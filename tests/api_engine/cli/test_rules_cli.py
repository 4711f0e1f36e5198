"""`api-engine rules` and `api-engine ingest` with API_ENGINE_RULES, through the real command line.

Strategy: `cli.main` as an operator runs it, on both databases, with real console accounts: what is printed,
the exit status, and the rule alert `ingest` writes to border.alerts.jsonl.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from api_engine.cli import main
from api_engine.console.users import add_user
from api_engine.store import Store

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "xx123_lhr-jfk_passengers.edi"
RULE = 'rule "irish-to-jfk" when traveller.nationality = "IRL" and flight.arrival_airport = "JFK" ' \
       'then flag severity high score 0.8\n'


async def _accounts(url: str) -> None:
    store = await Store.open(url)
    try:
        for name, role in (("alice", "supervisor"), ("carol", "supervisor")):
            await add_user(store, name, role, "correct horse battery staple 42")
    finally:
        await store.close()


def test_check_names_the_file_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text('# comment\nrule "x" when traveller.nationality = "IRL"\n  and then flag severity low\n',
                   encoding="utf-8")
    assert main(["rules", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:3:")  # FILE:line:col: message, as editors read it
    assert "syntax error" in err

    unknown = tmp_path / "unknown.rules"
    unknown.write_text('rule "x" when traveller.shoe_size > 44 then flag severity low\n', encoding="utf-8")
    assert main(["rules", "check", str(unknown), "--input", "paxlst"]) == 1
    assert capsys.readouterr().err.startswith(f"{unknown}:1:15: ")

    # PAXLST carries no booking data: a rule on it would never fire, so it is refused where it is written
    unfillable = tmp_path / "booking.rules"
    unfillable.write_text('rule "cash" when flight.arrival_airport = "JFK"\n  and booking.paid_cash = true '
                          'then flag severity low\n', encoding="utf-8")
    assert main(["rules", "check", str(unfillable)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{unfillable}:2:7: ") and "booking.paid_cash" in err

    # the lawful-criteria policy: nationality alone is not a targeting criterion (CJEU C-817/19)
    alone = tmp_path / "nationality.rules"
    alone.write_text('rule "irish" when traveller.nationality = "IRL" then flag severity high\n', encoding="utf-8")
    assert main(["rules", "check", str(alone)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{alone}:1:19: ") and "policy" in err

    good = tmp_path / "good.rules"
    good.write_text(RULE, encoding="utf-8")
    assert main(["rules", "check", str(good)]) == 0
    assert "1 rule(s), no errors" in capsys.readouterr().out


async def test_propose_activate_diff_list_retire(database_url: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    await _accounts(database_url)
    store = ["--database-url", database_url, "--data-dir", str(tmp_path / "data")]
    rules = tmp_path / "atlantic.rules"
    rules.write_text(RULE, encoding="utf-8")
    meta = ["--name", "atlantic", "--owner", "targeting unit", "--purpose", "test", "--legal-basis", "Art. 6"]

    def run(*argv: str) -> int:
        return main([*argv, *store])

    bad = tmp_path / "bad.rules"
    bad.write_text('rule "x" when\n', encoding="utf-8")
    assert await asyncio.to_thread(run, "rules", "propose", str(bad), *meta, "--by", "alice") == 1
    assert capsys.readouterr().err.startswith(f"{bad}:2:1: ")

    assert await asyncio.to_thread(run, "rules", "propose", str(rules), *meta, "--by", "alice") == 0
    assert "proposed atlantic v1 (id 1): pending" in capsys.readouterr().out
    assert await asyncio.to_thread(run, "rules", "activate", "1", "--by", "alice") == 1  # his own rule
    assert "another supervisor must approve it" in capsys.readouterr().err
    assert await asyncio.to_thread(run, "rules", "activate", "1", "--by", "carol") == 0
    assert "atlantic v1 (id 1) is active" in capsys.readouterr().out

    rules.write_text(RULE.replace("high", "medium"), encoding="utf-8")
    assert await asyncio.to_thread(run, "rules", "propose", str(rules), *meta, "--by", "carol") == 0
    capsys.readouterr()
    assert await asyncio.to_thread(run, "rules", "diff", "2") == 0
    diff = capsys.readouterr().out
    assert "-rule \"irish-to-jfk\"" in diff and "severity medium score 0.8" in diff
    assert await asyncio.to_thread(run, "rules", "reject", "2", "--by", "alice") == 0
    assert await asyncio.to_thread(run, "rules", "retire", "atlantic", "--by", "alice") == 0
    capsys.readouterr()
    assert await asyncio.to_thread(run, "rules", "list", "--json") == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(v["version"], v["status"], v["proposed_by"], v["approved_by"]) for v in listed] == \
        [(1, "retired", "alice", "carol"), (2, "rejected", "carol", None)]
    assert all("text" not in v for v in listed)


async def test_ingest_with_configured_rules_writes_the_rule_alert(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "atlantic.rules"
    rules.write_text(RULE, encoding="utf-8")
    monkeypatch.setenv("API_ENGINE_RULES", str(rules))
    out = tmp_path / "out"
    status = await asyncio.to_thread(main, ["ingest", str(EXAMPLE), "--out", str(out), "--data-dir",
                                            str(tmp_path / "data"), "--database-url", database_url])
    assert status == 0
    [alert] = [json.loads(line) for line in (out / "border.alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert alert["watchlist"] == {"list": "rules:atlantic", "entry_id": "irish-to-jfk", "category": "rule",
                                  "matched_name": None}
    assert alert["identity"]["nationality"] == "IRL" and alert["score"] == 0.8
    assert [f["detail"] for f in alert["explanation"]] == ["traveller.nationality = \"IRL\" (yes: 'IRL')",
                                                          "flight.arrival_airport = \"JFK\" (yes: 'JFK')"]


def test_ingest_refuses_a_configured_rule_file_that_does_not_parse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "broken.rules"
    rules.write_text('rule "x" when traveller.nationality =\n', encoding="utf-8")
    monkeypatch.setenv("API_ENGINE_RULES", str(rules))
    assert main(["ingest", str(EXAMPLE), "--data-dir", str(tmp_path / "data")]) == 2
    assert f"RuleFileError: {rules}:1:" in capsys.readouterr().err
