"""A few boxes are kept and culled as Python lists (no numpy import to show an image's boxes:
start-up, issue 14), many as arrays: both ways paint and pick the same."""

from __future__ import annotations

import random
import threading

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from workbench.gui.canvas import items as items_module
from workbench.gui.canvas.scene import CanvasScene
from workbench.gui.canvas.tools import box_at, boxes_inside
from workbench.gui.panels.files import FilesPanel, StateScanner


def _boxes(n: int, seed: int = 1) -> list[tuple[float, float, float, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x, y = rng.uniform(0, 300), rng.uniform(0, 200)
        out.append((x, y, x + rng.uniform(1, 90), y + rng.uniform(1, 70)))
    out.append(out[0])  # equal areas: the first wins both ways
    return out


def _render(boxes, selected: int = 2) -> QImage:  # noqa: ANN001
    scene = CanvasScene()
    image = QImage(400, 300, QImage.Format.Format_RGB32)
    image.fill(QColor(40, 40, 40))
    scene.set_image(image)
    item = scene.annotation_item
    n = len(boxes)
    colors = [QColor("#e6194b") if i % 3 else QColor("#3cb44b") for i in range(n)]
    item.set_boxes(boxes, colors, [f"c{i % 4}" for i in range(n)], [i % 5 == 0 for i in range(n)])
    item.set_selected(selected)
    item.set_hovered(4)
    out = QImage(400, 300, QImage.Format.Format_ARGB32)
    out.fill(0)
    painter = QPainter(out)
    scene.render(painter, QRectF(0, 0, 400, 300), QRectF(0, 0, 400, 300))
    painter.end()
    return out


def test_lists_and_arrays_paint_the_same(qapp, monkeypatch) -> None:
    boxes = _boxes(40)
    as_rows = _render(boxes)
    scene = CanvasScene()
    n = len(boxes)
    scene.annotation_item.set_boxes(boxes, [QColor("red")] * n, [""] * n, [False] * n)
    assert isinstance(scene.annotation_item.box_rows(), list)
    monkeypatch.setattr(items_module, "PY_BOXES", 0)  # every set of boxes as an array
    as_array = _render(boxes)
    assert as_rows == as_array
    assert as_rows != _render(boxes, selected=3)  # (the comparison sees a difference)


def test_item_keeps_a_few_boxes_as_a_list(qapp) -> None:
    scene = CanvasScene()
    item = scene.annotation_item
    boxes = _boxes(10)
    n = len(boxes)
    item.set_boxes(boxes, [QColor("red")] * n, ["a"] * n, [False] * n)
    assert item.box_rows() == boxes and item.count() == n
    assert item.boxes.dtype == np.float64 and item.boxes.tolist() == [list(b) for b in boxes]
    assert item.boxes is item.boxes  # made once
    assert item.box(3) == boxes[3]
    many = _boxes(items_module.PY_BOXES + 5)
    m = len(many)
    item.set_boxes(many, [QColor("red")] * m, ["a"] * m, [False] * m)
    assert isinstance(item.box_rows(), np.ndarray) and item.count() == m


def test_picking_is_the_same_on_lists_and_arrays() -> None:
    boxes = _boxes(60, seed=7)
    array = np.asarray(boxes)
    rng = random.Random(3)
    hits = 0
    for _ in range(400):
        x, y, tol = rng.uniform(-10, 400), rng.uniform(-10, 300), rng.choice([0.0, 3.0])
        found = box_at(boxes, x, y, tol)
        assert found == box_at(array, x, y, tol)
        hits += found >= 0
    assert hits > 100
    assert box_at(boxes, *boxes[0][:2]) in (0, box_at(array, *boxes[0][:2]))
    assert box_at([], 1.0, 1.0) == -1
    band = QRectF(20, 10, 250, 160)
    assert boxes_inside(boxes, band) == boxes_inside(array, band)
    assert boxes_inside(boxes, band)


def test_state_scan_waits_then_reads_after_its_preparation(qtbot) -> None:
    panel = FilesPanel()
    qtbot.addWidget(panel)
    panel.set_entries([f"img{i}.jpg" for i in range(5)])
    prepared: list[threading.Thread] = []
    scanner = StateScanner(panel.model, lambda row: "labeled" if row % 2 else "unlabeled")
    scanner.start_later(50, prepare=lambda: prepared.append(threading.current_thread()))
    assert scanner.running and panel.model.state(0) is None and not prepared
    with qtbot.waitSignal(scanner.finished, timeout=5000):
        pass
    assert prepared and prepared[0] is not threading.main_thread()  # on a worker
    assert [panel.model.state(r) for r in range(5)] == [
        "unlabeled", "labeled", "unlabeled", "labeled", "unlabeled"]
    assert not scanner.running
    # run_to_end while it waits: prepared here and read at once; stop() forgets a wait
    panel.set_entries([f"img{i}.jpg" for i in range(3)])
    scanner.start_later(60_000, prepare=lambda: prepared.append(threading.current_thread()))
    scanner.run_to_end()
    assert prepared[-1] is threading.main_thread() and not scanner.running
    assert [panel.model.state(r) for r in range(3)] == ["unlabeled", "labeled", "unlabeled"]
    scanner.start_later(10, prepare=lambda: prepared.append(threading.current_thread()))
    scanner.stop()
    count = len(prepared)
    qtbot.wait(80)
    assert not scanner.running and len(prepared) == count
