"""Atomic outputs: a file is replaced whole or not at all, an enterprise folder likewise.

A file is written to a temporary name in the same folder, flushed to disk (fsync) and
renamed over the target (``os.replace`` is atomic on POSIX and Windows). An enterprise
folder is built complete under ``DIR/.staging-<id>-<random>/`` and then swapped in:
the old folder is renamed aside (``.old-<id>-<random>``), the new one renamed into place,
the old one deleted. A run killed at any moment leaves either the previous complete
folder, the new complete folder, or (between the two renames) the previous one under
its ``.old-`` name, which :func:`recover` puts back at the start of the next run; the
half-built ``.staging-`` folders are deleted then too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path

STAGING_PREFIX = ".staging-"
OLD_PREFIX = ".old-"


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be fsynced on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode(encoding))


def new_staging(out: Path, eid: str) -> Path:
    """A fresh staging folder for enterprise ``eid`` inside ``out``."""
    staging = out / f"{STAGING_PREFIX}{eid}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    return staging


def fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk."""
    for root, dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for name in dirs:
            _fsync_dir(Path(root, name))
    _fsync_dir(folder)


def commit(staging: Path, target: Path) -> None:
    """Swap the complete ``staging`` folder into place as ``target``."""
    fsync_tree(staging)
    if target.exists():
        old = target.with_name(f"{OLD_PREFIX}{target.name}-{uuid.uuid4().hex[:8]}")
        os.replace(target, old)
        os.replace(staging, target)
        _fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
        _fsync_dir(target.parent)


def recover(out: Path) -> list[str]:
    """Clean what an interrupted run left in ``out``; return what was done (for the log)."""
    done = []
    if not out.is_dir():
        return done
    for entry in sorted(out.iterdir()):
        if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            done.append(f"removed unfinished {entry.name}")
        elif entry.name.startswith(OLD_PREFIX) and entry.is_dir():
            name = entry.name[len(OLD_PREFIX) :].rsplit("-", 1)[0]
            target = out / name
            if target.exists():
                shutil.rmtree(entry, ignore_errors=True)
                done.append(f"removed replaced {entry.name}")
            else:
                os.replace(entry, target)
                done.append(f"restored {name} from an interrupted swap")
        elif entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file():
            entry.unlink(missing_ok=True)
            done.append(f"removed unfinished {entry.name}")
    return done
