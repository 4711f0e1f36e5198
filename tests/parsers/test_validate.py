"""Validation against country profiles: what a carrier or a border officer would notice.

Strategy: small literal EDIFACT messages read by the real reader (so positions are real), one
change per test; the real corpus (../shared/corpus/paxlst) held to its SOURCES.md verdicts per
profile; a grep over parsers/ keeps the rule catalogue complete.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from parsers import Interchange, Severity, read_interchange
from parsers.models import Finding
from parsers.profile import load_profile
from parsers.rules import RULES
from parsers.validate import apply_profile, grade_findings, validate_manifest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "paxlst"
PARSERS = Path(__file__).resolve().parents[2] / "parsers"
TODAY = date(2025, 3, 1)

# Personal data in the synthetic traveller: none of it may appear in any finding message.
SURNAME, GIVEN, DOC_NO, DOB = "OBRIENZ", "MARYQ", "PA7654321", "850412"

TRAVELLER = [
    f"NAD+FL+++{SURNAME}:{GIVEN}", "ATT+2++F", f"DTM+329:{DOB}", "LOC+178+LHR", "LOC+179+JFK", "NAT+2+IRL",
    "RFF+AVF:ABC123", "RFF+ABO:0001", "RFF+YZY:7842836432717C2",
    f"DOC+P:110:111+{DOC_NO}", "DTM+36:300101", "LOC+91+IRL",
]


def message(travellers: list[list[str]] | None = None, *, bgm: str = "BGM+745", cnt: str | None = "auto",
            unh: str = "UNH+1+PAXLST:D:05B:UN:IATA+XX123/250301/1530+01:F",
            legs: list[str] | None = None, syntax: str = "UNOA") -> bytes:
    """A whole interchange with correct envelope counts around the given traveller groups."""
    travellers = [TRAVELLER] if travellers is None else travellers
    legs = legs if legs is not None else [
        "TDT+20+XX123+++XX", "LOC+125+LHR", "DTM+189:2503011030:201", "LOC+87+JFK", "DTM+232:2503011530:201"]
    body = [unh, bgm, "NAD+MS+++APIS DESK", *legs]
    for t in travellers:
        body.extend(t)
    if cnt == "auto":
        body.append(f"CNT+42:{sum(1 for t in travellers if t[0].startswith(('NAD+FL', 'NAD+DDU')))}")
    elif cnt is not None:
        body.append(cnt)
    body.append(f"UNT+{len(body) + 1}+1")
    segs = [f"UNB+{syntax}:4+XXAIR:ZZ+GOVAPI:ZZ+250301:1200+42++APIS", *body, "UNZ+1+42"]
    return ("UNA:+.? '" + "'\n".join(segs) + "'\n").encode()


def with_(changes: dict[str, str | None]) -> list[str]:
    """The standard traveller with segments replaced (by their leading text) or dropped (None)."""
    out = []
    for seg in TRAVELLER:
        key = next((k for k in changes if seg.startswith(k)), None)
        if key is None:
            out.append(seg)
        elif changes[key] is not None:
            out.append(changes[key])  # type: ignore[arg-type]
    return out


def check(data: bytes, profile: str = "baseline") -> Interchange:
    return apply_profile(read_interchange(data), load_profile(profile), today=TODAY)


def rules(ic: Interchange, severity: Severity | None = None) -> set[str]:
    return {f.rule for f in ic.findings if severity is None or f.severity is severity}


def errors(ic: Interchange) -> set[str]:
    return rules(ic, Severity.ERROR)


# ---- synthetic messages ---------------------------------------------------------------------------------


def test_a_complete_manifest_is_clean_under_every_shipped_profile() -> None:
    for name in ("baseline", "us", "uk", "cn-iapi"):
        ic = check(message(), name)
        assert ic.ok, (name, [(f.rule, f.message) for f in ic.findings])
        assert not rules(ic, Severity.WARNING), name


def test_missing_expiry_fails_in_the_us_and_passes_in_the_uk() -> None:
    data = message([with_({"DTM+36": None})])
    us = check(data, "us")
    assert "REQ-DOC-EXPIRY" in errors(us)
    f = next(f for f in us.findings if f.rule == "REQ-DOC-EXPIRY")
    assert f.segment_position == 18 and f.segment_tag == "DOC" and f.message_ref == "1"
    assert f.contrl_error == 13
    assert check(data, "uk").ok
    assert "REQ-DOC-EXPIRY" not in rules(check(data, "uk"))
    baseline = check(data)
    assert baseline.ok and "REQ-DOC-EXPIRY" in rules(baseline, Severity.WARNING)


def test_the_us_requires_every_identity_field() -> None:
    bare = [f"NAD+FL+++{SURNAME}:{GIVEN}", "RFF+AVF:ABC123"]
    found = errors(check(message([bare]), "us"))
    assert {"REQ-GENDER", "REQ-DOB", "REQ-NATIONALITY", "REQ-DOCUMENT"} <= found
    assert check(message([bare]), "baseline").ok


def test_expired_document_is_a_warning_in_the_baseline_with_its_position() -> None:
    ic = check(message([with_({"DTM+36": "DTM+36:240101"})]))
    assert ic.ok
    f = next(f for f in ic.findings if f.rule == "DAT-DOC-EXPIRED")
    assert f.severity is Severity.WARNING and f.segment_position == 18 and f.value == "240101"


def test_expiry_tolerance_accepts_a_document_expired_a_few_days_before_departure() -> None:
    data = message([with_({"DTM+36": "DTM+36:250225"})])
    assert "DAT-DOC-EXPIRED" in rules(check(data))
    tolerant = load_profile("baseline").model_copy(update={"expiry_tolerance_days": 7})
    assert "DAT-DOC-EXPIRED" not in rules(apply_profile(read_interchange(data), tolerant, today=TODAY))


def test_birth_after_departure_is_an_error() -> None:
    ic = check(message([with_({"DTM+329": "DTM+329:20260101:102"})]))
    assert "DAT-BIRTH-AFTER-DEPARTURE" in errors(ic)
    f = next(f for f in ic.findings if f.rule == "DAT-BIRTH-AFTER-DEPARTURE")
    assert f.segment_position == 9 and f.segment_tag == "NAD"


def test_a_traveller_older_than_120_years_is_flagged() -> None:
    ic = check(message([with_({"DTM+329": "DTM+329:18900101:102"})]))
    assert ic.ok and "DAT-AGE" in rules(ic, Severity.WARNING)


def test_document_issued_after_departure_is_flagged_and_an_error_in_the_us() -> None:
    trav = [*TRAVELLER[:11], "DTM+182:20250401:102", TRAVELLER[11]]
    assert "DAT-DOC-ISSUED-LATE" in rules(check(message([trav])), Severity.WARNING)
    assert "DAT-DOC-ISSUED-LATE" in errors(check(message([trav]), "us"))


def test_unknown_country_codes_are_errors_with_the_code_as_value_only() -> None:
    ic = check(message([with_({"NAT": "NAT+2+XYZ", "LOC+91": "LOC+91+QQQ"})]))
    bad = [f for f in ic.findings if f.rule == "COD-COUNTRY"]
    assert {f.value for f in bad} == {"XYZ", "QQQ"}
    assert all(f.severity is Severity.ERROR and f.contrl_error == 12 for f in bad)
    assert all("XYZ" not in f.message and "QQQ" not in f.message for f in bad)


def test_icao_9303_extra_codes_are_countries() -> None:
    ic = check(message([with_({"NAT": "NAT+2+XXA", "LOC+91": "LOC+91+D"})]))
    assert "COD-COUNTRY" not in rules(ic)


def test_code_lists_gender_document_type_airport() -> None:
    ic = check(message([with_({"ATT": "ATT+2++Q", "DOC": f"DOC+ZZ:110:111+{DOC_NO}", "LOC+178": "LOC+178+L1"})]))
    assert {"COD-GENDER", "COD-DOC-TYPE", "COD-AIRPORT"} <= errors(ic)


def test_a_well_formed_but_unknown_location_code_is_only_a_warning() -> None:
    # IATA also codes rail stations (astra's Czech sample embarks at ZDN); airportsdata lists airports only.
    ic = check(message([with_({"LOC+178": "LOC+178+ZDN"})]))
    assert ic.ok and "COD-AIRPORT-UNKNOWN" in rules(ic, Severity.WARNING)


def test_header_code_lists() -> None:
    assert "COD-BGM" in errors(check(message(bgm="BGM+999")))
    assert "COD-BGM-ID" in rules(check(message(bgm="BGM+745+QQ")), Severity.WARNING)
    assert "COD-TRANSPORT-STAGE" in errors(check(message(legs=[
        "TDT+99+XX123+++XX", "LOC+125+LHR", "DTM+189:2503011030:201", "LOC+87+JFK",
        "DTM+232:2503011530:201"])))


def test_party_function_outside_the_list_is_an_error() -> None:
    ic = check(message([with_({"NAD": f"NAD+VW+++{SURNAME}:{GIVEN}"})], cnt=None))
    assert "COD-PARTY" in errors(ic)


def test_cnt_mismatch_on_a_single_complete_message() -> None:
    ic = check(message(cnt="CNT+42:3"))
    assert "CNT-PASSENGERS" in errors(ic)
    f = next(f for f in ic.findings if f.rule == "CNT-PASSENGERS")
    assert f.value == "3" and "3" in f.message and "1" in f.message


def test_cnt_of_a_non_final_part_is_left_to_assembly() -> None:
    unh = "UNH+1+PAXLST:D:05B:UN:IATA+XX123/250301/1530+01:C"
    assert not {"CNT-PASSENGERS", "CNT-CREW"} & rules(check(message(cnt="CNT+42:30", unh=unh)))
    unh = "UNH+1+PAXLST:D:05B:UN:IATA+XX123/250301/1530+03:F"
    assert not {"CNT-PASSENGERS", "CNT-CREW"} & rules(check(message(cnt="CNT+42:30", unh=unh)))


def test_crew_count_and_passengers_in_a_crew_list() -> None:
    crew = with_({"NAD": f"NAD+FM+++{SURNAME}:{GIVEN}"})
    ic = check(message([crew, TRAVELLER], bgm="BGM+250+C", cnt="CNT+41:2"))
    assert "CNT-CREW" in errors(ic)
    assert "STR-CREW-LIST-PAX" in rules(ic, Severity.WARNING)


def test_a_manifest_without_flight_legs_fails() -> None:
    ic = check(message(legs=[]))
    assert "STR-LEG-MISSING" in errors(ic)


def test_leg_without_arrival_fails_and_arrival_before_departure_warns() -> None:
    ic = check(message(legs=["TDT+20+XX123+++XX", "LOC+125+LHR", "DTM+189:2503011030:201"]))
    assert "STR-LEG-ENDPOINTS" in errors(ic)
    ic = check(message(legs=["TDT+20+XX123+++XX", "LOC+125+LHR", "DTM+189:2503011030:201", "LOC+87+JFK",
                             "DTM+232:2503010430:201"]))
    assert ic.ok and "DAT-LEG-ORDER" in rules(ic, Severity.WARNING)


def test_carrier_and_route_consistency_are_warnings() -> None:
    legs = ["TDT+20+YY123+++XX", "LOC+125+LHR", "DTM+189:2503011030:201", "LOC+87+JFK", "DTM+232:2503011530:201"]
    ic = check(message([with_({"LOC+178": "LOC+178+CDG"})], legs=legs))
    assert ic.ok
    assert {"CON-CARRIER-FLIGHT", "CON-ROUTE-EMBARK"} <= rules(ic, Severity.WARNING)


def test_flight_date_window_is_off_by_default_and_configurable() -> None:
    data = message()
    late = date(2025, 6, 1)
    assert "DAT-FLIGHT-WINDOW" not in rules(apply_profile(read_interchange(data), load_profile("baseline"),
                                                          today=late))
    windowed = load_profile("baseline").model_copy(update={"flight_date_window": (-2, 3)})
    assert "DAT-FLIGHT-WINDOW" in rules(apply_profile(read_interchange(data), windowed, today=late))
    assert "DAT-FLIGHT-WINDOW" not in rules(apply_profile(read_interchange(data), windowed, today=TODAY))


def test_cn_iapi_requires_references_limits_travellers_and_accepts_fnu() -> None:
    no_abo = with_({"RFF+ABO": None})
    assert "REQ-RFF-ABO" in errors(check(message([no_abo]), "cn-iapi"))
    assert "REQ-RFF-ABO" not in rules(check(message([no_abo])))
    eleven = check(message([TRAVELLER] * 11), "cn-iapi")
    assert "STR-TOO-MANY-TRAVELLERS" in errors(eleven)
    assert "STR-TOO-MANY-TRAVELLERS" not in rules(check(message([TRAVELLER] * 11)))
    fnu = with_({"NAD": f"NAD+FL+++{SURNAME}:FNU"})
    assert "REQ-GIVEN-NAMES" in rules(check(message([fnu])), Severity.WARNING)
    assert "REQ-GIVEN-NAMES" not in rules(check(message([fnu]), "cn-iapi"))


def test_accepted_syntax_id_becomes_info() -> None:
    data = message(syntax="SIRE")
    assert errors(check(data)) == {"SYN-CHARSET-UNKNOWN"}
    ic = check(data, "cn-iapi")
    assert ic.ok
    assert "SYN-CHARSET-UNKNOWN" in rules(ic, Severity.INFO)


def test_message_without_mig_association_is_held_to_the_un_directory_only() -> None:
    unh = "UNH+1+PAXLST:D:03B:UN+XX123/250301/1530+01:F"
    trav = with_({"ATT": "ATT+2++MALE", "NAT": "NAT+2+IE"})
    mig = check(message([trav]))
    assert {"COD-GENDER", "COD-COUNTRY"} <= errors(mig)
    un_only = check(message([trav], unh=unh))
    assert un_only.ok
    assert {"COD-GENDER", "COD-COUNTRY"} <= rules(un_only, Severity.WARNING)


def test_severity_table_regrades_and_turns_off_reader_and_validator_rules(tmp_path: Path) -> None:
    p = tmp_path / "strict.toml"
    p.write_text('extends = "baseline"\n[severity]\n"CON-ROUTE-EMBARK" = "error"\n"COD-BGM-ID" = "off"\n'
                 '"ENV-UNT-COUNT" = "warning"\n')
    prof = load_profile(p)
    data = message([with_({"LOC+178": "LOC+178+CDG"})], bgm="BGM+745+QQ").replace(b"UNT+", b"UNT+9")
    ic = apply_profile(read_interchange(data), prof, today=TODAY)
    assert "CON-ROUTE-EMBARK" in errors(ic)
    assert "COD-BGM-ID" not in rules(ic)
    assert "ENV-UNT-COUNT" in rules(ic, Severity.WARNING)


def test_reader_and_validator_do_not_report_the_same_problem_twice() -> None:
    ic = check(message([with_({"NAD": "NAD+FL+++:" + GIVEN, "DOC": "DOC++" + DOC_NO})]))
    assert [f.rule for f in ic.findings].count("DAT-NAME-MISSING") == 1
    assert [f.rule for f in ic.findings].count("DAT-DOC-TYPE-MISSING") == 1


def test_apply_profile_is_idempotent_and_leaves_its_input_alone() -> None:
    read = read_interchange(message([with_({"NAT": "NAT+2+XYZ"})]))
    before = list(read.findings)
    once = apply_profile(read, load_profile("us"), today=TODAY)
    assert read.findings == before
    twice = apply_profile(once, load_profile("us"), today=TODAY)
    assert [(f.rule, f.segment_position) for f in twice.findings] == \
        [(f.rule, f.segment_position) for f in once.findings]


def test_flight_status_lists_travellers_by_reference_only() -> None:
    ref_only = ["NAD+ZZZ", "RFF+AVF:ABC123", "RFF+ABO:0001"]
    ic = check(message([ref_only], bgm="BGM+266+CLOB", cnt=None), "cn-iapi")
    assert ic.ok, [(f.rule, f.message) for f in ic.findings if f.severity is Severity.ERROR]
    ic = check(message([["NAD+ZZZ", "RFF+AVF:ABC123"]], bgm="BGM+266+CLOB", cnt=None), "cn-iapi")
    assert "REQ-RFF-ABO" in errors(ic)


def test_no_finding_message_carries_personal_data() -> None:
    bad = [f"NAD+FL+++{SURNAME}:{GIVEN}", "ATT+2++Q", "DTM+329:20990101:102", "LOC+178+ZZ9", "NAT+2+XYZ",
           "RFF+QQQ:ABC", f"DOC+ZZ:110:111+{DOC_NO}", "DTM+36:000101", "DTM+182:20990101:102", "LOC+91+QQQ"]
    for name in ("baseline", "us", "uk", "cn-iapi"):
        ic = check(message([bad], cnt="CNT+42:7"), name)
        assert len(ic.findings) > 8
        for f in ic.findings:
            for secret in (SURNAME, GIVEN, DOC_NO, "2099", "990101", "ABC"):
                assert secret not in f.message, (f.rule, f.message)


def test_validate_manifest_works_on_models_built_without_the_reader() -> None:
    manifest = read_interchange(message()).manifests[0]
    manifest = manifest.model_copy(update={"travellers": [
        manifest.travellers[0].model_copy(update={"surname": None, "documents": []})]})
    found = {f.rule: f for f in validate_manifest(manifest, load_profile("us"), today=TODAY)}
    assert found["DAT-NAME-MISSING"].severity is Severity.ERROR
    assert found["REQ-DOCUMENT"].severity is Severity.ERROR


def test_findings_from_assembly_are_graded_by_the_same_profile(tmp_path: Path) -> None:
    p = tmp_path / "calm.toml"
    p.write_text('extends = "baseline"\n[severity]\n"ASM-PART-ORDER" = "off"\n"ASM-FINAL-MISSING" = "error"\n')
    found = [Finding(rule="ASM-PART-ORDER", severity=Severity.INFO, message="parts reordered"),
             Finding(rule="ASM-FINAL-MISSING", severity=Severity.WARNING, message="no final part"),
             Finding(rule="ASM-PART-MISSING", severity=Severity.ERROR, message="part 2 missing")]
    graded = grade_findings(found, load_profile(p))
    assert [(f.rule, f.severity) for f in graded] == [("ASM-FINAL-MISSING", Severity.ERROR),
                                                     ("ASM-PART-MISSING", Severity.ERROR)]
    assert found[1].severity is Severity.WARNING  # inputs untouched


# ---- the real corpus --------------------------------------------------------------------------------------


def corpus(name: str) -> bytes:
    (path,) = CORPUS.glob(f"{name}*")
    return path.read_bytes()


@pytest.mark.parametrize("name", ["gtas__un05B_pax_2legs", "smooks__un03B"])
def test_valid_corpus_files_have_no_error_under_the_baseline(name: str) -> None:
    ic = check(corpus(name))
    assert ic.ok, [(f.rule, f.message) for f in ic.findings if f.severity is Severity.ERROR]
    assert ic.manifests and ic.manifests[0].travellers


def test_truck_manifest_without_iata_association_only_warns_about_mig_codes() -> None:
    ic = check(corpus("smooks__un03B"))
    warned = rules(ic, Severity.WARNING)
    assert {"COD-BGM", "COD-PARTY", "COD-GENDER", "COD-COUNTRY", "COD-DOC-TYPE"} <= warned


def test_padded_probe_has_code_list_errors_beyond_the_missing_envelope() -> None:
    found = errors(check(corpus("astra__cz_apis_02B_fragment_max_length_padded_X")))
    assert {"COD-DOC-TYPE", "COD-GENDER", "COD-AIRPORT"} <= found
    assert "ENV-UNB-MISSING-ENVELOPE" in found


SIRE_VALID = [
    "astra__cn_iapi_05B_PAXLST_10pax", "astra__cn_iapi_05B_PAXLST_1pax", "astra__cn_iapi_05B_PAXLST_2pax",
    "astra__cn_iapi_05B_PAXLST_BGM745CP", "astra__cn_iapi_05B_PAXLST_multileg", "astra__cn_iapi_05B_CUSRES_962_0Z",
    "astra__cn_iapi_05B_CUSRES_312_reply",
]


@pytest.mark.parametrize("name", SIRE_VALID)
def test_sire_files_fail_only_on_the_syntax_id_and_pass_as_china_iapi(name: str) -> None:
    assert errors(check(corpus(name))) == {"SYN-CHARSET-UNKNOWN"}
    ic = check(corpus(name), "cn-iapi")
    assert ic.ok, [(f.rule, f.message) for f in ic.findings if f.severity is Severity.ERROR]


def test_gtas_sample_without_documents_fails_in_the_us() -> None:
    found = errors(check(corpus("gtas__un05B_pax_2legs"), "us"))
    assert {"REQ-DOCUMENT", "REQ-NATIONALITY"} <= found


# ---- the catalogue ---------------------------------------------------------------------------------------


def test_every_rule_id_emitted_in_parsers_is_in_the_catalogue() -> None:
    emitted: set[str] = set()
    for path in PARSERS.rglob("*.py"):
        emitted |= set(re.findall(r"[\"']([A-Z]{3}-[A-Z][A-Z0-9-]*)[\"']", path.read_text(encoding="utf-8")))
    emitted |= {f"REQ-RFF-{q}" for q in ("AVF", "ABO", "SEA", "YZY")}  # built as f"REQ-RFF-{q}"
    assert len(emitted) > 60
    assert emitted <= set(RULES), sorted(emitted - set(RULES))


def test_catalogue_entries_are_complete() -> None:
    for rid, r in RULES.items():
        assert r.id == rid and r.layer in ("L0", "L1", "L2", "L3", "L4")
        assert r.title and r.reference and r.hint
        assert r.contrl is None or 2 <= r.contrl <= 48
