"""Loaders on the real files: counts as SOURCES.md gives them, and the details officers rely on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from watchlists import Category, LoadError, LoadResult, PartialDate, load
from watchlists.loaders import detect_format


def by_id(result: LoadResult, entry_id: str):  # type: ignore[no-untyped-def]
    return next(e for e in result.entries if e.id == entry_id)


def test_un_counts(un: LoadResult) -> None:
    counts = Counter(e.category for e in un.entries)
    assert counts[Category.INDIVIDUAL] == 730
    assert counts[Category.ENTITY] == 273
    assert un.rejected == []
    assert un.as_of == "2026-02-27T00:00:09.554Z"
    people = [e for e in un.entries if e.category is Category.INDIVIDUAL]
    # 625 NATIONALITY values in SOURCES.md, one of which is the placeholder "na".
    assert sum(bool(e.nationalities) for e in people) == 624
    assert sum(any(d.doc_type == "passport" for d in e.documents) for e in people) >= 230
    assert sum(any(n.kind == "original_script" for n in e.names) for e in people) == 336


def test_un_aliases_dates_and_quality(un: LoadResult) -> None:
    people = [e for e in un.entries if e.category is Category.INDIVIDUAL]
    aliases = [n for e in people for n in e.names if n.kind in ("alias", "weak_alias")]
    assert len(aliases) >= 2000  # 2,139 non-empty alias values, minus spellings repeated within an entry
    assert any(n.kind == "weak_alias" and n.quality == "Low" for n in aliases)
    dates = [d for e in people for d in e.dates_of_birth]
    assert any(d.year_to is not None for d in dates)  # BETWEEN FROM_YEAR/TO_YEAR
    assert any(d.approximate for d in dates)  # APPROXIMATELY
    assert any(d.month is None for d in dates)  # year only
    assert any(d.day is not None for d in dates)  # full DATE
    badege = by_id(un, "CDi.001")
    assert badege.dates_of_birth == [PartialDate(year=1971)]
    assert badege.nationalities == ["CD"]
    assert badege.gender == "M"


def test_ofac_counts_and_remarks(ofac: LoadResult) -> None:
    counts = Counter(e.category for e in ofac.entries)
    # SOURCES.md says 14,966 records; its own per-type counts (6,854 + 6,884 + 851 + 376) sum to
    # 14,965, which is what the file holds (the 14,966th "line" is the DOS EOF byte).
    assert len(ofac.entries) == 14_965
    assert counts[Category.INDIVIDUAL] == 6_854
    assert counts[Category.VESSEL] == 851
    assert counts[Category.AIRCRAFT] == 376
    zawahiri = by_id(ofac, "2676")
    assert zawahiri.primary_name == "Dr. Ayman AL ZAWAHIRI"
    assert PartialDate(year=1951, month=6, day=19) in zawahiri.dates_of_birth
    assert {d.number for d in zawahiri.documents} >= {"1084010", "19820215"}
    assert any(d.country == "EG" for d in zawahiri.documents)
    people = [e for e in ofac.entries if e.category is Category.INDIVIDUAL]
    assert sum(bool(e.dates_of_birth) for e in people) >= 6_700  # 6,736 have "DOB"
    assert sum(bool(e.nationalities) for e in people) >= 4_500  # 4,704 "nationality"


def test_ofac_joins_alt_aliases_and_reports_orphans(ofac: LoadResult) -> None:
    bnc = by_id(ofac, "306")
    assert "NATIONAL BANK OF CUBA" in [n.name for n in bnc.names]  # from alt.csv
    assert any(n.name == "BNC" and n.weak for n in bnc.names)  # weak a.k.a. from Remarks
    orphans = [r for r in ofac.rejected if "not in" in r.reason]
    assert orphans and all("ofac_sdn_alt" in r.where for r in orphans)


def test_uk_counts_and_dedup(uk: LoadResult) -> None:
    counts = Counter(e.category for e in uk.entries)
    assert counts == {Category.INDIVIDUAL: 3_883, Category.ENTITY: 1_531, Category.VESSEL: 632}
    people = [e for e in uk.entries if e.category is Category.INDIVIDUAL]
    passports = {(e.id, d.number.upper()) for e in people for d in e.documents if d.doc_type == "passport"}
    assert len(passports) == sum(1 for e in people for d in e.documents if d.doc_type == "passport")
    assert 700 <= len(passports) <= 730  # 723 unique (subject, number) pairs in SOURCES.md
    assert sum(bool(e.nationalities) for e in people) == 2_775
    assert sum(bool(e.dates_of_birth) for e in uk.entries) == 1_043
    assert sum(bool(e.source_ref) for e in people) > 100  # UN reference numbers quoted back


def test_national_csv_and_jsonl_agree_and_reject_bad_rows(tmp_path: Path) -> None:
    header = ("id,list,category,full_name,surname,given_names,aliases,date_of_birth,nationality,gender,"
              "document_number,document_type,document_country\n")
    rows = [
        "N1,NAT,individual,,DOE,John,Johnny Doe|J. Doe,1970-05,USA,M,X1234567,P,US",
        "N2,NAT,document,,,,,,,,AB0012345,P,FRA",
        "N3,NAT,individual,Bad Date,,,,1970-13-01,USA,M,,,",
        "N4,NAT,individual,Bad Country,,,,1970,Narnia,M,,,",
        "N5,NAT,document,,,,,,,,,P,FRA",
        "N1,NAT,individual,Duplicate,,,,,,,,,",
    ]
    csv_path = tmp_path / "national.csv"
    csv_path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    result = load(csv_path)
    assert result.source_format == "national_csv"
    assert [e.id for e in result.entries] == ["N1", "N2"]
    assert [r.where for r in result.rejected] == ["national.csv:4", "national.csv:5", "national.csv:6",
                                                 "national.csv:7"]
    assert "date_of_birth" in result.rejected[0].reason and "nationality" in result.rejected[1].reason
    john = result.entries[0]
    assert john.primary_name == "John DOE" and len(john.names) == 3
    assert john.nationalities == ["US"] and john.dates_of_birth == [PartialDate(year=1970, month=5)]
    assert result.entries[1].category is Category.DOCUMENT and result.entries[1].documents[0].country == "FR"
    import csv
    import json
    jsonl = tmp_path / "national.jsonl"
    with csv_path.open(encoding="utf-8") as handle:
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in csv.DictReader(handle)), encoding="utf-8")
    as_jsonl = load(jsonl)
    assert as_jsonl.source_format == "national_jsonl"
    assert as_jsonl.entries == result.entries
    assert [r.reason for r in as_jsonl.rejected] == [r.reason for r in result.rejected]


def test_unknown_format_is_a_load_error(tmp_path: Path) -> None:
    odd = tmp_path / "odd.txt"
    odd.write_text("hello world\n")
    with pytest.raises(LoadError):
        load(odd)
    alt = tmp_path / "alt.csv"
    alt.write_text('1,2,"aka","X",-0- \n')
    assert detect_format(alt) == "ofac_alt_csv"
    with pytest.raises(LoadError):
        load(alt)


def test_a_list_unreadable_past_its_first_rows_is_a_usage_error_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rows stream into the index, so a bad byte deep in the file is met while indexing: the CLI still
    refuses the list with exit code 2 and a message without the file's content."""
    import argparse

    from api_engine.cli import screen as screen_cli

    rows = "".join(f"N{i},NAT,Person Number{i}\n" for i in range(5000))
    path = tmp_path / "nat.csv"
    path.write_bytes(b"id,list,full_name\n" + rows.encode() + b"N9,NAT,Bad \xff Byte\n")
    travellers = tmp_path / "travellers.jsonl"
    travellers.write_text('{"id": "t", "full_name": "Jane Doe"}\n', encoding="utf-8")
    parser = argparse.ArgumentParser()
    screen_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["screen", "--watchlist", str(path), "--travellers", str(travellers)])
    assert screen_cli.run(args) == screen_cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "nat.csv: unreadable list (UnicodeDecodeError)" in err and "Bad" not in err


def test_a_truncated_un_file_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "un.xml"
    path.write_text('<CONSOLIDATED_LIST dateGenerated="2026-01-01"><INDIVIDUALS><INDIVIDUAL>'
                    "<DATAID>1</DATAID><FIRST_NAME>A</FIRST_NAME></INDIVIDUAL><INDIVIDUAL><DATAID>", encoding="utf-8")
    result = load(path)
    assert result.as_of == "2026-01-01"
    with pytest.raises(LoadError):
        list(result.entries)
