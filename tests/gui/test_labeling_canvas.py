"""Canvas alone (no project): tools, hit tests, zoom, painting, driven by real mouse events."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest

from workbench.core.annotation import VocObject
from workbench.gui.canvas.tools import Handle, box_at, handle_at, move_box, resize_box
from workbench.gui.canvas.view import CanvasView

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import click, drag, exact_view_point  # noqa: E402


@pytest.fixture
def view(qtbot):
    v = CanvasView()
    qtbot.addWidget(v)
    v.resize(800, 600)
    image = QImage(400, 300, QImage.Format.Format_RGB888)
    image.fill(QColor(90, 90, 90))
    v.canvas_scene().set_image(image)
    v.show()
    qtbot.waitExposed(v)
    v.actual_size()
    v.centerOn(200, 150)
    return v


def test_geometry_functions():
    assert handle_at((10, 10, 50, 40), 10.5, 9.8, 2) == Handle.TOP_LEFT
    assert handle_at((10, 10, 50, 40), 30, 40.5, 2) == Handle.BOTTOM  # any point of the edge
    assert handle_at((10, 10, 50, 40), 30, 25, 2) is None
    boxes = np.array([[0, 0, 100, 100], [20, 20, 40, 40]], dtype=float)
    assert box_at(boxes, 30, 30) == 1  # the smaller, nested box wins
    assert box_at(boxes, 80, 80) == 0
    assert box_at(boxes, 150, 80) == -1
    assert resize_box((10, 10, 50, 40), Handle.RIGHT, 5, 99, 100, 100) == (5, 10, 10, 40)  # flips
    assert resize_box((10, 10, 50, 40), Handle.BOTTOM_RIGHT, 130, 120, 100, 100) == (10, 10, 100, 100)
    assert move_box((10, 10, 50, 40), 80, -30, 100, 100) == (60, 0, 100, 30)


def test_draw_box_by_dragging(qtbot, view):
    view.set_mode("draw")
    with qtbot.waitSignal(view.box_drawn) as sig:
        drag(view, (50, 40), (150, 120))
    x1, y1 = exact_view_point(view, 50, 40)
    x2, y2 = exact_view_point(view, 150, 120)
    assert sig.args[0] == pytest.approx((x1, y1, x2, y2))
    assert sig.args[0] == pytest.approx((50, 40, 150, 120), abs=1.0)


def test_draw_is_clamped_to_image_and_click_draws_nothing(qtbot, view):
    view.set_mode("draw")
    with qtbot.waitSignal(view.box_drawn) as sig:
        drag(view, (350, 250), (450, 340))  # past the bottom-right corner
    assert sig.args[0][2:] == (400.0, 300.0)
    with qtbot.assertNotEmitted(view.box_drawn):
        click(view, 100, 100)


def _with_boxes(view, boxes):
    objects = [VocObject("cat", tuple(map(float, b))) for b in boxes]
    view.canvas_scene().set_objects(objects)


def test_select_move_and_resize_emit_edits(qtbot, view):
    _with_boxes(view, [(100, 100, 200, 180)])
    with qtbot.waitSignal(view.selection_changed) as sel:
        click(view, 150, 140)
    assert sel.args == [0]
    with qtbot.waitSignal(view.box_edited) as moved:
        drag(view, (150, 140), (170, 150))
    assert moved.args[0] == 0
    assert moved.args[1] == pytest.approx((120, 110, 220, 190), abs=1.0)
    # the record is the source of truth: the item shows the old box until the window updates it
    assert tuple(view.annotation_item().boxes[0]) == (100, 100, 200, 180)
    with qtbot.waitSignal(view.box_edited) as resized:
        drag(view, (200, 140), (260, 140))  # right edge, not a corner
    assert resized.args[1] == pytest.approx((100, 100, 260, 180), abs=1.0)
    with qtbot.waitSignal(view.box_edited) as corner:
        drag(view, (100, 100), (80, 90))
    assert corner.args[1] == pytest.approx((80, 90, 200, 180), abs=1.0)


def test_click_on_empty_image_emits_scene_clicked_and_deselects(qtbot, view):
    _with_boxes(view, [(100, 100, 200, 180)])
    view.select(0)
    with qtbot.waitSignal(view.scene_clicked) as sig:
        click(view, 300, 50)
    assert sig.args == pytest.approx([300, 50], abs=1.0)
    assert view.selected() == -1
    view.fit()
    with qtbot.assertNotEmitted(view.scene_clicked):
        click(view, -5, 150)  # the dark surround left of the image


def test_keys_nudge_escape_and_space(qtbot, view):
    _with_boxes(view, [(100, 100, 200, 180)])
    view.select(0)
    view.setFocus()
    with qtbot.waitSignal(view.nudge_requested) as sig:
        QTest.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert sig.args == [10.0, 0.0]
    with qtbot.waitSignal(view.nudge_requested) as sig:
        QTest.keyClick(view, Qt.Key.Key_Up)
    assert sig.args == [0.0, -1.0]
    with qtbot.waitSignal(view.space_tapped):
        QTest.keyClick(view, Qt.Key.Key_Space)
    QTest.keyClick(view, Qt.Key.Key_Escape)
    assert view.selected() == -1
    view.set_mode("draw")
    QTest.keyClick(view, Qt.Key.Key_Escape)
    assert view.mode == "select"


def test_space_drag_pans_without_tapping(qtbot, view):
    view.set_zoom(4.0)
    view.centerOn(200, 150)
    view.setFocus()
    before = view.mapToScene(view.viewport().rect().center())
    QTest.keyPress(view, Qt.Key.Key_Space)
    with qtbot.assertNotEmitted(view.space_tapped):
        drag(view, (200, 150), (190, 150))
        QTest.keyRelease(view, Qt.Key.Key_Space)
    after = view.mapToScene(view.viewport().rect().center())
    assert after.x() - before.x() == pytest.approx(10, abs=1.0)


def test_zoom_fit_and_actual_size(qtbot, view):
    view.fit()
    assert view.zoom() == pytest.approx(min((800 - 24) / 400, (600 - 24) / 300), rel=0.02)
    view.actual_size()
    assert view.zoom() == pytest.approx(1.0)
    view.zoom_in()
    assert view.zoom() == pytest.approx(1.25)
    vp = view.viewport()
    QTest.mouseMove(vp, vp.rect().center())
    z = view.zoom()
    ev_pos = QPointF(vp.rect().center())
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    wheel = QWheelEvent(ev_pos, view.mapToGlobal(ev_pos), QPoint(), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    view.wheelEvent(wheel)
    assert view.zoom() > z


def test_painting_many_boxes_renders_class_colours(qtbot, view):
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 350, size=(1000, 2))
    boxes = np.concatenate([xy, xy + 40], axis=1)
    _with_boxes(view, boxes)
    view.fit()
    image = view.grab().toImage()
    from workbench.gui.canvas.palette import class_color

    target = class_color("cat").rgb()
    hits = sum(image.pixel(x, y) == target
               for x in range(0, image.width(), 3) for y in range(0, image.height(), 7))
    assert hits > 1000  # 1,000 boxes at fit zoom cover much of the image


def test_middle_drag_pans(qtbot, view):
    view.set_zoom(4.0)
    view.centerOn(200, 150)
    before = view.mapToScene(view.viewport().rect().center())
    drag(view, (200, 150), (200, 140), button=Qt.MouseButton.MiddleButton)
    after = view.mapToScene(view.viewport().rect().center())
    assert after.y() - before.y() == pytest.approx(10, abs=1.0)


def test_class_colours_are_stable_literals():
    from workbench.gui.canvas.palette import class_color

    assert class_color("raccoon").name() == "#ff6122"
    assert class_color("dog").name() == "#4488ff"
    assert class_color("cat").name() == "#3aff4c"


def test_image_cache_prefetch_and_errors(qtbot, tmp_path):
    from workbench.gui.images import ImageCache, ImageLoadError, to_rgb_array

    image = QImage(30, 20, QImage.Format.Format_RGB888)
    image.fill(QColor(10, 20, 30))
    path = tmp_path / "a.png"
    assert image.save(str(path))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    cache = ImageCache(size=2)
    cache.prefetch(path)
    cache.prefetch(tmp_path / "broken.jpg")
    got = cache.get(path)
    assert (got.width(), got.height()) == (30, 20)
    assert cache.get(path) is got  # cached
    rgb = to_rgb_array(got)
    assert rgb.shape == (20, 30, 3) and tuple(rgb[0, 0]) == (10, 20, 30)
    with pytest.raises(ImageLoadError, match="broken.jpg"):
        cache.get(tmp_path / "broken.jpg")
    cache.close()


def test_edge_of_an_unselected_box_resizes_it(qtbot, view):
    _with_boxes(view, [(100, 100, 200, 180), (250, 100, 300, 150)])
    assert view.selected() == -1
    with qtbot.waitSignal(view.box_edited) as sig:
        drag(view, (300, 125), (340, 125))  # right edge of box 1, never selected before
    assert sig.args[0] == 1
    assert sig.args[1] == pytest.approx((250, 100, 340, 150), abs=1.0)
    assert view.selected() == 1
