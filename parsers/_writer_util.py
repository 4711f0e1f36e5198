"""Shared pieces of the EDIFACT writers: escaping, segment joining, envelopes with true counts.

Strategy: writers build segments as lists of element lists, so the counts in UNT/UNE/UNZ are
computed from what is written rather than maintained by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ._lexer import DEFAULT, Separators

SegmentOut = Sequence[Sequence[str | None] | str | None]


class SegmentWriter:
    def __init__(self, seps: Separators = DEFAULT) -> None:
        self.seps = seps
        specials = [seps.component, seps.element, seps.terminator]
        if seps.release:
            specials.insert(0, seps.release)
        self._specials = specials

    def escape(self, value: str) -> str:
        rel = self.seps.release
        if rel is None:
            return value
        for ch in self._specials:
            if ch in value:
                value = value.replace(ch, rel + ch)
        return value

    def segment(self, tag: str, *elements: Sequence[str | None] | str | None) -> str:
        """One segment; trailing empty components and elements are omitted (ISO 9735 v4)."""
        s = self.seps
        els: list[str] = []
        for el in elements:
            if el is None:
                els.append("")
            elif isinstance(el, str):
                els.append(self.escape(el))
            else:
                comps = [self.escape(c) if c else "" for c in el]
                while comps and comps[-1] == "":
                    comps.pop()
                els.append(s.component.join(comps))
        while els and els[-1] == "":
            els.pop()
        return tag + "".join(s.element + e for e in els) + s.terminator


def envelope(
    writer: SegmentWriter,
    messages: list[list[str]],
    *,
    sender: str,
    recipient: str,
    control_ref: str,
    prepared: datetime,
    syntax_id: str = "UNOA",
    syntax_version: str = "4",
    application_ref: str | None = None,
    group_type: str | None = None,
    una: bool = True,
    newline: bool = True,
) -> bytes:
    """Wrap message segment lists (UNH..UNT already included) in UNB/UNG/UNZ with true counts."""
    nl = "\n" if newline else ""
    date_s = prepared.strftime("%y%m%d")  # 6 digits even in v4, as the WCO MIG examples and carriers do
    time_s = prepared.strftime("%H%M")
    out: list[str] = []
    if una:
        out.append(writer.seps.una())
    out.append(writer.segment("UNB", [syntax_id, syntax_version], [sender], [recipient], [date_s, time_s],
                              control_ref, None, application_ref))
    if group_type:
        out.append(writer.segment("UNG", group_type, [sender], [recipient], [date_s, time_s], "1", "UN",
                                  ["D", "05B"]))
    for msg in messages:
        out.extend(msg)
    if group_type:
        out.append(writer.segment("UNE", str(len(messages)), "1"))
        out.append(writer.segment("UNZ", "1", control_ref))
    else:
        out.append(writer.segment("UNZ", str(len(messages)), control_ref))
    text = nl.join(out) + nl
    codec = "utf-8" if syntax_id in ("UNOW", "UNOY") else "latin-1"
    return text.encode(codec)
