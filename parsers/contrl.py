"""CONTRL (syntax and service report): answer an interchange with its findings; read one back.

Strategy: the reader has already located every problem as a Finding (rule, severity, segment
position with UNH = 1, element index with the tag = 0, CONTRL 0085 code), so writing CONTRL is
a projection: interchange-level errors go to UCI, each subject message gets a UCM, and each of
its error findings a UCS (segment) with a UCD (element) when the element is known. Only
findings of severity "error" reject; an error without a 0085 code is reported as 18
"unspecified". `read_contrl` reuses the lexer and envelope walker, so an acknowledgement we
write is checked by the same code that checks the carriers' messages.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel

from ._envelope import walk
from ._lexer import CHARSETS, DEFAULT, lex
from ._writer_util import SegmentWriter
from .models import Finding, Interchange, Severity

ACTION_REJECTED = "4"
ACTION_ACKNOWLEDGED = "7"
ACTION_RECEIVED = "8"
UNSPECIFIED = 18
UNKNOWN = "UNKNOWN"

_INTERCHANGE_LEVELS = frozenset({"interchange", "group"})


class ContrlSegmentError(BaseModel):
    """One UCS (with its UCDs): where in the subject message, and which errors."""

    position: int
    error: int | None = None  # UCS 0085: the segment as a whole
    element_errors: list[tuple[int, int | None, int | None]] = []  # (0085, 0098, 0104) per UCD

    @property
    def codes(self) -> list[int]:
        own = [self.error] if self.error is not None else []
        return own + [code for code, _, _ in self.element_errors]


class ContrlMessageReport(BaseModel):
    """One UCM: the subject message's reference and type, the action and its first error."""

    message_ref: str
    message_type: str | None = None
    action: str | None = None
    error: int | None = None
    segment_tag: str | None = None
    segments: list[ContrlSegmentError] = []

    @property
    def codes(self) -> list[int]:
        own = [self.error] if self.error is not None else []
        return own + [c for s in self.segments for c in s.codes]


class ContrlReport(BaseModel):
    """What a CONTRL says about its subject interchange, plus findings about the CONTRL itself."""

    subject_control_ref: str | None = None
    subject_sender: str | None = None
    subject_recipient: str | None = None
    action: str | None = None
    error: int | None = None
    segment_tag: str | None = None
    element: int | None = None
    messages: list[ContrlMessageReport] = []
    findings: list[Finding] = []

    def message(self, ref: str) -> ContrlMessageReport | None:
        return next((m for m in self.messages if m.message_ref == ref), None)

    def message_accepted(self, ref: str) -> bool:
        """Action 4 on the UCI rejects every message, whatever its own UCM says."""
        m = self.message(ref)
        return self.action == ACTION_ACKNOWLEDGED and m is not None and m.action == ACTION_ACKNOWLEDGED


def _code(f: Finding) -> int:
    return f.contrl_error if f.contrl_error is not None else UNSPECIFIED


def _s011(f: Finding) -> list[str | None] | None:
    """CONTRL counts the segment tag as element 1; our findings count it as 0."""
    if f.element is None:
        return None
    return [str(f.element + 1), str(f.component) if f.component is not None else None]


def _split_findings(interchange: Interchange) -> tuple[list[Finding], dict[str, list[Finding]]]:
    """Errors of the envelope vs errors of each message (by UNH 0062)."""
    refs = {m.message_ref for m in interchange.messages}
    top: list[Finding] = []
    per_message: dict[str, list[Finding]] = defaultdict(list)
    for f in interchange.findings:
        if f.severity is not Severity.ERROR:
            continue
        ref = f.message_ref
        if ref is None and f.level == "message" and "" in refs:
            ref = ""  # a UNH without its reference: the finding cannot name the message
        if ref is not None and ref in refs and f.level not in _INTERCHANGE_LEVELS:
            per_message[ref].append(f)
        else:
            top.append(f)
    return top, per_message


def _ucs_ucd(errors: list[Finding], w: SegmentWriter) -> list[str]:
    """One UCS per erroneous segment (position order), its element errors as UCDs."""
    by_pos: dict[int, list[Finding]] = defaultdict(list)
    for f in errors:
        if f.segment_position is not None:
            by_pos[f.segment_position].append(f)
    out: list[str] = []
    for pos in sorted(by_pos):
        group = by_pos[pos]
        whole = next((f for f in group if f.element is None), None)
        out.append(w.segment("UCS", str(pos), str(_code(whole)) if whole else None))
        seen: set[tuple[int, int, int | None]] = set()
        for f in group:
            if f.element is None:
                continue
            key = (_code(f), f.element, f.component)
            if key in seen:
                continue
            seen.add(key)
            out.append(w.segment("UCD", str(_code(f)), _s011(f)))
    return out


def write_contrl(
    interchange: Interchange,
    *,
    receipt_only: bool = False,
    sender: str | None = None,
    control_ref: str | None = None,
    prepared: datetime | None = None,
    note: Finding | None = None,
) -> bytes:
    """A CONTRL interchange answering `interchange` (as read, with its findings).

    `note`: an interchange-level observation that does not reject (a reused interchange reference:
    processed and flagged); its code and segment tag go on an accepting UCI, whose action stays 7.

    Action 0083: 8 when `receipt_only` (no UCM then: receipt says nothing about validity);
    otherwise 4 on the UCI when any interchange-level error exists, else 7; per message 4 when
    the message has an error finding, else 7. A fragment without UNB still gets a CONTRL: its
    unknown sender and control reference are written as "UNKNOWN", and the missing envelope is
    itself an interchange-level error, so the UCI says 4. `sender` defaults to the subject's
    recipient (we are answering as the party it was addressed to).
    """
    h = interchange.header
    version = h.syntax_version if h.syntax_version in ("1", "2", "3", "4") else "4"
    syntax_id = h.syntax_id if h.syntax_id in CHARSETS else "UNOA"
    w = SegmentWriter(DEFAULT)
    prepared = prepared or datetime.now().replace(second=0, microsecond=0)
    our_ref = control_ref or prepared.strftime("%y%m%d%H%M%S")
    subject_sender = h.sender or UNKNOWN
    subject_recipient = h.recipient or UNKNOWN
    us = sender or h.recipient or UNKNOWN

    top, per_message = _split_findings(interchange)
    body: list[str] = [w.segment("UNH", "1", ["CONTRL", "4", "1", "UN"] if version == "4"
                                 else ["CONTRL", "D", "3", "UN"])]
    uci: list[str | list[str | None] | None] = [
        h.control_ref or UNKNOWN,
        [subject_sender, h.sender_qualifier],
        [subject_recipient, h.recipient_qualifier],
    ]
    if receipt_only:
        uci.append(ACTION_RECEIVED)
    elif top:
        first = top[0]
        uci += [ACTION_REJECTED, str(_code(first)), first.segment_tag, _s011(first)]
    else:
        uci.append(ACTION_ACKNOWLEDGED)
        if note is not None:
            uci += [str(_code(note)), note.segment_tag, _s011(note)]
    body.append(w.segment("UCI", *uci))

    if not receipt_only:
        for msg in interchange.messages:
            errors = per_message.get(msg.message_ref, [])
            s009 = [msg.message_type, msg.version, msg.release, msg.agency, msg.association]
            if errors:
                first = errors[0]
                body.append(w.segment("UCM", msg.message_ref or UNKNOWN, s009, ACTION_REJECTED,
                                      str(_code(first)), first.segment_tag, _s011(first)))
                body.extend(_ucs_ucd(errors, w))
            else:
                body.append(w.segment("UCM", msg.message_ref or UNKNOWN, s009, ACTION_ACKNOWLEDGED))
    body.append(w.segment("UNT", str(len(body) + 1), "1"))

    date_s = prepared.strftime("%Y%m%d" if version == "4" else "%y%m%d")
    segments = [
        w.seps.una(),
        w.segment("UNB", [syntax_id, version], [us, h.recipient_qualifier],
                  [subject_sender, h.sender_qualifier], [date_s, prepared.strftime("%H%M")], our_ref),
        *body,
        w.segment("UNZ", "1", our_ref),
    ]
    return _encode("\n".join(segments) + "\n", CHARSETS[syntax_id][0])


def _encode(text: str, codec: str) -> bytes:
    """Echoed values may hold characters the charset lacks (they were the error). The codec's
    own replacement is "?", our release character, which would swallow the next separator;
    use "." (not a service character here) instead."""
    try:
        return text.encode(codec)
    except UnicodeEncodeError:
        return "".join(c if c.encode(codec, errors="ignore") else "." for c in text).encode(codec)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() else None


def _get(seg: list[list[str]], i: int, j: int = 0) -> str | None:
    if len(seg) > i and len(seg[i]) > j and seg[i][j] != "":
        return seg[i][j]
    return None


def read_contrl(data: bytes | str) -> ContrlReport:
    """Read a CONTRL (ours or a partner's) into what it says about its subject.

    Never raises: envelope problems of the CONTRL itself are in `findings`, and a message that is
    not CONTRL adds a finding instead of a report.
    """
    lexed = lex(data)
    env = walk(lexed.segments)
    report = ContrlReport(findings=[*lexed.findings, *env.findings])
    for raw in env.messages:
        report.findings.extend(raw.findings)
        if raw.header.message_type != "CONTRL":
            report.findings.append(Finding(
                rule="FMT-NOT-CONTRL", severity=Severity.ERROR, segment_position=1, segment_tag="UNH",
                message=f"message type {raw.header.message_type!r} is not CONTRL", contrl_error=14,
                message_ref=raw.header.message_ref))
            continue
        current: ContrlMessageReport | None = None
        seg_err: ContrlSegmentError | None = None
        for seg in raw.segments:
            tag = seg[0][0]
            if tag == "UCI":
                report.subject_control_ref = _get(seg, 1)
                report.subject_sender = _get(seg, 2)
                report.subject_recipient = _get(seg, 3)
                report.action = _get(seg, 4)
                report.error = _int(_get(seg, 5))
                report.segment_tag = _get(seg, 6)
                report.element = _int(_get(seg, 7))
            elif tag == "UCM":
                s009 = seg[2] if len(seg) > 2 else []
                current = ContrlMessageReport(
                    message_ref=_get(seg, 1) or "", message_type=s009[0] if s009 and s009[0] else None,
                    action=_get(seg, 3), error=_int(_get(seg, 4)), segment_tag=_get(seg, 5))
                report.messages.append(current)
                seg_err = None
            elif tag == "UCS" and current is not None:
                seg_err = ContrlSegmentError(position=_int(_get(seg, 1)) or 0, error=_int(_get(seg, 2)))
                current.segments.append(seg_err)
            elif tag == "UCD" and seg_err is not None:
                code = _int(_get(seg, 1))
                if code is not None:
                    seg_err.element_errors.append((code, _int(_get(seg, 2)), _int(_get(seg, 2, 1))))
    return report
