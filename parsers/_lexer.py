"""Bytes to segments: UNA, character sets, Type-B wrapping, release characters.

Strategy: decode once, then split with `str.split` (C speed) and repair the rare pieces that a
release character glued together; each distinct segment text is split once. Segments come out as
lists of elements, each a list of components with release characters removed, shared between
equal segments and so read only. Nothing is upper-cased or flattened; whitespace is
dropped only *between* segments. The repetition separator is never applied: PAXLST and CUSRES
define no repeating elements and real sender ids contain `*`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat

from ._budget import Budget
from .models import Finding, Severity

Segment = list[list[str]]

# ISO 9735 syntax identifiers -> (Python codec, characters allowed in data or None for "any printable").
_UNOA = "A-Z0-9 .,\\-()/='+:?!\"%&*;<>"
_UNOB = "\\x20-\\x7e"
CHARSETS: dict[str, tuple[str, str | None]] = {
    "UNOA": ("latin-1", _UNOA),
    "UNOB": ("latin-1", _UNOB),
    "UNOC": ("latin-1", None),
    "UNOD": ("iso8859-2", None),
    "UNOE": ("iso8859-5", None),
    "UNOF": ("iso8859-7", None),
    "UNOG": ("iso8859-3", None),
    "UNOH": ("iso8859-4", None),
    "UNOI": ("iso8859-6", None),
    "UNOJ": ("iso8859-8", None),
    "UNOK": ("iso8859-9", None),
    "UNOL": ("iso8859-15", None),
    "UNOW": ("utf-8", None),
    "UNOY": ("utf-8", None),
}
UNSUPPORTED_CHARSETS = frozenset({"UNOX"})

# Type-B: an optional priority-and-addresses line ("QU HDQRMXS"), then the originator (".HDQRMXH ...").
# The address part starts with a non-space so it cannot overlap `\s+`: overlapping runs made a head of
# spaces backtrack quadratically (20,000 spaces took 2 s).
_TYPEB_HEAD = re.compile(r"\A\s*(?:[A-Z]{2}\s+(?:[A-Z0-9][A-Z0-9 ]*)?\r?\n)?\.[A-Z0-9]{7}\b")
_START = re.compile(r"(?m)^[ \t]*(UNA|UNB|UNH)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Separators:
    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str | None = "?"
    repetition: str = " "
    terminator: str = "'"

    def una(self) -> str:
        return (
            f"UNA{self.component}{self.element}{self.decimal}{self.release or ' '}"
            f"{self.repetition}{self.terminator}"
        )


DEFAULT = Separators()
UNOB_DEFAULT = Separators(component="\x1f", element="\x1d", release=None, terminator="\x1c")


@dataclass(slots=True)
class Lexed:
    """Segments plus what the lexer learned about the interchange."""

    segments: list[Segment]
    separators: Separators
    has_una: bool
    syntax_id: str | None
    findings: list[Finding] = field(default_factory=list)
    text: str = ""


def _finding(rule: str, sev: Severity, msg: str, pos: int | None = None, code: int | None = None,
             tag: str | None = None, value: str | None = None) -> Finding:
    return Finding(rule=rule, severity=sev, message=msg, segment_position=pos, contrl_error=code,
                   segment_tag=tag, level="interchange", value=value)


def split_released(s: str, sep: str, rel: str | None) -> list[str]:
    """Split on `sep` except where a release character (odd run) stands before it."""
    parts = s.split(sep)
    if rel is None or rel == sep:  # a release equal to the separator ends no piece: nothing to glue
        return parts
    pair = rel + sep
    released = s.count(pair)
    if not released:
        return parts
    if released >= 64 and released * 4 >= len(parts):
        masked = _split_masked(s, sep, rel)
        if masked is not None:
            return masked
    # Only pieces ending in a release character can hide a released separator: those are the pieces
    # that end where `pair` starts. Find them with str.find and str.count (C speed) rather than
    # testing every piece; a last piece ending in releases has nothing after it to glue, so it can go.
    suspects = []
    idx = 0
    last = 0
    i = s.find(pair)
    while i >= 0:
        idx += s.count(sep, last, i)  # pieces before the one ending at i
        last = i
        suspects.append(idx)
        i = s.find(pair, i + 2)
    out: list[str] = []
    start = 0
    for i in suspects:
        if i < start:
            continue
        p = parts[i]
        if (len(p) - len(p.rstrip(rel))) % 2 == 0:
            continue  # an escaped release character ("??"), the separator after it is real
        out.extend(parts[start:i])
        # Glue this piece to the next ones while they keep ending in an odd run of releases. The run
        # of the glued text is the run of its last piece (a separator is never a release), so each
        # piece is tested once and joined once: gluing by repeated concatenation was quadratic.
        j = i + 1
        while j < len(parts):
            q = parts[j]
            if not (len(q) - len(q.rstrip(rel))) % 2:
                break
            j += 1
        out.append(sep.join(parts[i:j + 1]))
        start = j + 1
    out.extend(parts[start:])
    return out


_MASKS = "\x00\x01\x02\x03\x04\x05\x06\x07\ue000\ue001\ue002\ue003"


def _split_masked(s: str, sep: str, rel: str) -> list[str] | None:
    """`split_released` for text dense with released separators, in a few passes of C string methods.

    Released releases ("??") are masked first: the first "??" is always such a pair, as in a
    left-to-right scan, and every release left then releases the next character, so each remaining
    release+separator is a released separator and is masked too. Split, then unmask. The masks are
    characters absent from the text; None (use the general way) in the unlikely case none is free.
    """
    free = [c for c in _MASKS if c not in s and c not in (sep, rel)][:2]
    if len(free) < 2:
        return None
    dbl_mask, sep_mask = free
    dbl, pair = rel + rel, rel + sep
    pieces = s.replace(dbl, dbl_mask).replace(pair, sep_mask).split(sep)
    return [p.replace(sep_mask, pair).replace(dbl_mask, dbl) if sep_mask in p or dbl_mask in p else p
            for p in pieces]


def _unescape_fn(rel: str) -> re.Pattern[str]:
    """The plain definition of unescaping: `.sub(r"\\1", text)` drops each release character and keeps
    the character after it. `_unescaper` gives the same results faster."""
    return re.compile(re.escape(rel) + r"(.)", re.S)


def _unescaper(rel: str) -> Callable[[str, str], str]:
    """`_unescape_fn(rel).sub` (the template argument is ignored: always r"\\1") with str methods only.

    Python 3.11 expands the regular expression's template in Python code once per match, which made a
    component of 650,000 escaped separators take 1.2 s. Splitting on released releases ("??") pairs
    them exactly as a left-to-right scan does (the first "??" is always such a pair), and what is left
    holds only single releases, each releasing the next character: deleting them unescapes. A lone
    release at the very end releases nothing and stays, as with the regular expression.
    """
    pair = rel + rel

    def unescape(_template: str, text: str) -> str:
        out = rel.join([p.replace(rel, "") for p in text.split(pair)])
        return out + rel if text.endswith(rel) and (len(text) - len(text.rstrip(rel))) % 2 else out

    return unescape


_NO_SEGMENT: Segment = []  # placeholder, never returned

_KNOWN_TAGS = frozenset({
    "UNA", "UNB", "UNG", "UNH", "UNT", "UNE", "UNZ", "BGM", "RFF", "DTM", "LOC", "NAD", "COM", "CTA", "TDT",
    "ATT", "MEA", "GEI", "FTX", "EMP", "NAT", "DOC", "CPI", "QTY", "GID", "CNT", "ERP", "ERC", "UCI", "UCM",
    "UCS", "UCD", "UCF", "PDT", "UNS",
})


class _SlowSplitter:
    """Element and component split for the rare segment that holds a release character."""

    def __init__(self, elem: str, comp: str, rel: str, unescape: Callable[[str, str], str]) -> None:
        self.elem, self.comp, self.rel, self.unescape = elem, comp, rel, unescape
        self.released_end = False

    def __call__(self, s: str) -> Segment:
        rel = self.rel
        seg: Segment = []
        for e in split_released(s, self.elem, rel):
            cleaned = []
            for c in split_released(e, self.comp, rel):
                if rel in c:
                    if (len(c) - len(c.rstrip(rel))) % 2:
                        self.released_end = True
                    c = self.unescape(r"\1", c)
                cleaned.append(c)
            seg.append(cleaned)
        return seg


def _detect_separators(text: str) -> tuple[Separators, bool, int, list[Finding]]:
    """Return the separators, whether UNA was present, and where the segments start."""
    findings: list[Finding] = []
    if text.startswith("UNA"):
        if len(text) < 9:
            findings.append(_finding("SYN-UNA", Severity.ERROR, "UNA is shorter than 9 characters",
                                     1, 20, "UNA"))
            return DEFAULT, True, len(text), findings
        c, e, d, r, rep, t = tuple(text[3:9])
        rel = None if r == " " else r
        chars = [c, e, d, t] + ([rel] if rel else [])
        if len(set(chars)) != len(chars):
            findings.append(_finding("SYN-UNA", Severity.ERROR,
                                     "UNA uses the same character for two functions", 1, 20, "UNA",
                                     text[:9]))
        return Separators(c, e, d, rel, rep, t), True, 9, findings
    if text.startswith("UNB\x1d") or text.startswith("UNH\x1d"):
        return UNOB_DEFAULT, False, 0, findings
    return DEFAULT, False, 0, findings


def _strip_wrapping(text: str) -> tuple[str, list[Finding]]:
    """Drop a Type-B teletype header (and anything before the first service segment)."""
    findings: list[Finding] = []
    m = _START.search(text)
    if m is None:
        return text.lstrip(), findings
    head = text[: m.start(1)]
    if head.strip():
        if _TYPEB_HEAD.match(head):
            findings.append(_finding("ENV-TYPEB", Severity.INFO,
                                     "Type-B teletype envelope stripped before the interchange"))
        else:
            findings.append(_finding("ENV-JUNK-BEFORE", Severity.WARNING,
                                     "data before the first service segment was ignored"))
    return text[m.start(1):], findings


def decode(data: bytes) -> tuple[str, str | None, list[Finding]]:
    """Decode by the UNB syntax identifier; latin-1 first because separators are ASCII."""
    text = data.decode("latin-1")
    findings: list[Finding] = []
    m = re.search(r"UNB(.)([A-Z0-9]{4})", text[:400])
    syntax_id = m.group(2) if m else None
    if syntax_id in CHARSETS:
        codec = CHARSETS[syntax_id][0]
        if codec != "latin-1":
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                text = data.decode(codec, errors="replace")
                findings.append(_finding("SYN-ENCODING", Severity.ERROR,
                                         f"bytes not valid in {syntax_id} ({codec}) at offset {exc.start}",
                                         code=21))
    return text, syntax_id, findings


def lex(data: bytes | str, budget: Budget | None = None) -> Lexed:
    """Split an input into segments, recording every syntax problem met on the way.

    Findings count against `budget` (the caller's, which then adds the summaries; else one of
    this call's own)."""
    own = budget is None
    if budget is None:
        budget = Budget()
    if isinstance(data, bytes):
        text, syntax_id, findings = decode(data)
    else:
        text, syntax_id, findings = data, None, []
        m = re.search(r"UNB(.)([A-Z0-9]{4})", text[:400])
        syntax_id = m.group(2) if m else None
    if text.startswith("\ufeff"):
        text = text[1:]
    text, wrap_findings = _strip_wrapping(text)
    findings.extend(wrap_findings)
    seps, has_una, start, una_findings = _detect_separators(text)
    findings.extend(una_findings)
    body = text[start:]
    term, elem, comp, rel = seps.terminator, seps.element, seps.component, seps.release

    if elem not in body[:200] and body[:3] in ("UNB", "UNH") and not has_una:
        findings.append(_finding("SYN-SEPARATORS", Severity.ERROR,
                                 "no UNA and the default separators do not split this input", 1, 20))

    ws = " \r\n\t"
    # One segment per line is the common layout. When every line break follows a real terminator, the
    # breaks begin segments, and the strip of leading whitespace below drops them without a copy of the
    # body (`text` keeps them; the repertoire check allows them). A break after a released terminator
    # is dropped from the data too, so that case, and whitespace separators, take the plain way.
    strip = False
    if "\n" in body and term not in ws and (rel is None or (
            rel not in ws and rel + term + "\n" not in body and rel + term + "\r\n" not in body)):
        strip = True
    elif "\n" in body:
        body = body.replace(term + "\r\n", term).replace(term + "\n", term)
    raw_segments = split_released(body, term, rel)
    last = raw_segments[-1].strip() if raw_segments else ""
    if len(raw_segments) == 1 and len(last) > 40:
        guess = _guess_terminator(body)
        hint = f"; segments seem to end with {guess!r}, which needs a UNA to declare it" if guess else ""
        findings.append(_finding("SYN-SEPARATORS", Severity.ERROR,
                                 f"no segment terminator {term!r} in the input{hint}", 1, 20, last[:3],
                                 value=guess))
    elif last:
        # Text after the final terminator: a truncated segment, or a missing terminator.
        findings.append(_finding("SYN-TRUNCATED", Severity.ERROR,
                                 "input ends inside a segment (no segment terminator)",
                                 len(raw_segments), 13, last[:3]))
    # Any other whitespace after a terminator (or before the first segment, "UNA...\nUNB") goes too.
    strip = strip or body[:1] in ws or any(term + c in body for c in ws)
    pieces = raw_segments
    if pieces and not (pieces[-1].lstrip(ws) if strip else pieces[-1]):
        pieces.pop()  # the usual empty piece after the last terminator (the list is ours)
    # Segments repeat within an interchange (airports, nationalities, genders, bag counts): strip and
    # split each distinct text once and let its occurrences share the lists, which readers only read.
    # `map` over a repeated separator splits the elements without a comprehension (a new function
    # object per call in Python 3.11).
    unique = dict.fromkeys(pieces, _NO_SEGMENT)
    split = str.split
    comps = repeat(comp)
    slow = _SlowSplitter(elem, comp, rel, _unescaper(rel)) if rel is not None and rel in body else None
    blank: list[str] = []
    for s in unique:
        t = s.lstrip(ws) if strip else s
        if not t:
            blank.append(s)
        elif slow is not None and slow.rel in t:
            unique[s] = slow(t)
        else:
            unique[s] = list(map(split, t.split(elem), comps))
    released_end = slow is not None and slow.released_end
    if blank:  # empty segments ("''") are dropped
        for s in blank:
            del unique[s]
        pieces = [s for s in pieces if s in unique]
    segments: list[Segment] = list(map(unique.__getitem__, pieces))
    findings[:] = [f for f in findings if budget.keep(f.rule, f.severity)]  # the few made before this point
    if not {seg[0][0] for seg in unique.values()} <= _KNOWN_TAGS:
        _check_tags(segments, findings, budget)
    if released_end and budget.keep("SYN-RELEASE", Severity.ERROR):
        findings.append(_finding("SYN-RELEASE", Severity.ERROR,
                                 "release character stands before nothing", None, 22))
    if own:
        findings.extend(budget.summaries())
    lexed = Lexed(segments, seps, has_una, syntax_id, findings, body)
    return lexed


def _check_tags(segments: list[Segment], findings: list[Finding], budget: Budget | None = None) -> None:
    """Report (and where possible repair) tags that are not three upper-case letters. A repaired segment
    is replaced by a copy with its tag element copied: the others are shared and read only."""
    own = budget is None
    if budget is None:
        budget = Budget()
    for pos, seg in enumerate(segments, 1):
        tag = seg[0][0]
        if tag in _KNOWN_TAGS:
            continue
        if len(tag) != 3 or not tag.isalpha() or not tag.isupper():
            fixed = tag.strip()
            if len(fixed) == 3 and fixed.isalpha() and fixed.isupper():
                segments[pos - 1] = [[fixed, *seg[0][1:]], *seg[1:]]
                if budget.keep("SYN-TAG-SPACE", Severity.WARNING):
                    findings.append(_finding("SYN-TAG-SPACE", Severity.WARNING,
                                             "segment tag has surrounding spaces", pos, 12, fixed))
            elif budget.keep("SYN-TAG", Severity.ERROR):
                findings.append(_finding("SYN-TAG", Severity.ERROR,
                                         "segment tag is not three upper-case letters", pos, 12,
                                         value=tag[:20]))
    if own:
        findings.extend(budget.summaries())


def check_repertoire(lexed: Lexed, syntax_id: str, budget: Budget | None = None,
                     owner: Callable[[int], str | None] | None = None) -> list[Finding]:
    """Flag characters outside the declared repertoire (CONTRL 21), by segment.

    Findings count against `budget` (else one of this call's own, whose summaries are added), under
    the message that `owner` names for a segment position (None: the interchange level)."""
    allowed = CHARSETS.get(syntax_id, ("", None))[1]
    seps = lexed.separators
    service = "".join(re.escape(c) for c in
                      (seps.component, seps.element, seps.terminator, seps.release or "") if c)
    bad = re.compile(f"[^{allowed}{service}\\r\\n\\t]") if allowed is not None else _CONTROL
    if _clean(lexed.text, bad):
        return []
    own = budget is None
    if budget is None:
        budget = Budget()
    out: list[Finding] = []
    for pos, seg in enumerate(lexed.segments, 1):
        for i, el in enumerate(seg):
            for j, c in enumerate(el):
                if bad.search(c):
                    if not budget.keep("SYN-CHARSET", Severity.ERROR, owner(pos) if owner is not None else None):
                        break
                    out.append(Finding(
                        rule="SYN-CHARSET", severity=Severity.ERROR, contrl_error=21,
                        message=f"characters outside the {syntax_id} repertoire",
                        segment_position=pos, segment_tag=seg[0][0], element=i, component=j + 1,
                        level="interchange"))
                    break
    if own:
        out.extend(budget.summaries())
    return out


@lru_cache(maxsize=64)
def _allowed_latin1(bad: re.Pattern[str]) -> bytes:
    """The latin-1 characters `bad` does not match, as bytes to delete."""
    return bytes(c for c in range(256) if not bad.match(chr(c)))


def _clean(text: str, bad: re.Pattern[str]) -> bool:
    """`bad.search(text) is None`; for latin-1 text by deleting the allowed bytes (a C table loop,
    several times faster than the regular expression) and seeing whether anything is left."""
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        return bad.search(text) is None
    return not data.translate(None, _allowed_latin1(bad))


def _guess_terminator(body: str) -> str | None:
    """The character that ends most lines, when lines look like segments."""
    ends = [line.rstrip("\r")[-1:] for line in body.splitlines() if len(line.strip()) > 3]
    if len(ends) < 3:
        return None
    # One counting pass: `max(set(ends), key=ends.count)` was quadratic when lines end in many
    # different characters (UTF-8 input can hold tens of thousands).
    best, count = Counter(ends).most_common(1)[0]
    return best if count >= 0.8 * len(ends) and not best.isalnum() else None
