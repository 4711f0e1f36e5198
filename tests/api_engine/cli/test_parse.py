"""`api-engine parse` as a user runs it: exit status, output formats, standard input, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
CLI = Path(sys.executable).parent / "api-engine"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], input=stdin.decode() if stdin else None, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_examples_read_cleanly_and_multipart_flights_are_assembled() -> None:
    res = run("parse", "--json", str(EXAMPLES))
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    by_flight = {m["legs"][0]["flight_id"] + "/" + m["document_code"]: m for m in doc["manifests"]}
    assert set(by_flight) == {"XX123/745", "XX123/250", "XX456/745"}
    xx456 = by_flight["XX456/745"]
    assert xx456["parts"] == [1, 2] and xx456["complete"]
    assert len(xx456["travellers"]) == 3 == xx456["totals"]["passengers"]
    obrien = by_flight["XX123/745"]["travellers"][0]
    assert obrien["surname"] == "O'BRIEN" and obrien["given_names"] == ["MARY", "ANN"]
    assert obrien["full_name"] == "MARY ANN O'BRIEN"
    assert obrien["date_of_birth"] == "1985-04-12"
    assert obrien["documents"][0]["expiry"] == "2030-01-01"
    leg = by_flight["XX123/745"]["legs"][0]
    assert leg["departure_local"] == "2025-03-01T10:30:00"
    assert leg["departure_utc"] == "2025-03-01T10:30:00Z" or leg["departure_utc"].startswith("2025-03-01T10:30")
    assert leg["arrival_utc"].startswith("2025-03-01T20:30")  # 15:30 in New York is 20:30 UTC
    crew = by_flight["XX123/250"]["travellers"][0]
    assert crew["role"] == "crew" and crew["crew_function"] == "CR1"


def test_an_invalid_message_exits_1_and_names_its_problems() -> None:
    res = run("parse", "--json", str(EXAMPLES / "invalid" / "xx789_bad_unt_count.edi"))
    assert res.returncode == 1
    findings = json.loads(res.stdout)["findings"]
    by_rule = {f["rule"]: f for f in findings}
    assert by_rule["ENV-UNT-COUNT"]["contrl_error"] == 29
    assert by_rule["ENV-UNT-COUNT"]["segment_position"] == 17
    assert by_rule["DAT-DATE"]["segment_tag"] == "DTM"
    # Personal data stays out of messages: the traveller's name and birth date are nowhere in them.
    text = " ".join(f["message"] for f in findings)
    assert "PAPADOPOULOS" not in text and "990230" not in text


def test_table_output_is_the_default_and_summary_prints_counts() -> None:
    res = run("parse", str(EXAMPLES / "xx123_lhr-jfk_passengers.edi"))
    assert res.returncode == 0
    assert "XX123" in res.stdout and "LHR-JFK" in res.stdout
    res = run("parse", "--summary", str(EXAMPLES / "xx123_lhr-jfk_passengers.edi"))
    assert res.stdout.strip() == ("files=1 manifests=1 travellers=2 responses=0 errors=0 warnings=0 info=0")


def test_standard_input_is_read_with_a_dash() -> None:
    data = (EXAMPLES / "xx123_crew.edi").read_bytes()
    res = run("parse", "--summary", "-", stdin=data)
    assert res.returncode == 0
    assert "travellers=1" in res.stdout


@pytest.mark.parametrize("args", [
    ["parse", "no/such/file.edi"],
    ["parse", "--profile", "atlantis", str(EXAMPLES / "xx123_crew.edi")],
    ["parse", "--json", "--summary", str(EXAMPLES / "xx123_crew.edi")],
    ["parse"],
    ["frobnicate"],
])
def test_usage_problems_exit_2_with_a_message(args: list[str]) -> None:
    res = run(*args)
    assert res.returncode == 2
    assert res.stderr.strip()
