"""Latin names of Chinese and Korean people respelled in the other romanisations.

A list keeps a Chinese name in pinyin (WANG ZHIMING) while a Taiwanese or older passport prints
Wade-Giles (WANG CHIH-MING); a list keeps a North Korean name in McCune-Reischauer (PAK SONG HUN)
while a South Korean passport prints Revised Romanisation (PARK SEONGHUN). Edit distance between
such pairs is large, so the other spellings are made here and indexed as extra names.

A name is read back to syllables (Chinese) or Hangul (Korean) and spelled again. Every inventory
comes from maintained data: pinyin and Wade-Giles from pypinyin's character dictionary, Hangul
spellings from translit's RR and MR tables over all 11,172 syllables. Readings are ranked by how
many common characters carry them (GB 2312 for Chinese; for Korean the KS X 1001 Hanja read as the
syllable, taken from ICU's Korean collation, which files each Hanja under its reading), so the few
forms a name may get are the likely ones.

A name of 2-4 tokens is read as Chinese only if every token splits into at most two syllables
(four in all), and as Korean only if it does not read as Chinese, its first or last token is a
Korean surname and the rest splits into at most three syllables: short Western tokens (AN, LI,
MAN) are syllables, whole Western names rarely are. The readings are cached per token and name.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from watchlists import translit

# A name never turns into more spellings than this: each one becomes an index entry.
MAX_FORMS = 6
# Distinct names and tokens remembered: list names are respelled once at index build.
CACHE_SIZE = 1 << 15
# A Korean given name has at most this many syllables, however many tokens it is written in.
MAX_SYLLABLES = 3
# A Chinese name has at most four syllables (compound surname and two-syllable given name), two to
# a token: read more freely, Arabic and Spanish names (ABU MAZEN, CASA DE CUBA) pass as pinyin.
_ZH_TOKEN_SYLLABLES = 2
_ZH_NAME_SYLLABLES = 4
# Each syllable divides a reading's score by this: the split into fewer syllables wins (JEONG EUN
# rather than JE ONG EUN), weights only decide between splits of one length.
_PER_SYLLABLE = 1e4
# Readings of one token kept before names are assembled from them.
_TOKEN_READINGS = 3

Form = tuple[tuple[str, ...], str]

# No syllable of these systems ends in one of these letters (Chinese ends in a vowel, V for the
# u-umlaut, N, NG, R or H; Korean in a vowel, K, N, T, L, M, P or NG), so most Western names are
# rejected by one search.
_IMPOSSIBLE = re.compile(r"[^A-Z]|[BCDFJQSWXYZ]$")
# Pinyin writes an apostrophe before a vowel-initial syllable inside a word (XI'AN); a list that
# drops it is rare enough that such a split is not taken as a reading.
_VOWEL_START = frozenset("AEIOU")
_VOWELS = frozenset("AEIOUV")
# A Wade-Giles spelling that lost its umlaut (CHU for chü, pinyin ju) is a weaker reading of it.
_UMLAUT_LOST = 0.3


def _ascii_syllable(text: str) -> str:
    return text.replace("'", "").replace("’", "").replace("ü", "u").replace("v", "u").upper()


# ---------------------------------------------------------------------------------------------
# Chinese

class _Chinese:
    """Pinyin and Wade-Giles spellings of every syllable pypinyin knows, with a commonness weight."""

    def __init__(self) -> None:
        from pypinyin import Style
        from pypinyin.pinyin_dict import pinyin_dict
        from pypinyin.style import convert

        weight: dict[str, float] = defaultdict(float)
        wade: dict[str, str] = {}
        plain_of: dict[str, str] = {}
        umlaut: set[str] = set()
        for code, readings in pinyin_dict.items():
            char = chr(code)
            try:
                gb = char.encode("gb2312")
            except UnicodeEncodeError:
                gb = b""
            # GB 2312 level 1 (the 3,755 common characters) counts most; the rest of GB 2312 a little.
            common = 3.0 if len(gb) == 2 and 0xB0 <= gb[0] <= 0xD7 else 1.0 if gb else 0.02
            for rank, toned in enumerate(readings.split(",")):
                plain = plain_of.get(toned)
                if plain is None:  # ~1,500 toned syllables among ~40,000 characters
                    plain = plain_of[toned] = convert(toned, Style.NORMAL, True).upper()
                    # Not the interjections M, N, NG, HM, nor A, E, O: as name syllables they are
                    # rare, as pieces of Western names (ABU, OSAMA) common.
                    if plain.isalpha() and set(plain) & _VOWELS and len(plain) > 1:
                        wg = convert(toned, Style.WADEGILES, True)
                        wade.setdefault(plain, _ascii_syllable(wg))
                        if "v" in wg or "ü" in wg:
                            umlaut.add(plain)
                if plain in wade:
                    weight[plain] += common * (1.0 if rank == 0 else 0.3)
        self.weight = dict(weight)
        wade = {syl: wg for syl, wg in wade.items() if len(wg) > 1 or wg == "I"}  # WG I is pinyin yi
        self.to_wade = wade
        # Spellings a list or passport may use for each pinyin syllable: LV, LU and LYU for lü.
        self.pinyin: dict[str, tuple[str, ...]] = {}
        for syl in weight:
            for spelling in {syl, syl.replace("V", "U"), syl.replace("V", "YU")}:
                self.pinyin[spelling] = (*self.pinyin.get(spelling, ()), syl)
        wade_back: dict[str, list[str]] = defaultdict(list)
        self.wade_weight: dict[tuple[str, str], float] = {}
        for syl, wg in wade.items():
            wade_back[wg].append(syl)
            self.wade_weight[wg, syl] = weight[syl] * (_UMLAUT_LOST if syl in umlaut else 1.0)
        # A Wade-Giles spelling without its aspiration marks stands for several pinyin syllables
        # (CHANG: zhang, chang); the common one first.
        self.wade = {wg: tuple(sorted(syls, key=lambda s: (-self.wade_weight[wg, s], s)))
                     for wg, syls in wade_back.items()}
        self.max_len = max(map(len, itertools.chain(self.pinyin, self.wade)))

    def out_pinyin(self, syl: str) -> str:
        return syl.replace("V", "U")


@lru_cache(maxsize=1)
def _chinese() -> _Chinese:
    return _Chinese()


def _segmentations(token: str, table: dict[str, tuple[str, ...]], max_len: int, *, vowel_inside: bool,
                   max_parts: int = MAX_SYLLABLES) -> list[tuple[str, ...]]:
    """Every split of the token into spellings from the table, in at most max_parts parts."""
    out: list[tuple[str, ...]] = []

    def walk(start: int, parts: tuple[str, ...]) -> None:
        if start == len(token):
            out.append(parts)
            return
        if len(parts) == max_parts or (parts and not vowel_inside and token[start] in _VOWEL_START):
            return
        for end in range(min(len(token), start + max_len), start, -1):
            if token[start:end] in table:
                walk(end, (*parts, token[start:end]))

    walk(0, ())
    return out


_Reading = tuple[float, tuple[str, ...], str]  # score, syllables, system


@lru_cache(maxsize=CACHE_SIZE)
def _chinese_token(token: str) -> tuple[bool, tuple[_Reading, ...]]:
    """Whether the token is pinyin or Wade-Giles, and its respellings in the other system (Wade-Giles
    of a pinyin token, pinyin of a Wade-Giles token), likeliest first; both systems may read one
    token (CHOU PI CHU), each reading giving the other's spelling."""
    zh = _chinese()
    reads = False
    readings: list[_Reading] = []
    for parts in _segmentations(token, zh.pinyin, zh.max_len, vowel_inside=False, max_parts=_ZH_TOKEN_SYLLABLES):
        reads = True
        for syls in itertools.product(*(zh.pinyin[p] for p in parts)):
            score = _product(zh.weight[s] for s in syls) / _PER_SYLLABLE ** len(syls)
            readings.append((score, tuple(zh.to_wade[s] for s in syls), "Wade-Giles"))
    for parts in _segmentations(token, zh.wade, zh.max_len, vowel_inside=False, max_parts=_ZH_TOKEN_SYLLABLES):
        reads = True
        for syls in itertools.product(*(zh.wade[p][:2] for p in parts)):
            score = _product(zh.wade_weight[p, s] for p, s in zip(parts, syls, strict=True))
            score /= _PER_SYLLABLE ** len(syls)
            readings.append((score, tuple(zh.out_pinyin(s) for s in syls), "pinyin"))
    fewest = min((len(syls) for _, syls, _ in readings), default=0)
    return reads, tuple(_best([r for r in readings if len(r[1]) == fewest]))


def _product(values: Iterable[float]) -> float:
    out = 1.0
    for v in values:
        out *= v
    return out


def _best(readings: list[_Reading]) -> list[_Reading]:
    """Distinct readings, likeliest first, a few per system (the order of ties fixed by the text)."""
    seen: set[tuple[tuple[str, ...], str]] = set()
    out: list[_Reading] = []
    per_system: dict[str, int] = defaultdict(int)
    for score, syls, system in sorted(readings, key=lambda r: (-r[0], r[2], r[1])):
        if (syls, system) in seen or per_system[system] == _TOKEN_READINGS:
            continue
        seen.add((syls, system))
        per_system[system] += 1
        out.append((score, syls, system))
    return out


def _given_joined(parts: list[tuple[str, ...]], at: int) -> tuple[str, ...]:
    """Surname apart and the given name as one word: a given name is one unit, however written."""
    given = "".join(s for i, p in enumerate(parts) if i != at for s in p)
    return (" ".join(parts[at]), given) if at == 0 else (given, " ".join(parts[at]))


def _chinese_reads(tokens: tuple[str, ...]) -> bool:
    return all(_chinese_token(t)[0] for t in tokens)


def _chinese_forms(tokens: tuple[str, ...]) -> list[list[Form]]:
    """Per system, the forms likeliest first: syllables apart (CHIH MING, as the tokeniser splits
    CHIH-MING) and the given name joined (ZHIMING), surname first; surname last as a fallback."""
    per_system: list[list[Form]] = []
    for system in ("pinyin", "Wade-Giles"):
        options = [[(score, syls) for score, syls, sys_ in _chinese_token(t)[1] if sys_ == system] for t in tokens]
        if any(not o for o in options):
            continue
        combos = sorted(itertools.product(*options), key=lambda c: (-_product(s for s, _ in c), [x for _, x in c]))
        tops = [[syls for _, syls in combo] for combo in combos[:2]]
        if sum(map(len, tops[0])) > _ZH_NAME_SYLLABLES:
            continue
        forms: list[Form] = []
        for parts in tops:
            forms.append((tuple(s for p in parts for s in p), system))
            forms.append((_given_joined(parts, 0 if len(parts[0]) == 1 else len(parts) - 1), system))
        forms += [(_given_joined(parts, len(parts) - 1), system) for parts in tops
                  if len(parts) > 2 and len(parts[-1]) == 1]
        per_system.append(forms)
    return per_system


# ---------------------------------------------------------------------------------------------
# Korean

_HANGUL_COUNT = 11172
# Passport spellings (EO as O or U, EU as U) are read too, but below RR and MR: SUK is 숙 before 석.
_HYBRID = 0.3
_ASPIRATED_NK = {14: "chh", 15: "kh", 16: "th", 17: "ph"}  # North Korean spelling of ㅊ ㅋ ㅌ ㅍ


def _hanja_counts() -> dict[str, int]:
    """Common (KS X 1001) Hanja per Hangul reading, from ICU's Korean collation; {} without ICU."""
    try:
        import icu  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the platform
        return {}
    collator = icu.Collator.createInstance(icu.Locale("ko"))
    collator.setStrength(icu.Collator.PRIMARY)
    by_key = {bytes(collator.getSortKey(s)): s for s in _ks_hangul()}
    counts: dict[str, int] = defaultdict(int)
    for code in range(0x4E00, 0xA000):
        char = chr(code)
        try:
            if len(char.encode("euc_kr")) != 2:
                continue
        except UnicodeEncodeError:
            continue
        reading = by_key.get(bytes(collator.getSortKey(char)))
        if reading is not None:
            counts[reading] += 1
    # Word-initial ㄹ is read ㄴ or ㅇ in the South (李 리 -> 이, 林 림 -> 임), so names use both.
    for syllable, n in list(counts.items()):
        code = ord(syllable) - 0xAC00
        if code // 588 == 5:
            for initial in (2, 11):
                counts[chr(0xAC00 + initial * 588 + code % 588)] += n
    return dict(counts)


def _ks_hangul() -> list[str]:
    """The 2,350 precomposed syllables of KS X 1001: the ones names are written with."""
    return [chr(0xAC00 + i) for i in range(_HANGUL_COUNT) if len(chr(0xAC00 + i).encode("euc_kr")) == 2]


def _mr_spellings(syllable: str) -> set[str]:
    """McCune-Reischauer, word-initial and voiced (after a vowel or N), plus the North Korean
    spelling of aspirates (THAEK) and ㄹ read as L or N."""
    spellings = {translit._mr_syllables(syllable)[0].upper(), translit._mr_syllables("안" + syllable)[1].upper(),
                 translit._mr_syllables("일" + syllable)[1].upper()}
    code = ord(syllable) - 0xAC00
    initial, vowel, final = code // 588, (code % 588) // 28, code % 28
    if initial in _ASPIRATED_NK:
        spellings.add((_ASPIRATED_NK[initial] + translit._MR_VOWEL[vowel] + translit._MR_FINAL[final]).upper())
    if initial == 5:
        spellings.add(("n" + translit._MR_VOWEL[vowel] + translit._MR_FINAL[final]).upper())
    return spellings


def _passport_spellings(rr: str) -> set[str]:
    """How passports and lists write a syllable besides RR and MR: EO as O or U, EU as U (JONG UN,
    JUNG UN), U as OO (JOO, SOO), YEONG as YOUNG."""
    out = {translit._hybrid(rr, "O"), translit._hybrid(rr, "U"), rr.replace("YEONG", "YOUNG")}
    if "U" in rr and "EU" not in rr and "YU" not in rr:
        out.add(rr.replace("U", "OO"))
    return out - {rr}


class _Korean:
    """Latin spellings (RR, MR, passport usage) of each common Hangul syllable, and back."""

    def __init__(self) -> None:
        counts = _hanja_counts()
        self.weight = {s: 1.0 + counts.get(s, 0) for s in _ks_hangul()}
        self.rr = {s: translit._rr_syllables(s)[0].upper() for s in self.weight}
        self.mr = {s: translit._mr_syllables(s)[0].upper() for s in self.weight}
        self.mr_voiced = {s: translit._mr_syllables("안" + s)[1].upper() for s in self.weight}
        back: dict[str, set[str]] = defaultdict(set)
        self.exact: dict[tuple[str, str], float] = {}  # (spelling, syllable) read by RR or MR
        for s, rr in self.rr.items():
            for spelling in (rr, *_mr_spellings(s)):
                back[spelling].add(s)
                self.exact[spelling, s] = 1.0
            for spelling in _passport_spellings(rr):
                back[spelling].add(s)
        self.back = {k: tuple(sorted(v, key=lambda s: (-self.weight[s] * self.exact.get((k, s), _HYBRID), s)))
                     for k, v in back.items()}
        self.max_len = max(map(len, self.back))
        surnames: dict[str, list[str]] = defaultdict(list)
        for hangul, latin in translit._KO_SURNAMES.items():
            for spelling in (*latin, "".join(translit._rr_syllables(hangul)).upper(), translit._mr(hangul).upper()):
                # One letter (I, O) is a numeral or an initial far more often than a surname.
                if len(spelling) > 1 and hangul not in surnames[spelling]:
                    surnames[spelling].append(hangul)
        # A surname spelled as the passport form of one and a variant of another (LEE: 이, 리) is the first.
        self.surnames = {k: sorted(v, key=lambda h: translit._KO_SURNAMES[h].index(k)
                                   if k in translit._KO_SURNAMES[h] else 99) for k, v in surnames.items()}
        # The surname table runs from the commonest surname down: KIM before SONG in SONG HUN KIM.
        order = {h: i for i, h in enumerate(translit._KO_SURNAMES)}
        self.surname_rank = {k: order[v[0]] for k, v in self.surnames.items()}

    def surname_forms(self, hangul: str) -> dict[str, Any]:
        passport = translit._KO_SURNAMES[hangul][0]
        mr = translit._mr(hangul).upper()
        return {"Revised Romanisation": passport, "McCune-Reischauer": "YI" if mr == "I" else mr,
                "others": [x for x in translit._KO_SURNAMES[hangul][1:] if len(x) > 1]}


@lru_cache(maxsize=1)
def _korean() -> _Korean:
    return _Korean()


@lru_cache(maxsize=CACHE_SIZE)
def _korean_token(token: str) -> tuple[tuple[float, tuple[str, ...]], ...]:
    """Hangul readings of a given-name token, likeliest first."""
    ko = _korean()
    readings: list[tuple[float, tuple[str, ...]]] = []
    for parts in _segmentations(token, ko.back, ko.max_len, vowel_inside=True):
        for syls in itertools.product(*(ko.back[p][:3] for p in parts)):
            score = _product(ko.weight[s] * ko.exact.get((p, s), _HYBRID) for p, s in zip(parts, syls, strict=True))
            readings.append((score / _PER_SYLLABLE ** len(syls), syls))
    fewest = min((len(syls) for _, syls in readings), default=0)
    readings = sorted((r for r in readings if len(r[1]) == fewest), key=lambda r: (-r[0], r[1]))
    return tuple(dict.fromkeys(readings))[:_TOKEN_READINGS]


_Options = list[tuple[tuple[float, tuple[str, ...]], ...]]
# A name with a surname at both ends (CHANG HO PAEK) gets a few forms of the second reading too,
# if that surname is among the commonest (the table's first 30); UN in KIM JONG UN is not.
_COMMON_SURNAMES = 30
_SECOND_READING = 2


def _korean_forms(tokens: tuple[str, ...]) -> list[list[Form]]:
    """Per style, the forms likeliest first; the surname where it was, the given name one unit.

    The surname is the end token that leaves the shorter given name (SUN MOON: 문 선, not 선 모온);
    when both ends leave as short a one (CHANG HO PAEK), both readings, the commoner surname first."""
    ko = _korean()
    readings: list[tuple[int, int, int, _Options]] = []
    for at in dict.fromkeys((0, len(tokens) - 1)):
        if tokens[at] in ko.surnames:
            options = [_korean_token(t) for i, t in enumerate(tokens) if i != at]
            if all(options):
                readings.append((sum(len(o[0][1]) for o in options), ko.surname_rank[tokens[at]], at, options))
    readings.sort(key=lambda r: r[:3])
    if not readings or readings[0][0] > MAX_SYLLABLES:
        return []
    forms = _korean_reading(tokens, readings[0][2], readings[0][3])
    if len(readings) == 2 and readings[1][0] == readings[0][0] and readings[1][1] < _COMMON_SURNAMES:
        first = list(_interleave([forms], tokens))
        second = list(_interleave([_korean_reading(tokens, readings[1][2], readings[1][3])], tokens))
        forms = first[:MAX_FORMS - _SECOND_READING] + second[:_SECOND_READING]
    return [forms]


def _korean_reading(tokens: tuple[str, ...], at: int, options: _Options) -> list[Form]:
    ko = _korean()
    combos = sorted(itertools.product(*options), key=lambda c: (-_product(s for s, _ in c), [x for _, x in c]))
    names = ko.surname_forms(ko.surnames[tokens[at]][0])
    rr_forms: list[Form] = []
    mr_forms: list[Form] = []
    best = [ko.rr[s] for _, syls in combos[0] for s in syls]
    others = [(_place(alt, ["".join(best)], at), "Korean passport surname") for alt in names["others"]
              if alt != tokens[at]]
    for combo in combos[:3]:
        syllables = [s for _, syls in combo for s in syls]
        rr = [ko.rr[s] for s in syllables]
        mr = [ko.mr[syllables[0]], *(ko.mr_voiced[s] for s in syllables[1:])]
        rr_forms += [(_place(names["Revised Romanisation"], ["".join(rr)], at), "Revised Romanisation"),
                     (_place(names["Revised Romanisation"], rr, at), "Revised Romanisation")]
        # MR as lists print it, and as North Korea and many passports do: voiced J, G, D, B.
        mr_forms += [(_place(names["McCune-Reischauer"], mr, at), "McCune-Reischauer"),
                     (_place(names["McCune-Reischauer"], [translit._hybrid(s, "O") for s in rr], at),
                      "McCune-Reischauer")]
    # RR and MR alternate; a surname's other spellings come last (matching forgives a surname more).
    return [*(f for pair in itertools.zip_longest(rr_forms, mr_forms) for f in pair if f is not None), *others]


def _place(surname: str, given: list[str], at: int) -> tuple[str, ...]:
    return (surname, *given) if at == 0 else (*given, surname)


# ---------------------------------------------------------------------------------------------

def _plausible(token: str) -> bool:
    return len(token) <= 6 * MAX_SYLLABLES and _IMPOSSIBLE.search(token) is None


def _interleave(groups: list[list[Form]], tokens: tuple[str, ...]) -> Iterator[Form]:
    """Round-robin over systems, so that the cap keeps the best of each; single-word tokens, without
    the name as given and without repeats."""
    seen = {tokens}
    lists: list[Iterator[Form]] = []
    for group in groups:
        unique: list[Form] = []
        for parts, label in group:
            out = tuple(w for part in parts for w in part.split())
            if out not in seen:
                seen.add(out)
                unique.append((out, label))
        lists.append(iter(unique))
    for round_ in itertools.zip_longest(*lists):
        yield from (f for f in round_ if f is not None)


@lru_cache(maxsize=CACHE_SIZE)
def _other_romanisations(tokens: tuple[str, ...]) -> tuple[Form, ...]:
    if not 2 <= len(tokens) <= 4 or not all(_plausible(t) for t in tokens):
        return ()
    # A name that reads as Chinese is not read as Korean as well (LI NA is no Korean RI NA): the
    # surnames the two share (SONG, HAN, YANG) would double the forms of every such name.
    groups = _chinese_forms(tokens) if _chinese_reads(tokens) else _korean_forms(tokens)
    return tuple(itertools.islice(_interleave(groups, tokens), MAX_FORMS))


def other_romanisations(tokens: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    """For a Latin name (upper-case ASCII tokens in written order, as watchlists.normalise.name_tokens
    gives them) that reads as a Chinese or Korean name in one romanisation, the same name in the other
    romanisations, each as a token tuple with a label ("Wade-Giles", "pinyin", "McCune-Reischauer",
    "Revised Romanisation", "Korean passport surname"). [] for a name that does not read as one
    (most names)."""
    return list(_other_romanisations(tuple(tokens)))
