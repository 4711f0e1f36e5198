"""What a newcomer meets on the command line: the errors, the option positions, the README example,
the tables and the reports, as they print them. Nothing here may leave a store behind by accident."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from api_engine import cli

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
CLI = Path(sys.executable).parent / "api-engine"


@pytest.fixture(autouse=True)
def _no_store_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_ENGINE_DATA_DIR", "API_ENGINE_DATABASE_URL", "API_ENGINE_DATA_KEY", "API_ENGINE_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def test_users_add_without_a_terminal_points_to_password_stdin(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}
    data = tmp_path / "data"
    # A new session has no controlling terminal, and stdin is empty: as under cron or in CI.
    res = subprocess.run([str(CLI), "users", "add", "newcomer", "--role", "officer", "--data-dir", str(data)],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, env=env,
                         start_new_session=True)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "EOFError" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "--password-stdin" in res.stderr
    assert not data.exists()


def test_audit_takes_the_store_options_after_the_action_as_before_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "store"
    assert cli.main(["retention", "run", "--data-dir", str(data)]) == 0  # a store with one audit entry
    capsys.readouterr()
    assert cli.main(["audit", "verify", "--data-dir", str(data)]) == 0
    assert "audit trail intact: 1 entries checked" in capsys.readouterr().out
    assert cli.main(["audit", "--data-dir", str(data), "verify"]) == 0  # the old position still works
    assert "audit trail intact: 1 entries checked" in capsys.readouterr().out
    assert cli.main(["audit", "recent", "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "retention.run"
    assert cli.main(["retention", "--data-dir", str(data), "run", "--dry-run"]) == 0  # and the other way round


@pytest.mark.parametrize("argv", [["retention", "run", "--dry-run"], ["audit", "verify"], ["audit", "recent"],
                                  ["users", "list"]], ids=" ".join)
def test_a_read_only_command_on_no_store_says_so_and_creates_nothing(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # the default store is ./data
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"no store at {tmp_path / 'data' / 'api-engine.db'}" in err
    assert list(tmp_path.iterdir()) == []  # no data dir, database, key file or audit entry


def test_the_readme_screen_example_runs_and_finds_the_listed_traveller(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [ln for ln in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
             if ln.startswith(".venv/bin/api-engine screen ")]
    assert len(lines) == 1
    monkeypatch.chdir(ROOT)
    assert cli.main(shlex.split(lines[0])[1:]) == 1
    out, err = capsys.readouterr()
    assert "traveller XX123/2025-03-01/LHR-JFK#1: score 1.00" in out and "against EXAMPLE:EX-1" in out
    assert "2 travellers screened, 1 hit\n" in err


def test_the_parse_table_keeps_long_file_names_whole_and_shows_the_offending_text(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "carrier-xx-certification-sample-with-a-long-descriptive-name-bad-unt.edi"
    (tmp_path / name).write_bytes((EXAMPLES / "invalid" / "xx789_bad_unt_count.edi").read_bytes())
    assert cli.main(["parse", str(tmp_path / name)]) == 1
    rows = {ln.split("│")[2].strip(): ln for ln in capsys.readouterr().out.splitlines() if ln.count("│") == 8}
    assert set(rows) >= {"ENV-UNT-COUNT", "DAT-DATE", "DAT-DOC-EXPIRED", "CNT-PASSENGERS"}
    assert name in rows["DAT-DOC-EXPIRED"]
    assert rows["DAT-DATE"].split("│")[7].strip() == "990230"  # the text column: the value as sent


def test_screen_shows_the_list_code_and_counts_in_the_singular(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wl = tmp_path / "national.csv"
    wl.write_text("id,list,category,full_name,date_of_birth,nationality\n"
                  "N-7,NATIONAL,individual,HORTENSE VALMONDOIS,1971-06-09,FRA\n", encoding="utf-8")
    travellers = tmp_path / "travellers.jsonl"
    travellers.write_text(json.dumps({"id": "p1", "full_name": "Hortense Valmondois", "date_of_birth": "1971-06-09",
                                      "nationality": "FRA"}) + "\n", encoding="utf-8")
    assert cli.main(["screen", "--watchlist", str(wl), "--travellers", str(travellers)]) == 1
    out, err = capsys.readouterr()
    assert "nationality: match (+0.02) FR/FRA is listed" in out
    assert "1 traveller screened, 1 hit\n" in err


def test_conformance_html_says_where_it_went_with_titles_and_a_relative_profile(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "out" / "report.html"
    assert cli.main(["conformance", "check", "--html", str(report), str(EXAMPLES / "xx123_lhr-jfk_passengers.edi"),
                     str(EXAMPLES / "invalid" / "xx789_bad_unt_count.edi")]) == 1
    assert f"HTML report written to {report}" in capsys.readouterr().err
    page = report.read_text(encoding="utf-8")
    assert "<tr><td>profile_source</td><td><code>parsers/profiles/baseline.toml</code></td></tr>" in page
    assert "xx123_lhr-jfk_passengers.edi</a></td><td>1 message, 2 travellers</td>" in page
    assert "xx789_bad_unt_count.edi</a></td><td>CNT 42 says 2 passengers, the message has 1 (and 2 more errors)" \
        in page


def test_the_console_takes_the_data_dir_like_the_other_commands(tmp_path: Path) -> None:
    """`users add --data-dir D` then `console --data-dir D`: the account made there signs in, and the
    working directory gets no ./data of its own."""
    import re
    import time

    import httpx

    from tests.api_engine.console.conftest import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("API_ENGINE_")}
    data, cwd = tmp_path / "store", tmp_path / "cwd"
    cwd.mkdir()
    password = "correct horse battery staple 42"
    made = subprocess.run([str(CLI), "users", "add", "duty", "--role", "officer", "--password-stdin",
                           "--data-dir", str(data)], input=password + "\n", capture_output=True, text=True,
                          timeout=120, env=env, cwd=cwd)
    assert made.returncode == 0, made.stderr
    port = free_port()
    proc = subprocess.Popen([str(CLI), "console", "--data-dir", str(data), "--port", str(port)], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(150):
                try:
                    login = client.get("/login")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                    time.sleep(0.2)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert csrf
            signed_in = client.post("/login", data={"username": "duty", "password": password,
                                                    "csrf_token": csrf.group(1)})
            assert signed_in.status_code == 303, signed_in.text
            assert client.get("/api/alerts").status_code == 200
    finally:
        proc.terminate()
        proc.wait(20)
    assert list(cwd.iterdir()) == []
