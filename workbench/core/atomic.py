"""Atomic file writes: a crash or kill mid-save leaves the old file or the new one, never a mix.

API
---
``atomic_write_bytes(path, data) -> None``
    Write ``data`` to a temporary file in the same folder, flush + ``fsync``, then
    ``os.replace`` it over ``path`` (atomic on POSIX and Windows). The folder is created if
    missing; an existing file keeps its permission bits.
``atomic_write_text(path, text, encoding="utf-8") -> None``
    The same for text (``\\n`` line endings are written as given, no translation).
``atomic_write_many(items) -> None``
    All-or-nothing as far as a file system allows: every new content is first written and
    fsynced to its own temporary file; only when all of them exist are they renamed into
    place. A failure while preparing leaves every target untouched; a failure during the
    rename phase restores the targets already replaced from their previous bytes.
``clean_stale_temps(folder, *, older_than_s=60) -> list[Path]`` / ``remove_stale_temps(paths)``
    A ``kill -9`` mid-save leaves its temporary file behind (``.<name>.<8 random>.tmp``, the
    names this module, checkpoint and ONNX saves give them: :data:`TEMP_NAME`). These remove
    such files older than a minute (younger ones may belong to a save in progress), and only
    those; project scans and training runs call them at start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_many", "TEMP_NAME",
           "clean_stale_temps", "remove_stale_temps"]

#: Our own temporary files: ``tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp")`` — a dot,
#: the target's name, a dot, mkstemp's 8 random characters, ".tmp".
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
#: Younger temporary files may belong to a save in progress (another process): left alone.
STALE_AFTER_S = 60.0


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _prepare(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fsynced temporary file beside ``path``; returns the temp path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = _default_mode()
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temp file in the same folder + rename)."""
    target = Path(path)
    tmp = _prepare(target, bytes(data))
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` encoded as ``encoding``, atomically."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_many(items: Sequence[tuple[str | os.PathLike[str], bytes]]) -> None:
    """Write several files all-or-nothing (as far as possible).

    Phase 1 writes every new content to a fsynced temp file; any failure removes the temp
    files and leaves all targets untouched. Phase 2 renames them into place; if a rename
    fails, the targets already replaced get their previous bytes back (or are removed when
    they did not exist) before the error propagates.
    """
    targets = [Path(p) for p, _ in items]
    if len(set(targets)) != len(targets):
        raise ValueError("atomic_write_many: the same path appears twice")
    previous: list[bytes | None] = []
    for t in targets:
        try:
            previous.append(t.read_bytes())
        except FileNotFoundError:
            previous.append(None)
    temps: list[Path] = []
    try:
        for target, (_, data) in zip(targets, items):
            temps.append(_prepare(target, bytes(data)))
    except BaseException:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    done = 0
    try:
        for tmp, target in zip(temps, targets):
            os.replace(tmp, target)
            done += 1
    except BaseException:
        for tmp in temps[done:]:
            with contextlib.suppress(OSError):
                tmp.unlink()
        for target, old in zip(targets[:done], previous[:done]):
            try:
                if old is None:
                    target.unlink()
                else:
                    atomic_write_bytes(target, old)
            except OSError:
                log.exception("could not restore %s after a failed multi-file write", target)
        raise
    for folder in {t.parent for t in targets}:
        _fsync_dir(folder)


def remove_stale_temps(paths: Sequence[str | os.PathLike[str]], *,
                       older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove those of ``paths`` that are our temporary files (:data:`TEMP_NAME`), regular
    files, and not modified for ``older_than_s``; returns the removed ones. Never raises."""
    now = time.time()
    removed: list[Path] = []
    for p in map(Path, paths):
        if not TEMP_NAME.match(p.name):
            continue
        try:
            st = os.lstat(p)
            if not os.path.isfile(p) or os.path.islink(p) or now - st.st_mtime < older_than_s:
                continue
            p.unlink()
            removed.append(p)
        except OSError as exc:
            log.debug("cannot remove stale temporary file %s: %s", p, exc)
    if removed:
        log.info("removed %d stale temporary files left by interrupted saves (e.g. %s)",
                 len(removed), removed[0])
    return removed


def clean_stale_temps(folder: str | os.PathLike[str], *,
                      older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """:func:`remove_stale_temps` over the files directly inside ``folder``."""
    try:
        names = [e.path for e in os.scandir(folder) if e.name.startswith(".")]
    except OSError:
        return []
    return remove_stale_temps(names, older_than_s=older_than_s)
