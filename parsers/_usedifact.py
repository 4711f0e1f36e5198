"""Legacy "US EDIFACT" PAXLST (`PAXLST:001:000:NZ`, pre-WCO) to the same Manifest model.

Strategy: a different grammar with one PDT segment per person
(`PDT+P/<docno>:<expiry>:<cc>+<surname>:<given>:<middle>:<YYMMDD>:<sex>+PAX|CRW|ITI+<from>:<to>`),
flight data in TDT/LOC 005,008/DTM 136,132 with a UTC offset. Places are UN/LOCODEs; their
location part stands in for the airport code, and we say so.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from ._budget import Budget
from ._dates import to_date, to_datetime
from ._envelope import RawMessage
from ._names import normalise
from ._paxlst import _add, _v
from .models import Finding, Manifest, Severity

_ROLES = {"PAX": ("passenger", "FL"), "CRW": ("crew", "FM"), "ITI": ("transit_passenger", "DDU")}


def _place(code: str | None) -> str | None:
    if code and len(code) == 5 and code.isalpha():
        return code[2:]
    return code


def _utc(local: datetime | None, offset: str | None) -> datetime | None:
    """`M05` is five hours behind UTC, `P01` one hour ahead."""
    digits = offset[1:] if offset and len(offset) == 3 and offset[0] in "MP" else ""
    if local is None or not offset or not (digits.isascii() and digits.isdigit()):  # "³5".isdigit()
        return None
    hours = int(digits) * (-1 if offset[0] == "M" else 1)
    from datetime import UTC

    return (local - timedelta(hours=hours)).replace(tzinfo=UTC)


def read_usedifact(msg: RawMessage, reference: date, budget: Budget | None = None) -> tuple[Manifest, list[Finding]]:
    own = budget is None
    if budget is None:
        budget = Budget()
    ref = msg.header.message_ref
    findings: list[Finding] = []
    _add(findings, budget, "FMT-LEGACY-US", Severity.INFO, "legacy US EDIFACT PAXLST (001:000) read; "
         "places are UN/LOCODEs", 1, "UNH", ref)
    m: dict[str, Any] = {"header": msg.header, "legs": [], "travellers": [], "document_code": "745"}
    if msg.header.sequence is not None:
        m["parts"] = [msg.header.sequence]
        m["complete"] = msg.header.sequence_flag == "F"
    leg: dict[str, Any] | None = None
    stop: dict[str, Any] | None = None
    travel_day = reference
    for pos, seg in enumerate(msg.segments, 1):
        tag = seg[0][0]
        if tag == "CTA":
            m["reporting_party"] = {"function": _v(seg, 1) or "IC", "name": _v(seg, 2, 1), "contacts": [
                {"number": el[0], "channel": el[1] if len(el) > 1 else None} for el in seg[3:] if el and el[0]]}
        elif tag == "TDT":
            fid = _v(seg, 2)
            carrier = _v(seg, 4)
            leg = {"transport_stage": _v(seg, 3) or "", "flight_id": fid, "carrier": carrier, "stops": [],
                   "segment_position": pos}
            if fid and carrier and fid.startswith(carrier):
                leg["flight_number"] = fid[len(carrier):] or None
            m["legs"].append(leg)
        elif tag == "LOC" and leg is not None:
            q = _v(seg, 1)
            stop = {"qualifier": {"005": "125", "008": "87"}.get(q or "", q or ""),
                    "airport": _place(_v(seg, 2)) or "", "segment_position": pos}
            leg["stops"].append(stop)
            key = "departure_airport" if q == "005" else "arrival_airport" if q == "008" else None
            if key:
                leg[key] = stop["airport"]
        elif tag == "DTM" and stop is not None:
            q, d, t, off = _v(seg, 1), _v(seg, 2), _v(seg, 3), _v(seg, 4)
            local = to_datetime((d or "") + (t or "0000"), "201", reference)
            if local is None:
                _add(findings, budget, "DAT-DATE", Severity.ERROR, f"DTM {q} is not a valid date/time", pos, tag,
                     ref, 12, value=d, element=2)
                continue
            stop["time_qualifier"] = "189" if q == "136" else "232"
            stop["local_time"] = local
            stop["utc_time"] = _utc(local, off)
            if leg is not None:
                which = "departure" if q == "136" else "arrival"
                leg[f"{which}_local"] = local
                leg[f"{which}_utc"] = stop["utc_time"]
            if q == "136":
                travel_day = local.date()
        elif tag == "PDT":
            m["travellers"].append(_person(seg, pos, ref, travel_day, findings, budget))
        elif tag in ("UNH", "UNT", "UNS"):
            continue
        else:
            _add(findings, budget, "STR-UNEXPECTED", Severity.WARNING, f"{tag} not expected in a legacy US PAXLST",
                 pos, tag, ref, 15)
    if own:
        findings.extend(budget.summaries())
    return Manifest.model_validate(m), findings


def _person(seg: list[list[str]], pos: int, ref: str, travel_day: date,
            findings: list[Finding], budget: Budget) -> dict[str, Any]:
    doc_raw = _v(seg, 1) or ""
    doc_type, _, number = doc_raw.partition("/")
    surname, given, middle = _v(seg, 2, 0), _v(seg, 2, 1), _v(seg, 2, 2)
    dob_raw, sex = _v(seg, 2, 3), _v(seg, 2, 4)
    role, function = _ROLES.get(_v(seg, 3) or "", ("other", _v(seg, 3) or ""))
    given_names = [x for x in (given, middle) if x]
    full, key = normalise(surname, given_names)
    person: dict[str, Any] = {
        "role": role, "party_function": function, "surname": surname, "given_names": given_names,
        "full_name": full, "matching_key": key, "gender": sex, "segment_position": pos,
        "embarkation": _place(_v(seg, 4, 0)), "debarkation": _place(_v(seg, 4, 1)),
    }
    if dob_raw:
        dob = to_date(dob_raw, "101", travel_day, past=True)
        person["date_of_birth"], person["date_of_birth_raw"] = dob, dob_raw
        if dob is None:
            _add(findings, budget, "DAT-DATE", Severity.ERROR, "date of birth is not a valid date", pos, "PDT", ref,
                 12, value=dob_raw, element=2)
    expiry_raw, country = _v(seg, 1, 1), _v(seg, 1, 2)
    doc: dict[str, Any] = {"doc_type": doc_type or None, "number": number or None, "segment_position": pos,
                           "issuing_state": country}
    if expiry_raw:
        doc["expiry"] = to_date(expiry_raw, "101", travel_day, past=False)
        doc["expiry_raw"] = expiry_raw
        if doc["expiry"] is None:
            _add(findings, budget, "DAT-DATE", Severity.ERROR, "document expiry is not a valid date", pos, "PDT",
                 ref, 12, value=expiry_raw, element=1)
    person["documents"] = [doc] if number or doc_type else []
    if surname is None:
        _add(findings, budget, "DAT-NAME-MISSING", Severity.ERROR, "traveller without a surname", pos, "PDT", ref, 13)
    return person
