"""Bytes in, an Interchange out: lexer, envelopes, message bodies, all findings kept (up to a bound).

Strategy: never raise on bad input. Each stage adds findings and passes on what it could read,
so a broken envelope still yields its travellers and a reason for the carrier.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import date

from ._budget import Budget
from ._cusres import read_cusres
from ._envelope import RawMessage, walk
from ._lexer import CHARSETS, UNSUPPORTED_CHARSETS, check_repertoire, lex
from ._paxlst import read_paxlst
from ._usedifact import read_usedifact
from .models import Finding, Interchange, Severity


def read_interchange(data: bytes | str, *, today: date | None = None) -> Interchange:
    """Read one input (an interchange, or a message fragment) completely.

    Findings are bounded (see `parsers._budget`): past the limits they are counted, not built, and
    a summary finding per message (and for the interchange level) stands for them, at the end."""
    budget = Budget()
    lexed = lex(data, budget)
    env = walk(lexed.segments, budget)
    header = env.header
    header.separators = lexed.separators.una()[3:]
    header.has_una = lexed.has_una
    findings: list[Finding] = list(lexed.findings)
    findings.extend(env.findings)

    syntax_id = header.syntax_id
    if syntax_id is not None:
        if syntax_id in UNSUPPORTED_CHARSETS:
            budget.keep("SYN-CHARSET-UNSUPPORTED", Severity.ERROR)  # one of its kind: counted, always kept
            findings.append(Finding(rule="SYN-CHARSET-UNSUPPORTED", severity=Severity.ERROR,
                                    message=f"character set {syntax_id} is not supported", contrl_error=46,
                                    segment_tag="UNB", segment_position=1, element=1, level="interchange",
                                    value=syntax_id))
        elif syntax_id not in CHARSETS:
            budget.keep("SYN-CHARSET-UNKNOWN", Severity.ERROR)
            findings.append(Finding(rule="SYN-CHARSET-UNKNOWN", severity=Severity.ERROR,
                                    message=f"syntax identifier {syntax_id} is not an ISO 9735 identifier",
                                    contrl_error=2, segment_tag="UNB", segment_position=1, element=1,
                                    level="interchange", value=syntax_id))
        else:
            owner = _owner(env.messages)
            findings.extend(_to_message_positions(check_repertoire(lexed, syntax_id, budget, owner), env))

    reference = header.prepared.date() if header.prepared else (today or date.today())
    result = Interchange(header=header)
    for msg in env.messages:
        result.messages.append(msg.header)
        findings.extend(msg.findings)
        h = msg.header
        if h.message_type == "PAXLST" and h.version == "D":
            manifest, f = read_paxlst(msg, reference, budget)
            result.manifests.append(manifest)
            findings.extend(f)
        elif h.message_type == "PAXLST" and h.version == "001":
            manifest, f = read_usedifact(msg, reference, budget)
            result.manifests.append(manifest)
            findings.extend(f)
        elif h.message_type == "CUSRES" and h.version == "D":
            response, f = read_cusres(msg, reference, budget)
            result.responses.append(response)
            findings.extend(f)
        elif budget.keep("FMT-UNSUPPORTED", Severity.ERROR, h.message_ref):
            what = f"{h.message_type}:{h.version}:{h.release}:{h.agency}"
            findings.append(Finding(rule="FMT-UNSUPPORTED", severity=Severity.ERROR,
                                    message=f"message type {what} is not supported (only UN/EDIFACT "
                                    "PAXLST and CUSRES, directory D, and legacy US PAXLST 001)",
                                    segment_position=1, segment_tag="UNH",
                                    element=2, contrl_error=14, message_ref=h.message_ref, value=what))
    findings.extend(budget.summaries())
    result.findings = findings
    return result


def _find(messages: Sequence[RawMessage], starts: list[int], position: int) -> RawMessage | None:
    """The message holding interchange position `position` (messages are disjoint and in order)."""
    i = bisect_right(starts, position) - 1
    if i >= 0:
        m = messages[i]
        if position < m.start + len(m.segments):
            return m
    return None


def _owner(messages: Sequence[RawMessage]) -> Callable[[int], str | None]:
    """Interchange position -> reference of the message holding it (None: outside any message)."""
    starts = [m.start for m in messages]

    def owner(position: int) -> str | None:
        m = _find(messages, starts, position)
        return m.header.message_ref if m is not None else None

    return owner


def _to_message_positions(findings: list[Finding], env: object) -> list[Finding]:
    """Lexer positions count from the start of the input; inside a message CONTRL counts UNH = 1."""
    messages = getattr(env, "messages", [])
    starts = [m.start for m in messages]
    for f in findings:
        if f.segment_position is None:
            continue
        m = _find(messages, starts, f.segment_position)
        if m is not None:
            f.segment_position = f.segment_position - m.start + 1
            f.message_ref = m.header.message_ref
            f.level = "message"
    return findings
