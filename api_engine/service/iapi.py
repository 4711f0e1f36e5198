"""The interactive API (iAPI) answer: one board/no-board status per traveller of a request.

Strategy: the status follows from what the processor already knows about each traveller of a
screened manifest: a hit awaiting an officer's review gives 2Z (never 0Z: PNR Directive art. 6(5),
a hit is reviewed by a person before it has effect), an error in the traveller's own segments gives
4Z (resend), anything else 0Z. Errors are placed by segment position with a binary search, so a
request costs travellers × log(errors). A message whose findings overflowed the reader's bound
(`SYN-TOO-MANY-FINDINGS`, no position) may hide an error of any traveller: none of them gets 0Z.
The codes and texts are the profile's (`[iapi]`; by default China NIA values, as implemented by
the astra departure-control system), and so is the status answered when screening cannot finish
within the profile's time budget (`fallback_answer`; never the OK status unless the profile says so).
"""

from __future__ import annotations

import base64
import hashlib
from bisect import bisect_left

from prometheus_client import Counter

from api_engine.service.events import IapiFallbackEvent, InterchangeRef, OutputEvent, event_id
from api_engine.service.prepare import Screened
from parsers import TOO_MANY_FINDINGS, Finding, Interchange, InterchangeHeader, MessageHeader, Severity
from parsers.models import Response
from parsers.profile import IapiPolicy

_DEFAULT = IapiPolicy()

__all__ = ["IAPI_FALLBACKS", "fallback_answer", "fallback_event", "iapi_statuses", "read_unb", "whole_request_answer"]

_HEAD_BYTES = 4096  # enough for the UNB and UNH of any request
IAPI_FALLBACKS = Counter("api_engine_iapi_fallbacks", "iAPI requests answered with the profile's fallback status "
                         "because the screened answer was not ready within the budget", ["transport"])


def iapi_statuses(s: Screened, findings: list[Finding], policy: IapiPolicy = _DEFAULT,
                  ) -> dict[int | str, tuple[str, str]]:
    """OK (0Z) unless a hit awaits review (advisory, 2Z) or the traveller's data has an error (4Z)."""
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
            statuses[i] = policy.advisory.pair()
        elif own_errors:
            statuses[i] = policy.insufficient.pair()
        else:
            statuses[i] = policy.ok.pair()
    return statuses


def whole_request_answer(ic: Interchange, findings: list[Finding], policy: IapiPolicy = _DEFAULT) -> bytes:
    """The CUSRES for a request refused as a whole (unreadable, or from a sender it may not use): a header-level
    ERP+1 with the profile's refusal status (ERC 1) and the rules that refused it, so a DCS waiting for a CUSRES
    gets one (no traveller is cleared by it: there is no ERP+2, and the status applies to every traveller)."""
    rules = ", ".join(dict.fromkeys(f.rule for f in findings))[:300]
    code, text = policy.rejected.pair()
    return _header_answer(ic, code, [text, rules] if rules else [text])


def fallback_answer(ic: Interchange, policy: IapiPolicy = _DEFAULT) -> bytes:
    """The CUSRES sent when a request's answer is not ready within the profile's time budget: the fallback
    status at header level, for every traveller of the request (the screened answer is what a resend gets)."""
    code, text = policy.fallback.pair()
    return _header_answer(ic, code, [text])


def _header_answer(ic: Interchange, code: str, texts: list[str]) -> bytes:
    from parsers.cusres_writer import write_cusres

    h = ic.header
    first = ic.messages[0] if ic.messages else None
    header = MessageHeader(
        message_ref=first.message_ref if first else "1", message_type="CUSRES",
        version=first.version if first else "D", release=first.release if first else "05B",
        agency=first.agency if first else "UN", association=first.association if first else None,
        common_access_ref=first.common_access_ref if first else None,
        sender=h.recipient, recipient=h.sender, interchange_ref=h.control_ref, application_ref=h.application_ref)
    response = Response(header=header, document_code="962", header_status=code, header_text=texts)
    return write_cusres([response], sender=h.recipient or None, recipient=h.sender or None,
                        control_ref=(h.control_ref or "1")[:14], application_ref=h.application_ref or "IAPI")


def read_unb(value: bytes) -> InterchangeHeader | None:
    """A record's UNB, read from its first bytes only (the whole record is read once, by the processor)."""
    from parsers import read_interchange

    try:
        return read_interchange(value[:_HEAD_BYTES]).header
    except Exception:  # the reader promises values, not exceptions; the processor then dead-letters it
        return None


def fallback_event(value: bytes, record: str, policy: IapiPolicy, *, interactive: bool) -> OutputEvent | None:
    """The fallback answer for the record with id `record` (`prepare.record_id`), on the acks topic, if it is an
    iAPI request (UNB 0026 = IAPI, or an `interactive` profile); None for anything else, or for bytes whose UNB
    cannot be read (the processor refuses those with a header-level answer of its own)."""
    h = read_unb(value)
    if h is None or not (interactive or (h.application_ref or "").upper() == "IAPI"):
        return None
    cusres = fallback_answer(Interchange(header=h), policy)
    content_hash = hashlib.sha256(value).hexdigest()
    ev = IapiFallbackEvent(
        event_id=event_id(record, h.sender, h.control_ref, content_hash, "iapi_fallback", 0),
        interchange=InterchangeRef(sender=h.sender, recipient=h.recipient, interchange_ref=h.control_ref,
                                   application_ref=h.application_ref, content_hash=content_hash),
        budget_ms=policy.answer_budget_ms, cusres=cusres.decode("latin-1"),
        cusres_base64=base64.b64encode(cusres).decode())
    return OutputEvent(kind="acks", key=(h.sender or "").encode(), value=ev.model_dump_json().encode(),
                       event_id=ev.event_id)
