"""BoxLayer's filled outlines (issue 14, "Redraw at scale"): opaque solid outlines are filled as
device-pixel edge rectangles where Qt's aliased cosmetic pen would stroke them, cached per box
and view transform, with colours given as a palette and an index per box."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from workbench.gui.canvas.layers import BoxLayer

RED, BLUE, GREEN = QColor(230, 30, 30), QColor(30, 60, 230), QColor(20, 200, 90)


def _render(scene: QGraphicsScene, source: QRectF, scale: float) -> np.ndarray:
    w, h = round(source.width() * scale), round(source.height() * scale)
    image = QImage(w, h, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, w, h), source)
    painter.end()
    bgra = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine() // 4, 4)
    return bgra[:, :w, 2::-1].astype(int)


def _scene(layer: BoxLayer) -> QGraphicsScene:
    scene = QGraphicsScene(QRectF(0, 0, 100, 100))
    scene.addItem(layer)
    return scene


def _is(img: np.ndarray, color: QColor) -> np.ndarray:
    return (np.abs(img - (color.red(), color.green(), color.blue())).max(-1) == 0)


@pytest.mark.parametrize(("width", "rows", "cols", "count"), [
    # 1 px: the pixel each coordinate falls in (10.6 -> 10, 30.7 -> 30): 31 x 21 px
    (1.0, [10, 30], [10, 40], 31 * 21 - 29 * 19),
    # 2 px: the pixel nearest to the coordinate and the one before (10.6 -> 10, 11)
    (2.0, [9, 10, 30, 31], [10, 11, 39, 40], 31 * 23 - 27 * 19),
])
def test_edges_at_the_pixels_a_cosmetic_pen_draws(qtbot, width: float, rows: list[int],  # noqa: ANN001
                                                  cols: list[int], count: int) -> None:
    layer = BoxLayer("detections")
    scene = _scene(layer)
    layer.set_boxes(np.asarray([[10.6, 10.2, 40.49, 30.7]]), RED, width=width)
    img = _render(scene, QRectF(0, 0, 60, 60), 1.0)
    red = _is(img, RED)
    assert np.flatnonzero(red[:, 25]).tolist() == rows  # a column through the top and bottom
    assert np.flatnonzero(red[20]).tolist() == cols  # a row through the left and right sides
    assert red.sum() == count  # the outline, nothing inside


def test_palette_and_index_colour_each_box(qtbot) -> None:  # noqa: ANN001
    layer = BoxLayer("detections")
    scene = _scene(layer)
    boxes = np.asarray([[5, 5, 25, 25], [35, 5, 55, 25], [5, 35, 25, 55]], dtype=float)
    layer.set_boxes(boxes, [RED, BLUE, GREEN], width=2.0, color_index=[2, 0, 2])
    img = _render(scene, QRectF(0, 0, 60, 60), 1.0)
    assert _is(img[15, 4:6], GREEN).all() and _is(img[15, 34:36], RED).all()
    assert _is(img[45, 4:6], GREEN).all()
    assert not _is(img, BLUE).any()
    with pytest.raises(ValueError, match="out of range"):
        layer.set_boxes(boxes, [RED], color_index=[0, 1, 0])
    with pytest.raises(ValueError, match="2 colour indices for 3 boxes"):
        layer.set_boxes(boxes, [RED, BLUE], color_index=[0, 1])


def test_cached_edges_follow_zoom_and_pan(qtbot) -> None:  # noqa: ANN001
    """The same layer rendered at several transforms in turn draws what a fresh layer draws
    at each one (the per-transform cache is dropped when the transform changes)."""
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 70, (30, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(2, 30, (30, 2))], 1)
    colors = [RED if i % 2 else BLUE for i in range(30)]
    layer = BoxLayer("detections")
    scene = _scene(layer)
    layer.set_boxes(boxes, colors, width=2.0)
    for source, scale in ((QRectF(0, 0, 100, 100), 1.0), (QRectF(5.5, 3.25, 90, 90), 1.0),
                          (QRectF(0, 0, 100, 100), 0.37),
                          (QRectF(10.3, 20.7, 40, 40), 3.3), (QRectF(0, 0, 100, 100), 1.0)):
        fresh = BoxLayer("detections")
        fresh_scene = _scene(fresh)
        fresh.set_boxes(boxes, colors, width=2.0)
        assert np.array_equal(_render(scene, source, scale), _render(fresh_scene, source, scale))
    # a slider move re-fills the layer: the boxes it keeps reuse their cached rectangles
    layer.set_boxes(boxes[::2], colors[::2], width=2.0)
    fresh = BoxLayer("detections")
    fresh_scene = _scene(fresh)
    fresh.set_boxes(boxes[::2], colors[::2], width=2.0)
    source = QRectF(0, 0, 100, 100)
    assert np.array_equal(_render(scene, source, 1.0), _render(fresh_scene, source, 1.0))


def test_translucent_outlines_are_stroked_once_per_pixel(qtbot) -> None:  # noqa: ANN001
    """Translucent colours keep the stroked path: filled edges would blend twice at corners."""
    layer = BoxLayer("proposals")
    scene = _scene(layer)
    half = QColor(230, 30, 30, 128)
    layer.set_boxes(np.asarray([[10, 10, 40, 30]], dtype=float), half, width=1.0)
    img = _render(scene, QRectF(0, 0, 60, 60), 1.0)
    outline = img[(img != 255).any(-1)]
    assert len(np.unique(outline, axis=0)) == 1  # one shade: no pixel blended twice
