"""The reader's fast paths give exactly what the plain algorithms they shortcut give.

Each fast path (separator search, YYMMDD dates, nearest century, ASCII matching keys) is held
against a straightforward reference implementation over generated inputs.
"""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers._dates import resolve_near, to_date
from parsers._lexer import split_released
from parsers._names import _PLACEHOLDERS, matching_key


def _split_released_reference(s: str, sep: str, rel: str | None) -> list[str]:
    """Visit every piece ending in a release character (the algorithm before the str.find shortcut)."""
    parts = s.split(sep)
    if rel is None:
        return parts
    out: list[str] = []
    start = 0
    for i in [i for i, p in enumerate(parts) if p.endswith(rel)]:
        if i < start:
            continue
        p = parts[i]
        if (len(p) - len(p.rstrip(rel))) % 2 == 0:
            continue
        out.extend(parts[start:i])
        carry = p
        j = i + 1
        while j < len(parts):
            carry = carry + sep + parts[j]
            if not (carry.endswith(rel) and (len(carry) - len(carry.rstrip(rel))) % 2):
                break
            j += 1
        out.append(carry)
        start = j + 1
    out.extend(parts[start:])
    return out


@settings(max_examples=500)
@given(st.text(alphabet="ab?'+: ", max_size=30), st.sampled_from(["'", "+", ":", "?"]),
       st.sampled_from(["?", "'", None]))
def test_split_released_matches_reference(s: str, sep: str, rel: str | None) -> None:
    assert split_released(s, sep, rel) == _split_released_reference(s, sep, rel)


def _resolve_near_reference(yy: int, month: int, day: int, reference: date) -> date | None:
    best: date | None = None
    base = (reference.year // 100) * 100 + yy
    for year in (base - 100, base, base + 100):
        try:
            d = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((d - reference).days) < abs((best - reference).days):
            best = d
    return best


@settings(max_examples=500)
@given(st.integers(0, 99), st.integers(0, 13), st.integers(0, 32), st.dates(date(100, 1, 1), date(9899, 12, 31)))
def test_resolve_near_matches_reference(yy: int, month: int, day: int, reference: date) -> None:
    assert resolve_near(yy, month, day, reference) == _resolve_near_reference(yy, month, day, reference)


@settings(max_examples=500)
@given(st.text(alphabet="0123456789 ¹x", min_size=5, max_size=7), st.dates(date(1900, 1, 1), date(2200, 1, 1)),
       st.booleans())
def test_yymmdd_fast_path_matches_general_path(value: str, reference: date, past: bool) -> None:
    # format 101 (YYMMDD) always takes the general parse_digits path; up to 7 characters, no format
    # means the same thing, by the fast path when the value is exactly six digits
    assert to_date(value, None, reference, past=past) == to_date(value, "101", reference, past=past)


_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FFF), max_size=20))
def test_matching_key_matches_regex(text: str) -> None:
    from anyascii import anyascii

    t = text if text.isascii() else anyascii(text)
    tokens = sorted(x for x in _NON_ALNUM.sub(" ", t.upper()).split() if x not in _PLACEHOLDERS)
    assert matching_key(text) == " ".join(tokens)
