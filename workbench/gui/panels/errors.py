"""Errors panel: what the loaded checkpoint gets wrong on the validation split (or the folder).

* **Which checkpoint**: the one the Detections panel loaded (``CheckpointLoaded`` on the hub)
  or the best one of a finished training (``TrainingFinished``); both panels share one model
  and its raw outputs (:func:`workbench.gui.workers.detectors.shared_detector`).
* **Evaluate** runs the network once per image on a worker (progress, Cancel), post-processes
  with the checkpoint's NMS / top-k at score 0 and matches every detection once
  (:class:`workbench.core.error_analysis.ErrorIndex`): the score box then only re-counts.
  Detections are kept in memory per (checkpoint, images, NMS / top-k) and on disk under
  ``<project>/runs/.errors-cache/`` (the name hashes the checkpoint file, the images' mtimes and
  the settings); saved label changes (``AnnotationsWritten``) re-read the ground truth and match
  again, without running the network.
* **Shows** precision / recall / F1 and TP / FP / FN at ``score ≥ s`` and IoU ``t`` (the VOC
  rules, micro-averaged; see :mod:`workbench.core.error_analysis`), the class-agnostic
  confusion matrix (a click on a cell lists its images), and a table of images by FP, FN,
  confused detections and worst score, filtered by class and object size.
* **Enter / N** in the table goes to the next image with an error (FP or FN) in the table's
  order; the image's marks (TP green, FP red, FN orange, confused magenta) are drawn on the
  canvas as the per-image ``errors`` layer (:mod:`.errors_overlay`).

No torch at import time: the engine is imported inside the worker jobs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelectionModel, Signal
from PySide6.QtWidgets import QWidget

from workbench.core.detections import ImageDetections
from workbench.core.wording import count
from workbench.gui.hub import AnnotationsWritten, CheckpointLoaded, TrainingFinished, hub_of
from workbench.gui.jobs import JobRunner
from workbench.gui.panels import errors_data as data
from workbench.gui.panels.errors_overlay import ErrorsOverlay
from workbench.gui.panels.errors_table import ImageRow
from workbench.gui.panels.errors_ui import build_widgets
from workbench.gui.workers import detectors
from workbench.gui.workers.priority import BACKGROUND_NICENESS

if TYPE_CHECKING:
    from workbench.core.error_analysis import ErrorIndex
    from workbench.gui.panel_api import PanelWindow

log = logging.getLogger(__name__)

#: Up to this many detections a score change is counted on the GUI thread (under ~5 ms).
SYNC_DETECTIONS = 20_000


def image_rows(per_image: list[Any]) -> list[ImageRow]:
    """The table's rows from :meth:`ErrorIndex.per_image` (worst score only with a FP)."""
    return [ImageRow(e.image, e.tp, e.fp, e.fn, e.confused,
                     e.worst_score if e.fp else None, frozenset(e.classes), frozenset(e.sizes))
            for e in per_image]


class ErrorsPanel(QWidget):
    """Dock contents; ``window``: what a panel may use of the labeling window."""

    evaluated = Signal()        #: after the numbers, matrix and table were (re)filled
    marks_changed = Signal()    #: after the current image's marks were drawn or cleared
    failed = Signal(str)

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.window = window
        self.detector: Any = None
        self.checkpoint_path: Path | None = None
        self.image_set: data.ImageSet | None = None
        self.detections: dict[str, ImageDetections] | None = None
        self.index: ErrorIndex | None = None
        self.confusion_result: Any = None
        self.point: Any = None
        self._key: tuple | None = None        # the detector's identity
        self._pending = False                 # a checkpoint waits to be evaluated when shown
        self._sets: dict[str, data.ImageSet] = {}        # scope -> images + ground truth
        self._dets: dict[tuple, dict[str, ImageDetections]] = {}
        self._id_of_path: dict[Path, str] = {}
        self.jobs = JobRunner(self)
        self.long_jobs = JobRunner(self, niceness=BACKGROUND_NICENESS)
        self.overlay = ErrorsOverlay(window.canvas.scene(), self)
        build_widgets(self)
        self._connect()
        self._follow_hub()

    # -- wiring -------------------------------------------------------------------------------
    def _connect(self) -> None:
        self.evaluate_button.clicked.connect(self.evaluate)
        self.cancel_button.clicked.connect(self.cancel)
        self.score_spin.valueChanged.connect(lambda _v: self.apply_threshold())
        self.iou_spin.valueChanged.connect(lambda _v: self.evaluate() if self.index else None)
        self.scope_combo.currentIndexChanged.connect(
            lambda _i: self.evaluate() if self.detector is not None and self.index else None)
        self.confusion.cell_clicked.connect(self.show_cell)
        self.cell_list.itemClicked.connect(lambda item: self.go_to(item.text()))
        for combo in (self.class_filter, self.size_filter):
            combo.currentIndexChanged.connect(lambda _i: self._apply_filters())
        self.errors_only.toggled.connect(lambda _c: self._apply_filters())
        self.table.next_requested.connect(self.next_error)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)
        self.marks_box.toggled.connect(self.overlay.set_wanted)
        self.window.image_changed.connect(lambda _p: self.update_marks())
        self.window.project_changed.connect(self._on_project_changed)

    def _follow_hub(self) -> None:
        hub = hub_of(self.window)
        if hub is None:
            return
        hub.subscribe(CheckpointLoaded, lambda e: self.set_checkpoint(e.path), owner=self)
        hub.subscribe(TrainingFinished, self._on_training_finished, owner=self)
        hub.subscribe(AnnotationsWritten, self._on_annotations_written, owner=self)
        loaded, finished = hub.last(CheckpointLoaded), hub.last(TrainingFinished)
        if loaded is not None:
            self.set_checkpoint(loaded.path)
        elif finished is not None:
            self._on_training_finished(finished)

    # -- the checkpoint -----------------------------------------------------------------------
    def set_checkpoint(self, path: str | Path) -> None:
        """Use checkpoint ``path`` (loaded on a worker, shared with the Detections panel)."""
        path = Path(path)
        try:
            key = detectors.checkpoint_key(path)
        except OSError as exc:
            self._show_error(f"Cannot read {path.name}: {exc}")
            return
        if key == self._key:
            return
        self.checkpoint_label.setText(f"Loading {path.name}…")
        job = self.jobs.submit(lambda _ctx: detectors.shared_detector(path), key="checkpoint",
                               name=f"Loading {path.name}")
        job.finished.connect(lambda det, p=path, k=key: self.set_detector(det, p, k))
        job.failed.connect(lambda msg, p=path: self._show_error(f"Cannot load {p.name}: {msg}"))

    def set_detector(self, detector: Any, checkpoint_path: str | Path | None = None,
                     key: tuple | None = None) -> None:
        """Evaluate ``detector`` (a ``RawDetector``, or anything with ``classes``,
        ``settings`` and ``raw(path)``); evaluation starts now when the panel is shown, else
        when it is."""
        self.detector = detector
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self._key = key or ("detector", id(detector))
        name = self.checkpoint_path.name if self.checkpoint_path else "(in memory)"
        s = detector.settings
        self.checkpoint_label.setText(
            f"<b>{name}</b> — {count(len(detector.classes), 'class', 'classes')}; NMS IoU "
            f"{s.nms_iou:.2f}, top-k {s.top_k}")
        self._clear_results()
        self._pending = True
        if self.isVisible():
            self.evaluate()

    def _on_training_finished(self, event: TrainingFinished) -> None:
        path = event.best or event.last
        if path and Path(path).is_file():
            self.set_checkpoint(path)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._pending and self.detector is not None and not self.long_jobs.busy:
            self.evaluate()

    # -- evaluating ---------------------------------------------------------------------------
    def scope(self) -> str:
        return str(self.scope_combo.currentData())

    def _settings_key(self) -> tuple:
        s = self.detector.settings
        return (s.nms_iou, s.top_k, s.class_agnostic)

    def evaluate(self) -> bool:
        """Evaluate the detector over the chosen images on a worker (latest request wins);
        False without a detector or a project."""
        project = self.window.project
        if self.detector is None or project is None:
            self.status.setText("Load a checkpoint and open a labelled folder first")
            return False
        self._pending = False
        detector, scope, iou = self.detector, self.scope(), self.iou_spin.value()
        dets_key = (self._key, scope, self._settings_key())
        known_set, known_dets = self._sets.get(scope), self._dets.get(dets_key)
        root = getattr(project, "root", None)
        ckpt = detectors.checkpoint_key(self.checkpoint_path) if self.checkpoint_path else None

        def work(ctx: Any) -> tuple:  # on a worker: no Qt here
            image_set = known_set or data.scope_images(project, scope)
            dets = known_dets
            cache = None
            if dets is None and ckpt is not None and root is not None:
                cache = data.cache_file(Path(root), ckpt, image_set.paths,
                                        detector.settings.to_dict())
                dets = data.load_detections(cache)
                if dets is not None and not set(image_set.ids) <= set(dets):
                    dets = None
            if dets is None:
                n = len(image_set)
                raws = data.raw_outputs(
                    detector, image_set.paths, stop=ctx.stop,
                    progress=lambda i, _n: ctx.progress(0.9 * i / max(n, 1),
                                                        f"Detecting {i}/{n}"))
                dets = data.detections_at_floor(raws, image_set.ids, detector.classes,
                                                detector.settings, ctx.stop)
                if cache is not None:
                    try:
                        data.save_detections(cache, dets)
                    except OSError as exc:
                        log.warning("%s: detections not kept on disk (%s)", cache, exc)
            ctx.progress(0.95, "Matching")
            from workbench.core.error_analysis import ErrorIndex

            ids = [i for i in image_set.ids if i in dets]
            index = ErrorIndex(data.restrict(image_set.ground_truth, dets),
                               [dets[i] for i in ids], detector.classes, iou=iou)
            if index.image_ids:
                index.marks(index.image_ids[0], 1.0)  # sorts once here, not on the GUI thread
            return image_set, dets, index

        job = self.long_jobs.submit(work, key="evaluate", name="Errors: evaluating")
        job.progressed.connect(self._on_progress)
        job.finished.connect(lambda result, k=dets_key, s=scope: self._on_evaluated(k, s,
                                                                                     *result))
        job.failed.connect(lambda msg: self._show_error(f"Evaluation failed: {msg}"))
        job.cancelled.connect(self._on_cancelled)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.evaluate_button.setEnabled(False)
        self.status.setText("Evaluating…")
        return True

    def cancel(self) -> None:
        self.long_jobs.cancel("evaluate")

    def _on_progress(self, fraction: float, message: str) -> None:
        # at most 10 a second: QProgressBar.setValue repaints at once (~10 ms a call on the
        # GUI thread, once per val image; issue 14, GUI stalls)
        now = time.monotonic()
        if fraction < 1 and now - getattr(self, "_progress_at", 0.0) < 0.1:
            return
        self._progress_at = now
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.status.setText(message)

    def _job_ended(self) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.evaluate_button.setEnabled(True)

    def _on_cancelled(self) -> None:
        if not self.long_jobs.busy:  # not replaced by a newer evaluation
            self._job_ended()
            self.status.setText("Evaluation cancelled")

    def _on_evaluated(self, dets_key: tuple, scope: str, image_set: data.ImageSet,
                      dets: dict[str, ImageDetections], index: ErrorIndex) -> None:
        self._job_ended()
        self._sets[scope] = image_set
        self._dets[dets_key] = dets
        self.image_set, self.detections, self.index = image_set, dets, index
        self._id_of_path = {p: i for i, p in zip(image_set.ids, image_set.paths)}
        names = list(index.classes)
        current = self.class_filter.currentData()
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("All classes", None)
        for name in names:
            self.class_filter.addItem(name, name)
        self.class_filter.setCurrentIndex(max(self.class_filter.findData(current), 0))
        self.class_filter.blockSignals(False)
        self.status.setText(f"{image_set.description}; {len(index.det.scores):,} detections "
                            "(score ≥ 0, the checkpoint's NMS / top-k)")
        self.apply_threshold()

    def apply_threshold(self) -> None:
        """Count again at the score box's value (no matching, no network): at once for up to
        :data:`SYNC_DETECTIONS` detections, else in a job (100,000 detections: 45–100 ms)."""
        index = self.index
        if index is None:
            return
        score = self.score_spin.value()

        def count_at(_ctx: object = None) -> tuple:
            return (index.operating_point(score), index.confusion(score),
                    image_rows(index.per_image(score)))

        if len(index.det.scores) <= SYNC_DETECTIONS:
            self._show_threshold(score, *count_at())
            return
        job = self.jobs.submit(count_at, key="threshold", name="Errors: counting")
        job.finished.connect(lambda result, i=index, s=score: self._show_threshold(s, *result)
                             if i is self.index else None)

    def _show_threshold(self, score: float, point: Any, confusion: Any,
                        rows: list[ImageRow]) -> None:
        self.point = p = point
        self.confusion_result = confusion
        self.summary.setText(
            f"<b>P {p.precision:.3f} · R {p.recall:.3f} · F1 {p.f1:.3f}</b><br>"
            f"TP {p.tp} · FP {p.fp} · FN {p.fn} at score ≥ {score:.2f}, IoU {p.iou:.2f}")
        self.confusion.set_matrix(self.confusion_result.labels, self.confusion_result.matrix)
        self.cell_list.clear()
        self.cell_list.hide()
        self.cell_label.setText("Click a cell to list its images")
        self.table_model.set_rows(rows)
        self._apply_filters()
        self.update_marks()
        self.evaluated.emit()

    def _apply_filters(self) -> None:
        self.table_proxy.set_filters(self.class_filter.currentData(),
                                     self.size_filter.currentData(),
                                     self.errors_only.isChecked())

    # -- the confusion matrix -----------------------------------------------------------------
    def show_cell(self, gt_label: str, pred_label: str) -> list[str]:
        """List the images behind cell (``gt_label``, ``pred_label``)."""
        if self.confusion_result is None:
            return []
        stems = self.confusion_result.images(gt_label, pred_label)
        self.cell_label.setText(f"Truth <b>{gt_label}</b>, predicted <b>{pred_label}</b>: "
                                f"{len(stems)} image{'s' if len(stems) != 1 else ''}")
        self.cell_list.clear()
        self.cell_list.addItems(stems)
        self.cell_list.setVisible(bool(stems))
        return stems

    # -- navigation ---------------------------------------------------------------------------
    def table_ids(self) -> list[str]:
        """Image ids in the table's order (sorted, filtered)."""
        return self.table_proxy.image_ids()

    def next_error(self) -> str | None:
        """Select (and show) the next image with a FP or FN after the selected row, in the
        table's order, wrapping around; None when no row has one."""
        proxy = self.table_proxy
        n = proxy.rowCount()
        rows = self.table.selectionModel().selectedRows()
        start = rows[0].row() if rows else -1
        for step in range(1, n + 1):
            r = (start + step) % n
            row = proxy.row_at(r)
            if row.errors:
                self.table.selectionModel().setCurrentIndex(
                    proxy.index(r, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows)
                self.table.scrollTo(proxy.index(r, 0))
                return row.image_id
        self.status.setText("No image with an error in the table")
        return None

    def _on_table_selection(self, *_args: object) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.go_to(self.table_proxy.row_at(rows[0].row()).image_id)

    def go_to(self, image_id: str) -> bool:
        """Show image ``image_id`` in the window (with its marks)."""
        if self.image_set is None or image_id not in self.image_set.ids:
            return False
        path = self.image_set.paths[self.image_set.ids.index(image_id)]
        row = self.window.session.row_of(path)
        if row is None:
            self.status.setText(f"{image_id} is not in the file list")
            return False
        shown = self.window.show_row(row)
        self.update_marks()  # also when it was already shown (no image_changed then)
        return bool(shown)

    def update_marks(self) -> None:
        """Draw the current image's marks (or clear them when it was not evaluated)."""
        path = self.window.current_image_path()
        image_id = self._id_of_path.get(Path(path)) if path is not None else None
        if self.index is None or image_id is None or image_id not in self.index.image_ids:
            if len(self.overlay):
                self.overlay.clear()
        else:
            self.overlay.show(self.index.marks(image_id, self.score_spin.value()))
        self.marks_changed.emit()

    # -- invalidation -------------------------------------------------------------------------
    def _clear_results(self) -> None:
        self.index = self.confusion_result = self.point = None
        self.image_set, self.detections, self._id_of_path = None, None, {}
        self.table_model.set_rows([])
        self.confusion.set_matrix([], [])
        self.cell_list.clear()
        self.summary.setText("")
        self.overlay.clear()

    def _on_annotations_written(self, _event: AnnotationsWritten) -> None:
        """Saved labels changed: the ground truth is read again and matched again (the
        network's outputs stay)."""
        self._sets.clear()
        if self.index is not None or self.long_jobs.busy:
            self.status.setText("Labels changed — evaluating again")
            self.evaluate()

    def _on_project_changed(self) -> None:
        self.long_jobs.cancel("evaluate")
        self._sets.clear()
        self._dets.clear()
        self._clear_results()
        self._pending = self.detector is not None
        if self._pending and self.isVisible():
            self.evaluate()

    # -- feedback -----------------------------------------------------------------------------
    def _show_error(self, message: str) -> None:
        self._job_ended()
        self.status.setText(f"<span style='color:#d33'>{message}</span>")
        self.failed.emit(message)

    def shutdown(self) -> None:
        self.jobs.shutdown(30_000)
        self.long_jobs.shutdown(30_000)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.shutdown()
        super().closeEvent(event)
