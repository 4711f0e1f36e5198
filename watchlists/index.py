"""The candidate index: built once per list version, queried for every traveller.

Strategy (query cost grows with the size of a few posting lists, not with the list):
1. Vocabulary. Every distinct name token gets an id, a document frequency and an IDF weight.
   Neighbouring tokens are also indexed joined ("ABDUL RAHMAN" -> "ABDULRAHMAN") so joined and
   split spellings meet.
2. Fuzzy token lookup. Each vocabulary token is indexed under its one-character deletions
   (symmetric-delete, as in SymSpell) and its Metaphone key, so a query token finds its typo
   and transliteration variants with a dozen hash probes instead of a scan of the vocabulary.
3. Postings. Rare tokens point at the names that hold them. Common tokens (document frequency
   above `common_df`, e.g. MOHAMMED, ALI, CORP) are never probed alone: names are reached through
   *pairs* of tokens instead, so a common token only contributes together with another token.
   All postings are numpy CSR arrays keyed by 64-bit integers (compact at a million entries).
4. Ranking. Candidates are ranked by the summed IDF of the query tokens they share, the best
   `max_candidates` are rescored precisely (scoring.py), then grouped by entry.
Documents (passport numbers, lost/stolen lists) have their own exact and OCR-folded key maps.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise

import jellyfish
import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from watchlists.models import Category, FeatureScore, Hit, ScreeningQuery, WatchlistEntry
from watchlists.normalise import name_tokens
from watchlists.scoring import (
    MAX_NON_DOCUMENT_BONUS,
    PHONETIC_SIMILARITY,
    TOKEN_FLOOR,
    PreparedTraveller,
    document_key,
    name_similarity,
    ocr_key,
    prepare_country,
    prepare_dob,
    prepare_document,
    prepare_gender,
    score_features,
)

IntArray = npt.NDArray[np.int64]
_MIN_DELETE_LEN = 4
PATRONYMIC_ENDINGS = ("OVICH", "EVICH", "OVNA", "EVNA", "OGLU", "KYZY", "ULY")
PREFILTER_RATIO = 55  # token_sort_ratio below which a candidate is not compared carefully


class _Csr:
    """Sorted int64 keys -> int32 values: a compact multimap probed with one searchsorted per batch."""

    __slots__ = ("keys", "offsets", "values")

    def __init__(self, keys: Iterable[int] | IntArray, values: Iterable[int] | IntArray) -> None:
        k = np.fromiter(keys, dtype=np.int64) if not isinstance(keys, np.ndarray) else keys.astype(np.int64)
        v = np.fromiter(values, dtype=np.int32) if not isinstance(values, np.ndarray) else values.astype(np.int32)
        order = np.argsort(k, kind="stable")
        k, v = k[order], v[order]
        self.keys, starts = np.unique(k, return_index=True)
        self.offsets = np.append(starts, len(k)).astype(np.int64)
        self.values = v

    def gather(self, probes: Sequence[int], cap: int = 0) -> tuple[npt.NDArray[np.int32], IntArray]:
        """Values of every probe concatenated, and for each value the position of its probe.

        Vectorised multi-slice: a constant number of numpy calls whatever the number of probes.
        `cap` > 0 keeps at most that many values per probe.
        """
        if not probes or len(self.keys) == 0:
            return np.empty(0, np.int32), np.empty(0, np.int64)
        arr = np.asarray(probes, dtype=np.int64)
        pos = np.searchsorted(self.keys, arr)
        pos[pos >= len(self.keys)] = 0
        found = self.keys[pos] == arr
        starts = self.offsets[pos]
        lens = np.where(found, self.offsets[pos + 1] - starts, 0)
        if cap:
            np.minimum(lens, cap, out=lens)
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, np.int32), np.empty(0, np.int64)
        owner = np.repeat(np.arange(len(arr)), lens)
        first = np.cumsum(lens) - lens
        index = np.repeat(starts - first, lens) + np.arange(total)
        return self.values[index], owner

    def get(self, key: int) -> npt.NDArray[np.int32]:
        i = int(np.searchsorted(self.keys, key))
        if i < len(self.keys) and self.keys[i] == key:
            return self.values[self.offsets[i]:self.offsets[i + 1]]
        return np.empty(0, np.int32)

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.offsets.nbytes + self.values.nbytes)


def _h(text: str) -> int:
    """64-bit key for a string; Python's str hash is stable within the process that built the index."""
    return hash(text)


def _deletes(token: str) -> list[str]:
    if len(token) < _MIN_DELETE_LEN:
        return []
    return [token[:i] + token[i + 1:] for i in range(len(token))]


@dataclass(frozen=True)
class IndexStats:
    entries: int
    names: int
    vocabulary: int
    common_tokens: int
    pair_keys: int
    array_bytes: int


class WatchlistIndex:
    """Candidate generation and scoring for one list (or any set of entries)."""

    def __init__(self, entries: list[WatchlistEntry], *, common_df: int | None = None,
                 max_candidates: int = 20, prefilter: float = 0.6) -> None:
        self.entries = entries
        self.max_candidates = max_candidates
        self.prefilter = prefilter
        name_entry: list[int] = []
        name_tokens_list: list[tuple[str, ...]] = []
        name_weak: list[bool] = []
        name_text: list[str] = []
        vocab: dict[str, int] = {}
        df: list[int] = []
        single_k: list[int] = []
        single_v: list[int] = []
        doc_exact: dict[str, list[int]] = defaultdict(list)
        doc_ocr: dict[str, list[int]] = defaultdict(list)
        for e_idx, entry in enumerate(entries):
            for doc in entry.documents:
                doc_exact[document_key(doc.number)].append(e_idx)
                doc_ocr[ocr_key(doc.number)].append(e_idx)
            for variant in entry.names:
                tokens = name_tokens(variant.name)
                if not tokens:
                    continue
                n_idx = len(name_entry)
                name_entry.append(e_idx)
                name_tokens_list.append(tuple(sys.intern(t) for t in tokens))
                name_weak.append(variant.weak)
                name_text.append(variant.name)
                ids = set()
                for tok in tokens:
                    tid = vocab.setdefault(tok, len(vocab))
                    if tid == len(df):
                        df.append(0)
                    ids.add(tid)
                for tid in ids:
                    df[tid] += 1
                    single_k.append(tid)
                    single_v.append(n_idx)
                for a, b in pairwise(tokens):
                    tid = vocab.setdefault(a + b, len(vocab))
                    if tid == len(df):
                        df.append(0)
                    if tid not in ids:
                        single_k.append(tid)
                        single_v.append(n_idx)
        self.vocab = vocab
        self.vocab_list = list(vocab)
        n_names = max(1, len(name_entry))
        self.df = np.asarray(df, dtype=np.int32)
        self.idf = np.log(1.0 + n_names / np.maximum(self.df, 1)).astype(np.float32)
        self.max_idf = float(math.log(1.0 + n_names))
        self.common_df = common_df if common_df is not None else max(200, n_names // 500)
        self.name_entry = np.asarray(name_entry, dtype=np.int32)
        self.name_len = np.asarray([len(t) for t in name_tokens_list], dtype=np.int16)
        self.name_tokens = name_tokens_list
        self.name_weak = name_weak
        self.name_text = name_text
        self.name_key = [" ".join(t) for t in name_tokens_list]
        self.singles = _Csr(single_k, single_v)
        del single_k, single_v
        # Pairs: only needed where both tokens are common (otherwise the rarer one's single posting
        # reaches the name), which keeps the pair table small.
        common = self.df > self.common_df
        pair_k: list[int] = []
        pair_v: list[int] = []
        for n_idx, tokens in enumerate(name_tokens_list):
            ids_sorted = sorted({vocab[t] for t in tokens})
            common_ids = [t for t in ids_sorted if common[t]]
            for lo, hi in combinations(common_ids, 2):
                pair_k.append((lo << 32) | hi)
                pair_v.append(n_idx)
        self.pairs = _Csr(pair_k, pair_v)
        del pair_k, pair_v
        fuzzy_k: list[int] = []
        fuzzy_v: list[int] = []
        self.phon: dict[str, str] = {}
        for tok, tid in vocab.items():
            for d in _deletes(tok):
                fuzzy_k.append(_h(d))
                fuzzy_v.append(tid)
            if len(tok) > 2:
                self.phon[tok] = jellyfish.metaphone(tok)
                fuzzy_k.append(_h("#" + self.phon[tok]))
                fuzzy_v.append(tid)
        self.fuzzy = _Csr(fuzzy_k, fuzzy_v)
        self.token_weight = {tok: float(self.idf[tid]) for tok, tid in vocab.items()}
        del fuzzy_k, fuzzy_v
        self.doc_exact = {k: tuple(v) for k, v in doc_exact.items()}
        self.doc_ocr = {k: tuple(v) for k, v in doc_ocr.items()}

    @classmethod
    def build(cls, entries: Iterable[WatchlistEntry], **options: int | float) -> WatchlistIndex:
        return cls(list(entries), **options)  # type: ignore[arg-type]

    def stats(self) -> IndexStats:
        arrays = self.singles.nbytes + self.pairs.nbytes + self.fuzzy.nbytes + int(self.name_entry.nbytes)
        return IndexStats(entries=len(self.entries), names=len(self.name_entry), vocabulary=len(self.vocab),
                          common_tokens=int((self.df > self.common_df).sum()), pair_keys=len(self.pairs.keys),
                          array_bytes=arrays)

    # ----------------------------------------------------------------------------------- query side

    def weight(self, token: str) -> float:
        """IDF of a token; patronymics (-OVICH, -EVNA ...) count a quarter, as passports often omit them."""
        w = self.token_weight.get(token, self.max_idf)
        return w * 0.25 if token.endswith(PATRONYMIC_ENDINGS) and len(token) > 6 else w

    def phonetic(self, token: str) -> str:
        found = self.phon.get(token)
        return found if found is not None else jellyfish.metaphone(token)

    def _variants(self, token: str) -> list[tuple[int, float]]:
        """Vocabulary ids close to a query token (exact, one edit apart, or same Metaphone), best first."""
        found: dict[int, float] = {}
        exact = self.vocab.get(token)
        if exact is not None:
            found[exact] = 1.0
        probes = [_h(d) for d in [token, *_deletes(token)]]
        phon = self.phonetic(token) if len(token) > 2 else ""
        if phon:
            probes.append(_h("#" + phon))
        tids, _ = self.fuzzy.gather(probes)
        for tid in set(tids.tolist()):
            if tid not in found:
                cand = self.vocab_list[tid]
                sim = Indel.normalized_similarity(token, cand, score_cutoff=TOKEN_FLOOR)
                if not sim:
                    sim = PHONETIC_SIMILARITY if phon and self.phon.get(cand) == phon else 0.0
                if sim > 0.0:
                    found[tid] = sim
        return sorted(found.items(), key=lambda kv: -kv[1])[:6]

    def candidates(self, tokens: tuple[str, ...], min_coverage: float = 0.4) -> list[int]:
        """Name ids worth scoring precisely, best first (at most max_candidates).

        A name is kept only if the query tokens it shares carry at least `min_coverage` of the
        query's total IDF weight: sharing only MOHAMMED with a traveller is not a reason to look.
        """
        variants = [self._variants(t) for t in tokens]
        query_weight = sum(max((float(self.idf[tid]) for tid, _ in per), default=self.max_idf)
                           for per in variants) or 1.0
        joined = [self.vocab.get(a + b) for a, b in pairwise(tokens)]
        single_probes: list[int] = []
        single_weights: list[float] = []
        common_by_pos: list[list[tuple[int, float]]] = []
        for per_token in variants:
            commons = []
            for tid, sim in per_token:
                if self.df[tid] > self.common_df:
                    commons.append((tid, sim))
                else:
                    single_probes.append(tid)
                    single_weights.append(float(self.idf[tid]) * sim)
            common_by_pos.append(commons)
        for joined_id in joined:
            if joined_id is not None and self.df[joined_id] <= self.common_df:
                single_probes.append(joined_id)
                single_weights.append(float(self.idf[joined_id]))
        pair_probes: list[int] = []
        pair_weights: list[float] = []
        for i, j in combinations(range(len(tokens)), 2):
            for a, sa in common_by_pos[i]:
                for b, sb in common_by_pos[j]:
                    if a != b:
                        lo, hi = (a, b) if a < b else (b, a)
                        pair_probes.append((lo << 32) | hi)
                        pair_weights.append(float(self.idf[a]) * sa + float(self.idf[b]) * sb)
        s_ids, s_owner = self.singles.gather(single_probes)
        p_ids, p_owner = self.pairs.gather(pair_probes, cap=self.common_df * 4)
        ids = np.concatenate([s_ids, p_ids])
        w_all = np.concatenate([np.asarray(single_weights, np.float32)[s_owner],
                                np.asarray(pair_weights, np.float32)[p_owner]])
        if len(ids) == 0 and any(common_by_pos):
            # Every query token is common and no pair met: a one-token query such as "MOHAMMED".
            # Only short names can then match well; look at those.
            short = [arr[self.name_len[arr] <= len(tokens) + 1][: self.max_candidates * 4]
                     for tid in {per[0][0] for per in common_by_pos if per}
                     for arr in [self.singles.get(tid)]]
            ids = np.concatenate(short)
            w_all = np.ones(len(ids), np.float32) * query_weight
        if len(ids) == 0:
            return []
        uniq, inverse = np.unique(ids, return_inverse=True)
        totals = np.bincount(inverse, weights=w_all)
        keep = totals >= min_coverage * query_weight
        uniq, totals = uniq[keep], totals[keep]
        if len(uniq) > self.max_candidates:
            top = np.argpartition(-totals, self.max_candidates)[: self.max_candidates]
            top = top[np.argsort(-totals[top])]
        else:
            top = np.argsort(-totals)
        result: list[int] = uniq[top].tolist()
        return result

    def prepare(self, query: ScreeningQuery) -> PreparedTraveller:
        return prepare_traveller(query)

    def screen(self, query: ScreeningQuery | PreparedTraveller, threshold: float | None = None,
               *, limit: int = 10) -> list[Hit]:
        """Hits for one traveller, best first. With `threshold=None`, every scored candidate is
        returned (used for ranking metrics); otherwise only hits at or above it."""
        traveller = query if isinstance(query, PreparedTraveller) else prepare_traveller(query)
        best: dict[int, tuple[float, int]] = {}
        if traveller.tokens:
            cands = self.candidates(traveller.tokens)
            if len(cands) > 4:  # one C call to drop the hopeless before the careful comparison
                keys = [self.name_key[i] for i in cands]
                kept = process.extract(" ".join(traveller.tokens), keys, scorer=fuzz.token_sort_ratio,
                                       processor=None, score_cutoff=PREFILTER_RATIO, limit=None)
                cands = [cands[i] for _, _, i in kept]
            for n_idx in cands:
                sim = name_similarity(traveller.tokens, self.name_tokens[n_idx], self.weight, self.phonetic)
                if sim < self.prefilter:
                    continue
                e_idx = int(self.name_entry[n_idx])
                if self.name_weak[n_idx]:
                    sim -= 1e-6  # prefer a strong name of the same entry at equal similarity
                if e_idx not in best or sim > best[e_idx][0]:
                    best[e_idx] = (sim, n_idx)
        doc_entries: set[int] = set()
        if traveller.document:
            doc_entries.update(self.doc_exact.get(traveller.document, ()))
            if traveller.document_ocr:
                doc_entries.update(self.doc_ocr.get(traveller.document_ocr, ()))
        hits: list[Hit] = []
        for e_idx in set(best) | doc_entries:
            entry = self.entries[e_idx]
            sim, n_idx = best.get(e_idx, (0.0, -1))
            if threshold is not None and e_idx not in doc_entries and sim + MAX_NON_DOCUMENT_BONUS < threshold:
                continue  # cannot reach the threshold: skip building the explanation
            if n_idx < 0 and entry.category is not Category.DOCUMENT and traveller.tokens:
                sim, n_idx = self._best_name(traveller.tokens, e_idx)
            matched = self.name_text[n_idx] if n_idx >= 0 else None
            weak = self.name_weak[n_idx] if n_idx >= 0 else False
            score, lines = score_features(traveller, entry, round(sim, 4), matched, weak)
            limit_score = threshold if threshold is not None else 0.0
            if score >= limit_score and lines:
                hits.append(_hit(traveller.traveller_id, entry, score, threshold or 0.0, matched, lines))
        hits.sort(key=lambda h: -h.score)
        return hits[:limit]

    def _best_name(self, tokens: tuple[str, ...], e_idx: int) -> tuple[float, int]:
        best = (0.0, -1)
        for n_idx in np.flatnonzero(self.name_entry == e_idx).tolist():
            sim = name_similarity(tokens, self.name_tokens[n_idx], self.weight, self.phonetic)
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
    return PreparedTraveller(
        traveller_id=query.id, tokens=name_tokens(query.display_name) if query.display_name else (),
        dob=prepare_dob(query.date_of_birth), nationality=prepare_country(query.nationality),
        gender=prepare_gender(query.gender), document=doc, document_ocr=doc_ocr,
        document_country=prepare_country(query.document_country))

