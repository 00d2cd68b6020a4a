"""Icons are rendered at the pixel ratio of the device they are painted on, read without
``painter.device()`` (start-up, issue 14: that look-up created every QtWidgets class)."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QIcon, QPainter, QPixmap

from workbench.gui import assets


def test_icons_render_at_the_devices_pixel_ratio(qapp, monkeypatch) -> None:
    asked: list[float] = []
    original = assets._SvgIconEngine.scaledPixmap

    def spy(self, size, mode, state, scale):  # noqa: ANN001, ANN202
        asked.append(float(scale))
        return original(self, size, mode, state, scale)

    monkeypatch.setattr(assets._SvgIconEngine, "scaledPixmap", spy)
    engine = assets._SvgIconEngine(b'<svg xmlns="http://www.w3.org/2000/svg" width="24" '
                                   b'height="24"><rect width="24" height="24" fill="red"/></svg>')
    icon = QIcon(engine)
    for dpr, translate, scale in ((1.0, False, 1.0), (2.0, False, 1.0), (2.0, True, 1.0),
                                  (1.5, True, 1.0), (2.0, False, 3.0)):
        asked.clear()
        pixmap = QPixmap(int(80 * dpr), int(80 * dpr))
        pixmap.setDevicePixelRatio(dpr)
        painter = QPainter(pixmap)
        if translate:
            painter.translate(5, 7)
        if scale != 1.0:
            painter.scale(scale, scale)  # (scaled painter: the device's ratio is asked)
        icon.paint(painter, QRect(0, 0, 20, 20))
        painter.end()
        assert asked == [dpr], (dpr, translate, scale, asked)
