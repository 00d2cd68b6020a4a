"""Overlay layers: many boxes drawn as one graphics item.

A :class:`BoxLayer` holds an ``(N, 4)`` array of pixel-edge ``xyxy`` boxes in scene (= image
pixel) coordinates and paints them in one pass with cosmetic pens, grouped by colour, so tens of
thousands of boxes pan and zoom smoothly (one QGraphicsItem per box would not). A paint draws
only what the viewport shows: boxes outside it are skipped, and a label only when its box is at
least as tall on screen as the label's text (level of detail: zoomed out, a crowd of small boxes
is drawn without the text that would cover it); labels are pre-rendered pixmaps, cached per
text and colour, so a slider move that re-fills the layer does not lay out the same text again
(``bench/bench_redraw.py``). Every view that
draws on the canvas (proposals, priors, anchors, matches, detections, TP/FP/FN) uses its own
layer, registered by name in the canvas's :class:`~.layer_list.LayerList`, which decides its
visibility, opacity and z-order (:data:`~.layer_list.LAYER_Z`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PySide6.QtCore import QPoint, QRect, QRectF, Qt
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetrics, QImage, QPainter, QPen,
                           QPixmap, QTransform)
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
        #: (colour, its boxes as QRectF, their indices in ``boxes``), in first-appearance order
        self._groups: list[tuple[QColor, list[QRectF], np.ndarray]] = []
        self._labels: list[str] | None = None
        self._labelled = np.zeros(0, dtype=np.int64)  # indices of the boxes with a label
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
        x, y = boxes[:, 0], boxes[:, 1]
        w, h = boxes[:, 2] - x, boxes[:, 3] - y
        if isinstance(colors, QColor):  # one colour: build the rects in one pass (~10x faster)
            members = {colors.rgba(): (QColor(colors), np.arange(len(boxes)))}
        else:
            keys = np.fromiter((c.rgba() for c in per_box), dtype=np.uint32, count=len(boxes))
            members = {}
            _unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            for g in np.argsort(first, kind="stable"):  # colours in order of first appearance
                index = np.flatnonzero(inverse == g)
                members[int(keys[first[g]])] = (QColor(per_box[first[g]]), index)
        groups = [(color, list(map(QRectF, x[index].tolist(), y[index].tolist(),
                                   w[index].tolist(), h[index].tolist())), index)
                  for color, index in members.values()]
        self._groups = groups if len(boxes) else []
        self._labels = list(labels) if labels is not None else None
        self._labelled = np.flatnonzero([bool(t) for t in self._labels]) \
            if self._labels else np.zeros(0, dtype=np.int64)
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
        alphas = {color.alpha() for color, _rects, _index in self._groups}
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
        transform = painter.worldTransform()
        visible = self._visible(painter)
        for color, rects, index in self._groups:
            if visible is not None:
                shown = visible[index]
                if not shown.any():
                    continue
                if not shown.all():
                    rects = [rects[i] for i in np.flatnonzero(shown).tolist()]
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
            self._paint_labels(painter, transform, visible)

    def _visible(self, painter: QPainter) -> np.ndarray | None:
        """Which boxes (with their labels) can reach the painter's device, or None for all.

        Zoomed in, most boxes lie outside the viewport; skipping them saves the engine clipping
        each one. Conservative: a margin of :data:`_MARGIN_PX` device pixels (pen, labels)."""
        device = painter.device()
        if device is None:
            return None
        inverse, invertible = painter.worldTransform().inverted()
        if not invertible:
            return None
        m = _MARGIN_PX
        area = inverse.mapRect(QRectF(-m, -m, device.width() + 2 * m, device.height() + 2 * m))
        b = self._boxes
        visible = ((b[:, 2] >= area.left()) & (b[:, 0] <= area.right())
                   & (b[:, 3] >= area.top()) & (b[:, 1] <= area.bottom()))
        return None if visible.all() else visible

    def _paint_labels(self, painter: QPainter, transform: QTransform,
                      visible: np.ndarray | None) -> None:
        """Each label at a constant on-screen size at its box's corner, as a cached pixmap; only
        for boxes at least as tall on screen as the text (smaller ones would be covered by it,
        and a zoomed-out crowd of them turns into a wall of text)."""
        font = QFont()
        font.setPixelSize(LABEL_PX)
        labelled = self._labelled
        if visible is not None:
            labelled = labelled[visible[labelled]]
        b = self._boxes[labelled]
        below = self._labels_below
        x = b[:, 0]
        y = b[:, 3] if below else b[:, 1]
        # device positions as QTransform.map + QPointF.toPoint (qRound) compute them
        dx = transform.m11() * x + transform.m21() * y + transform.dx()
        dy = transform.m12() * x + transform.m22() * y + transform.dy()
        top = transform.m12() * x + transform.m22() * b[:, 1] + transform.dy()
        bottom = transform.m12() * x + transform.m22() * b[:, 3] + transform.dy()
        font_key = font.toString()
        legible = np.abs(bottom - top) >= label_min_height(font_key)
        if not legible.any():
            return
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        painter.save()
        painter.resetTransform()
        for i, px, py in zip(labelled[legible].tolist(), _qround(dx[legible]).tolist(),
                             _qround(dy[legible]).tolist()):
            pixmap, height = label_pixmap(self._labels[i], self._label_colors[i].rgba(),
                                          font_key, ratio)
            painter.drawPixmap(QPoint(px, py if below else py - height), pixmap)
        painter.restore()


#: Label text size in screen pixels (at every zoom).
LABEL_PX = 12
#: Device pixels around the viewport within which boxes and labels are still drawn.
_MARGIN_PX = 40


def _qround(values: np.ndarray) -> np.ndarray:
    """Qt's ``qRound`` (half away from zero) on an array, as ints."""
    return np.where(values >= 0, np.floor(values + 0.5), np.ceil(values - 0.5)).astype(np.int64)


def _label_font(font_key: str) -> QFont:
    """The label font named by ``QFont.toString()`` (the application's font at 12 px)."""
    font = QFont()
    font.fromString(font_key)
    return font


@lru_cache(maxsize=8)
def label_min_height(font_key: str) -> int:
    """The on-screen box height from which a label is drawn: the text's line height."""
    return QFontMetrics(_label_font(font_key)).height()


@lru_cache(maxsize=4096)
def label_pixmap(text: str, rgba: int, font_key: str, ratio: float) -> tuple[QPixmap, int]:
    """A label as drawn on the canvas (the class colour at alpha 200 behind black or white
    text, 3 px / 1 px padding) and its height in device-independent pixels. Drawing the text
    onto the translucent background here and the result over the image gives the same colours
    as drawing both over the image (source-over is associative)."""
    font = _label_font(font_key)
    rect = QFontMetrics(font).boundingRect(text).adjusted(-3, -1, 3, 1)
    rect = QRect(0, 0, rect.width(), rect.height())
    image = QImage(max(1, round(rect.width() * ratio)), max(1, round(rect.height() * ratio)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(ratio)
    image.fill(Qt.GlobalColor.transparent)
    bg = QColor.fromRgba(rgba)
    bg.setAlpha(200)
    painter = QPainter(image)
    painter.setFont(font)
    painter.fillRect(rect, bg)
    painter.setPen(Qt.GlobalColor.black if bg.lightness() > 140 else Qt.GlobalColor.white)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return QPixmap.fromImage(image), rect.height()
