"""Selective-search panel: region proposals on the current image, coloured by IoU with the truth.

Runs :func:`workbench.core.proposals.selective_search` on a worker (progress bar, Cancel),
caches each result per image and parameters, and shows the time it took. The Top-N slider and
the area / aspect filters (the book keeps 5 %–100 % of the image) only re-filter the cached list.
Each shown proposal is coloured by its IoU with the nearest ground-truth box (red 0 → yellow 0.5
→ green 1); recall at IoU 0.5 and 0.7 and MABO are computed on what is shown.

Proposals already computed for training (the on-disk
:class:`~workbench.core.proposal_cache.ProposalCache`, same pixels and parameters) are read from
there at once, marked "(disk cache)"; the panel only reads that cache, it does not write it.

Below, the "Segments and grouping" section (:mod:`.proposals_segments`) shows the graph-based
segmentation selective search starts from and its hierarchical grouping, step by step.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar,
    QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from workbench.core.boxes import iou_matrix
from workbench.core.proposal_cache import ProposalCache, proposal_key
from workbench.core.proposals import (
    ProposalParams, ProposalResult, ProposalsCancelled, filter_proposals, mabo, recall_at,
    selective_search,
)
from workbench.gui.canvas.layer_list import LayerList
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.jobs import Job, JobContext, JobRunner
from workbench.gui.panels.proposals_segments import SegmentsSection

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

log = logging.getLogger(__name__)

CACHE_SIZE = 32
#: selective-search units run at once (OpenCV releases the GIL; the boxes do not depend on it)
SEARCH_THREADS = max(1, min(4, os.cpu_count() or 1))
IOU_BINS = 10  # colours are quantised so the layer paints in a handful of pen groups


def iou_color(iou: float) -> QColor:
    """Red (0) → yellow (0.5) → green (1)."""
    t = min(max(iou, 0.0), 1.0)
    if t < 0.5:
        return QColor(255, int(510 * t), 40)
    return QColor(int(255 * (2 - 2 * t)), 230, 40)


class ProposalsPanel(QWidget):
    """Dock contents; ``window``: what a panel may use of the labeling window
    (:class:`~workbench.gui.panel_api.PanelWindow`)."""

    proposals_ready = Signal()   #: a run finished (or came from the cache) and was drawn
    redrawn = Signal()
    failed = Signal(str)

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.main_window = window
        self.runner = JobRunner(self)
        self.layer = BoxLayer("proposals")
        self.layer_list = LayerList.of(window.canvas.scene())
        self.layer_list.add(self.layer, self, per_image=True)
        self.result: ProposalResult | None = None
        self.shown = np.zeros((0,), dtype=np.int64)       # indices into result.boxes
        self.best_iou = np.zeros((0,))                    # per shown proposal
        self._cache: OrderedDict[tuple, ProposalResult] = OrderedDict()
        self._task: Job | None = None
        self._from_disk: set[tuple] = set()
        self._build_ui()
        window.image_changed.connect(self._on_image_changed)
        window.annotation_changed.connect(self.redraw)

    # -- UI -------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["single", "fast", "quality"])
        self.mode_combo.setCurrentText("fast")
        self.method_combo = QComboBox()
        self.method_combo.addItem("ours: coarse pass + full-resolution segments", "ours")
        self.method_combo.addItem("OpenCV at full resolution", "opencv")
        self.side_spin = QSpinBox()
        self.side_spin.setRange(64, 4096)
        self.side_spin.setValue(320)
        self.side_spin.setSuffix(" px")
        self.side_spin.setPrefix("at most ")
        self.side_spin.setToolTip(
            "Ours: the longest side of the coarse pass is at most this; it also keeps no more "
            "than 8 % of the photo's pixels (and no less than half this side), so on photos "
            "under ~1100 px a larger value changes nothing. Small objects come from a "
            "full-resolution segment pass either way.")
        self.auto_check = QCheckBox("Run on every image")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.top_slider = QSlider(Qt.Orientation.Horizontal)
        self.top_slider.setRange(1, 1)
        self.top_label = QLabel("")
        self.min_area = QDoubleSpinBox()
        self.max_area = QDoubleSpinBox()
        for spin, value in ((self.min_area, 0.0), (self.max_area, 100.0)):
            spin.setRange(0.0, 100.0)
            spin.setDecimals(1)
            spin.setSuffix(" %")
            spin.setValue(value)
        self.book_button = QPushButton("5–100 %")
        self.book_button.setToolTip("Keep proposals covering 5 % to 100 % of the image")
        self.max_aspect = QDoubleSpinBox()
        self.max_aspect.setRange(0.0, 50.0)
        self.max_aspect.setSpecialValueText("any")
        self.max_aspect.setValue(0.0)
        self.show_check = QCheckBox("Show on canvas")
        self.show_check.setChecked(True)
        self.time_label = QLabel("")
        self.stats_label = QLabel("")
        self.stats_label.setWordWrap(True)
        self.stats_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Mode", self.mode_combo)
        form.addRow("Method", self.method_combo)
        form.addRow("Coarse pass", self.side_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.auto_check)
        top = QHBoxLayout()
        top.addWidget(self.top_slider, 1)
        top.addWidget(self.top_label)
        area = QHBoxLayout()
        area.addWidget(self.min_area)
        area.addWidget(QLabel("to"))
        area.addWidget(self.max_area)
        filters = QFormLayout()
        filters.addRow("Top N", top)
        filters.addRow("Area", area)
        # a preset on its own row: beside the two boxes the row was the panel's widest (issue 14)
        filters.addRow("", self.book_button)
        filters.addRow("Max aspect", self.max_aspect)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.time_label)
        layout.addLayout(filters)
        layout.addWidget(self.show_check)
        layout.addWidget(self.stats_label)
        legend = QLabel("Colour = IoU with the nearest ground-truth box: "
                        f"<span style='color:{iou_color(0).name()}'>■ 0</span> "
                        f"<span style='color:{iou_color(0.5).name()}'>■ 0.5</span> "
                        f"<span style='color:{iou_color(1).name()}'>■ 1</span>")
        legend.setWordWrap(True)
        layout.addWidget(legend)
        self.segments = SegmentsSection(self.main_window, self)
        layout.addWidget(self.segments)
        layout.addStretch(1)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.method_combo.currentIndexChanged.connect(
            lambda _i: self.side_spin.setEnabled(self.method == "ours"))
        for signal in (self.top_slider.valueChanged, self.min_area.valueChanged,
                       self.max_area.valueChanged, self.max_aspect.valueChanged):
            signal.connect(lambda _v: self.redraw())
        self.book_button.clicked.connect(self._book_filter)
        self.show_check.toggled.connect(lambda _on: self._sync_layers())

    @property
    def method(self) -> str:
        return str(self.method_combo.currentData())

    def params(self) -> ProposalParams:
        return ProposalParams(mode=self.mode_combo.currentText(),  # type: ignore[arg-type]
                              method=self.method,  # type: ignore[arg-type]
                              max_side=self.side_spin.value())

    def _book_filter(self) -> None:
        self.min_area.setValue(5.0)
        self.max_area.setValue(100.0)

    # -- running --------------------------------------------------------------------------
    def _key(self) -> tuple | None:
        path = self.main_window.current_image_path()
        return None if path is None else (str(path), self.params())

    def run(self) -> None:
        """Proposals for the current image: from the cache, else on the worker."""
        key = self._key()
        rgb = self.main_window.current_image_rgb()
        if key is None or rgb is None:
            self.time_label.setText("Open an image first.")
            return
        if key in self._cache:
            self._cache.move_to_end(key)
            self._show_result(self._cache[key], cached=True,
                              where="disk cache" if key in self._from_disk else "cached")
            return
        self.cancel()
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        params = key[1]
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        task = self.runner.submit(lambda ctx: self._job(ctx, bgr, params), key=key)
        task.progressed.connect(self._on_progress)
        task.finished.connect(lambda result, k=key: self._on_finished(k, result))
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_cancelled)
        self._task = task

    @staticmethod
    def _job(ctx: JobContext, bgr: np.ndarray,
             params: ProposalParams) -> tuple[ProposalResult, bool]:
        """``(result, from the on-disk cache)``: a training run's proposals if it stored them
        for these pixels and parameters, else a fresh search (not stored: the panel only
        reads that cache)."""
        cache = ProposalCache()
        entry = cache.get(proposal_key(bgr, params))
        if entry is not None:
            h, w = bgr.shape[:2]
            return ProposalResult(boxes=entry["boxes"], seconds=entry["seconds"],
                                  params=params, image_size=(h, w),
                                  work_size=entry["work_size"]), True
        try:
            return selective_search(bgr, params, progress=ctx.progress,
                                    cancelled=ctx.cancelled, threads=SEARCH_THREADS), False
        except ProposalsCancelled:
            ctx.check()
            raise

    def cancel(self) -> None:
        if self._task is not None and not self._task.done:
            self._task.cancel()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(1000 * fraction))
        self.progress.setFormat(message)

    def _end_run(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._task = None

    def _on_finished(self, key: tuple, outcome: tuple[ProposalResult, bool]) -> None:
        self._end_run()
        result, from_disk = outcome
        if from_disk:
            self._from_disk.add(key)
        self._cache[key] = result
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        if key == self._key():
            self._show_result(result, cached=from_disk, where="disk cache")

    def _on_failed(self, message: str) -> None:
        self._end_run()
        self.progress.setFormat("failed")
        self.time_label.setText(f"Failed: {message}")
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self._end_run()
        self.progress.setValue(0)
        self.progress.setFormat("cancelled")

    def _show_result(self, result: ProposalResult, *, cached: bool,
                     where: str = "cached") -> None:
        self.result = result
        self.progress.setValue(1000)
        self.progress.setFormat(f"{result.count} proposals")
        h, w = result.image_size
        wh, ww = result.work_size
        p = result.params
        how = (f"ours {p.mode}, segmented at {ww}×{wh}" if p.method == "ours"
               else f"OpenCV {p.mode} at {w}×{h}")
        self.time_label.setText(f"{result.seconds:.3f} s — {how}" + (f" ({where})" if cached
                                                                     else ""))
        self.top_slider.blockSignals(True)
        self.top_slider.setRange(1, max(1, result.count))
        self.top_slider.setValue(min(max(1, result.count), 200))
        self.top_slider.blockSignals(False)
        self.redraw()
        self.proposals_ready.emit()

    def _on_image_changed(self, _path: str) -> None:
        self.cancel()
        self.result = None
        self.layer.clear()
        self.stats_label.setText("")
        key = self._key()
        if key is not None and (key in self._cache or self.auto_check.isChecked()):
            self.run()
        else:
            self.time_label.setText("Press Run for this image.")
        self.segments.on_image_changed()

    # -- drawing --------------------------------------------------------------------------
    def ground_truth(self) -> np.ndarray:
        ann = self.main_window.current_annotation()
        boxes = [o.box for o in ann.objects if not o.model_made] if ann is not None else []
        return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)

    def redraw(self) -> None:
        r = self.result
        if r is None:
            self.layer.clear()
            return
        aspect = self.max_aspect.value() or None
        self.shown = filter_proposals(r.boxes, r.image_size,
                                      min_area_frac=self.min_area.value() / 100.0,
                                      max_area_frac=self.max_area.value() / 100.0,
                                      max_aspect=aspect, top_n=self.top_slider.value())
        boxes = r.boxes[self.shown]
        gt = self.ground_truth()
        if len(gt) and len(boxes):
            self.best_iou = iou_matrix(boxes, gt).max(axis=1)
        else:
            self.best_iou = np.zeros(len(boxes))
        binned = np.round(self.best_iou * IOU_BINS) / IOU_BINS
        colors = [iou_color(v) for v in binned] if len(gt) else \
            [QColor(80, 200, 255)] * len(boxes)
        # Draw the best-overlapping proposals last (on top).
        order = np.argsort(self.best_iou, kind="stable")
        self.layer.set_boxes(boxes[order], [colors[i] for i in order], width=1.2)
        self.top_label.setText(f"{len(boxes)} / {r.count}")
        if len(gt):
            self.stats_label.setText(
                f"{len(boxes)} shown · recall@0.5 {recall_at(gt, boxes, 0.5):.3f} · "
                f"recall@0.7 {recall_at(gt, boxes, 0.7):.3f} · MABO {mabo(gt, boxes):.3f} "
                f"({len(gt)} ground-truth boxes)")
        else:
            self.stats_label.setText(f"{len(boxes)} shown · no ground truth on this image")
        self.redrawn.emit()

    # -- lifetime -------------------------------------------------------------------------
    def _sync_layers(self) -> None:
        """'Show on canvas'; the canvas's layer list hides the layer with the panel itself
        (dock closed or tabbed behind another panel)."""
        self.layer_list.set_wanted(self.layer, self.show_check.isChecked())

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.segments.shutdown()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.shutdown()
        super().closeEvent(event)
