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
# Every byte but A-Z and 0-9 to a space: what _NON_ALNUM does to ASCII text, at bytes.translate speed
# (about three times faster than the regex, which dominated the matching key).
_TO_SPACE = bytes(c if 65 <= c <= 90 or 48 <= c <= 57 else 32 for c in range(256))
# The same, upper-casing a-z on the way: `upper()` and `_TO_SPACE` in one pass over ASCII text.
_UPPER_TO_SPACE = bytes(c - 32 if 97 <= c <= 122 else t for c, t in enumerate(_TO_SPACE))


def clean(value: str) -> str:
    """Trim, turn MRZ fillers into spaces and collapse runs of spaces."""
    if "<" in value:
        value = value.replace("<", " ")
    return " ".join(value.split())


def matching_key(text: str) -> str:
    if not text.isascii():
        text = anyascii(text)
    if text.isascii():  # always after anyascii; the regex stays for anything that is not
        tokens = text.encode("ascii").translate(_UPPER_TO_SPACE).decode("ascii").split()
    else:
        tokens = _NON_ALNUM.sub(" ", text.upper()).split()
    if not _PLACEHOLDERS.isdisjoint(tokens):
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
