"""The operating point beside the Detections panel's sliders, in a real window.

tests/errors_helpers.py's val split (b, c, d, e) and fake detector; the sliders keep
``score > s``. Detection scores on the val split, best first, with their outcome at IoU 0.5:
.95 TP (d), .8 FP (b), .7 TP (b), .6 FP (c), .55 FP (e), .3 FP (d); 4 objects. So:
score > .5: TP 2, FP 3 → P .400, R .500, F1 .444; > .65: TP 2, FP 1 → P .667, R .500, F1 .571
(the best F1, at score ≥ .7 → slider .699); > .75: TP 1, FP 1 → P .500, R .250, F1 .333.
Top-k 1 keeps each image's best only (b loses its TP): > .699 → TP 1, FP 1.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget, QScrollArea

from workbench.gui.hub import AnnotationsWritten
from workbench.gui.main_window import MainWindow
from workbench.gui.panels.detections import DetectionsPanel
from workbench.gui.panels.detections_op import slider_value_for
from workbench.gui.panels.detections_ui import IOU_STEPS


def _helpers():  # tests/errors_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "errors_helpers", Path(__file__).resolve().parents[1] / "errors_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _helpers()


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    return H.open_window(qtbot, tmp_path)


@pytest.fixture
def panel(qtbot, window: MainWindow):  # noqa: ANN001, ANN201
    p = DetectionsPanel(window)
    dock = QDockWidget("Detections", window)
    dock.setObjectName("test-detections-dock")
    dock.setWidget(p)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.show()
    yield p
    p.shutdown()


@pytest.fixture
def ready(qtbot, panel: DetectionsPanel):  # noqa: ANN001, ANN201
    fake = H.FakeDetector()
    panel.set_detector(fake)
    box = panel.op_box
    assert not box.enabled_box.isChecked() and not box.plot.isVisible()  # opt-in
    with qtbot.waitSignal(box.updated, timeout=20_000):
        QTest.mouseClick(box.enabled_box, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, QPoint(8, box.enabled_box.height() // 2))
    assert box.plot.isVisible() and box.plot.height() >= 150
    return panel, fake


def _numbers(panel: DetectionsPanel) -> str:
    return panel.op_box.values.text()


def _keys(slider, key, times: int) -> None:  # noqa: ANN001
    slider.setFocus()
    for _ in range(times):
        QTest.keyClick(slider, key)


def test_score_slider_moves_the_numbers_and_the_point(ready) -> None:  # noqa: ANN001
    panel, fake = ready
    assert sorted(fake.calls) == ["a", "b", "c", "d", "e"]  # a: the image in view
    runs = fake.forward_images
    assert "P 0.400 · R 0.500 · F1 0.444" in _numbers(panel)
    assert "TP 2 · FP 3 · FN 2 at score &gt; 0.500" in _numbers(panel)
    assert "val split: 4 images" in _numbers(panel)
    xs, ys = panel.op_box.marker.getData()
    assert (xs.tolist(), ys.tolist()) == ([0.5], [0.4])
    recall, precision = panel.op_box.line.getData()
    assert recall.tolist() == pytest.approx([0, .25, .25, .5, .5, .5, .5])
    assert precision.tolist() == pytest.approx([1, 1, .5, 2 / 3, .5, .4, 1 / 3])
    _keys(panel.score_slider, Qt.Key.Key_PageUp, 15)  # +0.01 each
    assert panel.settings_values()[0] == pytest.approx(0.65)
    assert "P 0.667 · R 0.500 · F1 0.571" in _numbers(panel)
    _keys(panel.score_slider, Qt.Key.Key_PageUp, 10)
    assert "P 0.500 · R 0.250 · F1 0.333" in _numbers(panel)
    assert "TP 1 · FP 1 · FN 3" in _numbers(panel)
    xs, ys = panel.op_box.marker.getData()
    assert (xs.tolist(), ys.tolist()) == ([0.25], [0.5])
    assert fake.forward_images == runs  # slider moves never ran the network


def test_best_f1_moves_the_score_slider(qtbot, window, ready) -> None:  # noqa: ANN001
    panel, _fake = ready
    QTest.mouseClick(panel.op_box.best_button, Qt.MouseButton.LeftButton)
    assert panel.score_slider.value() == 699 and panel.score_value.text() == "0.699"
    assert "P 0.667 · R 0.500 · F1 0.571" in _numbers(panel)
    # the canvas shows what the numbers count: on b both cats (.8 and .7) are kept
    with qtbot.waitSignal(panel.raw_ready, timeout=20_000):
        window.show_row(window.session.row_of(window.project.images_dir / "b.png"))
    assert panel.detections.scores.tolist() == pytest.approx([0.8, 0.7])


def test_top_k_reruns_post_processing_latest_wins_and_kept(qtbot, ready) -> None:  # noqa: ANN001
    panel, fake = ready
    QTest.mouseClick(panel.op_box.best_button, Qt.MouseButton.LeftButton)
    runs = fake.forward_images
    box = panel.op_box
    with qtbot.waitSignal(box.updated, timeout=20_000):
        _keys(panel.topk_slider, Qt.Key.Key_Home, 1)  # top-k 1
    assert panel.settings_values()[2] == 1
    assert "TP 1 · FP 1 · FN 3" in _numbers(panel)
    with qtbot.waitSignal(box.updated, timeout=20_000):
        _keys(panel.topk_slider, Qt.Key.Key_End, 1)  # top-k 500
    assert "TP 2 · FP 1 · FN 2" in _numbers(panel)
    jobs_before = box.jobs.latest("sweep")
    _keys(panel.topk_slider, Qt.Key.Key_Home, 1)  # kept: no job, at once
    assert box.jobs.latest("sweep") is jobs_before
    assert "TP 1 · FP 1 · FN 3" in _numbers(panel)
    assert fake.forward_images == runs


def test_saved_labels_change_the_numbers_without_the_network(qtbot, window, ready) -> None:  # noqa: ANN001
    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.voc import write_annotation

    panel, fake = ready
    runs = fake.forward_images
    xml = window.project.images_dir / "e.xml"  # e's cat .55 becomes a TP
    write_annotation(Annotation("e.png", ImageSize(100, 80, 3),
                                (VocObject("cat", (5.0, 5.0, 30.0, 30.0)),)), xml)
    with qtbot.waitSignal(panel.op_box.updated, timeout=20_000):
        window.hub.publish(AnnotationsWritten((xml,), source="outside"))
    assert "TP 3 · FP 2 · FN 2" in _numbers(panel)
    assert fake.forward_images == runs


@pytest.mark.parametrize(("score", "value"), [(0.7, 699), (0.699999988079071, 699),
                                              (0.5, 499), (0.0005, 0), (1.0, 999)])
def test_slider_value_for_keeps_the_best_score(score: float, value: int) -> None:
    assert slider_value_for(score) == value
    assert value / 1000 < score


def test_nms_slider_moves_count_the_boxes_nms_keeps(qtbot, panel) -> None:  # noqa: ANN001
    """d gets a second dog .4 at IoU .68 with its .95 one: NMS IoU .45 removes it, .75 keeps
    it (a duplicate: FP)."""

    class WithDuplicate(H.FakeDetector):
        def raw(self, path):  # noqa: ANN001, ANN202
            from workbench.engine.postprocess import RawDetections

            raw = super().raw(path)
            if Path(path).stem != "d":
                return raw
            boxes = np.r_[raw.boxes.numpy(), [[14.0, 14.0, 54.0, 54.0]]]
            return RawDetections.from_unsorted(boxes, np.r_[raw.scores.numpy(), 0.4],
                                               np.r_[raw.labels.numpy(), 2],
                                               score_floor=0.001, image_size=(100, 80))

    panel.set_detector(WithDuplicate())
    box = panel.op_box
    with qtbot.waitSignal(box.updated, timeout=20_000):
        QTest.mouseClick(box.enabled_box, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, QPoint(8, box.enabled_box.height() // 2))
    # NMS moves use the SliderSweep once it is prepared in the background
    qtbot.waitUntil(lambda: (100, False, 0.5) in box._sliders, timeout=20_000)
    # ... and then every NMS slider step, so that a later NMS move is a lookup
    sliders = box._sliders[(100, False, 0.5)]
    steps = [i / IOU_STEPS for i in range(IOU_STEPS + 1)]
    qtbot.waitUntil(lambda: all(sliders.is_cached(v) for v in steps), timeout=30_000)
    _keys(panel.score_slider, Qt.Key.Key_PageDown, 15)  # score > .35
    assert "TP 2 · FP 3 · FN 2 at score &gt; 0.350" in _numbers(panel)
    with qtbot.waitSignal(box.updated, timeout=20_000):
        _keys(panel.iou_slider, Qt.Key.Key_PageUp, 3)  # NMS IoU .75
    assert panel.settings_values()[1] == pytest.approx(0.75)
    assert "TP 2 · FP 4 · FN 2" in _numbers(panel)
    _keys(panel.iou_slider, Qt.Key.Key_PageDown, 3)  # back to .45: kept, at once
    assert "TP 2 · FP 3 · FN 2" in _numbers(panel)


def test_the_box_fits_the_docks_width_at_1280x800(qtbot, window, panel) -> None:  # noqa: ANN001
    # On a real 1280x800 screen the Detections dock is ~230 px wide and its body only scrolls
    # vertically: the check box "P/R/F1 on the val split" beside "Best F1" made the body
    # ~260 px wide, and the whole panel was clipped on the right (Detect, slider values, Best F1).
    box = panel.op_box
    assert box.minimumSizeHint().width() <= 200
    qtbot.wait(50)
    assert box.best_button.geometry().right() <= box.width()
    assert box.enabled_box.width() >= box.enabled_box.sizeHint().width()  # label not cut

def test_the_dock_is_never_narrower_than_the_panels_rows(qtbot, window, panel) -> None:  # noqa: ANN001
    # The body scrolls only vertically; its minimum width must hold the dock open, else the
    # rows (Load/Detect, Mark TP/FP/FN at IoU + box, Accept selected/all) are cut on the right.
    dock = panel.parentWidget()
    window.resizeDocks([dock], [120], Qt.Orientation.Horizontal)
    qtbot.wait(50)
    scroll = panel.findChild(QScrollArea)
    body = scroll.widget()
    assert scroll.viewport().width() >= body.minimumSizeHint().width()
    assert body.width() <= scroll.viewport().width()
    for button in (panel.run_button, panel.accept_all_button, panel.op_box.best_button):
        right = button.mapTo(scroll.viewport(), QPoint(button.width(), 0)).x()
        assert right <= scroll.viewport().width(), button.text()


def test_the_nms_steps_precomputed_are_the_sliders() -> None:
    from workbench.gui.panels import detections_op

    assert detections_op.IOU_STEPS == IOU_STEPS
