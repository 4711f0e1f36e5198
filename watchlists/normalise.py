"""Name normalisation: any script, any order, any punctuation to a tuple of upper-case ASCII tokens.

Strategy: the same function runs on list names (once, at index build) and on travellers (on the
hot path), so it is cheap for the common case (ASCII in, one regex out) and only pays for
transliteration when the text is not ASCII. Scripts: Han goes through pypinyin, the syllables of
one written word joined into one token (李小龙 -> LIXIAOLONG; lists write "LI Xiaolong", and the
index also joins neighbouring tokens, so both meet); Hangul is romanised with anyascii (Revised
Romanisation) the same way; every
other script (Arabic, Persian, Cyrillic, Greek, Hebrew, Devanagari, Thai, kana, accented Latin)
goes through anyascii. Honorifics come off with rigour (OpenSanctions' maintained list) plus a
short list of titles common on sanctions lists. Particles (AL, BIN, VAN, DE ...) and initials stay:
they are part of the name as sent (NGUYEN VAN AN has no particle to lose), and the matcher gives
them little weight instead, because lists attach, detach and omit them at random. A token repeated
in one name counts once. Digits inside a word are read as the letters they are typed or scanned
for (M0HAMMED, 5ERGEI). MRZ filler `<` is a separator and FNU/LNU ("first/last name unknown") are
placeholders, not names. Order is kept (the matcher reads the first and last tokens as the
personal and family names) but matching does not depend on it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii
from pypinyin import lazy_pinyin
from rigour.names import remove_person_prefixes

# Religious and military titles that sanctions lists and travellers put before names; rigour's
# list covers the Western honorifics (Mr, Dr, General, ...).
TITLES = frozenset({
    "MR", "MRS", "MS", "MISS", "DR", "PROF", "SIR", "SHEIKH", "SHEIK", "SHAYKH", "SHAIKH", "MULLAH",
    "MULLA", "MAULAVI", "MAWLAWI", "MAULVI", "MOLVI", "MAWLAVI", "MAULANA", "MAWLANA", "HAJI", "HAJJI",
    "ALHAJI", "ALHAJ", "HADJI", "QARI", "SAYYID", "SAYED", "SYED", "GEN", "COL", "CAPT", "LT", "MAJ",
})
# Particles that lists attach ("AL-RAWI"), detach ("AL RAWI") or omit ("RAWI").
PARTICLES = frozenset({
    "AL", "EL", "UL", "UD", "UR", "ED", "AD", "AS", "AZ", "BIN", "BINT", "IBN", "BEN", "BENT",
    "VAN", "VON", "DER", "DEN", "DE", "DA", "DI", "DEL", "DELLA", "DOS", "DAS", "DU", "LA", "LE", "Y",
})
# MRZ and data-entry placeholders for a missing name part.
PLACEHOLDERS = frozenset({"FNU", "LNU", "XXX", "NFN", "NLN", "UNKNOWN", "NONE"})
# Distinct names remembered by `name_tokens`: travellers repeat names all day (Zipf), and an entry
# costs a few hundred bytes, so the cache stays around 20 MB however long the service runs.
NAME_CACHE_SIZE = 1 << 16

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")
_APOSTROPHES = re.compile(r"['’‘ʼʻ`´]")
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def _honorific_heads() -> frozenset[str] | None:
    """Lower-case first words an honorific that rigour strips can start with ("mr", "mr.", "his" ...).

    rigour builds its pattern `^\\W*((PREFIX|...)\\.?\\s+)*` from this list (see its docstring): it strips
    something from a name that starts with a word character only if the name's first word is a
    prefix (with or without a dot), or the first word of a prefix of several words. None when this
    rigour does not publish the list: every name then goes through the pattern."""
    try:
        from rigour._core import person_name_prefixes_list
    except ImportError:
        return None
    heads: set[str] = set()
    for prefix in person_name_prefixes_list():
        words = prefix.lower().replace("ı", "i").replace("ſ", "s").split(maxsplit=1)  # the pattern's i/s folds
        heads.update(words[:1] if len(words) > 1 else (words[0], words[0] + "."))
    return frozenset(heads)


_HONORIFIC_HEADS = _honorific_heads()


def _drop_honorifics(text: str) -> str:
    """`remove_person_prefixes`, without its long case-insensitive pattern for the usual name, whose
    first word is plainly no honorific (ASCII: the pattern's case-folding is then plain lower-casing)."""
    if _HONORIFIC_HEADS is not None and text[:1].isalnum():
        head = text.split(maxsplit=1)[0]
        if head.isascii() and head.lower() not in _HONORIFIC_HEADS:
            return text
    return remove_person_prefixes(text)


def _han_to_pinyin(match: re.Match[str]) -> str:
    return " " + "".join(lazy_pinyin(match.group(0), errors="ignore")) + " "


def _hangul_syllables(match: re.Match[str]) -> str:
    return " " + "".join(anyascii(ch) for ch in match.group(0)) + " "


def to_ascii(text: str) -> str:
    """Transliterate any script to ASCII (CJK and Hangul one syllable per word)."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    if _HAN.search(text):
        text = _HAN.sub(_han_to_pinyin, text)
    if _HANGUL.search(text):
        text = _HANGUL.sub(_hangul_syllables, text)
    return anyascii(text)


@lru_cache(maxsize=NAME_CACHE_SIZE)
def name_tokens(text: str, *, keep_stop_tokens: bool = False) -> tuple[str, ...]:
    """Upper-case ASCII tokens of a name in written order, without titles or placeholders, each once.

    Particles and initials are kept (the matcher weighs them lightly); titles are dropped unless
    nothing else is left. Memoised (bounded LRU): the same names come back for every manifest, and
    transliteration and the honorific regex cost tens of microseconds. A tuple, so callers cannot
    alter the cache.
    """
    text = _drop_honorifics(text.replace("<", " "))
    ascii_text = to_ascii(text)
    if "'" in ascii_text or "`" in ascii_text or not ascii_text.isascii():  # the only ASCII apostrophes
        ascii_text = _APOSTROPHES.sub("", ascii_text)
    ascii_text = ascii_text.upper()
    raw = [t for t in _NON_ALNUM.split(ascii_text) if t]
    if keep_stop_tokens:
        return tuple(raw)
    raw = [read_digits(t) if not t.isalpha() else t for t in raw]
    tokens = [t for t in raw if t not in TITLES and t not in PLACEHOLDERS]
    if not tokens:
        tokens = [t for t in raw if t not in PLACEHOLDERS]
    # A repeated token counts once, where it last stands (AHMAD JAN AKHUNDZADA SHUKOOR AKHUNDZADA: the
    # family name is the last word).
    return tuple(reversed(dict.fromkeys(reversed(tokens))))


# Digits typed or scanned for the letters they look like, inside a word (M0HAMMED, 5ERGEI, ALEXE1).
_DIGIT_LETTERS = str.maketrans("01358", "OIESB")


def read_digits(token: str) -> str:
    """A word mixing letters and digits with the digits read as letters; a number stays a number."""
    if token.isdigit() or not any(c.isalpha() for c in token):
        return token
    return token.translate(_DIGIT_LETTERS)


def has_typed_digits(token: str) -> bool:
    """Whether a sent word mixes letters with digits that `name_tokens` reads as letters."""
    return not token.isalpha() and any(c.isalpha() for c in token) and any(c in "01358" for c in token)


def identity_tokens(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The tokens that identify a person for an officer's clearance: without particles and initials
    (a clearance must not lapse because one manifest writes AL-RAWI and the next RAWI)."""
    kept = tuple(t for t in tokens if len(t) > 1 and t not in PARTICLES)
    return kept or tokens


def is_particle(token: str) -> bool:
    return token in PARTICLES


def mrz_name(text: str) -> tuple[str, str]:
    """Split an MRZ name field (`SURNAME<<GIVEN<NAMES`) into (surname, given names)."""
    surname, _, given = text.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


_SCRIPTS = (
    ("Han", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")),
    ("Hangul", _HANGUL),
    ("Kana", re.compile(r"[\u3040-\u30ff]")),
    ("Arabic", re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")),
    ("Cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("Greek", re.compile(r"[\u0370-\u03ff]")),
    ("Hebrew", re.compile(r"[\u0590-\u05ff]")),
    ("Devanagari", re.compile(r"[\u0900-\u097f]")),
    ("Thai", re.compile(r"[\u0e00-\u0e7f]")),
)


def script_of(text: str) -> str:
    """The main non-Latin script of a name, or "Latin"; used for per-script reporting."""
    if text.isascii():
        return "Latin"
    for name, pattern in _SCRIPTS:
        if pattern.search(text):
            return name
    return "Latin"
