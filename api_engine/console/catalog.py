"""The watchlists the console knows: those named in the settings and those uploaded through it.

Strategy: the console loads the lists itself (the same loaders as the processor), to show their
versions and entry counts and to put the listed entry beside a hit's explanation; it keeps no
entry as a model, only an `EntryArchive` per list (compressed JSON blocks and fingerprints). An upload is
validated by the national-format loader into a report (entries, rejected rows with line and
reason, the diff against the version loaded before); a list with at least one valid entry is kept
under data_dir/watchlists/ and recorded in `watchlist_uploads`, where the service's processors pick
it up within seconds (`Processor.install_uploads`).
An upload cannot displace a list the settings configure: one naming such a list is kept aside
(`awaiting_confirmation`) with its diff against the list in force, and installed only when a
supervisor confirms the replacement after reading that diff; the confirmation is a new accepted row
carrying `confirmed_by` (the service installs rows in id order and refuses unconfirmed ones for
configured lists, api_engine.service.lists).
Uploads arrive as files on disk (the routes stream the request into one, with a limit), never as one
bytes object; a file the CSV reader cannot read (bad encoding, a field over its limit) is a clear
refusal, not an error page.
Reports never carry names: the loader's reasons name lines and ids only.
The configured files change while the console runs (the service re-reads them too): `notice` looks at their
size, modification time and inode at most every LIST_CHECK_S seconds, and at once when a hit names an entry the
console's copy does not hold; a changed file is loaded in the background while the version held answers, then
swapped in whole. A changed file that cannot be loaded leaves the version held in place (the log names the list
and the exception type, never a line of the file); the latest version wins over a confirmed upload, as in the
service.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from api_engine.files import FILE_MODE, private_dir
from api_engine.store import Store
from api_engine.store.schema import watchlist_uploads
from api_engine.store.store import now
from watchlists import LoadError, LoadResult, WatchlistEntry, load
from watchlists.loaders.national import load_national
from watchlists.screener import FingerprintBuilder, canonical_json

from .models import UploadResult

log = logging.getLogger("api_engine.console.catalog")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_BLOCK = 128  # entries to a compressed block: one look-up inflates one block (~50 KB)
LIST_CHECK_S = 30.0  # how often the configured files are looked at (a stat each, no read)
FIND_WAIT_S = 3.0  # how long a hit page waits for a changed file that may hold its entry


class EntryArchive:
    """The entries of one list as a hit page shows them, kept as zlib-compressed blocks of their JSON
    (a million entries: tens of MB, against gigabytes as models) and found by id through fingerprints,
    which also give the diff against the next version. Built in one pass over the loader's entries."""

    def __init__(self, entries: Iterable[WatchlistEntry]) -> None:
        prints = FingerprintBuilder()
        blocks: list[bytes] = []
        pending: list[bytes] = []
        count = 0
        for entry in entries:
            canonical = canonical_json(entry)  # JSON escapes line breaks: one line an entry
            prints.add(entry.id, canonical)
            pending.append(canonical)
            count += 1
            if len(pending) == _BLOCK:
                blocks.append(zlib.compress(b"\n".join(pending)))
                pending.clear()
        if pending:
            blocks.append(zlib.compress(b"\n".join(pending)))
        self._blocks = blocks
        self._count = count
        self.fingerprints = prints.freeze()

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return sum(len(b) for b in self._blocks) + self.fingerprints.nbytes

    def get(self, entry_id: str) -> WatchlistEntry | None:
        position = self.fingerprints.find(entry_id)
        if position is None:
            return None
        line = zlib.decompress(self._blocks[position // _BLOCK]).split(b"\n")[position % _BLOCK]
        entry = WatchlistEntry.model_validate_json(line)
        return entry if entry.id == entry_id else None


@dataclass
class LoadedList:
    name: str
    version: str
    source_format: str
    origin: str  # "settings" or "upload"
    loaded_at: datetime
    entries: EntryArchive
    rejected: int = 0
    uploaded_by: str | None = None


def _read(result: LoadResult) -> EntryArchive:
    """The one pass over a loaded list (its rejected rows and count are known after it)."""
    return EntryArchive(result.entries)


def _loaded(result: LoadResult, archive: EntryArchive, origin: str, uploaded_by: str | None = None) -> LoadedList:
    return LoadedList(name=result.list_name, version=result.version, source_format=result.source_format,
                      origin=origin, loaded_at=now(), entries=archive, rejected=len(result.rejected),
                      uploaded_by=uploaded_by)


def _safe_stem(filename: str | None) -> str:
    stem = Path(filename or "upload.csv").stem
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem)[:60] or "upload"


Signature = tuple[int, int, int]  # st_mtime_ns, st_size, st_ino


def _signature(path: str) -> Signature | None:
    """What says a file changed without reading it; None when it cannot be looked at (gone, no access)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass
class _Watched:
    """A configured file: the signature of the version held (or last tried) and the list it holds."""

    path: str
    signature: Signature | None
    list_name: str | None = None  # None until it loaded once
    problem: str | None = None  # its line in Catalog.problems while it has never loaded


class Catalog:
    def __init__(self, store: Store, list_dir: Path, check_every_s: float = LIST_CHECK_S) -> None:
        self.store = store
        self.list_dir = list_dir
        self.lists: dict[str, LoadedList] = {}
        self.configured: set[str] = set()  # names of the lists the settings load: uploads cannot displace them
        self.problems: list[str] = []
        self.check_every_s = check_every_s
        self._watched: dict[str, _Watched] = {}
        self._checked = time.monotonic()
        self._reloading: dict[str, asyncio.Task[None]] = {}

    async def load_all(self, paths: list[str]) -> None:
        """Lists from the settings, then the latest accepted upload of each list."""
        for path in paths:
            watched = self._watched[path] = _Watched(path, _signature(path))  # before reading: a later write shows
            try:
                result = await asyncio.to_thread(load, path)
                archive = await asyncio.to_thread(_read, result)
            except (LoadError, OSError, csv.Error) as exc:
                watched.problem = f"{Path(path).name}: {exc}"
                self.problems.append(watched.problem)
                continue
            except ValueError as exc:  # e.g. not UTF-8: the type only, a message could quote the file
                watched.problem = f"{Path(path).name}: unreadable ({type(exc).__name__})"
                self.problems.append(watched.problem)
                continue
            watched.list_name = result.list_name
            self.lists[result.list_name] = _loaded(result, archive, "settings")
            self.configured.add(result.list_name)
        self._checked = time.monotonic()
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(select(watchlist_uploads).where(watchlist_uploads.c.accepted.is_(True))
                                       .order_by(watchlist_uploads.c.id))).all()
        for row in rows:
            if row.list_name in self.configured and not row.confirmed_by:
                continue  # an unconfirmed upload naming a configured list (accepted before revision 0006)
            if row.path and Path(row.path).exists():
                result = await asyncio.to_thread(load_national, Path(row.path), jsonl=False)
                archive = await asyncio.to_thread(_read, result)
                self.lists[result.list_name] = _loaded(result, archive, "upload", row.uploaded_by)

    def entry(self, list_name: str, entry_id: str) -> WatchlistEntry | None:
        """The entry in the version held; a miss makes the configured files be looked at now."""
        self.notice()
        found = self._held(list_name, entry_id)
        if found is None and self._watched:
            self.notice(at_once=True)
        return found

    async def find(self, list_name: str, entry_id: str, wait_s: float = FIND_WAIT_S) -> WatchlistEntry | None:
        """`entry`, waiting up to `wait_s` for a changed file being loaded: a hit screened against a newer
        version than the one held names an entry only that version has."""
        found = self.entry(list_name, entry_id)
        pending = [t for t in self._reloading.values() if not t.done()]
        if found is None and pending:
            await asyncio.wait(pending, timeout=wait_s)  # never cancels them: they finish in the background
            found = self._held(list_name, entry_id)
        return found

    def _held(self, list_name: str, entry_id: str) -> WatchlistEntry | None:
        loaded = self.lists.get(list_name)
        return loaded.entries.get(entry_id) if loaded else None

    def notice(self, *, at_once: bool = False) -> list[asyncio.Task[None]]:
        """Look at the configured files (a stat each, at most every `check_every_s` unless `at_once`) and start
        loading each one that changed, in the background; returns the loads running. Needs a running loop."""
        clock = time.monotonic()
        if at_once or clock - self._checked >= self.check_every_s:
            self._checked = clock
            for path, watched in self._watched.items():
                running = self._reloading.get(path)
                if running is not None and not running.done():
                    continue  # looked at again once this load is over
                signature = _signature(path)
                if signature == watched.signature:
                    continue
                if signature is None:  # gone or unreadable: the version held stays
                    watched.signature = None
                    log.warning("watchlist file cannot be looked at, the version held stays: list=%s",
                                watched.list_name or Path(path).name)
                    continue
                try:
                    task = asyncio.get_running_loop().create_task(self._reload(watched, signature))
                except RuntimeError:  # no loop (a synchronous caller): the next call from the app starts it
                    self._checked = 0.0
                    break
                self._reloading[path] = task
        return [t for t in self._reloading.values() if not t.done()]

    async def refresh(self) -> None:
        """Look at the configured files now and wait until the changed ones are loaded (or kept out)."""
        pending = self.notice(at_once=True)
        if pending:
            await asyncio.wait(pending)

    async def _reload(self, watched: _Watched, signature: Signature) -> None:
        try:
            result = await asyncio.to_thread(load, watched.path)
            archive = await asyncio.to_thread(_read, result)
        except Exception as exc:  # whatever the loader raises: no one waits for this task but the log
            watched.signature = signature  # tried again when the file changes again, not in a loop
            log.warning("watchlist file changed but could not be loaded, the version held stays: list=%s error=%s",
                        watched.list_name or Path(watched.path).name, type(exc).__name__)
            return
        watched.signature = signature
        if watched.problem is not None:
            if watched.problem in self.problems:
                self.problems.remove(watched.problem)
            watched.problem = None
        before = self.lists.get(result.list_name)
        watched.list_name = result.list_name
        self.lists[result.list_name] = _loaded(result, archive, "settings")  # one assignment: readers see one or other
        self.configured.add(result.list_name)
        log.info("watchlist file reloaded: list=%s version=%s entries=%d (was %s)", result.list_name,
                 result.version, len(archive), before.version if before else "not loaded")

    async def upload(self, data: bytes, filename: str | None, uploaded_by: str) -> UploadResult:
        """`upload_file` for content already in memory (small lists, tests, the command line)."""
        if len(data) > MAX_UPLOAD_BYTES:
            raise UploadRefused(413, f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.csv"
            path.write_bytes(data)
            return await self.upload_file(path, filename, uploaded_by)

    def _diff(self, result: LoadResult, archive: EntryArchive, report: UploadResult) -> None:
        """Fill the report's diff against the version of the list in force (the settings' or an upload)."""
        previous = self.lists.get(result.list_name)
        if previous is None:
            report.added, report.removed, report.changed = len(archive), 0, 0
            report.previous_version = None
            return
        added, removed, changed = previous.entries.fingerprints.compare(archive.fingerprints)
        report.added, report.removed, report.changed = len(added), len(removed), len(changed)
        report.previous_version = previous.version

    async def upload_file(self, path: Path, filename: str | None, uploaded_by: str) -> UploadResult:
        """Validate a national-format CSV; keep and install it when it has valid entries, unless it names a
        configured list (then keep it aside for a supervisor's confirmation). Raises UploadRefused for a
        file that is not a readable CSV at all."""
        stem = _safe_stem(filename)
        with tempfile.TemporaryDirectory() as tmp:
            named = Path(tmp) / f"{stem}.csv"  # the loader takes the default list name from the file name
            await asyncio.to_thread(shutil.copyfile, path, named)
            try:
                result = await asyncio.to_thread(load_national, named, jsonl=False)
                archive = await asyncio.to_thread(_read, result)  # while the file is there
            except UnicodeDecodeError as exc:
                raise UploadRefused(422, "not a national-format CSV: the file is not UTF-8 text") from exc
            except csv.Error as exc:  # e.g. a field over the reader's limit (128 KiB); the message holds no data
                raise UploadRefused(422, f"not a national-format CSV: {str(exc)[:120]}") from exc
            except ValueError as exc:
                raise UploadRefused(422, f"not a national-format CSV ({type(exc).__name__})") from exc
        rejected = [{"where": r.where, "reason": r.reason} for r in result.rejected]
        configured = result.list_name in self.configured
        report = UploadResult(accepted=bool(result.entries) and not configured, list_name=result.list_name,
                              version=result.version, source_format=result.source_format,
                              entries=len(result.entries), rejected=rejected, configured=configured,
                              awaiting_confirmation=bool(result.entries) and configured)
        if not result.entries:
            report.problem = "no valid entry: the list was not installed"
        else:
            self._diff(result, archive, report)
        if report.awaiting_confirmation:
            report.problem = (f"{result.list_name} is a configured list: this upload was not installed. A supervisor "
                              f"must confirm the replacement ({report.added} added, {report.removed} removed, "
                              f"{report.changed} changed)")
        kept: Path | None = None
        if result.entries:
            folder = self.list_dir if report.accepted else self.list_dir / "awaiting-confirmation"
            kept = folder / f"{_safe_stem(result.list_name)}-{result.version}.csv"
            await asyncio.to_thread(_copy_private, path, kept)  # names and dates of birth: 0600 in a 0700 folder
        async with self.store.transaction() as conn:
            report.upload_id = (await conn.execute(insert(watchlist_uploads).values(
                list_name=result.list_name[:100], version=result.version, source_format=result.source_format,
                entries=len(result.entries), rejected=len(rejected), report_json=_report_json(report),
                path=str(kept) if kept else None, accepted=report.accepted,
                awaiting_confirmation=report.awaiting_confirmation, uploaded_by=uploaded_by,
                uploaded_at=now()).returning(watchlist_uploads.c.id))).scalar_one()
        if report.accepted:
            self.lists[result.list_name] = _loaded(result, archive, "upload", uploaded_by)
        log.info("watchlist upload: list=%s version=%s entries=%d rejected=%d accepted=%s awaiting=%s",
                 result.list_name, result.version, len(result.entries), len(rejected), report.accepted,
                 report.awaiting_confirmation)
        return report

    async def confirm(self, upload_id: int, confirmed_by: str) -> UploadResult:
        """Install an upload kept aside because it names a configured list: a new accepted row, diffed again
        against the list in force now (the figures the confirmer is shown and the audit records)."""
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(select(watchlist_uploads).where(watchlist_uploads.c.id == upload_id))).first()
        if row is None:
            raise UploadRefused(404, "no such upload")
        if not row.awaiting_confirmation or not row.path:
            raise UploadRefused(409, "this upload does not wait for a confirmation")
        if row.uploaded_by == confirmed_by:  # one person alone must not swap out a list the service screens
            raise UploadRefused(403, "a supervisor other than the one who uploaded it confirms a replacement")
        try:
            result = await asyncio.to_thread(load_national, Path(row.path), jsonl=False)
            archive = await asyncio.to_thread(_read, result)
        except (OSError, ValueError, csv.Error) as exc:
            raise UploadRefused(409, f"the kept file cannot be read any more ({type(exc).__name__})") from exc
        if result.version != row.version or result.list_name[:100] != row.list_name:
            raise UploadRefused(409, "the kept file changed since it was uploaded: upload it again")
        rejected = [{"where": r.where, "reason": r.reason} for r in result.rejected]
        report = UploadResult(accepted=True, list_name=result.list_name, version=result.version,
                              source_format=result.source_format, entries=len(result.entries), rejected=rejected,
                              configured=result.list_name in self.configured, confirmed_by=confirmed_by)
        self._diff(result, archive, report)
        kept = self.list_dir / Path(row.path).name
        await asyncio.to_thread(_copy_private, Path(row.path), kept)
        stamp = now()
        async with self.store.transaction() as conn:
            claimed = await conn.execute(update(watchlist_uploads).where(
                watchlist_uploads.c.id == upload_id, watchlist_uploads.c.awaiting_confirmation.is_(True))
                .values(awaiting_confirmation=False, confirmed_by=confirmed_by, confirmed_at=stamp))
            if claimed.rowcount != 1:
                raise UploadRefused(409, "someone confirmed this upload a moment ago")
            report.upload_id = (await conn.execute(insert(watchlist_uploads).values(
                list_name=row.list_name, version=row.version, source_format=row.source_format,
                entries=len(result.entries), rejected=len(rejected), report_json=_report_json(report, upload_id),
                path=str(kept), accepted=True, awaiting_confirmation=False, uploaded_by=row.uploaded_by,
                uploaded_at=stamp, confirmed_by=confirmed_by, confirmed_at=stamp)
                .returning(watchlist_uploads.c.id))).scalar_one()
        self.lists[result.list_name] = _loaded(result, archive, "upload", row.uploaded_by)
        log.info("watchlist replacement confirmed: upload=%d list=%s added=%d removed=%d changed=%d", upload_id,
                 result.list_name, report.added, report.removed, report.changed)
        return report

    async def uploads(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest uploads."""
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(select(watchlist_uploads).order_by(watchlist_uploads.c.id.desc()).limit(limit))
            out = []
            for r in rows:
                row = {k: v for k, v in r._mapping.items() if k not in ("report_json", "path", "confirmed_at")}
                report = json.loads(r.report_json or "{}")
                row.update({k: report.get(k) for k in ("added", "removed", "changed", "previous_version")})
                out.append(row)
            return out


class UploadRefused(ValueError):
    """A file that cannot be taken at all (too large, not a readable CSV) or a confirmation out of turn."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


def _copy_private(source: Path, target: Path) -> None:
    """Copy without holding the file in memory; the copy is 0600 from its creation on, its folder 0700."""
    private_dir(target.parent)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)


def _report_json(report: UploadResult, confirms: int | None = None) -> str:
    return json.dumps({"rejected": report.rejected[:1000], "added": report.added, "removed": report.removed,
                       "changed": report.changed, "previous_version": report.previous_version,
                       "problem": report.problem, "confirms": confirms})
