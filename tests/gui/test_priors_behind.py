"""The Priors panel while tabbed behind another panel (issue 14, GUI stalls): its layers are off
the canvas then, so an image switch does no prior matching; it is done when the panel comes to
the front again (real key presses and dock raises), with the same result as in front."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.core.matching import match_priors
from workbench.core.priors import ssd300_paper_priors

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import (  # noqa: E402
    key_of, open_panel, panel_spec, project_window, write_labelimg_xml)

PRIORS = panel_spec("PriorsPanel")
IOU = panel_spec("IouPanel")


@pytest.fixture
def window(qtbot, tmp_path):  # noqa: ANN001, ANN201
    img = np.full((300, 400, 3), 110, np.uint8)
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), img)
    cv2.imwrite(str(images / "b.png"), img)
    cv2.imwrite(str(images / "c.png"), np.full((200, 500, 3), 90, np.uint8))  # another size
    write_labelimg_xml(images / "a.xml", "a.png", (400, 300),
                       [("red", 31, 41, 130, 140), ("blue", 221, 161, 380, 280)])
    write_labelimg_xml(images / "b.xml", "b.png", (400, 300), [("red", 271, 41, 370, 140)])
    write_labelimg_xml(images / "c.xml", "c.png", (500, 200), [("red", 10, 10, 110, 110)])
    return project_window(qtbot, tmp_path / "s.ini", images, [PRIORS, IOU])


def in_front(window, spec) -> bool:  # noqa: ANN001
    return window.panel_host.layers.owner_shown(window.panel_host.panels[key_of(spec)])


def expected(gt: list[list[float]], photo: tuple[int, int]):  # noqa: ANN201
    priors = ssd300_paper_priors().for_image(photo[1], photo[0])
    return match_priors(priors.all_boxes(), np.asarray(gt, dtype=float), "ssd",
                        map_offsets=priors.offsets)


def test_no_matching_behind_then_caught_up_in_front(window, qtbot) -> None:  # noqa: ANN001
    priors = open_panel(window, PRIORS)
    qtbot.waitUntil(lambda: priors.match is not None, timeout=5000)   # a turn after showing
    ref_a = expected([[31, 41, 130, 140], [221, 161, 380, 280]], (300, 400))
    assert priors.match.num_positive == ref_a.num_positive
    assert len(priors.overlay.match) == ref_a.num_positive and len(priors.overlay.grid) > 0
    open_panel(window, IOU)                   # tabbed in front of the Priors panel
    qtbot.waitUntil(lambda: not in_front(window, PRIORS), timeout=2000)
    matched: list[int] = []
    priors.matched.connect(lambda: matched.append(1))
    QTest.keyClick(window.canvas, Qt.Key.Key_D)                      # next image: b.png
    qtbot.waitUntil(lambda: window.current_image_path().name == "b.png", timeout=2000)
    QTest.qWait(100)
    assert matched == []                       # no matching while behind
    assert priors.match is None and len(priors.overlay.match) == 0   # a.png's emptied
    assert len(priors.overlay.grid) > 0        # same photo size: the grid still holds
    window.panel_host.docks[key_of(PRIORS)].raise_()                 # back to the front
    qtbot.waitUntil(lambda: priors.match is not None, timeout=2000)
    assert matched == [1]
    ref_b = expected([[271, 41, 370, 140]], (300, 400))
    assert priors.match.num_positive == ref_b.num_positive
    np.testing.assert_array_equal(priors.match.matched_gt, ref_b.matched_gt)
    assert len(priors.overlay.match) == ref_b.num_positive
    assert priors.overlay.match.boxes[:, 0].min() > 150   # b.png's object is on the right
    assert priors.objects_table.rowCount() == 1


def test_another_photo_size_behind_empties_the_grid_too(window, qtbot) -> None:  # noqa: ANN001
    priors = open_panel(window, PRIORS)
    qtbot.waitUntil(lambda: priors.match is not None, timeout=5000)
    open_panel(window, IOU)
    qtbot.waitUntil(lambda: not in_front(window, PRIORS), timeout=2000)
    for name in ("b.png", "c.png"):
        QTest.keyClick(window.canvas, Qt.Key.Key_D)
        qtbot.waitUntil(lambda n=name: window.current_image_path().name == n, timeout=2000)
    # c.png is 500x200: a.png's grid and cell priors would be wrong there (IoU lists them)
    assert len(priors.overlay.grid) == 0 and len(priors.overlay.match) == 0
    window.panel_host.docks[key_of(PRIORS)].raise_()
    qtbot.waitUntil(lambda: priors.match is not None, timeout=2000)
    assert priors.priors.image_size == (200, 500)
    assert priors.match.num_positive == expected([[10, 10, 110, 110]], (200, 500)).num_positive
    assert len(priors.overlay.grid) > 0
