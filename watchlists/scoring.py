"""Scoring one traveller against one list entry, with a per-feature explanation.

Strategy: the name gives a similarity in 0..1; every other feature adds or subtracts a small,
fixed, documented amount (docs/watchlists.md), so an officer can add the lines up himself.
Name similarity is a rare-token-weighted alignment: each token of either side is linked to its
best counterpart by the first rule that links them (exact, swapped letters, spelling, a listed
word's respelling, nickname, consonant skeleton, sound, initial), and tokens count by their
inverse document frequency in the list, so MOHAMMED or CORP barely move the score while a rare
surname decides it. Coverage is asymmetric (`align`): a middle name one side lacks costs little.
Joined/split tokens ("ABDUL RAHMAN" / "ABDULRAHMAN") are covered by also comparing the space-less
forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import jellyfish
from rapidfuzz.distance import Indel

from watchlists.countries import to_alpha2
from watchlists.dates import compare_dob, make_date, parse_date
from watchlists.models import Document, FeatureScore, PartialDate, WatchlistEntry

TOKEN_FLOOR = 0.70  # a token pair less similar than this counts as no match at all
PHONETIC_SIMILARITY = 0.80  # credit for tokens that sound alike but are spelled apart
SYMBOL_SIMILARITY = 0.85  # a nickname or short form and the formal name (BILL / WILLIAM)
SKELETON_SIMILARITY = 0.85  # same consonants, for a name written without vowels (Arabic, Hebrew)
INITIAL_SIMILARITY = 0.75  # an initial and a name with that first letter
INITIAL_WEIGHT = 1.0  # an initial says little (a rare surname weighs 8 to 12)
LISTED_INITIAL_SHARE = 0.5  # share of its link a traveller's word linked to a listed initial is credited
PARTICLE_WEIGHT = 0.5  # AL, BIN, VAN, DE ...: kept, but lists attach, detach and omit them at random
LISTED_MISSING_INNER = 0.1  # share of its weight a middle token of the listed name costs when absent
TRAVELLER_MISSING_INNER = 0.2  # the same for a middle token of the traveller's name the entry lacks
TRANSPOSED_SIMILARITY = 0.9  # two neighbouring letters swapped, as hand typing does
SHORT_TOKEN = 5  # words of at most this many letters ...
SHORT_EDIT_PENALTY = 0.05  # ... lose this much for an edit: CHEN/CHENG, HOWE/HOWIE are other names as often as typos
JOINED_PENALTY = 0.03  # the space-less comparison is a little less sure than a token alignment
WEAK_ALIAS_PENALTY = 0.03
NATIONALITY_MATCH = 0.02
NATIONALITY_MISMATCH = -0.04
GENDER_MISMATCH = -0.05
DOCUMENT_EXACT = 0.20
DOCUMENT_OCR = 0.12
DOCUMENT_ONLY_EXACT = 1.0  # document lists: the number is the whole identity
DOCUMENT_ONLY_OCR = 0.92
DOCUMENT_COUNTRY_MISMATCH = -0.25
MAX_NON_DOCUMENT_BONUS = 0.06 + NATIONALITY_MATCH  # best date of birth + nationality agreement

# OCR confusions named by the issue (and MRZ practice): letter -> digit. A bytes table: keys are
# ASCII, and bytes.translate is several times quicker than str.translate on the hot path.
_OCR_FOLD = bytes.maketrans(b"OQDILSBZ", b"00011582")
_DOC_CLEAN = re.compile(r"[^A-Z0-9]")


def document_key(number: str) -> str:
    if number.isalnum() and number.isascii():  # the usual number: nothing to remove (no regex)
        return number.upper()
    return _DOC_CLEAN.sub("", number.upper())


def _fold(key: str) -> str:
    return key.encode().translate(_OCR_FOLD).decode()


def ocr_key(number: str) -> str:
    """The number with letters OCR confuses with digits folded to the digit (O/0, I/1, S/5, B/8 ...)."""
    return _fold(document_key(number))


def edit_similarity(a: str, b: str) -> float:
    """Indel similarity, 0 below the floor; one letter apart in two short words counts a little less;
    two neighbouring letters swapped (ILYA / IYLA) count as one slip."""
    sim = Indel.normalized_similarity(a, b, score_cutoff=TOKEN_FLOOR)
    if sim and sim < 1.0 and len(a) <= SHORT_TOKEN and len(b) <= SHORT_TOKEN:
        sim = sim - SHORT_EDIT_PENALTY if sim - SHORT_EDIT_PENALTY >= TOKEN_FLOOR else 0.0
    if sim < TRANSPOSED_SIMILARITY and is_transposition(a, b):
        return TRANSPOSED_SIMILARITY
    return sim


def is_transposition(a: str, b: str) -> bool:
    """Whether two different words of one length differ by one swap of neighbouring letters."""
    if len(a) != len(b) or len(a) < 4 or a == b:
        return False
    diff = [k for k in range(len(a)) if a[k] != b[k]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def token_similarity(a: str, b: str, phon_a: str = "", phon_b: str = "",
                     related_a: frozenset[str] = frozenset(), related_b: frozenset[str] = frozenset(),
                     alternates: Sequence[str] = ()) -> float:
    """Similarity of two tokens by the first rule that links them; `alternates` are other tables'
    spellings of the listed word `b`, which count as `b` when closer."""
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:  # an initial stands for any name with that first letter
        return INITIAL_SIMILARITY if a[0] == b[0] else 0.0
    sim = max([edit_similarity(a, b), *(edit_similarity(a, alt) for alt in alternates)])
    if sim >= SYMBOL_SIMILARITY:
        return sim
    if b in related_a or a in related_b:
        return SYMBOL_SIMILARITY
    if sim:
        return sim
    if len(a) > 2 and len(b) > 2:
        key = phon_a or jellyfish.metaphone(a)
        if len(key) > 1 and key == (phon_b or jellyfish.metaphone(b)):
            return PHONETIC_SIMILARITY
    return 0.0


def align(matrix: Sequence[Sequence[float]], q_w: Sequence[float], l_w: Sequence[float],
          l_initial: Sequence[bool] = ()) -> tuple[float, list[int]]:
    """Score of one alignment of traveller tokens (rows) with listed tokens (columns), and for each
    traveller token the listed token it is linked to (-1 for none).

    Tokens are linked one to one, best pairs first, so one listed DANIEL cannot cover both DANIEL
    and DANIELSEN. Each side's coverage is its linked weight over its whole weight, except that a
    token missing from the middle of a name (a middle name, a patronymic, a father's or
    grandfather's name) costs only part of its weight: little on the list side, which often knows
    more names than a passport prints, more on the traveller's side. The first and last tokens (the
    personal and family names) cost their full weight. The lower coverage dominates. A traveller's
    word linked to a listed initial (`l_initial`) counts only half its link: EMILY S on a list says
    little about which Emily S... is meant.
    """
    n_q, n_l = len(q_w), len(l_w)
    # Best pairs first; among equals, the earlier tokens (an initial A links to the first given name).
    pairs = sorted((-s, i, j) for i, row in enumerate(matrix) for j, s in enumerate(row) if s)
    q_sim = [0.0] * n_q
    l_sim = [0.0] * n_l
    links = [-1] * n_q
    for s, i, j in pairs:
        if q_sim[i] == 0.0 and l_sim[j] == 0.0:
            q_sim[i] = l_sim[j] = -s
            links[i] = j
            if l_initial and l_initial[j] and -s < 1.0:
                q_sim[i] = -s * LISTED_INITIAL_SHARE
    # A middle name on each side that matches nothing on the other is a conflict (another person),
    # not an omission: as many as the other side has cost their full weight, the heaviest first.
    q_free = _unmatched_inner(q_sim, q_w)
    l_free = _unmatched_inner(l_sim, l_w)
    conflicts = min(len(q_free), len(l_free))
    q_cov = _cover(q_sim, q_w, TRAVELLER_MISSING_INNER, q_free[conflicts:])
    l_cov = _cover(l_sim, l_w, LISTED_MISSING_INNER, l_free[conflicts:])
    return 0.7 * min(q_cov, l_cov) + 0.3 * max(q_cov, l_cov), links


def _unmatched_inner(sims: Sequence[float], weights: Sequence[float]) -> list[int]:
    """Positions of unmatched tokens between the first and the last, heaviest first."""
    return sorted((k for k in range(1, len(sims) - 1) if not sims[k]), key=lambda k: -weights[k])


def _cover(sims: Sequence[float], weights: Sequence[float], inner_missing: float, omitted: Sequence[int]) -> float:
    """Linked weight over total weight, where the `omitted` tokens count `inner_missing` of theirs."""
    got = total = 0.0
    for s, w in zip(sims, weights, strict=True):
        got += w * s
        total += w
    for k in omitted:
        total -= weights[k] * (1.0 - inner_missing)
    return got / total if total else 0.0


def joined_orders(tokens: Sequence[str]) -> tuple[str, str, str]:
    """A name's words run together as written, in sorted order, and with the last word first (a
    family name written first on one side and last on the other: EUN JI HAN / HAN EUNJI)."""
    return "".join(tokens), "".join(sorted(tokens)), "".join([*tokens[-1:], *tokens[:-1]])


def joined_similarity(query: Sequence[str], listed: Sequence[str]) -> float:
    """Similarity of the space-less forms (ABDUL RAHMAN / ABDULRAHMAN), in the orders of `joined_orders`."""
    q, listed_written = joined_orders(query), "".join(listed)
    return max(Indel.normalized_similarity(q[0], listed_written),
               Indel.normalized_similarity(q[1], "".join(sorted(listed))),
               Indel.normalized_similarity(q[2], listed_written)) - JOINED_PENALTY


def name_similarity(query: Sequence[str], listed: Sequence[str], weight: Callable[[str], float],
                    phonetic: Callable[[str], str] = jellyfish.metaphone,
                    related: Callable[[str], frozenset[str]] = lambda _: frozenset(),
                    alternates: Callable[[str], Sequence[str]] = lambda _: ()) -> float:
    """Order-free, rare-token-weighted similarity of two token tuples, in 0..1 (see `align`).

    The reference the index's vectorised scoring is tested against."""
    if not query or not listed:
        return 0.0
    l_phon = [phonetic(b) for b in listed]
    l_sym = [related(b) for b in listed]
    l_alt = [alternates(b) for b in listed]
    matrix = []
    for a in query:
        pa, sa = phonetic(a), related(a)
        matrix.append([token_similarity(a, b, pa, pb, sa, sb, alts)
                       for b, pb, sb, alts in zip(listed, l_phon, l_sym, l_alt, strict=True)])
    aligned, links = align(matrix, [weight(t) for t in query], [weight(t) for t in listed],
                           [len(t) == 1 for t in listed])
    if len(query) != len(listed) or -1 in links:  # joined or split words: compare the space-less forms
        aligned = max(aligned, joined_similarity(query, listed))
    return aligned


@dataclass(frozen=True, slots=True)
class PreparedTraveller:
    """A query with everything that does not depend on the entry worked out once."""

    traveller_id: str
    tokens: tuple[str, ...]
    dob: PartialDate | None
    nationality: str | None
    gender: str | None
    document: str | None
    document_ocr: str | None
    document_country: str | None
    name: str = ""  # the name as sent, for the explanation
    forms: tuple[tuple[str, ...], ...] = ()  # other Latin forms of a name sent in another script
    vowelless: bool = False  # sent in a script that leaves short vowels out (Arabic, Hebrew)


@lru_cache(maxsize=256)
def prepare_gender(value: str | None) -> str | None:
    """"M", "F" or None; memoised because a handful of spellings make up all traffic."""
    v = (value or "").strip().upper()[:1]
    return v if v in {"M", "F"} else None


def prepare_document(number: str | None) -> tuple[str | None, str | None]:
    """Exact and OCR-folded keys of a document number (None, None when there is none).

    Not memoised: a number recurs only when the same traveller is screened again, and the keys
    cost less than a cache miss."""
    key = document_key(number) if number else ""
    if not key:
        return None, None
    return key, _fold(key)


def prepare_country(value: str | None) -> str | None:
    return to_alpha2(value)


def prepare_dob(value: str | None) -> PartialDate | None:
    return parse_date(value)


@lru_cache(maxsize=1 << 15)
def prepare_birth_date(value: date | None) -> PartialDate | None:
    """`prepare_dob` of the date's ISO form, without writing and parsing it (memoised like `parse_date`)."""
    if value is None:
        return None
    if type(value) is not date:  # a datetime's ISO form carries a time, which `parse_date` does not read
        return parse_date(value.isoformat())
    return make_date(value.year, value.month, value.day)


def score_features(traveller: PreparedTraveller, entry: WatchlistEntry, name_score: float,
                   matched_name: str | None, weak_alias: bool,
                   dob_tolerance_years: int = 1, name_detail: str | None = None) -> tuple[float, list[FeatureScore]]:
    """Combine the name score with the other features; return the score and the explanation lines."""
    lines: list[FeatureScore] = []
    score = 0.0
    doc_line = _document(traveller, entry.documents)
    if entry.category.value == "document":
        if doc_line is None:
            return 0.0, []
        base = DOCUMENT_ONLY_EXACT if doc_line.outcome == "exact" else DOCUMENT_ONLY_OCR
        lines.append(doc_line.model_copy(update={"contribution": base}))
        score = base
        if traveller.document_country and entry.documents[0].country and \
                traveller.document_country != entry.documents[0].country:
            score += DOCUMENT_COUNTRY_MISMATCH
            lines.append(FeatureScore(feature="document_country", outcome="mismatch",
                                      contribution=DOCUMENT_COUNTRY_MISMATCH,
                                      detail=f"issued by {traveller.document_country}, "
                                             f"listed {entry.documents[0].country}"))
        return max(0.0, min(1.0, score)), lines
    score = name_score
    lines.append(FeatureScore(feature="name", outcome=_name_outcome(name_score), contribution=round(name_score, 3),
                              detail=name_detail or f"'{traveller.name or ' '.join(traveller.tokens)}' vs listed "
                                                    f"'{matched_name}'"))
    if weak_alias:
        score -= WEAK_ALIAS_PENALTY
        lines.append(FeatureScore(feature="name_quality", outcome="weak_alias", contribution=-WEAK_ALIAS_PENALTY,
                                  detail="matched a low-quality alias"))
    if traveller.dob is not None:
        cmp = compare_dob(traveller.dob, entry.dates_of_birth, dob_tolerance_years)
        score += cmp.contribution
        lines.append(FeatureScore(feature="date_of_birth", outcome=cmp.outcome, contribution=cmp.contribution,
                                  detail=cmp.detail))
    if traveller.nationality and entry.nationalities:
        if traveller.nationality in entry.nationalities:
            score += NATIONALITY_MATCH
            lines.append(FeatureScore(feature="nationality", outcome="match", contribution=NATIONALITY_MATCH,
                                      detail=f"{traveller.nationality} is listed"))
        else:
            score += NATIONALITY_MISMATCH
            lines.append(FeatureScore(feature="nationality", outcome="mismatch", contribution=NATIONALITY_MISMATCH,
                                      detail=f"{traveller.nationality} not in listed {','.join(entry.nationalities)}"))
    if traveller.gender and entry.gender and traveller.gender != entry.gender:
        score += GENDER_MISMATCH
        lines.append(FeatureScore(feature="gender", outcome="mismatch", contribution=GENDER_MISMATCH,
                                  detail=f"{traveller.gender} vs listed {entry.gender}"))
    if doc_line is not None:
        score += doc_line.contribution
        lines.append(doc_line)
    return max(0.0, min(1.0, score)), lines


def _name_outcome(score: float) -> str:
    return "exact" if score >= 0.999 else "strong" if score >= 0.9 else "partial" if score >= 0.75 else "weak"


def _document(traveller: PreparedTraveller, documents: Sequence[Document]) -> FeatureScore | None:
    if traveller.document is None:
        return None
    for doc in documents:
        if document_key(doc.number) == traveller.document:
            return FeatureScore(feature="document", outcome="exact", contribution=DOCUMENT_EXACT,
                                detail=f"document number equals listed {doc.doc_type or 'document'}")
    for doc in documents:
        if ocr_key(doc.number) == traveller.document_ocr:
            return FeatureScore(feature="document", outcome="ocr_tolerant", contribution=DOCUMENT_OCR,
                                detail="document number equals listed one up to OCR confusions (O/0, I/1, S/5, B/8)")
    return None
