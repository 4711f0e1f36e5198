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
Documents (passport numbers, lost/stolen lists) have their own exact and OCR-folded key tables.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from operator import mul
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
from watchlists.normalise import name_tokens
from watchlists.scoring import (
    MAX_NON_DOCUMENT_BONUS,
    PHONETIC_SIMILARITY,
    TOKEN_FLOOR,
    PreparedTraveller,
    document_key,
    ocr_key,
    prepare_country,
    prepare_dob,
    prepare_document,
    prepare_gender,
    score_features,
)

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
    """Hash of the Metaphone key (0 for tokens too short to have a meaningful one)."""
    return _h("#" + jellyfish.metaphone(token)) if len(token) > 2 else 0


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


class WatchlistIndex:
    """Candidate generation and scoring for one list (or any set of entries)."""

    def __init__(self, entries: Iterable[WatchlistEntry], *, common_df: int | None = None,
                 max_candidates: int = 20, prefilter: float = 0.6) -> None:
        self.max_candidates = max_candidates
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
            for variant in entry.names:
                tokens = tokenise(variant.name)
                if not tokens:
                    continue
                n_idx = len(name_entry)
                name_entry.append(e_idx)
                name_weak.append(variant.weak)
                name_kind.append(codes(variant.kind if variant.kind != "primary" else None))
                name_text.append(variant.name)
                ids = set()
                for tok in tokens:
                    tid = vocab.setdefault(tok, len(vocab))
                    if tid == len(df):
                        df.append(0)
                    ids.add(tid)
                    name_tok.append(tid)
                name_tok_off.append(len(name_tok))
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
        self.df = _np(df, np.int32)
        self.idf = np.log(1.0 + n_names / np.maximum(self.df, 1)).astype(np.float32)
        self.max_idf = float(math.log(1.0 + n_names))
        patronymic = np.fromiter((len(t) > 6 and t.endswith(PATRONYMIC_ENDINGS) for t in self.vocab_list),
                                 dtype=bool, count=len(self.vocab_list))
        self.tok_weight = np.where(patronymic, self.idf * 0.25, self.idf).astype(np.float64)
        self.common_df = common_df if common_df is not None else max(200, n_names // 500)
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
        common = (self.df > self.common_df).tolist()
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
        del fuzzy_k, fuzzy_v, phon_v
        self._token_cache: dict[str, _QueryToken] = {}
        self._name_cache: dict[int, tuple[tuple[int, ...], str]] = {}
        self._match_cache: dict[tuple[tuple[str, ...], float | None], _NameMatches] = {}
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
            names = [NameVariant.model_construct(name=self._name_text[i], kind=code[k] or "primary", quality=None)
                     for i, k in zip(range(first, last), self.name_kind[first:last].tolist(), strict=True)]
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
        """IDF of a token; patronymics (-OVICH, -EVNA ...) count a quarter, as passports often omit them."""
        tid = self.vocab.get(token)
        if tid is not None:
            return float(self.tok_weight[tid])
        return self.max_idf * 0.25 if token.endswith(PATRONYMIC_ENDINGS) and len(token) > 6 else self.max_idf

    def phonetic(self, token: str) -> str:
        return jellyfish.metaphone(token)

    def _joined_idf(self, count: int) -> float:
        return math.log(1.0 + max(1, len(self.name_entry)) / count)

    def _token(self, token: str) -> _QueryToken:
        cached = self._token_cache.get(token)
        if cached is None:
            if len(self._token_cache) >= _CACHE_SIZE:
                self._token_cache.clear()
            cached = self._token_cache[token] = self._query_token(token)
        return cached

    def _query_token(self, token: str) -> _QueryToken:
        """Everything `candidates` needs from one token alone, so a repeated token costs a dict lookup."""
        phon = _phon_key(token)
        variants = self._variants(token, phon)
        joined_df = self._joined_count(_h(token))  # listed names holding the token as two joined neighbours
        idf, df, common_df = self.idf, self.df, self.common_df
        weights = [float(idf[tid]) for tid, _ in variants] + ([self._joined_idf(joined_df)] if joined_df else [])
        singles: list[_Probe] = []
        commons: list[tuple[int, float]] = []
        for tid, sim in variants:
            if df[tid] > common_df:
                commons.append((tid, sim))
            else:
                singles.append((int(df[tid]), float(idf[tid]) * sim, 0, tid))
        if 0 < joined_df <= common_df:  # the traveller joined what the list writes apart
            singles.append((joined_df, self._joined_idf(joined_df), 1, _h(token)))
        return _QueryToken(phon, self.weight(token), max(weights, default=self.max_idf), tuple(singles),
                           tuple(commons))

    def _joined_count(self, key: int) -> int:
        return self.joined.count(key) if key in self._joined_filter else 0

    def _joined_probes(self, left: str, right: str) -> tuple[_Probe, ...]:
        """Postings of two neighbouring query tokens written as one (cached with the tokens)."""
        text = left + right
        key = "\x00" + text
        cached = self._token_cache.get(key)
        if cached is None:
            probes: list[_Probe] = []
            df, common_df = self.df, self.common_df
            joined_tid = self.vocab.get(text)  # the list joins what the traveller writes apart
            if joined_tid is not None and df[joined_tid] <= common_df:
                probes.append((int(df[joined_tid]), float(self.idf[joined_tid]), 0, joined_tid))
            count = self._joined_count(_h(text))
            if 0 < count <= common_df:
                probes.append((count, self._joined_idf(count), 1, _h(text)))
            cached = self._token_cache[key] = _QueryToken(0, 0.0, 0.0, tuple(probes), ())
        return cached.singles

    def _variants(self, token: str, phon: int | None = None) -> list[tuple[int, float]]:
        """Vocabulary ids close to a query token (exact, one edit apart, or same Metaphone), best first."""
        found: dict[int, float] = {}
        exact = self.vocab.get(token)
        if exact is not None:
            found[exact] = 1.0
        probes = [_h(d) for d in [token, *_deletes(token)]]
        if phon is None:
            phon = _phon_key(token)
        close = self.fuzzy.gather_list(probes)
        if phon:
            same_sound = self.sounds.get(phon)
            if len(same_sound) > _SOUND_CAP:  # a common sound: only tokens of about the same length
                same_sound = same_sound[np.abs(self.vocab_len[same_sound] - len(token)) <= 1][:_SOUND_CAP]
            close += same_sound.tolist()
        others = [tid for tid in set(close) if tid not in found]
        if len(others) > 8:  # one C call for the edit distances, one numpy comparison for the sounds
            sims = process.cdist([token], [self.vocab_list[t] for t in others], scorer=Indel.normalized_similarity,
                                 score_cutoff=TOKEN_FLOOR, dtype=np.float64)[0]
            if phon:
                sims = np.where(sims > 0.0, sims, np.where(self.vocab_phon[others] == phon, PHONETIC_SIMILARITY, 0.0))
            found.update((t, s) for t, s in zip(others, sims.tolist(), strict=True) if s > 0.0)
        else:
            for tid in others:
                sim = Indel.normalized_similarity(token, self.vocab_list[tid], score_cutoff=TOKEN_FLOOR)
                if not sim:
                    sim = PHONETIC_SIMILARITY if phon and int(self.vocab_phon[tid]) == phon else 0.0
                if sim > 0.0:
                    found[tid] = sim
        return sorted(found.items(), key=lambda kv: -kv[1])[:6]

    def candidates(self, tokens: tuple[str, ...], min_coverage: float = 0.4) -> list[int]:
        """Name ids worth scoring precisely, best first (at most max_candidates).

        A name is kept only if the query tokens it shares carry at least `min_coverage` of the
        query's total IDF weight: sharing only MOHAMMED with a traveller is not a reason to look.
        """
        known = self._token_cache.get  # the usual token is known: no method call
        infos = [known(t) or self._token(t) for t in tokens]
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
                    token_ids: Sequence[Sequence[int]] | None = None) -> list[float]:
        """`scoring.name_similarity` of the query against many listed names, vectorised.

        One `cdist` call compares every query token with every distinct candidate token; Metaphone
        agreement is a comparison of precomputed keys; only the one-to-one alignment is Python, and
        it is skipped (score 0.0) for a name whose upper bound (each token's best counterpart,
        ignoring the one-to-one constraint) is below `floor`.
        """
        if not tokens or not names:
            return [0.0] * len(names)
        per_name = list(token_ids) if token_ids is not None else [self.name_token_ids(n) for n in names]
        uniq = sorted({t for ids in per_name for t in ids})
        col = {t: c for c, t in enumerate(uniq)}
        strings = [self.vocab_list[t] for t in uniq]
        sims = process.cdist(tokens, strings, scorer=Indel.normalized_similarity, score_cutoff=TOKEN_FLOOR,
                             dtype=np.float64)
        known = self._token_cache.get
        infos = [known(t) or self._token(t) for t in tokens]
        uniq_arr = np.asarray(uniq, np.int64)
        u_phon: list[int] = self.vocab_phon[uniq_arr].tolist()
        matrix: list[list[float]] = sims.tolist()
        for info, row in zip(infos, matrix, strict=True):  # sound alike where spelled apart
            if info.phon:
                for c, value in enumerate(row):
                    if value == 0.0 and u_phon[c] == info.phon:
                        row[c] = PHONETIC_SIMILARITY
        q_w = [i.weight for i in infos]
        q_total = sum(q_w)
        u_w: list[float] = self.tok_weight[uniq_arr].tolist()
        q_joined = "".join(tokens)
        q_sorted = "".join(sorted(tokens))
        n_q = len(tokens)
        out: list[float] = []
        hopeless = self._hopeless(np.asarray(matrix), per_name, col, np.asarray(q_w), q_total, floor) \
            if floor > 0.0 and len(names) > 12 else None
        for k, ids in enumerate(per_name):
            if hopeless is not None and hopeless[k]:
                out.append(0.0)
                continue
            cols = [col[t] for t in ids]
            pairs = [(row[c], i, j) for i, row in enumerate(matrix) for j, c in enumerate(cols) if row[c]]
            pairs.sort(reverse=True)
            q_sim = [0.0] * n_q
            l_sim = [0.0] * len(cols)
            for s, i, j in pairs:
                if q_sim[i] == 0.0 and l_sim[j] == 0.0:
                    q_sim[i] = s
                    l_sim[j] = s
            l_w = [u_w[c] for c in cols]
            q_side = sum(map(mul, q_w, q_sim)) / q_total
            l_side = sum(map(mul, l_w, l_sim)) / sum(l_w)
            aligned = 0.7 * min(q_side, l_side) + 0.3 * max(q_side, l_side)
            if n_q != len(cols):  # joined or split tokens: compare the space-less forms
                listed = [self.vocab_list[t] for t in ids]
                joined = max(Indel.normalized_similarity(q_joined, "".join(listed)),
                             Indel.normalized_similarity(q_sorted, "".join(sorted(listed))))
                aligned = max(aligned, joined - 0.03)
            out.append(aligned)
        return out

    def _hopeless(self, sims: FloatArray, per_name: Sequence[Sequence[int]], col: dict[int, int], q_w: FloatArray,
                  q_total: float, floor: float) -> list[bool]:
        """Names whose alignment cannot reach `floor`, for all candidates in a few numpy calls.

        Upper bound: every token takes its best counterpart, ignoring the one-to-one constraint.
        Names with another token count than the query are never hopeless (joined forms)."""
        width = max(len(ids) for ids in per_name)
        cols = np.full((len(per_name), width), -1, np.int64)
        for k, ids in enumerate(per_name):
            cols[k, :len(ids)] = [col[t] for t in ids]
        padded = np.concatenate([sims, np.zeros((sims.shape[0], 1))], axis=1)  # column -1 is the pad
        cube = padded[:, cols]  # query token x name x name token
        q_up = (cube.max(axis=2).T @ q_w) / q_total
        uniq_w = np.append(self.tok_weight[sorted(col, key=col.__getitem__)], 0.0)
        l_w = uniq_w[cols]
        l_up = (cube.max(axis=0) * l_w).sum(axis=1) / l_w.sum(axis=1)
        bound = 0.7 * np.minimum(q_up, l_up) + 0.3 * np.maximum(q_up, l_up)
        same_len = (cols >= 0).sum(axis=1) == sims.shape[0]
        result: list[bool] = ((bound < floor) & same_len).tolist()
        return result

    def prepare(self, query: ScreeningQuery) -> PreparedTraveller:
        return prepare_traveller(query)

    def screen(self, query: ScreeningQuery | PreparedTraveller, threshold: float | None = None,
               *, limit: int = 10) -> list[Hit]:
        """Hits for one traveller, best first. With `threshold=None`, every scored candidate is
        returned (used for ranking metrics); otherwise only hits at or above it."""
        traveller = query if isinstance(query, PreparedTraveller) else prepare_traveller(query)
        best, viable = self._name_matches(traveller.tokens, threshold) if traveller.tokens else _NO_MATCHES
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
                hits.append(_hit(traveller.traveller_id, entry, score, threshold or 0.0, matched, lines))
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]

    def may_hit(self, tokens: tuple[str, ...], threshold: float,
                document_keys: Iterable[tuple[str | None, str | None]]) -> bool:
        """Whether `screen(..., threshold)` can return anything for these tokens and any of these
        (exact, OCR-folded) document keys; False is certain, so the caller may skip screening."""
        if tokens and self._name_matches(tokens, threshold)[1]:
            return True
        known = self._doc_filter
        for doc, ocr in document_keys:
            if doc and (_h(doc) in known or (ocr and _h(ocr) in known)) and self._document_entries(doc, ocr):
                return True
        return False

    def _name_matches(self, tokens: tuple[str, ...], threshold: float | None) -> _NameMatches:
        """Best listed name per entry for these tokens, and whether any may reach the threshold.

        Depends on the tokens alone, so it is remembered (bounded): names recur in traffic (the
        same traveller on a resent or updated manifest, the same family on one flight)."""
        cache = self._match_cache
        key = (tokens, threshold)
        found = cache.get(key)
        if found is None:
            if len(cache) >= _MATCH_CACHE_SIZE:
                cache.clear()
            best = self._best_names(tokens, threshold)
            if not best:
                found = _NO_MATCHES
            else:
                found = (best, threshold is None or any(sim + MAX_NON_DOCUMENT_BONUS >= threshold
                                                        for sim, _ in best.values()))
            cache[key] = found
        return found

    def _best_names(self, tokens: tuple[str, ...], threshold: float | None) -> dict[int, tuple[float, int]]:
        best: dict[int, tuple[float, int]] = {}
        cands = self.candidates(tokens)
        if not cands:
            return best
        known = self._name_keys(cands)
        ids = [k[0] for k in known]
        if len(cands) > 4:  # one C call to drop the hopeless before the careful comparison
            keys = [k[1] for k in known]
            kept = process.extract(" ".join(tokens), keys, scorer=fuzz.token_sort_ratio,
                                   processor=None, score_cutoff=PREFILTER_RATIO, limit=None)
            cands = [cands[i] for _, _, i in kept]
            ids = [ids[i] for _, _, i in kept]
        floor = self.prefilter if threshold is None else max(self.prefilter, threshold - MAX_NON_DOCUMENT_BONUS)
        for n_idx, sim in zip(cands, self.name_scores(tokens, cands, floor, ids), strict=True):
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
        document_country=prepare_country(query.document_country))

