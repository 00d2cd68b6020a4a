"""Small helpers shared by the inspection panels (priors, proposals, IoU)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal


class CanvasClickWatcher(QObject):
    """Reports left clicks anywhere on the image, boxes included, as ``clicked(x, y)``.

    ``canvas.scene_clicked`` fires only on empty image area (a click on a ground-truth box
    selects it), but priors and proposals are most interesting inside objects. This filter
    watches the canvas viewport: a left press and release less than 5 screen px apart, in
    select mode, is a click at the press point (image px, sub-pixel exact). With
    ``consume`` on, the click is swallowed so it neither selects nor moves a box (IoU picking).
    """

    clicked = Signal(float, float)

    def __init__(self, canvas: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.consume = False
        self._press: QPointF | None = None
        canvas.viewport().installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        kind = event.type()
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease) or \
                event.button() != Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return False
        if getattr(self.canvas, "mode", "select") != "select" and not self.consume:
            return False
        if kind == QEvent.Type.MouseButtonPress:
            self._press = QPointF(event.position())  # type: ignore[attr-defined]
            return self.consume
        press, self._press = self._press, None
        if press is None:
            return self.consume
        moved = event.position() - press  # type: ignore[attr-defined]
        if abs(moved.x()) + abs(moved.y()) < 5:
            inverse, _ok = self.canvas.viewportTransform().inverted()
            point = inverse.map(press)
            self.clicked.emit(point.x(), point.y())
        return self.consume

    def detach(self) -> None:
        self.canvas.viewport().removeEventFilter(self)
