"""The synthetic manifest generator: what the benchmarks, property tests and conformance kit rely on.

Strategy: every check goes through the bytes, as a user of the generator would: write with the
project's writer, read with the project's reader, and compare with what the generator said it
made. Small flights keep the suite fast; one seed per test keeps failures reproducible.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest

from conformance.generator import (
    generate_flights,
    generate_interchange_bytes,
    generate_manifest,
    plant_names,
    to_bytes,
)
from parsers import Manifest, Severity, read_interchange
from parsers._codelists import airport_country_alpha3, is_airport, is_country


def _errors(data: bytes) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in read_interchange(data).findings if f.severity is Severity.ERROR]


def _sent(obj: Any) -> Any:
    """A model dump without segment positions, which only the reader can know."""
    if isinstance(obj, dict):
        return {k: _sent(v) for k, v in obj.items() if k != "segment_position"}
    if isinstance(obj, list):
        return [_sent(v) for v in obj]
    return obj


def test_generated_interchanges_read_back_without_errors() -> None:
    data = generate_interchange_bytes(6, seed=11, travellers_per_flight=(10, 40), max_per_part=15,
                                      crew_lists=True, expired_share=0.0)
    assert len(data) >= 12
    for d in data:
        assert _errors(d) == []


def test_read_back_equals_what_was_generated() -> None:
    lists = generate_flights(3, seed=5, travellers_per_flight=(30, 60), max_per_part=25, crew_lists=True)
    for parts in lists:
        for m in parts:
            back = read_interchange(to_bytes(m)).manifests
            assert len(back) == 1
            assert _sent(back[0].model_dump()) == _sent(m.model_dump())


def test_same_seed_same_bytes_and_another_seed_other_bytes() -> None:
    kw: dict[str, Any] = {"travellers_per_flight": (20, 30), "max_per_part": 10}
    first = generate_interchange_bytes(3, seed=42, **kw)
    assert first == generate_interchange_bytes(3, seed=42, **kw)
    assert first != generate_interchange_bytes(3, seed=43, **kw)


def test_parts_share_the_common_access_ref_and_count_up_to_a_final_part() -> None:
    (parts,) = generate_flights(1, seed=3, travellers_per_flight=(47, 47), max_per_part=15)
    read = [read_interchange(to_bytes(m)).manifests[0] for m in parts]
    assert len(read) == 4
    refs = {m.header.common_access_ref for m in read}
    assert len(refs) == 1
    (ref,) = refs
    leg = read[0].legs[0]
    assert ref == f"{leg.flight_id}/{leg.arrival_local:%y%m%d/%H%M}"
    assert [m.header.sequence for m in read] == [1, 2, 3, 4]
    assert [m.header.sequence_flag for m in read] == ["C", "C", "C", "F"]
    assert [len(m.travellers) for m in read] == [15, 15, 15, 2]
    assert all(m.totals.passengers == 47 for m in read)  # the whole-flight total on every part
    assert b"+01:C'" in to_bytes(parts[0]) and b"+04:F'" in to_bytes(parts[-1])


def test_single_part_lists_are_01_F() -> None:
    (parts,) = generate_flights(1, seed=8, travellers_per_flight=(12, 12))
    assert len(parts) == 1
    assert b"+01:F'" in to_bytes(parts[0])


@pytest.mark.parametrize("max_per_part", [1, 7, 15, 100])
def test_no_part_exceeds_max_per_part(max_per_part: int) -> None:
    lists = generate_flights(4, seed=max_per_part, travellers_per_flight=(1, 60), max_per_part=max_per_part)
    for parts in lists:
        assert all(1 <= len(m.travellers) <= max_per_part for m in parts)
        assert sum(len(m.travellers) for m in parts) == parts[0].totals.passengers


def test_more_than_99_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="99"):
        generate_flights(1, seed=1, travellers_per_flight=(100, 100), max_per_part=1)


def test_parts_read_out_of_order_assemble_into_one_complete_flight() -> None:
    from parsers import assembly

    (parts,) = generate_flights(1, seed=9, travellers_per_flight=(40, 40), max_per_part=15)
    read = [read_interchange(to_bytes(m)).manifests[0] for m in reversed(parts)]
    (result,) = assembly.assemble(read)
    assert result.complete
    assert len(result.manifest.travellers) == 40
    assert [f for f in result.findings if f.severity is Severity.ERROR] == []


def test_names_with_apostrophes_survive_the_round_trip() -> None:
    m = generate_manifest(random.Random(1), travellers=20, plant=[("O'BRIEN", "MARY ANN", date(1985, 4, 12))])
    data = to_bytes(m)
    assert b"O?'BRIEN:MARY:ANN" in data
    back = read_interchange(data).manifests[0]
    hit = [t for t in back.travellers if t.surname == "O'BRIEN"]
    assert len(hit) == 1
    assert hit[0].given_names == ["MARY", "ANN"]
    assert hit[0].date_of_birth == date(1985, 4, 12)


def test_generated_names_include_apostrophes_hyphens_and_several_given_names() -> None:
    lists = generate_flights(20, seed=2, travellers_per_flight=(150, 150))
    names = [(t.surname or "", t.given_names) for parts in lists for m in parts for t in m.travellers]
    assert any("'" in s for s, _ in names)
    assert any("-" in s or any("-" in g for g in given) for s, given in names)
    assert any(" " in s for s, _ in names)  # two Spanish surnames, Dutch particles
    assert any(len(given) > 1 for _, given in names)
    assert all(s == s.upper() and s.isascii() for s, _ in names)


def test_planted_names_land_where_reported_and_leave_others_untouched() -> None:
    plant = [("TESTPERSON", "ALPHA", date(1970, 1, 2)), ("O'TESTER", "BETA GAMMA", date(2001, 12, 31))]
    plain = generate_flights(5, seed=21, travellers_per_flight=(20, 30))
    planted = generate_flights(5, seed=21, travellers_per_flight=(20, 30), plant=plant)
    flat_plain = [t for parts in plain for m in parts for t in m.travellers]
    flat_planted = [t for parts in planted for m in parts for t in m.travellers]
    changed = [i for i, (a, b) in enumerate(zip(flat_plain, flat_planted, strict=True)) if a != b]
    assert len(changed) == 2
    assert {flat_planted[i].surname for i in changed} == {"TESTPERSON", "O'TESTER"}
    for i in changed:
        t = flat_planted[i]
        assert "TEST" in (t.matching_key or "")  # screening sees the planted name, not the old one


def test_plant_names_reports_its_slots() -> None:
    m = generate_manifest(random.Random(4), travellers=10)
    slots = plant_names([m], [("ZED", "ZULU", date(1990, 5, 5))], random.Random(0))
    ((i, j),) = slots
    assert (i, m.travellers[j].surname, m.travellers[j].date_of_birth) == (0, "ZED", date(1990, 5, 5))


def test_flights_are_international_between_real_airports_with_local_times() -> None:
    lists = generate_flights(30, seed=17, travellers_per_flight=(1, 2))
    for parts in lists:
        leg = parts[0].legs[0]
        assert leg.departure_airport and leg.arrival_airport
        assert is_airport(leg.departure_airport) and is_airport(leg.arrival_airport)
        assert airport_country_alpha3(leg.departure_airport) != airport_country_alpha3(leg.arrival_airport)
        assert leg.departure_utc and leg.arrival_utc and leg.arrival_utc > leg.departure_utc
        assert leg.carrier and leg.flight_id == f"{leg.carrier}{leg.flight_number}"


def _travellers(m: list[list[Manifest]]) -> list[Any]:
    return [(t, p) for parts in m for p in parts for t in p.travellers]


def test_people_and_documents_are_plausible() -> None:
    lists = generate_flights(10, seed=23, travellers_per_flight=(150, 150), expired_share=0.0)
    people = _travellers(lists)
    ages = []
    kinds: set[str] = set()
    for t, m in people:
        day = m.legs[0].departure_local.date()
        assert t.date_of_birth and t.date_of_birth < day
        ages.append((day - t.date_of_birth).days / 365.25)
        assert t.nationality and is_country(t.nationality)
        assert t.documents and t.documents[0].doc_type in ("P", "I")
        for d in t.documents:
            kinds.add(d.doc_type or "")
            assert d.expiry and day < d.expiry <= day.replace(year=day.year + 10)
            assert d.issuing_state and is_country(d.issuing_state)
            assert d.number
        assert t.references.get("AVF") and t.references.get("ABO")
    assert min(ages) < 2 and max(ages) > 75
    assert {"P", "V"} <= kinds
    assert sum(t.documents[0].doc_type == "P" for t, _ in people) > 0.8 * len(people)
    assert any(t.bag_count for t, _ in people) and any(t.verified for t, _ in people)
    assert len({t.nationality for t, _ in people}) > 20


def test_expired_documents_appear_only_as_a_chosen_defect() -> None:
    def expired(share: float) -> int:
        people = _travellers(generate_flights(5, seed=31, travellers_per_flight=(100, 100),
                                              expired_share=share))
        return sum(1 for t, m in people for d in t.documents
                   if d.expiry and d.expiry < m.legs[0].departure_local.date())

    assert expired(0.0) == 0
    assert expired(0.1) > 10


def test_crew_lists_have_crew_functions_and_a_crew_total() -> None:
    m = generate_manifest(random.Random(6), travellers=12, crew=True)
    back = read_interchange(to_bytes(m)).manifests[0]
    assert (back.document_code, back.document_id) == ("250", "C")
    assert back.totals.crew == 12 and back.totals.passengers is None
    assert {t.party_function for t in back.travellers} == {"FM"}
    assert {t.crew_function for t in back.travellers} <= {"CR1", "CR2"}
    assert b"EMP+1+CR" in to_bytes(m)
