"""Latin spellings of names written in other scripts, as passports and lists actually print them.

One spelling per script is not enough to screen: a Russian passport issued in 2005 says YURIY, one
issued in 2015 says IURII, a sanctions list may say YURI (BGN/PCGN). So each name gets the spellings
of the published national and ICAO 9303 tables that plausibly produced the Latin form on a document,
each labelled with its rule. The tables that are published standards (ICAO 9303 Part 3, Russian MVD
1997, Ukrainian KMU 55 of 2010, Bulgarian 2009, Belarusian, Greek ELOT 743, Armenian and Georgian
passport tables, McCune–Reischauer) are small dicts here; the rest comes from maintained libraries:
pypinyin (Hanyu Pinyin, Wade–Giles), pykakasi (Hepburn), pythainlp (RTGS), ICU's CLDR transforms
(BGN/PCGN, UNGEGN) and anyascii. Arabic and Hebrew are written without short vowels, so no spelling
can be right; for them the matcher compares `consonant_skeleton` keys instead.

Every form is upper-case ASCII with single spaces, the original token order kept, duplicates removed
and at most MAX_FORMS per name, so that index size stays linear in the list.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from anyascii import anyascii

# A name never turns into more spellings than this: each one becomes an index entry.
MAX_FORMS = 8
# Longer than any name a passport or a list holds (EDIFACT gives five elements of 35): a crafted
# name of thousands of Han or Thai characters would cost seconds of segmentation per form, so such
# a name gets no other forms (it is still screened in its first, anyascii form).
MAX_NAME_CHARS = 200
# Distinct names remembered: list names are transliterated once at index build, travellers repeat.
CACHE_SIZE = 1 << 16

Form = tuple[str, str]

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
# Apostrophes, aspiration and ayin marks, and the middle dot BGN/PCGN puts between letters that
# would otherwise read as a digraph (Russian ШЭ -> SH·E): none of them separates words.
_APOSTROPHES = re.compile(r"['’‘ʼʻʹʽ`´\"\u00b7]")
_SPACES = re.compile(r"[\s\u00b7\u30fb\u2027\u200c\u200d,;/()<>\-_.]+")


def _clean(text: str) -> str:
    """Upper-case ASCII with single spaces; apostrophes (aspiration and ayin marks) vanish."""
    text = _APOSTROPHES.sub("", text)
    text = _APOSTROPHES.sub("", anyascii(text)).upper()
    return " ".join(t for t in _NON_ALNUM.split(text) if t)


def _collect(candidates: Iterable[Form]) -> tuple[Form, ...]:
    out: list[Form] = []
    seen: set[str] = set()
    for text, label in candidates:
        form = _clean(text)
        if form and form not in seen:
            seen.add(form)
            out.append((form, label))
            if len(out) == MAX_FORMS:
                break
    return tuple(out)


def _tokens(name: str) -> list[str]:
    return [t for t in _SPACES.split(name) if t]


def _join_words(per_word: list[tuple[Form, ...]]) -> list[Form]:
    """Name forms from word forms: the tables look no further than a word, and list names share
    words, so scripts spelled word by word are transliterated (and cached) one word at a time.
    Every word yields the same rules in the same order."""
    if not per_word:
        return []
    return [(" ".join(word[i][0] for word in per_word), label) for i, (_, label) in enumerate(per_word[0])]


# ---------------------------------------------------------------------------------------------
# ICU (CLDR transforms); optional: PyICU needs the ICU C library, so without it these forms are skipped.

@lru_cache(maxsize=32)
def _icu(transform_id: str) -> Callable[[str], str] | None:
    try:
        import icu  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the platform
        return None
    try:
        transliterator: Any = icu.Transliterator.createInstance(transform_id)
    except Exception:  # pragma: no cover - an ICU build without this transform
        return None
    return lambda text: str(transliterator.transliterate(text))


# Words remembered per transform: list names share given names and surnames, and a transform call
# costs tens of microseconds.
WORD_CACHE_SIZE = 1 << 15


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _icu_word(transform_id: str, word: str) -> str | None:
    fn = _icu(transform_id)
    return fn(word) if fn is not None else None


def _icu_form(transform_id: str, text: str, label: str) -> list[Form]:
    """One transform applied word by word (its rules look no further than a word)."""
    words = [_icu_word(transform_id, w) for w in _tokens(text)]
    return [(" ".join(w for w in words if w is not None), label)] if None not in words else []


# ---------------------------------------------------------------------------------------------
# Cyrillic

# ICAO Doc 9303 Part 3, transliteration of Cyrillic characters (Russian column); Ь is omitted.
_ICAO_CYR = {
    "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "ђ": "d", "ѓ": "g", "е": "e", "ё": "e",
    "є": "ie", "ж": "zh", "з": "z", "ѕ": "dz", "и": "i", "і": "i", "ї": "i", "й": "i", "ј": "j", "к": "k",
    "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "ћ": "c", "ќ": "k", "у": "u", "ў": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "џ": "dz", "ш": "sh",
    "щ": "shch", "ъ": "ie", "ы": "y", "ь": "", "э": "e", "ю": "iu", "я": "ia",
}
# ICAO 9303's language-specific exceptions to that table.
_ICAO_BY_LANGUAGE = {
    "ru": _ICAO_CYR,
    "uk": {**_ICAO_CYR, "и": "y"},
    "be": {**_ICAO_CYR, "г": "h", "ё": "io"},
    "bg": {**_ICAO_CYR, "щ": "sht"},
    "sr": {**_ICAO_CYR, "г": "h", "ж": "z", "х": "h", "ц": "c", "ч": "c", "ш": "s"},
    "mk": {**_ICAO_CYR, "х": "h", "ц": "c", "ѓ": "gj", "ќ": "kj", "џ": "dj"},
}
# Russian MVD order of 1997 (internal passports' Latin line and foreign passports until 2010).
_RU_1997 = {
    **_ICAO_CYR, "е": "e", "ё": "e", "й": "y", "ъ": "", "ю": "yu", "я": "ya",
}
# Ukrainian Cabinet of Ministers resolution No. 55 of 2010: word-initial forms differ.
_UK_ZGH = "\x01"  # ЗГ is ZGH, so that it is not read as Ж (ZH)
_UK_2010 = {
    **_ICAO_CYR, "г": "h", "ґ": "g", "е": "e", "є": "ie", "и": "y", "і": "i", "ї": "i", "й": "i", "ю": "iu",
    "я": "ia", "ь": "", "ъ": "", "ы": "y", "э": "e", "ё": "io", _UK_ZGH: "gh",
}
_UK_2010_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
# Belarusian national passport table (Instruction of the State Committee on Land Resources, 2007).
_BE_NATIONAL = {
    **_ICAO_CYR, "г": "h", "е": "e", "ё": "io", "й": "i", "ў": "u", "ю": "iu", "я": "ia", "ь": "", "ъ": "",
    "и": "i",
}
# Spellings on many Belarusian passports at a word's start and after a vowel (TSIKHANOUSKAYA).
_BE_INITIAL = {"е": "ye", "ё": "yo", "ю": "yu", "я": "ya"}
# Bulgarian Transliteration Act 2009 (Streamlined System); -ия at a word's end is -ia.
_BG_2009 = {
    **_ICAO_CYR, "й": "y", "х": "h", "щ": "sht", "ъ": "a", "ь": "y", "ю": "yu", "я": "ya",
}
# Serbian and Macedonian official Latin alphabets, ASCII: one form drops the carons (Č -> C), one
# spells them out (Č -> CH), as passports and lists do both.
_SR_PLAIN = {
    **_ICAO_CYR, "ђ": "dj", "ж": "z", "ћ": "c", "ч": "c", "џ": "dz", "ш": "s", "х": "h", "ц": "c",
    "ѓ": "gj", "ќ": "kj", "ѕ": "dz", "й": "j",
}
_SR_DIGRAPH = {**_SR_PLAIN, "ж": "zh", "ћ": "ch", "ч": "ch", "ш": "sh", "џ": "dzh"}
_VOWELS_CYR = frozenset("аеёиіїоуўыэєюя")


def _map_cyrillic(text: str, table: dict[str, str], initial: dict[str, str] | None = None,
                  ia_final: bool = False, after_vowel: bool = False) -> str:
    out: list[str] = []
    low = text.lower()
    for i, ch in enumerate(low):
        start = i == 0 or not low[i - 1].isalpha() or (after_vowel and low[i - 1] in _VOWELS_CYR)
        if initial and start and ch in initial:
            out.append(initial[ch])
        elif ia_final and ch == "я" and i > 0 and low[i - 1] == "и" and (i + 1 == len(low) or not low[i + 1].isalpha()):
            out.append("a")
        else:
            out.append(table.get(ch, ch))
    return "".join(out)


def _ru_1997_ye(text: str) -> str:
    """MVD 1997 as often applied: Е after a vowel, Ь, Ъ or at a word's start is YE."""
    low = text.lower()
    out: list[str] = []
    for i, ch in enumerate(low):
        prev = low[i - 1] if i else " "
        if ch in "её" and (not prev.isalpha() or prev in _VOWELS_CYR or prev in "ьъ"):
            out.append("ye")
        else:
            out.append(_RU_1997.get(ch, ch))
    return "".join(out)


def _cyrillic_languages(text: str) -> list[str]:
    """Languages the spelling points to, most likely first; plain Russian-looking letters are ambiguous."""
    low = set(text.lower())
    if low & set("ђћ"):
        return ["sr"]
    if low & set("ѓќѕ"):
        return ["mk"]
    if low & set("јљњџ"):
        return ["sr", "mk"]
    if low & set("ґєї") or ("і" in low and "и" in low):
        return ["uk"]
    if "ў" in low:
        return ["be"]
    if "і" in low:
        return ["be", "uk"] if low & set("ыэё") else ["uk", "be"]
    if low & set("ыэё"):
        return ["ru", "be"] if "и" not in low and "щ" not in low else ["ru"]
    return ["ru", "uk", "bg"]


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _cyrillic_word(name: str, languages: tuple[str, ...]) -> tuple[Form, ...]:
    forms: list[Form] = []
    for lang in languages:
        if lang == "ru":
            forms += [(_map_cyrillic(name, _ICAO_CYR), "ICAO 9303 / Russian passport 2010"),
                      (_map_cyrillic(name, _RU_1997), "Russian passport 1997"),
                      (_ru_1997_ye(name), "Russian passport 1997 (YE)")]
            forms += _icu_form("Russian-Latin/BGN", name, "BGN/PCGN Russian")
        elif lang == "uk":
            uk = re.sub("(?<=[зЗ])[гГ]", _UK_ZGH, name)
            forms.append((_map_cyrillic(uk, _UK_2010, _UK_2010_INITIAL), "Ukrainian KMU 55 (2010)"))
            forms.append((_map_cyrillic(name, _ICAO_BY_LANGUAGE["uk"]), "ICAO 9303 (Ukrainian)"))
            forms += _icu_form("Ukrainian-Latin/BGN", name, "BGN/PCGN Ukrainian")
        elif lang == "be":
            forms.append((_map_cyrillic(name, _BE_NATIONAL), "Belarusian national"))
            forms.append((_map_cyrillic(name, _BE_NATIONAL, _BE_INITIAL, after_vowel=True),
                          "Belarusian national (YA after vowels)"))
            forms.append((_map_cyrillic(name, _ICAO_BY_LANGUAGE["be"]), "ICAO 9303 (Belarusian)"))
            forms += _icu_form("Belarusian-Latin/BGN", name, "BGN/PCGN Belarusian")
        elif lang == "bg":  # Ь occurs only in ЬО (YO); a Russian soft sign is dropped
            bg = re.sub("ьо", "йо", name, flags=re.IGNORECASE)
            forms.append((_map_cyrillic(bg, {**_BG_2009, "ь": ""}, ia_final=True), "Bulgarian 2009"))
            forms.append((_map_cyrillic(name, _ICAO_BY_LANGUAGE["bg"]), "ICAO 9303 (Bulgarian)"))
        elif lang in ("sr", "mk"):
            forms.append((_map_cyrillic(name, _SR_PLAIN), "Serbian/Macedonian Latin (ASCII)"))
            forms.append((_map_cyrillic(name, _SR_DIGRAPH), "Serbian/Macedonian Latin (digraphs)"))
            forms.append((_map_cyrillic(name, _ICAO_BY_LANGUAGE[lang]), f"ICAO 9303 ({lang})"))
            transform = "Serbian-Latin/BGN" if lang == "sr" else "Macedonian-Latin/BGN"
            forms += _icu_form(transform, name, "BGN/PCGN " + ("Serbian" if lang == "sr" else "Macedonian"))
    return tuple(forms)


def _cyrillic_forms(name: str) -> list[Form]:
    languages = tuple(_cyrillic_languages(name))
    return _join_words([_cyrillic_word(w, languages) for w in _tokens(name)])


# ---------------------------------------------------------------------------------------------
# Greek

_GREEK_LETTERS = {
    "α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
    "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
    "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o",
}
_GREEK_VOICELESS = frozenset("θκξπστφχψς")
_DIAERESIS = "\u0308"


def _greek_letters(word: str) -> list[tuple[str, bool]]:
    """Lower-case letters without accents, each flagged if it carried a diaeresis (read apart)."""
    out: list[tuple[str, bool]] = []
    for ch in unicodedata.normalize("NFD", word.lower()):
        if unicodedata.combining(ch):
            if ch == _DIAERESIS and out:
                out[-1] = (out[-1][0], True)
            continue
        out.append((ch, False))
    return out


def _greek_word(word: str, *, elot: bool, mb_inside: bool = False) -> str:
    """ELOT 743 (Greek passports since 2011, = ICAO 9303 for Greek) or letter by letter (older documents)."""
    letters = _greek_letters(word)
    n = len(letters)
    out: list[str] = []
    i = 0
    while i < n:
        ch, _ = letters[i]
        nxt, nxt_apart = letters[i + 1] if i + 1 < n else ("", False)
        after = letters[i + 2][0] if i + 2 < n else ""
        pair = ch + nxt
        if elot and not nxt_apart:
            if pair == "ου":
                out.append("ou")
                i += 2
                continue
            if pair in ("αυ", "ευ", "ηυ"):
                voiceless = after == "" or after in _GREEK_VOICELESS
                out.append(_GREEK_LETTERS[ch] + ("f" if voiceless else "v"))
                i += 2
                continue
            if pair in ("μπ", "ντ"):
                edge = i == 0 or i + 2 == n
                out.append(("b" if ch == "μ" else "d") if edge else ("mb" if mb_inside and ch == "μ" else
                                                                     "mp" if ch == "μ" else "nt"))
                i += 2
                continue
            if pair == "γκ":
                out.append("g" if i == 0 else "nk")
                i += 2
                continue
            if pair in ("γγ", "γξ", "γχ"):
                out.append("n" + _GREEK_LETTERS[nxt])
                i += 2
                continue
        if not elot and pair == "ου" and not nxt_apart:
            out.append("ou")
            i += 2
            continue
        out.append(_GREEK_LETTERS.get(ch, ch))
        i += 1
    return "".join(out)


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _greek_word_forms(word: str) -> tuple[Form, ...]:
    return (
        (_greek_word(word, elot=True), "ELOT 743 / ICAO 9303"),
        (_greek_word(word, elot=False), "Greek letter by letter"),
        (_greek_word(word, elot=True, mb_inside=True), "ELOT 743 (MB)"),
        *_icu_form("Greek-Latin/UNGEGN", word, "UNGEGN Greek"),
    )


def _greek_forms(name: str) -> list[Form]:
    return _join_words([_greek_word_forms(w) for w in _tokens(name)])


# ---------------------------------------------------------------------------------------------
# Armenian and Georgian

_HY = {
    "ա": "a", "բ": "b", "գ": "g", "դ": "d", "ե": "e", "զ": "z", "է": "e", "ը": "y", "թ": "t", "ժ": "zh",
    "ի": "i", "լ": "l", "խ": "kh", "ծ": "ts", "կ": "k", "հ": "h", "ձ": "dz", "ղ": "gh", "ճ": "ch", "մ": "m",
    "յ": "y", "ն": "n", "շ": "sh", "ո": "o", "չ": "ch", "պ": "p", "ջ": "j", "ռ": "r", "ս": "s", "վ": "v",
    "տ": "t", "ր": "r", "ց": "ts", "ւ": "v", "փ": "p", "ք": "k", "օ": "o", "ֆ": "f", "և": "ev",
}
# Aspirated stops spelled with H, as in ISO 9985 without its apostrophes (older documents).
_HY_ASPIRATED = {**_HY, "թ": "th", "փ": "ph", "ք": "kh", "ց": "ts", "չ": "ch", "խ": "x", "ը": "e"}


def _armenian_word(word: str, table: dict[str, str], *, passport: bool) -> str:
    low = word.lower()
    out: list[str] = []
    i = 0
    while i < len(low):
        ch = low[i]
        if ch == "ո" and i + 1 < len(low) and low[i + 1] == "ւ":
            out.append("u")
            i += 2
            continue
        if passport and i == 0 and ch == "ե":
            out.append("ye")
        elif passport and i == 0 and ch == "ո":
            out.append("vo")
        elif passport and ch == "և" and i == 0:
            out.append("yev")
        else:
            out.append(table.get(ch, ch))
        i += 1
    return "".join(out)


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _armenian_word_forms(word: str) -> tuple[Form, ...]:
    return (
        (_armenian_word(word, _HY, passport=True), "Armenian passport"),
        (_armenian_word(word, _HY, passport=False), "Armenian letter by letter"),
        (_armenian_word(word, _HY_ASPIRATED, passport=False), "ISO 9985 (ASCII)"),
    )


def _armenian_forms(name: str) -> list[Form]:
    # No ICU Armenian-Latin/BGN form: it doubles letters (RROBERT), a spelling no document prints.
    return _join_words([_armenian_word_forms(w) for w in _tokens(name)])


# Georgian national system of 2002 (passports, ICAO 9303 MRZ); ყ is Q, and K on older documents.
_KA = {
    "ა": "a", "ბ": "b", "გ": "g", "დ": "d", "ე": "e", "ვ": "v", "ზ": "z", "თ": "t", "ი": "i", "კ": "k",
    "ლ": "l", "მ": "m", "ნ": "n", "ო": "o", "პ": "p", "ჟ": "zh", "რ": "r", "ს": "s", "ტ": "t", "უ": "u",
    "ფ": "p", "ქ": "k", "ღ": "gh", "ყ": "q", "შ": "sh", "ჩ": "ch", "ც": "ts", "ძ": "dz", "წ": "ts",
    "ჭ": "ch", "ხ": "kh", "ჯ": "j", "ჰ": "h",
}
_KA_Q_AS_K = {**_KA, "ყ": "k"}
_KA_OLD = {**_KA, "ყ": "k", "თ": "th", "ფ": "ph", "ქ": "kh", "ხ": "kh"}


def _georgian_forms(name: str) -> list[Form]:
    return _join_words([_georgian_word_forms(w) for w in _tokens(name)])


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _georgian_word_forms(name: str) -> tuple[Form, ...]:
    low = unicodedata.normalize("NFC", name)
    # Mtavruli (capital) letters map to Mkhedruli by offset.
    low = "".join(chr(ord(c) - 0x1C90 + 0x10D0) if "\u1c90" <= c <= "\u1cbf" else c for c in low)
    return (
        ("".join(_KA.get(c, c) for c in low), "Georgian national 2002"),
        ("".join(_KA_Q_AS_K.get(c, c) for c in low), "Georgian national (Q as K)"),
        ("".join(_KA_OLD.get(c, c) for c in low), "Georgian aspirated TH/PH/KH"),
        *_icu_form("Georgian-Latin/BGN", name, "BGN/PCGN Georgian"),
    )


# ---------------------------------------------------------------------------------------------
# Arabic, Persian, Urdu, Hebrew: vowel-less; the forms are consonantal and matching uses skeletons.

_PERSIAN_LETTERS = frozenset("پچژگکیۀ")


_ARABIC_LETTER = "\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff"
_ARABIC_ARTICLE = re.compile(f"(?<![{_ARABIC_LETTER}])\u0627\u0644(?=[{_ARABIC_LETTER}]{{2}})")


def _arabic_forms(name: str) -> list[Form]:
    # Lists write the article apart (AL-TIKRITI, AL TIKRITI) and ta marbuta as A (HAMZA): the
    # letter-by-letter form (LTKRYTY, HMZH) would miss both; it is kept second.
    readable = _ARABIC_ARTICLE.sub("al ", name.replace("\u0629", "a"))
    forms: list[Form] = [(anyascii(readable), "anyascii, article apart") if readable != name else
                         (anyascii(name), "anyascii"), (anyascii(name), "anyascii")]
    if set(name) & _PERSIAN_LETTERS:
        forms += _icu_form("Persian-Latin/BGN", name, "BGN/PCGN Persian")
    forms += _icu_form("Arabic-Latin/BGN", name, "BGN/PCGN Arabic")
    return forms


_HEBREW_INITIAL_BET = re.compile(r"(?<![\u05d0-\u05ea])\u05d1")


def _hebrew_forms(name: str) -> list[Form]:
    # A word-initial bet is always B (dagesh); transliterators unaware of that write V (VNYMYN).
    forms: list[Form] = [(anyascii(name), "anyascii"), *_icu_form("Hebrew-Latin/BGN", name, "BGN/PCGN Hebrew")]
    if _HEBREW_INITIAL_BET.search(name):
        with_b = _HEBREW_INITIAL_BET.sub("B", name)
        forms = [(anyascii(with_b), "anyascii, initial bet B"), *forms]
    return forms


# ---------------------------------------------------------------------------------------------
# Chinese (Han), Japanese, Korean

# Two-character surnames: in a 3-4 character name the first two characters are the surname.
_HAN_COMPOUND_SURNAMES = frozenset({
    "欧阳", "歐陽", "司马", "司馬", "诸葛", "諸葛", "上官", "司徒", "东方", "東方", "皇甫", "令狐", "慕容",
    "公孙", "公孫", "夏侯", "轩辕", "軒轅", "端木", "尉迟", "尉遲", "长孙", "長孫", "宇文", "澹台", "呼延",
})
# Surnames whose reading differs from the character's common reading: (pinyin, Wade-Giles).
_HAN_SURNAME_READINGS = {
    "曾": ("zeng", "tseng"), "单": ("shan", "shan"), "單": ("shan", "shan"), "仇": ("qiu", "chiu"),
    "解": ("xie", "hsieh"), "查": ("zha", "cha"), "朴": ("piao", "piao"), "区": ("ou", "ou"), "區": ("ou", "ou"),
    "覃": ("qin", "chin"), "盖": ("ge", "ko"), "蓋": ("ge", "ko"), "乐": ("yue", "yueh"), "樂": ("yue", "yueh"),
    "翟": ("zhai", "chai"), "缪": ("miao", "miao"), "繆": ("miao", "miao"), "柏": ("bai", "pai"),
    "牟": ("mou", "mou"), "尉迟": ("yuchi", "yuchih"), "尉遲": ("yuchi", "yuchih"),
}
_HAN_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")


def _han_split(word: str) -> list[str]:
    """A one-word Chinese name of 2-4 characters is surname + given name (compound surnames kept)."""
    if not 2 <= len(word) <= 4 or not all(_HAN_CHAR.match(c) for c in word):
        return [word]
    cut = 2 if len(word) >= 3 and word[:2] in _HAN_COMPOUND_SURNAMES else 1
    return [word[:cut], word[cut:]]


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _pinyin(part: str, *, surname: bool, wade: bool) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    if surname and part in _HAN_SURNAME_READINGS:
        return (_HAN_SURNAME_READINGS[part][1 if wade else 0],)
    style = Style.WADEGILES if wade else Style.NORMAL
    return tuple(s for s in lazy_pinyin(part, style=style, errors="default") if s)


def _han_forms(name: str) -> list[Form]:
    words = _tokens(name)
    parts: list[tuple[str, bool]] = []  # (text, is surname)
    for index, word in enumerate(words):
        split = _han_split(word) if len(words) == 1 else [word]
        for j, part in enumerate(split):
            parts.append((part, (len(split) == 2 and j == 0) or (len(words) > 1 and index == 0)))
    pinyin = [_pinyin(p, surname=s, wade=False) for p, s in parts]
    wade = [_pinyin(p, surname=s, wade=True) for p, s in parts]
    forms: list[Form] = [
        (" ".join("".join(sy) for sy in pinyin), "Hanyu Pinyin"),
        (" ".join("".join(sy) for sy in wade), "Wade-Giles"),
        (" ".join(" ".join(sy) for sy in wade), "Wade-Giles (syllables apart)"),
    ]
    if not _KANA.search(name) and _may_be_japanese(words):
        forms += _japanese_forms(name, kanji_only=True)
    return forms


def _may_be_japanese(words: list[str]) -> bool:
    """Whether a name in Han characters may be Japanese, so that its Japanese reading is worth a form:
    a Japanese family name has two characters nearly always, a Chinese one has one. Written apart, a
    word of one character makes it Chinese; written together, three characters or more may be either."""
    if len(words) > 1:
        return all(len(word) > 1 for word in words)
    return len(words[0]) > 2 if words else False


@lru_cache(maxsize=1)
def _kakasi() -> Any:
    import pykakasi

    return pykakasi.kakasi()  # type: ignore[no-untyped-call]


_LONG_VOWELS = (("OU", "O"), ("OO", "O"), ("UU", "U"))


def _passport_hepburn(text: str) -> str:
    """Hepburn as Japanese passports print it: long vowels not written (SHINZOU -> SHINZO)."""
    text = text.upper()
    for long, short in _LONG_VOWELS:
        text = text.replace(long, short)
    return text


def _japanese_forms(name: str, *, kanji_only: bool = False) -> list[Form]:
    """Hepburn readings from pykakasi; for kanji-only names only when every character has a reading."""
    segments = _kakasi().convert(name)
    if kanji_only and any(not seg["hepburn"].strip() for seg in segments if seg["orig"].strip()):
        return []
    if kanji_only and len(segments) == 1 and len(name) > 3:
        return []  # one unknown run: a Chinese name read character by character means nothing
    hepburn = " ".join(seg["hepburn"] for seg in segments)
    return [(_passport_hepburn(hepburn), "Hepburn (passport)"), (hepburn, "Hepburn (long vowels)")]


# Korean: Revised Romanisation (anyascii per syllable, no sound changes, as RR prescribes for names),
# McCune–Reischauer (ASCII-folded, with its voicing inside a name) and passports' usual surnames.
_KO_SURNAMES = {
    "김": ("KIM", "GIM"), "이": ("LEE", "YI", "RHEE", "I", "RI"), "리": ("RI", "LEE"), "박": ("PARK", "PAK", "BAK"),
    "최": ("CHOI", "CHOE"), "정": ("JUNG", "JEONG", "CHUNG", "CHONG"), "강": ("KANG", "GANG"),
    "조": ("CHO", "JO"), "윤": ("YOON", "YUN"), "장": ("JANG", "CHANG"), "임": ("LIM", "IM", "RIM"),
    "림": ("RIM", "LIM"), "한": ("HAN",), "오": ("OH", "O"), "서": ("SEO", "SUH", "SO"), "신": ("SHIN", "SIN"),
    "권": ("KWON", "GWON"), "황": ("HWANG",), "안": ("AHN", "AN"), "송": ("SONG",), "류": ("RYU", "YOO", "YU"),
    "유": ("YOO", "YU"), "전": ("JEON", "JUN", "CHON"), "홍": ("HONG",), "고": ("KO", "GO"),
    "문": ("MOON", "MUN"), "양": ("YANG",), "손": ("SON", "SOHN"), "배": ("BAE", "PAE"), "백": ("BAEK", "PAEK"),
    "허": ("HEO", "HUH", "HO"), "노": ("NOH", "RO", "NO"), "로": ("RO", "NOH"), "남": ("NAM",),
    "심": ("SHIM", "SIM"), "하": ("HA",), "주": ("JOO", "JU", "CHU"), "구": ("KOO", "KU", "GU"),
    "곽": ("KWAK", "GWAK"), "성": ("SUNG", "SEONG"), "차": ("CHA",), "우": ("WOO", "U"), "민": ("MIN",),
    "진": ("JIN", "CHIN"), "나": ("NA", "RA"), "지": ("JI", "CHI"), "엄": ("UM", "EOM"), "변": ("BYUN", "PYON"),
    "채": ("CHAE",), "원": ("WON",), "천": ("CHUN", "CHEON"), "방": ("BANG", "PANG"), "공": ("KONG", "GONG"),
    "현": ("HYUN", "HYEON"), "함": ("HAM",), "염": ("YUM", "YEOM"), "여": ("YEO", "YO"), "추": ("CHOO", "CHU"),
    "도": ("DO", "TO"), "소": ("SO",), "석": ("SEOK", "SUK"), "선": ("SUN", "SEON"), "설": ("SUL", "SEOL"),
    "마": ("MA",), "길": ("KIL", "GIL"), "연": ("YEON", "YUN"), "위": ("WI", "WEE"), "표": ("PYO",),
    "명": ("MYUNG", "MYEONG"), "기": ("KI", "GI"), "반": ("BAN", "PAN"), "왕": ("WANG",), "금": ("KEUM", "KUM"),
    "옥": ("OK",), "육": ("YOOK", "YUK"), "인": ("IN",), "맹": ("MAENG",), "제": ("JE", "CHE"),
    "모": ("MO",), "탁": ("TAK",), "국": ("KOOK", "KUK"), "어": ("EO", "O"), "은": ("EUN", "UN"),
    "편": ("PYUN", "PYEON"), "용": ("YONG",), "예": ("YE",), "경": ("KYUNG", "GYEONG"), "봉": ("BONG", "PONG"),
    "사": ("SA",), "부": ("BOO", "BU"), "황보": ("HWANGBO",), "남궁": ("NAMGOONG", "NAMGUNG"),
    "제갈": ("JEGAL",), "선우": ("SUNWOO", "SEONU"), "독고": ("DOKKO", "DOKGO"), "사공": ("SAGONG",),
}
_KO_COMPOUND = frozenset(k for k in _KO_SURNAMES if len(k) == 2)
_MR_INITIAL = ["k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "ch", "tch", "ch", "k", "t", "p", "h"]
_MR_VOICED = {0: "g", 3: "d", 7: "b", 12: "j"}
_MR_VOWEL = ["a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi", "yu",
             "u", "ui", "i"]
_MR_FINAL = ["", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t",
             "ng", "t", "t", "k", "t", "p", "h"]
_VOICED_FINALS = frozenset({0, 4, 8, 16, 21})  # none, ㄴ, ㄹ, ㅁ, ㅇ


def _mr_syllables(word: str) -> list[str]:
    out: list[str] = []
    prev_final: int | None = None
    for ch in word:
        code = ord(ch) - 0xAC00
        if not 0 <= code < 11172:
            out.append(ch)
            prev_final = None
            continue
        ini, vow, fin = code // 588, (code % 588) // 28, code % 28
        if ini == 5:  # ㄹ: L after L, N at a word's start is written R in North Korea, L/R vary
            initial = "l" if prev_final == 8 else "r"
        elif prev_final is not None and prev_final in _VOICED_FINALS and ini in _MR_VOICED:
            initial = _MR_VOICED[ini]
        else:
            initial = _MR_INITIAL[ini]
        if ini == 9 and vow in (20, 16):  # ㅅ before ㅣ/ㅟ is SH
            initial = "sh"
        out.append(initial + _MR_VOWEL[vow] + _MR_FINAL[fin])
        prev_final = fin
    return out


def _mr(word: str) -> str:
    return "".join(_mr_syllables(word))


_RR_INITIAL = ["g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"]
_RR_VOWEL = ["a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
             "yu", "eu", "ui", "i"]
_RR_FINAL = ["", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t",
             "ng", "t", "t", "k", "t", "p", "t"]


def _rr_syllables(word: str) -> list[str]:
    """Revised Romanisation syllable by syllable: for names RR writes no sound changes between syllables."""
    out: list[str] = []
    for ch in word:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out.append(_RR_INITIAL[code // 588] + _RR_VOWEL[(code % 588) // 28] + _RR_FINAL[code % 28])
        else:
            out.append(anyascii(ch))
    return out


def _hybrid(syllable: str, eo: str) -> str:
    """The usual passport spellings: RR consonants with EO written O or U and EU written U
    (JEONG EUN -> JONG UN, JUNG UN; MYEONG -> MYONG, MYUNG)."""
    return syllable.upper().replace("EO", eo).replace("EU", "U")


def _hangul_forms(name: str) -> list[Form]:
    """Revised Romanisation, the passport hybrids and McCune–Reischauer; surname first as written.

    The given name is spelled syllable by syllable (the matcher also joins neighbouring tokens, so
    KIM JONG UN meets KIM JONGUN); the official RR form keeps it joined."""
    words = _tokens(name)
    if len(words) == 1:
        word = words[0]
        cut = 2 if len(word) >= 3 and word[:2] in _KO_COMPOUND else 1
        surname, given = (word[:cut], [word[cut:]]) if 2 <= len(word) <= 5 else ("", [word])
    else:
        surname, given = words[0], words[1:]
    rr_syl = [_rr_syllables(g) for g in given]
    rr_joined = " ".join("".join(s) for s in rr_syl)
    rr_split = " ".join(" ".join(s) for s in rr_syl)
    mr_split = " ".join(" ".join(_mr_syllables(g)) for g in given)
    if not surname:
        return [(rr_joined, "Revised Romanisation"), (mr_split, "McCune-Reischauer")]
    hybrid_o = " ".join(" ".join(_hybrid(x, "O") for x in s) for s in rr_syl)
    hybrid_u = " ".join(" ".join(_hybrid(x, "U") for x in s) for s in rr_syl)
    sn_rr = "".join(_rr_syllables(surname)).upper()
    passport = _KO_SURNAMES.get(surname, (sn_rr,))
    main = passport[0]
    forms: list[Form] = [
        (f"{main} {rr_joined}", "Revised Romanisation (passport surname)"),
        (f"{main} {hybrid_o}", "Korean passport usual (EO as O)"),
        (f"{main} {hybrid_u}", "Korean passport usual (EO as U)"),
        (f"{_mr(surname)} {mr_split}", "McCune-Reischauer"),
        (f"{main} {rr_split}", "Revised Romanisation, syllables apart"),
    ]
    forms += [(f"{alt} {hybrid_u}", "Korean passport surname") for alt in (*passport[1:], sn_rr)]
    return forms


# ---------------------------------------------------------------------------------------------
# Thai, Devanagari

def _thai_forms(name: str) -> list[Form]:
    # pythainlp creates ~/pythainlp-data at import and may download corpora; the RTGS engine needs
    # neither, so forbid both (an environment that sets these itself keeps its own values).
    if "PYTHAINLP_READ_MODE" not in os.environ:  # its deprecated name: setting both is an error
        os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")
    os.environ.setdefault("PYTHAINLP_OFFLINE", "1")
    return [(" ".join(_rtgs(w) for w in _tokens(name)), "RTGS (Royal Institute)")]


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _rtgs(word: str) -> str:
    from pythainlp.transliterate import romanize

    return str(romanize(word, engine="royin"))


def _devanagari_forms(name: str) -> list[Form]:
    forms = _icu_form("Devanagari-Latin", name, "ISO 15919 (ICU)")
    return [*forms, (anyascii(name), "anyascii")]


# ---------------------------------------------------------------------------------------------

_SCRIPTS: tuple[tuple[str, re.Pattern[str], Callable[[str], list[Form]]], ...] = (
    ("Hangul", re.compile(r"[\uac00-\ud7a3]"), _hangul_forms),
    ("Kana", _KANA, _japanese_forms),
    ("Han", _HAN_CHAR, _han_forms),
    ("Cyrillic", re.compile(r"[\u0400-\u04ff]"), _cyrillic_forms),
    ("Greek", re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"), _greek_forms),
    ("Armenian", re.compile(r"[\u0530-\u058f]"), _armenian_forms),
    ("Georgian", re.compile(r"[\u10a0-\u10ff\u1c90-\u1cbf]"), _georgian_forms),
    ("Arabic", re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"), _arabic_forms),
    ("Hebrew", re.compile(r"[\u0590-\u05ff\ufb1d-\ufb4f]"), _hebrew_forms),
    ("Thai", re.compile(r"[\u0e00-\u0e7f]"), _thai_forms),
    ("Devanagari", re.compile(r"[\u0900-\u097f]"), _devanagari_forms),
)


@lru_cache(maxsize=CACHE_SIZE)
def _latin_forms(name: str) -> tuple[Form, ...]:
    text = unicodedata.normalize("NFC", name).strip()
    if not text or all(not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in text):
        return ()
    for _script, pattern, forms in _SCRIPTS:
        if pattern.search(text):
            return _collect(forms(text))
    return _collect([(text, "anyascii")])


def latin_forms(name: str) -> list[tuple[str, str]]:
    """Latin spellings of a name written in a non-Latin script, each with the label of the rule that
    made it, most common on documents first; [] for a name already in Latin script or longer than
    `MAX_NAME_CHARS`."""
    if len(name) > MAX_NAME_CHARS:
        return []
    return list(_latin_forms(name))


# ---------------------------------------------------------------------------------------------
# Consonant skeletons

# Spellings of one Arabic/Hebrew consonant that lists alternate between, each to one symbol; one
# left-to-right pass, so the C of SH/CH is not read again as K.
_SKELETON_DIGRAPHS = {
    "SCH": "C", "TCH": "C", "DJ": "J", "ZH": "J", "DZ": "Z", "KH": "X", "GH": "G", "SH": "C", "CH": "C", "TH": "T",
    "DH": "D", "PH": "F", "CK": "K", "Q": "K", "C": "K",
}
_SKELETON_DIGRAPH = re.compile("|".join(sorted(_SKELETON_DIGRAPHS, key=len, reverse=True)))
_NOT_LETTERS = re.compile(r"[^A-Z]+")
_DOUBLES = re.compile(r"(.)\1+")
_SKELETON_VOWELS = re.compile(r"[AEIOUYWV]")
_FINAL_VOWEL_H = re.compile(r"(?<=[AEIOU])H$")


@lru_cache(maxsize=CACHE_SIZE)
def consonant_skeleton(token: str) -> str:
    """The consonants of an upper-case Latin token, for names from scripts written without short
    vowels (Arabic, Hebrew), where the vowels in any Latin spelling are a transliterator's guess.

    MOHAMMED, MUHAMMAD, MOHAMED and MHMD (a plain transliteration of the Arabic) all give MHMD.
    Rules, in order: digraphs for one consonant become one symbol (KH, SH/CH, TH, DH, GH, PH, DJ/ZH;
    Q and C are K); a final H after a vowel (ta marbuta: FATIMAH) goes; inside the token the vowels
    A E I O U and Y W V go (Y and W are the letters ya and waw used as vowels, V is waw as Hebrew and
    Persian tables write it); at the token's start a vowel goes too (ABD, 'ABD and BD agree: ayin and
    alif have no stable Latin letter) while Y stays and W/V are one (YUSUF, WALID/VALID); repeated
    symbols collapse (HUSSEIN, MAMDOUH/MMDWH). Fewer than two symbols gives '' (ALI, ELI, LEE): such
    a key would match half the list. MEHMET keeps its T: Turkish spelling is a name of its own.
    The key finds candidates, it does not decide: names told apart only by a long vowel share one
    (HASAN and HUSSEIN are HSN, MOHAMMED and MAHMOUD are MHMD), as they do in unvowelled script.
    """
    text = _SKELETON_DIGRAPH.sub(lambda m: _SKELETON_DIGRAPHS[m.group(0)], _NOT_LETTERS.sub("", token.upper()))
    text = _FINAL_VOWEL_H.sub("", text)
    if not text:
        return ""
    head, rest = text[0], text[1:]
    head = "" if head in "AEIOU" else "W" if head == "V" else head
    skeleton = _DOUBLES.sub(r"\1", head + _SKELETON_VOWELS.sub("", rest))
    return skeleton if len(skeleton) >= 2 else ""
