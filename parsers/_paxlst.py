"""PAXLST message body to a Manifest.

Strategy: one pass, a small state machine (header → legs → travellers → documents), dispatch
by tag, plain dicts, then models built straight from those dicts (see `_manifest`). The MIG's
group order (NAD ATT DTM MEA GEI FTX LOC COM EMP NAT RFF, then DOC groups) is checked as we go,
tolerating missing segments but reporting reordering. Values stay as sent; derived values sit
beside them.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from ._budget import Budget
from ._codelists import ROLES
from ._dates import local_to_utc, to_date, to_datetime
from ._envelope import RawMessage
from ._lexer import Segment
from ._names import normalise
from .models import (
    Address,
    BagTag,
    Contact,
    Finding,
    FlightLeg,
    Manifest,
    Party,
    Severity,
    Stop,
    Totals,
    TravelDocument,
    Traveller,
    constructor,
)

# Rank of each tag inside the traveller group (SG4), for order checks.
_SG4_ORDER = {"NAD": 0, "ATT": 1, "DTM": 2, "MEA": 3, "GEI": 4, "FTX": 5, "LOC": 6, "COM": 7, "EMP": 8,
              "NAT": 9, "RFF": 10, "DOC": 11}
_R_ATT, _R_DTM, _R_MEA, _R_GEI, _R_FTX, _R_LOC, _R_COM, _R_EMP, _R_NAT, _R_RFF, _R_DOC = (
    _SG4_ORDER[t] for t in ("ATT", "DTM", "MEA", "GEI", "FTX", "LOC", "COM", "EMP", "NAT", "RFF", "DOC"))
_NO_ELEMENT: list[str] = []  # read only


def _v(seg: Segment, i: int, j: int = 0) -> str | None:
    if len(seg) > i:
        el = seg[i]
        if len(el) > j:
            v = el[j]
            return v if v else None
    return None


def _f(rule: str, sev: Severity, msg: str, pos: int, tag: str, ref: str, code: int | None = None,
       value: str | None = None, element: int | None = None) -> Finding:
    return Finding(rule=rule, severity=sev, message=msg, segment_position=pos, segment_tag=tag,
                   contrl_error=code, message_ref=ref, value=value, element=element, level="message")


def _add(out: list[Finding], budget: Budget, rule: str, sev: Severity, msg: str, pos: int, tag: str, ref: str,
         code: int | None = None, value: str | None = None, element: int | None = None) -> None:
    """`_f`, built only when `budget` has room left for message `ref`."""
    if budget.keep(rule, sev, ref):
        out.append(_f(rule, sev, msg, pos, tag, ref, code, value, element))


def _order(out: list[Finding], budget: Budget, tag: str, pos: int, ref: str) -> None:
    if budget.keep("STR-SG4-ORDER", Severity.WARNING, ref):
        out.append(_f("STR-SG4-ORDER", Severity.WARNING, f"{tag} out of the MIG order inside the traveller group",
                      pos, tag, ref, code=15))


def read_paxlst(msg: RawMessage, reference: date, budget: Budget | None = None) -> tuple[Manifest, list[Finding]]:
    """Read one PAXLST body. `reference` resolves two-digit years before any flight date is known.

    Findings count against `budget` (the caller's, which then adds the summaries; else one of this
    call's own)."""
    own = budget is None
    if budget is None:
        budget = Budget()
    ref = msg.header.message_ref
    findings: list[Finding] = []
    m: dict[str, Any] = {"header": msg.header, "legs": [], "travellers": [], "totals": {}}
    if msg.header.sequence is not None:
        m["parts"] = [msg.header.sequence]
        m["complete"] = msg.header.sequence_flag == "F" or (msg.header.sequence_flag is None and \
            msg.header.sequence == 1)
    legs: list[dict[str, Any]] = m["legs"]
    travellers: list[dict[str, Any]] = m["travellers"]
    leg: dict[str, Any] | None = None
    stop: dict[str, Any] | None = None
    trav: dict[str, Any] | None = None
    doc: dict[str, Any] | None = None
    contacts_target: list[dict[str, Any]] | None = None
    rank = -1
    q: str | None
    val: str | None
    code: str | None
    travel_day = reference
    roles = ROLES
    for pos, seg in enumerate(msg.segments, 1):
        tag = seg[0][0]
        if tag == "NAD":
            function = seg[1][0] if len(seg) > 1 else ""  # _v(seg, 1) or ""
            if function == "MS" or (trav is None and leg is None and function not in roles):
                party: dict[str, Any] = {"function": function, "name": _v(seg, 4), "identifier": _v(seg, 2),
                                         "contacts": []}
                m["reporting_party"] = party
                contacts_target = party["contacts"]
                continue
            doc = None
            rank = 0
            name = seg[4] if len(seg) > 4 else []
            surname = name[0] if name and name[0] else None
            given = list(filter(None, name[1:]))
            full, key = normalise(surname, given)
            trav = {
                "role": roles.get(function, "other"), "party_function": function,
                "surname": surname, "given_names": given,
                "references": {}, "documents": [], "segment_position": pos,
                "full_name": full, "matching_key": key,
            }
            if len(seg) > 5 and any(any(c for c in el) for el in seg[5:]):
                trav["address"] = {"street": _v(seg, 5), "city": _v(seg, 6), "sub_entity": _v(seg, 7),
                                   "postcode": _v(seg, 8), "country": _v(seg, 9)}
            if surname is None:
                _add(findings, budget, "DAT-NAME-MISSING", Severity.ERROR, "traveller without a surname",
                     pos, tag, ref, code=13, element=4)
            contacts_target = None
            travellers.append(trav)
            stop = None
        elif trav is not None:
            # One test per tag, commonest first. Each SG4 tag first checks the MIG order (only before the
            # first DOC), then takes a fast path for its well-formed shape, a special case of the general
            # code after it, which reads anything else.
            n = len(seg)
            if tag == "LOC":
                if doc is None:
                    if rank > _R_LOC:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_LOC
                    if n == 3:
                        q = seg[1][0]
                        if q == "178":
                            trav["embarkation"] = seg[2][0] or None
                            continue
                        if q == "179":
                            trav["debarkation"] = seg[2][0] or None
                            continue
                elif n == 3 and seg[1][0] == "91":
                    doc["issuing_state"] = seg[2][0] or None
                    continue
                q, place = _v(seg, 1), _v(seg, 2)
                if doc is not None and q == "91":
                    doc["issuing_state"] = place
                elif q == "178":
                    trav["embarkation"] = place
                elif q == "179":
                    trav["debarkation"] = place
                elif q == "22":
                    trav["clearance"] = place
                elif q == "174":
                    trav["residence_country"] = place
                elif q == "180":
                    trav["birth_country"] = place
                    text = _v(seg, 2, 3) or _v(seg, 3, 3) or _v(seg, 3, 0)
                    trav["birth_place"] = text
                else:
                    _add(findings, budget, "STR-UNEXPECTED", Severity.WARNING, f"LOC qualifier {q} not expected "
                         "here", pos, tag, ref, code=14, value=q)
            elif tag == "RFF":
                if doc is None:
                    if rank > _R_RFF:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_RFF
                el = seg[1] if n > 1 else _NO_ELEMENT
                if len(el) > 1:
                    q, val = el[0], el[1]
                    if q and val:
                        refs = trav["references"]
                        if q in refs:
                            refs[q].append(val)
                        else:
                            refs[q] = [val]
            elif tag == "DTM":
                if doc is None:
                    if rank > _R_DTM:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_DTM
                if n == 2 and len(seg[1]) == 2 and seg[1][1]:
                    q, val = seg[1]
                    if q == "329" and doc is None:
                        trav["date_of_birth"] = d = to_date(val, None, travel_day, past=True)
                        trav["date_of_birth_raw"] = val
                    elif q == "36" and doc is not None:
                        doc["expiry"] = d = to_date(val, None, travel_day, past=False)
                        doc["expiry_raw"] = val
                    else:
                        d = None
                    if d is not None:
                        continue
                    # otherwise the general path below reads it again and reports what is wrong
                q, val, fmt = _v(seg, 1), _v(seg, 1, 1), _v(seg, 1, 2)
                if val is None:
                    _add(findings, budget, "DAT-DATE", Severity.ERROR, "DTM without a date", pos, tag, ref, 13)
                    continue
                if doc is not None and q in ("36", "182"):
                    past = q == "182"
                    d = to_date(val, fmt, travel_day, past=past)
                    key = "expiry" if q == "36" else "issue_date"
                    doc[key] = d
                    doc[key + "_raw"] = val
                elif q == "329" and doc is None:
                    d = to_date(val, fmt, travel_day, past=True)
                    trav["date_of_birth"] = d
                    trav["date_of_birth_raw"] = val
                else:
                    _add(findings, budget, "STR-UNEXPECTED", Severity.WARNING, f"DTM qualifier {q} not expected "
                         "here", pos, tag, ref, code=14, value=q)
                    continue
                if d is None:
                    _add(findings, budget, "DAT-DATE", Severity.ERROR, f"DTM {q} is not a valid date",
                         pos, tag, ref, code=12, value=val, element=1)
            elif tag == "DOC":  # last in the order: never out of it, and no order check after it
                if n == 3 and len(seg[1]) == 3:
                    el = seg[1]
                    dtype = el[0] or None
                    doc = {"doc_type": dtype, "agency": el[2] or None, "number": seg[2][0] or None,
                           "segment_position": pos}
                else:
                    dtype = _v(seg, 1)
                    doc = {"doc_type": dtype, "agency": _v(seg, 1, 2), "number": _v(seg, 2),
                           "segment_position": pos}
                trav["documents"].append(doc)
                if dtype is None:
                    _add(findings, budget, "DAT-DOC-TYPE-MISSING", Severity.ERROR, "DOC without a document type",
                         pos, tag, ref, code=13, element=1)
                rank = _R_DOC
            elif tag == "ATT":
                if doc is None:
                    if rank > _R_ATT:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_ATT
                trav["gender"] = seg[3][0] or None if n > 3 else None
            elif tag == "NAT":
                if doc is None:
                    if rank > _R_NAT:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_NAT
                trav["nationality"] = seg[2][0] or None if n > 2 else None
            elif tag == "MEA":
                if doc is None:
                    if rank > _R_MEA:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_MEA
                q = seg[1][0] or None if n > 1 else None
                el = seg[3] if n > 3 else []
                unit = el[0] if len(el) > 1 else None
                raw = el[1] if len(el) > 1 else (el[0] if el else "")
                try:
                    num = float(raw)
                    if not math.isfinite(num):  # "inf"/"nan" parse as floats; int(inf) would raise
                        raise ValueError(raw)
                except ValueError:
                    _add(findings, budget, "DAT-NUMBER", Severity.ERROR, f"MEA {q} value is not a number",
                         pos, tag, ref, 37, value=raw, element=3)
                    continue
                if q == "CT":
                    trav["bag_count"] = int(num)
                elif q == "WT":
                    trav["bag_weight"] = num
                    trav["bag_weight_unit"] = unit
            elif tag == "GEI":
                if doc is None:
                    if rank > _R_GEI:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_GEI
                code = seg[2][0] if n > 2 else None
                trav["verified"] = True if code == "173" or code == "ZZZ" else False if code == "174" else None
            elif tag == "FTX":
                if doc is None:
                    if rank > _R_FTX:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_FTX
                if n > 4 and seg[1][0] == "BAG" and seg[4][0]:
                    el = seg[4]
                    cnt = el[1] if len(el) > 1 else ""
                    count = int(cnt) if cnt.isascii() and cnt.isdigit() else None
                    trav.setdefault("bag_tags", []).append({"first_tag": el[0], "count": count})
            elif tag == "EMP":
                if doc is None:
                    if rank > _R_EMP:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_EMP
                trav["crew_function"] = _v(seg, 2)
            elif tag == "COM":
                if doc is None:
                    if rank > _R_COM:
                        _order(findings, budget, tag, pos, ref)
                    rank = _R_COM
                trav.setdefault("contacts", []).extend(
                    {"number": el[0], "channel": el[1] if len(el) > 1 and el[1] else None}
                    for el in seg[1:] if el and el[0])
            elif tag == "CNT":
                _read_cnt(seg, m, findings, budget, pos, ref)
                trav = None
                doc = None
            elif tag == "UNT":
                pass
            else:
                _add(findings, budget, "STR-UNEXPECTED", Severity.WARNING, f"{tag} not expected in a traveller group",
                     pos, tag, ref, code=15)
        elif tag == "TDT":
            leg = {"transport_stage": _v(seg, 1) or "", "flight_id": _v(seg, 2), "carrier": _v(seg, 5),
                   "stops": [], "segment_position": pos}
            fid = leg["flight_id"]
            if fid:
                carrier = leg["carrier"] or fid[:2]
                leg["carrier"] = leg["carrier"] or carrier
                if fid.startswith(carrier):
                    leg["flight_number"] = fid[len(carrier):] or None
            legs.append(leg)
            stop = None
        elif tag == "LOC" and leg is not None:
            stop = {"qualifier": _v(seg, 1) or "", "airport": _v(seg, 2) or "", "segment_position": pos}
            leg["stops"].append(stop)
        elif tag == "DTM" and leg is not None:
            q, val, fmt = _v(seg, 1), _v(seg, 1, 1), _v(seg, 1, 2)
            if stop is None:
                _add(findings, budget, "STR-UNEXPECTED", Severity.WARNING, "DTM in a flight leg before any LOC",
                     pos, tag, ref, 15)
                continue
            t = to_datetime(val or "", fmt, reference)
            if t is None:
                _add(findings, budget, "DAT-DATE", Severity.ERROR, f"DTM {q} is not a valid date/time",
                     pos, tag, ref, 12, value=val, element=1)
                continue
            stop["time_qualifier"] = q
            stop["local_time"] = t
            stop["utc_time"] = local_to_utc(t, stop["airport"])
            if q == "189":
                travel_day = t.date()
        elif tag == "BGM":
            m["document_code"] = _v(seg, 1)
            m["document_id"] = _v(seg, 2)
        elif tag == "RFF":
            if _v(seg, 1) == "TN":
                m["transaction_ref"] = _v(seg, 1, 1)
                m["transaction_revision"] = _v(seg, 1, 4)
        elif tag == "COM":
            if contacts_target is not None:
                contacts_target.extend({"number": el[0], "channel": el[1] if len(el) > 1 and el[1] else None}
                                       for el in seg[1:] if el and el[0])
        elif tag == "CNT":
            _read_cnt(seg, m, findings, budget, pos, ref)
        elif tag in ("UNH", "UNT", "DTM", "LOC"):
            pass
        else:
            _add(findings, budget, "STR-UNEXPECTED", Severity.WARNING, f"{tag} not expected in the message header",
                 pos, tag, ref, code=15)
    for lg in legs:
        _derive_leg(lg)
    if own:
        findings.extend(budget.summaries())
    return _manifest(m), findings


def _read_cnt(seg: Segment, m: dict[str, Any], findings: list[Finding], budget: Budget, pos: int, ref: str) -> None:
    q, val = _v(seg, 1), _v(seg, 1, 1)
    if val is None or not (val.isascii() and val.isdigit()):
        _add(findings, budget, "DAT-CNT", Severity.ERROR, f"CNT {q} has no numeric count (qualifier:count)",
             pos, "CNT", ref, 13, element=1, value=":".join(seg[1]) if len(seg) > 1 else None)
        return
    if q == "42":
        m["totals"]["passengers"] = int(val)
    elif q == "41":
        m["totals"]["crew"] = int(val)
    else:
        _add(findings, budget, "COD-CNT", Severity.ERROR, f"CNT qualifier {q} is not 41 (crew) or 42 (passengers)",
             pos, "CNT", ref, 12, value=q, element=1)


def _derive_leg(leg: dict[str, Any]) -> None:
    """Departure and arrival of a leg from its stops: 125/87, or a 92 chain (189 then 232)."""
    stops = leg["stops"]
    dep = next((s for s in stops if s["qualifier"] == "125"), None)
    arr = next((s for s in stops if s["qualifier"] == "87"), None)
    if dep is None:
        dep = next((s for s in stops if s["qualifier"] == "92" and s.get("time_qualifier") == "189"), None)
    if arr is None:
        arr = next((s for s in reversed(stops) if s["qualifier"] == "92" and s.get("time_qualifier") == "232"),
                   None)
    if dep is None:
        dep = next((s for s in stops if s["qualifier"] == "92"), None)
    if arr is None:
        arr = next((s for s in reversed(stops) if s["qualifier"] == "92" and s is not dep), None)
    if dep is not None:
        leg["departure_airport"] = dep["airport"]
        leg["departure_local"] = dep.get("local_time")
        leg["departure_utc"] = dep.get("utc_time")
    if arr is not None:
        leg["arrival_airport"] = arr["airport"]
        leg["arrival_local"] = arr.get("local_time")
        leg["arrival_utc"] = arr.get("utc_time")
    for s in stops:
        if s["qualifier"] == "130":
            leg["final_destination"] = s["airport"]
        elif s["qualifier"] == "22":
            leg["clearance_airport"] = s["airport"]


_new_manifest = constructor(Manifest)
_new_party = constructor(Party)
_new_contact = constructor(Contact)
_new_leg = constructor(FlightLeg)
_new_stop = constructor(Stop)
_new_traveller = constructor(Traveller)
_new_document = constructor(TravelDocument)
_new_address = constructor(Address)
_new_bag_tag = constructor(BagTag)
_new_totals = constructor(Totals)


def _manifest(m: dict[str, Any]) -> Manifest:
    """The Manifest `Manifest.model_validate(m)` gives, built without validating again what the reader typed."""
    contact = _new_contact
    party = m.get("reporting_party")
    if party is not None:
        party["contacts"] = list(map(contact, party["contacts"]))
        m["reporting_party"] = _new_party(party)
    legs = m["legs"]
    for lg in legs:
        lg["stops"] = list(map(_new_stop, lg["stops"]))
    legs[:] = map(_new_leg, legs)
    document = _new_document
    for t in m["travellers"]:
        t["documents"] = list(map(document, t["documents"]))
        if "address" in t:
            t["address"] = _new_address(t["address"])
        if "bag_tags" in t:
            t["bag_tags"] = list(map(_new_bag_tag, t["bag_tags"]))
        if "contacts" in t:
            t["contacts"] = list(map(contact, t["contacts"]))
    m["travellers"][:] = map(_new_traveller, m["travellers"])
    m["totals"] = _new_totals(m["totals"])
    return _new_manifest(m)
