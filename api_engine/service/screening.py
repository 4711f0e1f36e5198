"""The seam the watchlist engine plugs into: what the service asks of a screener, and the adapter.

Strategy: the processor sees a `Screener` (a whole manifest in, hits out; pure and synchronous, so
it may run in an executor) and reads hits through `HitLike`. `WatchlistScreener` adapts
`watchlists.Screener`, screening each traveller once per document presented; `NoScreener` stands in
when no list is configured. Lists named in the settings are loaded once, here. `screening_active`
tells whether a screener can produce a hit at all: a service that screens nothing must say so
(`serve` refuses to start without `allow_unscreened`; manifests carry `screened: false`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol

from api_engine.settings import Settings
from parsers import Manifest, TravelDocument

__all__ = ["HitLike", "NoScreener", "Screener", "WatchlistScreener", "screener_from_settings", "screening_active"]

log = logging.getLogger("api_engine.service.screening")


class HitLike(Protocol):
    """What the processor reads from a hit; `traveller_id` is the traveller's index in the manifest."""

    @property
    def traveller_id(self) -> str: ...
    @property
    def entry_id(self) -> str: ...
    @property
    def score(self) -> float: ...


class Screener(Protocol):
    """Screens every traveller of a manifest; pure and synchronous (it may run in an executor)."""

    def screen(self, manifest: Manifest) -> Sequence[HitLike]: ...


class NoScreener:
    """No lists loaded: no hits. Only `serve --allow-unscreened` runs with it, and it is announced."""

    def screen(self, manifest: Manifest) -> Sequence[HitLike]:
        return []


class WatchlistScreener:
    """Adapts `watchlists.Screener` to a whole manifest: each traveller once per document he presents."""

    def __init__(self, screener: Any) -> None:
        self.screener = screener
        # configured list files: path -> (list name, (inode, size, mtime) when loaded); see LiveLists
        self.sources: dict[str, tuple[str, tuple[int, int, int] | None]] = {}

    def screen(self, manifest: Manifest) -> Sequence[HitLike]:
        screen = self.screener.screen_traveller  # no query model per traveller: screening is hot
        out: list[HitLike] = []
        for i, t in enumerate(manifest.travellers):
            if not (t.surname or t.given_names or t.full_name):
                continue  # listed by reference only (flight close): nothing to screen
            # the name a query would display: the full name, else given names then surname
            name = t.full_name or " ".join(p for p in (" ".join(t.given_names), t.surname) if p)
            docs: list[TravelDocument] = [d for d in t.documents if d.number]
            out.extend(screen(str(i), name, date_of_birth=t.date_of_birth, nationality=t.nationality,
                              gender=t.gender, documents=[(d.number, d.issuing_state) for d in docs]))
        return out


def screener_from_settings(settings: Settings) -> Screener:
    """The watchlists named in Settings.watchlists, loaded once; no lists: no screening."""
    if not settings.watchlists:
        return NoScreener()
    from watchlists import Screener as ListScreener
    from watchlists import load

    lists = ListScreener()
    sources: dict[str, tuple[str, tuple[int, int, int] | None]] = {}
    for path in settings.watchlists:
        before = file_stat(path)  # taken before reading: a change made during the load is seen next time
        result = load(path)
        diff = lists.replace_list(result)
        sources[path] = (result.list_name, before)
        log.info("watchlist loaded: %s", diff.summary())
    screener = WatchlistScreener(lists)
    screener.sources = sources
    return screener


def file_stat(path: str) -> tuple[int, int, int] | None:
    """(inode, size, mtime): what tells a list file was replaced or rewritten (LiveLists follows it)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def screening_active(screener: object) -> bool:
    """Whether this screener can find a hit: at least one loaded list with at least one entry.

    A `NoScreener`, or a `WatchlistScreener` whose lists are all empty, screens nothing; any other
    object given to `Processor.open(screener=...)` is taken at its word.
    """
    if screener is None or isinstance(screener, NoScreener):
        return False
    if isinstance(screener, WatchlistScreener):
        lists = getattr(screener.screener, "lists", None)
        if lists is not None:
            return any(getattr(snapshot, "entries", ()) for snapshot in lists.values())
    return True
