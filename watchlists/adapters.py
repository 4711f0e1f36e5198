"""From the parser's manifests to what screening and risk rules read.

Strategy: one place maps the domain model (parsers.models) onto `ScreeningQuery` and onto the
rule vocabulary (`watchlists.rules.ATTRIBUTES`), so neither side knows the other's internals.
A traveller's screening id is `<flight key>#<position in the manifest>`: readable by an officer and
stable for one manifest version, without personal data.

Rule attributes are computed for every traveller of every manifest, so what depends on the
manifest only (the journey, party sizes, the travel day) is derived once in a `RuleContext` and
shared; per traveller only a dict of about twenty entries is built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any

from parsers._codelists import airport_country_alpha3
from parsers.models import FlightLeg, Manifest, TravelDocument, Traveller
from watchlists.models import ScreeningQuery

_VISAS = frozenset({"V"})


def primary_document(t: Traveller) -> TravelDocument | None:
    """The travel document a border check relies on: the first one that is not a visa."""
    return next((d for d in t.documents if d.doc_type not in _VISAS), t.documents[0] if t.documents else None)


def traveller_id(manifest: Manifest, index: int) -> str:
    return f"{manifest.flight_key}#{index + 1}"


def query_from_traveller(t: Traveller, tid: str) -> ScreeningQuery:
    doc = primary_document(t)
    return ScreeningQuery(
        id=tid,
        surname=t.surname,
        given_names=" ".join(t.given_names) or None,
        date_of_birth=t.date_of_birth.isoformat() if t.date_of_birth else None,
        nationality=t.nationality,
        gender=t.gender,
        document_number=doc.number if doc else None,
        document_country=doc.issuing_state if doc else None,
    )


def queries_from_manifest(manifest: Manifest) -> list[ScreeningQuery]:
    return [query_from_traveller(t, traveller_id(manifest, i)) for i, t in enumerate(manifest.travellers)]


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What every traveller of one manifest shares: the travel day, the flight.* attributes, party sizes."""

    travel_day: date
    flight: Mapping[str, Any]
    party_sizes: Mapping[str, int]


def _leg_points(leg: FlightLeg) -> list[str]:
    """The airports one leg touches in order: departure, transit stops (LOC 92), arrival."""
    points: list[str] = []
    codes = [leg.departure_airport, *(s.airport for s in leg.stops if s.qualifier == "92"), leg.arrival_airport]
    for code in codes:
        if code and (not points or points[-1] != code):
            points.append(code)
    return points


def flight_attributes(legs: Sequence[FlightLeg]) -> dict[str, Any]:
    """The flight.* attributes of a journey; `flight.legs` holds every hop, also those inside a 92 chain."""
    first = legs[0] if legs else None
    last = legs[-1] if legs else None
    dep = first.departure_airport if first else None
    arr = last.arrival_airport if last else None
    hops: list[str] = []
    journey: list[str] = []
    for leg in legs:
        points = _leg_points(leg)
        hops.extend(f"{a}-{b}" for a, b in pairwise(points))
        journey.extend(p for p in points if not journey or journey[-1] != p)
    via = frozenset(journey[1:-1])
    via_countries = frozenset(c for c in map(airport_country_alpha3, via) if c)
    return {
        "flight.departure_country": airport_country_alpha3(dep) if dep else None,
        "flight.arrival_country": airport_country_alpha3(arr) if arr else None,
        "flight.departure_airport": dep,
        "flight.arrival_airport": arr,
        "flight.carrier": last.carrier if last else None,
        "flight.route": f"{dep}-{arr}" if dep and arr else None,
        "flight.legs": frozenset(hops) if hops else None,
        "flight.via_airports": via if journey else None,
        "flight.via_countries": via_countries if journey else None,
        "flight.transit": len(journey) > 2 if journey else None,
    }


def rule_context(manifest: Manifest, *, today: date | None = None,
                 party_sizes: Mapping[str, int] | None = None) -> RuleContext:
    """Derive once per manifest what `rule_attributes` shares between its travellers."""
    first = manifest.legs[0] if manifest.legs else None
    day = first.departure_local.date() if first and first.departure_local else (today or date.today())
    if party_sizes is None:
        party_sizes = Counter(x.avf for x in manifest.travellers if x.avf)
    return RuleContext(travel_day=day, flight=flight_attributes(manifest.legs), party_sizes=party_sizes)


_CREW_ROLES = frozenset({"crew", "transit_crew"})
_TRANSIT_ROLES = frozenset({"transit_passenger", "transit_crew"})


def rule_attributes(manifest: Manifest, t: Traveller, *, today: date | None = None,
                    party_sizes: Mapping[str, int] | None = None,
                    context: RuleContext | None = None) -> dict[str, Any]:
    """The rule vocabulary for one traveller on one flight; unknown values stay None (never match).

    Pass `context` (from `rule_context`) when attributing many travellers of one manifest: without
    it the journey and the party sizes are derived again for this traveller alone. The keys are
    exactly `watchlists.rules.FILLED_BY["paxlst"]`.
    """
    ctx = context or rule_context(manifest, today=today, party_sizes=party_sizes)
    day = ctx.travel_day
    doc = primary_document(t)
    avf = t.avf
    party = ctx.party_sizes.get(avf) if avf else None
    role = t.role
    dob = t.date_of_birth
    bags = t.bag_count
    if bags is None and t.bag_tags:
        bags = sum(tag.count or 1 for tag in t.bag_tags)
    issued = doc.issue_date if doc else None
    expiry = doc.expiry if doc else None
    return {
        **ctx.flight,
        "traveller.nationality": t.nationality,
        "traveller.age": round((day - dob).days / 365.25, 1) if dob else None,
        "traveller.gender": t.gender,
        "traveller.type": role,
        "traveller.crew": role in _CREW_ROLES,
        "traveller.transit": role in _TRANSIT_ROLES,
        "traveller.party_size": float(party) if party is not None else None,
        "traveller.travelling_alone": party == 1 if party is not None else None,
        "traveller.bag_count": float(bags) if bags is not None else None,
        "traveller.verified": t.verified,
        "document.type": doc.doc_type if doc else None,
        "document.issuing_country": doc.issuing_state if doc else None,
        "document.issued_days": float((day - issued).days) if issued else None,
        "document.expires_days": float((expiry - day).days) if expiry else None,
    }


def manifest_rule_attributes(manifest: Manifest, *, today: date | None = None) -> list[dict[str, Any]]:
    """`rule_attributes` of every traveller of a manifest, in manifest order, sharing one context."""
    ctx = rule_context(manifest, today=today)
    return [rule_attributes(manifest, t, context=ctx) for t in manifest.travellers]
