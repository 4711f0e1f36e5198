"""Why an entry is listed: the programme or regime, the reason in the list's words and the listing date, read from
the real UN, OFAC and UK files and from the national columns.

Strategy: known real records are looked up by id and their values asserted as the files give them (CDi.001 is on
the UN list under the DRC regime since 2012-12-31; OFAC 41484 is under NPWMD and IFSR with no listing date in the
legacy CSV). An entry without these fields must serialise exactly as before they existed, or every stored list
version would look changed after an upgrade.
"""

from __future__ import annotations

import json
from pathlib import Path

from watchlists import LoadResult, WatchlistEntry, load
from watchlists.models import NameVariant, PartialDate
from watchlists.screener import canonical_json


def by_id(result: LoadResult, *ids: str) -> dict[str, WatchlistEntry]:
    wanted = set(ids)
    found = {e.id: e for e in result.entries if e.id in wanted}
    assert set(found) == wanted
    return found


def test_un_entries_carry_their_regime_listing_date_and_comments(un: LoadResult) -> None:
    e = by_id(un, "CDi.001", "QDi.389", "SSi.001", "GBi.001")
    badege = e["CDi.001"]
    assert badege.primary_name == "ERIC BADEGE"
    assert badege.programmes == ["Democratic Republic of the Congo (DRC)"]
    assert badege.listed_on == PartialDate(year=2012, month=12, day=31)
    assert badege.reason is not None and badege.reason.startswith("He fled to Rwanda in March 2013")
    assert e["QDi.389"].programmes == ["Al-Qaida"] and str(e["QDi.389"].listed_on) == "2016-02-29"
    assert e["GBi.001"].programmes == ["Guinea-Bissau (GB)"]
    # LISTED_ON "2015-07-01-04:00": the day as written, the time zone dropped
    assert str(e["SSi.001"].listed_on) == "2015-07-01" and e["SSi.001"].programmes == ["South Sudan (SouthSudan)"]


def test_un_comments_are_one_line_and_every_record_has_a_regime_and_a_date(un: LoadResult) -> None:
    entries = list(un.entries)
    assert all(e.programmes and e.listed_on is not None for e in entries)
    kakolele = next(e for e in entries if e.id == "CDi.002")
    assert kakolele.reason is not None and "\n" not in kakolele.reason
    assert "on behalf of the DRC government’s Programme de Stabilisation" in kakolele.reason


def test_ofac_entries_carry_programs_and_unread_remarks_but_no_listing_date(ofac: LoadResult) -> None:
    e = by_id(ofac, "41484", "2674", "36")
    bukey = e["41484"]
    assert bukey.programmes == ["NPWMD", "IFSR"]
    assert bukey.listed_on is None  # the legacy sdn.csv has no designation date
    assert bukey.reason == ("POB Izmir, Turkey; Additional Sanctions Information - Subject to Secondary Sanctions; "
                            "Linked To: PAIDAR, Amanallah")
    assert e["2674"].programmes == ["SDGT"]
    assert e["2674"].reason == "Director of PALESTINE LIBERATION FRONT - ABU ABBAS FACTION"
    assert e["36"].programmes == ["CUBA"] and e["36"].reason is None  # Remarks "-0-"


def test_uk_entries_carry_the_regime_of_their_id_and_the_designation_date(uk: LoadResult) -> None:
    e = by_id(uk, "AFG0001", "RUS0730", "GUB0009")
    assert e["AFG0001"].programmes == ["Afghanistan"] and e["AFG0001"].listed_on == PartialDate(year=2012, month=6,
                                                                                                 day=29)
    assert e["RUS0730"].programmes == ["Russia"] and str(e["RUS0730"].listed_on) == "2022-03-15"
    assert e["GUB0009"].programmes == ["Guinea-Bissau"]
    assert all(x.reason is None for x in e.values())  # the derived tables carry no statement of reasons


def test_uk_regimes_agree_with_the_un_references_they_quote(uk: LoadResult) -> None:
    """The prefix table is checked against data it was not made from: the UN committee of each UN reference."""
    regimes: dict[str, set[str]] = {}
    for entry in uk.entries:
        assert entry.listed_on is not None
        if entry.source_ref:
            regimes.setdefault(entry.source_ref[:2], set()).update(entry.programmes)
    assert regimes["QD"] == {"ISIL (Da'esh) and Al-Qaida"}
    assert regimes["TA"] == {"Afghanistan"}
    assert regimes["KP"] == {"Democratic People's Republic of Korea"}
    assert regimes["IQ"] == {"Iraq"} and regimes["LY"] == {"Libya"} and regimes["GB"] == {"Guinea-Bissau"}


def test_uk_columns_of_the_original_list_win_over_the_id_prefix(tmp_path: Path) -> None:
    (tmp_path / "subjects.csv").write_text(
        "unique_id,subject_type,un_reference_number,ofsi_group_id,date_designated,last_updated,regime_name,"
        "statement_of_reasons,other_information\n"
        "RUS9999,individual,,1,01/02/2023,01/02/2023,Cyber,Took part in an invented attack.,Invented example.\n",
        encoding="utf-8")
    (tmp_path / "subject_names.csv").write_text(
        "name_id,unique_id,name_type,alias_strength,full_name,name_6,name_1,name_2,name_3,name_4,name_5\n"
        "1,RUS9999,primary,,Ivan EXAMPLOV,EXAMPLOV,Ivan,,,,\n", encoding="utf-8")
    [entry] = list(load(tmp_path).entries)
    assert entry.programmes == ["Cyber"] and str(entry.listed_on) == "2023-02-01"
    assert entry.reason == "Took part in an invented attack. Invented example."


HEADER = "id,list,full_name,programme,reason,listed_on\n"


def test_national_columns_programme_reason_and_listed_on(tmp_path: Path) -> None:
    path = tmp_path / "nat.csv"
    path.write_text(HEADER
                    + 'N1,NAT,Ivan SIDOROV,TRAVEL-BAN| ASSET-FREEZE ,"Wanted for\n  questioning.",2021-03-04\n'
                    + "N2,NAT,Petr IVANOV,,,2019\n"
                    + "N3,NAT,Oleg NOVIKOV,,,04/03/2021\n"
                    + "N4,NAT,Olga NOVIKOVA,,,2021-13\n", encoding="utf-8")
    result = load(path)
    entries = {e.id: e for e in result.entries}
    assert entries["N1"].programmes == ["TRAVEL-BAN", "ASSET-FREEZE"]
    assert entries["N1"].reason == "Wanted for questioning." and str(entries["N1"].listed_on) == "2021-03-04"
    assert entries["N2"].programmes == [] and entries["N2"].reason is None and str(entries["N2"].listed_on) == "2019"
    assert [(r.where, r.reason) for r in result.rejected] == [  # N1's quoted reason takes lines 2 and 3
        ("nat.csv:5", "listed_on is not YYYY, YYYY-MM or YYYY-MM-DD"),
        ("nat.csv:6", "listed_on is not YYYY, YYYY-MM or YYYY-MM-DD")]


def test_jsonl_reads_the_same_columns(tmp_path: Path) -> None:
    path = tmp_path / "nat.jsonl"
    path.write_text(json.dumps({"id": "J1", "list": "NAT", "full_name": "Ivan SIDOROV", "programme": "TRAVEL-BAN",
                                "reason": "Wanted.", "listed_on": "2020-05"}) + "\n", encoding="utf-8")
    [entry] = list(load(path).entries)
    assert entry.programmes == ["TRAVEL-BAN"] and entry.reason == "Wanted." and str(entry.listed_on) == "2020-05"


def test_an_entry_without_context_serialises_as_before_so_stored_list_versions_keep_their_digest() -> None:
    bare = WatchlistEntry(id="N1", list="NAT", names=[NameVariant(name="Ivan SIDOROV")])
    assert canonical_json(bare) == (
        b'{"id":"N1","list":"NAT","category":"individual","names":[{"name":"Ivan SIDOROV","kind":"primary",'
        b'"quality":null}],"dates_of_birth":[],"nationalities":[],"gender":null,"documents":[],"source_ref":null}')
    full = bare.model_copy(update={"programmes": ["TRAVEL-BAN"], "reason": "Wanted.",
                                   "listed_on": PartialDate(year=2020)})
    assert canonical_json(full) != canonical_json(bare)  # a changed reason is a changed entry
    assert WatchlistEntry.model_validate_json(canonical_json(full)) == full  # what the console's archive reads back
