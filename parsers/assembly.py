"""Multi-part PAXLST assembly as a pure function.

Strategy: group parts by (sender, common access reference, document kind), order them by the
UNH S010 sequence number, and merge travellers. Whatever is odd about the parts (duplicates,
gaps, arrival out of order, no final part, headers that disagree, CNT against the whole flight)
becomes a finding on the assembly; nothing raises and nothing is dropped silently. The caller
keeps the parts it has (in a store, for the service) and calls this again as parts arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from pydantic import BaseModel

from .models import Finding, Manifest, Severity

PASSENGER_ROLES = frozenset({"passenger", "transit_passenger"})
CREW_ROLES = frozenset({"crew", "transit_crew"})

AssemblyKey = tuple[str, str, str, str]


class Assembly(BaseModel):
    key: AssemblyKey
    manifest: Manifest
    complete: bool
    findings: list[Finding] = []


def part_key(m: Manifest) -> AssemblyKey:
    h = m.header
    return (h.sender or "", h.common_access_ref or f"msg:{h.interchange_ref}:{h.message_ref}",
            m.document_code or "", m.document_id or "")


def _asm(rule: str, sev: Severity, msg: str, ref: str | None, value: str | None = None) -> Finding:
    return Finding(rule=rule, severity=sev, message=msg, level="manifest", message_ref=ref, value=value)


def _is_multipart(parts: list[Manifest]) -> bool:
    if len(parts) > 1:
        return True
    h = parts[0].header
    return h.sequence is not None and not (h.sequence == 1 and h.sequence_flag in ("F", None))


def assemble(manifests: Iterable[Manifest]) -> list[Assembly]:
    """Merge the parts of each flight list; single-part messages pass through unchanged."""
    indexed = list(enumerate(manifests))
    by_key: dict[AssemblyKey, list[tuple[int, Manifest]]] = {}
    for i, m in indexed:
        by_key.setdefault(part_key(m), []).append((i, m))
    out: list[Assembly] = []
    for key, arrivals in by_key.items():
        parts = [m for _, m in arrivals]
        if not _is_multipart(parts):
            m = parts[0]
            out.append(Assembly(key=key, manifest=m, complete=m.complete))
            continue
        out.append(_merge(key, parts))
    return out


def _merge(key: AssemblyKey, arrivals: list[Manifest]) -> Assembly:
    findings: list[Finding] = []
    ref = arrivals[0].header.common_access_ref
    seqs_in_arrival = [m.header.sequence or 0 for m in arrivals]
    if seqs_in_arrival != sorted(seqs_in_arrival):
        findings.append(_asm("ASM-PART-ORDER", Severity.INFO, "parts arrived out of sequence order; reordered",
                             ref))
    ordered = sorted(arrivals, key=lambda m: m.header.sequence or 0)
    unique: list[Manifest] = []
    for seq, group in groupby(ordered, key=lambda m: m.header.sequence or 0):
        copies = list(group)
        unique.append(copies[0])
        if len(copies) > 1:
            same = all(c.travellers == copies[0].travellers for c in copies[1:])
            findings.append(_asm("ASM-PART-DUPLICATE", Severity.WARNING if same else Severity.ERROR,
                                 f"part {seq} received {len(copies)} times"
                                 + ("" if same else " with different travellers; the first is kept"),
                                 ref, str(seq)))
    finals = [m for m in unique if m.header.sequence_flag == "F"]
    last_seq = max(m.header.sequence or 0 for m in unique)
    have = {m.header.sequence for m in unique}
    if finals:
        final_seq = finals[0].header.sequence or last_seq
        if len(finals) > 1 or final_seq != last_seq:
            findings.append(_asm("ASM-PART-ORDER", Severity.ERROR,
                                 "a part is numbered after the part marked final (F)", ref))
        missing = [s for s in range(1, final_seq + 1) if s not in have]
    else:
        missing = [s for s in range(1, last_seq + 1) if s not in have]
        findings.append(_asm("ASM-FINAL-MISSING", Severity.WARNING,
                             f"no part marked final (F) yet; {len(unique)} part(s) held", ref))
    if missing:
        findings.append(_asm("ASM-PART-MISSING", Severity.ERROR if finals else Severity.WARNING,
                             f"part(s) {', '.join(str(s) for s in missing)} missing", ref,
                             ",".join(str(s) for s in missing)))
    first = unique[0]
    for m in unique[1:]:
        if [(lg.flight_id, lg.departure_airport, lg.arrival_airport, lg.departure_local) for lg in m.legs] != [
                (lg.flight_id, lg.departure_airport, lg.arrival_airport, lg.departure_local) for lg in first.legs]:
            findings.append(_asm("ASM-HEADER-MISMATCH", Severity.WARNING,
                                 f"part {m.header.sequence} names other flight legs than part "
                                 f"{first.header.sequence}", ref))
    complete = bool(finals) and not missing
    travellers = [t for m in unique for t in m.travellers]
    totals_from = finals[0] if finals else unique[-1]
    merged = first.model_copy(update={
        "travellers": travellers,
        "totals": totals_from.totals,
        "parts": [m.header.sequence or 0 for m in unique],
        "complete": complete,
        "header": first.header.model_copy(update={"sequence": None, "sequence_flag": None}),
    })
    if complete:
        pax = sum(1 for t in travellers if t.role in PASSENGER_ROLES)
        crew = sum(1 for t in travellers if t.role in CREW_ROLES)
        for declared, counted, what, q in ((merged.totals.passengers, pax, "passengers", "42"),
                                           (merged.totals.crew, crew, "crew", "41")):
            if declared is not None and declared != counted:
                findings.append(_asm("ASM-CNT-MISMATCH", Severity.ERROR,
                                     f"CNT {q} says {declared} {what}; the {len(unique)} parts hold {counted}",
                                     ref, str(declared)))
    return Assembly(key=key, manifest=merged, complete=complete, findings=findings)
