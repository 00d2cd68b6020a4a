"""The Propagate results window opens beside the canvas, not over the frame it points to
(QA: it opened centred on the window, over the middle of the canvas)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

from workbench.gui.video_propagate import beside_canvas

SCREEN = QRect(0, 0, 1920, 1080)
SIZE, MINIMUM = QSize(460, 360), QSize(300, 200)


def test_right_of_the_canvas_where_there_is_room() -> None:
    canvas = QRect(250, 60, 700, 700)  # right edge 949
    assert beside_canvas(canvas, SCREEN, SIZE, MINIMUM) == QRect(950, 60, 460, 360)


def test_narrowed_to_the_room_right_of_the_canvas() -> None:
    canvas = QRect(0, 60, 1560, 700)  # 360 px right of it
    assert beside_canvas(canvas, SCREEN, SIZE, MINIMUM) == QRect(1560, 60, 360, 360)


def test_left_of_the_canvas_when_the_right_is_full() -> None:
    canvas = QRect(600, 60, 1320, 700)  # no room right, 600 px left
    assert beside_canvas(canvas, SCREEN, SIZE, MINIMUM) == QRect(140, 60, 460, 360)


def test_no_room_either_side_its_minimum_at_the_screen_edge() -> None:
    canvas = QRect(200, 60, 1600, 700)
    place = beside_canvas(canvas, SCREEN, SIZE, MINIMUM)
    assert place == QRect(1620, 60, 300, 360)
    assert not place.contains(canvas.center())


def test_kept_on_the_screen_vertically() -> None:
    canvas = QRect(0, 900, 1000, 150)
    assert beside_canvas(canvas, SCREEN, SIZE, MINIMUM) == QRect(1000, 720, 460, 360)
