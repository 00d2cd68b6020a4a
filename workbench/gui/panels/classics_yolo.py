"""Classics panel, page "YOLO grid": the chapter's YOLO (v1) targets of the image's boxes.

Choose N: the ``N x N`` grid is drawn over the image, every cell holding a ground-truth centre is
filled (red when two or more centres claim it: YOLOv1 keeps one target per cell, the last in
annotation order), each centre is marked with its target ``[pc, bx, by, bw, bh, class]`` and the
table lists the same numbers — :func:`workbench.core.yolo_targets.yolo_targets`, the function
``workbench yolo-targets`` prints. Recomputed on every edit of the boxes (pure numpy, < 1 ms).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from workbench.core.yolo_targets import CellTarget, GridTargets, yolo_targets
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.panels.classics_common import fill_table, make_table

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

GRID_COLOR = QColor(255, 255, 255, 110)
CELL_COLOR = QColor(0, 220, 255)
CONFLICT_COLOR = QColor(255, 50, 50)
HEADERS = ["cell", "pc", "bx", "by", "bw", "bh", "class"]
TIPS = {"cell": "row, column of the grid cell (0-based)",
        "class": "the object's class; red · kept / · lost: two or more centres in the cell, "
                 "YOLOv1 keeps the last one, the others are lost",
        "bx": "centre's x offset inside the cell (0-1)",
        "by": "centre's y offset inside the cell (0-1)",
        "bw": "box width / cell width", "bh": "box height / cell height",
        "pc": "object present in the cell"}


def target_text(c: CellTarget) -> str:
    """``[1, 0.43, 0.21, 1.20, 2.30, raccoon]`` (the canvas label and the table's numbers)."""
    return f"[{c.pc}, {c.bx:.2f}, {c.by:.2f}, {c.bw:.2f}, {c.bh:.2f}, {c.class_name}]"


def note_text(c: CellTarget) -> str:
    if not c.conflict:
        return ""
    return " · kept" if c.kept else " · lost"


class YoloPage(QWidget):
    """The YOLO-grid page; draws in layers the panel registers (``layers`` dict)."""

    targets_changed = Signal()

    def __init__(self, window: PanelWindow, layers: dict[str, BoxLayer]) -> None:
        super().__init__()
        self.main_window = window
        self.grid_layer = layers["classics:yolo-grid"]
        self.cell_layer = layers["classics:yolo-cells"]
        self.centre_layer = layers["classics:yolo-centres"]
        self.targets: GridTargets | None = None
        self.grid_spin = QSpinBox()
        self.grid_spin.setRange(1, 64)
        self.grid_spin.setValue(7)
        self.grid_spin.setPrefix("N = ")
        self.grid_spin.setToolTip("YOLOv1 used a 7 × 7 grid")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.table = make_table(HEADERS, TIPS)
        form = QFormLayout()
        form.addRow("Grid", self.grid_spin)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        explain = QLabel("Each box goes to the cell holding its centre: bx, by = the centre's "
                         "offset in the cell (0–1), bw, bh = the box size in cells. Red: a cell "
                         "claimed by two centres (YOLOv1 keeps the last).")
        explain.setWordWrap(True)
        layout.addWidget(explain)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.grid_spin.valueChanged.connect(lambda _v: self.refresh())

    def refresh(self) -> None:
        """Recompute the targets of the current image's boxes and redraw."""
        rgb = self.main_window.current_image_rgb()
        ann = self.main_window.current_annotation()
        if rgb is None:
            self.targets = None
            self.summary.setText("Open an image to see its YOLO targets.")
            fill_table(self.table, [])
            self.clear_layers()
            self.targets_changed.emit()
            return
        objects = [o for o in ann.objects if not o.model_made] if ann is not None else []
        h, w = int(rgb.shape[0]), int(rgb.shape[1])
        n = self.grid_spin.value()
        t = yolo_targets(w, h, [o.box for o in objects], [o.name for o in objects], n)
        self.targets = t
        conflicts = {(c.row, c.col) for c in t.conflicts}
        self.summary.setText(
            f"{w}×{h} image, {n}×{n} grid, cells {t.cell_width:.1f}×{t.cell_height:.1f} px: "
            f"{len(t.cells)} box(es) in {len({(c.row, c.col) for c in t.cells})} cell(s)"
            + (f", <b style='color:#ff3232'>{len(conflicts)} conflicting cell(s)</b>"
               if conflicts else ""))
        rows = [[f"{c.row},{c.col}", str(c.pc), f"{c.bx:.3f}", f"{c.by:.3f}", f"{c.bw:.3f}",
                 f"{c.bh:.3f}", c.class_name + note_text(c)] for c in t.cells]
        fill_table(self.table, rows, [CONFLICT_COLOR if c.conflict else None for c in t.cells])
        self.draw()
        self.targets_changed.emit()

    def draw(self) -> None:
        t = self.targets
        if t is None:
            self.clear_layers()
            return
        cw, ch = t.cell_width, t.cell_height
        j, i = np.meshgrid(np.arange(t.grid), np.arange(t.grid))
        grid = np.stack([j * cw, i * ch, (j + 1) * cw, (i + 1) * ch], -1).reshape(-1, 4)
        self.grid_layer.set_boxes(grid, GRID_COLOR, width=1.0)
        cells: dict[tuple[int, int], int] = {}
        for c in t.cells:
            cells[(c.row, c.col)] = cells.get((c.row, c.col), 0) + 1
        keys = sorted(cells)
        rects = np.array([[c * cw, r * ch, (c + 1) * cw, (r + 1) * ch] for r, c in keys],
                         dtype=np.float64).reshape(-1, 4)
        colors = [CONFLICT_COLOR if cells[k] > 1 else CELL_COLOR for k in keys]
        # each cell is labelled with the target it holds (a conflict: the one kept, the last)
        kept = {(c.row, c.col): c for c in t.cells if c.kept}
        labels = [(f"⚠ {cells[k]} centres, kept: " if cells[k] > 1 else "")
                  + target_text(kept[k]) for k in keys]
        self.cell_layer.set_boxes(rects, colors, labels=labels, width=2.5, fill_alpha=60)
        side = max(2.0, min(t.width, t.height) / 120.0)
        centres = np.array([[(c.col + c.bx) * cw, (c.row + c.by) * ch] for c in t.cells],
                           dtype=np.float64).reshape(-1, 2)
        marks = np.concatenate([centres - side, centres + side], axis=1)
        self.centre_layer.set_boxes(
            marks, [CONFLICT_COLOR if c.conflict else CELL_COLOR for c in t.cells],
            width=2.0, fill_alpha=255)

    def clear_layers(self) -> None:
        for layer in (self.grid_layer, self.cell_layer, self.centre_layer):
            layer.clear()
