"""Output folders checked before any work: full, read-only or forbidden disks say so in one line.

``export``, ``detect --out``, ``gui --screenshot`` and ``train --out`` call
:func:`check_output_folder` before they load a model or read a project, so a full disk
(ENOSPC), a read-only file system (EROFS) or a folder without write permission (EACCES) is one
line and exit status 2 — not a traceback after a minute of model building.

API
---
``check_output_folder(folder) -> list[Path]``
    Creates ``folder`` (and missing parents), writes a 4 KiB probe file there, fsyncs and
    removes it. Returns the folders it created (outermost first), so a command that fails
    later can remove them and leave nothing behind (:func:`remove_created`). Raises
    :class:`OutputFolderError` with a one-line message naming the folder and the cause; the
    folders it created are removed first.
``remove_created(created) -> None``
    Remove folders :func:`check_output_folder` created, with whatever was written into them.
``describe_os_error(exc) -> str``
    "the disk is full" / "the file system is read-only" / "permission denied" / … for an
    ``OSError``'s ``errno`` (its ``strerror`` otherwise).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

__all__ = ["OutputFolderError", "check_output_folder", "remove_created", "describe_os_error"]

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file of that name is in the way",
    errno.ENAMETOOLONG: "the path is too long",
    errno.ELOOP: "the path is a symbolic-link loop",
}

PROBE_BYTES = 4096


class OutputFolderError(OSError):
    """The output folder cannot be written; ``str(exc)`` is one line for the user."""

    def __str__(self) -> str:  # OSError's would prefix "[Errno n]"
        return str(self.args[-1]) if self.args else "cannot write the output folder"


def describe_os_error(exc: OSError) -> str:
    return _REASONS.get(exc.errno or 0, exc.strerror or str(exc))


def _missing_parents(folder: Path) -> list[Path]:
    missing: list[Path] = []
    p = folder
    while not os.path.lexists(p):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if os.path.lexists(p) and not p.is_dir():
        raise OSError(errno.ENOTDIR if p != folder else errno.EEXIST, "not a folder", str(p))
    return list(reversed(missing))


def check_output_folder(folder: str | os.PathLike[str]) -> list[Path]:
    """Make sure files can be written in ``folder`` (see the module doc)."""
    folder = Path(folder)
    created: list[Path] = []
    try:
        for d in _missing_parents(folder):
            d.mkdir()
            created.append(d)
        probe = folder / f".workbench-write-probe-{os.getpid()}.tmp"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(probe)
    except OSError as exc:
        remove_created(created)
        raise OutputFolderError(exc.errno or 0,
                                f"cannot write to {folder}: {describe_os_error(exc)}") from exc
    return created


def remove_created(created: list[Path]) -> None:
    """Remove the folders :func:`check_output_folder` created (outermost first)."""
    if created:
        shutil.rmtree(created[0], ignore_errors=True)
