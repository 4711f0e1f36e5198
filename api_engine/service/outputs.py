"""The output events of one record, built with deterministic ids and minimised before they are kept.

Strategy: an event's id is a hash of the record, the interchange, the kind and its rank among the
record's events of that kind (`events.event_id`), so a replay after a crash rebuilds the same ids
and a consumer that deduplicates by id sees nothing new. Every event passes the consumer's
minimisation declaration (`api_engine.protection.minimise`) before it is stored or produced: only
declared fields leave.
"""

from __future__ import annotations

import base64
from typing import Any

from api_engine.protection.minimise import minimise_model
from api_engine.service.events import (
    AckEvent,
    AlertEvent,
    FindingView,
    FlightRef,
    HitFeature,
    IdentityView,
    InterchangeRef,
    OutputEvent,
    OutputKind,
    WatchlistRef,
    event_id,
)
from api_engine.service.prepare import Prepared, identity
from api_engine.service.screening import HitLike
from api_engine.store import StoredOutput
from parsers import Finding, Manifest, Traveller

__all__ = ["LANE", "Outputs", "ack_event", "alert_event", "finding_view", "flight_ref", "to_event"]

LANE = "border"  # purpose lane (brief §5.5): this pipeline serves border control (Reg. 2025/12)


class Outputs:
    """Collects the events of one record with their deterministic ids."""

    def __init__(self, rid: str, prep: Prepared) -> None:
        self.rid, self.prep = rid, prep
        self.items: list[StoredOutput] = []
        self._index: dict[str, int] = {}

    def next_id(self, kind: OutputKind) -> str:
        i = self._index.get(kind, 0)
        self._index[kind] = i + 1
        return event_id(self.rid, self.prep.sender, self.prep.interchange_ref, self.prep.content_hash, kind, i)

    def add(self, kind: OutputKind, key: bytes, model: Any) -> None:
        # Minimised before it is stored or produced: only what the consumer declares leaves.
        self.items.append(StoredOutput(kind=kind, key=key, value=minimise_model(kind, model),
                                       event_id=model.event_id))


def flight_ref(m: Manifest) -> FlightRef:
    leg = m.legs[-1] if m.legs else None
    return FlightRef(
        flight_key=m.flight_key, flight_id=leg.flight_id if leg else None, carrier=leg.carrier if leg else None,
        departure_airport=leg.departure_airport if leg else None,
        arrival_airport=leg.arrival_airport if leg else None,
        departure_local=leg.departure_local if leg else None, arrival_local=leg.arrival_local if leg else None,
        common_access_ref=m.header.common_access_ref)


def finding_view(f: Finding) -> FindingView:
    return FindingView(rule=f.rule, severity=f.severity.value, message=f.message,
                       segment_position=f.segment_position, segment_tag=f.segment_tag, message_ref=f.message_ref)


def ack_event(out: Outputs, iref: InterchangeRef, contrl: bytes, *, accepted: bool,
              duplicate: bool = False, cusres: bytes | None = None) -> AckEvent:
    return AckEvent(
        event_id=out.next_id("acks"), interchange=iref, accepted=accepted, duplicate=duplicate,
        contrl=contrl.decode("latin-1"), contrl_base64=base64.b64encode(contrl).decode(),
        cusres=cusres.decode("latin-1") if cusres is not None else None,
        cusres_base64=base64.b64encode(cusres).decode() if cusres is not None else None)


def alert_event(out: Outputs, flight: FlightRef, manifest_uid: str, idx: int, traveller: Traveller,
                h: HitLike) -> AlertEvent:
    """One hit as officers see it: the traveller (minimised identity), the entry, the score and why."""
    explanation = [HitFeature(feature=f.feature, outcome=f.outcome, contribution=f.contribution,
                              detail=f.detail) for f in getattr(h, "explanation", [])]
    explain = getattr(h, "explain", None)
    category = getattr(h, "category", None)
    return AlertEvent(
        event_id=out.next_id("alerts"), flight=flight, traveller_ref=f"{manifest_uid}:{idx}",
        role=traveller.role, identity=IdentityView.model_validate(identity(traveller)),
        watchlist=WatchlistRef(list=str(getattr(h, "list", "")), entry_id=h.entry_id,
                               category=str(category.value if hasattr(category, "value") else category)
                               if category is not None else None,
                               matched_name=getattr(h, "matched_name", None)),
        score=h.score, threshold=getattr(h, "threshold", None), explanation=explanation,
        explanation_text=explain() if callable(explain) else "", manifest_uid=manifest_uid, lane=LANE)


def to_event(o: StoredOutput) -> OutputEvent:
    kind: OutputKind = o.kind  # type: ignore[assignment]  # written by us from OutputKind
    return OutputEvent(kind=kind, key=o.key, value=o.value, event_id=o.event_id)
