"""Proposals panel: the Felzenszwalb segments layer and the grouping step slider, driven with
qtbot in the real window; proposals from the on-disk cache."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from workbench.core.proposal_cache import ProposalCache

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import write_labelimg_xml, project_window  # noqa: E402

PROPOSALS = ("workbench.gui.panels.proposals", "ProposalsPanel", "Proposals")
KEY = f"{PROPOSALS[0]}.{PROPOSALS[1]}"


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("WORKBENCH_PROPOSAL_CACHE", str(tmp_path / "proposal-cache"))
    rng = np.random.default_rng(0)
    img = np.full((150, 200, 3), 110, np.uint8) + rng.integers(0, 30, (150, 200, 3),
                                                               dtype=np.uint8)
    img[20:70, 15:65] = (30, 30, 220)
    img[80:140, 110:190] = (200, 60, 20)
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), img)
    cv2.imwrite(str(images / "b.png"), img[:, ::-1])
    write_labelimg_xml(images / "a.xml", "a.png", (200, 150), [("red", 16, 21, 65, 70)])
    w = project_window(qtbot, tmp_path / "s.ini", images, [PROPOSALS], size=(1280, 800))
    w.panel_host.docks[KEY].toggleViewAction().trigger()
    QTest.qWait(20)
    return w


def set_spin(qtbot, spin, value: int) -> None:  # noqa: ANN001
    """Type a value into a spin box as a user does: select all, type, Enter."""
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), str(value))
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


def test_segments_controls_and_steps(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel_host.panels[KEY]
    seg = panel.segments
    assert len(seg.layer) == 0 and not seg.layer.isVisible()
    with qtbot.waitSignal(seg.segments_ready, timeout=30000):
        qtbot.mouseClick(seg.show_check, Qt.MouseButton.LeftButton,
                         pos=QPoint(8, seg.show_check.height() // 2))   # on the box
    assert seg.layer.isVisible()
    coarse = seg.grouping.n_segments
    assert len(seg.layer) == coarse > 1
    assert f"{coarse} segments" in seg.info.text()
    # smaller k and min size: more segments
    with qtbot.waitSignal(seg.segments_ready, timeout=30000):
        set_spin(qtbot, seg.min_spin, 5)
        set_spin(qtbot, seg.k_spin, 20)
    fine = seg.grouping.n_segments
    assert fine > coarse
    assert len(seg.layer) == fine
    # the step slider: after step t there are n - t regions (the segments all touch)
    assert seg.step_slider.maximum() == fine - 1
    seg.step_slider.setFocus()
    for _ in range(3):
        qtbot.keyClick(seg.step_slider, Qt.Key.Key_Right)
    assert seg.step_slider.value() == 3
    assert len(seg.layer) == fine - 3
    assert seg.step_label.text() == f"3 / {fine - 1}"
    assert len(seg.merge_layer) == 1          # the region step 3 made, outlined
    a, b = seg.grouping.merges[2]
    assert f"Step 3 merged regions {a} and {b}" in seg.info.text()
    qtbot.keyClick(seg.step_slider, Qt.Key.Key_End)
    assert len(seg.layer) == 1
    qtbot.keyClick(seg.step_slider, Qt.Key.Key_Home)
    assert len(seg.layer) == fine and len(seg.merge_layer) == 0


def test_segments_hidden_with_panel_and_cleared_on_image_change(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel_host.panels[KEY]
    seg = panel.segments
    with qtbot.waitSignal(seg.segments_ready, timeout=30000):
        seg.show_check.click()
    assert seg.layer.isVisible() and len(seg.layer) > 1
    dock = window.panel_host.docks[KEY]
    dock.toggleViewAction().trigger()                  # close the panel
    qtbot.waitUntil(lambda: not seg.layer.isVisible(), timeout=2000)
    dock.toggleViewAction().trigger()                  # open it again
    qtbot.waitUntil(lambda: seg.layer.isVisible(), timeout=2000)
    seg.show_check.click()                             # off: not re-run on the next image
    assert not seg.layer.isVisible()
    QTest.keyClick(window.canvas, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: window.current_image_path().name == "b.png", timeout=2000)
    assert len(seg.layer) == 0 and seg.grouping is None
    assert not seg.step_slider.isEnabled()
    with qtbot.waitSignal(seg.segments_ready, timeout=30000):
        seg.show_check.click()                         # on again: b.png's segments
    assert len(seg.layer) > 1 and seg.layer.isVisible()


def test_proposals_from_disk_cache(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel_host.panels[KEY]
    bgr = np.ascontiguousarray(window.current_image_rgb()[:, :, ::-1])
    stored, fresh = ProposalCache().proposals(bgr, panel.params())
    assert not fresh
    with qtbot.waitSignal(panel.proposals_ready, timeout=30000):
        panel.run_button.click()
    assert "(disk cache)" in panel.time_label.text()
    assert np.allclose(panel.result.boxes, stored.boxes, atol=1e-3)
