"""Scoring one traveller against one list entry, with a per-feature explanation.

Strategy: the name gives a similarity in 0..1; every other feature adds or subtracts a small,
fixed, documented amount (docs/watchlists.md), so an officer can add the lines up himself.
Name similarity is a rare-token-weighted alignment: each token of either side is matched to its
best counterpart (edit-distance similarity, or a phonetic match), and tokens count by their
inverse document frequency in the list, so MOHAMMED or CORP barely move the score while a rare
surname decides it. Joined/split tokens ("ABDUL RAHMAN" / "ABDULRAHMAN") are covered by also
comparing the space-less forms.
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


def token_similarity(a: str, b: str, phon_a: str = "", phon_b: str = "") -> float:
    """Edit-distance similarity of two tokens, or the phonetic credit when only their sound agrees."""
    if a == b:
        return 1.0
    sim = Indel.normalized_similarity(a, b, score_cutoff=TOKEN_FLOOR)
    if sim:
        return sim
    if len(a) > 2 and len(b) > 2 and (phon_a or jellyfish.metaphone(a)) == (phon_b or jellyfish.metaphone(b)):
        return PHONETIC_SIMILARITY
    return 0.0


def name_similarity(query: Sequence[str], listed: Sequence[str], weight: Callable[[str], float],
                    phonetic: Callable[[str], str] = jellyfish.metaphone) -> float:
    """Order-free, rare-token-weighted similarity of two token tuples, in 0..1.

    Tokens are aligned one to one (greedy on similarity), so one listed DANIEL cannot cover both
    DANIEL and DANIELSEN; each side's coverage is weighted by IDF, and the lower of the two
    coverages dominates, so a short listed name does not match a longer traveller name for free.
    """
    if not query or not listed:
        return 0.0
    pairs: list[tuple[float, int, int]] = []
    l_phon = [phonetic(b) for b in listed]
    for i, a in enumerate(query):
        pa = phonetic(a)
        for j, b in enumerate(listed):
            s = token_similarity(a, b, pa, l_phon[j])
            if s:
                pairs.append((s, i, j))
    pairs.sort(reverse=True)
    q_sim = [0.0] * len(query)
    l_sim = [0.0] * len(listed)
    for s, i, j in pairs:
        if q_sim[i] == 0.0 and l_sim[j] == 0.0:
            q_sim[i] = s
            l_sim[j] = s
    q_w = [weight(t) for t in query]
    l_w = [weight(t) for t in listed]
    q_side = sum(w * s for w, s in zip(q_w, q_sim, strict=True)) / sum(q_w)
    l_side = sum(w * s for w, s in zip(l_w, l_sim, strict=True)) / sum(l_w)
    low, high = min(q_side, l_side), max(q_side, l_side)
    aligned = 0.7 * low + 0.3 * high
    if len(query) != len(listed):  # joined or split tokens: compare the space-less forms
        joined = max(Indel.normalized_similarity("".join(query), "".join(listed)),
                     Indel.normalized_similarity("".join(sorted(query)), "".join(sorted(listed))))
        aligned = max(aligned, joined - 0.03)
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
                   dob_tolerance_years: int = 1) -> tuple[float, list[FeatureScore]]:
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
                              detail=f"'{' '.join(traveller.tokens)}' vs listed '{matched_name}'"))
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
