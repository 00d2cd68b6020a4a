"""Project-wide class operations behind the class dock: count a class's boxes, rename (or merge)
a class in every annotation file, atomically, file by file.

The rename's file work runs on the window's job runner (:mod:`workbench.gui.jobs`): 3.3 s on the
GUI thread for the 800-image sample before."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from workbench.core.wording import count
from workbench.gui import project_ops as ops

if TYPE_CHECKING:
    from workbench.gui.jobs import Job
    from workbench.gui.main_window import MainWindow

log = logging.getLogger(__name__)


def count_usage(window: MainWindow, name: str) -> int:
    """Boxes named ``name`` in the project (open documents count as they are in memory)."""
    if window.project is None:
        return 0
    total = 0
    for entry in window.entries():
        doc = window.documents.get(ops.image_path(entry))
        ann = doc.annotation if doc is not None else ops.load(window.project, entry).annotation
        if ann is not None:
            total += sum(o.name == name for o in ann.objects)
    return total


def rename_everywhere(window: MainWindow, old: str, new: str) -> Job | None:
    """Rename ``old`` to ``new`` in every file and the class file, all-or-nothing (the core's
    :meth:`~workbench.core.project.Project.rename_class`), on a worker. Unsaved edits are saved
    first so the rename does not mix with them; files that cannot be read are left alone.
    Returns the running :class:`~workbench.gui.jobs.Job` (``finished(files changed)`` once the
    open images show the new name), or None (nothing renamed) when unsaved edits could not be
    saved."""
    if window.project is None:
        return None
    window.saver.flush()  # background writes end first: none may land after the rename
    for doc in window.documents.dirty():
        if doc.needs_confirmation:
            window.statusBar().showMessage(
                f"Rename cancelled: save or discard the changes to {doc.xml_path.name} first",
                8000)
            return None
        try:
            doc.save()
        except OSError as exc:
            window.statusBar().showMessage(f"Rename cancelled: {exc}", 8000)
            return None
    project = window.project
    window.statusBar().showMessage(f"Renaming “{old}” to “{new}” in every file …")
    # a failure (OSError, ValueError: nothing renamed) goes to the status bar via gui.jobs
    job = window.jobs.submit(lambda _ctx: ops.rename_class(project, old, new),
                             name=f"Rename “{old}” to “{new}” (no file changed)")
    job.finished.connect(lambda changed: _renamed(window, old, new, changed))
    return job


def _renamed(window: MainWindow, old: str, new: str, changed: int) -> None:
    if window.project is None:
        return
    for doc in window.documents.documents():  # open images show the renamed boxes
        loaded = ops.load(window.project, window.entry_of(doc.image_path))
        if (loaded.annotation is not None and not loaded.read_failed
                and loaded.annotation != doc.annotation):
            doc.reset(loaded.annotation)
    message = f"Renamed “{old}” to “{new}” in {count(changed, 'file')}"
    log.info(message)
    window.statusBar().showMessage(message, 8000)
