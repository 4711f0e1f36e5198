"""The watchlists the console knows: those named in the settings and those uploaded through it.

Strategy: the console loads the lists itself (the same loaders as the processor), to show their
versions and entry counts and to put the listed entry beside a hit's explanation. An upload is
validated by the national-format loader into a report (entries, rejected rows with line and
reason, the diff against the version loaded before); a list with at least one valid entry is kept
under data_dir/watchlists/ and recorded in `watchlist_uploads`, where the service's processors pick
it up within seconds (`Processor.install_uploads`).
Reports never carry names: the loader's reasons name lines and ids only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from api_engine.store import Store
from api_engine.store.schema import watchlist_uploads
from api_engine.store.store import now
from watchlists import LoadError, LoadResult, WatchlistEntry, load
from watchlists.loaders.national import load_national
from watchlists.screener import diff_entries

from .models import UploadResult

log = logging.getLogger("api_engine.console.catalog")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@dataclass
class LoadedList:
    name: str
    version: str
    source_format: str
    origin: str  # "settings" or "upload"
    loaded_at: datetime
    entries: dict[str, WatchlistEntry]
    rejected: int = 0
    uploaded_by: str | None = None


def _loaded(result: LoadResult, origin: str, uploaded_by: str | None = None) -> LoadedList:
    return LoadedList(name=result.list_name, version=result.version, source_format=result.source_format,
                      origin=origin, loaded_at=now(), entries={e.id: e for e in result.entries},
                      rejected=len(result.rejected), uploaded_by=uploaded_by)


def _safe_stem(filename: str | None) -> str:
    stem = Path(filename or "upload.csv").stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem)[:60] or "upload"


class Catalog:
    def __init__(self, store: Store, list_dir: Path) -> None:
        self.store = store
        self.list_dir = list_dir
        self.lists: dict[str, LoadedList] = {}
        self.problems: list[str] = []

    async def load_all(self, paths: list[str]) -> None:
        """Lists from the settings, then the latest accepted upload of each list."""
        for path in paths:
            try:
                result = await asyncio.to_thread(load, path)
            except (LoadError, OSError) as exc:
                self.problems.append(f"{Path(path).name}: {exc}")
                continue
            self.lists[result.list_name] = _loaded(result, "settings")
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(select(watchlist_uploads).where(watchlist_uploads.c.accepted.is_(True))
                                       .order_by(watchlist_uploads.c.id))).all()
        for row in rows:
            if row.path and Path(row.path).exists():
                result = await asyncio.to_thread(load_national, Path(row.path), jsonl=False)
                self.lists[result.list_name] = _loaded(result, "upload", row.uploaded_by)

    def entry(self, list_name: str, entry_id: str) -> WatchlistEntry | None:
        loaded = self.lists.get(list_name)
        return loaded.entries.get(entry_id) if loaded else None

    async def upload(self, data: bytes, filename: str | None, uploaded_by: str) -> UploadResult:
        """Validate a national-format CSV; keep and install it when it has valid entries."""
        stem = _safe_stem(filename)
        if len(data) > MAX_UPLOAD_BYTES:
            return UploadResult(accepted=False, list_name=stem, version="-", source_format="national_csv",
                                entries=0, rejected=[], problem=f"larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{stem}.csv"
            path.write_bytes(data)
            try:
                result = await asyncio.to_thread(load_national, path, jsonl=False)
            except (UnicodeDecodeError, ValueError) as exc:
                return UploadResult(accepted=False, list_name=stem, version="-", source_format="national_csv",
                                    entries=0, rejected=[], problem=f"not a national-format CSV ({type(exc).__name__})")
        rejected = [{"where": r.where, "reason": r.reason} for r in result.rejected]
        report = UploadResult(accepted=bool(result.entries), list_name=result.list_name, version=result.version,
                              source_format=result.source_format, entries=len(result.entries), rejected=rejected)
        if not result.entries:
            report.problem = "no valid entry: the list was not installed"
        previous = self.lists.get(result.list_name)
        if result.entries:
            old = None
            if previous is not None:
                from watchlists.index import WatchlistIndex
                from watchlists.screener import ListSnapshot

                old = ListSnapshot(name=previous.name, version=previous.version,
                                   entries=tuple(previous.entries.values()), index=WatchlistIndex.build([]))
            diff = diff_entries(result.list_name, old, result.entries, result.version)
            report.added, report.removed, report.changed = len(diff.added), len(diff.removed), len(diff.changed)
            report.previous_version = diff.old_version
        kept: Path | None = None
        if report.accepted:
            self.list_dir.mkdir(parents=True, exist_ok=True)
            kept = self.list_dir / f"{_safe_stem(result.list_name)}-{result.version}.csv"
            kept.write_bytes(data)
        async with self.store.transaction() as conn:
            report.upload_id = (await conn.execute(insert(watchlist_uploads).values(
                list_name=result.list_name[:100], version=result.version, source_format=result.source_format,
                entries=len(result.entries), rejected=len(rejected),
                report_json=json.dumps({"rejected": rejected[:1000], "added": report.added,
                                        "removed": report.removed, "changed": report.changed,
                                        "previous_version": report.previous_version, "problem": report.problem}),
                path=str(kept) if kept else None, accepted=report.accepted, uploaded_by=uploaded_by,
                uploaded_at=now()).returning(watchlist_uploads.c.id))).scalar_one()
        if report.accepted:
            self.lists[result.list_name] = _loaded(result, "upload", uploaded_by)
        log.info("watchlist upload: list=%s version=%s entries=%d rejected=%d accepted=%s", result.list_name,
                 result.version, len(result.entries), len(rejected), report.accepted)
        return report

    async def uploads(self, limit: int = 20) -> list[dict[str, Any]]:
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(select(watchlist_uploads).order_by(watchlist_uploads.c.id.desc()).limit(limit))
            return [{k: v for k, v in r._mapping.items() if k not in ("report_json", "path")} for r in rows]
