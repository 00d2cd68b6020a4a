"""Annotation files written off the GUI thread, in order (issue 12: a 100,000-object file
took minutes to re-save, on the GUI thread).

One worker thread (a one-thread :class:`~workbench.gui.jobs.JobRunner`, through
:meth:`~workbench.gui.jobs.JobRunner.call`: nothing cancels a queued write) runs every write
(serialise + atomic write + fsync) in submission order, so an older content can never land
after a newer one. Per document at most one write is under way: a save asked for while one
runs is remembered and started when it ends, with the content the document has *then* — latest
wins, and the outside-edit check of the next write sees the file the previous one left
(:mod:`workbench.gui.outside_edits`). Results come back to the GUI
thread as a Qt signal; the document is marked saved only when its write succeeded and it still
is what was written (:meth:`ImageDocument.finish_save`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from workbench.core.annotation import Annotation
from workbench.gui.documents import ImageDocument, PendingSave
from workbench.gui.jobs import JobRunner

log = logging.getLogger(__name__)


@dataclass
class SaveJob:
    """One write: ``doc``'s ``pending`` annotation through ``writer``; after it ran,
    ``written`` (the record with ``raw`` set) or ``error``."""

    doc: ImageDocument
    pending: PendingSave
    writer: Callable[[Annotation], Annotation]
    auto: bool = False
    written: Annotation | None = None
    error: BaseException | None = None
    handled: bool = False  # its result was taken on the GUI thread
    done: threading.Event = field(default_factory=threading.Event)


class SaveQueue(QObject):
    """The one background writer of annotation files (see the module doc)."""

    job_finished = Signal(object)  # SaveJob, on the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # not a child: the window's stop_background_work must not be what ends the writes
        self._runner = JobRunner(max_threads=1)
        self._running: dict[int, SaveJob] = {}   # id(doc) -> its write under way
        self._again: dict[int, bool] = {}        # id(doc) -> a save asked meanwhile (auto?)
        self._futures: list[Future] = []
        self._closed = False

    def busy(self, doc: ImageDocument) -> bool:
        return id(doc) in self._running

    def submit(self, doc: ImageDocument, pending: PendingSave,
               writer: Callable[[Annotation], Annotation], *, auto: bool = False) -> SaveJob:
        job = SaveJob(doc, pending, writer, auto)
        self._running[id(doc)] = job
        self._futures = [f for f in self._futures if not f.done()]
        self._futures.append(self._runner.call(self._run, job))
        return job

    def ask_again(self, doc: ImageDocument, *, auto: bool) -> None:
        """A save of ``doc`` was asked for while its write runs: save again after it."""
        self._again[id(doc)] = self._again.get(id(doc), True) and auto

    def _run(self, job: SaveJob) -> None:  # worker thread
        try:
            job.written = job.writer(job.pending.annotation)
        except BaseException as exc:  # noqa: BLE001 - reported on the GUI thread
            job.error = exc
        job.done.set()
        if not self._closed:
            self.job_finished.emit(job)

    def take(self, job: SaveJob) -> bool | None:
        """GUI thread, when ``job`` ended: forget it; whether another save was asked for
        meanwhile (True: only autosaves asked; False: an explicit save asked), else None."""
        if self._running.get(id(job.doc)) is job:
            del self._running[id(job.doc)]
        return self._again.pop(id(job.doc), None)

    def wait(self, doc: ImageDocument | None = None, timeout: float | None = 120.0) -> list[SaveJob]:
        """Block until ``doc``'s write (every write when None) has ended; the jobs that ended,
        to be finished by the caller (their signal may still be queued). A write that has not
        ended after ``timeout`` seconds is logged and left running."""
        jobs = [j for j in list(self._running.values()) if doc is None or j.doc is doc]
        for job in jobs:
            if not job.done.wait(timeout):
                log.error("the write of %s did not end in %s s", job.doc.xml_path, timeout)
        return [j for j in jobs if j.done.is_set()]

    def close(self) -> None:
        """Wait for every write, then stop the worker (the window is closing)."""
        self.wait()
        self._closed = True
        self._runner.wait()
