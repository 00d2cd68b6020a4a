"""Large translucent BoxLayers (all SSD priors of a map) draw their outlines as merged
device-pixel lines (:func:`workbench.gui.canvas.layers.merged_outlines`): the pixels Qt's own
stroking of every rectangle lights, from far fewer lines."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPainter, QTransform
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from workbench.core.priors import ssd300_paper_priors
from workbench.gui.canvas.layers import BoxLayer, merged_outlines

W, H = 900, 600


def test_runs_on_a_line_merge_where_they_overlap_or_touch() -> None:
    boxes = np.asarray([[0, 0, 10, 5], [10, 0, 20, 5],   # touching: one top, one bottom line
                        [22, 0, 30, 5],                   # a gap of one pixel: apart
                        [5, 2, 8, 3]], dtype=float)       # inside the first: its own rows
    lines = merged_outlines(boxes, (1.0, 1.0, 0.0, 0.0))
    # through the pixels' centres: pixel k is at k + 0.5
    horizontal = sorted((ln.y1() - .5, ln.x1() - .5, ln.x2() - .5) for ln in lines
                        if ln.y1() == ln.y2())
    assert horizontal == [(0, 0, 20), (0, 22, 30), (2, 5, 8), (3, 5, 8),
                          (5, 0, 20), (5, 22, 30)]
    vertical = sorted((ln.x1() - .5, ln.y1() - .5, ln.y2() - .5) for ln in lines
                      if ln.x1() == ln.x2())
    assert vertical == [(0, 0, 5), (5, 2, 3), (8, 2, 3), (10, 0, 5), (20, 0, 5),
                        (22, 0, 5), (30, 0, 5)]
    # the transform, and the pixel a coordinate falls in
    (top, *_rest) = merged_outlines(np.asarray([[1.0, 1.0, 2.0, 2.0]]), (2.5, 2.5, 0.7, -0.2))
    assert (top.x1(), top.y1(), top.x2()) == (3.5, 2.5, 5.5)
    # drawn in units of half a device pixel (a device pixel ratio of 2)
    (top, *_rest) = merged_outlines(np.asarray([[1.0, 1.0, 2.0, 2.0]]), (5, 5, 1.4, -0.4),
                                    (2, 2, 0, 0))
    assert (top.x1(), top.y1(), top.x2()) == (3.25, 2.25, 5.75)
    assert merged_outlines(np.zeros((0, 4)), (1, 1, 0, 0)) == []


def _lit(paint, dpr: float = 1.0) -> np.ndarray:  # noqa: ANN001
    w, h = round(W * dpr), round(H * dpr)
    image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(dpr)
    image.fill(0)
    painter = QPainter(image)
    paint(painter)
    painter.end()
    return np.frombuffer(image.constBits(), np.uint32).reshape(h, w).copy()


def _layer_paint(layer: BoxLayer, transform: QTransform, window: bool = False):  # noqa: ANN202
    def paint(painter: QPainter) -> None:
        if window:  # a view transform besides the world's: logical 0..W/2 fill the device
            painter.setWindow(0, 0, W // 2, H // 2)
        painter.setWorldTransform(transform)
        layer.paint(painter, QStyleOptionGraphicsItem(), None)
    return paint


@pytest.mark.parametrize(("seed", "dpr", "window"), [
    (0, 1.0, False), (1, 1.0, False), (2, 1.0, False), (3, 1.0, False),
    (4, 2.0, False), (5, 1.5, False), (6, 1.25, False), (7, 1.0, True), (8, 2.0, True)])
def test_the_priors_light_the_pixels_qt_strokes(qtbot, monkeypatch, seed: int,  # noqa: ANN001
                                                dpr: float, window: bool) -> None:
    rng = np.random.default_rng(seed)
    boxes = ssd300_paper_priors().for_image(650, 417).all_boxes()
    # two colours of one translucency, as the Priors panel's maps may be
    colors = [QColor(80, 200, 255, 120), QColor(255, 160, 40, 120)]
    index = (np.arange(len(boxes)) % 3 == 0).astype(int)
    layer = BoxLayer("priors all", z=20)
    layer.set_boxes(boxes, colors, width=1.0, color_index=index)
    assert len(boxes) >= BoxLayer.LARGE and layer._opaque_lines
    s = float(rng.uniform(0.5, 3.5))
    transform = QTransform(s, 0, 0, s, *rng.uniform(-300, 100, 2))
    drawn: list[int] = []
    real = QPainter.drawLines
    monkeypatch.setattr(QPainter, "drawLines",
                        lambda self, lines: drawn.append(len(lines)) or real(self, lines))
    merged = _lit(_layer_paint(layer, transform, window), dpr)
    assert 0 < sum(drawn) < len(boxes) / 4  # far fewer lines than 4 per box
    monkeypatch.setattr(BoxLayer, "_merges_lines", lambda self, painter: False)
    stroked = _lit(_layer_paint(layer, transform, window), dpr)
    assert (stroked != 0).sum() > 50_000
    differ = (merged != stroked).sum()
    assert differ <= 5, f"{differ} pixels differ"  # a corner pixel now and then


def test_not_merged_where_it_was_not_checked(qtbot) -> None:  # noqa: ANN001
    boxes = ssd300_paper_priors().for_image(300, 300).all_boxes()
    layer = BoxLayer("priors all", z=20)
    layer.set_boxes(boxes, QColor(80, 200, 255, 120), width=1.0)
    image = QImage(50, 50, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    painter.setWorldTransform(QTransform.fromScale(2, 2))
    assert layer._merges_lines(painter)
    painter.setWorldTransform(QTransform().rotate(10))
    assert not layer._merges_lines(painter)  # rotated
    painter.setWorldTransform(QTransform.fromScale(-1, 1))
    assert not layer._merges_lines(painter)  # mirrored
    painter.end()
    layer.set_boxes(boxes, QColor(80, 200, 255, 120), width=1.5)
    plain = QImage(50, 50, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(plain)
    assert not layer._merges_lines(painter)  # a pen wider than one pixel
    painter.end()

