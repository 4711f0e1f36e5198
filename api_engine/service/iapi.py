"""The interactive API (iAPI) answer: one board/no-board status per traveller of a request.

Strategy: the status follows from what the processor already knows about each traveller of a
screened manifest: a hit awaiting an officer's review gives 2Z (never 0Z: PNR Directive art. 6(5),
a hit is reviewed by a person before it has effect), an error in the traveller's own segments gives
4Z (resend), anything else 0Z. The codes and texts are a profile matter (China NIA values, as
implemented by the astra departure-control system).
"""

from __future__ import annotations

from api_engine.service.prepare import Screened
from parsers import Finding, Severity

__all__ = ["IAPI_ADVISORY", "IAPI_INSUFFICIENT", "IAPI_OK", "iapi_statuses"]

IAPI_OK = ("0Z", "OK TO BOARD")
IAPI_ADVISORY = ("2Z", "ADVISORY - CONTACT AUTHORITY")  # a hit awaits an officer's review (PNR Dir. Art 6(5))
IAPI_INSUFFICIENT = ("4Z", "INSUFFICIENT DATA - RESEND")


def iapi_statuses(s: Screened, findings: list[Finding]) -> dict[int | str, tuple[str, str]]:
    """0Z unless a hit awaits review (2Z) or the traveller's data has an error (4Z)."""
    ref = s.manifest.header.message_ref
    bad_positions = {f.segment_position for f in findings
                     if f.severity is Severity.ERROR and f.message_ref == ref}
    hit_idx = {h.traveller_id for h in s.hits}
    statuses: dict[int | str, tuple[str, str]] = {}
    travellers = s.manifest.travellers
    for i, t in enumerate(travellers):
        nxt = travellers[i + 1].segment_position if i + 1 < len(travellers) else None
        start = t.segment_position
        own_errors = start is not None and any(
            p is not None and p >= start and (nxt is None or p < nxt) for p in bad_positions)
        if str(i) in hit_idx:
            statuses[i] = IAPI_ADVISORY
        elif own_errors:
            statuses[i] = IAPI_INSUFFICIENT
        else:
            statuses[i] = IAPI_OK
    return statuses
