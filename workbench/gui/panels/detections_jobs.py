"""Background work for the Detections panel: one call on a QThread, or a generator of events.

The network runs here (loading a checkpoint, the one forward pass per image, pre-labeling a
folder) so the window never freezes; results come back to the GUI thread as queued signals.
Errors become a ``failed(str)`` signal, never an exception in the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from workbench.gui.workers.priority import lower_thread_priority

log = logging.getLogger(__name__)


class CallTask(QThread):
    """Runs ``fn()`` once on its own thread; ``succeeded(result)`` or ``failed(message)``."""

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the app lives on
            log.exception("background task failed")
            self.failed.emit(str(exc) or type(exc).__name__)
            return
        self.succeeded.emit(result)


class GeneratorTask(QThread):
    """Iterates ``make(stop)`` (a generator of events) on its own thread.

    Every event is re-emitted as ``event(obj)``; ``finished_ok()`` after the last one,
    ``failed(message)`` on an exception. :meth:`cancel` sets the ``threading.Event`` the
    generator checks between items. A long job (pre-labeling a folder): its thread runs nicer
    than the GUI's (:mod:`workbench.gui.workers.priority`).
    """

    event = Signal(object)
    finished_ok = Signal()
    failed = Signal(str)

    def __init__(self, make: Callable[[threading.Event], Iterator[Any]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make = make
        self.stop = threading.Event()

    def cancel(self) -> None:
        self.stop.set()

    def run(self) -> None:
        lower_thread_priority()
        try:
            for item in self._make(self.stop):
                self.event.emit(item)
        except Exception as exc:  # noqa: BLE001
            log.exception("background job failed")
            self.failed.emit(str(exc) or type(exc).__name__)
            return
        self.finished_ok.emit()


class TaskKeeper(QObject):
    """Keeps running tasks referenced until they finish, and waits for them on shutdown."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[QThread] = set()

    def start(self, task: QThread) -> QThread:
        self._tasks.add(task)
        task.finished.connect(lambda t=task: self._tasks.discard(t))
        task.start()
        return task

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        for task in list(self._tasks):
            if isinstance(task, GeneratorTask):
                task.cancel()
        for task in list(self._tasks):
            task.wait(timeout_ms)
