"""Classics panel, page "RPN proposals": a Faster R-CNN's proposals and the anchors they came from.

The RPN scores every anchor (objectness) and regresses it into a proposal; its
``filter_proposals`` keeps the best per level, clips, drops tiny boxes, runs NMS per level and
keeps ``post_nms_top_n``. :func:`workbench.engine.rpn_trace.trace_rpn` (a background job) runs
those pieces itself, carrying each proposal's anchor index through the filter, and checks the
result equals torchvision's own ``filter_proposals``. The page lists the top N proposals after
NMS by objectness, draws them, and draws the selected one with its anchor (dashed) and their
IoU. With random weights every objectness is about 0.5 and the proposals are the anchors barely
moved: meaningless — load a trained checkpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.panels.classics_common import (
    CHECKPOINT_PREFIX, fill_model_combo, fill_table, make_table, smallest_containing,
)

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

PROPOSAL_COLOR = QColor(255, 210, 0)
SELECTED_COLOR = QColor(60, 255, 90)
ANCHOR_COLOR = QColor(255, 80, 220)
DEFAULT_MODEL = "fasterrcnn_mobilenet_v3_large_320_fpn"
HEADERS = ["#", "objectness", "anchor IoU", "anchor"]
TIPS = {"objectness": "sigmoid of the RPN's objectness logit",
        "anchor IoU": "IoU of the proposal with the anchor it was regressed from",
        "anchor": "the anchor's width × height on the photo, and its feature map"}
RANDOM_NOTE = ("<b style='color:#ff5050'>Random weights:</b> an untrained RPN's proposals are "
               "meaningless (objectness ≈ 0.5, boxes ≈ anchors). Load a trained checkpoint.")


class RpnPage(QWidget):
    traced = Signal()                 #: a trace arrived and was drawn
    selection_changed = Signal(int)   #: proposal rank (-1: none)
    trace_wanted = Signal(str)        #: model key: the panel runs the trace

    def __init__(self, window: PanelWindow, layers: dict[str, BoxLayer]) -> None:
        super().__init__()
        self.main_window = window
        self.all_layer = layers["classics:rpn"]
        self.selected_layer = layers["classics:rpn-selected"]
        self.trace: Any = None           # engine.rpn_trace.RpnTrace
        self.selected = -1
        self.model_combo = QComboBox()
        fill_model_combo(self.model_combo, ("fasterrcnn",), DEFAULT_MODEL)
        self.checkpoint_button = QPushButton("Checkpoint…")
        self.run_button = QPushButton("Run RPN")
        self.top_spin = QSpinBox()
        self.top_spin.setRange(1, 2000)
        self.top_spin.setValue(20)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.status = QLabel("Press Run RPN.")
        self.status.setWordWrap(True)
        self.selected_label = QLabel("")
        self.selected_label.setWordWrap(True)
        self.selected_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = make_table(HEADERS, TIPS)
        form = QFormLayout()
        form.addRow("Detector", self.model_combo)
        form.addRow("", self.checkpoint_button)
        top = QHBoxLayout()
        top.addWidget(self.top_spin)
        top.addWidget(self.run_button)
        top.addStretch(1)
        form.addRow("Top N", top)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.status)
        layout.addWidget(self.selected_label)
        layout.addWidget(self.table, 1)
        self.run_button.clicked.connect(self.request)
        self.model_combo.currentIndexChanged.connect(lambda _i: self._on_model())
        self.top_spin.valueChanged.connect(lambda _v: self.show_trace())
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        self._on_model(request=False)

    @property
    def model_key(self) -> str:
        return str(self.model_combo.currentData())

    def _on_model(self, request: bool = True) -> None:
        self.note.setText("" if self.model_key.startswith(CHECKPOINT_PREFIX) else RANDOM_NOTE)
        self.set_trace(None)
        if request:
            self.request()

    def request(self) -> None:
        self.status.setText("Running the backbone and the RPN…")
        self.trace_wanted.emit(self.model_key)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    # -- results --------------------------------------------------------------------------
    def set_trace(self, trace: Any) -> None:
        self.trace = trace
        self.selected = -1
        self.show_trace()
        if trace is not None:
            self.traced.emit()

    def shown_count(self) -> int:
        return 0 if self.trace is None else min(self.top_spin.value(), len(self.trace.boxes))

    def shown_boxes(self) -> np.ndarray:
        """The top-N proposals shown (photo px), best first."""
        if self.trace is None:
            return np.zeros((0, 4))
        return self.trace.boxes[:self.shown_count()]

    def show_trace(self) -> None:
        t = self.trace
        if t is None:
            fill_table(self.table, [])
            self.all_layer.clear()
            self.selected_layer.clear()
            self.selected_label.setText("")
            return
        n = self.shown_count()
        ious = t.anchor_iou()
        rows = []
        for k in range(n):
            a = t.anchors[k]
            rows.append([str(k + 1), f"{t.scores[k]:.4f}", f"{ious[k]:.3f}",
                         f"{a[2] - a[0]:.0f}×{a[3] - a[1]:.0f} "
                         f"({t.level_names[int(t.level[k])]})"])
        self.table.blockSignals(True)
        fill_table(self.table, rows)
        self.table.blockSignals(False)
        self.status.setText(
            f"{len(t.boxes)} proposals after NMS (of {t.candidates:,} candidates, "
            f"{t.num_anchors:,} anchors) on the {t.input_size[1]}×{t.input_size[0]} input; "
            f"top {n} shown." + ("" if t.matches_torchvision else
                                 " ⚠ differs from torchvision's filter_proposals"))
        self.all_layer.set_boxes(t.boxes[:n][::-1], PROPOSAL_COLOR, width=1.2)
        if self.selected >= n:
            self.selected = -1
        self.draw_selected()

    def select(self, rank: int) -> None:
        """Select proposal ``rank`` (0 = highest objectness)."""
        if self.trace is None or not 0 <= rank < self.shown_count():
            rank = -1
        self.selected = rank
        self.table.blockSignals(True)
        if rank >= 0:
            self.table.selectRow(rank)
        else:
            self.table.clearSelection()
        self.table.blockSignals(False)
        self.draw_selected()
        self.selection_changed.emit(rank)

    def pick_at(self, x: float, y: float) -> int:
        k = smallest_containing(self.shown_boxes(), x, y)
        if k >= 0:
            self.select(k)
        return k

    def _on_table_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.select(rows[0].row())

    def draw_selected(self) -> None:
        t, k = self.trace, self.selected
        if t is None or k < 0:
            self.selected_layer.clear()
            self.selected_label.setText("Select a proposal (table or click on the image) to "
                                        "see its anchor." if t is not None else "")
            return
        iou = float(t.anchor_iou()[k])
        a = t.anchors[k]
        level = t.level_names[int(t.level[k])]
        self.selected_layer.set_boxes(
            np.stack([t.anchors[k], t.boxes[k]]), [ANCHOR_COLOR, SELECTED_COLOR],
            labels=["", f"#{k + 1}: {t.scores[k]:.3f}; its anchor (magenta): IoU {iou:.2f}"],
            width=2.5, labels_below=True)
        self.selected_label.setText(
            f"Proposal #{k + 1}: objectness {t.scores[k]:.4f}; from anchor "
            f"#{int(t.anchor_index[k])} on map {level}, {a[2] - a[0]:.0f}×{a[3] - a[1]:.0f} px "
            f"on the photo (magenta); IoU with its anchor {iou:.3f}.")
