"""The Metrics panel: evaluate a results file against the open project, per class, with curves.

* **Load** a results folder (devkit ``*_det_*_<class>.txt``, VOC XML with ``<score>``, per-image
  JSON) or a COCO results JSON (:mod:`workbench.core.results`); the ground truth is the project's
  saved XML (:func:`workbench.core.results.project_ground_truth`).
* **Metric**: VOC2007 11-point, VOC2010+ all-point (IoU threshold, strict ``>``) or COCO
  AP@[.5:.95]; the table header and the summary line name the metric every number belongs to.
* **Table**: class, objects (non-difficult), detections, AP; "n/a" for classes with no ground
  truth. Selecting rows shows only their curves.
* **PR curves** (pyqtgraph), one per class in its class colour: for VOC the ranked
  precision/recall points the AP is computed from, for COCO pycocotools' interpolated precision
  at the 101 recall points at IoU 0.5.
* **On the image**: the current image's loaded detections scoring ``>=`` the score threshold,
  judged with the VOC rules (:func:`workbench.core.metrics.match_image`) against the live
  annotation — TP green, FP red dashed, matched-difficult grey, missed objects (FN) orange.

No torch here; evaluation is numpy and fast (a 5,000-image COCO evaluation takes seconds), but
not fast enough for the GUI thread: reading the results and the ground truth and every
evaluation run on the panel's job runner (:mod:`workbench.gui.jobs`), latest request wins, and
each evaluation is cached per (metric, IoU, strict) — moving the IoU control back and forth
re-uses them. Only the current image's marks are computed on the GUI thread (one image).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog,
    QHBoxLayout, QHeaderView, QLabel, QPushButton, QSplitter, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from workbench.core.detections import ImageDetections
from workbench.gui.canvas.layer_list import LayerList
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.canvas.palette import class_color
from workbench.gui.jobs import JobRunner
from workbench.gui.panels.deferred import BuildQueue, Deferred
from workbench.gui.panels.pr_plot import pr_plot
from workbench.gui.panels.table_fill import filling

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

log = logging.getLogger(__name__)

METRIC_LABELS = {"voc07": "VOC07 11-point", "voc": "VOC all-point", "coco": "COCO [.5:.95]"}
TP_COLOR, FP_COLOR = QColor(60, 200, 90), QColor(240, 60, 60)
IGNORED_COLOR, FN_COLOR = QColor(170, 170, 170), QColor(255, 150, 30)


class MetricsOverlay:
    """TP / FP / ignored detections and missed objects of the current image, as box layers."""

    def __init__(self, scene: Any, owner: QWidget | None = None) -> None:
        self.fn = BoxLayer("metrics-fn")
        self.ignored = BoxLayer("metrics-ignored")
        self.fp = BoxLayer("metrics-fp")
        self.tp = BoxLayer("metrics-tp")
        self.layers = [self.fn, self.ignored, self.fp, self.tp]
        self.registry = LayerList.of(scene)
        for layer in self.layers:
            self.registry.add(layer, owner, per_image=True)

    def clear(self) -> None:
        for layer in self.layers:
            layer.clear()

    def set_visible(self, visible: bool) -> None:
        """The panel's "marks" box (the Layers list and the dock decide too)."""
        for layer in self.layers:
            self.registry.set_wanted(layer, visible)


class MetricsPanel(QWidget):
    """Per-class AP table, PR curves and TP/FP/FN marks for a loaded results file; ``window``:
    what a panel may use of the labeling window (:class:`~workbench.gui.panel_api.PanelWindow`)."""

    evaluated = Signal()        #: after every (re-)evaluation
    marks_changed = Signal()    #: after the current image's marks were redrawn
    failed = Signal(str)

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.window = window
        self.results_path: Path | None = None
        self.detections: list[ImageDetections] = []
        self._by_image: dict[str, ImageDetections] = {}
        self.ground_truth: dict[str, Any] = {}
        self.result: Any = None
        self.match: Any = None
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._det_counts: dict[str, int] = {}
        #: finished evaluations of the loaded results: (metric, iou, strict) -> (result, curves,
        #: summary extra); cleared when other results or another project are loaded
        self._cache: dict[tuple, tuple[Any, dict, str]] = {}
        self.jobs = JobRunner(self)
        self.overlay = MetricsOverlay(window.canvas.scene(), self)
        self._build_ui()
        window.image_changed.connect(lambda _path: self.update_marks())
        window.annotation_changed.connect(self.update_marks)
        window.project_changed.connect(self._on_project_changed)

    # -- UI ---------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.folder_button = QPushButton("Results folder…")
        self.folder_button.setToolTip("devkit *_det_*_<class>.txt, VOC XML with <score>, or "
                                      "per-image JSON (workbench detect)")
        self.folder_button.clicked.connect(self._on_folder_clicked)
        self.file_button = QPushButton("COCO JSON…")
        self.file_button.clicked.connect(self._on_file_clicked)
        self.source_label = QLabel("No results loaded")
        self.source_label.setWordWrap(True)

        self.metric_combo = QComboBox()
        for key, label in METRIC_LABELS.items():
            self.metric_combo.addItem(label, key)
        self.metric_combo.currentIndexChanged.connect(lambda _i: self.evaluate())
        self.iou_spin = QDoubleSpinBox()
        self.iou_spin.setRange(0.05, 0.95)
        self.iou_spin.setSingleStep(0.05)
        self.iou_spin.setValue(0.5)
        self.iou_spin.setPrefix("IoU ")
        self.iou_spin.setToolTip("IoU threshold of the VOC metrics and of the marks on the image")
        self.iou_spin.valueChanged.connect(self._on_iou_changed)
        self.strict_box = QCheckBox("strict >")
        self.strict_box.setToolTip("IoU must exceed the threshold (py-faster-rcnn's voc_eval) "
                                   "instead of reaching it (VOC devkit)")
        self.strict_box.toggled.connect(self._on_iou_changed)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = QTableWidget(0, 4)
        self.table.setMinimumHeight(90)
        self.table.setHorizontalHeaderLabels(["Class", "Objects", "Dets", "AP"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)

        # the PR plot in the turn after the panel's (panels/deferred.py; issue 14, GUI stalls)
        self.builds = BuildQueue(self)
        self._plot_box = Deferred(self._make_plot, self.builds, min_height=200)

        # short: with its score box it set the panel's width (issue 14, panels fit)
        self.marks_box = QCheckBox("Mark TP/FP/FN at score ≥")
        self.marks_box.setToolTip("Mark true / false positives and missed objects on the image "
                                  "for detections at or above this score")
        self.marks_box.setChecked(True)
        self.marks_box.toggled.connect(lambda _c: self.update_marks())
        self.score_spin = QDoubleSpinBox()
        self.score_spin.setRange(0.0, 1.0)
        self.score_spin.setSingleStep(0.05)
        self.score_spin.setDecimals(2)
        self.score_spin.setValue(0.5)
        self.score_spin.valueChanged.connect(lambda _v: self.update_marks())
        self.marks_label = QLabel("")

        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.file_button)
        options = QHBoxLayout()
        options.addWidget(self.metric_combo, 1)
        options.addWidget(self.iou_spin)
        options.addWidget(self.strict_box)
        marks = QHBoxLayout()
        marks.addWidget(self.marks_box)
        marks.addWidget(self.score_spin)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.source_label)
        top_layout.addLayout(options)
        top_layout.addWidget(self.summary)
        top_layout.addWidget(self.table, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self._plot_box)
        splitter.setSizes([320, 260])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(marks)
        layout.addWidget(self.marks_label)

    def _make_plot(self) -> pg.PlotWidget:
        plot = pr_plot(200)
        self.legend = plot.addLegend(offset=(-10, 10))
        return plot

    @property
    def plot(self) -> pg.PlotWidget:
        """The PR curves' plot (built in the turn after the panel, or now when asked for)."""
        return self._plot_box.widget()

    # -- loading ----------------------------------------------------------------------------
    def _on_folder_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Results folder")
        if folder:
            self.load_results(folder)

    def _on_file_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "COCO results JSON", "", "JSON (*.json)")
        if path:
            self.load_results(path)

    @property
    def busy(self) -> bool:
        """Reading results or evaluating in the background."""
        return self.jobs.busy

    def load_results(self, path: str | Path) -> bool:
        """Read ``path`` and evaluate it against the project, on a worker. False (and
        ``failed``) when it cannot start; a file that cannot be read emits ``failed`` later,
        a successful load ``evaluated``."""
        from workbench.core.results import by_image, project_ground_truth, read_results

        project = self.window.project
        if project is None:
            return self._fail("Open a folder of labelled images first")
        path = Path(path)
        if not path.exists():
            return self._fail(f"{path}: no such file or folder")

        def work(_ctx: object) -> tuple:  # on a worker: no Qt here
            import workbench.core.metrics  # noqa: F401 - here, not in update_marks on the GUI

            ground_truth = project_ground_truth(project)
            if not ground_truth:
                raise ValueError("No image of this folder has a VOC XML annotation")
            classes = sorted({o.name for a in ground_truth.values() for o in a.objects})
            detections = read_results(path, image_ids=list(ground_truth), classes=classes)
            unknown = {d.image_id for d in detections if d.image_id not in ground_truth}
            kept = [d for d in detections if d.image_id in ground_truth]
            counts: dict[str, int] = {}
            for d in kept:
                for label in d.labels.tolist():
                    counts[label] = counts.get(label, 0) + 1
            return ground_truth, kept, by_image(kept), unknown, counts

        self.source_label.setText(f"Reading {path.name} …")
        job = self.jobs.submit(work, key="load", name="Metrics: reading results")
        job.finished.connect(lambda loaded, p=path: self._on_loaded(p, *loaded))
        job.failed.connect(self._show_failure)
        return True

    def _on_loaded(self, path: Path, ground_truth: dict, detections: list, by_image: dict,
                   unknown: set, counts: dict) -> None:
        self.jobs.cancel("evaluate")
        self._cache = {}
        self.detections, self._by_image, self._det_counts = detections, by_image, counts
        self.ground_truth = ground_truth
        self.results_path = path
        n_det = sum(len(d) for d in self.detections)
        text = f"{self.results_path.name}: {n_det} detections on {len(self._by_image)} images"
        if unknown:
            text += f" ({len(unknown)} images without ground truth ignored)"
        self.source_label.setText(text)
        self.evaluate()
        self.update_marks()
        return True

    def _fail(self, message: str) -> bool:
        log.warning("metrics: %s", message)
        self.source_label.setText(message)
        self.window.statusBar().showMessage(f"Metrics: {message}", 10000)
        self.failed.emit(message)
        return False

    def _show_failure(self, message: str) -> None:
        """A failed job: shown here (the status bar has it from workbench.gui.jobs)."""
        self.source_label.setText(message)
        self.failed.emit(message)

    def _on_project_changed(self) -> None:
        self.jobs.cancel("load")
        self.jobs.cancel("evaluate")
        self._cache, self._det_counts = {}, {}
        self.detections, self._by_image, self.ground_truth = [], {}, {}
        self.result, self.results_path = None, None
        self.source_label.setText("No results loaded")
        self.summary.setText("")
        self.table.setRowCount(0)
        self._set_curves({})
        self.overlay.clear()

    # -- evaluation -------------------------------------------------------------------------
    @property
    def metric(self) -> str:
        return str(self.metric_combo.currentData())

    def _eval_key(self) -> tuple:
        if self.metric == "coco":  # COCO has its own 10 thresholds
            return ("coco",)
        return (self.metric, round(self.iou_spin.value(), 4), self.strict_box.isChecked())

    def evaluate(self) -> None:
        """(Re-)compute the chosen metric and refresh the table, summary and curves: from the
        cache at once, else on a worker (a newer request replaces one still running)."""
        if not self.ground_truth:
            return
        key = self._eval_key()
        cached = self._cache.get(key)
        if cached is not None:
            self.jobs.cancel("evaluate")
            self._show_evaluation(key, *cached)
            return
        ground_truth, detections = self.ground_truth, self.detections
        job = self.jobs.submit(lambda _ctx: _evaluate(ground_truth, detections, key),
                               key="evaluate", name="Metrics: evaluation")
        job.finished.connect(lambda done, k=key: self._on_evaluated(k, done))
        job.failed.connect(self._show_failure)
        self.summary.setText(f"Evaluating {METRIC_LABELS[key[0]]}"
                             + (f" at IoU {key[1]:g}" if len(key) > 1 else "") + " …")

    def _on_evaluated(self, key: tuple, done: tuple[Any, dict, str]) -> None:
        self._cache[key] = done
        if key == self._eval_key():
            self._show_evaluation(key, *done)

    def _show_evaluation(self, key: tuple, result: Any, curves: dict, extra: str) -> None:
        self.result = r = result
        self.summary.setText(f"<b>{r.description}</b>: mAP <b>{_fmt(r.map)}</b> over "
                             f"{len(r.per_class)} classes, {len(self.ground_truth)} images{extra}")
        self._fill_table(r)
        self._set_curves(curves)
        self.evaluated.emit()

    def _on_iou_changed(self, *_args: object) -> None:
        if self.metric != "coco":  # COCO has its own 10 thresholds
            self.evaluate()
        self.update_marks()

    def _fill_table(self, r: Any) -> None:
        counts = self._det_counts
        self.table.setHorizontalHeaderLabels(
            ["Class", "Objects", "Dets", f"AP ({METRIC_LABELS[self.metric]})"])
        with filling(self.table):  # the fitted columns measured once, not per cell
            self.table.setRowCount(len(r.classes))
            for row, name in enumerate(r.classes):
                ap = r.per_class.get(name)
                cells = [name, str(r.num_positives.get(name, 0)), str(counts.get(name, 0)),
                         "n/a" if ap is None else f"{ap:.4f}"]
                for col, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if col:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    if col == 0:
                        item.setForeground(class_color(name))
                    self.table.setItem(row, col, item)

    def _set_curves(self, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        plot = self.plot  # (and the legend) built now if not yet
        points = {name: self._curve_points(recall, precision)
                  for name, (recall, precision) in curves.items()}
        if list(points) == list(self._curves):
            # the same classes (another IoU threshold, say): new points in the same curves —
            # removing and adding them and their legend rows was ~20-30 ms of the GUI thread
            # per evaluation (issue 14, GUI stalls)
            for name, (x, y) in points.items():
                self._curves[name].setData(x, y)
            self._on_table_selection_changed()   # the rows chosen still choose the curves
        else:
            for item in self._curves.values():
                plot.removeItem(item)
            self.legend.clear()
            self._curves = {}
            for name, (x, y) in points.items():
                pen = pg.mkPen(class_color(name), width=2)
                self._curves[name] = plot.plot(x, y, pen=pen, name=name, stepMode=None)
        self.plot.setTitle(f"PR curves — {METRIC_LABELS[self.metric]}"
                           + (" at IoU 0.5" if self.metric == "coco" else
                              f" at IoU {self.iou_spin.value():g}"), color="#dddddd",
                           size="9pt")

    def _curve_points(self, recall: np.ndarray,
                      precision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A class's PR curve as drawn: COCO's valid points; VOC's ranked points as a step
        curve starting at recall 0."""
        if self.metric == "coco":
            valid = precision >= 0
            return recall[valid], precision[valid]
        return np.r_[0.0, recall], np.r_[precision[:1], precision]

    def _on_table_selection_changed(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        chosen = {self.table.item(r, 0).text() for r in rows}
        for name, item in self._curves.items():
            item.setVisible(not chosen or name in chosen)

    @property
    def curve_names(self) -> list[str]:
        """Classes whose curve is shown (tests, screenshots)."""
        return [n for n, item in self._curves.items() if item.isVisible()]

    # -- marks on the current image ---------------------------------------------------------
    def update_marks(self) -> None:
        """Judge the current image's loaded detections at the score threshold; draw them."""
        self.overlay.clear()
        self.match = None
        path = self.window.current_image_path()
        visible = self.marks_box.isChecked()
        self.overlay.set_visible(visible)
        if path is None or not self._by_image or not visible:
            self.marks_label.setText("")
            self.marks_changed.emit()
            return
        # only with results loaded (their job imported it on a worker): the first image shown
        # after the panel opened imported the metrics modules on the GUI thread
        from workbench.core.metrics import match_image

        det = self._by_image.get(Path(path).stem, ImageDetections(Path(path).stem))
        annotation = self.window.current_annotation()
        if annotation is not None:  # model suggestions are not ground truth
            from dataclasses import replace

            annotation = replace(annotation, objects=tuple(
                o for o in annotation.objects if not o.model_made))
        m = match_image(annotation, det, iou_threshold=self.iou_spin.value(),
                        score_threshold=self.score_spin.value(),
                        strict=self.strict_box.isChecked())
        self.match = m

        def labels(mask: np.ndarray, tag: str) -> list[str]:
            return [f"{c} {s:.2f} {tag}" for c, s in zip(det.labels[mask], det.scores[mask])]

        # detections' labels under their boxes: above, they covered the ground truth's labels
        self.overlay.tp.set_boxes(det.boxes[m.tp], TP_COLOR, labels(m.tp, "TP"), width=2.0,
                                  labels_below=True)
        self.overlay.fp.set_boxes(det.boxes[m.fp], FP_COLOR, labels(m.fp, "FP"), width=2.0,
                                  style=Qt.PenStyle.DashLine, labels_below=True)
        self.overlay.ignored.set_boxes(det.boxes[m.ignored], IGNORED_COLOR,
                                       labels(m.ignored, "difficult"), labels_below=True)
        objects = annotation.objects if annotation is not None else ()
        fn_boxes = np.asarray([objects[i].box for i in m.fn], dtype=np.float64).reshape(-1, 4)
        self.overlay.fn.set_boxes(fn_boxes, FN_COLOR, [f"{objects[i].name} FN" for i in m.fn],
                                  width=2.0, style=Qt.PenStyle.DashDotLine)
        c = m.counts
        self.marks_label.setText(f"This image: {c['tp']} TP · {c['fp']} FP · {c['fn']} FN"
                                 + (f" · {c['ignored']} on difficult" if c["ignored"] else "")
                                 + f" (VOC rules, IoU {self.iou_spin.value():g})")
        self.marks_changed.emit()


def _evaluate(ground_truth: dict, detections: list, key: tuple) -> tuple[Any, dict, str]:
    """One evaluation (on a worker): the result, its PR curves by class, the summary's extra."""
    from workbench.core.metrics import evaluate_coco, evaluate_voc

    if key[0] == "coco":
        result = evaluate_coco(ground_truth, detections)
        curves = {c: result.pr_curve(c, 0.5) for c in result.per_class}
        s = result.summary()
        return result, curves, (f" · AP50 {_fmt(s['map50'])} · AP75 {_fmt(s['map75'])} · "
                                f"AR100 {_fmt(s['ar100'])}")
    metric, iou, strict = key
    result = evaluate_voc(ground_truth, detections, iou_threshold=iou,
                          use_07_metric=metric == "voc07", strict=strict)
    curves = {c: (cv.recall, cv.precision) for c, cv in result.curves.items()
              if c in result.per_class}
    return result, curves, ""


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"
