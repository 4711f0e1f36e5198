"""Segment-level editing of EDIFACT text: the small mutations that turn a clean message into a defect.

Strategy: the suite builder and `conformance generate --defects` start from the generator's clean
bytes (default separators, one segment per line) and edit whole segments, then recompute the
control counts unless the defect is about the counts. Working on segment strings, not on the
model, is deliberate: many defects (a wrong UNT count, a lowercase name in UNOA, a missing UNZ)
cannot be expressed in a well-formed model at all. `personalise` rewrites only the UNB sender, so
a suite can be replayed against a long-running system without tripping its duplicate detection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_UNA = re.compile(rb"\AUNA(.)(.)(.)(.)(.)(.)")


@dataclass
class Edi:
    """An interchange as a list of segment strings (without terminators), default separators."""

    segments: list[str]
    una: bool = True
    prefix: str = ""  # text before UNA/UNB (e.g. a Type-B header)
    suffix: str = ""
    terminator: str = "'"
    newline: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes) -> Edi:
        """Split the generator's output (UNA:+.? ' plus one segment per line)."""
        text = data.decode("latin-1")
        una = text.startswith("UNA")
        if una:
            text = text[9:]
        segs = [s.strip("\r\n") for s in text.split("'")]
        return cls([s for s in segs if s], una=una)

    def to_bytes(self, encoding: str = "latin-1") -> bytes:
        nl = "\n" if self.newline else ""
        body = "".join(f"{s}{self.terminator}{nl}" for s in self.segments)
        head = "UNA:+.? '" + nl if self.una else ""
        return (self.prefix + head + body + self.suffix).encode(encoding)

    # ---- finding and editing ---------------------------------------------------------------------------

    def index(self, prefix: str, nth: int = 0) -> int:
        """Index of the nth segment starting with `prefix` (e.g. "NAD+FL")."""
        hits = [i for i, s in enumerate(self.segments) if s.startswith(prefix)]
        if len(hits) <= nth:
            raise KeyError(f"no segment #{nth} starting with {prefix!r}")
        return hits[nth]

    def has(self, prefix: str) -> bool:
        return any(s.startswith(prefix) for s in self.segments)

    def replace(self, prefix: str, new: str, nth: int = 0) -> Edi:
        self.segments[self.index(prefix, nth)] = new
        return self

    def sub(self, prefix: str, old: str, new: str, nth: int = 0) -> Edi:
        i = self.index(prefix, nth)
        if old not in self.segments[i]:
            raise KeyError(f"{old!r} not in {self.segments[i]!r}")
        self.segments[i] = self.segments[i].replace(old, new, 1)
        return self

    def delete(self, prefix: str, nth: int = 0, count: int = 1) -> Edi:
        i = self.index(prefix, nth)
        del self.segments[i:i + count]
        return self

    def insert_after(self, prefix: str, *new: str, nth: int = 0) -> Edi:
        i = self.index(prefix, nth) + 1
        self.segments[i:i] = list(new)
        return self

    def insert_before(self, prefix: str, *new: str, nth: int = 0) -> Edi:
        i = self.index(prefix, nth)
        self.segments[i:i] = list(new)
        return self

    def traveller(self, n: int = 0) -> tuple[int, int]:
        """[start, end) of the nth traveller group (NAD+FL/FM/DDU/DDT ... up to the next NAD or CNT)."""
        starts = [i for i, s in enumerate(self.segments) if re.match(r"NAD\+(FL|FM|DDU|DDT|ZZZ)\+", s)]
        start = starts[n]
        end = next(i for i in range(start + 1, len(self.segments))
                   if self.segments[i].startswith(("NAD+", "CNT+", "UNT+")))
        return start, end

    def in_traveller(self, n: int, prefix: str) -> int:
        start, end = self.traveller(n)
        for i in range(start, end):
            if self.segments[i].startswith(prefix):
                return i
        raise KeyError(f"traveller {n} has no {prefix!r}")

    def fix_counts(self) -> Edi:
        """Recompute UNT, UNE and UNZ counts (references are left as they are)."""
        segs = self.segments
        unh: int | None = None
        msgs_in_group = 0
        groups = messages = 0
        for i, s in enumerate(segs):
            tag = s[:3]
            if tag == "UNH":
                unh = i
                msgs_in_group += 1
                messages += 1
            elif tag == "UNT" and unh is not None:
                parts = s.split("+")
                parts[1] = str(i - unh + 1)
                segs[i] = "+".join(parts)
                unh = None
            elif tag == "UNG":
                groups += 1
                msgs_in_group = 0
            elif tag == "UNE":
                parts = s.split("+")
                parts[1] = str(msgs_in_group)
                segs[i] = "+".join(parts)
            elif tag == "UNZ":
                parts = s.split("+")
                parts[1] = str(groups or messages)
                segs[i] = "+".join(parts)
        return self


Mutation = Callable[[Edi], Edi]


def _split_una(data: bytes) -> tuple[str, str, str, str]:
    """(component, element, release, terminator) from UNA, or the defaults (UNOB without UNA: IS1/IS3/IS4)."""
    m = _UNA.match(data)
    if m:
        c, e, _, r, _, t = (bytes(x).decode("latin-1") for x in m.groups())
        return c, e, r, t
    if b"\x1d" in data and b"'" not in data:
        return "\x1f", "\x1d", "", "\x1c"
    return ":", "+", "?", "'"


def personalise(data: bytes, tag: str) -> bytes:
    """Append `tag` to the UNB sender id (S002/0004), keeping every other byte as it is.

    A live system remembers whole byte strings to detect duplicates and (sender, UNB 0020) to flag a
    reused reference, and assembles multi-part lists per sender; a per-run tag keeps each run
    independent of the last.
    Inputs without a readable UNB are returned unchanged.
    """
    comp, elem, rel, term = _split_una(data)
    text = data.decode("latin-1")
    m = re.search(rf"(?:^|{re.escape(term)})\s*(UNB{re.escape(elem)})", text)
    if m is None:
        return data
    start = m.start(1)
    end = text.find(term, start)
    if end < 0:
        return data
    seg = text[start:end]
    if rel and rel in seg:
        return data  # a released character in UNB: leave it alone rather than risk a wrong split
    elements = seg.split(elem)
    if len(elements) < 3 or not elements[2]:
        return data
    components = elements[2].split(comp)
    components[0] = components[0] + tag
    elements[2] = comp.join(components)
    return (text[:start] + elem.join(elements) + text[end:]).encode("latin-1")
