"""The Detections panel's widgets and their layout (wiring lives in :mod:`.detections`).

Top to bottom: checkpoint line, Load / Detect, "detect on every image", "Tiled" with the tile
size, the three sliders (score threshold, NMS IoU, top-k) with the operating point on the val
split beside them (:mod:`.detections_op`: precision / recall / F1, PR curve, Best F1),
class-agnostic / show-suppressed toggles, TP/FP/FN marks with the evaluation IoU, "save
settings", the statistics line, the detections table, Accept selected / all, and the pre-label
box. Everything sits in a scroll area, because the dock often shares a column with others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QDoubleSpinBox, QFormLayout, QFrame, QHBoxLayout, QLabel,
    QPushButton, QScrollArea, QSlider, QSpinBox, QTableView, QVBoxLayout, QWidget,
)

from workbench.gui.panels.detections_op import OperatingPointBox
from workbench.gui.panels.detections_prelabel import PrelabelBox
from workbench.gui.panels.detections_table import DetectionsTableModel

if TYPE_CHECKING:
    from workbench.gui.panels.detections import DetectionsPanel


class _FitWidthScroll(QScrollArea):
    """Vertical-only scrolling whose minimum width is its body's: the dock cannot get narrower
    than the rows (at 1280x800 on xcb the themed body needs ~260 px and the dock was ~230 px,
    so the whole panel was clipped on the right)."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        body = self.widget()
        if body is None:
            return hint
        width = (body.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
                 + 2 * self.frameWidth())
        return QSize(max(hint.width(), width), hint.height())

SCORE_STEPS = 1000  # score slider resolution (0.001)
IOU_STEPS = 100
MAX_TOP_K = 500


def _slider(maximum: int, minimum: int = 0) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(minimum, maximum)
    return s


def build_widgets(panel: DetectionsPanel) -> None:
    """Create the panel's widgets as attributes of ``panel`` and lay them out in it."""
    panel.checkpoint_label = QLabel("No checkpoint loaded")
    panel.checkpoint_label.setWordWrap(True)
    panel.load_button = QPushButton("Load…")
    panel.load_button.setToolTip("Load a checkpoint (.pt) saved by training")
    panel.run_button = QPushButton("Detect")
    panel.run_button.setToolTip("Run the detector on the current image (once; sliders "
                               "re-use its output)")
    panel.auto_run = QCheckBox("Detect on every image")
    panel.auto_run.setChecked(True)
    # Tiled inference (engine/tiling.py): small objects in large images.
    panel.tiled = QCheckBox("Tiled")
    panel.tiled.setToolTip("Run the network on overlapping tiles (and once on the whole image, "
                           "downscaled) and merge by NMS: finds small objects in large images; "
                           "costs one network pass per tile")
    panel.tile_size = QSpinBox()
    panel.tile_size.setRange(64, 8192)
    panel.tile_size.setSingleStep(64)
    panel.tile_size.setValue(640)
    panel.tile_size.setSuffix(" px")
    panel.tile_size.setToolTip("Tile side; neighbouring tiles overlap by 20 %")
    panel.tile_size.setEnabled(False)
    panel.tiled.toggled.connect(panel.tile_size.setEnabled)

    panel.score_slider = _slider(SCORE_STEPS)
    panel.iou_slider = _slider(IOU_STEPS)
    panel.topk_slider = _slider(MAX_TOP_K, 1)
    panel.score_value, panel.iou_value, panel.topk_value = QLabel(), QLabel(), QLabel()
    for label in (panel.score_value, panel.iou_value, panel.topk_value):
        label.setMinimumWidth(44)
    panel.agnostic = QCheckBox("Class-agnostic NMS")
    panel.show_suppressed = QCheckBox("Show suppressed")
    panel.show_suppressed.setToolTip("Faint boxes: what NMS removed; a line links each to "
                                    "the kept box that suppressed it")
    panel.marks_box = QCheckBox("Mark TP/FP/FN at IoU")
    panel.marks_box.setChecked(True)
    panel.eval_iou = QDoubleSpinBox()
    panel.eval_iou.setRange(0.05, 0.95)
    panel.eval_iou.setSingleStep(0.05)
    panel.eval_iou.setValue(0.5)
    panel.eval_iou.setMaximumWidth(80)
    panel.save_button = QPushButton("Save settings to checkpoint")
    panel.save_button.setToolTip("Store score / NMS / top-k in the checkpoint: `workbench "
                                "detect` and `workbench eval` use them by default")
    panel.stats = QLabel("")
    panel.stats.setWordWrap(True)

    panel.table_model = DetectionsTableModel(panel)
    panel.table = QTableView()
    panel.table.setModel(panel.table_model)
    panel.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    panel.table.verticalHeader().setVisible(False)
    panel.table.verticalHeader().setDefaultSectionSize(22)
    panel.table.horizontalHeader().setStretchLastSection(True)
    panel.table.setColumnWidth(0, 32)
    panel.table.setColumnWidth(2, 54)
    panel.table.setColumnWidth(3, 64)
    panel.accept_button = QPushButton("Accept selected")
    panel.accept_all_button = QPushButton("Accept all")
    panel.prelabel = PrelabelBox(panel)
    # precision / recall / F1 on the val split for the sliders' values, PR curve, Best F1
    panel.op_box = OperatingPointBox(panel)

    # Everything scrolls when the dock is short (it often shares a column with others).
    body = QWidget()
    scroll = _FitWidthScroll()
    scroll.setWidgetResizable(True)
    # Fit the dock's width (only vertical scrolling): widgets shrink, the table scrolls itself.
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(body)
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    panel.table.setMinimumHeight(150)
    layout = QVBoxLayout(body)
    row = QHBoxLayout()
    row.addWidget(panel.load_button)
    row.addWidget(panel.run_button)
    layout.addWidget(panel.checkpoint_label)
    layout.addLayout(row)
    layout.addWidget(panel.auto_run)
    tiled_row = QHBoxLayout()
    tiled_row.addWidget(panel.tiled)
    tiled_row.addWidget(panel.tile_size)
    tiled_row.addStretch(1)
    layout.addLayout(tiled_row)
    form = QFormLayout()
    for name, slider, value in (("Score >", panel.score_slider, panel.score_value),
                                ("NMS IoU", panel.iou_slider, panel.iou_value),
                                ("Top-k", panel.topk_slider, panel.topk_value)):
        line = QHBoxLayout()
        line.addWidget(slider, 1)
        line.addWidget(value)
        form.addRow(name, line)
    layout.addLayout(form)
    layout.addWidget(panel.op_box)
    layout.addWidget(panel.agnostic)
    layout.addWidget(panel.show_suppressed)
    marks_row = QHBoxLayout()
    marks_row.addWidget(panel.marks_box)
    marks_row.addWidget(panel.eval_iou)
    marks_row.addStretch(1)
    layout.addLayout(marks_row)
    layout.addWidget(panel.save_button)
    layout.addWidget(panel.stats)
    layout.addWidget(panel.table, 1)
    accept_row = QHBoxLayout()
    accept_row.addWidget(panel.accept_button)
    accept_row.addWidget(panel.accept_all_button)
    layout.addLayout(accept_row)
    layout.addWidget(panel.prelabel)
