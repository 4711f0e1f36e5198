"""Hypothesis strategies for EDIFACT separators and PAXLST manifests, reusable by any test.

Strategy: generate what a carrier *sends* (names, codes, raw dates), never what the reader
derives (normalised names, UTC times, leg endpoints, segment positions); `sent_view` projects a
manifest onto the sent fields so a write → read round trip compares exactly. Dates are drawn so
the reader's two-digit-year resolution is unambiguous: flights within ±45 years of the writer's
UNB date (2025-03-01), births and issue dates within 99 years before the last departure,
expiries within ±45 years of it. Text may hold every service character when a release
character exists; without one, text avoids the separators (nothing could carry them).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from parsers._lexer import Separators
from parsers.models import (
    Address,
    BagTag,
    Contact,
    FlightLeg,
    Manifest,
    MessageHeader,
    Party,
    Stop,
    Totals,
    TravelDocument,
    Traveller,
)

WRITER_DATE = date(2025, 3, 1)  # write_paxlst's default UNB date: the reader's reference for flights
SERVICE_POOL = "'+:?*$()-!\"%&;<>/=,.#@|~^_"
AIRPORTS = ("LHR", "JFK", "FRA", "CDG", "PEK", "ICN", "CAN", "SYD", "DXB", "GRU", "NRT", "ATL", "PRG")
CARRIERS = ("AA", "BA", "LH", "CA", "OK", "UA", "ZH")
COUNTRIES = ("GBR", "USA", "DEU", "CHN", "CZE", "FRA", "D", "XXA", "UNK")
ROLE_CODES = {"FL": "passenger", "FM": "crew", "DDU": "transit_passenger", "DDT": "transit_crew"}
_PLAIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -/."
_HARD = "'+:?"


@st.composite
def separators(draw: st.DrawFn, *, allow_no_release: bool = True) -> Separators:
    """Any legal UNA: printable, non-alphanumeric, all different; release possibly absent."""
    chars = draw(st.permutations(SERVICE_POOL))
    component, element, decimal, release, terminator = chars[:5]
    repetition = draw(st.sampled_from([" ", chars[5]]))
    no_release = allow_no_release and draw(st.booleans())
    return Separators(component=component, element=element, decimal=decimal,
                      release=None if no_release else release, repetition=repetition,
                      terminator=terminator)


def alphabet_for(seps: Separators) -> str:
    """Characters free text may use under these separators."""
    if seps.release is not None:
        return _PLAIN + _HARD + seps.component + seps.element + seps.terminator + seps.release
    forbidden = {seps.component, seps.element, seps.terminator}
    return "".join(c for c in _PLAIN + _HARD if c not in forbidden)


def texts(alphabet: str, max_size: int = 12) -> st.SearchStrategy[str]:
    """Non-empty text: the reader turns an empty element into None, as EDIFACT means it."""
    return st.text(alphabet=alphabet, min_size=1, max_size=max_size)


def _minutes(lo: datetime, hi: datetime) -> st.SearchStrategy[datetime]:
    span = int((hi - lo).total_seconds() // 60)
    return st.integers(0, span).map(lambda m: lo + timedelta(minutes=m))


def _days(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.integers(0, (hi - lo).days).map(lambda d: lo + timedelta(days=d))


def _raw(d: date, long_form: bool) -> str:
    return d.strftime("%Y%m%d" if long_form else "%y%m%d")


def _years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


@st.composite
def legs(draw: st.DrawFn, alphabet: str) -> FlightLeg:
    carrier = draw(st.sampled_from(CARRIERS))
    number = draw(st.integers(1, 9999))
    stops: list[Stop] = []
    lo, hi = datetime(1981, 1, 1), datetime(2069, 12, 31, 23, 59)
    for q in draw(st.lists(st.sampled_from(["125", "87", "92", "130", "22"]), min_size=1, max_size=4)):
        timed = {"125": "189", "87": "232"}.get(q) or (
            draw(st.sampled_from([None, "189", "232"])) if q == "92" else None)
        stop = Stop(qualifier=q, airport=draw(st.sampled_from(AIRPORTS)))
        if timed:
            stop.time_qualifier = timed
            stop.local_time = draw(_minutes(lo, hi))
        stops.append(stop)
    return FlightLeg(transport_stage=draw(st.sampled_from(["20", "34"])), flight_id=f"{carrier}{number}",
                     carrier=carrier, stops=stops)


@st.composite
def documents(draw: st.DrawFn, alphabet: str, travel_day: date) -> TravelDocument:
    doc = TravelDocument(doc_type=draw(st.sampled_from(["P", "V", "I", "IP", "AC"])),
                         number=draw(texts(alphabet)),
                         agency=draw(st.sampled_from([None, "111", "ZZZ"])),
                         issuing_state=draw(st.none() | st.sampled_from(COUNTRIES)))
    if draw(st.booleans()):
        doc.expiry = draw(_days(_years(travel_day, -45), _years(travel_day, 45)))
        doc.expiry_raw = _raw(doc.expiry, draw(st.booleans()))
    if draw(st.booleans()):
        doc.issue_date = draw(_days(_years(travel_day, -99), travel_day))
        doc.issue_date_raw = _raw(doc.issue_date, draw(st.booleans()))
    return doc


@st.composite
def travellers(draw: st.DrawFn, alphabet: str, travel_day: date, decimal_free: bool = True) -> Traveller:
    """One traveller as sent; `decimal_free` is False when '.' cannot appear unreleased in data."""
    function = draw(st.sampled_from(sorted(ROLE_CODES)))
    t = Traveller(role=ROLE_CODES[function], party_function=function, surname=draw(texts(alphabet)),
                  given_names=draw(st.lists(texts(alphabet), max_size=2)))
    opt = st.none() | st.sampled_from(AIRPORTS)
    t.gender = draw(st.none() | st.sampled_from(["M", "F", "X", "U"]))
    if draw(st.booleans()):
        t.date_of_birth = draw(_days(_years(travel_day, -99), travel_day))
        t.date_of_birth_raw = _raw(t.date_of_birth, draw(st.booleans()))
    t.embarkation, t.debarkation, t.clearance = draw(opt), draw(opt), draw(opt)
    t.residence_country = draw(st.none() | st.sampled_from(COUNTRIES))
    if draw(st.booleans()):
        t.birth_country = draw(st.sampled_from(COUNTRIES))
        t.birth_place = draw(st.none() | texts(alphabet))
    t.nationality = draw(st.none() | st.sampled_from(COUNTRIES))
    t.references = draw(st.dictionaries(st.sampled_from(["AVF", "ABO", "SEA", "YZY", "AEA", "CR"]),
                                        st.lists(texts(alphabet), min_size=1, max_size=2), max_size=3))
    t.verified = draw(st.none() | st.booleans())
    if t.role in ("crew", "transit_crew"):
        t.crew_function = draw(st.none() | st.sampled_from(["1", "2", "3"]))
    t.bag_count = draw(st.none() | st.integers(0, 20))
    if draw(st.booleans()):
        halves = st.integers(1, 1999).map(lambda n: n / 2) if decimal_free else st.integers(1, 999).map(float)
        t.bag_weight = draw(halves)
        t.bag_weight_unit = draw(st.sampled_from(["KGM", "LBR"]))
    t.bag_tags = draw(st.lists(st.builds(BagTag, first_tag=texts(alphabet),
                                         count=st.none() | st.integers(1, 99)), max_size=2))
    t.contacts = draw(st.lists(st.builds(Contact, number=texts(alphabet),
                                         channel=st.none() | st.sampled_from(["TE", "FX", "EM"])), max_size=2))
    if draw(st.booleans()):
        t.address = Address(street=draw(texts(alphabet)), city=draw(st.none() | texts(alphabet)),
                            sub_entity=draw(st.none() | texts(alphabet)),
                            postcode=draw(st.none() | texts(alphabet)),
                            country=draw(st.none() | st.sampled_from(COUNTRIES)))
    t.documents = draw(st.lists(documents(alphabet, travel_day), max_size=2))
    return t


def last_departure_day(leg_list: list[FlightLeg]) -> date:
    """The day the reader resolves birth and expiry years against: the last DTM 189 before NAD."""
    day = WRITER_DATE
    for leg in leg_list:
        for s in leg.stops:
            if s.time_qualifier == "189" and s.local_time is not None:
                day = s.local_time.date()
    return day


@st.composite
def manifests(draw: st.DrawFn, seps: Separators | None = None, *, envelope: dict[str, str] | None = None,
              max_travellers: int = 4) -> Manifest:
    """A PAXLST manifest as sent, with text legal under `seps` (default separators if None)."""
    seps = seps or Separators()
    alphabet = alphabet_for(seps)
    env = envelope or {}
    sequence = draw(st.none() | st.integers(1, 99))
    header = MessageHeader(
        message_ref=draw(texts(alphabet, 14)), message_type="PAXLST", version="D",
        release=draw(st.sampled_from(["02B", "05B"])), agency="UN", association=draw(st.sampled_from(["IATA", None])),
        common_access_ref=draw(st.none() | texts(alphabet, 35)), sequence=sequence,
        sequence_flag=draw(st.sampled_from([None, "C", "F"])) if sequence is not None else None,
        sender=env.get("sender"), recipient=env.get("recipient"), interchange_ref=env.get("interchange_ref"),
        application_ref=env.get("application_ref"))
    leg_list = draw(st.lists(legs(alphabet), max_size=3))
    day = last_departure_day(leg_list)
    decimal_free = seps.release is not None or "." not in (seps.component, seps.element, seps.terminator)
    party = None
    if draw(st.booleans()):
        party = Party(function="MS", name=draw(st.none() | texts(alphabet)),
                      identifier=draw(st.none() | texts(alphabet)),
                      contacts=draw(st.lists(st.builds(Contact, number=texts(alphabet),
                                                       channel=st.none() | st.sampled_from(["TE", "FX"])),
                                             max_size=2)))
    transaction_ref = draw(st.none() | texts(alphabet))
    return Manifest(
        header=header, document_code=draw(st.sampled_from(["745", "250", "266"])),
        document_id=draw(st.sampled_from([None, "CP", "XR", "RP", "CL", "CLOB"])),
        transaction_ref=transaction_ref,
        transaction_revision=draw(st.none() | st.sampled_from(["001", "2"])) if transaction_ref else None,
        reporting_party=party, legs=leg_list,
        travellers=draw(st.lists(travellers(alphabet, day, decimal_free), max_size=max_travellers)),
        totals=Totals(passengers=draw(st.none() | st.integers(0, 999)), crew=draw(st.none() | st.integers(0, 99))),
    )


@st.composite
def interchanges(draw: st.DrawFn, *, any_una: bool = True) -> tuple[Separators, list[Manifest]]:
    """Separators plus 1-3 manifests sharing one envelope (as the reader will report it)."""
    seps = draw(separators()) if any_una else Separators()
    alphabet = alphabet_for(seps)
    env = {"sender": draw(texts(alphabet, 35)), "recipient": draw(texts(alphabet, 35)),
           "interchange_ref": draw(texts(alphabet, 14)), "application_ref": "APIS"}
    items = draw(st.lists(manifests(seps, envelope=env), min_size=1, max_size=3))
    return seps, items


# Fields the reader derives rather than reads; a round trip compares everything else.
DERIVED: dict[str, Any] = {
    "parts": True,
    "complete": True,
    "legs": {"__all__": {
        **dict.fromkeys(("flight_number", "departure_airport", "arrival_airport", "departure_local",
                         "departure_utc", "arrival_local", "arrival_utc", "final_destination",
                         "clearance_airport", "segment_position"), True),
        "stops": {"__all__": {"utc_time", "segment_position"}}}},
    "travellers": {"__all__": {
        # whichever normalised-name fields the model has today (derived from surname and given names)
        **dict.fromkeys((k for k in ("name", "full_name", "matching_key") if k in Traveller.model_fields), True),
        "segment_position": True, "documents": {"__all__": {"segment_position"}}}},
}


def sent_view(m: Manifest) -> dict[str, Any]:
    """The manifest as sent: everything except what the reader derives."""
    return m.model_dump(exclude=DERIVED)
