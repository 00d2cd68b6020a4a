"""IoU panel: pick any two boxes on the canvas, see intersection, union and IoU.

A box comes from a *source*: the image's ground truth or any overlay layer of an open panel in
the canvas's layer list (proposals, priors, a prior cell, detections… every :class:`BoxLayer`
another panel shows); while this panel is in front, the layers A and B come from stay on the
canvas (borrowed, :meth:`LayerList.borrow`) even if their panel is tabbed behind it.
"Pick A" / "Pick B" then a click on the image takes the smallest box of that source under the
click; the index spin boxes pick exactly. The union is drawn as both boxes lightly filled, the
intersection filled strongly. A table gives each ground-truth object's best IoU against the
chosen layer. The pair belongs to one image: showing another image clears it and the picks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox, QGridLayout, QHeaderView, QLabel, QPushButton, QSpinBox, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from workbench.core.boxes import box_area, iou_matrix
from workbench.gui.canvas.layer_list import LayerList
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.panels.inspect_common import CanvasClickWatcher

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

GROUND_TRUTH = "ground truth"
A_COLOR = QColor(0, 220, 255)
B_COLOR = QColor(255, 80, 220)
INTER_COLOR = QColor(255, 255, 255)


def smallest_containing(boxes: np.ndarray, x: float, y: float) -> int:
    """Index of the smallest box containing ``(x, y)``, or -1."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    inside = np.flatnonzero((b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3]))
    if len(inside) == 0:
        return -1
    return int(inside[np.argmin(box_area(b[inside]))])


class IouPanel(QWidget):
    """Dock contents; ``window``: what a panel may use of the labeling window
    (:class:`~workbench.gui.panel_api.PanelWindow`)."""

    pair_changed = Signal(float)   #: IoU of the current pair (NaN when incomplete)

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.main_window = window
        self.union_layer = BoxLayer("iou:union")
        self.inter_layer = BoxLayer("iou:intersection")
        self.layer_list = LayerList.of(window.canvas.scene())
        self.layer_list.add(self.union_layer, self, per_image=True)
        self.layer_list.add(self.inter_layer, self, per_image=True)
        self.layer_list.owner_shown_changed.connect(self._on_owner_shown)
        self._picking: str | None = None
        self.iou = float("nan")
        self._build_ui()
        # While picking, clicks are taken (and swallowed) anywhere on the image, boxes included.
        self.clicks = CanvasClickWatcher(window.canvas, self)
        self.clicks.clicked.connect(self._on_scene_clicked)
        window.image_changed.connect(self._on_image_changed)
        window.annotation_changed.connect(self.refresh_sources)
        self.refresh_sources()

    def _build_ui(self) -> None:
        self.source = {"A": QComboBox(), "B": QComboBox()}
        self.index = {"A": QSpinBox(), "B": QSpinBox()}
        # short: the row also holds the source and index (the panel fits a 1280 px window)
        self.pick = {"A": QPushButton("Pick A"), "B": QPushButton("Pick B")}
        self.refresh_button = QPushButton("Refresh layers")
        grid = QGridLayout()
        for row, side in enumerate(("A", "B")):
            self.index[side].setRange(-1, -1)
            self.index[side].setSpecialValueText("—")
            self.pick[side].setCheckable(True)
            self.pick[side].setToolTip(f"Pick box {side} by clicking it on the image")
            grid.addWidget(QLabel(f"Box {side}"), row, 0)
            grid.addWidget(self.source[side], row, 1)
            grid.addWidget(self.index[side], row, 2)
            grid.addWidget(self.pick[side], row, 3)
            self.source[side].currentIndexChanged.connect(lambda _i, s=side: self._on_source(s))
            self.index[side].valueChanged.connect(lambda _v: self.update_pair())
            self.pick[side].toggled.connect(lambda on, s=side: self._on_pick_toggled(s, on))
        self.result_label = QLabel("Pick two boxes.")
        self.result_label.setWordWrap(True)
        self.compare_combo = QComboBox()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["object", "best IoU", "box #"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.refresh_button)
        layout.addWidget(self.result_label)
        layout.addWidget(QLabel("Each ground-truth object's best IoU against:"))
        layout.addWidget(self.compare_combo)
        layout.addWidget(self.table, 1)
        self.refresh_button.clicked.connect(self.refresh_sources)
        self.compare_combo.currentIndexChanged.connect(lambda _i: self.update_table())

    # -- sources --------------------------------------------------------------------------
    def layers(self) -> dict[str, BoxLayer]:
        """Non-empty overlay layers of open panels (not this panel's own), by name."""
        return {name: item for name, item in self.layer_list.sources(exclude=self).items()
                if isinstance(item, BoxLayer)}

    def boxes_of(self, source: str) -> np.ndarray:
        if source == GROUND_TRUTH:
            ann = self.main_window.current_annotation()
            boxes = [o.box for o in ann.objects] if ann is not None else []
            return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        layer = self.layers().get(source)
        return layer.boxes if layer is not None else np.zeros((0, 4))

    def refresh_sources(self) -> None:
        names = [GROUND_TRUTH] + sorted(self.layers())
        for combo in (*self.source.values(), self.compare_combo):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names if combo is not self.compare_combo else names[1:] or [""])
            found = combo.findText(current)
            combo.setCurrentIndex(found if found >= 0 else 0)
            combo.blockSignals(False)
        for side in ("A", "B"):
            self._on_source(side)
        self.update_table()

    def _on_source(self, side: str) -> None:
        n = len(self.boxes_of(self.source[side].currentText()))
        spin = self.index[side]
        spin.blockSignals(True)
        spin.setRange(-1, n - 1)
        if spin.value() >= n:
            spin.setValue(-1)
        spin.blockSignals(False)
        self.update_pair()

    def _on_image_changed(self, _path: str) -> None:
        """A pair belongs to its image: forget the picks (the layer list has already emptied
        the pair's layers), so no "IoU" of the last image's indices shows on this one."""
        for side in ("A", "B"):
            self.pick[side].setChecked(False)
            self.index[side].blockSignals(True)
            self.index[side].setValue(-1)
            self.index[side].blockSignals(False)
        self.refresh_sources()

    # -- picking --------------------------------------------------------------------------
    def _on_pick_toggled(self, side: str, on: bool) -> None:
        if on:
            other = "B" if side == "A" else "A"
            self.pick[other].setChecked(False)
            self._picking = side
        elif self._picking == side:
            self._picking = None
        self.clicks.consume = self._picking is not None

    def _on_scene_clicked(self, x: float, y: float) -> None:
        if self._picking is None:
            return
        self.pick_at(self._picking, x, y)

    def pick_at(self, side: str, x: float, y: float) -> int:
        """Choose, for ``side``, the smallest box of its source containing ``(x, y)``."""
        index = smallest_containing(self.boxes_of(self.source[side].currentText()), x, y)
        self.index[side].setValue(index)
        self.pick[side].setChecked(False)
        return index

    def select(self, side: str, source: str, index: int) -> None:
        """Programmatic pick (source name as listed, box index)."""
        self.refresh_sources()
        self.source[side].setCurrentText(source)
        self.index[side].setValue(index)

    # -- result ---------------------------------------------------------------------------
    def _box(self, side: str) -> np.ndarray | None:
        i = self.index[side].value()
        boxes = self.boxes_of(self.source[side].currentText())
        return boxes[i] if 0 <= i < len(boxes) else None

    def update_pair(self) -> None:
        # While this panel is in front, the layers A and B come from stay on the canvas.
        self.layer_list.borrow(self, {self.source[s].currentText() for s in ("A", "B")}
                               - {GROUND_TRUTH})
        a, b = self._box("A"), self._box("B")
        if a is None or b is None:
            self.iou = float("nan")
            self.union_layer.clear()
            self.inter_layer.clear()
            self.result_label.setText("Pick two boxes.")
            self.pair_changed.emit(self.iou)
            return
        self.iou = float(iou_matrix(a[None], b[None])[0, 0])
        inter = np.array([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])
        inter_area = float(box_area(inter[None])[0])
        union_area = float(box_area(a[None])[0] + box_area(b[None])[0] - inter_area)
        self.union_layer.set_boxes(np.stack([a, b]), [A_COLOR, B_COLOR], labels=["A", "B"],
                                   width=2.0, fill_alpha=45)
        if inter_area > 0:
            self.inter_layer.set_boxes(inter[None], INTER_COLOR, labels=[f"IoU {self.iou:.3f}"],
                                       width=2.0, fill_alpha=150)
        else:
            self.inter_layer.clear()
        fmt = ", ".join
        self.result_label.setText(
            f"IoU = {self.iou:.4f}  (intersection {inter_area:,.0f} px² / union "
            f"{union_area:,.0f} px²)\nA = ({fmt(f'{v:.1f}' for v in a)})\n"
            f"B = ({fmt(f'{v:.1f}' for v in b)})")
        self.pair_changed.emit(self.iou)

    def update_table(self) -> None:
        ann = self.main_window.current_annotation()
        objects = list(ann.objects) if ann is not None else []
        layer = self.compare_combo.currentText()
        boxes = self.boxes_of(layer) if layer else np.zeros((0, 4))
        self.table.setRowCount(len(objects))
        gt = np.asarray([o.box for o in objects], dtype=np.float64).reshape(-1, 4)
        iou = iou_matrix(gt, boxes) if len(boxes) and len(gt) else np.zeros((len(gt), 0))
        for r, obj in enumerate(objects):
            best = float(iou[r].max()) if iou.shape[1] else 0.0
            idx = str(int(iou[r].argmax())) if iou.shape[1] else "—"
            for c, text in enumerate((f"{r + 1}. {obj.name}", f"{best:.3f}", idx)):
                self.table.setItem(r, c, QTableWidgetItem(text))

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.refresh_sources()
        super().showEvent(event)

    def _on_owner_shown(self, panel: object, shown: bool) -> None:
        if panel is self and not shown:  # behind a tab or closed: stop swallowing clicks
            for side in ("A", "B"):
                self.pick[side].setChecked(False)
