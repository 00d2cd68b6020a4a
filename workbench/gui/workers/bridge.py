"""Run the training generator on a QThread and re-emit its events as Qt signals.

The engine's :func:`workbench.engine.trainer.train` yields frozen events that hold plain numbers,
strings and numpy arrays (never tensors); :class:`TrainingBridge` iterates it on its own
:class:`QThread` and emits each event through a signal, which Qt queues to the receiving
widgets' (GUI) thread. Step events are batched — at most one ``steps_logged`` emission per
:attr:`TrainingBridge.STEP_BATCH_S` — so a fast GPU run cannot flood the event loop.

Faults (:class:`workbench.engine.events.TrainingError`, or anything unexpected) end the run and
arrive as one ``failed(str)``; the thread never calls ``sys.exit`` and the window stays up.

After each saved checkpoint the worker also detects objects on the *preview image* (the image
the user is looking at, see :meth:`TrainingBridge.set_preview_image`) with the checkpoint just
written, using the detections engine (:mod:`workbench.engine.inference`), and emits
``preview_ready(path, ImageDetections)``.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from workbench.gui.workers.priority import BACKGROUND_NICENESS, lower_thread_priority

log = logging.getLogger(__name__)


class _TrainingThread(QThread):
    def __init__(self, bridge: TrainingBridge, config: Any, data: Any) -> None:
        super().__init__()
        self.bridge = bridge
        self.config = config
        self.data = data

    def run(self) -> None:  # runs on the worker thread
        self.bridge._run(self.config, self.data)


class TrainingBridge(QObject):
    """Start/stop a training run in the background; its events arrive as signals.

    Signals carry the engine's event records (see :mod:`workbench.engine.events`):
    ``run_started(RunStarted)``, ``steps_logged(list[StepLogged])``,
    ``epoch_evaluated(EpochEvaluated)``, ``checkpoint_saved(CheckpointSaved)``,
    ``sample_skipped(SampleSkipped)``, ``training_finished(Finished)``, ``failed(str)``;
    ``running_changed(bool)`` when the thread starts and after it has ended.
    """

    STEP_BATCH_S = 0.05
    #: The GIL switch interval while a run is in progress (Python's default is 5 ms): a waiting
    #: GUI thread gets the GIL within 0.25 ms (see :mod:`workbench.engine.process_settings`).
    SWITCH_INTERVAL_S = 0.00025
    #: The worker thread's niceness above the GUI's (see :mod:`workbench.gui.workers.priority`).
    WORKER_NICENESS = BACKGROUND_NICENESS

    run_started = Signal(object)
    steps_logged = Signal(list)
    epoch_evaluated = Signal(object)
    checkpoint_saved = Signal(object)
    sample_skipped = Signal(object)
    training_finished = Signal(object)
    failed = Signal(str)
    preview_ready = Signal(str, object)
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: _TrainingThread | None = None
        self._active = False  # from start() until the thread's end is handled here
        self._stop = threading.Event()
        self._preview_lock = threading.Lock()
        self._preview: Path | None = None

    # -- control (GUI thread) -------------------------------------------------------------------
    def start(self, config: Any, data: Any = None) -> None:
        """Train with ``config`` (a :class:`workbench.engine.config.TrainConfig`) on ``data``
        (a snapshot; None = read the folder in the worker thread)."""
        if self.is_running():
            raise RuntimeError("a training run is already in progress")
        self._stop = threading.Event()
        self._thread = _TrainingThread(self, config, data)
        self._thread.finished.connect(self._on_thread_finished)
        self._active = True
        self._thread.start()
        self.running_changed.emit(True)

    def stop(self) -> None:
        """Ask the run to stop after the current step (returns at once)."""
        self._stop.set()

    def is_running(self) -> bool:
        """From :meth:`start` until ``running_changed(False)`` (the thread itself stops a moment
        before its queued ``finished`` reaches the GUI thread)."""
        return self._active

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the worker thread has ended (for shutdown and tests)."""
        return self._thread.wait(msecs) if self._thread is not None else True

    def set_preview_image(self, path: str | Path | None) -> None:
        """The image to detect on after each checkpoint (thread-safe)."""
        with self._preview_lock:
            self._preview = Path(path) if path else None

    def _on_thread_finished(self) -> None:
        self._active = False
        self.running_changed.emit(False)

    # -- worker thread ---------------------------------------------------------------------------
    def _run(self, config: Any, data: Any) -> None:
        from workbench.engine import events as ev
        from workbench.engine.process_settings import background_run_settings
        from workbench.engine.trainer import train

        lower_thread_priority(self.WORKER_NICENESS)
        pending: list[Any] = []
        last_emit = 0.0

        def flush() -> None:
            nonlocal pending, last_emit
            if pending:
                self.steps_logged.emit(pending)
                pending = []
            last_emit = time.perf_counter()

        # Full garbage collections held the GIL for 100-300 ms and froze the GUI while a run was
        # set up: collect nothing during set-up, then freeze the long-lived objects out of the
        # collector's way; the previous settings come back when the run ends.
        with background_run_settings(self.SWITCH_INTERVAL_S) as process:
            try:
                for event in train(config, data, self._stop):
                    if isinstance(event, ev.RunStarted):
                        process.freeze()
                    if isinstance(event, ev.StepLogged):
                        pending.append(event)
                        if time.perf_counter() - last_emit >= self.STEP_BATCH_S:
                            flush()
                        continue
                    flush()
                    if isinstance(event, ev.RunStarted):
                        self.run_started.emit(event)
                    elif isinstance(event, ev.EpochEvaluated):
                        self.epoch_evaluated.emit(event)
                    elif isinstance(event, ev.CheckpointSaved):
                        self.checkpoint_saved.emit(event)
                        self._preview_detections(event.path)
                    elif isinstance(event, ev.SampleSkipped):
                        self.sample_skipped.emit(event)
                    elif isinstance(event, ev.Finished):
                        self.training_finished.emit(event)
            except ev.TrainingError as exc:
                flush()
                log.warning("training failed: %s", exc)
                self.failed.emit(str(exc))
            except Exception as exc:  # noqa: BLE001 - the GUI must survive any fault in the run
                flush()
                log.exception("training crashed")
                self.failed.emit(f"{type(exc).__name__}: {exc}")

    def _preview_detections(self, checkpoint: Path) -> None:
        with self._preview_lock:
            image = self._preview
        if image is None or not image.is_file():
            return
        try:
            from workbench.engine.inference import RawDetector

            detector = RawDetector.from_checkpoint(checkpoint, cache_size=1)
            detections = detector.detect(image)
        except Exception as exc:  # noqa: BLE001 - a preview failure must not end the run
            log.warning("preview detection on %s failed: %s", image, exc)
            return
        self.preview_ready.emit(str(image), detections)
