"""The one way the GUI runs background work: :class:`JobRunner`.

Every job — a selective-search run, a detector's forward pass, loading a checkpoint, pre-labeling
a folder, evaluating a results file, an export — is a function run on a worker thread::

    runner = JobRunner(parent=self)                       # one per owner (panel, controller)
    job = runner.submit(lambda ctx: work(ctx), key="detect", name="Detection")
    job.progressed.connect(...)   # (fraction 0..1, message)
    job.yielded.connect(...)      # (item) — each item a generator job yields
    job.finished.connect(...)     # (result)
    job.failed.connect(...)       # (message) — also reported once in the one place, below
    job.cancelled.connect(...)    # ()
    job.cancel()                  # cooperative: sets ctx.stop (a threading.Event)

* **Signals on the GUI thread.** Every public signal is emitted on the thread the runner lives in
  (worker emissions hop through a queued connection), so slots may touch widgets. Exactly one of
  ``finished`` / ``failed`` / ``cancelled`` is emitted per job.
* **Generators.** When the function returns a generator, the worker iterates it: each item is
  re-emitted as ``yielded(item)`` (in order), ``ctx.stop`` is checked between items, and the
  generator's ``return`` value is the result. ``submit(..., drain=True)``: a generator that
  watches ``ctx.stop`` itself (engine generators that end with a summary event) is iterated to
  its own end after a cancel, and its items are still delivered; the job then ends ``cancelled``.
* **Latest request wins.** ``submit(..., key=k)`` cancels the runner's earlier job with the same
  key: its result is never delivered (``cancelled`` instead), and a job still queued never runs.
  Per-image work (a detection on the image being shown) uses the key so a stale image's result
  never lands on the new one.
* **Cancel.** ``job.cancel()`` sets the ``threading.Event`` the job receives (``ctx.stop``;
  ``ctx.cancelled()``, ``ctx.check()`` raise :class:`JobCancelled`). A job that ignores it still
  ends ``cancelled`` and its result is dropped.
* **Errors in one place.** A failed job emits its own ``failed(message)`` and is reported once to
  :func:`job_errors` (one process-wide object; the labeling window shows its reports in the status
  bar). Owners may show the message inline too, but do not report it again.
* **Priority.** ``JobRunner(niceness=5)`` runs its threads nicer than the GUI thread (long jobs:
  training-like work, pre-labeling a folder; :mod:`workbench.gui.workers.priority`). While any
  job or call runs, the GIL switch interval is at most 0.25 ms
  (:func:`workbench.core.switch_interval.short_switch_interval`): with Python's 5 ms the GUI
  thread waited up to 5 ms for the GIL at every hand-over while a job ran Python.
* **Background jobs give way.** A job of a nicer runner (``niceness > 0``) waits while the GUI
  thread is busy, at its next ``ctx.progress()``, ``ctx.check()`` or generator item (and before
  it starts): :class:`GuiPulse` beats on the GUI thread while such jobs run, and a late beat
  (the thread was busy, or waited for the GIL) holds them back for :attr:`GuiPulse.HOLD_S`.
  Nice values alone did not do it: on two cores the Errors panel's and the operating point's
  folder detections (three threads of torch) left the GUI thread 10-30 ms of CPU in 150-280 ms
  gaps while the user switched images (issue 14, ``bench/bench_gui_stalls.py``). A job waits
  at most :attr:`GuiPulse.MAX_WAIT_S` at one check (a GUI busy for good still lets it advance)
  and never while the GUI thread itself waits for workers (:meth:`JobRunner.wait`).
* **Shutdown.** :meth:`JobRunner.shutdown` cancels and waits; the window's close joins every
  runner among its children (``MainWindow.stop_background_work``).
* **Plain calls.** :meth:`JobRunner.call` runs ``fn(*args)`` on the same kind of pool and
  returns a :class:`concurrent.futures.Future` — no Qt signals, no Job object, callable from any
  thread. It is for Qt-free plumbing that must wait for a result or chain on it: the image
  prefetch (the image about to be shown may be the one being decoded: ``future.result()``), the
  large-image decode and its tiles (``add_done_callback``, ``cancel()`` of a tile no longer in
  view), and the annotation save queue (one thread: writes in submission order). A future
  cancelled while queued never runs; ``cancel_all``/``shutdown`` leave calls alone (a queued
  annotation write must still happen) and :meth:`JobRunner.wait` waits for them too. These
  used ``ThreadPoolExecutor``s of their own before; now every worker thread of the GUI is a
  JobRunner's (named, niceness applied, joined at the window's close).
* **Models.** torch and the engine are imported once in the background after the window shows
  (:func:`model_loader`); a panel that needs them says "Loading models…" until then.

Qt objects must not be created or touched inside a job function.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot

from workbench.core.switch_interval import short_switch_interval
from workbench.gui.workers.heap import imports_then_freeze
from workbench.gui.workers.priority import lower_thread_priority

log = logging.getLogger(__name__)


class GuiPulse(QObject):
    """Whether the GUI thread is busy, for background jobs to give way (module doc, "Background
    jobs give way"). Lives in the GUI thread; :meth:`gui_busy` and :meth:`give_way` may be
    called from any thread (they read two floats)."""

    #: the beat's period
    INTERVAL_MS = 10
    #: a beat this much later than due: the GUI thread was busy (or waited for the GIL)
    LATE_S = 0.015
    #: background jobs wait this long after the GUI thread was last seen busy: image switches
    #: come 30-300 ms apart, and the jobs should not start a 100 ms step between two of them
    HOLD_S = 0.3
    #: a last beat older than this: the GUI thread is busy now — unless older than
    #: :attr:`BLOCKED_S`: then it waits (for a worker, a dialog's result...) without its event
    #: loop, and jobs must go on
    STALE_S = 0.03
    BLOCKED_S = 0.5
    #: the longest a job waits at one check (a burst of image switches lasts a second or two)
    MAX_WAIT_S = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(self.INTERVAL_MS)
        self.timer.timeout.connect(self._beat)
        self.users = 0          #: live jobs that give way (the beat runs while there are any)
        self.last = 0.0         #: perf_counter() of the last beat; 0: not beating
        self.busy_until = 0.0   #: jobs wait until then
        self.late_beats = 0     #: (tests, diagnostics)
        self.waited_s = 0.0     #: what jobs waited in all (diagnostics)
        self._blocked = 0       #: the GUI thread waits for workers (JobRunner.wait)
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """A job that gives way was submitted (GUI thread)."""
        self.users += 1
        if self.users == 1:
            self.last = time.perf_counter()
            self.timer.start()

    def release(self) -> None:
        """That job is done (GUI thread)."""
        self.users = max(0, self.users - 1)
        if self.users == 0:
            self.timer.stop()
            self.last = 0.0

    def _beat(self) -> None:
        now = time.perf_counter()
        if self.last and now - self.last > self.INTERVAL_MS / 1000 + self.LATE_S:
            self.busy_until = now + self.HOLD_S
            self.late_beats += 1
        self.last = now

    def mark_busy(self, seconds: float | None = None) -> None:
        """Hold background jobs back now (GUI thread: work about to start, e.g. an image
        switch), for ``seconds`` (default :attr:`HOLD_S`)."""
        self.busy_until = max(self.busy_until,
                              time.perf_counter() + (self.HOLD_S if seconds is None else seconds))

    def gui_busy(self) -> bool:
        return self._busy_for(time.perf_counter()) > 0

    def _busy_for(self, now: float) -> float:
        """How long to wait before looking again (0: not busy)."""
        if self._blocked:
            return 0.0
        last = self.last
        if last > 0 and self.STALE_S < now - last < self.BLOCKED_S:
            return self.INTERVAL_MS / 1000  # busy now: look again after a beat
        return max(0.0, self.busy_until - now)

    def give_way(self, stop: threading.Event, limit_s: float | None = None) -> float:
        """On a worker: wait while the GUI thread is busy, at most ``limit_s`` (default
        :attr:`MAX_WAIT_S`) or until ``stop`` is set; the seconds waited. (It sleeps until the
        time it was told, without polling: each wake-up of a worker takes the GIL.)"""
        start = now = time.perf_counter()
        end = start + (self.MAX_WAIT_S if limit_s is None else limit_s)
        while now < end and not stop.is_set():
            wait = self._busy_for(now)
            if wait <= 0:
                break
            stop.wait(min(wait, end - now))
            now = time.perf_counter()
        waited = now - start
        self.waited_s += waited
        return waited

    def blocked(self) -> _Blocked:
        """``with pulse.blocked():`` the GUI thread waits for workers meanwhile: jobs do not
        wait for it."""
        return _Blocked(self)


class _Blocked:
    def __init__(self, pulse: GuiPulse) -> None:
        self.pulse = pulse

    def __enter__(self) -> None:
        with self.pulse._lock:
            self.pulse._blocked += 1

    def __exit__(self, *_exc: object) -> None:
        with self.pulse._lock:
            self.pulse._blocked -= 1


@functools.cache
def gui_pulse() -> GuiPulse:
    """The process-wide :class:`GuiPulse` (created on first use, on the GUI thread)."""
    return GuiPulse()


class JobCancelled(Exception):
    """Raise inside a job to stop early (:meth:`JobContext.check` does). Any exception raised
    after a cancel request also ends the job as ``cancelled``, not ``failed``."""


class JobContext:
    """What the job function receives: report progress, poll for cancellation."""

    def __init__(self, relay: _Relay, stop: threading.Event,
                 pulse: GuiPulse | None = None) -> None:
        self._relay = relay
        self.stop = stop  #: set when the job is cancelled (pass it to engine generators)
        self._pulse = pulse  # a background job's: it gives way to the GUI thread

    def progress(self, fraction: float, message: str = "") -> None:
        """Report ``fraction`` (0..1) done; thread-safe, cheap (a background job waits here
        while the GUI thread is busy)."""
        self._relay.progressed.emit(float(fraction), str(message))
        self.give_way()

    def cancelled(self) -> bool:
        return self.stop.is_set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` when a cancel was requested (a background job first
        waits while the GUI thread is busy)."""
        self.give_way()
        if self.stop.is_set():
            raise JobCancelled("cancelled")

    def give_way(self) -> None:
        """A background job (a nicer runner's): wait while the GUI thread is busy."""
        if self._pulse is not None:
            self._pulse.give_way(self.stop)


class JobErrors(QObject):
    """The one place failed jobs are reported (:func:`job_errors`)."""

    reported = Signal(str)  #: "<job name>: <message>"

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = []  # the last reports (tests, a future log view)

    def report(self, name: str, message: str) -> None:
        text = f"{name}: {message}" if name else message
        self.history = [*self.history[-49:], text]
        self.reported.emit(text)


@functools.cache
def job_errors() -> JobErrors:
    """The process-wide :class:`JobErrors` (created on first use, on the GUI thread)."""
    return JobErrors()


class _Relay(QObject):
    """Signals emitted from the worker thread; lives in the GUI thread."""

    progressed = Signal(float, str)
    yielded = Signal(object)
    done = Signal(int, object)  # outcome code, payload


_FINISHED, _FAILED, _CANCELLED = 0, 1, 2


class Job(QObject):
    """Handle of one submitted job (lives in the GUI thread).

    The runner keeps it alive until it is done; keep your own reference to read :attr:`result`
    / :attr:`seconds` later.
    """

    progressed = Signal(float, str)
    yielded = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, key: Hashable | None, name: str = "", drain: bool = False) -> None:
        super().__init__()
        self.key = key
        self.name = name
        self.drain = drain
        self.seconds: float | None = None
        self.result: Any = None
        self.error: str | None = None
        self.outcome: str | None = None  #: "finished", "failed" or "cancelled" once done
        self._stop = threading.Event()
        self._done = False
        self._on_done: Callable[[Job], None] | None = None
        self._relay = _Relay(self)  # a child: Qt owns it, the worker only emits on it
        self._relay.progressed.connect(self._on_relay_progressed)
        self._relay.yielded.connect(self._on_relay_yielded)
        self._relay.done.connect(self._on_relay_done)

    @property
    def done(self) -> bool:
        return self._done

    @property
    def stop(self) -> threading.Event:
        return self._stop

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

    @Slot(object)
    def _on_relay_yielded(self, item: object) -> None:
        if not self._done and (self.drain or not self._stop.is_set()):
            self.yielded.emit(item)

    @Slot(int, object)
    def _on_relay_done(self, outcome: int, payload: object) -> None:
        self._done = True
        if outcome == _FINISHED and not self._stop.is_set():
            seconds, result = payload  # type: ignore[misc]
            self.seconds, self.result, self.outcome = seconds, result, "finished"
            self.finished.emit(result)
        elif outcome == _FAILED and not self._stop.is_set():
            self.error, self.outcome = str(payload), "failed"
            job_errors().report(self.name, str(payload))
            self.failed.emit(str(payload))
        else:
            self.outcome = "cancelled"
            self.cancelled.emit()
        if self._on_done is not None:
            self._on_done(self)


_local = threading.local()


class _Runnable(QRunnable):
    """Runs the job on a pool thread. Holds no reference to the Job (only its relay and stop
    flag), so the Job is never released from a worker thread."""

    def __init__(self, fn: Callable[[JobContext], Any], relay: _Relay,
                 stop: threading.Event, niceness: int, drain: bool = False,
                 pulse: GuiPulse | None = None) -> None:
        super().__init__()
        self.setAutoDelete(True)  # Qt deletes the runnable after run() returns
        self._fn = fn
        self._relay = relay
        self._stop = stop
        self._niceness = niceness
        self._drain = drain
        self._pulse = pulse

    def run(self) -> None:
        relay, self._relay = self._relay, None  # type: ignore[assignment]
        fn, self._fn = self._fn, None  # type: ignore[assignment]
        if self._niceness > getattr(_local, "niceness", 0):  # a pool thread is lowered once
            lower_thread_priority(self._niceness - getattr(_local, "niceness", 0))
            _local.niceness = self._niceness
        start = time.perf_counter()
        if self._stop.is_set():
            relay.done.emit(_CANCELLED, None)
            return
        ctx = JobContext(relay, self._stop, self._pulse)
        try:
            ctx.give_way()  # a background job does not start while the GUI thread is busy
            with short_switch_interval():
                result = fn(ctx)
                if inspect.isgenerator(result):
                    result = self._iterate(result, relay, ctx)
            if self._stop.is_set():
                raise JobCancelled("cancelled")
        except JobCancelled:
            relay.done.emit(_CANCELLED, None)
            return
        except Exception as exc:  # noqa: BLE001 - reported as failed(str), never raised in Qt
            if self._stop.is_set():
                relay.done.emit(_CANCELLED, None)
                return
            log.error("background job failed: %s\n%s", exc, traceback.format_exc())
            relay.done.emit(_FAILED, f"{type(exc).__name__}: {exc}" if str(exc)
                            else type(exc).__name__)
            return
        relay.done.emit(_FINISHED, (time.perf_counter() - start, result))

    def _iterate(self, gen: Any, relay: _Relay, ctx: JobContext) -> Any:
        try:
            while True:
                ctx.give_way()
                if self._stop.is_set() and not self._drain:
                    raise JobCancelled("cancelled")
                try:
                    item = next(gen)
                except StopIteration as end:
                    return end.value
                relay.yielded.emit(item)
        finally:
            gen.close()


class _CallRunnable(QRunnable):
    """Runs one :meth:`JobRunner.call` on a pool thread and settles its future."""

    def __init__(self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...],
                 niceness: int) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._call: tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None = \
            (future, fn, args)
        self._niceness = niceness

    def run(self) -> None:
        assert self._call is not None
        (future, fn, args), self._call = self._call, None
        if not future.set_running_or_notify_cancel():  # cancelled while queued
            return
        if self._niceness > getattr(_local, "niceness", 0):
            lower_thread_priority(self._niceness - getattr(_local, "niceness", 0))
            _local.niceness = self._niceness
        try:
            with short_switch_interval():
                result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        else:
            future.set_result(result)


class JobRunner(QObject):
    """Runs job functions on a private thread pool (``max_threads`` at a time, default 1).

    ``niceness`` > 0 runs the pool's threads that much nicer than the GUI thread (Linux).
    Call :meth:`shutdown` before the owner goes away when jobs may still be running (the
    window's close does it for every runner among its children).
    """

    def __init__(self, parent: QObject | None = None, max_threads: int = 1, *,
                 niceness: int = 0) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, int(max_threads)))
        self._niceness = max(0, int(niceness))
        self._live: set[Job] = set()
        self._latest: dict[Hashable, Job] = {}
        #: a nicer runner's jobs give way to the GUI thread (module doc)
        self._pulse = gui_pulse() if self._niceness > 0 else None

    def submit(self, fn: Callable[[JobContext], Any], *, key: Hashable | None = None,
               name: str = "", drain: bool = False) -> Job:
        """Queue ``fn(ctx)``; returns its :class:`Job` (connect signals right away: nothing is
        emitted before control returns to the event loop). With ``key``, the runner's earlier
        job of that key is cancelled (latest request wins)."""
        job = Job(key, name, drain)
        job._on_done = self._forget
        if key is not None:
            older = self._latest.get(key)
            if older is not None and not older.done:
                older.cancel()
            self._latest[key] = job
        self._live.add(job)
        if self._pulse is not None:
            self._pulse.acquire()
        self._pool.start(_Runnable(fn, job._relay, job._stop, self._niceness, drain,
                                   self._pulse))
        return job

    def call(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the runner's pool; its :class:`~concurrent.futures.Future`
        (see "Plain calls" in the module doc). Thread-safe: any thread may call it."""
        future: Future[Any] = Future()
        self._pool.start(_CallRunnable(future, fn, args, self._niceness))
        return future

    def latest(self, key: Hashable) -> Job | None:
        """The last job submitted with ``key`` (done or not)."""
        return self._latest.get(key)

    def _forget(self, job: Job) -> None:
        # Released from the event loop, after the job's own slots have returned.
        job._on_done = None
        if self._pulse is not None:
            self._pulse.release()
        if job.key is not None and self._latest.get(job.key) is job:
            del self._latest[job.key]
        QTimer.singleShot(0, partial(self._live.discard, job))

    @property
    def active(self) -> list[Job]:
        """Jobs submitted and not yet done."""
        return [j for j in self._live if not j.done]

    @property
    def busy(self) -> bool:
        return bool(self.active)

    def cancel(self, key: Hashable) -> None:
        """Cancel the running/queued job of ``key`` (if any)."""
        job = self._latest.get(key)
        if job is not None:
            job.cancel()

    def cancel_all(self) -> None:
        for job in list(self._live):
            job.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the pool is idle (shutdown, tests). Signals still need the event loop.
        Background jobs do not give way meanwhile (the GUI thread waits for them)."""
        if self._pulse is None:
            return bool(self._pool.waitForDone(timeout_ms))
        with self._pulse.blocked():
            return bool(self._pool.waitForDone(timeout_ms))

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel every job and wait for the pool (call before the owner is destroyed)."""
        self.cancel_all()
        return self.wait(timeout_ms)



class ModelLoader(QObject):
    """Imports the side panels' modules, then torch, torchvision and the engine, once, on a
    background thread after the window has shown (:func:`model_loader`; ``run_gui`` calls
    :meth:`start_when_idle`). The first ``import torch`` took 4–17 s; on the GUI thread it froze
    the window when the Train panel was first opened. torch's native libraries are loaded first
    with the GIL released (:mod:`workbench.gui.workers.preload`): loaded by the import itself,
    they held the GIL for 0.6-1.4 s at a time.

    Two phases: the panels' modules (pyqtgraph, OpenCV, every registered panel module:
    :meth:`add_panel_modules`) start :attr:`PANELS_DELAY_MS` after the window shows; torch and
    the engine wait until the user pauses (:attr:`IDLE_MS` without input) or a panel needs
    them. A panel opened while its module is still being imported here is built once it is
    (:meth:`importing`; its dock says "Loading …"), not imported on the GUI thread meanwhile.
    Panels in :attr:`PANELS` are built once everything is loaded: opened earlier, their dock
    says "Loading models…" meanwhile (:class:`~workbench.gui.panel_host.PanelHost`). Code that
    needs the modules at once (a test, a script) calls :meth:`wait`.
    """

    loaded = Signal()  #: on the GUI thread, once every module is imported (or failed to)
    panels_loaded = Signal()  #: on the GUI thread, once the panels' modules are (phase one)

    #: phase one: the side panels' modules (pyqtgraph, OpenCV: 0.1-1 s each on the GUI thread
    #: when a panel was first opened); the panel host adds the registry's panel modules
    PANEL_MODULES = ("pyqtgraph", "cv2", "workbench.gui.panels.metrics",
                     "workbench.gui.panels.detections", "workbench.gui.panels.proposals",
                     "workbench.gui.panels.priors", "workbench.gui.panels.iou")
    #: phase two: torch and the engine
    MODEL_MODULES = ("torch", "torchvision", "workbench.engine.detectors",
                     "workbench.engine.device", "workbench.engine.inference",
                     "workbench.engine.postprocess", "workbench.engine.trainer",
                     "workbench.gui.panels.training")
    MODULES = PANEL_MODULES + MODEL_MODULES
    #: panel modules whose construction imports torch
    PANELS = frozenset({"workbench.gui.panels.training"})

    def __init__(self) -> None:
        super().__init__()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._panels_done = threading.Event()
        self._go = threading.Event()  # phase two may start
        self._panel_modules = list(self.PANEL_MODULES)
        self.error: str | None = None
        self.seconds: float | None = None

    @property
    def loading(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def add_panel_modules(self, names: list[str] | tuple[str, ...]) -> None:
        """Import these too in phase one (before it starts; torch-free modules only)."""
        if self._thread is None:
            self._panel_modules += [n for n in names
                                    if n not in self._panel_modules and n not in self.PANELS]

    def needed_by(self, module_name: str) -> bool:
        """Whether building a panel of ``module_name`` must wait for this loader (call
        :meth:`start` then: it may not have started yet)."""
        return module_name in self.PANELS and not self.done

    def importing(self, module_name: str) -> bool:
        """Whether ``module_name`` is yet to be imported by phase one, which is under way
        (build its panel on :attr:`panels_loaded` rather than import it on the GUI thread)."""
        return (self._thread is not None and not self._panels_done.is_set()
                and module_name in self._panel_modules and module_name not in sys.modules)

    #: How long the user must leave the window alone before torch's import starts by itself.
    IDLE_MS = 1500
    #: Phase one starts this long after :meth:`start_when_idle` (the window has painted).
    PANELS_DELAY_MS = 300

    def start_when_idle(self, idle_ms: int | None = None, window: Any = None) -> None:
        """Start phase one soon, and phase two once no key or mouse input has come for
        ``idle_ms``. Importing torch holds the GIL in long stretches (extension initialisation:
        gaps of 0.8-1.8 s on a loaded 2-CPU machine even on a background thread), so it waits
        for a pause rather than stalling the first clicks; a panel that needs the models starts
        it at once. From here on, whichever thread imports torch first loads its native
        libraries with the GIL released (:func:`~workbench.gui.workers.preload.
        preload_before_torch_import`), not only this loader.

        ``window`` (a shown top-level widget): input is watched on its native window only —
        the input events come to it before its widgets — instead of through an application-
        wide filter, which every event of every object passed through in Python (~15 % of the
        GUI thread while a panel was built: bench_gui_stalls --profile)."""
        from PySide6.QtCore import QCoreApplication, QEvent, QTimer

        app = QCoreApplication.instance()
        if app is None or self._thread is not None:
            return
        # a panel's job may import torch before phase two does (a checkpoint loaded at once)
        from workbench.gui.workers.preload import preload_before_torch_import

        preload_before_torch_import()
        handle = window.windowHandle() if window is not None else None
        watched = handle if handle is not None else app
        QTimer.singleShot(self.PANELS_DELAY_MS, self, self.start_panels)
        timer = QTimer(self, singleShot=True, interval=self.IDLE_MS if idle_ms is None
                       else idle_ms)
        inputs = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel,
                  QEvent.Type.MouseMove}
        loader = self

        class _Idle(QObject):
            def eventFilter(self, _obj: QObject, event: QEvent) -> bool:  # noqa: N802
                if event.type() in inputs:
                    timer.start()
                return False

        watcher = _Idle(self)

        def unwatch() -> None:
            import shiboken6

            if shiboken6.isValid(watched):  # the window may have gone first
                watched.removeEventFilter(watcher)

        def go() -> None:
            unwatch()
            loader.start()

        timer.timeout.connect(go)
        self.loaded.connect(unwatch)
        watched.installEventFilter(watcher)
        self._idle_watched = watched  # (tests)
        timer.start()

    def start_panels(self) -> None:
        """Start phase one (once); phase two waits for :meth:`start`."""
        if self._thread is not None:
            return
        if all(m in sys.modules for m in (*self.MODULES, *self._panel_modules)):
            self._thread = threading.current_thread()
            self._panels_done.set()
            self._done.set()
            self.panels_loaded.emit()
            self.loaded.emit()
            return
        self._thread = threading.Thread(target=self._run, name="model-loader", daemon=True)
        self._thread.start()

    def start(self) -> None:
        """Start the imports, both phases (once; later calls do nothing)."""
        self._go.set()
        self.start_panels()

    def _import(self, names: list[str] | tuple[str, ...]) -> bool:
        import importlib

        for name in names:
            try:
                if name == "torch":  # its native libraries first, with the GIL released
                    from workbench.gui.workers.preload import preload_before_torch_import

                    preload_before_torch_import()  # (start_when_idle may have installed it)
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - the panel that needs it reports it
                log.warning("background import of %s failed: %s", name, exc)
                self.error = f"{name}: {exc}"
                return False
        return True

    def _run(self) -> None:
        lower_thread_priority()
        start = time.perf_counter()
        # no full collections during the imports, then the imported heap frozen (workers/heap.py)
        with short_switch_interval(), imports_then_freeze():
            ok = self._import(self._panel_modules)
        self._panels_done.set()
        self.panels_loaded.emit()  # queued to the GUI thread (this object lives there)
        self._go.wait()
        if ok:
            with short_switch_interval(), imports_then_freeze():
                self._import(self.MODEL_MODULES)
        self.seconds = time.perf_counter() - start
        log.info("models loaded in the background in %.1f s", self.seconds)
        self._done.set()
        self.loaded.emit()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until loaded (True) — not on the GUI thread while the user waits."""
        if self._thread is None:
            return False
        return self._done.wait(timeout_s)


_LOADER: ModelLoader | None = None


def model_loader() -> ModelLoader:
    """The process-wide :class:`ModelLoader` (created on first use, on the GUI thread)."""
    global _LOADER
    if _LOADER is None:
        _LOADER = ModelLoader()
    return _LOADER
