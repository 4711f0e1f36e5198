"""From the parser's manifests to what screening and risk rules read.

Strategy: one place maps the domain model (parsers.models) onto `ScreeningQuery` and onto the
rule vocabulary (`watchlists.rules.ATTRIBUTES`), so neither side knows the other's internals.
A traveller's screening id is `<flight key>#<position in the manifest>`: readable by an officer and
stable for one manifest version, without personal data.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from parsers._codelists import airport_country_alpha3
from parsers.models import Manifest, TravelDocument, Traveller
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


def rule_attributes(manifest: Manifest, t: Traveller, *, today: date | None = None,
                    party_sizes: Counter[str] | None = None) -> dict[str, Any]:
    """The rule vocabulary for one traveller on one flight; unknown values stay None (never match)."""
    leg = manifest.legs[-1] if manifest.legs else None
    first = manifest.legs[0] if manifest.legs else None
    departure_day = first.departure_local.date() if first and first.departure_local else (today or date.today())
    doc = primary_document(t)
    if party_sizes is None:
        party_sizes = Counter(x.avf for x in manifest.travellers if x.avf)
    party = party_sizes.get(t.avf) if t.avf else None
    dep = first.departure_airport if first else None
    arr = leg.arrival_airport if leg else None
    return {
        "traveller.nationality": t.nationality,
        "traveller.age": round((departure_day - t.date_of_birth).days / 365.25, 1) if t.date_of_birth else None,
        "traveller.gender": t.gender,
        "traveller.travelling_alone": party == 1 if party is not None else None,
        "traveller.type": t.role,
        "document.type": doc.doc_type if doc else None,
        "document.issuing_country": doc.issuing_state if doc else None,
        "document.issued_days": float((departure_day - doc.issue_date).days) if doc and doc.issue_date else None,
        "document.expires_days": float((doc.expiry - departure_day).days) if doc and doc.expiry else None,
        "flight.departure_country": airport_country_alpha3(dep) if dep else None,
        "flight.arrival_country": airport_country_alpha3(arr) if arr else None,
        "flight.departure_airport": dep,
        "flight.arrival_airport": arr,
        "flight.carrier": leg.carrier if leg else None,
        "flight.route": f"{dep}-{arr}" if dep and arr else None,
        "booking.party_size": float(party) if party is not None else None,
        # PAXLST carries no fare or return data: these stay unknown unless PNR data is joined.
        "booking.one_way": None,
        "booking.days_before_departure": None,
        "booking.paid_cash": None,
    }
