"""The canvas view: zoom, pan, tools and keys on top of :class:`CanvasScene`.

* Wheel zooms around the cursor; ``zoom_in``/``zoom_out``/``fit``/``actual_size`` for actions.
* Middle-drag pans, and so does dragging with Space held (a Space tap without a drag emits
  ``space_tapped``, which the window binds to "verified", LabelImg's Space key, so one key is
  never bound to two actions).
* Arrow keys emit ``nudge_requested`` (1 px, Shift = 10 px); Escape cancels a drag or deselects.
* Left button goes to the current tool (:mod:`workbench.gui.canvas.tools`).

All signal coordinates are image pixel-edge coordinates (floats).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import (QContextMenuEvent, QKeyEvent, QMouseEvent, QPainter, QPalette,
                           QResizeEvent, QWheelEvent)
from PySide6.QtWidgets import QFrame, QGraphicsView, QWidget

from workbench.gui.canvas.items import AnnotationItem, GuideItem
from workbench.gui.canvas.scene import CanvasScene, background_color
from workbench.gui.canvas.tools import GRAB_PX, DrawTool, SelectTool, Tool, box_at

MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
ZOOM_STEP = 1.25


def _viewport() -> QWidget:
    """The viewport Qt would make (``QAbstractScrollArea``'s: its object name, the Base
    background role, auto-filled), made here: ``viewport()`` then returns a widget Python
    made. Qt's own one has no Python object yet, and the first ``viewport()`` had PySide look
    for its most derived class among every class of QtWidgets — creating them all, with ~75
    of their enums (~20 ms before the first paint; start-up, issue 14)."""
    widget = QWidget()
    widget.setObjectName("qt_scrollarea_viewport")
    widget.setBackgroundRole(QPalette.ColorRole.Base)
    widget.setAutoFillBackground(True)
    return widget


class CanvasView(QGraphicsView):
    """The image canvas (``window.canvas``). ``scene()`` is in image pixel coordinates."""

    scene_clicked = Signal(float, float)  # left click on empty image area, select mode, image px
    cursor_moved = Signal(float, float)
    zoom_changed = Signal(float)
    mode_changed = Signal(str)  # "select" | "draw"
    selection_changed = Signal(int)  # the primary object index or -1 (also on Ctrl+click)
    box_drawn = Signal(object)  # Box (x1, y1, x2, y2)
    box_edited = Signal(int, object)  # index, new Box (moved or resized)
    boxes_moved = Signal(object, float, float)  # indices, dx, dy: a selected group dragged
    box_double_clicked = Signal(int)
    nudge_requested = Signal(float, float)
    space_tapped = Signal()
    context_menu_requested = Signal(QPoint)  # global position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewport(_viewport())
        self._scene = CanvasScene(self)
        self.setScene(self._scene)
        self.setBackgroundBrush(background_color())
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setMouseTracking(True)
        self.setAcceptDrops(False)  # folders dropped on the canvas go to the window
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._tools: dict[str, Tool] = {"select": SelectTool(self), "draw": DrawTool(self)}
        self._mode = "select"
        self._fit_mode = True
        self._pan_last: QPoint | None = None
        self._space_down = False
        self._space_used = False
        #: the keyboard modifiers of the last left press (Ctrl+click adds to the selection)
        self.press_modifiers = Qt.KeyboardModifier.NoModifier

    # -- accessors ------------------------------------------------------------------------
    def canvas_scene(self) -> CanvasScene:
        return self._scene

    def annotation_item(self) -> AnnotationItem:
        return self._scene.annotation_item

    def guide_item(self) -> GuideItem:
        return self._scene.guide_item

    def image_size(self) -> tuple[int, int]:
        return self._scene.image_size

    def zoom(self) -> float:
        """Screen pixels per image pixel (1.0 = 100 %)."""
        return self.transform().m11()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def fit_mode(self) -> bool:
        return self._fit_mode

    def selected(self) -> int:
        """The primary selected box (handles, Boxes dock), or -1."""
        return self._scene.annotation_item.selected

    def selection(self) -> tuple[int, ...]:
        """Every selected box, in index order: the primary one and those added with Ctrl+click
        or Ctrl+A."""
        return self._scene.annotation_item.selection()

    # -- modes and selection --------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in self._tools:
            raise ValueError(f"unknown canvas mode {mode!r}")
        if mode == self._mode:
            return
        self._tools[self._mode].cancel()
        self.guide_item().set_crosshair(None)
        self._mode = mode
        self.viewport().setCursor(self._tools[mode].cursor)
        self.mode_changed.emit(mode)

    def cancel_interaction(self) -> None:
        """Drop a drag in progress (e.g. before another image is shown)."""
        self._tools[self._mode].cancel()
        self._pan_last = None
        self.guide_item().set_crosshair(None)
        self.annotation_item().set_hovered(-1)

    def select(self, index: int) -> None:
        """Select box ``index`` alone (-1: nothing)."""
        self.set_selection([index] if index >= 0 else [], index)

    def set_selection(self, indices: Sequence[int], primary: int | None = None) -> None:
        """Select ``indices``; ``primary`` (default: the last of them) gets the handles."""
        item = self._scene.annotation_item
        n = item.count()
        chosen = [i for i in indices if 0 <= i < n]
        if primary is None or not 0 <= primary < n:
            primary = chosen[-1] if chosen else -1
        changed = primary != item.selected or set(chosen) - {primary} != set(item.extra)
        item.set_selected(primary)
        item.set_extra(chosen)
        if changed:
            self.selection_changed.emit(primary)

    def toggle_selected(self, index: int) -> None:
        """Ctrl+click: add box ``index`` to the selection (it becomes the primary one) or take
        it out."""
        current = list(self.selection())
        if index in current:
            current.remove(index)
            primary = self.selected() if self.selected() != index else \
                (current[-1] if current else -1)
            self.set_selection(current, primary)
        elif 0 <= index < self._scene.annotation_item.count():
            self.set_selection([*current, index], index)

    def select_all(self) -> None:
        n = self._scene.annotation_item.count()
        primary = self.selected() if self.selected() >= 0 else n - 1
        self.set_selection(range(n), primary)

    # -- zoom -----------------------------------------------------------------------------
    def set_zoom(self, zoom: float, *, under_mouse: bool = False) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        factor = zoom / self.zoom()
        if abs(factor - 1.0) < 1e-9:
            return
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse if under_mouse
                                     else QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(factor, factor)
        self._after_zoom()

    def zoom_in(self) -> None:
        self._fit_mode = False
        self.set_zoom(self.zoom() * ZOOM_STEP)

    def zoom_out(self) -> None:
        self._fit_mode = False
        self.set_zoom(self.zoom() / ZOOM_STEP)

    def actual_size(self) -> None:
        self._fit_mode = False
        self.set_zoom(1.0)

    def fit(self) -> None:
        """Fit the whole image in the window (and keep fitting when the window resizes)."""
        self._fit_mode = True
        w, h = self.image_size()
        if not w or not h:
            return
        view = self.viewport().rect()
        margin = 12
        zoom = min((view.width() - 2 * margin) / w, (view.height() - 2 * margin) / h)
        self.set_zoom(max(zoom, MIN_ZOOM))
        self.centerOn(w / 2, h / 2)

    def _after_zoom(self) -> None:
        self._scene.set_smooth(self.zoom() < 2.0)
        self.zoom_changed.emit(self.zoom())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt API)
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            return
        self._fit_mode = False
        self.set_zoom(self.zoom() * (1.0015 ** delta), under_mouse=True)
        event.accept()

    # -- mouse ----------------------------------------------------------------------------
    def _scene_pos(self, event: QMouseEvent) -> QPointF:
        # Map the float position exactly (sub-pixel precision when zoomed in; mapToScene only
        # takes integer viewport points).
        inverse, _ok = self.viewportTransform().inverted()
        return inverse.map(event.position())

    def _tolerance(self) -> float:
        return GRAB_PX / max(self.zoom(), 1e-6)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_last = event.position().toPoint()
            self._space_used = self._space_down or self._space_used
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.image_size()[0]:
            self.press_modifiers = event.modifiers()
            self._tools[self._mode].press(self._scene_pos(event), self._tolerance())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        pos = self._scene_pos(event)
        self.cursor_moved.emit(pos.x(), pos.y())
        if self._pan_last is not None:
            now = event.position().toPoint()
            delta = now - self._pan_last
            self._pan_last = now
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            self._fit_mode = False
            return
        if self.image_size()[0]:
            down = bool(event.buttons() & Qt.MouseButton.LeftButton)
            self._tools[self._mode].move(pos, self._tolerance(), down)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if self._pan_last is not None and event.button() in (Qt.MouseButton.MiddleButton,
                                                             Qt.MouseButton.LeftButton):
            self._pan_last = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space_down
                                      else self._tools[self._mode].cursor)
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._tools[self._mode].release(self._scene_pos(event))
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton and self._mode == "select":
            pos = self._scene_pos(event)
            index = box_at(self.annotation_item().box_rows(), pos.x(), pos.y())
            if index >= 0:
                self.select(index)
                self.box_double_clicked.emit(index)
                return
        super().mouseDoubleClickEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt API)
        self.guide_item().set_crosshair(None)
        self.annotation_item().set_hovered(-1)
        super().leaveEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 (Qt API)
        pos = self.mapToScene(event.pos())
        index = box_at(self.annotation_item().box_rows(), pos.x(), pos.y())
        if index >= 0 and index not in self.selection():  # a selected group stays selected
            self.select(index)
        self.context_menu_requested.emit(event.globalPos())

    # -- keys -----------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:  # noqa: A003 (Qt API)
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            key = event.key()
            plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                          Qt.KeyboardModifier.KeypadModifier)
            if key == Qt.Key.Key_Space and plain:
                event.accept()  # Space is handled here: tap = verified, hold = pan
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down = True
                self._space_used = False
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        arrows = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0),
                  Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
        if key in arrows and self.selection():
            step = 10.0 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
            dx, dy = arrows[key]
            self.nudge_requested.emit(dx * step, dy * step)
            return
        if key == Qt.Key.Key_Escape:
            tool = self._tools[self._mode]
            if tool.drag is not None:
                tool.cancel()
            elif self._mode == "draw":
                self.set_mode("select")
            else:
                self.select(-1)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self._pan_last = None
            self.viewport().setCursor(self._tools[self._mode].cursor)
            if not self._space_used:
                self.space_tapped.emit()
            return
        super().keyReleaseEvent(event)
