"""The Video panel's picture: one decoded frame, scaled to fit, with detection boxes on top.

Drawn with QPainter at the widget's resolution (boxes 2 px wide and labels in the UI font at
any zoom, so they stay readable in a 360 px column), not burnt into the frame. Keys (when the
view has focus): ←/→ one frame, Shift+←/→ ten, Home/End, K play/pause (Space belongs to the
window: "mark verified").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QKeyEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from workbench.gui.images import qimage_from_rgb

#: Colours cycled over class names (their order in the detector's class list).
COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c")


@dataclass(frozen=True)
class DrawnBox:
    box: tuple[float, float, float, float]  #: pixel-edge xyxy in frame pixels
    label: str
    score: float
    colour: int = 0


class VideoView(QWidget):
    """Shows a frame (``(H, W, 3)`` RGB uint8) and boxes; emits step requests for keys."""

    step_requested = Signal(int)     #: frames to move (±1, ±10)
    jump_requested = Signal(str)     #: "home" / "end"
    play_toggled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("video_view")
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.image: QImage | None = None
        self.rgb: np.ndarray | None = None
        self.boxes: list[DrawnBox] = []
        self.message = "Open a video"

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        if self.image is None or self.image.width() == 0:
            return width * 9 // 16
        return max(180, width * self.image.height() // self.image.width())

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt API)
        return True

    def set_frame(self, rgb: np.ndarray | None, boxes: Sequence[DrawnBox] = ()) -> None:
        self.rgb = rgb
        self.image = qimage_from_rgb(rgb) if rgb is not None else None
        self.boxes = list(boxes)
        self.update()

    def set_boxes(self, boxes: Sequence[DrawnBox]) -> None:
        self.boxes = list(boxes)
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    def image_rect(self) -> QRectF:
        """Where the frame is drawn (aspect kept, centred)."""
        if self.image is None:
            return QRectF()
        w, h = self.width(), self.height()
        scale = min(w / self.image.width(), h / self.image.height())
        dw, dh = self.image.width() * scale, self.image.height() * scale
        return QRectF((w - dw) / 2, (h - dh) / 2, dw, dh)

    def paintEvent(self, _event: object) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#202020"))
        if self.image is None:
            p.setPen(QColor("#cccccc"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            p.end()
            return
        target = self.image_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(target, self.image)
        scale = target.width() / self.image.width()
        font = QFont(self.font())
        font.setPointSizeF(max(7.5, font.pointSizeF() * 0.9))
        p.setFont(font)
        metrics = QFontMetrics(font)
        for b in self.boxes:
            colour = QColor(COLOURS[b.colour % len(COLOURS)])
            x1, y1, x2, y2 = b.box
            rect = QRectF(target.x() + x1 * scale, target.y() + y1 * scale,
                          (x2 - x1) * scale, (y2 - y1) * scale)
            p.setPen(QPen(colour, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(rect)
            text = f"{b.label} {b.score:.2f}"
            tw, th = metrics.horizontalAdvance(text) + 6, metrics.height() + 2
            ty = rect.top() - th if rect.top() - th >= target.top() else rect.top()
            label = QRectF(rect.left(), ty, tw, th)
            p.fillRect(label, colour)
            p.setPen(QColor("white"))
            p.drawText(label, Qt.AlignmentFlag.AlignCenter, text)
        if self.message:
            p.setPen(QColor("#ffffff"))
            p.drawText(self.rect().adjusted(6, 4, -6, -4),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, self.message)
        p.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        key = event.key()
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            step = 10 if shift else 1
            self.step_requested.emit(step if key == Qt.Key.Key_Right else -step)
        elif key == Qt.Key.Key_Home:
            self.jump_requested.emit("home")
        elif key == Qt.Key.Key_End:
            self.jump_requested.emit("end")
        elif key == Qt.Key.Key_K:
            self.play_toggled.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()
