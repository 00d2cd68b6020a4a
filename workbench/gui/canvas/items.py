"""Graphics items of the labeling canvas, painted from core records.

:class:`AnnotationItem` draws one image's boxes in a single item: rectangles grouped by colour,
culled to the exposed area (on Python lists up to :data:`PY_BOXES` boxes, with numpy above:
a start-up draws its first image's boxes without importing numpy, issue 14), class labels at
a constant on-screen size, the selected box with eight handles, unreviewed model suggestions
dashed. Items never own data: the window hands them boxes derived from the (frozen)
:class:`~workbench.core.annotation.Annotation` after every edit, and a drag shows a *preview*
box until the mouse is released and an undo command makes the new record. :class:`GuideItem`
draws the draw-mode crosshair and the rubber band.

All coordinates are scene = image pixel-edge coordinates (float, sub-pixel).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from workbench.gui.canvas.layer_list import LAYER_Z
from workbench.gui.canvas.palette import SELECTION_COLOR, text_color_for

if TYPE_CHECKING:  # numpy is imported where used (start-up: none before the first paint)
    import numpy as np


#: Side of a resize handle, in screen pixels.
HANDLE_PX = 8.0
#: Labels are drawn only for boxes at least this wide on screen (clutter control).
LABEL_MIN_SCREEN_W = 18.0
#: Above this many visible boxes, unselected boxes are drawn with 1 px lines.
THIN_LINES_ABOVE = 2000
#: More visible labels than this are not drawn (thousands of labels are unreadable anyway).
MAX_LABELS = 600
#: Up to this many boxes the item keeps them as a list of tuples and culls in Python (as fast
#: as numpy at this size); more are kept and culled as an ``(N, 4)`` array.
PY_BOXES = 500


def handle_points(box: Sequence[float]) -> list[QPointF]:
    """The 8 handle centres of ``box``: corners TL, TR, BR, BL then edges T, R, B, L."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return [QPointF(x1, y1), QPointF(x2, y1), QPointF(x2, y2), QPointF(x1, y2),
            QPointF(cx, y1), QPointF(x2, cy), QPointF(cx, y2), QPointF(x1, cy)]


class AnnotationItem(QGraphicsObject):
    """All boxes of the current image, one item (fast with 10,000 boxes)."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setZValue(LAYER_Z["annotations"])
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        # a few boxes are a list (``_rows``), many an array (``_array``); the array of a few is
        # made when asked for (``boxes``): numpy is not imported to draw them (issue 14)
        self._array: np.ndarray | None = None
        self._rows: list[tuple[float, float, float, float]] | None = []
        self._n = 0
        self._colors: list[QColor] = []
        self._labels: list[str] = []
        self._dashed: Sequence[bool] | np.ndarray = ()
        self._groups: list[tuple[QColor, bool, Sequence[int], list[QRectF]]] = []
        self._bounds = QRectF()
        self._image_rect = QRectF()
        self.selected = -1  #: the primary selection (handles, Boxes dock); -1: none
        #: more selected boxes (Ctrl+click, Ctrl+A): outlined like the primary, no handles
        self.extra: frozenset[int] = frozenset()
        self.hovered = -1
        self._preview: tuple[int, tuple[float, float, float, float]] | None = None
        #: a group drag in progress: (indices, dx, dy)
        self._group_preview: tuple[frozenset[int], float, float] | None = None
        self._font = QFont()
        self._font.setPixelSize(12)
        self._font.setWeight(QFont.Weight.DemiBold)
        self._metrics = QFontMetricsF(self._font)
        self._label_cache: dict[tuple, QPixmap] = {}

    # -- data ------------------------------------------------------------------------------
    @property
    def boxes(self) -> np.ndarray:
        """``(N, 4)`` float64 pixel-edge boxes as last set (without a drag preview)."""
        return self._boxes

    @property
    def _boxes(self) -> np.ndarray:
        if self._array is None:
            import numpy as np
            self._array = np.asarray(self._rows or np.zeros((0, 4)),
                                     dtype=np.float64).reshape(-1, 4)
        return self._array

    def box_rows(self) -> Sequence[tuple[float, float, float, float]] | np.ndarray:
        """The boxes as set: a list of ``(x1, y1, x2, y2)`` tuples up to :data:`PY_BOXES`
        boxes, else the ``(N, 4)`` array (:func:`~workbench.gui.canvas.tools.box_at` takes
        both)."""
        return self._rows if self._rows is not None else self._boxes

    def count(self) -> int:
        return self._n

    def set_image_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._image_rect = QRectF(rect)
        self._update_bounds()

    def set_boxes(self, boxes: np.ndarray, colors: Sequence[QColor], labels: Sequence[str],
                  dashed: Sequence[bool] | np.ndarray) -> None:
        """Replace the drawn boxes. ``boxes`` ``(N, 4)`` (an array or a sequence of 4-sequences);
        one colour, label and flag per box."""
        array: np.ndarray | None = None
        if isinstance(boxes, (list, tuple)) and len(boxes) <= PY_BOXES:
            rows: list[tuple[float, float, float, float]] | None = [
                (float(x1), float(y1), float(x2), float(y2)) for x1, y1, x2, y2 in boxes]
        else:
            import numpy as np
            array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            rows = ([tuple(r) for r in array.tolist()]  # type: ignore[misc]
                    if len(array) <= PY_BOXES else None)
        n = len(rows) if rows is not None else len(array)  # type: ignore[arg-type]
        if not (len(colors) == len(labels) == len(dashed) == n):
            raise ValueError("boxes, colors, labels and dashed must have the same length")
        self.prepareGeometryChange()
        self._array, self._rows, self._n = array, rows, n
        self._colors = list(colors)
        self._labels = list(labels)
        if rows is not None:
            self._dashed = [bool(d) for d in dashed]
        else:
            import numpy as np
            self._dashed = np.asarray(dashed, dtype=bool).reshape(-1)
        groups: dict[tuple[int, bool], list[int]] = {}
        for i, (color, dash) in enumerate(zip(self._colors, list(self._dashed))):
            groups.setdefault((color.rgba(), bool(dash)), []).append(i)
        self._groups = []
        for (_rgba, dash), idx in groups.items():
            if rows is not None:
                index: Sequence[int] = idx
                coords = [rows[i] for i in idx]
            else:
                import numpy as np
                index = np.asarray(idx, dtype=np.int64)
                coords = array[index].tolist()  # type: ignore[index]
            rects = [QRectF(x1, y1, x2 - x1, y2 - y1) for x1, y1, x2, y2 in coords]
            self._groups.append((QColor(self._colors[idx[0]]), dash, index, rects))
        if self.selected >= n:
            self.selected = -1
        self.extra = frozenset(i for i in self.extra if i < n and i != self.selected)
        if self.hovered >= n:
            self.hovered = -1
        self._preview = None
        self._group_preview = None
        self._update_bounds()
        self.update()

    def box(self, index: int) -> tuple[float, float, float, float]:
        if self._preview is not None and self._preview[0] == index:
            return self._preview[1]
        x1, y1, x2, y2 = (self._rows[index] if self._rows is not None
                          else self._boxes[index].tolist())
        if self._group_preview is not None and index in self._group_preview[0]:
            _, dx, dy = self._group_preview
            return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)
        return (x1, y1, x2, y2)

    def set_selected(self, index: int) -> None:
        if index != self.selected:
            self.selected = index
            self.extra = self.extra - {index}
            self.update()

    def set_extra(self, indices: Iterable[int]) -> None:
        """The boxes selected besides the primary one."""
        extra = frozenset(i for i in indices if 0 <= i < self._n and i != self.selected)
        if extra != self.extra:
            self.extra = extra
            self.update()

    def selection(self) -> tuple[int, ...]:
        """Every selected box, in index order (the primary one included)."""
        primary = {self.selected} if self.selected >= 0 else set()
        return tuple(sorted(primary | self.extra))

    def set_group_preview(self, indices: Iterable[int] | None, dx: float = 0.0,
                          dy: float = 0.0) -> None:
        """Draw ``indices`` shifted by ``(dx, dy)`` (a group drag); ``None`` ends it."""
        self._group_preview = (frozenset(indices), dx, dy) if indices is not None else None
        self.update()  # the tool keeps the group on the image, inside the item's bounds

    def set_hovered(self, index: int) -> None:
        if index != self.hovered:
            old = self.hovered
            self.hovered = index
            for i in (old, index):
                if 0 <= i < self._n:
                    self.update(self._screen_pad(self._rect(i)))

    def set_preview(self, index: int, box: tuple[float, float, float, float] | None) -> None:
        """Draw box ``index`` at ``box`` (a drag in progress); ``None`` ends the preview."""
        old = self._rect(index) if 0 <= index < self._n else QRectF()
        if self._preview is not None:
            old = old.united(QRectF(*_xywh(self._preview[1])))
        self._preview = (index, box) if box is not None else None
        new = QRectF(*_xywh(box)) if box is not None else QRectF()
        self.update(self._screen_pad(old.united(new)))

    # -- geometry -------------------------------------------------------------------------
    def _rect(self, i: int) -> QRectF:
        x1, y1, x2, y2 = self.box(i)
        return QRectF(x1, y1, x2 - x1, y2 - y1)

    def _screen_pad(self, rect: QRectF) -> QRectF:
        # Labels and handles extend beyond a box by a constant number of screen pixels.
        scale = self._view_scale()
        pad = 28.0 / scale
        return rect.adjusted(-pad, -pad, pad, pad)

    def _view_scale(self) -> float:
        scene = self.scene()
        views = scene.views() if scene is not None else []
        return max(views[0].transform().m11(), 1e-6) if views else 1.0

    def _update_bounds(self) -> None:
        rect = QRectF(self._image_rect)
        if self._n and self._rows is not None:
            x1, y1, _, _ = map(min, zip(*self._rows))
            _, _, x2, y2 = map(max, zip(*self._rows))
            rect = rect.united(QRectF(x1, y1, x2 - x1, y2 - y1))
        elif self._n:
            x1, y1 = self._boxes[:, 0].min(), self._boxes[:, 1].min()
            x2, y2 = self._boxes[:, 2].max(), self._boxes[:, 3].max()
            rect = rect.united(QRectF(x1, y1, x2 - x1, y2 - y1))
        pad = max(rect.width(), rect.height(), 1.0) * 0.5  # room for labels at low zoom
        self._bounds = rect.adjusted(-pad, -pad, pad, pad)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    # -- painting -------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if not self._n:
            return
        scale = max(painter.worldTransform().m11(), 1e-6)
        exposed = option.exposedRect  # type: ignore[attr-defined]
        pad = 30.0 / scale
        ex1, ey1 = exposed.left() - pad, exposed.top() - pad
        ex2, ey2 = exposed.right() + pad, exposed.bottom() + pad
        special = {self.selected, self.hovered, *self.extra}
        if self._preview is not None:
            special.add(self._preview[0])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        special_idx = [i for i in special if 0 <= i < self._n]
        if self._rows is not None:
            labels = self._paint_rows(painter, (ex1, ey1, ex2, ey2), special_idx, scale)
        else:
            labels = self._paint_array(painter, (ex1, ey1, ex2, ey2), special_idx, scale)
        for i in sorted(special_idx):
            self._paint_one(painter, i, scale)
        self._paint_labels(painter, labels, widget)
        if 0 <= self.selected < self._n:
            self._paint_handles(painter, self.selected, scale)

    def _pen(self, color: QColor, dash: bool, width: float) -> QPen:
        pen = QPen(color, width, Qt.PenStyle.DashLine if dash else Qt.PenStyle.SolidLine)
        pen.setCosmetic(True)  # same on-screen width at every zoom
        return pen

    def _paint_rows(self, painter: QPainter, area: tuple[float, float, float, float],
                    special_idx: list[int], scale: float) -> list[int]:
        """Paint the unselected boxes of a few (``_rows``) meeting ``area``; the boxes to
        label (visible and wide enough)."""
        ex1, ey1, ex2, ey2 = area
        rows = self._rows
        assert rows is not None
        visible = [x2 >= ex1 and x1 <= ex2 and y2 >= ey1 and y1 <= ey2
                   for x1, y1, x2, y2 in rows]
        all_visible = all(visible)
        skip = set(special_idx)
        # (2 px lines: at most PY_BOXES boxes, far below THIN_LINES_ABOVE)
        for color, dash, index, rects in self._groups:
            painter.setPen(self._pen(color, dash, 2.0))
            if all_visible and skip.isdisjoint(index):
                painter.drawRects(rects)
                continue
            keep = [rects[j] for j, i in enumerate(index) if visible[i] and i not in skip]
            if keep:
                painter.drawRects(keep)
        show = [i for i, (x1, _y1, x2, _y2) in enumerate(rows)
                if visible[i] and (x2 - x1) * scale >= LABEL_MIN_SCREEN_W]
        if len(show) > MAX_LABELS:
            show = [i for i in (self.selected, self.hovered) if i >= 0]
        return show

    def _paint_array(self, painter: QPainter, area: tuple[float, float, float, float],
                     special_idx: list[int], scale: float) -> list[int]:
        """:meth:`_paint_rows` for many boxes (``_array``), culled with numpy."""
        import numpy as np
        ex1, ey1, ex2, ey2 = area
        b = self._boxes
        visible = (b[:, 2] >= ex1) & (b[:, 0] <= ex2) & (b[:, 3] >= ey1) & (b[:, 1] <= ey2)
        all_visible = bool(visible.all())
        skip = np.zeros(len(b), dtype=bool)
        skip[special_idx] = True
        # 2 px lines read best; past a few thousand boxes 1 px lines keep repaints fast (Qt's
        # raster engine strokes 1 px cosmetic lines without its wide-line stroker: ~2x faster)
        # and dense scenes read better thin anyway.
        width = 2.0 if int(visible.sum()) <= THIN_LINES_ABOVE else 1.0
        for color, dash, index, rects in self._groups:
            painter.setPen(self._pen(color, dash, width))
            group_skip = skip[index]
            if all_visible and not group_skip.any():
                painter.drawRects(rects)
                continue
            keep = np.flatnonzero(visible[index] & ~group_skip)
            if len(keep):
                painter.drawRects([rects[j] for j in keep.tolist()])
        wide = (b[:, 2] - b[:, 0]) * scale >= LABEL_MIN_SCREEN_W
        show = np.flatnonzero(visible & wide)
        if len(show) > MAX_LABELS:
            return [i for i in (self.selected, self.hovered) if i >= 0]
        return show.tolist()

    def _paint_one(self, painter: QPainter, i: int, scale: float) -> None:
        color = QColor(self._colors[i])
        rect = self._rect(i)
        fill = QColor(color)
        selected = i == self.selected or i in self.extra
        fill.setAlpha(38 if selected else 22)
        if selected or i == self.hovered:
            painter.fillRect(rect, fill)
        pen = QPen(color, 3.0 if selected else 2.5,
                   Qt.PenStyle.DashLine if self._dashed[i] else Qt.PenStyle.SolidLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)

    def _paint_labels(self, painter: QPainter, show: list[int], widget: QWidget | None) -> None:
        if not show:
            return
        transform = painter.worldTransform()
        # the view's viewport when painted on screen (``painter.device()`` there had PySide
        # look for the class of a widget among every QtWidgets class: start-up, issue 14)
        device = widget if widget is not None else painter.device()
        dpr = device.devicePixelRatioF() if device is not None else 1.0
        painter.save()
        painter.resetTransform()
        top_limit = transform.map(QPointF(0, 0)).y()
        for i in show:
            text = self._labels[i]
            if not text:
                continue
            x1, y1, _x2, _y2 = self.box(i)
            corner = transform.map(QPointF(x1, y1))
            tag = self._label_pixmap(text, self._colors[i],
                                     i == self.selected or i in self.extra, dpr)
            h = tag.height() / tag.devicePixelRatio()
            top = corner.y() - h
            if top < top_limit:  # no room above the box: draw inside it
                top = corner.y()
            painter.drawPixmap(QPointF(corner.x() - 1, top), tag)
        painter.restore()

    def _label_pixmap(self, text: str, color: QColor, selected: bool, dpr: float) -> QPixmap:
        """The label tag, rendered once per (text, colour, state, DPR) and reused: drawing a
        cached pixmap is several times cheaper than shaping text on every repaint."""
        key = (text, color.rgba(), selected, dpr)
        pixmap = self._label_cache.get(key)
        if pixmap is None:
            w = self._metrics.horizontalAdvance(text) + 10
            h = self._metrics.height() + 4
            pixmap = QPixmap(max(1, int(w * dpr + 0.5)), max(1, int(h * dpr + 0.5)))
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(Qt.GlobalColor.transparent)
            p = QPainter(pixmap)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            fill = QColor(color)
            if not selected:
                fill.setAlpha(215)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(fill)
            rect = QRectF(0, 0, w, h)
            p.drawRoundedRect(rect, 3, 3)
            p.setFont(self._font)
            p.setPen(text_color_for(color))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
            p.end()
            if len(self._label_cache) > 512:
                self._label_cache.clear()
            self._label_cache[key] = pixmap
        return pixmap

    def _paint_handles(self, painter: QPainter, i: int, scale: float) -> None:
        half = HANDLE_PX / 2 / scale
        pen = QPen(QColor(30, 30, 30), 1.0)
        pen.setCosmetic(True)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(pen)
        painter.setBrush(QBrush(SELECTION_COLOR))
        for p in handle_points(self.box(i)):
            painter.drawRect(QRectF(p.x() - half, p.y() - half, 2 * half, 2 * half))


class GuideItem(QGraphicsObject):
    """Draw-mode crosshair across the image and the rubber band of a box being drawn."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setZValue(LAYER_Z["guide"])
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._image_rect = QRectF()
        self._cross: QPointF | None = None
        self._band: QRectF | None = None
        self.band_color = QColor(255, 255, 255)

    def set_image_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._image_rect = QRectF(rect)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._image_rect.adjusted(-2, -2, 2, 2)

    def set_crosshair(self, point: QPointF | None) -> None:
        self._dirty_cross()
        self._cross = QPointF(point) if point is not None else None
        self._dirty_cross()

    def set_band(self, rect: QRectF | None) -> None:
        pad = 4.0
        if self._band is not None:
            self.update(self._band.adjusted(-pad, -pad, pad, pad))
        self._band = rect.normalized() if rect is not None else None
        if self._band is not None:
            self.update(self._band.adjusted(-pad, -pad, pad, pad))

    @property
    def band(self) -> QRectF | None:
        return self._band

    def _dirty_cross(self) -> None:
        if self._cross is None:
            return
        r = self._image_rect
        thick = 4.0
        self.update(QRectF(r.left(), self._cross.y() - thick, r.width(), 2 * thick))
        self.update(QRectF(self._cross.x() - thick, r.top(), 2 * thick, r.height()))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._cross is not None and self._image_rect.contains(self._cross):
            pen = QPen(QColor(255, 255, 255, 150), 1.0, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            r, c = self._image_rect, self._cross
            painter.drawLine(QPointF(r.left(), c.y()), QPointF(r.right(), c.y()))
            painter.drawLine(QPointF(c.x(), r.top()), QPointF(c.x(), r.bottom()))
        if self._band is not None:
            pen = QPen(self.band_color, 2.0)
            pen.setCosmetic(True)
            fill = QColor(self.band_color)
            fill.setAlpha(45)
            painter.setPen(pen)
            painter.setBrush(QBrush(fill))
            painter.drawRect(self._band)


def _xywh(box: Sequence[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return (x1, y1, x2 - x1, y2 - y1)
