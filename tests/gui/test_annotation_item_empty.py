"""AnnotationItem before its first set_boxes (issue 14: it holds no numpy array until boxes are
set, so the window paints its first image without importing numpy)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from workbench.gui.canvas.items import AnnotationItem
from workbench.gui.canvas.tools import box_at


def _render(scene: QGraphicsScene) -> QImage:
    image = QImage(40, 30, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, 40, 30), QRectF(0, 0, 40, 30))
    painter.end()
    return image


def test_empty_item_paints_nothing_and_reports_no_boxes(qapp) -> None:  # noqa: ANN001
    scene = QGraphicsScene()
    item = AnnotationItem()
    item.set_image_rect(QRectF(0, 0, 40, 30))
    scene.addItem(item)
    image = _render(scene)  # paint() with no boxes
    assert {image.pixel(x, y) for x in range(40) for y in range(30)} == {0}
    assert item.boxes.shape == (0, 4) and item.boxes.dtype == np.float64
    assert box_at(item.boxes, 5.0, 5.0) == -1
    item.set_boxes(np.array([[2.0, 2, 20, 20]]), [QColor("red")], ["cat"], [False])
    assert item.boxes.tolist() == [[2.0, 2.0, 20.0, 20.0]]
    assert item.box(0) == (2.0, 2.0, 20.0, 20.0)
    assert box_at(item.boxes, 5.0, 5.0) == 0
    image = _render(scene)
    assert QColor(image.pixel(2, 10)).red() > 200  # the left edge, drawn in red
    item.set_boxes(np.zeros((0, 4)), [], [], [])
    assert item.boxes.shape == (0, 4)
    assert item.boundingRect().contains(QRectF(0, 0, 40, 30))
