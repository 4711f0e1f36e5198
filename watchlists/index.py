"""The candidate index: built once per list version, queried for every traveller.

Strategy (query cost grows with the size of a few posting lists, not with the list):
1. Vocabulary. Every distinct name token gets an id, a document frequency and an IDF weight.
   Neighbouring tokens are also indexed joined ("ABDUL RAHMAN" -> "ABDULRAHMAN") so joined and
   split spellings meet; joined forms live in their own hash-keyed posting table (no strings, no
   fuzzy keys: they are nearly all unique, and would otherwise dominate memory).
2. Fuzzy token lookup. Each vocabulary token is indexed under its one-character deletions
   (symmetric-delete, as in SymSpell) and its Metaphone key, so a query token finds its typo
   and transliteration variants with a dozen hash probes instead of a scan of the vocabulary.
   A Metaphone key shared by very many tokens only offers those of about the same length (48 at most).
   A query token's variants are cached (travellers repeat given names all day).
3. Postings. Rare tokens point at the names that hold them. Common tokens (document frequency
   above `common_df`, e.g. MOHAMMED, ALI, CORP) are never probed alone: names are reached through
   *pairs* of tokens instead, so a common token only contributes together with another token.
   All postings are numpy CSR arrays keyed by 64-bit integers (compact at a million entries).
4. Ranking, rare tokens first. A name must share at least `min_coverage` of the query's IDF
   weight, so the largest posting lists whose weights add up to less than that are not read at
   all (prefix filtering): candidates come from the small ones, and membership in the large ones
   is checked by binary search. The best `max_candidates` are rescored precisely.
5. Precise name scoring is vectorised: one rapidfuzz `cdist` gives every query-token x
   candidate-token similarity, Metaphone agreement is a numpy comparison of precomputed keys, and
   only the small one-to-one alignment per candidate runs in Python.
6. No `WatchlistEntry` is kept: the per-entry data scoring needs (names as token ids, dates of
   birth as small ints, nationality / gender / list / category codes, document numbers) lives in
   numpy arrays and byte blobs; an entry is rebuilt only for the few candidates that may hit,
   to score and explain them. `build` consumes any iterator, so a million entries are never
   held at once.
7. The usual traveller is on no list: the entries his name tokens reach are remembered per token
   tuple (names recur), and one-bit filters over document and joined-token keys say "absent"
   without a binary search, so screening him again costs a few dict look-ups (`may_hit`).
8. Other writings: a non-Latin listed word keeps its other tables' spellings (ICAO 9303, national
   passport tables) as respellings that reach and score as the word; Han, Hangul and kana forms
   that regroup syllables, and Latin Chinese/Korean names' other romanisations, are names of their
   own. A query token also reaches its nicknames and, written without vowels, its consonant skeleton.
Documents (passport numbers, lost/stolen lists) have their own exact and OCR-folded key tables.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, pairwise
from typing import Any

import jellyfish
import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from watchlists.models import (
    Category,
    Document,
    FeatureScore,
    Hit,
    NameVariant,
    PartialDate,
    ScreeningQuery,
    WatchlistEntry,
)
from watchlists.normalise import has_typed_digits, is_particle, name_tokens, read_digits, script_of
from watchlists.romanise import other_romanisations
from watchlists.scoring import (
    INITIAL_SIMILARITY,
    INITIAL_WEIGHT,
    JOINED_PENALTY,
    LISTED_MISSING_INNER,
    MAX_NON_DOCUMENT_BONUS,
    PARTICLE_WEIGHT,
    PHONETIC_SIMILARITY,
    SHORT_EDIT_PENALTY,
    SHORT_TOKEN,
    SKELETON_SIMILARITY,
    SYMBOL_SIMILARITY,
    TOKEN_FLOOR,
    TRANSPOSED_SIMILARITY,
    TRAVELLER_MISSING_INNER,
    PreparedTraveller,
    align,
    document_key,
    edit_similarity,
    is_transposition,
    joined_orders,
    joined_similarity,
    ocr_key,
    prepare_country,
    prepare_dob,
    prepare_document,
    prepare_gender,
    score_features,
)
from watchlists.short_forms import related_names
from watchlists.translit import consonant_skeleton, latin_forms

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_MIN_DELETE_LEN = 4
PATRONYMIC_ENDINGS = ("OVICH", "EVICH", "OVNA", "EVNA", "OGLU", "KYZY", "ULY")
PREFILTER_RATIO = 55  # token_sort_ratio below which a candidate is not compared carefully
_SKIP_MIN_DF = 64  # posting lists shorter than this are always read (checking them costs more)
_CACHE_SIZE = 1 << 17  # query tokens whose variants are remembered
_NAME_CACHE_SIZE = 1 << 15  # candidate names whose token ids and prefilter key are remembered (~12 MB)
_PYTHON_PATH_MAX = 800  # postings to read below which candidates are ranked in plain Python
_SOUND_CAP = 48  # tokens sharing a query token's Metaphone key that are compared with it, at most
_MATCH_CACHE_SIZE = 1 << 15  # travellers' names whose matching listed names are remembered
_ENTRY_CACHE_SIZE = 1 << 12  # entries rebuilt for scoring that are remembered
_POSTING_CACHE_VALUES = 1 << 20  # name ids of postings kept as Python lists (~40 MB at most)
_CATEGORIES = tuple(Category)
# Other written forms of a traveller's non-Latin name screened besides the first, the commonest on
# documents first: each costs a screening, and each more one adds near-namesakes.
TRAVELLER_FORMS = 1
TRANSLIT_KIND = "transliteration: "  # name kind of a Latin form the index made of a non-Latin listed name


class _Csr:
    """Sorted int64 keys -> int32 values: a compact multimap probed with one searchsorted per batch.

    Values of one key keep their insertion order (ascending name ids for postings)."""

    __slots__ = ("keys", "offsets", "values")

    def __init__(self, keys: IntArray, values: npt.NDArray[np.int32]) -> None:
        order = np.argsort(keys, kind="stable")
        k = keys[order]
        self.values = values[order].astype(np.int32)
        del order
        self.keys, starts = np.unique(k, return_index=True)
        self.offsets = np.append(starts, len(k)).astype(np.int64)

    def gather(self, probes: Sequence[int], cap: int = 0) -> tuple[npt.NDArray[np.int32], IntArray]:
        """Values of every probe concatenated, and for each value the position of its probe.

        Vectorised multi-slice: a constant number of numpy calls whatever the number of probes.
        `cap` > 0 keeps at most that many values per probe.
        """
        if not probes or len(self.keys) == 0:
            return np.empty(0, np.int32), np.empty(0, np.int64)
        arr = np.asarray(probes, dtype=np.int64)
        pos = self.keys.searchsorted(arr)
        pos[pos >= len(self.keys)] = 0
        found = self.keys[pos] == arr
        starts = self.offsets[pos]
        lens = np.where(found, self.offsets[pos + 1] - starts, 0)
        if cap:
            np.minimum(lens, cap, out=lens)
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, np.int32), np.empty(0, np.int64)
        if len(arr) == 1:
            s = int(starts[0])
            return self.values[s:s + total], np.zeros(total, np.int64)
        owner = np.repeat(np.arange(len(arr)), lens)
        first = np.cumsum(lens) - lens
        index = np.repeat(starts - first, lens) + np.arange(total)
        return self.values[index], owner

    def gather_list(self, probes: Sequence[int]) -> list[int]:
        """Values of a few probes as a Python list (cheaper than `gather` when few probes hit)."""
        if not probes or len(self.keys) == 0:
            return []
        arr = np.asarray(probes, dtype=np.int64)
        pos = self.keys.searchsorted(arr)
        np.minimum(pos, len(self.keys) - 1, out=pos)
        out: list[int] = []
        offsets, values = self.offsets, self.values
        for p in pos[self.keys[pos] == arr].tolist():
            out.extend(values[offsets[p]:offsets[p + 1]].tolist())
        return out

    def count(self, key: int) -> int:
        """Number of values stored under a key (0 when absent)."""
        i = int(self.keys.searchsorted(key))
        if i < len(self.keys) and self.keys[i] == key:
            return int(self.offsets[i + 1] - self.offsets[i])
        return 0

    def get(self, key: int) -> npt.NDArray[np.int32]:
        i = int(self.keys.searchsorted(key))
        if i < len(self.keys) and self.keys[i] == key:
            return self.values[self.offsets[i]:self.offsets[i + 1]]
        return np.empty(0, np.int32)

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.offsets.nbytes + self.values.nbytes)


class _KeyFilter:
    """One bit per hashed key (`bits_per_key` bits of table a key): "surely absent" in two integer operations.

    Nearly every traveller's document, and most pairs of neighbouring name tokens, are on no list:
    this spares them a binary search each."""

    __slots__ = ("bits", "mask")

    def __init__(self, keys: IntArray, bits_per_key: int = 32) -> None:
        size = 64
        while size < bits_per_key * len(keys):
            size <<= 1
        self.mask = size - 1
        slots = keys & self.mask
        bits = np.zeros(size >> 3, np.uint8)
        np.bitwise_or.at(bits, slots >> 3, np.left_shift(1, slots & 7).astype(np.uint8))
        self.bits = bits.tobytes()

    def __contains__(self, key: int) -> bool:
        slot = key & self.mask
        return bool(self.bits[slot >> 3] >> (slot & 7) & 1)


class _Strings:
    """Many strings in one UTF-8 blob with offsets: ~1 byte per character instead of ~50 per object."""

    __slots__ = ("blob", "offsets")

    def __init__(self) -> None:
        self.blob = bytearray()
        self.offsets = array("q", [0])

    def append(self, text: str) -> None:
        self.blob += text.encode()
        self.offsets.append(len(self.blob))

    def freeze(self) -> None:
        self.blob = bytearray(self.blob)  # trims over-allocation

    def __getitem__(self, i: int) -> str:
        return self.blob[self.offsets[i]:self.offsets[i + 1]].decode()

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def nbytes(self) -> int:
        return len(self.blob) + len(self.offsets) * 8


class _Codes:
    """Small interning table for values with few distinct members (lists, countries, doc types)."""

    __slots__ = ("ids", "values")

    def __init__(self) -> None:
        self.ids: dict[str | None, int] = {None: 0}
        self.values: list[str | None] = [None]

    def __call__(self, value: str | None) -> int:
        code = self.ids.get(value)
        if code is None:
            code = self.ids[value] = len(self.values)
            self.values.append(value)
        return code


def _h(text: str) -> int:
    """64-bit key for a string; Python's str hash is stable within the process that built the index."""
    return hash(text)


def _deletes(token: str) -> list[str]:
    if len(token) < _MIN_DELETE_LEN:
        return []
    return [token[:i] + token[i + 1:] for i in range(len(token))]


def _phon_key(token: str) -> int:
    """Hash of the Metaphone key (0 for tokens too short to have a meaningful one, and for one-letter
    keys: HUA and HUI both sound "H")."""
    key = jellyfish.metaphone(token) if len(token) > 2 else ""
    return _h("#" + key) if len(key) > 1 else 0


def _token_weight(token: str, idf: float) -> float:
    """How much a token says about who a person is: its IDF, but a patronymic (-OVICH, -EVNA ...)
    counts a quarter, as passports often omit it; a particle (AL, VAN, BIN ...) and an initial
    count little whatever their rarity, as lists attach, detach, omit and abbreviate them."""
    if len(token) == 1:
        return INITIAL_WEIGHT
    if is_particle(token):
        return min(idf, PARTICLE_WEIGHT)
    if len(token) > 6 and token.endswith(PATRONYMIC_ENDINGS):
        return idf * 0.25
    return idf


@lru_cache(maxsize=1 << 16)
def folded_skeleton(token: str) -> str:
    """`translit.consonant_skeleton` with the consonants transliteration tables disagree on folded
    together: ض as D or Z (FADL / FAZAL), צ as TS, TZ or Z (YITZHAK)."""
    skeleton = consonant_skeleton(token)
    return skeleton.replace("TS", "S").replace("TZ", "S").replace("Z", "D") if skeleton else ""


def _skel_key(token: str) -> int:
    """Hash of the folded skeleton; 0 below three consonants (HSN still means HASAN, HUSSEIN or
    AHSAN; ZR would mean half the list)."""
    skeleton = folded_skeleton(token)
    return _h("%" + skeleton) if len(skeleton) > 2 else 0


_SYLLABIC = ("Han", "Hangul", "Kana")
_Respelt = list[tuple[str, str, str]]  # (token, the same word in another table, the table)


def _written_forms(names: Iterable[NameVariant], tokenise: Any,
                   person: bool = True) -> Iterator[tuple[str, str, bool, _Respelt]]:
    """(text, kind, weak, respellings) of every name of an entry.

    A non-Latin name's Latin forms (ICAO 9303, national passport tables, other romanisations) that
    spell the same words are kept as respellings of its tokens, word by word: the name is indexed
    once and each of its words is also reached, and scored, under its other spellings. A form that
    cuts the name into other words (Han and Hangul given names joined or split) is a name of its own,
    labelled with its table. A person's Latin name that reads as Chinese or Korean in one
    romanisation gets its other romanisations the same way (WANG ZHIMING / WANG CHIH MING)."""
    for variant in names:
        tokens = tokenise(variant.name)
        respelt: _Respelt = []
        whole: list[tuple[str, str]] = []
        if variant.name.isascii():
            for other, label in other_romanisations(tokens) if person and tokens else ():
                if len(other) == len(tokens):  # the same words, each romanised another way
                    respelt += [(a, b, label) for a, b in zip(tokens, other, strict=True) if a != b]
                else:
                    whole.append((" ".join(other), label))
        else:
            known = set(tokens)
            for word in variant.name.split():  # respellings word by word: a whole name's forms may reorder
                own = tokenise(word)
                if len(own) == 1 and own[0] in known and not word.isascii():
                    for form, label in latin_forms(word):
                        other = tokenise(form)
                        if len(other) == 1 and other[0] != own[0]:
                            respelt.append((own[0], other[0], label))
            syllabic = script_of(variant.name) in _SYLLABIC
            for form, label in latin_forms(variant.name):
                other = tokenise(form)
                # Cut into other words, or written in syllables whose words a form regroups (Han, Hangul,
                # kana): a name of its own.
                if other and other != tokens and (syllabic or len(other) != len(tokens)):
                    whole.append((form, label))
        yield variant.name, variant.kind, variant.weak, respelt
        for form, label in whole:
            yield form, f"{TRANSLIT_KIND}{label}", variant.weak, []


def _np(buffer: array[int], dtype: type[np.generic]) -> npt.NDArray[Any]:
    return np.frombuffer(buffer, dtype=dtype).copy() if len(buffer) else np.empty(0, dtype)


@dataclass(frozen=True)
class IndexStats:
    entries: int
    names: int
    vocabulary: int
    common_tokens: int
    pair_keys: int
    array_bytes: int


_Probe = tuple[int, float, int, int]  # (posting length, weight, table, key); table 0 = tokens, 1 = joined forms
_NameMatches = tuple[dict[int, tuple[float, int]], bool]  # entry -> (similarity, name); may any reach the threshold
_NO_MATCHES: _NameMatches = ({}, False)  # shared: never altered


@dataclass(frozen=True, slots=True)
class _QueryToken:
    """What the index knows about one query token, worked out once for all queries that hold it:
    its Metaphone key and weight, its share of the query's weight, and the postings it reads."""

    phon: int
    weight: float
    best: float  # highest IDF among its variants and its joined form (max_idf when it has none)
    singles: tuple[_Probe, ...]  # rare variants and joined form: postings read for the token alone
    commons: tuple[tuple[int, float], ...]  # common variants (token id, similarity): reached through pairs
    related: frozenset[str] = frozenset()  # names it is a nickname or the formal name of
    skeleton: int = 0  # consonant-skeleton key, set only for a token written without vowels


class WatchlistIndex:
    """Candidate generation and scoring for one list (or any set of entries)."""

    def __init__(self, entries: Iterable[WatchlistEntry], *, common_df: int | None = None,
                 max_candidates: int = 20, prefilter: float = 0.6, reference: WatchlistIndex | None = None) -> None:
        """`reference`: the whole list these entries are part of (a change's added and changed entries).
        Token weights, common tokens and joined-form weights are then the whole list's, so a traveller
        scores against an entry here exactly as against the whole list, and a given name that is
        common on the list is probed in pairs here too, however rare it is among the entries."""
        self.max_candidates = max_candidates
        self._reference = reference
        self.prefilter = prefilter
        codes = _Codes()
        entry_ids = _Strings()
        entry_list, entry_cat, entry_gender = array("h"), array("b"), array("h")
        entry_name_off, entry_dob_off, entry_nat_off, entry_doc_off = (array("q", [0]) for _ in range(4))
        dob_year, dob_month, dob_day, dob_year_to, dob_approx = array("h"), array("b"), array("b"), array("h"), \
            array("b")
        nat_code = array("h")
        doc_number = _Strings()
        doc_type, doc_country = array("h"), array("h")
        doc_k, doc_v, ocr_k = array("q"), array("i"), array("q")
        name_entry, name_weak, name_kind = array("i"), array("b"), array("h")
        name_text = _Strings()
        name_tok_off = array("q", [0])
        name_tok = array("i")
        vocab: dict[str, int] = {}
        df = array("i")
        single_k, single_v = array("q"), array("i")
        joined_k, joined_v = array("q"), array("i")
        n_entries = 0
        alt_k, alt_v, alt_label = array("q"), array("i"), array("i")  # token -> its other tables' spellings
        alt_seen: set[tuple[int, int]] = set()
        has_alt: set[int] = set()  # names with such spellings
        tokenise = name_tokens.__wrapped__  # uncached: list names are seen once, the cache is for travellers
        for e_idx, entry in enumerate(entries):
            n_entries = e_idx + 1
            entry_ids.append(entry.id)
            entry_list.append(codes(entry.list))
            entry_cat.append(_CATEGORIES.index(entry.category))
            entry_gender.append(codes(entry.gender))
            for born in entry.dates_of_birth:
                dob_year.append(born.year)
                dob_month.append(born.month or 0)
                dob_day.append(born.day or 0)
                dob_year_to.append(born.year_to or 0)
                dob_approx.append(born.approximate)
            entry_dob_off.append(len(dob_year))
            for nat in entry.nationalities:
                nat_code.append(codes(nat))
            entry_nat_off.append(len(nat_code))
            for doc in entry.documents:
                doc_number.append(doc.number)
                doc_type.append(codes(doc.doc_type))
                doc_country.append(codes(doc.country))
                doc_k.append(_h(document_key(doc.number)))
                ocr_k.append(_h(ocr_key(doc.number)))
                doc_v.append(e_idx)
            entry_doc_off.append(len(doc_number))
            for text, kind, weak, respelt in _written_forms(entry.names, tokenise,
                                                            entry.category is Category.INDIVIDUAL):
                tokens = tokenise(text)
                if not tokens:
                    continue
                n_idx = len(name_entry)
                name_entry.append(e_idx)
                name_weak.append(weak)
                name_kind.append(codes(kind if kind != "primary" else None))
                name_text.append(text)
                ids = set()
                for tok in tokens:
                    tid = vocab.setdefault(tok, len(vocab))
                    if tid == len(df):
                        df.append(0)
                    ids.add(tid)
                    name_tok.append(tid)
                name_tok_off.append(len(name_tok))
                for tok, alt, label in respelt:  # other tables' spellings reach the name too
                    base = vocab[tok]
                    tid = vocab.setdefault(alt, len(vocab))
                    if tid == len(df):
                        df.append(0)
                    ids.add(tid)
                    if (base, tid) not in alt_seen:
                        alt_seen.add((base, tid))
                        alt_k.append(base)
                        alt_v.append(tid)
                        alt_label.append(codes(label))
                    has_alt.add(n_idx)
                for tid in ids:
                    df[tid] += 1
                    single_k.append(tid)
                    single_v.append(n_idx)
                for a, b in pairwise(tokens):
                    joined_k.append(_h(a + b))
                    joined_v.append(n_idx)
            entry_name_off.append(len(name_entry))
        self.n_entries = n_entries
        self._codes = codes.values
        self._entry_ids = entry_ids
        entry_ids.freeze()
        self.entry_list = _np(entry_list, np.int16)
        self.entry_cat = _np(entry_cat, np.int8)
        self.entry_gender = _np(entry_gender, np.int16)
        self.entry_name_off = _np(entry_name_off, np.int64)
        self.entry_dob_off = _np(entry_dob_off, np.int64)
        self.entry_nat_off = _np(entry_nat_off, np.int64)
        self.entry_doc_off = _np(entry_doc_off, np.int64)
        self.dob = (_np(dob_year, np.int16), _np(dob_month, np.int8), _np(dob_day, np.int8),
                    _np(dob_year_to, np.int16), _np(dob_approx, np.int8))
        self.nat_code = _np(nat_code, np.int16)
        self._doc_number = doc_number
        doc_number.freeze()
        self.doc_type = _np(doc_type, np.int16)
        self.doc_country = _np(doc_country, np.int16)
        doc_values = _np(doc_v, np.int32)
        self.doc_exact = _Csr(_np(doc_k, np.int64), doc_values)
        self.doc_ocr = _Csr(_np(ocr_k, np.int64), doc_values)
        self._doc_filter = _KeyFilter(np.concatenate([self.doc_exact.keys, self.doc_ocr.keys]))
        del doc_k, ocr_k, doc_v
        self.vocab = vocab
        self.vocab_list = list(vocab)
        n_names = max(1, len(name_entry))
        self.df = _np(df, np.int32)  # postings' lengths here
        weight_df = self.df  # what the weights are computed from: the whole list's counts with a reference
        if reference is not None:
            n_names = max(1, reference.n_names)
            ref_ids = np.fromiter((reference.vocab.get(t, -1) for t in vocab), np.int64, count=len(vocab))
            if len(reference.df):
                ref_df = np.where(ref_ids >= 0, reference.df[np.maximum(ref_ids, 0)], 0)
                weight_df = np.maximum(self.df, ref_df).astype(np.int32)
        self._n_names = n_names  # of the whole list: what IDF weights are relative to
        self.n_names: int = len(name_entry)
        self.idf = np.log(1.0 + n_names / np.maximum(weight_df, 1)).astype(np.float32)
        self.max_idf = float(math.log(1.0 + n_names))
        self.tok_weight = np.fromiter((_token_weight(t, float(w)) for t, w in zip(self.vocab_list, self.idf.tolist(),
                                                                                   strict=True)),
                                      np.float64, count=len(self.vocab_list))
        self.common_df: int = common_df if common_df is not None else (
            reference.common_df if reference is not None else max(200, n_names // 500))
        self.is_common: npt.NDArray[np.bool_] = weight_df > self.common_df
        self.name_entry = _np(name_entry, np.int32)
        self.name_weak = _np(name_weak, np.int8).astype(bool)
        self.name_kind = _np(name_kind, np.int16)
        self.name_tok_off = _np(name_tok_off, np.int64)
        self.name_tok = _np(name_tok, np.int32)
        self.name_len = np.diff(self.name_tok_off).astype(np.int16)
        self._name_text = name_text
        name_text.freeze()
        del name_entry, name_tok, name_tok_off
        self.singles = _Csr(_np(single_k, np.int64), _np(single_v, np.int32))
        assert len(self.singles.keys) == len(vocab)  # every token has a posting: keys are 0..V-1
        del single_k, single_v
        self.joined = _Csr(_np(joined_k, np.int64), _np(joined_v, np.int32))
        self._joined_filter = _KeyFilter(self.joined.keys, 16)
        del joined_k, joined_v
        # Pairs: only needed where both tokens are common (otherwise the rarer one's single posting
        # reaches the name), which keeps the pair table small.
        common = self.is_common.tolist()
        pair_k, pair_v = array("q"), array("i")
        toks = self.name_tok.tolist()
        offs = self.name_tok_off.tolist()
        for n_idx in range(len(self.name_entry)):
            common_ids = sorted({t for t in toks[offs[n_idx]:offs[n_idx + 1]] if common[t]})
            if len(common_ids) > 1:
                for lo, hi in combinations(common_ids, 2):
                    pair_k.append((lo << 32) | hi)
                    pair_v.append(n_idx)
        del toks, offs
        self.pairs = _Csr(_np(pair_k, np.int64), _np(pair_v, np.int32))
        del pair_k, pair_v
        fuzzy_k, fuzzy_v = array("q"), array("i")
        phon, phon_v = array("q"), array("i")
        for tok, tid in vocab.items():
            for d in _deletes(tok):
                fuzzy_k.append(_h(d))
                fuzzy_v.append(tid)
            phon.append(_phon_key(tok))
            phon_v.append(tid)
        self.vocab_phon = _np(phon, np.int64)
        self.vocab_len = np.fromiter((len(t) for t in self.vocab_list), np.int16, count=len(self.vocab_list))
        self.fuzzy = _Csr(_np(fuzzy_k, np.int64), _np(fuzzy_v, np.int32))
        self.sounds = _Csr(self.vocab_phon[self.vocab_phon != 0], _np(phon_v, np.int32)[self.vocab_phon != 0])
        self.alternates = _Csr(_np(alt_k, np.int64), _np(alt_v, np.int32))
        self.vocab_respelt = np.zeros(len(vocab), bool)
        self.vocab_respelt[self.alternates.keys] = True
        self.alternate_labels = _Csr(_np(alt_k, np.int64), _np(alt_label, np.int32))
        self.name_has_alt = np.zeros(len(self.name_entry), bool)
        self.name_has_alt[list(has_alt)] = True
        del alt_k, alt_v, alt_label, alt_seen, has_alt
        # Consonant skeletons, for travellers whose name was written without vowels (Arabic, Hebrew).
        self.vocab_skel = np.fromiter((_skel_key(t) for t in self.vocab_list), np.int64, count=len(self.vocab_list))
        has_skel = self.vocab_skel != 0
        self.skeletons = _Csr(self.vocab_skel[has_skel], np.flatnonzero(has_skel).astype(np.int32))
        del fuzzy_k, fuzzy_v, phon_v
        self._token_cache: dict[str, _QueryToken] = {}
        self._name_cache: dict[int, tuple[tuple[int, ...], str]] = {}
        self._match_cache: dict[tuple[tuple[str, ...], float | None, bool], _NameMatches] = {}
        self._entry_cache: dict[int, WatchlistEntry] = {}
        self._posting_cache: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
        self._posting_cached = 0  # values held by the posting cache

    @classmethod
    def build(cls, entries: Iterable[WatchlistEntry], **options: int | float) -> WatchlistIndex:
        """Index any iterable of entries (a generator is consumed once and nothing of it is kept)."""
        return cls(entries, **options)  # type: ignore[arg-type]

    def stats(self) -> IndexStats:
        arrays = self.singles.nbytes + self.joined.nbytes + self.pairs.nbytes + self.fuzzy.nbytes + \
            self.sounds.nbytes + \
            int(self.name_entry.nbytes) + int(self.name_tok.nbytes) + self._name_text.nbytes + \
            self._entry_ids.nbytes + self._doc_number.nbytes
        return IndexStats(entries=self.n_entries, names=len(self.name_entry), vocabulary=len(self.vocab),
                          common_tokens=int((self.df > self.common_df).sum()), pair_keys=len(self.pairs.keys),
                          array_bytes=arrays)

    # ------------------------------------------------------------------------------ per-entry data

    def __len__(self) -> int:
        return self.n_entries

    def entry_id(self, e_idx: int) -> str:
        return self._entry_ids[e_idx]

    def name_text(self, n_idx: int) -> str:
        return self._name_text[n_idx]

    def name_token_ids(self, n_idx: int) -> list[int]:
        ids: list[int] = self.name_tok[self.name_tok_off[n_idx]:self.name_tok_off[n_idx + 1]].tolist()
        return ids

    def _name_keys(self, names: list[int]) -> list[tuple[tuple[int, ...], str]]:
        """Token ids and space-joined tokens (the prefilter's key) of candidate names.

        Cached (bounded like the token cache): travellers with a common surname reach the same
        listed names again and again. Tuples and strings, so a caller cannot alter the cache."""
        cache = self._name_cache
        out = []
        for n in names:
            found = cache.get(n)
            if found is None:
                if len(cache) >= _NAME_CACHE_SIZE:
                    cache.clear()
                ids = tuple(self.name_token_ids(n))
                found = cache[n] = (ids, " ".join([self.vocab_list[t] for t in ids]))
            out.append(found)
        return out

    def names_of(self, e_idx: int) -> range:
        """Name ids of one entry (names of an entry are stored together)."""
        return range(int(self.entry_name_off[e_idx]), int(self.entry_name_off[e_idx + 1]))

    def entry(self, e_idx: int) -> WatchlistEntry:
        """The entry rebuilt from the compact arrays (what scoring and explanations need)."""
        return self._build_entry(e_idx, with_names=True)

    def _scoring_entry(self, e_idx: int) -> WatchlistEntry:
        """The entry as `score_features` reads it: without its names (the matched name comes from the
        index), which are most of the rebuilding cost of an entry with many aliases.

        Cached (bounded): a listed person near a traveller's name is near him again on his next flight.
        Shared, so only ever read."""
        cache = self._entry_cache
        found = cache.get(e_idx)
        if found is None:
            if len(cache) >= _ENTRY_CACHE_SIZE:
                cache.clear()
            found = cache[e_idx] = self._build_entry(e_idx, with_names=False)
        return found

    def _build_entry(self, e_idx: int, *, with_names: bool) -> WatchlistEntry:
        code = self._codes
        years, months, days, years_to, approx = self.dob
        d0, d1 = self.entry_dob_off[e_idx:e_idx + 2].tolist()
        dobs = [PartialDate.model_construct(year=y, month=m or None, day=d or None, year_to=y_to or None,
                                            approximate=bool(a))
                for y, m, d, y_to, a in zip(years[d0:d1].tolist(), months[d0:d1].tolist(), days[d0:d1].tolist(),
                                            years_to[d0:d1].tolist(), approx[d0:d1].tolist(), strict=True)]
        n0, n1 = self.entry_nat_off[e_idx:e_idx + 2].tolist()
        nats = [str(code[c]) for c in self.nat_code[n0:n1].tolist()]
        c0, c1 = self.entry_doc_off[e_idx:e_idx + 2].tolist()
        docs = [Document.model_construct(number=self._doc_number[i], doc_type=code[t], country=code[c], note=None)
                for i, t, c in zip(range(c0, c1), self.doc_type[c0:c1].tolist(), self.doc_country[c0:c1].tolist(),
                                   strict=True)]
        names = []
        if with_names:
            first, last = self.entry_name_off[e_idx:e_idx + 2].tolist()
            weak = self.name_weak[first:last].tolist()
            names = [NameVariant.model_construct(name=self._name_text[i], kind=code[k] or "primary",
                                                 quality="low" if w and code[k] != "weak_alias" else None)
                     for i, k, w in zip(range(first, last), self.name_kind[first:last].tolist(), weak, strict=True)
                     if not (code[k] or "").startswith(TRANSLIT_KIND)]  # forms the index made, not the list's
        return WatchlistEntry.model_construct(
            id=self._entry_ids[e_idx], list=str(code[int(self.entry_list[e_idx])]),
            category=_CATEGORIES[int(self.entry_cat[e_idx])], names=names, dates_of_birth=dobs,
            nationalities=nats, gender=code[int(self.entry_gender[e_idx])], documents=docs, source_ref=None)

    def entries(self) -> Iterator[WatchlistEntry]:
        return (self.entry(i) for i in range(self.n_entries))

    def contains_name(self, text: str) -> bool:
        """Whether a listed name has exactly these tokens (any order): used to draw unlisted people."""
        tokens = name_tokens(text)
        tids = [self.vocab.get(t) for t in tokens]
        if not tokens or None in tids:
            return False
        known = [t for t in tids if t is not None]
        rarest = min(known, key=lambda t: int(self.df[t]))
        want = sorted(known)
        return any(sorted(self.name_token_ids(n)) == want for n in self.singles.get(rarest).tolist())

    # ----------------------------------------------------------------------------------- query side

    def weight(self, token: str) -> float:
        """IDF of a token, lightened for patronymics, particles and initials (`_token_weight`)."""
        tid = self.vocab.get(token)
        if tid is not None:
            return float(self.tok_weight[tid])
        if self._reference is not None:
            return self._reference.weight(token)
        return _token_weight(token, self.max_idf)

    def phonetic(self, token: str) -> str:
        return jellyfish.metaphone(token)

    def _joined_idf(self, count: int) -> float:
        return math.log(1.0 + self._n_names / count)

    def _token(self, token: str) -> _QueryToken:
        cached = self._token_cache.get(token)
        if cached is None:
            if len(self._token_cache) >= _CACHE_SIZE:
                self._token_cache.clear()
            cached = self._token_cache[token] = self._query_token(token)
        return cached

    def _infos(self, tokens: Sequence[str], vowelless: bool) -> list[_QueryToken]:
        known = self._token_cache.get  # the usual token is known: no method call
        if not vowelless:
            return [known(t) or self._token(t) for t in tokens]
        return [known("\x01" + t) or self._vowelless_token(t) for t in tokens]

    def _vowelless_token(self, token: str) -> _QueryToken:
        """A token of a name written without vowels (MHMD from Arabic): it also reaches the listed
        tokens with its consonant skeleton (MOHAMMED, MUHAMMAD), which it is then scored against."""
        plain = self._token(token)
        key = _skel_key(token)
        if key and len(token) > 1:
            same = self.skeletons.get(key)[:_SOUND_CAP].tolist()
            seen = {p[3] for p in plain.singles if p[2] == 0} | {tid for tid, _ in plain.commons}
            singles, commons = list(plain.singles), list(plain.commons)
            for tid in same:
                if tid in seen:
                    continue
                if self.is_common[tid]:
                    commons.append((tid, SKELETON_SIMILARITY))
                else:
                    singles.append((int(self.df[tid]), float(self.idf[tid]) * SKELETON_SIMILARITY, 0, tid))
            best = max([plain.best] + [float(self.idf[t]) for t in same])
            plain = _QueryToken(plain.phon, plain.weight, best, tuple(singles), tuple(commons)[:12], plain.related, key)
        if len(self._token_cache) >= _CACHE_SIZE:
            self._token_cache.clear()
        self._token_cache["\x01" + token] = plain
        return plain

    def _query_token(self, token: str) -> _QueryToken:
        """Everything `candidates` needs from one token alone, so a repeated token costs a dict lookup."""
        if len(token) == 1:  # an initial: scored against names with that first letter, never a way in
            return _QueryToken(0, INITIAL_WEIGHT, INITIAL_WEIGHT, (), ())
        phon = _phon_key(token)
        related = related_names(token)
        variants = self._variants(token, phon, related)
        key = _h(token)
        joined_df = self._joined_count(key)  # listed names holding the token as two joined neighbours
        whole_df = self._joined_weight_count(key, joined_df)
        idf, df, is_common = self.idf, self.df, self.is_common
        weights = [float(idf[tid]) for tid, _ in variants] + ([self._joined_idf(whole_df)] if joined_df else [])
        singles: list[_Probe] = []
        commons: list[tuple[int, float]] = []
        for tid, sim in variants:
            if is_common[tid]:
                commons.append((tid, sim))
            else:
                singles.append((int(df[tid]), float(idf[tid]) * sim, 0, tid))
        if joined_df > 0 and whole_df <= self.common_df:  # the traveller joined what the list writes apart
            singles.append((joined_df, self._joined_idf(whole_df), 1, key))
        weight = self.weight(token)
        best = max(weights, default=self.max_idf)
        if is_particle(token):
            best = weight
        return _QueryToken(phon, weight, best, tuple(singles), tuple(commons), related)

    def _joined_count(self, key: int) -> int:
        return self.joined.count(key) if key in self._joined_filter else 0

    def _joined_weight_count(self, key: int, count: int) -> int:
        """How many names of the whole list hold this joined form (this index's count without a reference)."""
        if self._reference is None or not count:
            return count
        return max(count, self._reference._joined_count(key))

    def _joined_probes(self, left: str, right: str) -> tuple[_Probe, ...]:
        """Postings of two neighbouring query tokens written as one (cached with the tokens)."""
        text = left + right
        key = "\x00" + text
        cached = self._token_cache.get(key)
        if cached is None:
            probes: list[_Probe] = []
            df = self.df
            joined_tid = self.vocab.get(text)  # the list joins what the traveller writes apart
            if joined_tid is not None and not self.is_common[joined_tid]:
                probes.append((int(df[joined_tid]), float(self.idf[joined_tid]), 0, joined_tid))
            count = self._joined_count(_h(text))
            whole = self._joined_weight_count(_h(text), count)
            if count > 0 and whole <= self.common_df:
                probes.append((count, self._joined_idf(whole), 1, _h(text)))
            cached = self._token_cache[key] = _QueryToken(0, 0.0, 0.0, tuple(probes), ())
        return cached.singles

    def _variants(self, token: str, phon: int | None = None,
                  related: frozenset[str] = frozenset()) -> list[tuple[int, float]]:
        """Vocabulary ids close to a query token (exact, one edit apart, same Metaphone, or the same name
        or its nickname or formal name), best first."""
        found: dict[int, float] = {}
        exact = self.vocab.get(token)
        if exact is not None:
            found[exact] = 1.0
        for name in related:
            tid = self.vocab.get(name)
            if tid is not None:
                found.setdefault(tid, SYMBOL_SIMILARITY)
        probes = [_h(d) for d in [token, *_deletes(token)]]
        if phon is None:
            phon = _phon_key(token)
        close = self.fuzzy.gather_list(probes)
        if phon:
            same_sound = self.sounds.get(phon)
            if len(same_sound) > _SOUND_CAP:  # a common sound: only tokens of about the same length
                same_sound = same_sound[np.abs(self.vocab_len[same_sound] - len(token)) <= 1][:_SOUND_CAP]
            close += same_sound.tolist()
        others = [tid for tid in set(close) if tid not in found or found[tid] < 1.0]
        if len(others) > 8:  # one C call for the edit distances, one numpy comparison for the sounds
            sims = process.cdist([token], [self.vocab_list[t] for t in others], scorer=Indel.normalized_similarity,
                                 score_cutoff=TOKEN_FLOOR, dtype=np.float64)[0]
            if phon:
                sims = np.where(sims > 0.0, sims, np.where(self.vocab_phon[others] == phon, PHONETIC_SIMILARITY, 0.0))
            for t, sim in zip(others, sims.tolist(), strict=True):
                if sim > found.get(t, 0.0):
                    found[t] = sim
        else:
            for tid in others:
                sim = Indel.normalized_similarity(token, self.vocab_list[tid], score_cutoff=TOKEN_FLOOR)
                if not sim:
                    sim = PHONETIC_SIMILARITY if phon and int(self.vocab_phon[tid]) == phon else 0.0
                if sim > found.get(tid, 0.0):
                    found[tid] = sim
        return sorted(found.items(), key=lambda kv: -kv[1])[:6]

    def candidates(self, tokens: tuple[str, ...], min_coverage: float = 0.4, vowelless: bool = False) -> list[int]:
        """Name ids worth scoring precisely, best first (at most max_candidates).

        A name is kept only if the query tokens it shares carry at least `min_coverage` of the
        query's total IDF weight: sharing only MOHAMMED with a traveller is not a reason to look.
        """
        known = self._token_cache.get  # the usual token is known: no method call
        infos = self._infos(tokens, vowelless)
        idf, common_df = self.idf, self.common_df
        query_weight = sum(info.best for info in infos) or 1.0
        singles: list[_Probe] = []
        common_by_pos: list[tuple[tuple[int, float], ...]] = []
        for info in infos:
            singles += info.singles
            common_by_pos.append(info.commons)
        for left, right in pairwise(tokens):
            joined = known("\x00" + left + right)
            singles += joined.singles if joined is not None else self._joined_probes(left, right)
        if not singles and not any(common_by_pos):
            return []  # no query token is near any listed token: what the general path below finds too
        pair_probes: list[int] = []
        pair_weights: list[float] = []
        for i, j in combinations(range(len(tokens)), 2):
            for a, sa in common_by_pos[i]:
                for b, sb in common_by_pos[j]:
                    if a != b:
                        lo, hi = (a, b) if a < b else (b, a)
                        pair_probes.append((lo << 32) | hi)
                        pair_weights.append(float(idf[a]) * sa + float(idf[b]) * sb)
        # Rare tokens first (prefix filtering): the longest postings whose weights add up to less
        # than the coverage a name needs cannot make a candidate on their own, so they are not
        # read; they only add their weight to candidates found elsewhere (binary search).
        budget = min_coverage * query_weight
        skipped: list[_Probe] = []
        read: list[_Probe] = []
        spent = 0.0
        to_read = 0  # postings read, in name ids
        for probe in sorted(singles, reverse=True):
            if probe[0] >= _SKIP_MIN_DF and spent + probe[1] < budget:
                skipped.append(probe)
                spent += probe[1]
            else:
                read.append(probe)
                to_read += probe[0]
        if singles and to_read + len(pair_probes) * 64 <= _PYTHON_PATH_MAX:
            return self._rank_small(read, skipped, pair_probes, pair_weights, budget, spent)
        parts: list[npt.NDArray[np.int32]] = []
        weights: list[npt.NDArray[np.float64]] = []
        for table_id, table in enumerate((self.singles, self.joined)):
            probes = [p for p in read if p[2] == table_id]
            if probes:
                got, owner = table.gather([p[3] for p in probes])
                parts.append(got)
                weights.append(np.asarray([p[1] for p in probes], np.float64)[owner])
        if pair_probes:
            got, owner = self.pairs.gather(pair_probes, cap=common_df * 4)
            parts.append(got)
            weights.append(np.asarray(pair_weights, np.float64)[owner])
        ids = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.empty(0, np.int32)
        w_all = np.concatenate(weights) if len(weights) > 1 else weights[0] if weights else np.empty(0)
        if len(ids) == 0 and not singles and any(common_by_pos):
            # Every query token is common and no pair met: a one-token query such as "MOHAMMED".
            # Only short names can then match well; look at those.
            short = [arr[self.name_len[arr] <= len(tokens) + 1][: self.max_candidates * 4]
                     for tid in {per[0][0] for per in common_by_pos if per}
                     for arr in [self.singles.get(tid)]]
            ids = np.concatenate(short)
            w_all = np.ones(len(ids), np.float64) * query_weight
        if len(ids) == 0:
            return []
        uniq, inverse = np.unique(ids, return_inverse=True)
        totals = np.bincount(inverse, weights=w_all)
        for _, w, table_id, key in skipped:
            posting = (self.singles, self.joined)[table_id].get(key)
            pos = posting.searchsorted(uniq)
            pos[pos >= len(posting)] = len(posting) - 1
            totals += w * (posting[pos] == uniq)
        keep = totals >= budget
        uniq, totals = uniq[keep], totals[keep]
        if len(uniq) > self.max_candidates:
            top = np.argpartition(-totals, self.max_candidates)[: self.max_candidates]
            top = top[np.argsort(-totals[top], kind="stable")]
        else:
            top = np.argsort(-totals, kind="stable")
        result: list[int] = uniq[top].tolist()
        return result

    def _posting(self, table_id: int, key: int) -> npt.NDArray[np.int32]:
        if table_id == 0:  # token postings: keys are exactly 0..V-1, so the offsets are indexed directly
            offsets = self.singles.offsets
            return self.singles.values[offsets[key]:offsets[key + 1]]
        return self.joined.get(key)

    def _rank_small(self, read: list[_Probe], skipped: list[_Probe],
                    pair_probes: list[int], pair_weights: list[float], budget: float, spent: float) -> list[int]:
        """`candidates` for the usual query whose postings are short: plain Python beats numpy's per-call cost."""
        totals: dict[int, float] = {}
        cached = self._posting_cache[0].get
        if read and read[0][2] == 0:  # the longest posting, first: token postings hold a name once, so 0.0 + w
            _, w, _, key = read[0]
            totals = dict.fromkeys(cached(key) or self._posting_list(0, key), w)
            read = read[1:]
        for _, w, table_id, key in read:  # a name's first weight is stored as is: 0.0 + w is w
            for n in (table_id == 0 and cached(key)) or self._posting_list(table_id, key):
                if n in totals:
                    totals[n] += w
                else:
                    totals[n] = w
        if pair_probes:
            get = totals.get
            got, owner = self.pairs.gather(pair_probes, cap=self.common_df * 4)
            for n, o in zip(got.tolist(), owner.tolist(), strict=True):
                totals[n] = get(n, 0.0) + pair_weights[o]
        if skipped:
            hopeful = [n for n, t in totals.items() if t + spent >= budget]
            if hopeful:
                arr = np.asarray(hopeful, np.int32)
                for _, w, table_id, key in skipped:
                    posting = self._posting(table_id, key)
                    pos = posting.searchsorted(arr)
                    np.minimum(pos, len(posting) - 1, out=pos)
                    for n in arr[posting[pos] == arr].tolist():
                        totals[n] += w
        ranked = sorted([(-t, n) for n, t in totals.items() if t >= budget])  # best total first, then lowest id
        return [n for _, n in ranked[: self.max_candidates]]

    def _posting_list(self, table_id: int, key: int) -> list[int]:
        """A posting as a Python list, cached (bounded by the values held): the postings of the
        vocabulary's variants of common names are read for query after query. Shared: only read."""
        cache = self._posting_cache[table_id]
        found = cache.get(key)
        if found is None:
            if self._posting_cached >= _POSTING_CACHE_VALUES:
                for table in self._posting_cache:
                    table.clear()
                self._posting_cached = 0
            found = cache[key] = self._posting(table_id, key).tolist()
            self._posting_cached += len(found)
        return found

    def name_scores(self, tokens: tuple[str, ...], names: Sequence[int], floor: float = 0.0,
                    token_ids: Sequence[Sequence[int]] | None = None, vowelless: bool = False) -> list[float]:
        """`scoring.name_similarity` of the query against many listed names, vectorised.

        One `cdist` call compares every query token with every distinct candidate token; Metaphone
        agreement is a comparison of precomputed keys, initials and nicknames are patched in;
        only the one-to-one alignment is Python, and it is skipped (score 0.0) for a name whose
        upper bound (each token's best counterpart, ignoring the one-to-one constraint) is below
        `floor`.
        """
        if not tokens or not names:
            return [0.0] * len(names)
        per_name = list(token_ids) if token_ids is not None else [self.name_token_ids(n) for n in names]
        uniq = sorted({t for ids in per_name for t in ids})
        col = {t: c for c, t in enumerate(uniq)}
        matrix = self._token_matrix(tokens, uniq, vowelless)
        q_w = [info.weight for info in self._infos(tokens, vowelless)]
        u_w: list[float] = self.tok_weight[np.asarray(uniq, np.int64)].tolist()
        u_len: list[int] = self.vocab_len[np.asarray(uniq, np.int64)].tolist()
        q_len = sum(map(len, tokens))
        out: list[float] = []
        hopeless = self._hopeless(np.asarray(matrix), per_name, col, np.asarray(q_w), floor) \
            if floor > 0.0 and len(names) > 12 else None
        if hopeless is not None:  # joined or split words may still reach the floor
            joined = self._joined_scores(tokens, per_name)
            hopeless = [h and j < floor for h, j in zip(hopeless, joined, strict=True)]
        for k, ids in enumerate(per_name):
            if hopeless is not None and hopeless[k]:
                out.append(0.0)
                continue
            cols = [col[t] for t in ids]
            aligned, links = align([[row[c] for c in cols] for row in matrix], q_w, [u_w[c] for c in cols],
                                   [u_len[c] == 1 for c in cols])
            if len(tokens) != len(cols) or -1 in links:  # joined or split words: compare the space-less forms
                l_len = sum(u_len[c] for c in cols)  # Indel similarity is at most 2·shorter/(sum of lengths)
                if 2.0 * min(q_len, l_len) / (q_len + l_len) - JOINED_PENALTY > max(aligned, floor):
                    aligned = max(aligned, joined_similarity(tokens, [self.vocab_list[t] for t in ids]))
            out.append(aligned)
        return out

    def _joined_scores(self, tokens: tuple[str, ...], per_name: Sequence[Sequence[int]]) -> list[float]:
        """`scoring.joined_similarity` of the query with every candidate, in two C calls."""
        vocab = self.vocab_list
        written = ["".join([vocab[t] for t in ids]) for ids in per_name]
        ordered = ["".join(sorted([vocab[t] for t in ids])) for ids in per_name]
        as_written, in_order, last_first = joined_orders(tokens)
        a = process.cdist([as_written, last_first], written, scorer=Indel.normalized_similarity, dtype=np.float64)
        b = process.cdist([in_order], ordered, scorer=Indel.normalized_similarity, dtype=np.float64)[0]
        result: list[float] = (np.maximum(a.max(axis=0), b) - JOINED_PENALTY).tolist()
        return result

    def _token_matrix(self, tokens: Sequence[str], uniq: Sequence[int], vowelless: bool = False) -> list[list[float]]:
        """`scoring.token_similarity` of every query token (rows) with every listed token id (columns):
        one `cdist` for the spellings, then one pass over each row for the other rules."""
        strings = [self.vocab_list[t] for t in uniq]
        sims = process.cdist(tokens, strings, scorer=Indel.normalized_similarity, score_cutoff=TOKEN_FLOOR,
                             dtype=np.float64)
        infos = self._infos(tokens, vowelless)
        uniq_arr = np.asarray(uniq, np.int64)
        matrix: list[list[float]] = sims.tolist()
        lengths: list[int] = self.vocab_len[uniq_arr].tolist()
        phons: list[int] = self.vocab_phon[uniq_arr].tolist()
        col_of: dict[str, int] | None = None
        if self.vocab_respelt[uniq_arr].any():  # a listed word's other tables' spellings count as the word
            alts, owner = self.alternates.gather(uniq)
            respelt = list(zip(owner.tolist(), [self.vocab_list[t] for t in alts.tolist()], strict=True))
            respelt_raw: list[list[float]] = process.cdist(
                tokens, [alt for _, alt in respelt], scorer=Indel.normalized_similarity, score_cutoff=TOKEN_FLOOR,
                dtype=np.float64).tolist()
        else:
            respelt, respelt_raw = [], []
        for i, (token, info, row) in enumerate(zip(tokens, infos, matrix, strict=True)):
            n = len(token)
            if n == 1:  # an initial meets names with that first letter
                for c, text in enumerate(strings):
                    row[c] = 1.0 if text == token else INITIAL_SIMILARITY if text[0] == token else 0.0
                continue
            short = n <= SHORT_TOKEN
            for c, value in enumerate(row):
                if value == 0.0:
                    if lengths[c] == 1 and strings[c] == token[0]:
                        row[c] = INITIAL_SIMILARITY
                elif value < 1.0:
                    if short and lengths[c] <= SHORT_TOKEN:  # one letter apart in two short words: weaker
                        value = row[c] = value - SHORT_EDIT_PENALTY if value - SHORT_EDIT_PENALTY >= TOKEN_FLOOR \
                            else 0.0
                    if value < TRANSPOSED_SIMILARITY and lengths[c] == n and n > 3 and \
                            is_transposition(token, strings[c]):
                        row[c] = TRANSPOSED_SIMILARITY
            if respelt:
                for (c, alt), raw in zip(respelt, respelt_raw[i], strict=True):
                    if raw and lengths[c] > 1:  # (a raw 0 stays 0: a transposition scores at least 0.75)
                        spelt = edit_similarity(token, alt)
                        if spelt > row[c]:
                            row[c] = spelt
            phon = info.phon
            if phon:  # sound alike where spelled apart
                for c, value in enumerate(row):
                    if value == 0.0 and phons[c] == phon:
                        row[c] = PHONETIC_SIMILARITY
            if info.related:  # a nickname and the formal name
                if col_of is None:
                    col_of = {text: c for c, text in enumerate(strings)}
                for name in info.related:
                    c = col_of.get(name)  # type: ignore[assignment]
                    if c is not None and row[c] < SYMBOL_SIMILARITY:
                        row[c] = SYMBOL_SIMILARITY
            if info.skeleton:  # written without vowels: the consonants decide
                mine = folded_skeleton(token)
                u_skel: list[int] = self.vocab_skel[uniq_arr].tolist()
                for c, value in enumerate(row):
                    if value < SKELETON_SIMILARITY:
                        if u_skel[c] == info.skeleton:
                            row[c] = SKELETON_SIMILARITY
                        elif u_skel[c] and len(mine) > 2:
                            close = Indel.normalized_similarity(mine, folded_skeleton(strings[c]), score_cutoff=0.8)
                            row[c] = max(value, close * SKELETON_SIMILARITY)
        return matrix

    def explain_name(self, traveller: PreparedTraveller, tokens: tuple[str, ...], n_idx: int,
                     vowelless: bool = False) -> str:
        """The name line of a hit: the name as sent, the listed name, and per token the rule that
        linked it (or that it is missing), so an officer can check every step."""
        ids = self.name_token_ids(n_idx)
        listed = [self.vocab_list[t] for t in ids]
        matrix = self._token_matrix(tokens, ids, vowelless)
        q_w = [self.weight(t) for t in tokens]
        l_w: list[float] = self.tok_weight[np.asarray(ids, np.int64)].tolist()
        aligned, links = align(matrix, q_w, l_w, [len(t) == 1 for t in listed])
        typed = {read_digits(t) for t in name_tokens(traveller.name, keep_stop_tokens=True) if has_typed_digits(t)} \
            if traveller.name else set()
        sent = traveller.name or " ".join(tokens)
        head = f"'{sent}'"
        if tokens != traveller.tokens:
            head += f" read as '{' '.join(tokens)}' (another romanisation)"
        head += f" vs listed '{self._name_text[n_idx]}'"
        kind = self._codes[int(self.name_kind[n_idx])] or ""
        if kind.startswith(TRANSLIT_KIND):
            original = next((self._name_text[i] for i in range(n_idx - 1, -1, -1)
                             if not (self._codes[int(self.name_kind[i])] or "").startswith(TRANSLIT_KIND)), "")
            head += f" ({kind.removeprefix(TRANSLIT_KIND)} form of '{original}')"
        if (len(tokens) != len(listed) or -1 in links) and joined_similarity(tokens, listed) > aligned:
            return f"{head}: words joined or split ({''.join(tokens)} ~ {''.join(listed)})"
        parts = []
        for i, token in enumerate(tokens):
            j = links[i]
            if j < 0:
                parts.append(f"{token} not on the entry")
                continue
            rule = self._link_rule(token, listed[j], matrix[i][j], token in typed, vowelless) \
                if not (respelt := self._respelling(token, ids[j], matrix[i][j])) else respelt
            parts.append(f"{token}={listed[j]} {rule}")
        last = len(listed) - 1
        for j, token in enumerate(listed):
            if j not in links:
                parts.append(f"listed {token} not given" + (" (a middle name: costs little)" if 0 < j < last else ""))
        return f"{head}: " + "; ".join(parts)

    def _respelling(self, token: str, tid: int, value: float) -> str:
        """The rule naming a link made through another table's spelling of a listed word, or ''."""
        if value <= edit_similarity(token, self.vocab_list[tid]):
            return ""
        alts = self.alternates.get(tid).tolist()
        labels = self.alternate_labels.get(tid).tolist()
        for alt, label in zip(alts, labels, strict=True):
            if edit_similarity(token, self.vocab_list[alt]) >= value:
                spelled = self.vocab_list[alt]
                how = "exact" if spelled == token else f"edit similarity {value:.2f}"
                return f"(transliteration: {self._codes[label]} writes {spelled}, {how})"
        return ""

    @staticmethod
    def _link_rule(token: str, listed: str, value: float, typed_digits: bool, vowelless: bool) -> str:
        particle = ", particle: weighs little" if is_particle(token) else ""
        if token == listed:
            return f"(OCR: digits read as letters{particle})" if typed_digits else f"(exact{particle})"
        if len(token) == 1 or len(listed) == 1:
            return "(initial)"
        edit = Indel.normalized_similarity(token, listed)
        if vowelless and value <= SKELETON_SIMILARITY and edit < value and folded_skeleton(token) and \
                Indel.normalized_similarity(folded_skeleton(token), folded_skeleton(listed)) >= 0.8:
            return "(consonant skeleton: the name was written without vowels)"
        if value == SYMBOL_SIMILARITY and edit < SYMBOL_SIMILARITY:
            return "(nickname or short form: nicknames table)"
        if value == PHONETIC_SIMILARITY and edit < TOKEN_FLOOR:
            return "(phonetic: same Metaphone key)"
        if value == TRANSPOSED_SIMILARITY and is_transposition(token, listed):
            return "(two neighbouring letters swapped)"
        return f"(spelling: edit similarity {edit:.2f}" + (", OCR digits read as letters" if typed_digits else "") + ")"

    def alternates_of(self, token: str) -> list[str]:
        """Other tables' spellings of a listed word that came from a non-Latin name (IURII for YURIY)."""
        tid = self.vocab.get(token)
        if tid is None:
            return []
        return [self.vocab_list[t] for t in self.alternates.get(tid).tolist()]

    def _hopeless(self, sims: FloatArray, per_name: Sequence[Sequence[int]], col: dict[int, int], q_w: FloatArray,
                  floor: float) -> list[bool]:
        """Names whose alignment cannot reach `floor`, for all candidates in a few numpy calls.

        Upper bound: every token takes its best counterpart, ignoring the one-to-one constraint, and
        every missing token costs only what a missing middle token costs (joined words: the caller)."""
        width = max(len(ids) for ids in per_name)
        cols = np.full((len(per_name), width), -1, np.int64)
        for k, ids in enumerate(per_name):
            cols[k, :len(ids)] = [col[t] for t in ids]
        padded = np.concatenate([sims, np.zeros((sims.shape[0], 1))], axis=1)  # column -1 is the pad
        cube = padded[:, cols]  # query token x name x name token
        q_best = cube.max(axis=2).T  # name x query token
        q_den = np.where(q_best > 0, q_w, q_w * TRAVELLER_MISSING_INNER).sum(axis=1)
        q_up = np.minimum(1.0, (q_best @ q_w) / q_den)
        uniq_w = np.append(self.tok_weight[sorted(col, key=col.__getitem__)], 0.0)
        l_w = uniq_w[cols]
        l_best = cube.max(axis=0)
        l_den = np.where(l_best > 0, l_w, l_w * LISTED_MISSING_INNER).sum(axis=1)
        l_up = np.minimum(1.0, (l_best * l_w).sum(axis=1) / l_den)
        bound = 0.7 * np.minimum(q_up, l_up) + 0.3 * np.maximum(q_up, l_up)
        result: list[bool] = (bound < floor).tolist()
        return result

    def prepare(self, query: ScreeningQuery) -> PreparedTraveller:
        return prepare_traveller(query)

    def screen(self, query: ScreeningQuery | PreparedTraveller, threshold: float | None = None,
               *, limit: int = 10) -> list[Hit]:
        """Hits for one traveller, best first. With `threshold=None`, every scored candidate is
        returned (used for ranking metrics); otherwise only hits at or above it."""
        traveller = query if isinstance(query, PreparedTraveller) else prepare_traveller(query)
        forms = (traveller.tokens, *traveller.forms) if traveller.tokens else ()
        best: dict[int, tuple[float, int]] = {}
        form_of: dict[int, int] = {}  # entry -> which of the traveller's written forms met it best
        viable = False
        vowelless = traveller.vowelless
        for f, tokens in enumerate(forms):
            found, may = self._name_matches(tokens, threshold, vowelless)
            viable = viable or may
            for e_idx, (sim, n_idx) in found.items():
                if e_idx not in best or sim > best[e_idx][0]:
                    best[e_idx] = (sim, n_idx)
                    form_of[e_idx] = f
        doc_entries = self._document_entries(traveller.document, traveller.document_ocr)
        if not viable and not doc_entries:
            return []
        hits: list[Hit] = []
        for e_idx in set(best) | doc_entries:
            sim, n_idx = best.get(e_idx, (0.0, -1))
            if threshold is not None and e_idx not in doc_entries and sim + MAX_NON_DOCUMENT_BONUS < threshold:
                continue  # cannot reach the threshold: skip building the explanation
            entry = self._scoring_entry(e_idx)
            if n_idx < 0 and entry.category is not Category.DOCUMENT and traveller.tokens:
                sim, n_idx = self._best_name(traveller.tokens, e_idx)
            matched = self._name_text[n_idx] if n_idx >= 0 else None
            weak = bool(self.name_weak[n_idx]) if n_idx >= 0 else False
            score, lines = score_features(traveller, entry, round(sim, 4), matched, weak)
            limit_score = threshold if threshold is not None else 0.0
            if score >= limit_score and lines:
                if n_idx >= 0 and lines[0].feature == "name":  # explained for hits only: it costs an alignment
                    detail = self.explain_name(traveller, forms[form_of.get(e_idx, 0)], n_idx, vowelless)
                    lines[0] = lines[0].model_copy(update={"detail": detail})
                hits.append(_hit(traveller.traveller_id, entry, score, threshold or 0.0, matched, lines))
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]

    def may_hit(self, tokens: tuple[str, ...], threshold: float,
                document_keys: Iterable[tuple[str | None, str | None]],
                forms: Sequence[tuple[str, ...]] = (), vowelless: bool = False) -> bool:
        """Whether `screen(..., threshold)` can return anything for these tokens (or other written forms
        of the name) and any of these (exact, OCR-folded) document keys; False is certain, so the caller
        may skip screening."""
        if tokens and any(self._name_matches(t, threshold, vowelless)[1] for t in (tokens, *forms)):
            return True
        known = self._doc_filter
        for doc, ocr in document_keys:
            if doc and (_h(doc) in known or (ocr and _h(ocr) in known)) and self._document_entries(doc, ocr):
                return True
        return False

    def _name_matches(self, tokens: tuple[str, ...], threshold: float | None,
                      vowelless: bool = False) -> _NameMatches:
        """Best listed name per entry for these tokens, and whether any may reach the threshold.

        Depends on the tokens alone, so it is remembered (bounded): names recur in traffic (the
        same traveller on a resent or updated manifest, the same family on one flight)."""
        cache = self._match_cache
        key = (tokens, threshold, vowelless)
        found = cache.get(key)
        if found is None:
            if len(cache) >= _MATCH_CACHE_SIZE:
                cache.clear()
            best = self._best_names(tokens, threshold, vowelless)
            if not best:
                found = _NO_MATCHES
            else:
                found = (best, threshold is None or any(sim + MAX_NON_DOCUMENT_BONUS >= threshold
                                                        for sim, _ in best.values()))
            cache[key] = found
        return found

    def _best_names(self, tokens: tuple[str, ...], threshold: float | None,
                    vowelless: bool = False) -> dict[int, tuple[float, int]]:
        best: dict[int, tuple[float, int]] = {}
        cands = self.candidates(tokens, vowelless=vowelless)
        if not cands:
            return best
        known = self._name_keys(cands)
        ids = [k[0] for k in known]
        if len(cands) > 4 and not vowelless and min(map(len, tokens)) > 1:
            # One C call to drop the hopeless before the careful comparison; not for links that
            # letters do not show (a name without vowels, initials, a listed word's other spellings,
            # a nickname).
            keys = [k[1] for k in known]
            kept = {i for _, _, i in process.extract(" ".join(tokens), keys, scorer=fuzz.token_sort_ratio,
                                                     processor=None, score_cutoff=PREFILTER_RATIO, limit=None)}
            respelt = self.name_has_alt[np.asarray(cands, np.int64)].tolist()
            nicknamed = {tid for t in tokens for name in self._token(t).related
                         if (tid := self.vocab.get(name)) is not None}
            keep = [i for i in range(len(cands)) if i in kept or respelt[i]
                    or (nicknamed and not nicknamed.isdisjoint(ids[i]))]
            cands = [cands[i] for i in keep]
            ids = [ids[i] for i in keep]
        floor = self.prefilter if threshold is None else max(self.prefilter, threshold - MAX_NON_DOCUMENT_BONUS)
        for n_idx, sim in zip(cands, self.name_scores(tokens, cands, floor, ids, vowelless), strict=True):
            if sim < self.prefilter:
                continue
            e_idx = int(self.name_entry[n_idx])
            if self.name_weak[n_idx]:
                sim -= 1e-6  # prefer a strong name of the same entry at equal similarity
            if e_idx not in best or sim > best[e_idx][0]:
                best[e_idx] = (sim, n_idx)
        return best

    def _document_entries(self, document: str | None, document_ocr: str | None) -> set[int]:
        doc_entries: set[int] = set()
        if document:
            key = _h(document)
            if key in self._doc_filter:
                doc_entries.update(self.doc_exact.get(key).tolist())
            if document_ocr:
                key = _h(document_ocr)
                if key in self._doc_filter:
                    doc_entries.update(self.doc_ocr.get(key).tolist())
        return doc_entries

    def _best_name(self, tokens: tuple[str, ...], e_idx: int) -> tuple[float, int]:
        names = list(self.names_of(e_idx))
        best = (0.0, -1)
        for n_idx, sim in zip(names, self.name_scores(tokens, names), strict=True):
            if sim > best[0]:
                best = (sim, n_idx)
        return best


def _hit(traveller_id: str, entry: WatchlistEntry, score: float, threshold: float, matched: str | None,
         lines: list[FeatureScore]) -> Hit:
    return Hit(traveller_id=traveller_id, entry_id=entry.id, list=entry.list, category=entry.category,
               score=round(score, 4), threshold=threshold, matched_name=matched, explanation=lines)


def prepare_traveller(query: ScreeningQuery) -> PreparedTraveller:
    """Normalise a traveller once; the result can be screened against any number of indexes."""
    doc, doc_ocr = prepare_document(query.document_number)
    name = query.display_name
    return PreparedTraveller(
        traveller_id=query.id, tokens=name_tokens(name) if name else (),
        dob=prepare_dob(query.date_of_birth), nationality=prepare_country(query.nationality),
        gender=prepare_gender(query.gender), document=doc, document_ocr=doc_ocr,
        document_country=prepare_country(query.document_country), name=name or "",
        forms=other_forms(name) if name else (), vowelless=bool(name) and is_vowelless(name))


def is_vowelless(name: str) -> bool:
    """Whether a name is written in a script that leaves short vowels out (Arabic, Hebrew)."""
    return not name.isascii() and script_of(name) in ("Arabic", "Hebrew")


@lru_cache(maxsize=1 << 12)
def other_forms(name: str) -> tuple[tuple[str, ...], ...]:
    """Token tuples of the other Latin forms of a traveller's name written in another script (a
    Latin name has none): each is screened and the best kept, as a passport and a list may have
    romanised it by different tables."""
    if name.isascii():
        return ()
    first = name_tokens(name)
    forms: dict[tuple[str, ...], None] = {}
    for text, _ in latin_forms(name):
        tokens = name_tokens(text)
        if tokens and tokens != first:
            forms[tokens] = None
    return tuple(forms)[:TRAVELLER_FORMS]

