"""The lists a running service screens against, kept current with what happens in the console.

Strategy: the screener starts with the lists the settings name; two things change it while the
service runs, both read from the store every few seconds, never per record:
- clearances recorded in the console (the allowlist) stop repeat alerts for the same traveller and
  entry, but only once a second person approved them (status "approved"): a pending or rejected
  clearance hides nothing. Rows are approved after they are inserted, so the set of approved ids is
  compared each time rather than a high-water mark;
- lists accepted in the console's upload page are installed, oldest first (the latest version of a
  list wins). The new index is built on a thread of its own while records go on being screened
  against the lists in force, and the swap is atomic (`watchlists.Screener.replace_list`). An upload
  naming a list the settings configure is installed only when a supervisor confirmed the replacement
  (`confirmed_by`); otherwise it is skipped, at start as while running, so it cannot empty a
  configured list.
A kept upload file that cannot be read is logged (its id and list name, never its content) and
skipped, never retried in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import time
from pathlib import Path

from sqlalchemy import select

from api_engine.service.screening import Screener, WatchlistScreener
from api_engine.store import Store
from api_engine.store.schema import allowlist, watchlist_uploads

__all__ = ["ALLOWLIST_REFRESH_S", "UPLOADS_REFRESH_S", "LiveLists"]

log = logging.getLogger("api_engine.service.lists")

ALLOWLIST_REFRESH_S = 2.0
UPLOADS_REFRESH_S = 5.0


class LiveLists:
    """The screener in force, with the console's clearances and uploads applied to it."""

    def __init__(self, store: Store, screener: Screener) -> None:
        self.store = store
        self.screener = screener
        self._allowlist_installed: set[int] = set()  # approved allowlist row ids installed into the screener
        self.configured: frozenset[str] = frozenset(getattr(getattr(screener, "screener", None), "lists", {}))
        self._allowlist_checked = -1e9  # monotonic time of the last look at the allowlist table
        self._uploads_seen = 0  # highest watchlist upload id installed into the screener
        self._uploads_checked = -1e9
        self.uploads_task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Called before a batch is prepared: cheap unless an interval has run out."""
        await self._refresh_allowlist()
        self._watch_uploads()

    async def close(self) -> None:
        if self.uploads_task is not None and not self.uploads_task.done():
            self.uploads_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.uploads_task

    def _watch_uploads(self) -> None:
        """Every few seconds, start installing the uploads accepted since the last look (in the background)."""
        now_m = time.monotonic()
        if now_m - self._uploads_checked < UPLOADS_REFRESH_S:
            return
        self._uploads_checked = now_m
        if self.uploads_task is None or self.uploads_task.done():
            self.uploads_task = asyncio.create_task(self.install_uploads())

    async def install_uploads(self) -> None:
        """Install the accepted console uploads not installed yet, oldest first."""
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(
                select(watchlist_uploads.c.id, watchlist_uploads.c.list_name, watchlist_uploads.c.path,
                       watchlist_uploads.c.confirmed_by)
                .where(watchlist_uploads.c.id > self._uploads_seen, watchlist_uploads.c.accepted.is_(True))
                .order_by(watchlist_uploads.c.id))).all()
        if not rows:
            return
        if not hasattr(getattr(self.screener, "screener", None), "replace_list"):
            from watchlists import Screener as ListScreener

            self.screener = WatchlistScreener(ListScreener())  # no list in the settings: uploads only
        lists = self.screener.screener  # type: ignore[attr-defined]
        from watchlists.loaders.national import load_national

        for row in rows:
            self._uploads_seen = max(self._uploads_seen, row.id)
            if row.list_name in self.configured and not row.confirmed_by:
                log.warning("watchlist upload %d (%s) not installed: it names a configured list and no "
                            "supervisor confirmed the replacement", row.id, row.list_name)
                continue
            try:
                result = await asyncio.to_thread(load_national, Path(row.path or ""), jsonl=False)
                if result.list_name in self.configured and not row.confirmed_by:
                    log.warning("watchlist upload %d not installed: its content names a configured list", row.id)
                    continue
                diff = await asyncio.to_thread(lists.replace_list, result)
            except (OSError, ValueError, csv.Error) as exc:  # unreadable file or content
                log.warning("watchlist upload %d (%s) not installed: %s", row.id, row.list_name, type(exc).__name__)
            else:
                log.info("watchlist upload %d installed: %s", row.id, diff.summary())

    async def _refresh_allowlist(self) -> None:
        """Clearances approved in the console (four eyes) stop repeat alerts here; pending ones do not."""
        lists = getattr(self.screener, "screener", None)
        if lists is None or not hasattr(lists, "add_clearance"):
            return
        now_m = time.monotonic()
        if now_m - self._allowlist_checked < ALLOWLIST_REFRESH_S:
            return
        self._allowlist_checked = now_m
        from watchlists.screener import Clearance

        async with self.store.engine.connect() as conn:
            approved = set((await conn.execute(select(allowlist.c.id).where(allowlist.c.status == "approved")))
                           .scalars())
            new = approved - self._allowlist_installed
            if not new:
                return
            rows = (await conn.execute(select(allowlist).where(allowlist.c.id.in_(sorted(new)))
                                       .order_by(allowlist.c.id))).all()
        for r in rows:
            lists.add_clearance(Clearance(list=r.list, entry_id=r.entry_id, fingerprint=r.fingerprint, reason=r.reason,
                                          cleared_by=r.cleared_by, cleared_on=r.cleared_at.date()))
            self._allowlist_installed.add(r.id)
