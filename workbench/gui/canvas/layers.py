"""Overlay layers: many boxes drawn as one graphics item.

A :class:`BoxLayer` holds an ``(N, 4)`` array of pixel-edge ``xyxy`` boxes in scene (= image
pixel) coordinates and paints them in one pass with cosmetic pens, grouped by colour, so tens of
thousands of boxes pan and zoom smoothly (one QGraphicsItem per box would not). Every view that
draws on the canvas (proposals, priors, anchors, matches, detections, TP/FP/FN) uses its own
layer, registered by name in the canvas's :class:`~.layer_list.LayerList`, which decides its
visibility, opacity and z-order (:data:`~.layer_list.LAYER_Z`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from workbench.gui.canvas.layer_list import layer_z


class BoxLayer(QGraphicsObject):
    """A set of boxes drawn in one item.

    ``colors`` is one colour for all boxes or one per box; ``labels`` optional text per box,
    drawn at a fixed screen size at each box's top-left corner; ``fill_alpha`` > 0 fills boxes.

    Large layers (at least :attr:`LARGE` boxes, e.g. the 8,732 SSD priors) take a fast path:
    the item is cached in device coordinates (panning blits the cache instead of redrawing), and
    when every colour shares one translucency the outlines are drawn opaque into that cache and
    the item's opacity supplies the translucency — Qt's raster engine draws translucent
    cosmetic lines about 10x slower than opaque ones (``bench/bench_priors_draw.py``).
    """

    #: Box count from which the cached / opaque-lines path is used.
    LARGE = 2000

    def __init__(self, name: str, z: float | None = None,
                 parent: QGraphicsItem | None = None) -> None:
        """``z``: only for layers outside the canvas's table (default: ``LAYER_Z[name]``)."""
        super().__init__(parent)
        self.name = name
        self.setZValue(layer_z(name) if z is None else z)
        self._layer_opacity = 1.0  # the Layers list's opacity, times the fast path's own
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._boxes = np.zeros((0, 4), dtype=np.float64)
        self._groups: list[tuple[QColor, list[QRectF]]] = []
        self._labels: list[str] | None = None
        self._label_colors: list[QColor] = []
        self._width = 1.5
        self._style = Qt.PenStyle.SolidLine
        self._fill_alpha = 0
        self._labels_below = False
        self._bounds = QRectF()
        self._opaque_lines = False

    # -- data -----------------------------------------------------------------------------
    @property
    def boxes(self) -> np.ndarray:
        return self._boxes

    def __len__(self) -> int:
        return len(self._boxes)

    def set_boxes(
        self,
        boxes: np.ndarray,
        colors: QColor | Sequence[QColor] = QColor(255, 200, 0),
        labels: Sequence[str] | None = None,
        width: float = 1.5,
        style: Qt.PenStyle = Qt.PenStyle.SolidLine,
        fill_alpha: int = 0,
        labels_below: bool = False,
    ) -> None:
        """``labels_below``: each label under its box's bottom-left corner instead of above its
        top-left one — for a model's boxes, whose labels would otherwise cover the labels of
        the ground-truth boxes they match."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self.prepareGeometryChange()
        self._boxes = boxes
        per_box = [colors] * len(boxes) if isinstance(colors, QColor) else list(colors)
        if len(per_box) != len(boxes):
            raise ValueError(f"{len(per_box)} colours for {len(boxes)} boxes")
        groups: dict[int, tuple[QColor, list[QRectF]]] = {}
        if isinstance(colors, QColor):  # one colour: build the rects in one pass (~10x faster)
            x, y = boxes[:, 0].tolist(), boxes[:, 1].tolist()
            w = (boxes[:, 2] - boxes[:, 0]).tolist()
            h = (boxes[:, 3] - boxes[:, 1]).tolist()
            groups[colors.rgba()] = (QColor(colors), list(map(QRectF, x, y, w, h)))
        else:
            for (x1, y1, x2, y2), color in zip(boxes.tolist(), per_box):
                key = color.rgba()
                if key not in groups:
                    groups[key] = (QColor(color), [])
                groups[key][1].append(QRectF(x1, y1, x2 - x1, y2 - y1))
        self._groups = list(groups.values()) if len(boxes) else []
        self._labels = list(labels) if labels is not None else None
        self._label_colors = per_box
        self._width = width
        self._style = style
        self._fill_alpha = fill_alpha
        self._labels_below = labels_below
        self._use_fast_path(len(boxes) >= self.LARGE)
        if len(boxes):
            x1, y1 = boxes[:, 0].min(), boxes[:, 1].min()
            x2, y2 = boxes[:, 2].max(), boxes[:, 3].max()
            pad = 40.0  # room for labels and pen width at any zoom
            self._bounds = QRectF(x1 - pad, y1 - pad, x2 - x1 + 2 * pad, y2 - y1 + 2 * pad)
        else:
            self._bounds = QRectF()
        self.update()

    def clear(self) -> None:
        self.set_boxes(np.zeros((0, 4)))

    def set_layer_opacity(self, opacity: float) -> None:
        """Opacity chosen in the Layers list (0–1), multiplied into the item's own."""
        self._layer_opacity = float(opacity)
        self._use_fast_path(len(self._boxes) >= self.LARGE)

    def _use_fast_path(self, large: bool) -> None:
        alphas = {color.alpha() for color, _rects in self._groups}
        self._opaque_lines = (large and not self._fill_alpha and not self._labels
                              and len(alphas) == 1 and min(alphas) < 255)
        own = min(alphas) / 255.0 if self._opaque_lines else 1.0
        self.setOpacity(own * self._layer_opacity)
        mode = (QGraphicsItem.CacheMode.DeviceCoordinateCache if large
                else QGraphicsItem.CacheMode.NoCache)
        if self.cacheMode() != mode:
            self.setCacheMode(mode)

    # -- painting -------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if not self._groups:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for color, rects in self._groups:
            if self._opaque_lines:  # translucency comes from the item's opacity
                color = QColor(color)
                color.setAlpha(255)
            pen = QPen(color, self._width, self._style)
            pen.setCosmetic(True)  # same on-screen width at every zoom
            painter.setPen(pen)
            if self._fill_alpha:
                fill = QColor(color)
                fill.setAlpha(self._fill_alpha)
                painter.setBrush(QBrush(fill))
            else:
                painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRects(rects)
        if self._labels:
            self._paint_labels(painter)

    def _paint_labels(self, painter: QPainter) -> None:
        # Text at a constant on-screen size: undo the view's scale for each label.
        transform = painter.worldTransform()
        scale = max(transform.m11(), 1e-6)
        font = QFont()
        font.setPixelSize(12)
        painter.save()
        painter.resetTransform()
        painter.setFont(font)
        metrics = painter.fontMetrics()
        below = self._labels_below
        for (x1, y1, _x2, y2), text, color in zip(self._boxes.tolist(), self._labels,
                                                    self._label_colors):
            if not text:
                continue
            point = transform.map(QRectF(x1, y2 if below else y1, 0, 0).topLeft())
            rect = metrics.boundingRect(text).adjusted(-3, -1, 3, 1)
            rect.moveTopLeft(point.toPoint())
            if not below:
                rect.translate(0, -rect.height())
            bg = QColor(color)
            bg.setAlpha(200)
            painter.fillRect(rect, bg)
            painter.setPen(Qt.GlobalColor.black if bg.lightness() > 140 else Qt.GlobalColor.white)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
        del scale
