"""CUSRES writer: the iAPI answer (962), an unsolicited change (132) or its acknowledgement (312).

Strategy: the inverse of `_cusres.read_cusres`, segment for segment in the order of brief §3.2
(BGM, RFF+TN, RFF+AF with DTM 189/232 and LOC 125/87 per flight, then ERP groups), written
from the Response model so that read(write(r)) == r. `cusres_for_manifest` builds that model
from the request, echoing what the carrier's DCS matches on (UNH 0062/0068/S010, RFF+TN, AVF
and ABO per traveller).
"""

from __future__ import annotations

from datetime import datetime

from ._lexer import DEFAULT, Separators
from ._writer_util import SegmentWriter, envelope
from .models import Manifest, MessageHeader, Response, ResponseFlight, ResponseTraveller

# References echoed first, in this order, so the DCS finds its own keys where it expects them.
_ECHO_FIRST = ("AVF", "ABO")


def _stamp(t: datetime) -> str:
    return t.strftime("%y%m%d%H%M")


def cusres_segments(r: Response, w: SegmentWriter) -> list[str]:
    """UNH..UNT of one CUSRES."""
    h = r.header
    seq = [f"{h.sequence:02d}", h.sequence_flag] if h.sequence is not None else None
    segs = [
        w.segment("UNH", h.message_ref, ["CUSRES", h.version or "D", h.release or "05B", h.agency or "UN",
                                         h.association], h.common_access_ref, seq),
        w.segment("BGM", r.document_code, r.document_id),
    ]
    if r.transaction_ref is not None:
        segs.append(w.segment("RFF", ["TN", r.transaction_ref]))
    for f in r.flights:
        segs.append(w.segment("RFF", ["AF", f.flight_id]))
        if f.departure_local is not None:
            segs.append(w.segment("DTM", ["189", _stamp(f.departure_local), "201"]))
        if f.arrival_local is not None:
            segs.append(w.segment("DTM", ["232", _stamp(f.arrival_local), "201"]))
        if f.departure_airport is not None:
            segs.append(w.segment("LOC", "125", [f.departure_airport]))
        if f.arrival_airport is not None:
            segs.append(w.segment("LOC", "87", [f.arrival_airport]))
    if r.header_status is not None or r.header_text:
        segs.append(w.segment("ERP", "1"))
        if r.header_status is not None:
            segs.append(w.segment("ERC", r.header_status))
        segs.extend(w.segment("FTX", "AAP", None, None, [text]) for text in r.header_text)
    for t in r.travellers:
        segs.append(w.segment("ERP", "2"))
        order = [q for q in _ECHO_FIRST if q in t.references]
        order += [q for q in t.references if q not in _ECHO_FIRST]
        for q in order:
            segs.extend(w.segment("RFF", [q, v]) for v in t.references[q])
        if t.status is not None:
            segs.append(w.segment("ERC", t.status))
        segs.extend(w.segment("FTX", "AAP", None, None, [text]) for text in t.text)
    segs.append(w.segment("UNT", str(len(segs) + 1), h.message_ref))
    return segs


def write_cusres(
    responses: list[Response] | Response,
    *,
    separators: Separators = DEFAULT,
    sender: str | None = None,
    recipient: str | None = None,
    control_ref: str | None = None,
    prepared: datetime | None = None,
    syntax_id: str = "UNOA",
    application_ref: str | None = None,
    una: bool = True,
    group: bool = True,
    newline: bool = True,
) -> bytes:
    """A whole interchange holding the given responses, with correct control counts.

    Envelope values default to those the first response's header carries (as the reader fills
    them), then to "GOVAPI" → "CARRIER", reference "1", application "IAPI".
    """
    if isinstance(responses, Response):
        responses = [responses]
    w = SegmentWriter(separators)
    bodies = [cusres_segments(r, w) for r in responses]
    first = responses[0].header if responses else None
    return envelope(
        w, bodies,
        sender=sender or (first.sender if first else None) or "GOVAPI",
        recipient=recipient or (first.recipient if first else None) or "CARRIER",
        control_ref=control_ref or (first.interchange_ref if first else None) or "1",
        prepared=prepared or datetime(2025, 3, 1, 12, 0),
        syntax_id=syntax_id,
        application_ref=application_ref or (first.application_ref if first else None) or "IAPI",
        group_type="CUSRES" if group else None, una=una, newline=newline,
    )


def cusres_for_manifest(
    manifest: Manifest,
    statuses: dict[int | str, tuple[str, str]],
    document_code: str = "962",
) -> Response:
    """The government's answer to an iAPI request: one ERP group per traveller given a status.

    `statuses` maps a traveller (its index in `manifest.travellers`, or its RFF+ABO reference)
    to (ERC status such as "0Z"/"1Z"/"2Z"/"4Z", free text). Travellers without a status are left
    out: the answer covers only what was decided. The envelope is reversed (we answer the
    sender); the UNH reference, common access reference and sequence are echoed because the
    DCS pairs request and answer by them.
    """
    mh = manifest.header
    header = MessageHeader(
        message_ref=mh.message_ref, message_type="CUSRES", version=mh.version or "D",
        release=mh.release or "05B", agency=mh.agency or "UN", association=mh.association,
        common_access_ref=mh.common_access_ref, sequence=mh.sequence, sequence_flag=mh.sequence_flag,
        sender=mh.recipient, recipient=mh.sender, interchange_ref=mh.interchange_ref,
        application_ref=mh.application_ref,
    )
    flights = [ResponseFlight(flight_id=leg.flight_id, departure_local=leg.departure_local,
                              arrival_local=leg.arrival_local, departure_airport=leg.departure_airport,
                              arrival_airport=leg.arrival_airport) for leg in manifest.legs]
    travellers: list[ResponseTraveller] = []
    for i, t in enumerate(manifest.travellers):
        decided = statuses.get(i)
        if decided is None and t.abo is not None:
            decided = statuses.get(t.abo)
        if decided is None:
            continue
        status, text = decided
        refs = {q: list(t.references[q]) for q in _ECHO_FIRST if t.references.get(q)}
        travellers.append(ResponseTraveller(references=refs, status=status, text=[text] if text else []))
    return Response(header=header, document_code=document_code, transaction_ref=manifest.transaction_ref,
                    flights=flights, travellers=travellers)
