"""Metrics panel in a real window: load devkit results, per-class AP table, curves, marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.core.annotation import Annotation, VocObject
from workbench.gui.main_window import MainWindow
from workbench.gui.panels.metrics import MetricsPanel
from workbench.gui.settings import Settings

S = 4  # scale of the hand-computed case of tests/core/test_metrics_voc.py (IoU is unchanged)
A, B, C = (0, 0, 10 * S, 10 * S), (20 * S, 20 * S, 30 * S, 30 * S), (50 * S, 50 * S, 60 * S,
                                                                      60 * S)


def _line(image_id: str, score: float, box) -> str:
    x1, y1, x2, y2 = box
    return f"{image_id} {score} {x1 + 1:g} {y1 + 1:g} {x2:g} {y2:g}\n"


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    import cv2

    from workbench.core.voc import write_annotation

    images = tmp_path / "images"
    images.mkdir()
    for stem in ("a", "b"):
        img = np.full((260, 260, 3), 40, np.uint8)
        cv2.imwrite(str(images / f"{stem}.png"), img)
    write_annotation(Annotation("a.png", objects=(
        VocObject("cat", A), VocObject("cat", B), VocObject("dog", C, difficult=True))),
        images / "a.xml")
    write_annotation(Annotation("b.png", objects=(VocObject("cat", A), VocObject("dog", C))),
                     images / "b.xml")
    results = tmp_path / "results"
    results.mkdir()
    (results / "comp4_det_test_cat.txt").write_text(
        _line("a", 0.9, A) + _line("a", 0.8, A) + _line("b", 0.7, C) + _line("b", 0.6, A)
        + _line("a", 0.5, B))
    (results / "comp4_det_test_dog.txt").write_text(_line("a", 0.4, C))
    return images, results


@pytest.fixture
def window(qtbot, tmp_path: Path, project) -> MainWindow:
    w = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(project[0])
    return w


def _rows(panel: MetricsPanel) -> dict[str, list[str]]:
    t = panel.table
    return {t.item(r, 0).text(): [t.item(r, c).text() for c in range(1, 4)]
            for r in range(t.rowCount())}


def _choose_metric(qtbot, panel: MetricsPanel, key: str) -> None:
    combo = panel.metric_combo
    target = combo.findData(key)
    combo.setFocus()
    with qtbot.waitSignal(panel.evaluated, timeout=3000):
        while combo.currentIndex() != target:
            QTest.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < target
                           else Qt.Key.Key_Up)


def _loaded_panel(qtbot, window: MainWindow, project) -> MetricsPanel:  # noqa: ANN001
    """A shown Metrics panel that has evaluated the project's results folder."""
    panel = MetricsPanel(window)
    qtbot.addWidget(panel)
    panel.resize(420, 700)
    panel.show()
    with qtbot.waitSignal(panel.evaluated, timeout=3000):
        assert panel.load_results(project[1])
    return panel


def test_table_metrics_curves_and_marks(qtbot, window: MainWindow, project) -> None:
    panel = _loaded_panel(qtbot, window, project)
    assert "6 detections on 2 images" in panel.source_label.text()
    # cat: VOC07 (4 + 7 × 0.6) / 11; dog: 1 object, its only detection hit the difficult one
    assert _rows(panel) == {"cat": ["3", "5", "0.7455"], "dog": ["1", "1", "0.0000"]}
    assert panel.table.horizontalHeaderItem(3).text() == "AP (VOC07 11-point)"
    assert "VOC2007 11-point AP@IoU0.5" in panel.summary.text()
    assert "mAP <b>0.3727</b>" in panel.summary.text()
    assert sorted(panel.curve_names) == ["cat", "dog"]
    x, y = panel._curves["cat"].getData()
    np.testing.assert_allclose(x, [0, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(y, [1, 1, 0.5, 1 / 3, 0.5, 0.6])

    _choose_metric(qtbot, panel, "voc")
    assert _rows(panel)["cat"] == ["3", "5", "0.7333"]
    assert "VOC2010+ all-point" in panel.summary.text()
    _choose_metric(qtbot, panel, "coco")
    assert panel.table.horizontalHeaderItem(3).text() == "AP (COCO [.5:.95])"
    assert "COCO AP@[.5:.95]" in panel.summary.text()
    x, y = panel._curves["cat"].getData()
    assert len(x) == 101
    _choose_metric(qtbot, panel, "voc07")

    # selecting the cat row shows only its curve (a real click on the cell)
    rect = panel.table.visualItemRect(panel.table.item(0, 0))
    QTest.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())
    assert panel.curve_names == ["cat"]

    # image a at score >= 0.5: cat .9 TP, cat .8 duplicate FP, cat .5 on B TP; dog .4 not kept
    assert window.current_image_path().stem == "a"
    m = panel.match
    assert m.tp.tolist() == [True, False, True, False]
    assert m.fp.tolist() == [False, True, False, False]
    assert len(panel.overlay.tp) == 2 and len(panel.overlay.fp) == 1
    assert len(panel.overlay.fn) == 0
    assert panel.marks_label.text().startswith("This image: 2 TP · 1 FP · 0 FN")
    # raise the threshold by typing: only the .9 detection remains, B becomes a miss
    spin = panel.score_spin
    spin.setFocus()
    spin.selectAll()
    with qtbot.waitSignal(panel.marks_changed, timeout=3000):
        QTest.keyClicks(spin, "0.85")
        QTest.keyClick(spin, Qt.Key.Key_Return)
    assert spin.value() == pytest.approx(0.85)
    assert len(panel.overlay.tp) == 1 and len(panel.overlay.fn) == 1
    np.testing.assert_array_equal(panel.overlay.fn.boxes, [B])
    # next image: b at .85 keeps nothing; both objects missed
    with qtbot.waitSignal(panel.marks_changed, timeout=3000):
        window.show_row(1)
    assert panel.marks_label.text().startswith("This image: 0 TP · 0 FP · 2 FN")
    # the marks can be hidden
    panel.marks_box.click()
    assert not panel.overlay.tp.isVisible()


def test_errors_are_reported(qtbot, window: MainWindow, tmp_path: Path) -> None:
    panel = MetricsPanel(window)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.failed, timeout=3000) as blocker:
        assert not panel.load_results(tmp_path / "missing")
    assert "no such file or folder" in blocker.args[0]
    assert "no such file or folder" in panel.source_label.text()


def test_registered_and_built_by_the_window(qtbot, tmp_path: Path) -> None:
    from workbench.gui.panels.registry import PANELS

    assert ("workbench.gui.panels.metrics", "MetricsPanel", "Metrics") in PANELS
    w = MainWindow(Settings(tmp_path / "settings.ini"))
    qtbot.addWidget(w)
    assert isinstance(w.panel("Metrics"), MetricsPanel)


def test_another_evaluation_redraws_the_same_curves_and_legend(qtbot, window: MainWindow,
                                                               project) -> None:
    """Issue 14 (GUI stalls): a new evaluation with the same classes (another metric or IoU)
    puts its points in the curves drawn (no new items or legend rows); a chosen row still
    chooses its curve."""
    panel = _loaded_panel(qtbot, window, project)
    items = dict(panel._curves)
    rect = panel.table.visualItemRect(panel.table.item(0, 0))
    QTest.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())
    assert panel.curve_names == ["cat"]
    _choose_metric(qtbot, panel, "coco")
    assert panel._curves == items                      # the same curve objects
    assert len(panel.legend.items) == 2
    x, y = panel._curves["cat"].getData()
    assert len(x) == 101 and len(y) == 101            # COCO's 101 recall points
    _choose_metric(qtbot, panel, "voc07")
    x, y = panel._curves["cat"].getData()
    np.testing.assert_allclose(x, [0, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(y, [1, 1, 0.5, 1 / 3, 0.5, 0.6])
    assert panel._curves == items and len(panel.legend.items) == 2
    assert panel.curve_names == ["cat"]               # the row still chosen
