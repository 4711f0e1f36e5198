"""Files and folders that hold personal data or keys: readable by the service's own user only.

Strategy: everything the service creates on disk (the data folder, the SQLite database and its
journal, the key file, kept watchlist uploads) is created private from the first byte: folders
0700, files 0600, set at creation by `os.open`/`os.mkdir` modes (and a chmod against a permissive
umask), never tightened afterwards, so there is no moment in which another local user can open
them. Folders that already exist are left as the operator made them.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FILE_MODE", "FOLDER_MODE", "create_private_file", "private_dir", "write_private"]

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """`path` and its missing parents, created 0700 (existing folders are left alone)."""
    path = Path(path)
    if path.is_dir():
        return path
    if not path.parent.is_dir():
        private_dir(path.parent)
    try:
        os.mkdir(path, FOLDER_MODE)
    except FileExistsError:
        return path
    os.chmod(path, FOLDER_MODE)  # the umask may have taken bits away; never added any
    return path


def create_private_file(path: Path) -> None:
    """An empty file at `path`, 0600, if there is none yet (for files another library fills, e.g. SQLite)."""
    private_dir(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` (replacing it), the file 0600 from its creation on."""
    private_dir(Path(path).parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_TRUNC: tighten before writing
    with os.fdopen(fd, "wb") as f:
        f.write(data)
