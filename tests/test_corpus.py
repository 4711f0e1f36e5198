"""Real carrier traffic (../shared/corpus/paxlst) held to the verdicts in its SOURCES.md.

The verdicts and the stated traveller counts are read from the SOURCES.md table itself, so a
change there changes what is asserted here.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from contextlib import redirect_stdout
from typing import Any

import pytest

from api_engine.cli import main
from tests.corpus_table import CORPUS, corpus_rows, stated_travellers

# Rule ids that must name the reason of each INVALID file (from the SOURCES.md notes).
REASONS: dict[str, set[str]] = {
    "P01": {"ENV-UNT-COUNT", "ENV-UNZ-REF", "DAT-CNT", "SYN-CHARSET"},
    "P02": {"ENV-UNT-COUNT", "ENV-UNT-REF"},
    "P04": {"ENV-UNT-COUNT", "DAT-DOC-TYPE-MISSING"},
    "P05": {"ENV-UNT-COUNT"},
    "P06": {"DAT-DATE"},
    "P07": {"ENV-UNT-COUNT", "ENV-UNT-REF", "ENV-UNZ-REF", "COD-CNT"},
    "P21": {"ENV-UNT-COUNT", "ENV-UNZ-REF"},
    "P24": {"COD-DOC-TYPE", "COD-GENDER", "COD-AIRPORT"},
    "P28": {"SYN-SEPARATORS", "SYN-CHARSET-UNKNOWN"},
}


# Traveller counts of VALID rows whose "what" column states none, read from the files themselves.
UNSTATED_TRAVELLERS: dict[str, int] = {
    # P08 (smooks ACE truck e-Manifest): its only person is the one NAD+VW driver (AOMAD CHRIS);
    # no NAD+FL/FM/DDT/DDU and no CNT segment.
    "P08": 1,
}

ROWS = corpus_rows()


def parse(*args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(["parse", "--json", *args])
    return status, json.loads(out.getvalue())


def errors(doc: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in doc["findings"] if f["severity"] == "error"}


def test_the_table_lists_every_corpus_file() -> None:
    assert len(ROWS) == 28
    assert {r["file"] for r in ROWS} == {p.name for p in CORPUS.glob("*.edi")}


@pytest.mark.parametrize("row", [r for r in ROWS if r["expected"] == "VALID"], ids=lambda r: r["id"])
def test_valid_files_pass_with_their_travellers(row: dict[str, str]) -> None:
    status, doc = parse(str(CORPUS / row["file"]))
    assert status == 0, errors(doc)
    stated = stated_travellers(row["what"])
    if stated is None:
        assert row["id"] in UNSTATED_TRAVELLERS, f"{row['id']}: no traveller count stated in SOURCES.md or here"
        expected = UNSTATED_TRAVELLERS[row["id"]]
    else:
        assert row["id"] not in UNSTATED_TRAVELLERS, f"{row['id']}: SOURCES.md now states the count itself"
        expected = stated
    travellers = sum(len(m["travellers"]) for m in doc["manifests"])
    assert travellers == expected


@pytest.mark.parametrize("row", [r for r in ROWS if r["expected"].startswith("INVALID")], ids=lambda r: r["id"])
def test_invalid_files_fail_naming_the_reason(row: dict[str, str]) -> None:
    status, doc = parse(str(CORPUS / row["file"]))
    assert status == 1
    found = errors(doc)
    assert found, "an INVALID file needs at least one error finding"
    assert REASONS.get(row["id"], set()) <= found, found
    for f in doc["findings"]:
        assert f["message"] and f["rule"]


@pytest.mark.parametrize("row", [r for r in ROWS if r["expected"].startswith("VALID*")], ids=lambda r: r["id"])
def test_nonstandard_syntax_id_is_the_only_error_and_the_profile_can_accept_it(row: dict[str, str]) -> None:
    status, doc = parse(str(CORPUS / row["file"]))
    assert status == 1
    assert errors(doc) == {"SYN-CHARSET-UNKNOWN"}
    stated = stated_travellers(row["what"])
    if "PAXLST" in row["what"]:
        assert sum(len(m["travellers"]) for m in doc["manifests"]) == stated
    else:
        assert doc["responses"] and (doc["responses"][0]["travellers"] or doc["responses"][0]["flights"])
    status, doc = parse("--profile", "cn-iapi", str(CORPUS / row["file"]))
    assert status == 0, errors(doc)


@pytest.mark.parametrize("row", [r for r in ROWS if "fragment" in r["expected"]], ids=lambda r: r["id"])
def test_fragments_are_read_completely_and_the_missing_envelope_reported(row: dict[str, str]) -> None:
    status, doc = parse(str(CORPUS / row["file"]))
    assert status == 1
    # A later part read on its own also misses its earlier parts (ASM-PART-MISSING), truly.
    assert errors(doc) <= {"ENV-UNB-MISSING-ENVELOPE", "ENV-UNE-STRAY", "ASM-PART-MISSING"}
    assert "ENV-UNB-MISSING-ENVELOPE" in errors(doc)
    assert sum(len(m["travellers"]) for m in doc["manifests"]) == stated_travellers(row["what"])


def test_three_fragment_parts_assemble_into_one_flight_in_any_order() -> None:
    parts = sorted(CORPUS.glob("astra__cz_apis_02B_fragment_multipart_part*"))
    assert len(parts) == 3
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        _, doc = parse(*(str(parts[i]) for i in order))
        assert len(doc["manifests"]) == 1
        m = doc["manifests"][0]
        assert m["complete"] is True and m["parts"] == [1, 2, 3]
        assert len(m["travellers"]) == 5 == m["totals"]["passengers"]
        assert not {f["rule"] for f in doc["findings"]} & {"ASM-CNT-MISMATCH", "ASM-PART-MISSING"}


def test_missing_middle_part_is_reported_not_hidden() -> None:
    parts = sorted(CORPUS.glob("astra__cz_apis_02B_fragment_multipart_part*"))
    _, doc = parse(str(parts[0]), str(parts[2]))
    assert doc["manifests"][0]["complete"] is False
    missing = [f for f in doc["findings"] if f["rule"] == "ASM-PART-MISSING"]
    assert missing and missing[0]["value"] == "2"


def test_cusres_statuses_are_read_per_traveller() -> None:
    row = next(r for r in ROWS if r["id"] == "P20")
    _, doc = parse(str(CORPUS / row["file"]))
    statuses = Counter(t["status"] for t in doc["responses"][0]["travellers"])
    assert statuses == {"0Z": 9, "1Z": 1}
    row = next(r for r in ROWS if r["id"] == "P16")
    _, doc = parse(str(CORPUS / row["file"]))
    flights = doc["responses"][0]["flights"]
    assert [(f["flight_id"], f["departure_airport"], f["arrival_airport"]) for f in flights] == [
        ("CA339", "SSN", "ICN"), ("CA339", "ICN", "CAN")]


def test_legacy_us_format_is_read_into_the_same_model() -> None:
    row = next(r for r in ROWS if r["id"] == "P05")
    _, doc = parse(str(CORPUS / row["file"]))
    m = doc["manifests"][0]
    assert [t["surname"] for t in m["travellers"]] == ["MANGUS", "FEFE", "BOYLE", "O'LEARY"]
    assert (m["legs"][0]["departure_airport"], m["legs"][0]["arrival_airport"]) == ("AKL", "LAX")
    assert m["travellers"][3]["date_of_birth"] == "1933-12-31"


def test_release_character_and_non_default_separators_are_read_exactly() -> None:
    row = next(r for r in ROWS if r["id"] == "P02")  # UNA:*.? $ with CRLF
    _, doc = parse(str(CORPUS / row["file"]))
    names = [t["surname"] for t in doc["manifests"][0]["travellers"]]
    assert names[:3] == ["BETTON", "TRIBBLE", "RIDER"]
    row = next(r for r in ROWS if r["id"] == "P03")  # indented lines, two legs chained by LOC+92
    _, doc = parse(str(CORPUS / row["file"]))
    legs = doc["manifests"][0]["legs"]
    assert [(lg["departure_airport"], lg["arrival_airport"]) for lg in legs] == [("ATL", "ORD"), ("ORD", "JFK")]
    assert legs[0]["departure_utc"].startswith("2007-02-19T20:40")  # 15:40 EST
