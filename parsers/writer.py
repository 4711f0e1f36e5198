"""Manifest back to PAXLST: for round-trip tests, generators and benchmarks.

Strategy: the inverse of the reader, segment for segment in MIG order, written from the values
as sent (not the normalised ones), so read(write(m)) == m.
"""

from __future__ import annotations

from datetime import date, datetime

from ._lexer import DEFAULT, Separators
from ._writer_util import SegmentWriter, envelope
from .models import FlightLeg, Manifest, Traveller

_ROLE_CODES = {"passenger": "FL", "crew": "FM", "transit_passenger": "DDU", "transit_crew": "DDT"}


def _yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


def _stamp(t: datetime) -> str:
    return t.strftime("%y%m%d%H%M")


def paxlst_segments(m: Manifest, w: SegmentWriter) -> list[str]:
    """UNH..UNT of one manifest."""
    h = m.header
    seq = None
    if h.sequence is not None:
        seq = [f"{h.sequence:02d}", h.sequence_flag]
    segs: list[str] = [
        w.segment("UNH", h.message_ref, ["PAXLST", h.version or "D", h.release or "05B", h.agency or "UN",
                                         h.association], h.common_access_ref, seq),
        w.segment("BGM", m.document_code, m.document_id),
    ]
    if m.transaction_ref:
        segs.append(w.segment("RFF", ["TN", m.transaction_ref, None, None, m.transaction_revision]))
    if m.reporting_party:
        p = m.reporting_party
        segs.append(w.segment("NAD", p.function, [p.identifier], None, [p.name]))
        if p.contacts:
            segs.append(w.segment("COM", *[[c.number, c.channel] for c in p.contacts]))
    for leg in m.legs:
        segs.extend(_leg(leg, w))
    for t in m.travellers:
        segs.extend(_traveller(t, w))
    if m.totals.passengers is not None:
        segs.append(w.segment("CNT", ["42", str(m.totals.passengers)]))
    if m.totals.crew is not None:
        segs.append(w.segment("CNT", ["41", str(m.totals.crew)]))
    segs.append(w.segment("UNT", str(len(segs) + 1), h.message_ref))
    return segs


def _leg(leg: FlightLeg, w: SegmentWriter) -> list[str]:
    out = [w.segment("TDT", leg.transport_stage, leg.flight_id, None, None, [leg.carrier])]
    for s in leg.stops:
        out.append(w.segment("LOC", s.qualifier, [s.airport]))
        if s.local_time is not None and s.time_qualifier:
            out.append(w.segment("DTM", [s.time_qualifier, _stamp(s.local_time), "201"]))
    return out


def _traveller(t: Traveller, w: SegmentWriter) -> list[str]:
    a = t.address
    addr: list[str | None] = [a.street, a.city, a.sub_entity, a.postcode, a.country] if a else []
    out = [w.segment("NAD", t.party_function or _ROLE_CODES.get(t.role, "FL"), None, None,
                     [t.surname, *t.given_names], *addr)]
    if t.gender:
        out.append(w.segment("ATT", "2", None, [t.gender]))
    if t.date_of_birth_raw:
        out.append(w.segment("DTM", ["329", t.date_of_birth_raw]))
    elif t.date_of_birth:
        out.append(w.segment("DTM", ["329", _yymmdd(t.date_of_birth)]))
    if t.bag_count is not None:
        out.append(w.segment("MEA", "CT", None, [None, str(t.bag_count)]))
    if t.bag_weight is not None:
        weight = f"{t.bag_weight:g}"
        out.append(w.segment("MEA", "WT", None, [t.bag_weight_unit or "KGM", weight]))
    if t.verified is not None:
        out.append(w.segment("GEI", "4", "173" if t.verified else "174"))
    for tag in t.bag_tags:
        out.append(w.segment("FTX", "BAG", None, None, [tag.first_tag, str(tag.count) if tag.count else None]))
    for q, v in (("178", t.embarkation), ("179", t.debarkation), ("22", t.clearance),
                 ("174", t.residence_country)):
        if v:
            out.append(w.segment("LOC", q, [v]))
    if t.birth_country or t.birth_place:
        out.append(w.segment("LOC", "180", [t.birth_country, None, None, t.birth_place]))
    if t.contacts:
        out.append(w.segment("COM", *[[c.number, c.channel] for c in t.contacts]))
    if t.crew_function:
        out.append(w.segment("EMP", "1", [t.crew_function, "110", "111"]))
    if t.nationality:
        out.append(w.segment("NAT", "2", [t.nationality]))
    for q, values in t.references.items():
        for v in values:
            out.append(w.segment("RFF", [q, v]))
    for d in t.documents:
        out.append(w.segment("DOC", [d.doc_type, "110", d.agency], [d.number]))
        if d.expiry_raw or d.expiry:
            out.append(w.segment("DTM", ["36", d.expiry_raw or _yymmdd(d.expiry)]))  # type: ignore[arg-type]
        if d.issue_date_raw or d.issue_date:
            out.append(w.segment("DTM", ["182", d.issue_date_raw or _yymmdd(d.issue_date)]))  # type: ignore[arg-type]
        if d.issuing_state:
            out.append(w.segment("LOC", "91", [d.issuing_state]))
    return out


def write_paxlst(
    manifests: list[Manifest] | Manifest,
    *,
    separators: Separators = DEFAULT,
    sender: str | None = None,
    recipient: str | None = None,
    control_ref: str | None = None,
    prepared: datetime | None = None,
    syntax_id: str = "UNOA",
    una: bool = True,
    group: bool = True,
    newline: bool = True,
) -> bytes:
    """A whole interchange holding the given manifests, with correct control counts."""
    if isinstance(manifests, Manifest):
        manifests = [manifests]
    w = SegmentWriter(separators)
    bodies = [paxlst_segments(m, w) for m in manifests]
    first = manifests[0].header if manifests else None
    sender = sender or (first.sender if first else None) or "CARRIER"
    recipient = recipient or (first.recipient if first else None) or "GOVAPI"
    control_ref = control_ref or (first.interchange_ref if first else None) or "1"
    return envelope(w, bodies, sender=sender, recipient=recipient, control_ref=control_ref,
                    prepared=prepared or datetime(2025, 3, 1, 12, 0), syntax_id=syntax_id,
                    application_ref="APIS", group_type="PAXLST" if group else None, una=una,
                    newline=newline)
