"""Priors panel in the real window: click a cell → that cell's priors drawn; counts; matching."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.core.matching import match_priors
from workbench.core.priors import ssd300_paper_priors

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import click, write_labelimg_xml, project_window  # noqa: E402

PANEL = ("workbench.gui.panels.priors", "PriorsPanel", "Priors")


@pytest.fixture
def window(qtbot, tmp_path):  # noqa: ANN001, ANN201
    from PySide6.QtGui import QColor, QImage

    images = tmp_path / "images"
    images.mkdir()
    image = QImage(300, 300, QImage.Format.Format_RGB888)
    image.fill(QColor(90, 120, 150))
    assert image.save(str(images / "a.png"))
    # A 60x60 object (fits the 0.2 priors) and a 4x20 sliver no prior reaches at 0.5.
    write_labelimg_xml(images / "a.xml", "a.png", (300, 300),
                       [("cat", 101, 101, 160, 160), ("stick", 11, 11, 14, 30)])
    w = project_window(qtbot, tmp_path / "s.ini", images, [PANEL])
    # Shown and brought to the front of its tab group (behind the Boxes tab, a panel's layers
    # are off the canvas and it ignores clicks).
    panel = w.panel_host.show_panel(PANEL[1])
    # the priors and matching are computed in a turn after the one that shows the panel
    qtbot.waitUntil(lambda: panel.match is not None, timeout=5000)
    return w


def test_click_cell_draws_its_priors_and_counts(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel("PriorsPanel")
    assert panel.priors is not None and panel.priors.total == 8732
    assert panel.maps_table.item(6, 3).text() == "8,732"
    assert [panel.maps_table.item(r, 3).text() for r in range(6)] == [
        "5,776", "2,166", "600", "150", "36", "4"]
    panel.map_combo.setCurrentIndex(2)                     # conv8_2, 10x10, stride 30
    qtbot.wait(50)  # let the dock's layout settle before mapping scene → viewport
    window.canvas.actual_size()
    with qtbot.waitSignal(panel.cell_selected) as sig:
        click(window.canvas, 95, 31)
    assert sig.args == [2, 1, 3]
    expected = ssd300_paper_priors().feature_maps[2].cell_boxes(1, 3)
    np.testing.assert_allclose(panel.overlay.priors.boxes, expected)
    assert len(panel.overlay.cell.boxes) == 1
    np.testing.assert_allclose(panel.overlay.cell.boxes[0], [90, 30, 120, 60])
    assert panel.cell_table.rowCount() == 6
    assert len(panel.overlay.grid.boxes) == 100
    panel.show_all.setChecked(True)
    assert len(panel.overlay.all.boxes) == 600


def test_matching_counts_and_flagged_object(window) -> None:  # noqa: ANN001
    panel = window.panel("PriorsPanel")
    gt = np.array([[100, 100, 160, 160], [10, 10, 14, 30]], dtype=float)
    ref = match_priors(ssd300_paper_priors().all_boxes(), gt, "ssd",
                       map_offsets=ssd300_paper_priors().offsets)
    m = panel.match
    assert m.num_positive == ref.num_positive and m.map_positives == ref.map_positives
    assert panel.objects_table.rowCount() == 2
    assert panel.objects_table.item(0, 4).text() == ""
    assert "⚠" in panel.objects_table.item(1, 4).text()
    assert len(panel.overlay.flags.boxes) == 1
    np.testing.assert_allclose(panel.overlay.flags.boxes[0], [10, 10, 14, 30])
    assert len(panel.overlay.match.boxes) == ref.num_positive
    assert f"{3 * ref.num_positive} negatives kept" in panel.summary.text()


def test_hidden_panel_hides_layers_and_ignores_clicks(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel("PriorsPanel")
    panel.show_canvas.setChecked(False)
    assert not panel.overlay.grid.isVisible()
    panel.show_canvas.setChecked(True)
    assert panel.overlay.grid.isVisible()
    window.panel_host.docks[f"{PANEL[0]}.{PANEL[1]}"].hide()   # the dock is closed
    qtbot.waitUntil(lambda: not panel.overlay.match.isVisible(), timeout=2000)
    panel._on_scene_clicked(10, 10)
    assert panel.cell is None


def test_suggest_anchors_from_project(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel("PriorsPanel")
    panel.k_spin.setValue(2)
    with qtbot.waitSignal(panel.suggestion_ready, timeout=10000):
        panel.suggest_button.click()
    s = panel.suggestion
    assert s.num_boxes == 2 and s.shapes.shape == (2, 2)
    assert s.mean_best_iou_suggested == pytest.approx(1.0)   # 2 boxes, 2 clusters
    assert "→ suggested 2 shapes 1.000" in panel.suggest_label.text()


def test_click_inside_a_ground_truth_box_picks_a_cell_too(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel("PriorsPanel")
    panel.map_combo.setCurrentIndex(1)            # fc7, 19x19, 60 px priors (s = 0.2)
    qtbot.wait(50)
    window.canvas.actual_size()
    with qtbot.waitSignal(panel.cell_selected) as sig:
        click(window.canvas, 131, 131)            # inside the 60x60 object (100..160)
    assert sig.args == [1, 8, 8]                  # centre (8.5 * 300/19) = 134.2
    assert window.canvas.selected() == 0          # the canvas still selected the box
    # The cell table reports the positives of that cell against object 1.
    labels = [panel.cell_table.item(r, 3).text() for r in range(panel.cell_table.rowCount())]
    assert any(label.startswith("positive → 1") for label in labels)


def test_torchvision_and_checkpoint_detectors_via_worker(window, qtbot, tmp_path) -> None:  # noqa: ANN001
    from workbench.engine.checkpoint import make_checkpoint, save_checkpoint
    from workbench.engine.detectors import build_detector

    panel = window.panel("PriorsPanel")
    with qtbot.waitSignal(panel.priors_changed, timeout=60000):
        panel.set_model("ssdlite320_mobilenet_v3_large")
    assert panel.priors.total == 3234 and panel.priors.image_size == (300, 300)
    assert "DefaultBoxGenerator" in panel.status.text()
    model, info = build_detector("fasterrcnn_mobilenet_v3_large_320_fpn", 2, image_size=256)
    path = save_checkpoint(make_checkpoint(model, info=info, classes=["cat"], config={},
                                           epoch=1), tmp_path / "c.pt")
    panel.size_spin.setValue(400)        # ignored: a checkpoint carries its own input size
    with qtbot.waitSignal(panel.priors_changed, timeout=60000):
        panel.add_checkpoint(str(path))
    assert not panel.size_spin.isEnabled()
    assert panel.priors.kind == "rpn" and panel.priors.input_size == (256, 256)
    assert panel.priors.model.startswith("fasterrcnn_mobilenet_v3_large_320_fpn (c.pt)")
    assert panel.match is not None and panel.objects_table.rowCount() == 2


def test_box_layer_fast_path_for_large_layers(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

    from workbench.gui.canvas.layers import BoxLayer

    scene = QGraphicsScene(0, 0, 100, 100)
    layer = BoxLayer("x")
    scene.addItem(layer)
    small = np.array([[10, 10, 50, 50]] * 10, dtype=float)
    layer.set_boxes(small, QColor(255, 0, 0, 100))
    assert layer.opacity() == 1.0 and layer.cacheMode() == QGraphicsItem.CacheMode.NoCache
    big = np.tile([[10.0, 10.0, 50.0, 50.0]], (BoxLayer.LARGE, 1))
    layer.set_boxes(big, QColor(255, 0, 0, 102), width=1.0)
    assert layer.opacity() == pytest.approx(0.4)
    assert layer.cacheMode() == QGraphicsItem.CacheMode.DeviceCoordinateCache
    image = QImage(100, 100, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0))
    painter = QPainter(image)
    scene.render(painter)
    painter.end()
    edge = QColor(image.pixel(30, 10))
    # Opaque red at 40 % item opacity over black: drawn once, not 2,000 times blended.
    assert edge.red() == pytest.approx(102, abs=3) and edge.green() == 0
    assert QColor(image.pixel(30, 30)).red() == 0           # inside: not filled


def test_cell_rows_targets_and_labels() -> None:
    from workbench.gui.panels.priors_tables import cell_rows

    priors = np.array([[0, 0, 10, 10], [50, 50, 60, 70], [100, 100, 110, 110]], dtype=float)
    gt = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], dtype=float)
    m = match_priors(priors, gt, "ssd")
    rows = cell_rows(priors, np.arange(3), m, gt)
    assert rows[0][:4] == ["0", "10×10", "1.00", "positive → 1"]
    assert rows[0][4] == "+0.00, +0.00, +0.00, +0.00"
    assert rows[1][3] == "positive → 2"                 # IoU 0.5 exactly
    # Prior 1: centre (55, 60) h 20 → gt 2 centre (55, 55) h 10: dy = -5/20/0.1, dh = log(.5)/.2
    assert rows[1][4] == "+0.00, -2.50, +0.00, -3.47"
    assert rows[2][3] == "negative" and rows[2][4].endswith("(to 1)")  # no overlap: argmax 0


def test_map_rows_show_scales_and_ratios() -> None:
    from workbench.gui.panels.priors_tables import MAP_HEADERS, map_rows

    rows = map_rows(ssd300_paper_priors(), None)
    assert len(rows) == 7 and all(len(r) == len(MAP_HEADERS) for r in rows)
    assert rows[2][:4] == ["conv8_2", "10×10", "6", "600"]
    assert rows[2][7] == "0.375, 0.454" and rows[2][8] == "1, 2, 0.5, 3, 0.333"
