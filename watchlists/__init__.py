"""Watchlist screening: loaders for real list formats, name normalisation, a candidate index,
explainable scoring, an allowlist, versioned lists and a small risk-rule language.

Pure and synchronous: only the loaders read files.
"""

from watchlists.index import WatchlistIndex, prepare_traveller
from watchlists.loaders import LoadError, LoadResult, load
from watchlists.models import (
    Category,
    Document,
    FeatureScore,
    Hit,
    NameVariant,
    PartialDate,
    Rejected,
    ScreeningQuery,
    WatchlistEntry,
)
from watchlists.screener import Clearance, ListDiff, Screener, ScreeningOutcome, Thresholds

__all__ = [
    "Category",
    "Clearance",
    "Document",
    "FeatureScore",
    "Hit",
    "ListDiff",
    "LoadError",
    "LoadResult",
    "NameVariant",
    "PartialDate",
    "Rejected",
    "Screener",
    "ScreeningOutcome",
    "ScreeningQuery",
    "Thresholds",
    "WatchlistEntry",
    "WatchlistIndex",
    "load",
    "prepare_traveller",
]
