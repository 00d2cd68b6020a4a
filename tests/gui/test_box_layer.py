"""BoxLayer labels: above a box's top-left corner, or under its bottom-left one (a model's boxes,
so their labels do not cover the labels of the ground truth they match)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from workbench.gui.canvas.layers import BoxLayer

RED = QColor(255, 0, 0)


def _label_rows(qtbot, below: bool) -> list[int]:  # noqa: ANN001
    scene = QGraphicsScene(QRectF(0, 0, 200, 200))
    layer = BoxLayer("t")
    scene.addItem(layer)
    layer.set_boxes(np.asarray([[40.0, 60.0, 160.0, 140.0]]), RED, ["label"], width=1.0,
                    labels_below=below)
    image = QImage(200, 200, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, 200, 200), QRectF(0, 0, 200, 200))
    painter.end()
    # rows where the label's red background (alpha 200 over white) fills the column x = 60,
    # the box's own outline (rows 60 and 140) aside
    rows = []
    for y in (y for y in range(200) if abs(y - 60) > 1 and abs(y - 140) > 1):
        c = image.pixelColor(60, y)
        if c.red() > 240 and c.green() < 120 and c.blue() < 120:
            rows.append(y)
    return rows


@pytest.mark.parametrize("below", [False, True])
def test_label_sits_outside_the_box_on_the_chosen_side(qtbot, below: bool) -> None:  # noqa: ANN001
    rows = _label_rows(qtbot, below)
    assert len(rows) >= 8  # a label of a 12 px font, more than the 1 px outline
    if below:
        assert min(rows) >= 140 and max(rows) <= 140 + 22
    else:
        assert max(rows) <= 60 and min(rows) >= 60 - 22
    assert max(rows) - min(rows) + 1 == len(rows)  # one label, no other red above or below
