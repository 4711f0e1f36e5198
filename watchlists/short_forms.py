"""Nicknames and short forms of given names (BILL / WILLIAM, BOB / ROBERT, ABE / ABRAHAM).

Strategy: the maintained table of the `nicknames` package (a few thousand US and British given
names with their nicknames, 16 MB resident) says which written names stand for which. Two words
are linked only when the table relates them directly, one being a nickname of the other, never
through a third name: the table lists BILL under both WILLIAM and ROBERT, which must not make
WILLIAM and ROBERT one name. rigour's symbol tagger knows more (cross-script name links) but
keeps about 390 MB resident in every process that uses it; transliteration covers other scripts.
"""

from __future__ import annotations

from functools import cache, lru_cache

from nicknames import NickNamer

NO_NAMES: frozenset[str] = frozenset()


@cache
def _table() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=1 << 16)
def related_names(token: str) -> frozenset[str]:
    """Upper-case names a given-name token is directly related to as nickname or formal name."""
    if len(token) < 2 or not token.isalpha():
        return NO_NAMES
    word = token.lower()
    table = _table()
    found = table.nicknames_of(word) | table.canonicals_of(word)
    found.discard(word)
    return frozenset(name.upper() for name in found) if found else NO_NAMES


def are_related(a: str, b: str) -> bool:
    """Whether one word is a nickname or short form of the other."""
    return b in related_names(a) or a in related_names(b)
