"""Detections panel: run a checkpoint once per image, tune score / NMS / top-k instantly, pre-label.

The network runs on a worker thread once per image with NMS disabled and a very low score
floor (:class:`workbench.engine.inference.RawDetector`, which caches that raw output per image).
A slider move only re-applies :func:`workbench.engine.postprocess.postprocess` to the cached raw
output and redraws (:mod:`.detections_overlay`) — the model is never called for it.

With ground truth on the image, every detection is marked TP/FP at the evaluation IoU (VOC
rules) and missed objects FN. "Show suppressed" draws what NMS removed, linked to the kept box
that removed it. Chosen settings can be saved into the checkpoint (used by ``workbench detect``
and ``workbench eval``). Detections can be accepted as model-made annotation boxes (undoable),
and the whole folder pre-labeled (:mod:`.detections_prelabel`).

No torch at import time: the engine is imported inside methods.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from workbench.core.annotation import VocObject
from workbench.core.boxes import clamp_box
from workbench.core.detections import ImageDetections
from workbench.core.wording import count
from workbench.gui.hub import CheckpointLoaded, TrainingFinished, hub_of
from workbench.gui.jobs import JobCancelled, JobContext, JobRunner
from workbench.gui.panels.detections_overlay import DetectionsOverlay, Marks, ground_truth, mark
from workbench.gui.workers.priority import BACKGROUND_NICENESS
from workbench.gui.panels.detections_ui import IOU_STEPS, MAX_TOP_K, SCORE_STEPS, build_widgets

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

log = logging.getLogger(__name__)

MAX_SUPPRESSED_SHOWN = 200
#: Auto-detect while images change quickly: an image shown less than RAPID_S after the last
#: change is detected only once it has stayed PAUSE_S (a newer image cancels it meanwhile). A
#: quick labeler flips ~30 images a second; a forward pass per image kept a worker running
#: torch all along, and the GUI thread waited for the GIL and the CPUs (issue 14, GUI stalls:
#: 120-200 ms gaps in bench_gui_stalls).
RAPID_S = 0.3
PAUSE_S = 0.15


def checkpoint_start_dir(current: Path | None, project: Any) -> str:
    """Where a checkpoint file dialog opens: the loaded checkpoint's folder, else the project's
    ``runs/`` (where the Train panel writes), else the project folder ("" = Qt's default, the
    working folder, only without a project)."""
    if current is not None:
        return str(Path(current).parent)
    root = getattr(project, "root", None)
    if root is None:
        return ""
    runs = Path(root) / "runs"
    return str(runs if runs.is_dir() else Path(root))


class DetectionsPanel(QWidget):
    """Dock contents; ``window``: what a panel may use of the labeling window
    (:class:`~workbench.gui.panel_api.PanelWindow`)."""

    checkpoint_loaded = Signal(str)   #: path, once the detector is ready
    raw_ready = Signal(str)           #: image path whose raw output arrived from the worker
    detections_changed = Signal()     #: after every redraw (slider move, new image, new marks)
    failed = Signal(str)

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.window = window
        self.detector: Any = None  # workbench.engine.inference.RawDetector
        self.checkpoint_path: Path | None = None
        self._raw: Any = None      # RawDetections of the current image
        self._raw_path: Path | None = None
        self.detections: ImageDetections | None = None
        self.marks: Marks | None = None
        self.result: Any = None    # last PostprocessResult
        self.last_postprocess_ms = 0.0
        self.detections_started = 0  #: detections submitted to a worker (tests, benchmarks)
        self._image_changed_at = -1e9  # time.monotonic() of the last image change
        # One runner for the per-image work (loading a checkpoint, a detection: latest request
        # wins per key), one nicer runner for the long folder job (pre-labeling).
        self.jobs = JobRunner(self)
        self.long_jobs = JobRunner(self, niceness=BACKGROUND_NICENESS)
        self.overlay = DetectionsOverlay(window.canvas.scene(), self)
        self.overlay.registry.owner_shown_changed.connect(self._on_owner_shown_changed)
        self._build_ui()
        window.image_changed.connect(self._on_window_image_changed)
        if hasattr(window, "annotation_changed"):
            window.annotation_changed.connect(self._on_window_annotation_changed)
        self._set_enabled(False)
        app = QCoreApplication.instance()
        if app is not None:  # background threads must end before the interpreter does
            app.aboutToQuit.connect(self.shutdown)
        self._follow_training()

    # -- UI ---------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        build_widgets(self)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.run_button.clicked.connect(self.run_current)
        self.save_button.clicked.connect(self.save_settings)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.table.doubleClicked.connect(lambda _i: self.accept_selected())
        self.accept_button.clicked.connect(self.accept_selected)
        self.accept_all_button.clicked.connect(self.accept_all)
        for slider in (self.score_slider, self.iou_slider, self.topk_slider):
            slider.valueChanged.connect(self._on_setting_changed)
        for toggle in (self.agnostic, self.show_suppressed, self.marks_box):
            toggle.toggled.connect(self._on_setting_changed)
        self.eval_iou.valueChanged.connect(self._on_setting_changed)
        self.tiled.toggled.connect(self._on_tiling_changed)
        self.tile_size.editingFinished.connect(self._on_tiling_changed)
        self.op_box.best_requested.connect(
            lambda score: self.score_slider.setValue(round(score * SCORE_STEPS)))
        self.set_settings_values(0.5, 0.45, 100, False)

    def _set_enabled(self, ready: bool) -> None:
        for w in (self.run_button, self.score_slider, self.iou_slider, self.topk_slider,
                  self.agnostic, self.show_suppressed, self.save_button, self.accept_button,
                  self.accept_all_button, self.prelabel, self.tiled):
            w.setEnabled(ready)

    # -- settings ---------------------------------------------------------------------------
    def settings_values(self) -> tuple[float, float, int, bool]:
        """``(score_threshold, nms_iou, top_k, class_agnostic)`` as the widgets show them."""
        return (self.score_slider.value() / SCORE_STEPS, self.iou_slider.value() / IOU_STEPS,
                self.topk_slider.value(), self.agnostic.isChecked())

    def settings(self) -> Any:
        from workbench.engine.postprocess import PostprocessSettings

        return PostprocessSettings(*self.settings_values())

    def set_settings_values(self, score: float, nms_iou: float, top_k: int,
                            class_agnostic: bool) -> None:
        """Move the widgets (one redraw at the end, not one per widget)."""
        widgets = (self.score_slider, self.iou_slider, self.topk_slider, self.agnostic)
        for w in widgets:
            w.blockSignals(True)
        self.score_slider.setValue(round(score * SCORE_STEPS))
        self.iou_slider.setValue(round(nms_iou * IOU_STEPS))
        self.topk_slider.setValue(min(max(int(top_k), 1), MAX_TOP_K))
        self.agnostic.setChecked(bool(class_agnostic))
        for w in widgets:
            w.blockSignals(False)
        self._on_setting_changed()

    def _on_setting_changed(self, *_args: object) -> None:
        score, iou, top_k, _agnostic = self.settings_values()
        self.score_value.setText(f"{score:.3f}")
        self.iou_value.setText("off" if iou >= 1.0 else f"{iou:.2f}")
        self.topk_value.setText(str(top_k))
        self.refresh()
        self.op_box.settings_changed()

    def save_settings(self) -> bool:
        """Write the current settings into the loaded checkpoint (atomic), on a worker (a
        checkpoint is read and rewritten whole: hundreds of MB for a large model). True when
        the write was started; the status bar says when it is done."""
        if self.checkpoint_path is None or self.detector is None:
            return False
        from workbench.engine.inference import save_settings

        settings, path, detector = self.settings(), self.checkpoint_path, self.detector
        self.save_button.setEnabled(False)
        job = self.jobs.submit(lambda _ctx: save_settings(path, settings),
                               key="save-settings", name="Save settings")

        def saved(_result: object) -> None:
            detector.settings = settings
            self.say(f"Saved score > {settings.score_threshold:.3f}, NMS IoU "
                     f"{settings.nms_iou:.2f}, top-k {settings.top_k} into {path.name}")

        job.finished.connect(saved)
        job.failed.connect(lambda msg: self._show_error(f"Could not save settings: {msg}"))
        for end in (job.finished, job.failed, job.cancelled):
            end.connect(lambda *_a: self.save_button.setEnabled(self.checkpoint_path is not None))
        return True

    # -- checkpoint -------------------------------------------------------------------------
    def _on_load_clicked(self) -> None:
        start = checkpoint_start_dir(self.checkpoint_path, getattr(self.window, "project", None))
        path, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", start,
                                              "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.set_checkpoint(path)

    def set_checkpoint(self, path: str | Path) -> None:
        """Load a checkpoint on a worker (torch and the engine are imported there too, if the
        background model loader has not yet); the sliders take its saved settings."""
        path = Path(path)
        self.checkpoint_label.setText(f"Loading {path.name}…")

        def load(_ctx: object) -> Any:
            from workbench.gui.workers.detectors import shared_detector

            return shared_detector(path)  # the Errors and Video panels run this one too

        job = self.jobs.submit(load, key="checkpoint", name=f"Loading {path.name}")
        job.finished.connect(lambda det, p=path: self.set_detector(det, p))
        job.failed.connect(lambda msg, p=path: self._show_error(f"Cannot load {p.name}: {msg}"))

    def set_detector(self, detector: Any, checkpoint_path: str | Path | None = None) -> None:
        """Use an already built :class:`RawDetector` (its settings move the sliders)."""
        self.detector = detector
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        name = self.checkpoint_path.name if self.checkpoint_path else "(in memory)"
        self.checkpoint_label.setText(
            f"<b>{name}</b> — {detector.name}, {count(len(detector.classes), 'class', 'classes')} "
            f"({', '.join(detector.classes[:6])}{'…' if len(detector.classes) > 6 else ''}), "
            f"{detector.device}")
        self._set_enabled(True)
        self.save_button.setEnabled(self.checkpoint_path is not None)
        self._raw, self._raw_path = None, None
        s = detector.settings
        self.op_box.set_detector(detector)
        self.set_settings_values(s.score_threshold, s.nms_iou, s.top_k, s.class_agnostic)
        if self.checkpoint_path is not None:
            self.checkpoint_loaded.emit(str(self.checkpoint_path))
            hub = hub_of(self.window)
            if hub is not None:
                hub.publish(CheckpointLoaded(self.checkpoint_path))
        if self.auto_run.isChecked():
            self.run_current()

    def _follow_training(self) -> None:
        """Follow training through the window's hub: each finished run's best checkpoint is
        loaded (unless another checkpoint was loaded by hand meanwhile), whichever order the
        Train and Detections panels were opened in; a run that finished before this panel was
        built is loaded at once (the hub's last ``TrainingFinished``)."""
        hub = hub_of(self.window)
        if hub is None:
            return
        hub.subscribe(TrainingFinished, self._on_training_finished, owner=self)
        finished = hub.last(TrainingFinished)
        if finished is not None and self.checkpoint_path is None:
            self._on_training_finished(finished)

    def _on_training_finished(self, event: TrainingFinished) -> None:
        path = event.best or event.last
        if not path:
            return
        path = Path(path)
        if not path.is_file():
            self._report(f"Training finished, but {path.name} is missing")
            return
        if self.checkpoint_path is None or self.checkpoint_path.parent == path.parent:
            self.set_checkpoint(path)

    def confirm_close(self) -> bool:
        """Quitting cancels a running pre-labeling (files already written stay written)."""
        self.prelabel.cancel()
        return True

    # -- running ----------------------------------------------------------------------------
    def _current_path(self) -> Path | None:
        path = self.window.current_image_path()
        return Path(path) if path else None

    def tiling(self) -> Any:
        """The :class:`workbench.engine.tiling.Tiling` the "Tiled" box asks for, or None."""
        if not self.tiled.isChecked():
            return None
        from workbench.engine.tiling import Tiling

        return Tiling(tile=self.tile_size.value())

    def _on_tiling_changed(self, *_args: object) -> None:
        """Tiled or not is another raw output (both stay cached): fetch the one now asked for."""
        if self.detector is None:
            return
        self._raw, self._raw_path = None, None
        self.refresh()
        self.run_current()

    @staticmethod
    def _raw_of(detector: Any, path: Path, tiling: Any) -> Any:
        """The raw output of ``path`` (on a worker), of the whole image or tiled."""
        if tiling is None:
            return detector.raw(path)
        from workbench.engine.tiling import tiled_raw_for_path

        return tiled_raw_for_path(detector, path, tiling)

    def _is_cached(self, path: Path, tiling: Any) -> bool:
        if tiling is None:
            return self.detector.is_cached(path)
        from workbench.engine.tiling import is_tiled_cached

        return is_tiled_cached(self.detector, path, tiling)

    def run_current(self, wait_s: float = 0.0) -> None:
        """Get the current image's raw output: from the cache at once, else on a worker
        (after ``wait_s`` there, unless a newer request cancels it meanwhile)."""
        path = self._current_path()
        if self.detector is None or path is None:
            return
        tiling = self.tiling()
        if self._is_cached(path, tiling):
            self._show_raw(path, self._raw_of(self.detector, path, tiling))
            return
        # while images flip by, one text (a new text per image relaid the panel out each time)
        self.stats.setText("Detecting once the image stays…" if wait_s else
                           f"Detecting on {path.name}"
                           f"{f' in tiles of {tiling.tile} px' if tiling else ''}…")

        def detect(ctx: JobContext, d: Any = self.detector, p: Path = path,
                   t: Any = tiling) -> Any:
            if wait_s and ctx.stop.wait(wait_s):
                raise JobCancelled("a newer image")
            return self._raw_of(d, p, t)

        # Latest request wins: a detection still queued or running for the previous image is
        # cancelled (a queued one never runs; a waiting one stops; a running one's result is
        # not shown).
        job = self.jobs.submit(detect, key="detect", name=f"Detection on {path.name}")
        self.detections_started += 1
        # a result for the other "Tiled" choice (toggled meanwhile) stays cached, unshown
        job.finished.connect(lambda raw, p=path, t=tiling: self._on_raw_ready(p, raw)
                             if t == self.tiling() else None)
        job.failed.connect(lambda msg, p=path: self._show_error(f"Detection on {p.name} "
                                                                f"failed: {msg}"))

    def _on_raw_ready(self, path: Path, raw: Any) -> None:
        self.raw_ready.emit(str(path))
        if path == self._current_path():
            self._show_raw(path, raw)

    def _show_raw(self, path: Path, raw: Any) -> None:
        self._raw, self._raw_path = raw, path
        self.refresh()

    def _on_window_image_changed(self, _path: str) -> None:
        now = time.monotonic()
        rapid = now - self._image_changed_at < RAPID_S
        self._image_changed_at = now
        self._raw, self._raw_path = None, None
        self.refresh()
        # A closed (or tabbed-away) panel costs nothing while the user labels: it detects
        # when it is shown again (showEvent, owner_shown_changed). A dock tabbed behind another
        # still says isVisible(); the layer list knows whether it is in front.
        if self.detector is not None and self.auto_run.isChecked() and self.on_screen():
            self.run_current(PAUSE_S if rapid else 0.0)
        else:
            self.jobs.cancel("detect")  # the image it was for is gone

    def on_screen(self) -> bool:
        """Open and in front of its dock group (not tabbed behind another panel)."""
        return self.isVisible() and self.overlay.registry.owner_shown(self)

    def _maybe_auto_run(self) -> None:
        if (self.detector is not None and self.auto_run.isChecked() and self._raw is None
                and self.on_screen()):
            self.run_current()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self._maybe_auto_run()
        self.op_box.start()

    def _on_owner_shown_changed(self, owner: object, shown: bool) -> None:
        if owner is self and shown:
            self._maybe_auto_run()

    def _on_window_annotation_changed(self, *_args: object) -> None:
        if self._raw is not None and self.marks_box.isChecked():
            self.refresh()

    # -- post-processing and drawing (every slider move) ------------------------------------
    def refresh(self) -> None:
        """Re-apply post-processing to the cached raw output and redraw. Never runs the model."""
        if self._raw is None or self.detector is None or self._raw_path is None:
            self.detections, self.marks, self.result = None, None, None
            self.overlay.clear()
            self.table_model.set_detections(None)
            self.detections_changed.emit()
            return
        from workbench.engine.postprocess import postprocess, to_image_detections

        start = time.perf_counter()
        settings = self.settings()
        result = postprocess(self._raw, settings, with_suppressed=self.show_suppressed.isChecked(),
                             max_suppressed=MAX_SUPPRESSED_SHOWN)
        det = to_image_detections(self._raw, result.kept, self.detector.classes,
                                  self._raw_path.stem)
        self.last_postprocess_ms = (time.perf_counter() - start) * 1000
        truth = ground_truth(self.window.current_annotation()) \
            if self.marks_box.isChecked() else None
        marks = mark(truth, det, self.eval_iou.value()) \
            if truth is not None and truth.objects else None
        suppressed = None
        if len(result.suppressed):
            found = result.suppressors >= 0
            rows, by = result.suppressed[found], result.suppressors[found]
            names = np.asarray(self.detector.classes)[self._raw.labels[rows].numpy() - 1]
            suppressed = (self._raw.boxes[rows].numpy(), names, self._raw.boxes[by].numpy())
        self.detections, self.marks, self.result = det, marks, result
        self.overlay.show(det, marks, truth, suppressed)
        self.table_model.set_detections(det, marks.status if marks else ())
        self._update_stats(result, marks)
        self.detections_changed.emit()

    def _update_stats(self, result: Any, marks: Marks | None) -> None:
        raw = self._raw
        text = (f"{len(raw):,} raw → {result.n_candidates:,} above score → "
                 f"<b>{len(result.kept)}</b> kept")
        if result.n_examined < result.n_candidates:
            text += f" (NMS examined the best {result.n_examined:,})"
        text += f" · {self.last_postprocess_ms:.1f} ms"
        if marks is not None:
            c = marks.counts
            text += (f"<br>TP {c['TP']} · FP {c['FP']} (dashed) · FN {c['FN']} (red dash-dot); "
                     f"VOC matching at IoU ≥ {self.eval_iou.value():.2f}")
        self.stats.setText(text)

    def _on_table_selection_changed(self, *_args: object) -> None:
        rows = self.selected_rows()
        if self.detections is not None and len(rows) == 1:
            self.overlay.select(self.detections.boxes[rows[0]].tolist())
        else:
            self.overlay.select(None)

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    # -- accepting as annotations -----------------------------------------------------------
    def objects_for(self, rows: list[int]) -> list[VocObject]:
        """Detections ``rows`` as model-made :class:`VocObject` s (clamped to the image)."""
        if self.detections is None:
            return []
        width, height = self._raw.image_size
        det = self.detections
        return [VocObject(name=str(det.labels[i]),
                          box=clamp_box(tuple(float(v) for v in det.boxes[i]), width, height),
                          score=round(float(det.scores[i]), 4), model_made=True)
                for i in rows]

    def accept_selected(self) -> int:
        return self._accept(self.selected_rows())

    def accept_all(self) -> int:
        return self._accept(list(range(len(self.detections or []))))

    def _accept(self, rows: list[int]) -> int:
        objects = self.objects_for(rows)
        if objects:
            self.window.add_objects(objects)
            self.say(f"Added {count(len(objects), 'model-made box', 'model-made boxes')}; "
                         "review them, then accept "
                         "or edit (they stay marked as suggestions until then)")
        return len(objects)

    # -- feedback ---------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """Log ``text`` and show it in the window's status bar for a while."""
        log.info("%s", text)
        if hasattr(self.window, "statusBar"):
            self.window.statusBar().showMessage(text, 6000)

    def _report(self, message: str) -> None:
        """A problem found on the GUI thread: shown here and in the status bar."""
        self._show_error(message)
        self.say(message)

    def _show_error(self, message: str) -> None:
        """Show ``message`` in the panel (a failed job: the status bar already has it from
        :func:`workbench.gui.jobs.job_errors`)."""
        self.stats.setText(f"<span style='color:#d33'>{message}</span>")
        if self.detector is None:
            self.checkpoint_label.setText("No checkpoint loaded")
        self.failed.emit(message)

    def shutdown(self) -> None:
        """Stop background work (the window calls it on close; also on panel destruction)."""
        self.prelabel.cancel()
        self.op_box.shutdown()
        self.jobs.shutdown(30_000)
        self.long_jobs.shutdown(30_000)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.shutdown()
        super().closeEvent(event)
