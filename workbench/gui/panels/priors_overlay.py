"""What the Priors panel draws on the canvas, in its own layers (no torch, no panel state).

Layers, bottom to top: the feature map's ``grid`` (faint cell rectangles), ``all`` priors of
the map (thin, one colour, thousands in one :class:`BoxLayer`), ``match`` (positives: green at
the threshold, orange through the best-prior rule; red dashed = ground truth with no prior at
the threshold), the selected ``cell`` (its footprint filled) and that cell's ``priors`` with
``k: w×h`` labels, and ``suggested`` (k-means shapes centred on the cell, dashed). Hard-negative
mining (issue 16) draws, between ``all`` and ``match``: the negatives mining leaves out
(``hn-rest``, faint grey), the negatives it keeps (``hn-kept``, red) and the positives it counts
(``hn-pos``, green).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene, QWidget

from workbench.core.matching import MatchResult
from workbench.core.priors import FeatureMapPriors
from workbench.gui.canvas.layer_list import LayerList
from workbench.gui.canvas.layers import BoxLayer

GRID_COLOR = QColor(255, 255, 255, 60)
ALL_COLOR = QColor(80, 200, 255, 90)
CELL_COLOR = QColor(255, 255, 255)
POSITIVE_COLOR = QColor(60, 220, 90)
FORCED_COLOR = QColor(255, 150, 40)
FLAG_COLOR = QColor(255, 60, 60)
SUGGESTED_COLOR = QColor(255, 90, 220)
KEPT_COLOR = QColor(255, 50, 50)
NOT_KEPT_COLOR = QColor(200, 200, 200, 45)
MINED_POSITIVE_COLOR = QColor(60, 220, 90)
#: One colour per prior of a cell (cycled), so the k-th box of every cell looks the same.
CELL_PALETTE = [QColor(255, 220, 0), QColor(0, 230, 255), QColor(255, 110, 200),
                QColor(140, 255, 120), QColor(255, 150, 60), QColor(170, 140, 255)]


class PriorsOverlay:
    """Owns the panel's layers on ``scene``, registered in its :class:`LayerList` (``owner``:
    the panel; the matches are per image); every method redraws one layer."""

    def __init__(self, scene: QGraphicsScene, owner: QWidget | None = None) -> None:
        self.grid = BoxLayer("priors:grid")
        self.all = BoxLayer("priors:all")
        self.match = BoxLayer("priors:match")
        self.flags = BoxLayer("priors:flagged")
        self.cell = BoxLayer("priors:cell")
        self.priors = BoxLayer("priors:cell-priors")
        self.suggested = BoxLayer("priors:suggested")
        self.hn_rest = BoxLayer("priors:hn-rest")
        self.hn_kept = BoxLayer("priors:hn-kept")
        self.hn_pos = BoxLayer("priors:hn-pos")
        self.layers = [self.grid, self.all, self.hn_rest, self.hn_kept, self.hn_pos, self.match,
                       self.flags, self.cell, self.priors, self.suggested]
        per_image = (self.match, self.flags, self.hn_rest, self.hn_kept, self.hn_pos)
        self.registry = LayerList.of(scene)
        for layer in self.layers:
            self.registry.add(layer, owner, per_image=layer in per_image)

    def set_visible(self, visible: bool) -> None:
        """The panel's "Show on canvas" box (the Layers list and the dock decide too)."""
        for layer in self.layers:
            self.registry.set_wanted(layer, visible)

    def clear(self) -> None:
        for layer in self.layers:
            layer.clear()

    def remove(self) -> None:
        for layer in self.layers:
            self.registry.remove(layer)

    # -- layers ---------------------------------------------------------------------------
    def draw_grid(self, fm: FeatureMapPriors | None) -> None:
        if fm is None:
            self.grid.clear()
            return
        sy, sx = fm.stride
        cx, cy = np.meshgrid(fm.centers_x, fm.centers_y)
        rects = np.stack([cx - sx / 2, cy - sy / 2, cx + sx / 2, cy + sy / 2], -1).reshape(-1, 4)
        self.grid.set_boxes(rects, GRID_COLOR, width=1.0)

    def draw_all(self, fm: FeatureMapPriors | None) -> None:
        if fm is None:
            self.all.clear()
            return
        self.all.set_boxes(fm.boxes, ALL_COLOR, width=1.0)

    def draw_match(self, boxes: np.ndarray | None, result: MatchResult | None,
                   gt: np.ndarray | None) -> None:
        if boxes is None or result is None:
            self.match.clear()
            self.flags.clear()
            return
        idx = np.flatnonzero(result.positive)
        colors = [FORCED_COLOR if f else POSITIVE_COLOR for f in result.forced[idx]]
        self.match.set_boxes(boxes[idx], colors, width=2.0)
        flagged = [o.index for o in result.flagged]
        if gt is not None and flagged:
            labels = [f"no prior ≥ {result.positive_threshold:g}"] * len(flagged)
            self.flags.set_boxes(gt[flagged], FLAG_COLOR, labels=labels, width=2.5,
                                 style=Qt.PenStyle.DashLine)
        else:
            self.flags.clear()

    def draw_cell(self, fm: FeatureMapPriors | None, row: int, col: int,
                  labels: list[str] | None = None) -> None:
        if fm is None:
            self.cell.clear()
            self.priors.clear()
            return
        self.cell.set_boxes(np.asarray([fm.cell_rect(row, col)]), CELL_COLOR, width=2.0,
                            fill_alpha=70)
        boxes = fm.cell_boxes(row, col)
        colors = [CELL_PALETTE[k % len(CELL_PALETTE)] for k in range(len(boxes))]
        self.priors.set_boxes(boxes, colors, labels=labels, width=2.0)

    def draw_suggested(self, shapes: np.ndarray | None, center: tuple[float, float] | None,
                       scale: tuple[float, float] = (1.0, 1.0)) -> None:
        """``shapes`` ``(k, 2)`` in detector-input px, drawn at ``center`` (photo px) after
        multiplying by ``scale`` = photo/input per axis."""
        if shapes is None or center is None or len(shapes) == 0:
            self.suggested.clear()
            return
        w = shapes[:, 0] * scale[0]
        h = shapes[:, 1] * scale[1]
        cx, cy = center
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        self.suggested.set_boxes(boxes, SUGGESTED_COLOR, width=1.5, style=Qt.PenStyle.DashLine)

    def draw_mining(self, boxes: np.ndarray | None, positive: np.ndarray | None,
                    kept: np.ndarray | None, show_rest: bool = True) -> None:
        """Hard-negative mining on the photo: ``boxes`` ``(P, 4)``, ``positive`` and ``kept``
        ``(P,)`` masks; the negatives not kept only with ``show_rest``."""
        if boxes is None or positive is None or kept is None:
            for layer in (self.hn_rest, self.hn_kept, self.hn_pos):
                layer.clear()
            return
        rest = ~positive & ~kept
        if show_rest:
            self.hn_rest.set_boxes(boxes[rest], NOT_KEPT_COLOR, width=1.0)
        else:
            self.hn_rest.clear()
        self.hn_kept.set_boxes(boxes[kept], KEPT_COLOR, width=1.5)
        self.hn_pos.set_boxes(boxes[positive], MINED_POSITIVE_COLOR, width=2.0)
