"""The interactive API (iAPI) answer: one board/no-board status per traveller of a request.

Strategy: the status follows from what the processor already knows about each traveller of a
screened manifest: a hit awaiting an officer's review gives 2Z (never 0Z: PNR Directive art. 6(5),
a hit is reviewed by a person before it has effect), an error in the traveller's own segments gives
4Z (resend), anything else 0Z. Errors are placed by segment position with a binary search, so a
request costs travellers × log(errors). A message whose findings overflowed the reader's bound
(`SYN-TOO-MANY-FINDINGS`, no position) may hide an error of any traveller: none of them gets 0Z.
The codes and texts are a profile matter (China NIA values, as implemented by the astra
departure-control system).
"""

from __future__ import annotations

from bisect import bisect_left

from api_engine.service.prepare import Screened
from parsers import TOO_MANY_FINDINGS, Finding, Interchange, MessageHeader, Severity
from parsers.models import Response

__all__ = ["IAPI_ADVISORY", "IAPI_INSUFFICIENT", "IAPI_OK", "IAPI_REJECTED", "iapi_statuses", "whole_request_answer"]

IAPI_OK = ("0Z", "OK TO BOARD")
IAPI_ADVISORY = ("2Z", "ADVISORY - CONTACT AUTHORITY")  # a hit awaits an officer's review (PNR Dir. Art 6(5))
IAPI_INSUFFICIENT = ("4Z", "INSUFFICIENT DATA - RESEND")
IAPI_REJECTED = ("1", "REQUEST NOT PROCESSED - CORRECT AND RESEND")  # header level: ERC 1 (exception)


def iapi_statuses(s: Screened, findings: list[Finding]) -> dict[int | str, tuple[str, str]]:
    """0Z unless a hit awaits review (2Z) or the traveller's data has an error (4Z)."""
    ref = s.manifest.header.message_ref
    errors = [f for f in findings if f.severity is Severity.ERROR and f.message_ref == ref]
    unplaced = any(f.rule == TOO_MANY_FINDINGS for f in errors)  # some errors were counted, not listed
    positions = sorted(p for f in errors if (p := f.segment_position) is not None)
    hit_idx = {h.traveller_id for h in s.hits}
    statuses: dict[int | str, tuple[str, str]] = {}
    travellers = s.manifest.travellers
    for i, t in enumerate(travellers):
        nxt = travellers[i + 1].segment_position if i + 1 < len(travellers) else None
        start = t.segment_position
        own_errors = unplaced
        if start is not None and not own_errors:
            j = bisect_left(positions, start)
            own_errors = j < len(positions) and (nxt is None or positions[j] < nxt)
        if str(i) in hit_idx:
            statuses[i] = IAPI_ADVISORY
        elif own_errors:
            statuses[i] = IAPI_INSUFFICIENT
        else:
            statuses[i] = IAPI_OK
    return statuses


def whole_request_answer(ic: Interchange, findings: list[Finding]) -> bytes:
    """The CUSRES for a request refused as a whole (unreadable, or from a sender it may not use): a header-level
    ERP+1 with ERC 1 and the rules that refused it, so a DCS waiting for a CUSRES gets one (no traveller is
    cleared by it: there is no ERP+2, and 1 applies to every traveller of the message)."""
    from parsers.cusres_writer import write_cusres

    h = ic.header
    first = ic.messages[0] if ic.messages else None
    header = MessageHeader(
        message_ref=first.message_ref if first else "1", message_type="CUSRES",
        version=first.version if first else "D", release=first.release if first else "05B",
        agency=first.agency if first else "UN", association=first.association if first else None,
        common_access_ref=first.common_access_ref if first else None,
        sender=h.recipient, recipient=h.sender, interchange_ref=h.control_ref, application_ref=h.application_ref)
    rules = ", ".join(dict.fromkeys(f.rule for f in findings))[:300]
    code, text = IAPI_REJECTED
    response = Response(header=header, document_code="962", header_status=code,
                        header_text=[text, rules] if rules else [text])
    return write_cusres([response], sender=h.recipient or None, recipient=h.sender or None,
                        control_ref=(h.control_ref or "1")[:14], application_ref=h.application_ref or "IAPI")
