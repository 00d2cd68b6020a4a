"""Overlay layers: many boxes drawn as one graphics item.

A :class:`BoxLayer` holds an ``(N, 4)`` array of pixel-edge ``xyxy`` boxes in scene (= image
pixel) coordinates and paints them in one pass with cosmetic pens, grouped by colour, so tens of
thousands of boxes pan and zoom smoothly (one QGraphicsItem per box would not). A paint draws
only what the viewport shows: boxes outside it are skipped, and a label only when its box is at
least as tall on screen as the label's text (level of detail: zoomed out, a crowd of small boxes
is drawn without the text that would cover it); labels are pre-rendered pixmaps, cached per
text and colour, so a slider move that re-fills the layer does not lay out the same text again
(``bench/bench_redraw.py``). Opaque solid outlines are filled as four thin device-pixel
rectangles per box (Qt's raster engine fills a rectangle span by span, but strokes a cosmetic
line pixel by pixel: 2-4x slower, and a 2 px pen twice that); the 1-pixel outlines of a large
translucent layer (every SSD prior or RPN anchor of a map) are drawn as merged device-pixel
lines, edges that overlap on a pixel row or column drawn once (:func:`merged_outlines`).
Every view that draws on the canvas (proposals, priors, anchors, matches, detections,
TP/FP/FN) uses its own layer, registered by name in the canvas's
:class:`~.layer_list.LayerList`, which decides its visibility, opacity and z-order
(:data:`~.layer_list.LAYER_Z`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QPoint, QRect, QRectF, Qt
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetrics, QImage, QPainter, QPen,
                           QPixmap, QTransform)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from workbench.gui.canvas.layer_list import layer_z

if TYPE_CHECKING:  # numpy is imported where used (start-up: none before the first paint)
    import numpy as np


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
        import numpy as np
        super().__init__(parent)
        self.name = name
        self.setZValue(layer_z(name) if z is None else z)
        self._layer_opacity = 1.0  # the Layers list's opacity, times the fast path's own
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._boxes = np.zeros((0, 4), dtype=np.float64)
        #: (colour, the indices of its boxes in ``boxes``), in first-appearance order
        self._groups: list[tuple[QColor, np.ndarray]] = []
        #: group number -> its boxes as QRectF (built on the first pen-stroked paint)
        self._rects: dict[int, list[QRectF]] = {}
        #: box (x1, y1, x2, y2) -> its four edge rectangles in device pixels, for _edge_key
        self._edge_cache: dict[tuple[float, ...], tuple[QRect, ...]] = {}
        self._edge_key: tuple[float, ...] = ()
        self._labels: list[str] | None = None
        self._labelled = np.zeros(0, dtype=np.int64)  # indices of the boxes with a label
        self._label_palette: list[int] = []  # rgba of each colour
        self._label_index = np.zeros(0, dtype=np.int64)  # box -> colour
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
        color_index: np.ndarray | Sequence[int] | None = None,
    ) -> None:
        """``labels_below``: each label under its box's bottom-left corner instead of above its
        top-left one — for a model's boxes, whose labels would otherwise cover the labels of
        the ground-truth boxes they match. ``color_index``: with it, ``colors`` is a palette
        and box ``i`` has the colour ``colors[color_index[i]]`` (no QColor per box: a slider
        move re-fills hundreds)."""
        import numpy as np
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        self.prepareGeometryChange()
        self._boxes = boxes
        n = len(boxes)
        if isinstance(colors, QColor):
            palette, index = [colors], np.zeros(n, dtype=np.int64)
        elif color_index is not None:
            palette, index = list(colors), np.asarray(color_index, dtype=np.int64).reshape(-1)
            if len(index) != n:
                raise ValueError(f"{len(index)} colour indices for {n} boxes")
            if n and not 0 <= index.min() <= index.max() < len(palette):
                raise ValueError(f"colour index out of range for {len(palette)} colours")
        else:
            per_box = list(colors)
            if len(per_box) != n:
                raise ValueError(f"{len(per_box)} colours for {n} boxes")
            keys = np.fromiter((c.rgba() for c in per_box), dtype=np.uint32, count=n)
            _unique, first, index = np.unique(keys, return_index=True, return_inverse=True)
            palette = [per_box[f] for f in first.tolist()]
        self._label_palette = [c.rgba() for c in palette]
        self._label_index = index
        self._groups = []
        if n:  # one group per colour, in order of first appearance, boxes in order inside
            used, first, inverse = np.unique(index, return_index=True, return_inverse=True)
            by_group = np.argsort(inverse, kind="stable")
            bounds = np.cumsum(np.bincount(inverse, minlength=len(used)))
            members = np.split(by_group, bounds[:-1])
            self._groups = [(QColor(palette[used[g]]), members[g])
                            for g in np.argsort(first, kind="stable").tolist()]
        self._rects = {}
        self._labels = list(labels) if labels is not None else None
        self._labelled = np.flatnonzero([bool(t) for t in self._labels]) \
            if self._labels else np.zeros(0, dtype=np.int64)
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
        if not len(self._boxes):  # already empty: ~60 per-image layers are emptied per image
            return                # shown, most of them empty (issue 14, GUI stalls)
        import numpy as np
        self.set_boxes(np.zeros((0, 4)))

    def set_layer_opacity(self, opacity: float) -> None:
        """Opacity chosen in the Layers list (0–1), multiplied into the item's own."""
        self._layer_opacity = float(opacity)
        self._use_fast_path(len(self._boxes) >= self.LARGE)

    def _use_fast_path(self, large: bool) -> None:
        alphas = {color.alpha() for color, _index in self._groups}
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
        if self._fills_edges(transform):
            self._paint_edges(painter, transform, visible)
        else:
            self._paint_strokes(painter, visible)
        if self._labels:
            self._paint_labels(painter, transform, visible)

    def _fills_edges(self, transform: QTransform) -> bool:
        """Whether outlines are filled as edge rectangles: solid, opaque, unfilled, and a
        transform without rotation or shear (the canvas's zoom and pan). Other outlines
        (dashed, translucent, filled, the large cached layers) are stroked."""
        return (self._style == Qt.PenStyle.SolidLine
                and not self._fill_alpha
                and not self._opaque_lines
                and transform.type().value <= QTransform.TransformationType.TxScale.value
                and all(color.alpha() == 255 for color, _index in self._groups))

    def _paint_edges(self, painter: QPainter, transform: QTransform,
                     visible: np.ndarray | None) -> None:
        """Each outline as four filled device-pixel rectangles, ``pen`` px thick, where an
        aliased cosmetic pen of that width draws the box's edges (1 px: the pixel a coordinate
        falls in; 2 px: the pixel nearest to it and the one before). Qt's raster engine fills
        spans, but strokes a cosmetic line pixel by pixel: 200 suppressed boxes around large
        objects took 1.3 ms stroked, 0.8 ms filled; 500 2 px boxes 3.9 ms, 1.9 ms
        (``bench/bench_redraw.py``).

        The four rectangles of a box are cached per box and view transform: a slider move
        re-fills the layer with mostly the same boxes, and building Qt objects is what costs."""
        import numpy as np
        pen = max(1, round(self._width))
        key = (transform.m11(), transform.m22(), transform.dx(), transform.dy(), pen)
        if key != self._edge_key or len(self._edge_cache) > 4 * self.LARGE:
            self._edge_cache, self._edge_key = {}, key
        cache = self._edge_cache
        boxes = self._boxes if visible is None else self._boxes[visible]
        index_of = np.cumsum(visible) - 1 if visible is not None else None
        names = list(map(tuple, boxes.tolist()))
        missing = [i for i, name in enumerate(names) if name not in cache]
        if missing:
            self._cache_edges(boxes[missing], [names[i] for i in missing], transform, pen)
        painter.resetTransform()
        painter.setPen(Qt.PenStyle.NoPen)
        for color, index in self._groups:
            if index_of is not None:
                assert visible is not None
                index = index_of[index[visible[index]]]
            if not len(index):
                continue
            painter.setBrush(color)
            painter.drawRects(list(chain.from_iterable(
                map(cache.__getitem__, [names[i] for i in index.tolist()]))))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setWorldTransform(transform)

    def _cache_edges(self, b: np.ndarray, names: list[tuple[float, ...]],
                     transform: QTransform, pen: int) -> None:
        import numpy as np
        shift = 0.5 - pen / 2
        x1 = _pixel(b[:, 0] * transform.m11() + transform.dx() + shift)
        x2 = _pixel(b[:, 2] * transform.m11() + transform.dx() + shift)
        y1 = _pixel(b[:, 1] * transform.m22() + transform.dy() + shift)
        y2 = _pixel(b[:, 3] * transform.m22() + transform.dy() + shift)
        w = np.maximum(x2 - x1, 0) + pen
        h = np.maximum(y2 - y1 - pen, 0)  # the sides, between the top and bottom edges
        thick = np.full(len(b), pen, dtype=np.int64)
        # per box: top, bottom, left, right
        rects = list(map(QRect, np.stack([x1, x1, x1, x2], 1).ravel().tolist(),
                         np.stack([y1, y2, y1 + pen, y1 + pen], 1).ravel().tolist(),
                         np.stack([w, w, thick, thick], 1).ravel().tolist(),
                         np.stack([thick, thick, h, h], 1).ravel().tolist()))
        it = iter(rects)
        self._edge_cache.update(zip(names, zip(it, it, it, it)))

    def _paint_strokes(self, painter: QPainter, visible: np.ndarray | None) -> None:
        """Outlines stroked with a cosmetic pen: dashed, translucent or filled boxes, and the
        large cached layers."""
        import numpy as np
        merges = self._opaque_lines and self._merges_lines(painter)
        for g, (color, index) in enumerate(self._groups):
            shown = visible[index] if visible is not None else None
            if shown is not None and not shown.any():
                continue
            if self._opaque_lines:  # translucency comes from the item's opacity
                color = QColor(color)
                color.setAlpha(255)
            if merges:  # no QRectF per box: merged device-pixel lines
                boxes = self._boxes[index]
                self._paint_merged(painter, boxes if shown is None else boxes[shown], color)
                continue
            rects = self._rects.get(g)
            if rects is None:
                b = self._boxes[index]
                rects = self._rects[g] = list(map(
                    QRectF, b[:, 0].tolist(), b[:, 1].tolist(), (b[:, 2] - b[:, 0]).tolist(),
                    (b[:, 3] - b[:, 1]).tolist()))
            if shown is not None and not shown.all():
                rects = [rects[i] for i in np.flatnonzero(shown).tolist()]
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

    def _merges_lines(self, painter: QPainter) -> bool:
        """Whether the opaque outlines may be drawn as merged device-pixel lines
        (:func:`merged_outlines`): 1-pixel solid lines and a transform to the device that
        only scales (up the right way) and moves — where that was checked to light the pixels
        Qt's own stroking lights (device pixel ratios 1, 1.25, 1.5 and 2)."""
        to_device = painter.deviceTransform()  # the world's, the view's and the pixel ratio's
        return (self._style == Qt.PenStyle.SolidLine and self._width <= 1.0
                and to_device.type().value <= QTransform.TransformationType.TxScale.value
                and to_device.m11() > 0 and to_device.m22() > 0)

    @staticmethod
    def _paint_merged(painter: QPainter, boxes: np.ndarray, color: QColor) -> None:
        to_device = painter.deviceTransform()
        painter.save()
        painter.setWorldTransform(QTransform())  # lines drawn in the device's own units
        base = painter.deviceTransform()  # (the pixel ratio, a view transform)
        painter.setPen(QPen(color, 0))
        painter.drawLines(merged_outlines(
            boxes, (to_device.m11(), to_device.m22(), to_device.dx(), to_device.dy()),
            (base.m11(), base.m22(), base.dx(), base.dy())))
        painter.restore()

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
        import numpy as np
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
        palette, index, texts = self._label_palette, self._label_index, self._labels or []
        painter.save()
        painter.resetTransform()
        for i, px, py in zip(labelled[legible].tolist(), _qround(dx[legible]).tolist(),
                             _qround(dy[legible]).tolist()):
            pixmap, height = label_pixmap(texts[i], palette[index[i]],
                                          font_key, ratio)
            painter.drawPixmap(QPoint(px, py if below else py - height), pixmap)
        painter.restore()


#: Label text size in screen pixels (at every zoom).
LABEL_PX = 12
#: Device pixels around the viewport within which boxes and labels are still drawn.
_MARGIN_PX = 40


def _pixel(values: np.ndarray) -> np.ndarray:
    """The device pixel that contains coordinate ``values``, as ints."""
    import numpy as np
    return np.floor(values).astype(np.int64)


def _qround(values: np.ndarray) -> np.ndarray:
    """Qt's ``qRound`` (half away from zero) on an array, as ints."""
    import numpy as np
    return np.where(values >= 0, np.floor(values + 0.5), np.ceil(values - 0.5)).astype(np.int64)


def _label_font(font_key: str) -> QFont:
    """The label font named by ``QFont.toString()`` (the application's font at 12 px)."""
    font = QFont()
    font.fromString(font_key)
    return font


def _merged_runs(at: np.ndarray, start: np.ndarray, end: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer segments ``[start, end]`` on lines ``at``, merged where they overlap or touch
    on the same line: ``(at, start, end)`` of the merged runs."""
    import numpy as np
    lo = min(int(start.min()), int(end.min()))
    # one key per (line, position), a line's keys above every key of the lines before it:
    # sorted, a running maximum of the ends' keys is the furthest end so far on that line
    span = int(max(start.max(), end.max())) - lo + 2
    base = (at - at.min()) * span
    key = base + (start - lo)
    order = np.argsort(key)  # one int64 key sorts ~10x faster than lexsort on two
    key, base = key[order], base[order]
    reach = np.maximum.accumulate(base + (end[order] - lo))
    before = np.empty_like(reach)
    before[0] = -2
    before[1:] = reach[:-1]
    first = np.flatnonzero(key > before + 1)
    last = np.append(first[1:], len(key)) - 1
    picked = order[first]
    return at[picked], start[picked], reach[last] - base[first] + lo


def merged_outlines(boxes: np.ndarray, to_device: tuple[float, float, float, float],
                    drawn_in: tuple[float, float, float, float] = (1.0, 1.0, 0.0, 0.0),
                    ) -> list[QLineF]:
    """The outlines of ``boxes`` (scene ``xyxy``) as 1-pixel lines, for the transform to
    device pixels ``to_device = (sx, sy, dx, dy)`` (``x * sx + dx``, ``y * sy + dy``;
    ``sx``, ``sy`` > 0): each corner in the device pixel Qt's raster engine puts it in (the
    floor of the mapped coordinate), and every run of edges that overlap or touch on one
    pixel row or column merged into one line. The lines go through the pixels' centres, in
    the coordinates whose transform to the device is ``drawn_in`` (a painter without a world
    transform: the device pixel ratio). For the 8,732 SSD300 priors that is ~700-1,100 lines
    instead of 35,000 edges — the same pixels (but for a rare corner pixel) in a fifth of the
    time (``bench/bench_priors_draw.py``): the raster engine's time goes by pixels drawn, and
    priors of one shape on a grid overlap their neighbours."""
    import numpy as np
    if not len(boxes):
        return []
    sx, sy, dx, dy = to_device
    xs = np.floor(boxes[:, [0, 2]] * sx + dx).astype(np.int64)
    ys = np.floor(boxes[:, [1, 3]] * sy + dy).astype(np.int64)
    # a box given right to left is drawn as drawRect draws it: normalised
    x1, x2 = np.minimum(xs[:, 0], xs[:, 1]), np.maximum(xs[:, 0], xs[:, 1])
    y1, y2 = np.minimum(ys[:, 0], ys[:, 1]), np.maximum(ys[:, 0], ys[:, 1])
    hy, ha, hb = _merged_runs(np.concatenate([y1, y2]), np.concatenate([x1, x1]),
                              np.concatenate([x2, x2]))
    vx, va, vb = _merged_runs(np.concatenate([x1, x2]), np.concatenate([y1, y1]),
                              np.concatenate([y2, y2]))
    bsx, bsy, bdx, bdy = drawn_in

    def at_x(v: np.ndarray) -> list[float]:
        return ((v + (0.5 - bdx)) / bsx).tolist()

    def at_y(v: np.ndarray) -> list[float]:
        return ((v + (0.5 - bdy)) / bsy).tolist()

    hy_at, vx_at = at_y(hy), at_x(vx)
    return [*map(QLineF, at_x(ha), hy_at, at_x(hb), hy_at),
            *map(QLineF, vx_at, at_y(va), vx_at, at_y(vb))]


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
