"""Canvas tools: what a mouse press, drag and release mean in select mode and in draw mode.

The geometry (hit tests, resizing by any of 8 handles, clamped moves) is plain functions on
pixel-edge ``xyxy`` tuples so it can be tested without a window. The tools translate view events
into *previews* on the :class:`~workbench.gui.canvas.items.AnnotationItem` and, on release, one
finished result (``box_drawn`` / ``box_edited``) that the window turns into one undo command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt

from workbench.core.boxes import Box

if TYPE_CHECKING:  # numpy is imported where used (start-up: none before the first paint)
    import numpy as np
    from workbench.gui.canvas.view import CanvasView

#: Screen-pixel tolerance for grabbing a handle or an edge.
GRAB_PX = 7.0
#: A press-release closer than this (screen px) is a click, not a drag.
DRAG_PX = 3.0
#: Smallest box (image px) the tools produce.
MIN_SIZE = 1.0


class Handle(IntEnum):
    """Handle order matches :func:`workbench.gui.canvas.items.handle_points`."""

    TOP_LEFT = 0
    TOP_RIGHT = 1
    BOTTOM_RIGHT = 2
    BOTTOM_LEFT = 3
    TOP = 4
    RIGHT = 5
    BOTTOM = 6
    LEFT = 7


# Which box edges each handle moves: (x1, y1, x2, y2).
_MOVES: dict[Handle, tuple[bool, bool, bool, bool]] = {
    Handle.TOP_LEFT: (True, True, False, False),
    Handle.TOP_RIGHT: (False, True, True, False),
    Handle.BOTTOM_RIGHT: (False, False, True, True),
    Handle.BOTTOM_LEFT: (True, False, False, True),
    Handle.TOP: (False, True, False, False),
    Handle.RIGHT: (False, False, True, False),
    Handle.BOTTOM: (False, False, False, True),
    Handle.LEFT: (True, False, False, False),
}

HANDLE_CURSORS: dict[Handle, Qt.CursorShape] = {
    Handle.TOP_LEFT: Qt.CursorShape.SizeFDiagCursor,
    Handle.BOTTOM_RIGHT: Qt.CursorShape.SizeFDiagCursor,
    Handle.TOP_RIGHT: Qt.CursorShape.SizeBDiagCursor,
    Handle.BOTTOM_LEFT: Qt.CursorShape.SizeBDiagCursor,
    Handle.TOP: Qt.CursorShape.SizeVerCursor,
    Handle.BOTTOM: Qt.CursorShape.SizeVerCursor,
    Handle.LEFT: Qt.CursorShape.SizeHorCursor,
    Handle.RIGHT: Qt.CursorShape.SizeHorCursor,
}


def handle_at(box: Box, x: float, y: float, tol: float) -> Handle | None:
    """The handle of ``box`` within ``tol`` (image px) of ``(x, y)``; corners win over edges,
    and any point on an edge line (not only its midpoint) grabs that edge."""
    x1, y1, x2, y2 = box
    near_l, near_r = abs(x - x1) <= tol, abs(x - x2) <= tol
    near_t, near_b = abs(y - y1) <= tol, abs(y - y2) <= tol
    inside_x = x1 - tol <= x <= x2 + tol
    inside_y = y1 - tol <= y <= y2 + tol
    if near_t and near_l:
        return Handle.TOP_LEFT
    if near_t and near_r:
        return Handle.TOP_RIGHT
    if near_b and near_r:
        return Handle.BOTTOM_RIGHT
    if near_b and near_l:
        return Handle.BOTTOM_LEFT
    if near_t and inside_x:
        return Handle.TOP
    if near_b and inside_x:
        return Handle.BOTTOM
    if near_l and inside_y:
        return Handle.LEFT
    if near_r and inside_y:
        return Handle.RIGHT
    return None


def box_at(boxes: np.ndarray | Sequence[Sequence[float]], x: float, y: float,
           tol: float = 0.0) -> int:
    """Index of the smallest box containing ``(x, y)`` (grown by ``tol``), or -1.

    The smallest wins so that a box nested inside a larger one can always be picked (the
    first of equal areas). ``boxes``: an ``(N, 4)`` array, or a list of 4-sequences
    (:meth:`~workbench.gui.canvas.items.AnnotationItem.box_rows`: no numpy for a few)."""
    if isinstance(boxes, list):
        best, best_area = -1, 0.0
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            if x1 - tol <= x <= x2 + tol and y1 - tol <= y <= y2 + tol:
                area = (x2 - x1) * (y2 - y1)
                if best < 0 or area < best_area:
                    best, best_area = i, area
        return best
    import numpy as np
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return -1
    inside = ((boxes[:, 0] - tol <= x) & (x <= boxes[:, 2] + tol)
              & (boxes[:, 1] - tol <= y) & (y <= boxes[:, 3] + tol))
    hits = np.flatnonzero(inside)
    if not len(hits):
        return -1
    areas = (boxes[hits, 2] - boxes[hits, 0]) * (boxes[hits, 3] - boxes[hits, 1])
    return int(hits[int(np.argmin(areas))])


def resize_box(box: Box, handle: Handle, x: float, y: float, width: float, height: float) -> Box:
    """``box`` with the edges of ``handle`` moved to ``(x, y)``, clamped to the image and
    normalised (dragging an edge past the opposite one flips the box)."""
    x = min(max(x, 0.0), width)
    y = min(max(y, 0.0), height)
    mx1, my1, mx2, my2 = _MOVES[handle]
    x1, y1, x2, y2 = box
    x1, y1 = (x if mx1 else x1), (y if my1 else y1)
    x2, y2 = (x if mx2 else x2), (y if my2 else y2)
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def move_box(box: Box, dx: float, dy: float, width: float, height: float) -> Box:
    """``box`` shifted by ``(dx, dy)``, stopped at the image border without changing its size."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    nx1 = min(max(x1 + dx, 0.0), max(width - w, 0.0))
    ny1 = min(max(y1 + dy, 0.0), max(height - h, 0.0))
    return (nx1, ny1, nx1 + w, ny1 + h)


def snap_box(box: Box) -> Box:
    """``box`` with every edge on the nearest whole pixel: the edges VOC will store
    (:func:`workbench.core.boxes.edges_to_voc` rounds the same way), so the size shown while
    drawing or resizing is the size written."""
    return tuple(float(round(v)) for v in box)  # type: ignore[return-value]


def rect_to_box(rect: QRectF, width: float, height: float) -> Box:
    r = rect.normalized()
    x1 = min(max(r.left(), 0.0), width)
    y1 = min(max(r.top(), 0.0), height)
    x2 = min(max(r.right(), 0.0), width)
    y2 = min(max(r.bottom(), 0.0), height)
    return (x1, y1, x2, y2)


@dataclass
class _Drag:
    kind: str  # "move" | "resize" | "draw" | "group" | "band"
    index: int
    start: QPointF
    origin_box: Box
    handle: Handle | None = None
    moved: bool = False
    group: tuple[int, ...] = ()  # "group": the selected boxes that move together
    delta: tuple[float, float] = (0.0, 0.0)  # "group": the shift shown so far


def boxes_inside(boxes: np.ndarray | Sequence[Sequence[float]], rect: QRectF) -> list[int]:
    """Indices of the boxes ``(N, 4)`` (or a list of 4-sequences) wholly inside ``rect`` (a
    selection band)."""
    left, top, right, bottom = rect.left(), rect.top(), rect.right(), rect.bottom()
    if isinstance(boxes, list):
        return [i for i, (x1, y1, x2, y2) in enumerate(boxes)
                if x1 >= left and y1 >= top and x2 <= right and y2 <= bottom]
    import numpy as np
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    inside = (b[:, 0] >= left) & (b[:, 1] >= top) & (b[:, 2] <= right) & (b[:, 3] <= bottom)
    return np.flatnonzero(inside).tolist()


def group_delta(boxes: np.ndarray, dx: float, dy: float, width: float,
                height: float) -> tuple[float, float]:
    """``(dx, dy)`` limited so that every box of ``boxes`` ``(N, 4)`` stays on the image: a
    group moves as one, its shape unchanged, and stops where its first box meets the border."""
    dx = min(max(dx, -float(boxes[:, 0].min())), float(width - boxes[:, 2].max()))
    dy = min(max(dy, -float(boxes[:, 1].min())), float(height - boxes[:, 3].max()))
    return dx, dy


class Tool:
    """Base: a tool receives scene positions from the view (left button only)."""

    cursor = Qt.CursorShape.ArrowCursor

    def __init__(self, view: CanvasView) -> None:
        self.view = view
        self.drag: _Drag | None = None

    def press(self, pos: QPointF, screen_tol: float) -> None: ...
    def move(self, pos: QPointF, screen_tol: float, buttons_down: bool) -> None: ...
    def release(self, pos: QPointF) -> None: ...

    def cancel(self) -> None:
        self.drag = None

    def _moved_enough(self, pos: QPointF) -> bool:
        assert self.drag is not None
        scale = self.view.zoom()
        d = (pos - self.drag.start) * scale
        return abs(d.x()) >= DRAG_PX or abs(d.y()) >= DRAG_PX


class SelectTool(Tool):
    """Click selects (smallest box under the cursor), drag moves, handles and edges resize.
    Ctrl+click adds a box to the selection or takes it out; dragging a box of a selection of
    several moves them all; a drag from empty space selects the boxes wholly inside its band
    (with Ctrl: adds them)."""

    def press(self, pos: QPointF, screen_tol: float) -> None:
        item = self.view.annotation_item()
        if not item.isVisible():  # boxes hidden (Ctrl+H): nothing to grab
            self._click(pos)
            return
        if self.view.press_modifiers & Qt.KeyboardModifier.ControlModifier:
            index = box_at(item.box_rows(), pos.x(), pos.y(), screen_tol)
            if index >= 0:
                self.view.toggle_selected(index)
            else:
                self.drag = _Drag("band", -1, QPointF(pos), (pos.x(), pos.y()) * 2,
                                  group=self.view.selection())
            return
        sel = item.selected
        if sel >= 0:
            handle = handle_at(item.box(sel), pos.x(), pos.y(), screen_tol)
            if handle is not None:
                self.drag = _Drag("resize", sel, QPointF(pos), item.box(sel), handle)
                return
        selection = self.view.selection()
        if len(selection) > 1:
            index = box_at(item.box_rows(), pos.x(), pos.y())
            if index in selection:
                self.drag = _Drag("group", index, QPointF(pos), item.box(index),
                                  group=selection)
                return
        # An edge or corner of any box (not only the selected one) grabs it for resizing.
        near = box_at(item.box_rows(), pos.x(), pos.y(), screen_tol)
        if near >= 0:
            handle = handle_at(item.box(near), pos.x(), pos.y(), screen_tol)
            if handle is not None:
                self.view.select(near)
                self.drag = _Drag("resize", near, QPointF(pos), item.box(near), handle)
                return
        index = box_at(item.box_rows(), pos.x(), pos.y())
        self.view.select(index)
        if index >= 0:
            self.drag = _Drag("move", index, QPointF(pos), item.box(index))
        else:  # a click (scene_clicked on release) or a band
            self.drag = _Drag("band", -1, QPointF(pos), (pos.x(), pos.y()) * 2)

    def _click(self, pos: QPointF) -> None:
        w, h = self.view.image_size()
        if 0 <= pos.x() <= w and 0 <= pos.y() <= h:  # on the image, not its surround
            self.view.scene_clicked.emit(pos.x(), pos.y())

    def move(self, pos: QPointF, screen_tol: float, buttons_down: bool) -> None:
        item = self.view.annotation_item()
        if self.drag is None:
            self._hover(pos, screen_tol)
            return
        if not self.drag.moved and not self._moved_enough(pos):
            return
        self.drag.moved = True
        w, h = self.view.image_size()
        if self.drag.kind == "band":
            self.view.guide_item().set_band(QRectF(self.drag.start, pos).normalized())
            return
        if self.drag.kind == "group":
            d = pos - self.drag.start
            self.drag.delta = group_delta(item.boxes[list(self.drag.group)], round(d.x()),
                                          round(d.y()), w, h)
            item.set_group_preview(self.drag.group, *self.drag.delta)
            return
        # Whole-pixel shifts and edges: what is shown is what VOC stores (see snap_box).
        if self.drag.kind == "move":
            d = pos - self.drag.start
            box = move_box(self.drag.origin_box, round(d.x()), round(d.y()), w, h)
        else:
            assert self.drag.handle is not None
            box = resize_box(self.drag.origin_box, self.drag.handle, round(pos.x()),
                             round(pos.y()), w, h)
        item.set_preview(self.drag.index, box)

    def release(self, pos: QPointF) -> None:
        drag, self.drag = self.drag, None
        if drag is None:
            return
        item = self.view.annotation_item()
        if drag.kind == "band":
            self.view.guide_item().set_band(None)
            if not drag.moved:
                if not self.view.press_modifiers & Qt.KeyboardModifier.ControlModifier:
                    self._click(drag.start)
                return
            inside = boxes_inside(item.box_rows(), QRectF(drag.start, pos).normalized())
            chosen = [*drag.group, *(i for i in inside if i not in drag.group)]
            self.view.set_selection(chosen, inside[-1] if inside else self.view.selected())
            return
        if drag.kind == "group":
            item.set_group_preview(None)
            if not drag.moved:  # a click on a box of the selection selects it alone
                self.view.select(drag.index)
            elif drag.delta != (0.0, 0.0):
                self.view.boxes_moved.emit(drag.group, *drag.delta)
            return
        if not drag.moved:
            item.set_preview(drag.index, None)
            return
        box = item.box(drag.index)
        item.set_preview(drag.index, None)
        if box[2] - box[0] >= MIN_SIZE and box[3] - box[1] >= MIN_SIZE and box != drag.origin_box:
            self.view.box_edited.emit(drag.index, box)

    def cancel(self) -> None:
        if self.drag is not None:
            if self.drag.kind == "group":
                self.view.annotation_item().set_group_preview(None)
            elif self.drag.kind == "band":
                self.view.guide_item().set_band(None)
            else:
                self.view.annotation_item().set_preview(self.drag.index, None)
        self.drag = None

    def _hover(self, pos: QPointF, tol: float) -> None:
        item = self.view.annotation_item()
        if not item.isVisible():
            return
        sel = item.selected
        if sel >= 0:
            handle = handle_at(item.box(sel), pos.x(), pos.y(), tol)
            if handle is not None:
                self.view.viewport().setCursor(HANDLE_CURSORS[handle])
                return
        near = box_at(item.box_rows(), pos.x(), pos.y(), tol)
        handle = handle_at(item.box(near), pos.x(), pos.y(), tol) if near >= 0 else None
        if handle is not None:
            item.set_hovered(near)
            self.view.viewport().setCursor(HANDLE_CURSORS[handle])
            return
        index = box_at(item.box_rows(), pos.x(), pos.y())
        item.set_hovered(index)
        self.view.viewport().setCursor(Qt.CursorShape.SizeAllCursor if index >= 0
                                       else Qt.CursorShape.ArrowCursor)


class DrawTool(Tool):
    """Press-drag-release draws a new box (clamped to the image)."""

    cursor = Qt.CursorShape.CrossCursor

    def press(self, pos: QPointF, screen_tol: float) -> None:
        w, h = self.view.image_size()
        if not (0 <= pos.x() <= w and 0 <= pos.y() <= h):
            return  # boxes start on the image
        self.drag = _Drag("draw", -1, QPointF(pos), (pos.x(), pos.y(), pos.x(), pos.y()))

    def move(self, pos: QPointF, screen_tol: float, buttons_down: bool) -> None:
        guide = self.view.guide_item()
        guide.set_crosshair(pos)
        if self.drag is None:
            return
        if not self.drag.moved and not self._moved_enough(pos):
            return
        self.drag.moved = True
        w, h = self.view.image_size()
        x1, y1, x2, y2 = snap_box(rect_to_box(QRectF(self.drag.start, pos), w, h))
        guide.set_band(QRectF(x1, y1, x2 - x1, y2 - y1))

    def release(self, pos: QPointF) -> None:
        drag, self.drag = self.drag, None
        guide = self.view.guide_item()
        if drag is None or not drag.moved:
            guide.set_band(None)
            return
        w, h = self.view.image_size()
        box = snap_box(rect_to_box(QRectF(drag.start, pos), w, h))
        if box[2] - box[0] >= MIN_SIZE and box[3] - box[1] >= MIN_SIZE:
            # The rubber band stays on the box while the class dialog (opened by a slot of
            # box_drawn) is up: the user sees what they are naming.
            x1, y1, x2, y2 = box
            guide.set_band(QRectF(x1, y1, x2 - x1, y2 - y1))
            self.view.box_drawn.emit(box)
        guide.set_band(None)

    def cancel(self) -> None:
        self.view.guide_item().set_band(None)
        self.drag = None
