"""Name normalisation for display and matching, kept beside the name as sent.

Strategy: cheap string operations for the common ASCII MRZ case; anyascii only for names that
are not ASCII. The matching key is order-independent (sorted tokens) because carriers and lists
disagree on which part is the surname.
"""

from __future__ import annotations

import re

from anyascii import anyascii

_PLACEHOLDERS = frozenset({"FNU", "LNU", "UNKNOWN", "NONE", "XX"})
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def clean(value: str) -> str:
    """Trim, turn MRZ fillers into spaces and collapse runs of spaces."""
    if "<" in value:
        value = value.replace("<", " ")
    return " ".join(value.split())


def matching_key(text: str) -> str:
    if not text.isascii():
        text = anyascii(text)
    tokens = _NON_ALNUM.sub(" ", text.upper()).split()
    tokens = [t for t in tokens if t not in _PLACEHOLDERS]
    tokens.sort()
    return " ".join(tokens)


def normalise(surname: str | None, given: list[str]) -> tuple[str, str]:
    """(full name for display, matching key) from the name parts as sent."""
    s = clean(surname) if surname else ""
    g = clean(" ".join(given)) if given else ""
    if s.upper() in _PLACEHOLDERS:
        s = ""
    if g.upper() in _PLACEHOLDERS:
        g = ""
    full = f"{g} {s}" if g and s else (g or s)
    return full, matching_key(full)
