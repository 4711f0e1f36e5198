"""Envelopes: UNB/UNG/UNH and their trailers, control counts and reference pairing.

Strategy: one pass over the segments with a stack of what is open (interchange, group,
message). Each trailer is checked against what was counted; a missing trailer is found when the
next header or the end arrives. Message bodies are handed on as slices, untouched. Positions in
findings follow CONTRL: inside a message UNH = 1; outside, the index in the interchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ._budget import Budget
from ._lexer import Segment
from .models import Finding, InterchangeHeader, MessageHeader, Severity


@dataclass(slots=True)
class RawMessage:
    header: MessageHeader
    segments: list[Segment]  # UNH .. UNT (UNT absent when missing)
    start: int  # interchange index of UNH (1-based)
    findings: list[Finding] = field(default_factory=list)


@dataclass(slots=True)
class Envelope:
    header: InterchangeHeader
    messages: list[RawMessage]
    findings: list[Finding]


def _el(seg: Segment, i: int, j: int = 0) -> str | None:
    if len(seg) > i and len(seg[i]) > j:
        v = seg[i][j]
        return v if v != "" else None
    return None


def _env(rule: str, msg: str, pos: int | None, tag: str, code: int | None,
         sev: Severity = Severity.ERROR, level: str = "interchange", ref: str | None = None,
         value: str | None = None, element: int | None = None) -> Finding:
    return Finding(rule=rule, severity=sev, message=msg, segment_position=pos, segment_tag=tag,
                   contrl_error=code, level=level, message_ref=ref, value=value, element=element)


def _add(out: list[Finding], budget: Budget, key: str | None, rule: str, msg: str, pos: int | None, tag: str,
         code: int | None, sev: Severity = Severity.ERROR, level: str = "interchange", ref: str | None = None,
         value: str | None = None, element: int | None = None) -> None:
    """`_env`, built only when `budget` (counting under `key`, the message ref or None) has room."""
    if budget.keep(rule, sev, key):
        out.append(_env(rule, msg, pos, tag, code, sev, level, ref, value, element))


def _count(value: str | None) -> int | None:
    v = value.strip() if value is not None else ""
    if not (v.isascii() and v.isdigit()):  # "¹".isdigit() is True but int("¹") fails
        return None
    return int(v)


def parse_unb(seg: Segment, findings: list[Finding], pos: int, budget: Budget | None = None) -> InterchangeHeader:
    if budget is None:
        budget = Budget()
    h = InterchangeHeader(
        syntax_id=_el(seg, 1, 0), syntax_version=_el(seg, 1, 1),
        sender=_el(seg, 2, 0), sender_qualifier=_el(seg, 2, 1),
        recipient=_el(seg, 3, 0), recipient_qualifier=_el(seg, 3, 1),
        control_ref=_el(seg, 5, 0), application_ref=_el(seg, 7, 0),
        ack_requested=_el(seg, 9, 0) == "1", test=_el(seg, 11, 0) == "1",
    )
    d, t = _el(seg, 4, 0), _el(seg, 4, 1)
    if d and t and (d + t).isascii() and d.isdigit() and t.isdigit() and len(d) in (6, 8) and len(t) == 4:
        year = int(d[:4]) if len(d) == 8 else 2000 + int(d[:2])
        off = 4 if len(d) == 8 else 2
        try:
            h.prepared = datetime(year, int(d[off:off + 2]), int(d[off + 2:off + 4]), int(t[:2]), int(t[2:]))
        except ValueError:
            h.prepared = None
    if h.prepared is None:
        _add(findings, budget, None, "ENV-UNB-DATE", "UNB date/time is not 6 or 8 digits plus HHMM", pos, "UNB", 12,
             element=4)
    for i, name in ((1, "syntax identifier"), (2, "sender"), (3, "recipient"), (5, "control reference")):
        if _el(seg, i) is None:
            _add(findings, budget, None, "ENV-UNB-MISSING", f"UNB {name} is missing", pos, "UNB", 13, element=i)
    if h.syntax_version and h.syntax_version not in ("1", "2", "3", "4"):
        _add(findings, budget, None, "ENV-SYNTAX-VERSION", "syntax version not supported", pos, "UNB", 2,
             value=h.syntax_version)
    return h


def parse_unh(seg: Segment, h: InterchangeHeader) -> MessageHeader:
    seq_raw = _el(seg, 4, 0)
    return MessageHeader(
        message_ref=_el(seg, 1, 0) or "",
        message_type=_el(seg, 2, 0) or "",
        version=_el(seg, 2, 1), release=_el(seg, 2, 2), agency=_el(seg, 2, 3),
        association=_el(seg, 2, 4),
        common_access_ref=_el(seg, 3, 0),
        sequence=int(seq_raw) if seq_raw and seq_raw.isascii() and seq_raw.isdigit() else None,
        sequence_flag=_el(seg, 4, 1),
        sender=h.sender, recipient=h.recipient, interchange_ref=h.control_ref,
        application_ref=h.application_ref,
    )


_SERVICE = frozenset({"UNT", "UNH", "UNB", "UNZ", "UNG", "UNE"})


def walk(segments: list[Segment], budget: Budget | None = None) -> Envelope:
    """Cut segments into messages and check every envelope on the way.

    Findings count against `budget` (the caller's, which then adds the summaries; else one of this
    call's own, whose summaries go to the envelope's findings)."""
    own = budget is None
    if budget is None:
        budget = Budget()
    findings: list[Finding] = []
    header = InterchangeHeader()
    messages: list[RawMessage] = []
    in_unb = False
    unb_seen = False
    unz_seen = False
    group_ref: str | None = None
    in_group = False
    groups = 0
    msgs_in_group = 0
    bare_msgs = 0
    cur: RawMessage | None = None

    def close_message(missing_at: int) -> None:
        nonlocal cur
        if cur is not None:
            ref = cur.header.message_ref
            _add(cur.findings, budget, ref, "ENV-UNT-MISSING", "message has no UNT trailer", len(cur.segments),
                 "UNT", 13, level="message", ref=ref)
            messages.append(cur)
            cur = None

    n = len(segments)
    # Visit only the service segments; message bodies between them are taken as slices.
    boundaries = [i for i, sg in enumerate(segments) if sg[0][0] in _SERVICE]
    boundaries.append(n)
    prev = 0
    for idx in boundaries:
        if idx > prev:
            if cur is not None:
                cur.segments.extend(segments[prev:idx])
            else:
                for k in range(prev, idx):
                    _add(findings, budget, None, "ENV-OUTSIDE", "segment outside any message", k + 1,
                         segments[k][0][0], 33)
        if idx == n:
            break
        prev = idx + 1
        seg = segments[idx]
        pos = idx + 1
        tag = seg[0][0]
        if tag == "UNH":
            close_message(pos)
            if not unb_seen and not messages:
                _add(findings, budget, None, "ENV-UNB-MISSING-ENVELOPE",
                     "no UNB: a message fragment without its interchange envelope",
                     pos, "UNB", 13)
            h = parse_unh(seg, header)
            cur = RawMessage(h, [seg], pos)
            if in_group:
                msgs_in_group += 1
            else:
                bare_msgs += 1
            if not h.message_ref:
                _add(cur.findings, budget, h.message_ref, "ENV-UNH-REF", "UNH message reference is missing", 1,
                     "UNH", 13, level="message")
        elif tag == "UNT":
            if cur is None:
                _add(findings, budget, None, "ENV-UNT-STRAY", "UNT without UNH", pos, "UNT", 33)
                continue
            cur.segments.append(seg)
            ref = cur.header.message_ref
            counted = len(cur.segments)
            declared_raw = _el(seg, 1)
            declared = _count(declared_raw)
            if declared is None:
                _add(cur.findings, budget, ref, "ENV-UNT-COUNT", "UNT segment count is missing or not numeric",
                     counted, "UNT", 13, level="message", ref=ref, element=1)
            elif declared != counted:
                _add(cur.findings, budget, ref,
                     "ENV-UNT-COUNT", f"UNT says {declared} segments, the message has {counted}",
                     counted, "UNT", 29, level="message", ref=ref, value=declared_raw, element=1)
            if _el(seg, 2) != cur.header.message_ref:
                _add(cur.findings, budget, ref, "ENV-UNT-REF", "UNT reference does not match UNH", counted,
                     "UNT", 28, level="message", ref=ref, value=_el(seg, 2), element=2)
            messages.append(cur)
            cur = None
        elif tag == "UNB":
            close_message(pos)
            if unb_seen:
                _add(findings, budget, None, "ENV-UNB-REPEATED", "a second UNB: one interchange per input",
                     pos, "UNB", 33)
                continue
            if idx > 0:  # e.g. UNG or UNH before UNB: the envelope is out of order, not just late
                _add(findings, budget, None, "ENV-UNB-NOT-FIRST", "segments before UNB", pos, "UNB", 33)
            unb_seen = in_unb = True
            header = parse_unb(seg, findings, pos, budget)
        elif tag == "UNG":
            close_message(pos)
            if in_group:
                _add(findings, budget, None, "ENV-UNE-MISSING", "group has no UNE trailer", pos, "UNE", 13,
                     level="group")
            in_group = True
            groups += 1
            msgs_in_group = 0
            group_ref = _el(seg, 5)
        elif tag == "UNE":
            close_message(pos)
            if not in_group:
                _add(findings, budget, None, "ENV-UNE-STRAY", "UNE without UNG", pos, "UNE", 33, level="group")
                continue
            declared = _count(_el(seg, 1))
            if declared != msgs_in_group:
                _add(findings, budget, None, "ENV-UNE-COUNT",
                     f"UNE says {declared} messages, the group has {msgs_in_group}",
                     pos, "UNE", 29, level="group", value=_el(seg, 1), element=1)
            if _el(seg, 2) != group_ref:
                _add(findings, budget, None, "ENV-UNE-REF", "UNE reference does not match UNG", pos, "UNE", 28,
                     level="group", value=_el(seg, 2), element=2)
            in_group = False
        elif tag == "UNZ":
            close_message(pos)
            if in_group:
                _add(findings, budget, None, "ENV-UNE-MISSING", "group has no UNE trailer", pos, "UNE", 13,
                     level="group")
                in_group = False
            if not in_unb:
                _add(findings, budget, None, "ENV-UNZ-STRAY", "UNZ without UNB", pos, "UNZ", 33)
                continue
            declared = _count(_el(seg, 1))
            expected = groups if groups else bare_msgs
            if declared != expected:
                what = "groups" if groups else "messages"
                _add(findings, budget, None, "ENV-UNZ-COUNT", f"UNZ says {declared} {what}, the interchange has "
                     f"{expected}", pos, "UNZ", 29, value=_el(seg, 1), element=1)
            if _el(seg, 2) != header.control_ref:
                _add(findings, budget, None, "ENV-UNZ-REF", "UNZ reference does not match UNB", pos, "UNZ", 28,
                     value=_el(seg, 2), element=2)
            in_unb = False
            unz_seen = True
            if idx + 1 < n:
                _add(findings, budget, None, "ENV-JUNK-AFTER", f"{n - idx - 1} segment(s) after UNZ were ignored",
                     pos + 1, segments[idx + 1][0][0], 33, sev=Severity.WARNING)
                break
    close_message(n)
    if in_group:
        _add(findings, budget, None, "ENV-UNE-MISSING", "group has no UNE trailer", n, "UNE", 13, level="group")
    if in_unb and not unz_seen:
        _add(findings, budget, None, "ENV-UNZ-MISSING", "interchange has no UNZ trailer (truncated?)", n, "UNZ", 13)
    if unb_seen and groups and bare_msgs:
        _add(findings, budget, None, "ENV-MIXED", "groups and bare messages mixed in one interchange", None, "UNH", 30)
    if not messages and not any(f.rule.startswith("SYN") for f in findings):
        _add(findings, budget, None, "ENV-EMPTY", "no message found", None, "UNH", 32)
    if own:
        findings.extend(budget.summaries())
    return Envelope(header, messages, findings)
