"""CUSRES body to a Response: the interactive API answer and its acknowledgement.

Strategy: the same one-pass style as the PAXLST reader. RFF+AF opens a flight echo (with its
DTM/LOC), ERP opens a header- (1) or traveller-level (2) status group whose RFF, ERC and FTX
belong to it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ._budget import Budget
from ._dates import to_datetime
from ._envelope import RawMessage
from ._paxlst import _add, _v
from .models import Finding, Response, Severity


def read_cusres(msg: RawMessage, reference: date, budget: Budget | None = None) -> tuple[Response, list[Finding]]:
    own = budget is None
    if budget is None:
        budget = Budget()
    ref = msg.header.message_ref
    findings: list[Finding] = []
    r: dict[str, Any] = {"header": msg.header, "flights": [], "travellers": [], "header_text": []}
    flight: dict[str, Any] | None = None
    group: dict[str, Any] | None = None
    level: str | None = None
    for pos, seg in enumerate(msg.segments, 1):
        tag = seg[0][0]
        if tag == "BGM":
            r["document_code"] = _v(seg, 1)
            r["document_id"] = _v(seg, 2)
        elif tag == "ERP":
            level = _v(seg, 1)
            if level == "2":
                group = {"references": {}, "text": [], "segment_position": pos}
                r["travellers"].append(group)
            else:
                group = None
        elif tag == "RFF":
            q, val = _v(seg, 1), _v(seg, 1, 1)
            if group is not None and q and val:
                group["references"].setdefault(q, []).append(val)
            elif q == "TN":
                r["transaction_ref"] = val
            elif q == "AF":
                flight = {"flight_id": val}
                r["flights"].append(flight)
            elif q and val and level == "1":
                pass
        elif tag == "ERC":
            status = _v(seg, 1)
            if group is not None:
                group["status"] = status
            else:
                r["header_status"] = status
        elif tag == "FTX":
            text = ":".join(c for c in (seg[4] if len(seg) > 4 else []) if c)
            if group is not None:
                group["text"].append(text)
            else:
                r["header_text"].append(text)
        elif tag == "DTM" and flight is not None and group is None:
            q, val, fmt = _v(seg, 1), _v(seg, 1, 1), _v(seg, 1, 2)
            t = to_datetime(val or "", fmt, reference)
            if t is None:
                _add(findings, budget, "DAT-DATE", Severity.ERROR, f"DTM {q} is not a valid date/time", pos, tag,
                     ref, 12, value=val, element=1)
            elif q == "189":
                flight["departure_local"] = t
            elif q == "232":
                flight["arrival_local"] = t
        elif tag == "LOC" and flight is not None and group is None:
            q, place = _v(seg, 1), _v(seg, 2)
            if q == "125":
                flight["departure_airport"] = place
            elif q == "87":
                flight["arrival_airport"] = place
            elif q == "92":  # routing airports of a progressive leg: the first departs, the next arrives
                key = "departure_airport" if "departure_airport" not in flight else "arrival_airport"
                flight[key] = place
            else:
                _add(findings, budget, "STR-UNEXPECTED", Severity.WARNING,
                     f"LOC qualifier {q} in a CUSRES flight is not read", pos, tag, ref,
                     code=14, value=q)
        elif tag in ("UNH", "UNT"):
            pass
        else:
            _add(findings, budget, "STR-UNEXPECTED", Severity.WARNING, f"{tag} not expected in CUSRES", pos, tag,
                 ref, code=15)
    if own:
        findings.extend(budget.summaries())
    return Response.model_validate(r), findings
