"""Short background jobs with progress and cancel: a small QThreadPool task runner.

For work that takes from a fraction of a second to a few seconds and must not freeze the window
(selective search, building a detector to read its anchors, k-means over a project's boxes).
Long, event-producing work (training) uses the generator bridge instead.

Usage::

    runner = TaskRunner(parent=self)               # one per panel; jobs run one at a time
    task = runner.submit(lambda ctx: work(progress=ctx.progress, cancelled=ctx.cancelled),
                         key=("image.jpg", params))
    task.progressed.connect(self._on_progress)     # (fraction 0..1, message)
    task.finished.connect(self._on_result)         # (result)
    task.failed.connect(self._on_error)            # (message)
    task.cancelled.connect(...)                    # ()
    task.cancel()                                  # cooperative: the job checks ctx.cancelled()

Every public signal is emitted on the GUI thread (the worker's emissions hop through a queued
connection first), so slots may touch widgets, lambdas included. Exactly one of ``finished``,
``failed`` or ``cancelled`` is emitted per task; a job that ignores a cancel request still ends
in ``cancelled`` and its result is dropped. Qt objects must not be created or touched inside the
job function.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

log = logging.getLogger(__name__)


class TaskCancelled(Exception):
    """Raise inside a job to stop early (:meth:`TaskContext.check` does). Any exception raised
    after a cancel request also ends the task as ``cancelled``, not ``failed``."""


class TaskContext:
    """What the job function receives: report progress, poll for cancellation."""

    def __init__(self, relay: _Relay, stop: threading.Event) -> None:
        self._relay = relay
        self._stop = stop

    def progress(self, fraction: float, message: str = "") -> None:
        """Report ``fraction`` (0..1) done; thread-safe, cheap."""
        self._relay.progressed.emit(float(fraction), str(message))

    def cancelled(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Raise :class:`TaskCancelled` when a cancel was requested."""
        if self._stop.is_set():
            raise TaskCancelled("cancelled")


class _Relay(QObject):
    """Signals emitted from the worker thread; lives in the GUI thread."""

    progressed = Signal(float, str)
    done = Signal(int, object)  # outcome code, payload


_FINISHED, _FAILED, _CANCELLED = 0, 1, 2


class Task(QObject):
    """Handle of one submitted job (lives in the GUI thread, owned by Python).

    The runner keeps it alive until it is done; keep your own reference if you want to read
    :attr:`result` / :attr:`seconds` later.
    """

    progressed = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, key: Hashable | None) -> None:
        super().__init__()
        self.key = key
        self.seconds: float | None = None
        self.result: Any = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._done = False
        self._on_done: Callable[[Task], None] | None = None
        self._relay = _Relay(self)  # a child: Qt owns it, the worker only emits on it
        self._relay.progressed.connect(self._on_relay_progressed)
        self._relay.done.connect(self._on_relay_done)

    @property
    def done(self) -> bool:
        return self._done

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    def cancel(self) -> None:
        """Ask the job to stop; ``cancelled`` follows once it has."""
        self._stop.set()

    @Slot(float, str)
    def _on_relay_progressed(self, fraction: float, message: str) -> None:
        if not self._done and not self._stop.is_set():
            self.progressed.emit(fraction, message)

    @Slot(int, object)
    def _on_relay_done(self, outcome: int, payload: object) -> None:
        self._done = True
        if outcome == _FINISHED and not self._stop.is_set():
            seconds, result = payload  # type: ignore[misc]
            self.seconds, self.result = seconds, result
            self.finished.emit(result)
        elif outcome == _FAILED and not self._stop.is_set():
            self.error = str(payload)
            self.failed.emit(str(payload))
        else:
            self.cancelled.emit()
        if self._on_done is not None:
            self._on_done(self)


class _Runnable(QRunnable):
    """Runs the job on a pool thread. Holds no reference to the Task (only its relay and
    stop flag), so the Task is never released from a worker thread."""

    def __init__(self, fn: Callable[[TaskContext], Any], relay: _Relay,
                 stop: threading.Event) -> None:
        super().__init__()
        # Qt owns and deletes the runnable after run() returns (the pool still reads it then).
        self.setAutoDelete(True)
        self._fn = fn
        self._relay = relay
        self._stop = stop

    def run(self) -> None:
        relay, self._relay = self._relay, None  # type: ignore[assignment]
        fn, self._fn = self._fn, None  # type: ignore[assignment]
        start = time.perf_counter()
        if self._stop.is_set():
            relay.done.emit(_CANCELLED, None)
            return
        try:
            result = fn(TaskContext(relay, self._stop))
        except TaskCancelled:
            relay.done.emit(_CANCELLED, None)
            return
        except Exception as exc:  # noqa: BLE001 - reported as failed(str), never raised in Qt
            if self._stop.is_set():
                relay.done.emit(_CANCELLED, None)
                return
            log.error("background task failed: %s\n%s", exc, traceback.format_exc())
            relay.done.emit(_FAILED, f"{type(exc).__name__}: {exc}")
            return
        relay.done.emit(_FINISHED, (time.perf_counter() - start, result))


class TaskRunner(QObject):
    """Runs job functions on a private thread pool (``max_threads`` at a time, default 1).

    Call :meth:`shutdown` before the owner goes away when jobs may still be running.
    """

    def __init__(self, parent: QObject | None = None, max_threads: int = 1) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, int(max_threads)))
        self._live: set[Task] = set()

    def submit(self, fn: Callable[[TaskContext], Any], *, key: Hashable | None = None) -> Task:
        """Queue ``fn(ctx)``; returns its :class:`Task` handle (connect signals right away:
        nothing is emitted before control returns to the event loop)."""
        task = Task(key)
        task._on_done = self._forget
        self._live.add(task)
        self._pool.start(_Runnable(fn, task._relay, task._stop))
        return task

    def _forget(self, task: Task) -> None:
        # Released from the event loop, after the task's own slot has returned.
        task._on_done = None
        QTimer.singleShot(0, partial(self._live.discard, task))

    @property
    def active(self) -> list[Task]:
        """Tasks submitted and not yet done."""
        return [t for t in self._live if not t.done]

    def cancel_all(self) -> None:
        for task in list(self._live):
            task.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the pool is idle (shutdown, tests). Signals still need the event loop."""
        return bool(self._pool.waitForDone(timeout_ms))

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel every job and wait for the pool (call before the owner is destroyed)."""
        self.cancel_all()
        return self.wait(timeout_ms)
