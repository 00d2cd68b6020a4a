"""Classics panel, page "RoI pooling": one box pooled from a detector's real feature map.

Pick a box — a ground-truth box, one of this panel's RPN proposals, or a box of another panel's
layer (selective-search proposals, detections) — from the list or by clicking it on the image.
The page computes the detector's feature maps for the photo once per detector and image (a
background job: :func:`workbench.engine.feature_maps.compute_features`), takes the map the
detector would pool the box from (Faster R-CNN: torchvision's ``LevelMapper``) or the one you
choose, and pools the box there with :mod:`workbench.core.roi_pooling` — numpy, bin by bin,
equal to ``torchvision.ops.roi_pool`` / ``roi_align``. What is drawn is what was computed:

* ``roi_pool`` (Fast R-CNN): the box rounded to whole map cells, and the cells each of the
  ``H x W`` bins takes the maximum over (orange);
* ``roi_align`` (Mask R-CNN, Faster R-CNN's heads): the un-rounded bins and their bilinear
  sample points (cyan);
* the map's cells around the box (faint), all mapped back to photo pixels.

The pooled ``(C, H, W)`` outputs are shown as heat maps, the mean over ``G`` groups of channels,
``roi_pool`` and ``roi_align`` side by side with one colour scale per group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox,
    QVBoxLayout, QWidget,
)

from workbench.core.roi_pooling import PoolBins, roi_align, roi_pool
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.panels.classics_common import (
    FEATURE_FAMILIES, HeatMap, fill_model_combo, smallest_containing,
)

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

GROUND_TRUTH = "ground truth"
RPN_SOURCE = "RPN proposals (this panel)"
AUTO_MAP = -1
BOX_COLOR = QColor(255, 255, 255)
POOL_COLOR = QColor(255, 150, 30)
POOL_COLOR_2 = QColor(255, 235, 60)
ALIGN_COLOR = QColor(0, 220, 255)
MAP_COLOR = QColor(255, 255, 255, 70)
DEFAULT_MODEL = "fasterrcnn_mobilenet_v3_large_320_fpn"


def channel_groups(pooled: np.ndarray, groups: int) -> np.ndarray:
    """``(C, H, W)`` → ``(G, H, W)``: the mean of each of ``G`` contiguous channel groups."""
    parts = np.array_split(pooled, max(1, min(groups, pooled.shape[0])), axis=0)
    return np.stack([p.mean(axis=0) for p in parts])


class RoiPage(QWidget):
    """The RoI-pooling page. ``features_for(key)`` submits the feature job (the panel's)."""

    pooled = Signal()                  #: a box was pooled and drawn
    features_wanted = Signal(str)      #: model key: the panel computes the maps

    def __init__(self, window: PanelWindow, layers: dict[str, BoxLayer],
                 rpn_boxes: Callable[[], np.ndarray]) -> None:
        super().__init__()
        self.main_window = window
        self.layers = layers
        self.rpn_boxes = rpn_boxes
        self.other_sources: Callable[[], dict[str, np.ndarray]] = dict
        self.features: Any = None          # engine.feature_maps.FeatureMaps
        self.map_index = -1
        self.box: np.ndarray | None = None  # photo px, the one asked for
        self.pooled_box: np.ndarray | None = None  # the one the results below belong to
        #: the panel's JobRunner: pooling runs there (a 7x7 RoI Align on a large FPN map,
        #: or adaptive sampling, takes from ms to seconds); None: at once (scripts)
        self.runner: Any = None
        self.pool_out: np.ndarray | None = None
        self.align_out: np.ndarray | None = None
        self.pool_bins: PoolBins | None = None
        self.align_bins: PoolBins | None = None
        self._build_ui()

    # -- UI -------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.model_combo = QComboBox()
        fill_model_combo(self.model_combo, FEATURE_FAMILIES, DEFAULT_MODEL)
        self.checkpoint_button = QPushButton("Checkpoint…")
        self.map_combo = QComboBox()
        self.map_combo.setToolTip("Auto: the map the detector pools this box from (Faster "
                                  "R-CNN: torchvision's LevelMapper, FPN eq. 1)")
        self.out_h, self.out_w = QSpinBox(), QSpinBox()
        for spin in (self.out_h, self.out_w):
            spin.setRange(1, 32)
            spin.setValue(7)
        self.sampling = QSpinBox()
        self.sampling.setRange(0, 8)
        self.sampling.setValue(2)
        self.sampling.setToolTip("roi_align samples per bin and axis (0: adaptive, "
                                 "ceil(bin size)); torchvision's detectors use 2")
        self.groups = QSpinBox()
        self.groups.setRange(1, 8)
        self.groups.setValue(4)
        self.groups.setToolTip("Heat maps: mean over this many groups of channels")
        self.source_combo = QComboBox()
        self.index_spin = QSpinBox()
        self.index_spin.setRange(-1, -1)
        self.index_spin.setSpecialValueText("—")
        self.pick_button = QPushButton("Pick on image")
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("Then click a box of the chosen source on the image")
        self.show_pool = QCheckBox("roi_pool cells")
        self.show_pool.setChecked(True)
        self.show_align = QCheckBox("roi_align samples")
        self.show_align.setChecked(True)
        self.status = QLabel("Pick a box.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Detector", self.model_combo)
        form.addRow("", self.checkpoint_button)
        form.addRow("Map", self.map_combo)
        size = QHBoxLayout()
        size.addWidget(self.out_h)
        size.addWidget(QLabel("×"))
        size.addWidget(self.out_w)
        form.addRow("Bins", size)
        form.addRow("Samples", self.sampling)
        box_row = QHBoxLayout()
        box_row.addWidget(self.source_combo, 1)
        box_row.addWidget(self.index_spin)
        form.addRow("Box", box_row)
        form.addRow("", self.pick_button)
        show_row = QHBoxLayout()
        show_row.addWidget(self.show_pool)
        show_row.addWidget(self.show_align)
        form.addRow("Draw", show_row)
        self.heat_grid = QGridLayout()
        self.heat_grid.addWidget(QLabel("group"), 0, 0)
        pool_title = QLabel("<span style='color:#ff961e'>roi_pool</span> (max)")
        align_title = QLabel("<span style='color:#00dcff'>roi_align</span> (bilinear)")
        self.heat_grid.addWidget(pool_title, 0, 1)
        self.heat_grid.addWidget(align_title, 0, 2)
        self.pool_maps: list[HeatMap] = []
        self.align_maps: list[HeatMap] = []
        self.group_labels: list[QLabel] = []
        groups_row = QHBoxLayout()
        groups_row.addWidget(QLabel("Channel groups"))
        groups_row.addWidget(self.groups)
        groups_row.addStretch(1)
        self.heat_note = QLabel("Each heat map: the mean of a group of channels, dark = its "
                                "lowest bin, yellow = its highest (hover for the values).")
        self.heat_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(groups_row)
        layout.addWidget(self.heat_note)
        layout.addLayout(self.heat_grid)
        layout.addStretch(1)
        self.model_combo.currentIndexChanged.connect(lambda _i: self.request_features())
        self.map_combo.currentIndexChanged.connect(lambda _i: self.update_pooling())
        for spin in (self.out_h, self.out_w, self.sampling, self.groups):
            spin.valueChanged.connect(lambda _v: self.update_pooling())
        self.source_combo.currentIndexChanged.connect(lambda _i: self._on_source())
        self.index_spin.valueChanged.connect(lambda _v: self.update_pooling())
        self.show_pool.toggled.connect(lambda _on: self.draw())
        self.show_align.toggled.connect(lambda _on: self.draw())

    @property
    def model_key(self) -> str:
        return str(self.model_combo.currentData())

    # -- boxes ----------------------------------------------------------------------------
    def boxes_of(self, source: str) -> np.ndarray:
        if source == GROUND_TRUTH:
            ann = self.main_window.current_annotation()
            boxes = [o.box for o in ann.objects if not o.model_made] if ann is not None else []
            return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if source == RPN_SOURCE:
            return np.asarray(self.rpn_boxes(), dtype=np.float64).reshape(-1, 4)
        return np.asarray(self.other_sources().get(source, np.zeros((0, 4))),
                          dtype=np.float64).reshape(-1, 4)

    def refresh_sources(self) -> None:
        """Fill the box list: ground truth, this panel's RPN proposals, other panels' layers."""
        current = self.source_combo.currentText() or GROUND_TRUTH
        names = [GROUND_TRUTH, RPN_SOURCE, *self.other_sources()]
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        self.source_combo.addItems(names)
        self.source_combo.setCurrentIndex(max(names.index(current) if current in names else 0,
                                              0))
        self.source_combo.blockSignals(False)
        self._on_source(keep=True)

    def _on_source(self, keep: bool = False) -> None:
        n = len(self.boxes_of(self.source_combo.currentText()))
        value = self.index_spin.value()
        self.index_spin.blockSignals(True)
        self.index_spin.setRange(-1, n - 1)     # -1 ("—"): no box
        if not keep or value < 0 or value >= n:
            self.index_spin.setValue(0 if n else -1)
        self.index_spin.blockSignals(False)
        self.update_pooling()

    def select(self, source: str, index: int) -> None:
        """Pool box ``index`` of ``source`` (what the list and a click on the image do)."""
        if self.source_combo.findText(source) < 0:
            self.refresh_sources()
        self.source_combo.setCurrentIndex(self.source_combo.findText(source))
        self.index_spin.setValue(index)
        self.update_pooling()

    def pick_at(self, x: float, y: float) -> int:
        """The smallest box of the chosen source under ``(x, y)``, selected; -1 if none."""
        source = self.source_combo.currentText()
        k = smallest_containing(self.boxes_of(source), x, y)
        if k >= 0:
            self.select(source, k)
            self.pick_button.setChecked(False)
        return k

    # -- features -------------------------------------------------------------------------
    def request_features(self) -> None:
        self.features = None
        self.features_wanted.emit(self.model_key)

    def set_features(self, features: Any) -> None:
        """Maps of the current photo (``FeatureMaps``) computed — or given by a test."""
        self.features = features
        previous = self.map_combo.currentData()
        self.map_combo.blockSignals(True)
        self.map_combo.clear()
        self.map_combo.addItem("auto (as the detector pools)", AUTO_MAP)
        for i, m in enumerate(features.maps):
            h, w = m.size
            self.map_combo.addItem(f"{m.name}: {h}×{w}, 1/{1 / m.spatial_scale:g}"
                                   + ("" if m.pooled else " (not pooled)"), i)
        k = self.map_combo.findData(previous)
        self.map_combo.setCurrentIndex(k if k >= 0 else 0)
        self.map_combo.blockSignals(False)
        self.update_pooling()

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    # -- pooling --------------------------------------------------------------------------
    def update_pooling(self) -> None:
        boxes = self.boxes_of(self.source_combo.currentText())
        k = self.index_spin.value()
        self.box = boxes[k] if 0 <= k < len(boxes) else None
        f = self.features
        if self.box is None or f is None or not f.maps:
            if self.runner is not None:
                self.runner.cancel("pool")
            self.pool_out = self.align_out = self.pool_bins = self.align_bins = None
            self.pooled_box = None
            if f is not None or self.box is None:
                self.status.setText("Pick a box." if f is not None else self.status.text())
            self.draw()
            self._show_heat()
            return
        choice = self.map_combo.currentData()
        auto = choice is None or choice == AUTO_MAP
        index = f.level_for(self.box) if auto else int(choice)
        m = f.maps[index]
        box, box_in = self.box.copy(), f.to_input(self.box)
        size = (self.out_h.value(), self.out_w.value())
        sampling = self.sampling.value()
        how = "chosen by the detector's level mapper" if auto and f.fpn else \
            ("auto" if auto else "chosen")

        def pool(_ctx: Any) -> tuple[Any, ...]:  # numpy only: on the panel's worker
            pooled, pool_bins = roi_pool(m.values, box_in, size, m.spatial_scale)
            aligned, align_bins = roi_align(m.values, box_in, size, m.spatial_scale, sampling,
                                            aligned=False)
            return pooled, pool_bins, aligned, align_bins

        if self.runner is None:
            self._on_pooled(f, index, box, how, pool(None))
            return
        job = self.runner.submit(pool, key="pool", name="Classics: RoI pooling")
        job.finished.connect(lambda result: self._on_pooled(f, index, box, how, result))

    def _on_pooled(self, f: Any, index: int, box: np.ndarray, how: str,
                   result: tuple[Any, ...]) -> None:
        if f is not self.features:
            return
        self.map_index, self.pooled_box = index, box
        self.pool_out, self.pool_bins, self.align_out, self.align_bins = result
        m = f.maps[index]
        x1, y1, x2, y2 = box
        r = self.pool_bins.roi
        samples = self.align_bins.samples.shape[2] if self.align_bins.samples is not None else 0
        self.status.setText(
            f"Box {x2 - x1:.0f}×{y2 - y1:.0f} px → map '{m.name}' ({how}), "
            f"{m.size[0]}×{m.size[1]}×{m.values.shape[0]}, scale 1/{1 / m.spatial_scale:g} "
            f"of the {f.input_size[1]}×{f.input_size[0]} input. roi_pool takes cells "
            f"x {r[0]:.0f}–{r[2] - 1:.0f}, y {r[1]:.0f}–{r[3] - 1:.0f}; roi_align "
            f"{samples} samples per bin. {f.model}.")
        self.draw()
        self._show_heat()
        self.pooled.emit()

    def to_photo(self, rects: np.ndarray) -> np.ndarray:
        """Map-unit ``(..., 4)`` rectangles → photo px."""
        f = self.features
        m = f.maps[self.map_index]
        rx, ry = f.ratio
        scale = np.array([rx, ry, rx, ry]) * m.spatial_scale
        return np.asarray(rects, dtype=np.float64).reshape(-1, 4) / scale

    def draw(self) -> None:
        layers = self.layers
        if self.pooled_box is None or self.pool_bins is None or self.align_bins is None:
            for name in ("classics:roi-box", "classics:roi-cells", "classics:roi-bins",
                         "classics:roi-samples", "classics:roi-map"):
                layers[name].clear()
            if self.box is not None:
                layers["classics:roi-box"].set_boxes(self.box[None], BOX_COLOR, width=2.5)
            return
        pool_roi = self.to_photo(np.array(self.pool_bins.roi))
        layers["classics:roi-box"].set_boxes(
            np.vstack([self.pooled_box[None], pool_roi]), [BOX_COLOR, POOL_COLOR],
            labels=["", "roi_pool: RoI rounded to whole cells"], width=2.5, labels_below=True)
        m = self.features.maps[self.map_index]
        x1, y1, x2, y2 = self.pool_bins.roi
        hh, ww = m.size
        c0, c1 = max(int(x1) - 1, 0), min(int(x2) + 1, ww)
        r0, r1 = max(int(y1) - 1, 0), min(int(y2) + 1, hh)
        j, i = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        cells = np.stack([j, i, j + 1, i + 1], -1).reshape(-1, 4).astype(np.float64)
        layers["classics:roi-map"].set_boxes(self.to_photo(cells), MAP_COLOR, width=1.0)
        if self.show_pool.isChecked():
            bins = self.pool_bins.bins.reshape(-1, 4).astype(np.float64)
            oh, ow = self.pool_bins.bins.shape[:2]
            checker = (np.add.outer(np.arange(oh), np.arange(ow)) % 2).reshape(-1)
            keep = (bins[:, 2] > bins[:, 0]) & (bins[:, 3] > bins[:, 1])
            # neighbouring bins may share a row of cells: alternate colours tell them apart
            layers["classics:roi-cells"].set_boxes(
                self.to_photo(bins[keep]), [POOL_COLOR, POOL_COLOR_2],
                color_index=checker[keep], width=1.5, fill_alpha=40)
        else:
            layers["classics:roi-cells"].clear()
        if self.show_align.isChecked() and self.align_bins.samples is not None:
            layers["classics:roi-bins"].set_boxes(
                self.to_photo(self.align_bins.bins.reshape(-1, 4)), ALIGN_COLOR, width=1.0,
                style=Qt.PenStyle.DashLine)
            pts = self.align_bins.samples.reshape(-1, 2)
            f = self.features
            rx, ry = f.ratio
            px = pts / (np.array([rx, ry]) * m.spatial_scale)
            side = max(1.0, 0.06 / m.spatial_scale / max(rx, ry))
            layers["classics:roi-samples"].set_boxes(
                np.concatenate([px - side, px + side], axis=1), ALIGN_COLOR, width=1.0,
                fill_alpha=255)
        else:
            layers["classics:roi-bins"].clear()
            layers["classics:roi-samples"].clear()

    def _show_heat(self) -> None:
        n = self.groups.value()
        while len(self.pool_maps) < n:
            row = len(self.pool_maps) + 1
            label = QLabel(str(row))
            self.group_labels.append(label)
            self.pool_maps.append(HeatMap())
            self.align_maps.append(HeatMap())
            self.heat_grid.addWidget(label, row, 0)
            self.heat_grid.addWidget(self.pool_maps[-1], row, 1)
            self.heat_grid.addWidget(self.align_maps[-1], row, 2)
        for k, (label, pm, am) in enumerate(zip(self.group_labels, self.pool_maps,
                                                self.align_maps)):
            shown = k < n
            for w in (label, pm, am):
                w.setVisible(shown)
        if self.pool_out is None or self.align_out is None:
            for pm, am in zip(self.pool_maps, self.align_maps):
                pm.set_values(None)
                am.set_values(None)
            return
        pg = channel_groups(self.pool_out, n)
        ag = channel_groups(self.align_out, n)
        c = self.pool_out.shape[0]
        for k in range(len(pg)):  # each map from its own min (dark) to max (yellow)
            self.pool_maps[k].set_values(pg[k], float(pg[k].min()), float(pg[k].max()))
            self.align_maps[k].set_values(ag[k], float(ag[k].min()), float(ag[k].max()))
            chans = np.array_split(np.arange(c), len(pg))[k]
            self.group_labels[k].setText(f"ch {chans[0]}–{chans[-1]}" if len(chans) > 1
                                         else f"ch {chans[0]}")
        for k in range(len(pg), n):
            self.pool_maps[k].set_values(None)
            self.align_maps[k].set_values(None)
