"""`api-engine backup create|verify|restore`: a consistent copy of a SQLite store and its keyring, and back.

Strategy: `create` copies the database with SQLite's online backup API, done in one step, so the
copy is one read transaction's snapshot: consistent while `serve` keeps writing (WAL readers do not
block writers, and nothing half-committed is copied). The copy is switched to a rollback journal so
that the backup is one self-contained file. Beside it go the key file (when the keys live in
`data-keys.json`; keys from the environment are the operator's to keep, and the output says so) and
a manifest, `backup.json`: every file with its size and sha256, the schema revision, the counts of
the snapshot, and the key ids (fingerprints, never keys; counts, never personal data). The keyring
saved is checked against the key ids the copy was written with, so a backup that its own keyring
cannot read is refused when it is taken, not discovered at restore. Files are created 0600 in a
0700 folder. The backup is written to the audit trail (`store.backup`).
`restore` only writes into an empty data directory, checks every sha256 before it writes anything,
then opens the restored store with the restored keyring (`check_keyring`), verifies its audit
trail and its traveller count against the manifest, and records `store.restore` in it; if any of
that fails, what it wrote is removed again. A backup of an older version is migrated to the installed
one on restore (as the first start of `serve` would); one of a newer version is refused.
A PostgreSQL store is backed up with pg_dump (docs/operations.md): both actions say so and exit 2.
Exit status: 0 done, 1 refused or failed (target not empty, altered file, keyring mismatch), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from api_engine.cli.options import add_store_options, refuse_missing_store, store_settings
from api_engine.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MANIFEST = "backup.json"
STORE_FILE = "api-engine.db"
FORMAT = "api-engine-backup/1"
_CHUNK = 1 << 20


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why (names files, never data)."""


def add_parser(sub: Any) -> None:
    b = sub.add_parser("backup", help="back up a SQLite store and its keyring, verify or restore a backup",
                       description="Take a consistent backup of a SQLite store while the service runs, check a "
                                   "backup, or restore one into an empty data directory. PostgreSQL: pg_dump and "
                                   "pg_restore (docs/operations.md).")
    bsub = b.add_subparsers(dest="backup_command", metavar="ACTION")
    bsub.required = True
    c = bsub.add_parser("create", help="copy the store, the key file and a manifest into a new folder")
    c.add_argument("--out", type=Path, required=True, help="folder for the backup (new or empty; created 0700)")
    add_store_options(c)
    c.set_defaults(func=run_create)
    v = bsub.add_parser("verify", help="check a backup's files against its manifest (sizes, sha256)")
    v.add_argument("backup", type=Path, help="the backup folder")
    v.set_defaults(func=run_verify)
    r = bsub.add_parser("restore", help="restore a backup into an empty data directory")
    r.add_argument("backup", type=Path, help="the backup folder")
    add_store_options(r)
    r.set_defaults(func=run_restore)


# ---- files ------------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_private(src: Path, dst: Path) -> str:
    """Copy `src` to a new file `dst` (0600 from its creation), returning the sha256 of what was written."""
    from api_engine.files import FILE_MODE

    digest = hashlib.sha256()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    with os.fdopen(fd, "wb") as out, src.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _is_empty_dir(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _sqlite_path(settings: Settings, command: str) -> Path:
    """The SQLite file behind the settings; a server URL is a usage problem (BackupError with exit 2)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite":
        shown = url.render_as_string(hide_password=True)
        tool = "pg_dump --format=custom" if command == "create" else "pg_restore"
        raise UsageProblem(
            f"api-engine backup {command}: the store is {url.get_backend_name()} ({shown}): use {tool} for it "
            "(docs/operations.md, 'Backup and restore'); the keyring is backed up beside the dump: the key file "
            "data-keys.json, or API_ENGINE_DATA_KEY, API_ENGINE_DATA_KEYS_OLD and API_ENGINE_PSEUDONYM_KEY "
            "from where you keep them")
    if not url.database or url.database == ":memory:":
        raise UsageProblem(f"api-engine backup {command}: an in-memory store has nothing to back up")
    return Path(url.database)


class UsageProblem(BackupError):
    """Asked of the wrong kind of store: exit 2."""


# ---- the snapshot -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What a copied database says about itself (references and counts only)."""

    schema_revision: str | None
    counts: dict[str, int]
    audit_head: dict[str, Any] | None
    fingerprints: list[tuple[str, str, bool]]  # (key id, kind, retired)


def _snapshot_copy(source: Path, target: Path) -> None:
    """An online, consistent copy of the database `source` into the new file `target`."""
    from api_engine.files import create_private_file

    if not source.is_file():
        raise BackupError(f"no store at {source}")
    create_private_file(target)
    src = sqlite3.connect(source, timeout=30)  # a reader; read-write so it can join the WAL of a running service
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: a single read transaction, so one consistent state
            dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one file, without -wal/-shm beside it
            problem = dst.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise BackupError(f"the copy of {source.name} does not pass SQLite's check: {problem}")
        finally:
            dst.close()
    finally:
        src.close()


def read_snapshot(path: Path) -> Snapshot:
    """Schema revision, counts, audit head and key ids of a SQLite store file (read-only)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        def rows(sql: str) -> list[Any]:
            try:
                return conn.execute(sql).fetchall()
            except sqlite3.OperationalError:  # a table an older schema does not have
                return []

        revision = ",".join(sorted(r[0] for r in rows("SELECT version_num FROM alembic_version"))) or None
        counts = {}
        for table in ("travellers", "manifests", "hits", "audit_log"):
            found = rows(f"SELECT count(*) FROM {table}")  # table names from the tuple above
            counts[table] = int(found[0][0]) if found else 0
        head = rows("SELECT seq, hash FROM audit_head WHERE id = 1")
        fps = [(str(r[0]), str(r[1]), r[2] is not None)
               for r in rows("SELECT fingerprint, kind, retired_at FROM key_fingerprints")]
    finally:
        conn.close()
    return Snapshot(schema_revision=revision, counts=counts,
                    audit_head={"seq": int(head[0][0]), "hash": str(head[0][1])} if head else None,
                    fingerprints=fps)


def keyring_problems(snapshot: Snapshot, ring: Any) -> list[str]:
    """Why `ring` cannot read the store the snapshot was taken of (as `check_keyring` would refuse it)."""
    from api_engine.protection.crypto import pseudonym_key_id

    active = sorted(fp for fp, kind, retired in snapshot.fingerprints if kind == "data" and not retired)
    missing = [fp for fp in active if fp not in ring.keys]
    pseudonyms = [fp for fp, kind, _ in snapshot.fingerprints if kind == "pseudonym"]
    problems = []
    if missing:
        problems.append(f"the store holds data sealed with data key(s) {', '.join(missing)}, which the keyring "
                        f"({', '.join(sorted(ring.keys))}) does not have")
    if pseudonyms and pseudonym_key_id(ring.pseudonym_key) not in pseudonyms:
        problems.append("the store's pseudonyms were made with another pseudonym key than the keyring's")
    return problems


def _keyring_ids(ring: Any) -> dict[str, Any]:
    from api_engine.protection.crypto import pseudonym_key_id

    return {"current": ring.current, "data_key_ids": sorted(ring.keys),
            "pseudonym_key_id": pseudonym_key_id(ring.pseudonym_key)}


# ---- create -----------------------------------------------------------------------------------------------


async def _audit(url: str, action: str, subject: str, details: dict[str, Any]) -> None:
    """One audit entry, without running migrations: a backup taken before an upgrade leaves the schema as it is."""
    from api_engine.protection.audit import AuditTrail
    from api_engine.store import Store

    store = await Store.open(url, run_migrations=False)
    try:
        await AuditTrail(store).append(actor="backup-cli", action=action, subject=subject, purpose="operations",
                                       details=details)
    finally:
        await store.close()


def create(settings: Settings, out: Path) -> dict[str, Any]:
    """Take the backup into `out`; the manifest's content. Leaves nothing in `out` when it fails."""
    from api_engine.files import private_dir, write_private
    from api_engine.protection.crypto import KEY_FILE, keyring_from_settings

    source = _sqlite_path(settings, "create")
    if not _is_empty_dir(out):
        raise BackupError(f"{out} is not an empty folder: a backup goes into a new one")
    key_file = Path(settings.data_dir) / KEY_FILE
    from_file = settings.data_key is None
    if from_file and not key_file.exists():
        raise BackupError(f"no keyring to back up: API_ENGINE_DATA_KEY is not set and there is no {key_file} "
                          "(a store without its keyring cannot be read)")
    created_dir = not out.exists()
    private_dir(out)
    written: list[Path] = []
    try:
        files: list[dict[str, Any]] = []
        if from_file:  # the bytes saved are the keyring checked below: read once, then loaded from the copy
            written.append(out / KEY_FILE)
            digest = _copy_private(key_file, out / KEY_FILE)
            ring = keyring_from_settings(settings.model_copy(update={"data_dir": out}))
            files.append({"name": KEY_FILE, "role": "keyring", "bytes": (out / KEY_FILE).stat().st_size,
                          "sha256": digest})
        else:
            ring = keyring_from_settings(settings)
        written += [out / STORE_FILE, *(out / f"{STORE_FILE}{s}" for s in ("-journal", "-wal", "-shm"))]
        _snapshot_copy(source, out / STORE_FILE)
        snap = read_snapshot(out / STORE_FILE)
        problems = keyring_problems(snap, ring)
        if problems:
            raise BackupError("the keyring cannot read this store: " + "; ".join(problems))
        files.insert(0, {"name": STORE_FILE, "role": "store", "bytes": (out / STORE_FILE).stat().st_size,
                         "sha256": _sha256(out / STORE_FILE)})
        manifest: dict[str, Any] = {
            "format": FORMAT, "backup_id": secrets.token_hex(6), "created_at": datetime.now(UTC).isoformat(),
            "backend": "sqlite", "schema_revision": snap.schema_revision, "counts": snap.counts,
            "audit_head": snap.audit_head, "files": files,
            "keyring": {"source": "file" if from_file else "settings", "included": from_file, **_keyring_ids(ring)},
        }
        written.append(out / MANIFEST)
        write_private(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
        # an unaudited copy of personal data is not kept: the entry is part of taking the backup
        asyncio.run(_audit(settings.effective_database_url, "store.backup", f"backup:{manifest['backup_id']}",
                           {"travellers": snap.counts["travellers"], "schema_revision": snap.schema_revision,
                            "keyring_included": from_file, "bytes": sum(int(f["bytes"]) for f in files)}))
    except BaseException:
        for path in written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if created_dir:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    return manifest


def run_create(args: argparse.Namespace) -> int:
    settings = store_settings(args)
    try:
        if refuse_missing_store(settings, "backup create"):
            return EXIT_FAILED
        manifest = create(settings, args.out)
    except UsageProblem as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except (BackupError, OSError, sqlite3.Error, SQLAlchemyError) as exc:
        print(f"api-engine backup create: {_reason(exc)}; nothing written to {args.out}", file=sys.stderr)
        return EXIT_FAILED
    ring = manifest["keyring"]
    if ring["included"]:
        note = "the key file is in the backup: keep the backup as secret as the keys (it opens the data)"
    else:
        note = (f"the keyring comes from the environment and is NOT in this backup: back up API_ENGINE_DATA_KEY, "
                f"API_ENGINE_DATA_KEYS_OLD and API_ENGINE_PSEUDONYM_KEY from where you keep them (key ids "
                f"{', '.join(ring['data_key_ids'])}, pseudonym key {ring['pseudonym_key_id']})")
        print(f"api-engine backup create: {note}", file=sys.stderr)
    print(json.dumps({"backup_id": manifest["backup_id"], "out": str(args.out),
                      "schema_revision": manifest["schema_revision"], "counts": manifest["counts"],
                      "keyring_included": ring["included"], "keyring": note}, sort_keys=True))
    return EXIT_OK


def _reason(exc: BaseException) -> str:
    """The message of our own errors; the kind (and file) of the others, which may quote anything."""
    if isinstance(exc, BackupError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}" if exc.filename else type(exc).__name__
    if isinstance(exc, SQLAlchemyError):  # its text quotes the statement and its parameters: the cause only
        return f"{type(exc).__name__}: {getattr(exc, 'orig', None) or 'see the database log'}"
    return f"{type(exc).__name__}: {exc}"


# ---- verify -----------------------------------------------------------------------------------------------


def verify(backup: Path) -> dict[str, Any]:
    """The manifest, once every file it names is there with its size and sha256 (else BackupError)."""
    try:
        manifest = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{backup / MANIFEST}: not a readable backup manifest ({type(exc).__name__})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not manifest.get("files"):
        raise BackupError(f"{backup / MANIFEST}: not an api-engine backup manifest ({FORMAT})")
    for entry in manifest["files"]:
        name = str(entry.get("name", ""))
        if not name or Path(name).name != name or name in (".", ".."):
            raise BackupError(f"{backup / MANIFEST}: a file name that is not a plain name: {name!r}")
        path = backup / name
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup")
        if path.stat().st_size != entry.get("bytes") or _sha256(path) != entry.get("sha256"):
            raise BackupError(f"{path} does not match the manifest (size or sha256): altered or damaged")
    return manifest


def run_verify(args: argparse.Namespace) -> int:
    try:
        manifest = verify(args.backup)
    except BackupError as exc:
        print(f"api-engine backup verify: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps({"backup_id": manifest.get("backup_id"), "ok": True,
                      "files": [f["name"] for f in manifest["files"]], "counts": manifest.get("counts")},
                     sort_keys=True))
    return EXIT_OK


# ---- restore ----------------------------------------------------------------------------------------------


async def _check_restored(settings: Settings, manifest: dict[str, Any]) -> dict[str, Any]:
    """Open the restored store with its keyring, verify the audit trail and the count, record the restore.

    Opening it runs the migrations: a backup of an older version is brought to this one's schema, as
    the first start of `serve` would do, so that the checks read the schema they know."""
    from api_engine.protection.audit import AuditTrail
    from api_engine.protection.crypto import KeyringMismatch, check_keyring, keyring_from_settings
    from api_engine.store import Store

    ring = keyring_from_settings(settings)
    store = await Store.open(settings.effective_database_url)
    try:
        try:
            await check_keyring(store, ring)
        except KeyringMismatch as exc:
            raise BackupError(exc.message) from None
        trail = await AuditTrail(store).verify()
        if not trail.ok:
            raise BackupError(f"the restored audit trail is broken at entry {trail.first_broken}: {trail.problem}")
        travellers = await store.count("travellers")
        expected = manifest.get("counts", {}).get("travellers")
        if travellers != expected:
            raise BackupError(f"the restored store holds {travellers} travellers, the manifest {expected}")
        await AuditTrail(store).append(actor="backup-cli", action="store.restore",
                                       subject=f"backup:{manifest.get('backup_id')}", purpose="operations",
                                       details={"travellers": travellers,
                                                "schema_revision": manifest.get("schema_revision")})
    finally:
        await store.close()
    return {"travellers": travellers, "audit_entries": trail.entries + 1}


def _known_revision(revision: str | None) -> bool:
    """Whether this installation's migrations know `revision` (a backup of a newer version they do not)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from api_engine.store import alembic_config

    if revision is None:
        return True
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        return all(scripts.get_revision(r) is not None for r in revision.split(","))
    except CommandError:
        return False


def restore(settings: Settings, backup: Path) -> dict[str, Any]:
    """Restore `backup` into the settings' (empty) data directory; a summary. Removes what it wrote on failure."""
    from api_engine.files import private_dir
    from api_engine.protection.crypto import KEY_FILE
    from api_engine.store import head_revision

    target = _sqlite_path(settings, "restore")
    data_dir = Path(settings.data_dir)
    if not _is_empty_dir(data_dir):
        raise BackupError(f"{data_dir} is not empty: a backup is restored into a new, empty data directory")
    if target.exists():
        raise BackupError(f"{target} exists: a backup is restored into a new, empty data directory")
    manifest = verify(backup)  # every sha256 checked before anything is written
    roles = {str(f.get("role")): str(f["name"]) for f in manifest["files"]}
    if "store" not in roles:
        raise BackupError(f"{backup / MANIFEST} names no store file")
    if "keyring" not in roles and settings.data_key is None:
        ids = manifest.get("keyring", {}).get("data_key_ids", [])
        raise BackupError("this backup holds no key file: set API_ENGINE_DATA_KEY (and API_ENGINE_DATA_KEYS_OLD, "
                          f"API_ENGINE_PSEUDONYM_KEY) as when it was taken (data key ids {', '.join(ids)})")
    if not _known_revision(manifest.get("schema_revision")):
        raise BackupError(f"the backup's schema revision {manifest.get('schema_revision')} is unknown to this "
                          "version of api-engine (taken with a newer one): restore it with that version")
    created = [p for p in (data_dir, target.parent) if not p.exists()]
    private_dir(data_dir)
    private_dir(target.parent)
    written = [target, Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}.writer-lock")]
    try:
        if _copy_private(backup / roles["store"], target) != _sha256(backup / roles["store"]):
            raise BackupError(f"{backup / roles['store']} changed while it was copied")
        if "keyring" in roles:
            written.append(data_dir / KEY_FILE)
            _copy_private(backup / roles["keyring"], data_dir / KEY_FILE)
        checked = asyncio.run(_check_restored(settings, manifest))
    except BaseException:
        for path in written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    revision, head = manifest.get("schema_revision"), head_revision()
    return {"backup_id": manifest.get("backup_id"), "restored": str(target), "data_dir": str(data_dir),
            "schema_revision": head, "migrated_from": None if revision == head else revision,
            "travellers": checked["travellers"], "audit_entries": checked["audit_entries"],
            "keyring": "restored" if "keyring" in roles else "settings"}


def run_restore(args: argparse.Namespace) -> int:
    settings = store_settings(args)
    try:
        summary = restore(settings, args.backup)
    except UsageProblem as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except (BackupError, OSError, sqlite3.Error, SQLAlchemyError) as exc:
        print(f"api-engine backup restore: {_reason(exc)}; nothing restored", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(summary, sort_keys=True))
    return EXIT_OK
