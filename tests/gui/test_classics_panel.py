"""Classics panel in the real window: YOLO grid targets, RoI pooling, RPN proposals.

Real mouse/key events on the panel's widgets and on the canvas; the values are literal (YOLO,
a hand-made feature map) or computed independently with torchvision (real feature maps, the
RPN's own filter).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import click, make_project, project_window  # noqa: E402

PANEL = ("workbench.gui.panels.classics", "ClassicsPanel", "Classics")
KEY = f"{PANEL[0]}.{PANEL[1]}"


@pytest.fixture
def window(qtbot, tmp_path):  # noqa: ANN001, ANN201
    # img0: cat (10, 20, 100, 120); img2: dog (30, 40, 130, 140), cat (150, 50, 250, 200);
    # 320x240 photos; img1 has no annotation.
    images = make_project(tmp_path, n=3)
    w = project_window(qtbot, tmp_path / "s.ini", images, [PANEL])
    assert w.show_row(2)
    yield w
    panel = w.panel_host.panels.get(KEY)
    if panel is not None:
        panel.shutdown()


def open_panel(window, qtbot):  # noqa: ANN001, ANN201
    panel = window.panel_host.show_panel(PANEL[1])
    qtbot.waitUntil(lambda: window.panel_host.layers.owner_shown(panel), timeout=3000)
    return panel


def type_value(qtbot, spin, value: int) -> None:  # noqa: ANN001
    """Select the spin box's text and type ``value`` (real key events)."""
    edit = spin.lineEdit()
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, str(value))
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert spin.value() == value


def click_tab(qtbot, tabs, index: int) -> None:  # noqa: ANN001
    bar = tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert tabs.currentIndex() == index


def wait_pooled(qtbot, page, box, size=(7, 7)) -> None:  # noqa: ANN001
    """Until the page shows the pooling of ``box`` (it runs on the panel's worker)."""
    qtbot.waitUntil(lambda: page.pooled_box is not None and page.pool_out is not None
                    and np.allclose(page.pooled_box, box)
                    and page.pool_out.shape[1:] == size, timeout=20000)


def table_texts(table) -> list[list[str]]:  # noqa: ANN001
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_yolo_targets_exact_and_conflict(window, qtbot) -> None:  # noqa: ANN001
    panel = open_panel(window, qtbot)
    page = panel.yolo_page
    click_tab(qtbot, panel.tabs, 1)
    type_value(qtbot, page.grid_spin, 4)          # cells 80 x 60 px
    # dog: centre (80, 90) → col 1 (80/80 = 1.0), row 1; bx 0, by 0.5, bw 100/80, bh 100/60
    # cat: centre (200, 125) → col 2, row 2; bx 0.5, by 0.0833, bw 1.25, bh 150/60 = 2.5
    assert table_texts(page.table) == [
        ["1,1", "1", "0.000", "0.500", "1.250", "1.667", "dog"],
        ["2,2", "1", "0.500", "0.083", "1.250", "2.500", "cat"],
    ]
    np.testing.assert_allclose(page.cell_layer.boxes, [[80, 60, 160, 120], [160, 120, 240, 180]])
    assert len(page.grid_layer) == 16
    assert page.cell_layer._labels == ["[1, 0.00, 0.50, 1.25, 1.67, dog]",
                                       "[1, 0.50, 0.08, 1.25, 2.50, cat]"]
    assert len(page.centre_layer) == 2
    assert page.cell_layer.isVisible() and page.centre_layer.isVisible()
    # N = 1: both centres in the one cell → conflict, flagged red; the last one is kept.
    type_value(qtbot, page.grid_spin, 1)
    rows = table_texts(page.table)
    assert [r[6] for r in rows] == ["dog · lost", "cat · kept"]
    assert rows[0][2:6] == ["0.250", "0.375", "0.312", "0.417"]   # (80, 90) in 320x240
    assert page.table.item(0, 0).foreground().color().name() == "#ff3232"
    assert page.cell_layer._labels == ["⚠ 2 centres, kept: [1, 0.62, 0.52, 0.31, 0.62, cat]"]
    assert "1 conflicting cell" in page.summary.text()
    # An edit of the boxes updates the targets at once.
    from workbench.core.annotation import VocObject

    window.add_objects([VocObject(name="cat", box=(0.0, 0.0, 32.0, 24.0))])
    assert page.table.rowCount() == 3


def test_roi_pooling_hand_map_and_real_features(window, qtbot) -> None:  # noqa: ANN001
    import torch
    from torchvision.ops import roi_align as tv_align
    from torchvision.ops import roi_pool as tv_pool

    from workbench.engine.feature_maps import FeatureMap, FeatureMaps

    panel = open_panel(window, qtbot)
    page = panel.roi_page
    qtbot.waitUntil(lambda: page.features is not None, timeout=120000)
    # The real maps of the default detector: what is drawn equals torchvision on them.
    qtbot.mouseClick(page.pick_button, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    window.canvas.actual_size()
    click(window.canvas, 200, 190)                # inside the cat (150, 50, 250, 200) only
    wait_pooled(qtbot, page, [150, 50, 250, 200])
    assert page.source_combo.currentText() == "ground truth" and page.index_spin.value() == 1
    np.testing.assert_allclose(page.box, [150, 50, 250, 200])
    f = page.features
    m = f.maps[page.map_index]
    feats = torch.from_numpy(m.values)[None]
    rois = torch.tensor([[0.0, *f.to_input(page.box)]])
    ref = tv_pool(feats, rois, (7, 7), m.spatial_scale)[0].numpy()
    np.testing.assert_allclose(page.pool_out, ref, rtol=1e-6, atol=1e-6)
    ref = tv_align(feats, rois, (7, 7), m.spatial_scale, 2, aligned=False)[0].numpy()
    np.testing.assert_allclose(page.align_out, ref, rtol=1e-5, atol=1e-5)
    assert len(panel.layers["classics:roi-samples"]) == 49 * 4
    # A tiny hand-made map: 2 channels of 6 x 8 cells, one cell = 40 photo px.
    values = np.stack([np.arange(48.0).reshape(6, 8), 100 + np.arange(48.0).reshape(6, 8)])
    tiny = FeatureMaps("hand", (FeatureMap("tiny", values.astype(np.float32), 1 / 40, True),),
                       (240, 320), (240, 320), fpn=False)
    page.set_features(tiny)
    type_value(qtbot, page.out_h, 2)
    type_value(qtbot, page.out_w, 2)
    qtbot.mouseClick(page.pick_button, Qt.MouseButton.LeftButton)
    click(window.canvas, 40, 60)                  # inside the dog (30, 40, 130, 140) only
    wait_pooled(qtbot, page, [30, 40, 130, 140], (2, 2))
    np.testing.assert_allclose(page.box, [30, 40, 130, 140])
    # roi_pool: round(30/40)=1, round(1)=1, round(3.25)=3, round(3.5)=4 → cells x 1..3, y 1..4
    # (3 x 4 cells); bins of 1.5 x 2 cells: x [1,3) [2,4), y [1,3) [3,5).
    np.testing.assert_allclose(panel.layers["classics:roi-cells"].boxes, [
        [40, 40, 120, 120], [80, 40, 160, 120], [40, 120, 120, 200], [80, 120, 160, 200]])
    # max over each bin's cells of value = 8 y + x (+100 in channel 1)
    np.testing.assert_allclose(page.pool_out[0], [[18, 19], [34, 35]])
    np.testing.assert_allclose(page.pool_out[1], [[118, 119], [134, 135]])
    feats = torch.from_numpy(values.astype(np.float32))[None]
    rois = torch.tensor([[0.0, 30, 40, 130, 140]])
    np.testing.assert_allclose(page.pool_out, tv_pool(feats, rois, (2, 2), 1 / 40)[0].numpy())
    ref = tv_align(feats, rois, (2, 2), 1 / 40, 2, aligned=False)[0].numpy()
    np.testing.assert_allclose(page.align_out, ref, rtol=1e-6)
    # roi_align's bins: the box / 40 without rounding, 1.25 x 1.25 cells each
    np.testing.assert_allclose(panel.layers["classics:roi-bins"].boxes,
                               [[30, 40, 80, 90], [80, 40, 130, 90],
                                [30, 90, 80, 140], [80, 90, 130, 140]])
    assert len(panel.layers["classics:roi-samples"]) == 16
    # heat maps: 2 channels → 2 groups shown (mean of 1 channel each)
    np.testing.assert_allclose(page.pool_maps[0].values, [[18, 19], [34, 35]])
    np.testing.assert_allclose(page.align_maps[1].values, ref[1])


def test_rpn_proposals_anchor_and_layers(window, qtbot) -> None:  # noqa: ANN001
    from torchvision.ops import box_iou
    import torch

    panel = open_panel(window, qtbot)
    page = panel.rpn_page
    assert "Random weights" in page.note.text()
    with qtbot.waitSignal(page.traced, timeout=120000):
        click_tab(qtbot, panel.tabs, 2)
    t = page.trace
    assert t.matches_torchvision
    assert page.table.rowCount() == 20
    scores = [float(page.table.item(r, 1).text()) for r in range(20)]
    assert scores == sorted(scores, reverse=True)
    assert np.all(np.diff(t.scores) <= 0)
    # select the third proposal by clicking its row
    rect = page.table.visualItemRect(page.table.item(2, 0))
    with qtbot.waitSignal(page.selection_changed) as sig:
        qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [2]
    iou = float(box_iou(torch.from_numpy(t.boxes[2:3]), torch.from_numpy(t.anchors[2:3]))[0, 0])
    assert f"IoU with its anchor {iou:.3f}" in page.selected_label.text()
    assert page.table.item(2, 2).text() == f"{iou:.3f}"
    np.testing.assert_allclose(page.selected_layer.boxes, [t.anchors[2], t.boxes[2]])
    assert page.selected_layer.isVisible() and page.all_layer.isVisible()
    assert len(page.all_layer) == 20
    # Top N from the keyboard
    type_value(qtbot, page.top_spin, 5)
    assert page.table.rowCount() == 5 and len(page.all_layer) == 5
    # layers hide with the page and with the panel
    roi_box = panel.layers["classics:roi-box"]
    assert not roi_box.isVisible()
    dock = window.panel_host.docks[KEY]
    dock.close()
    qtbot.waitUntil(lambda: not page.all_layer.isVisible(), timeout=2000)
    assert not page.selected_layer.isVisible()
    dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: page.all_layer.isVisible(), timeout=2000)
    # another image: the per-image layers are emptied at once
    assert window.show_row(1)
    assert len(page.all_layer) == 0 and len(page.selected_layer) == 0
    assert page.trace is None
    assert len(panel.yolo_page.cell_layer) == 0       # img1 has no boxes
    with qtbot.waitSignal(page.traced, timeout=120000):
        pass
    QTest.qWait(10)


def test_loaded_checkpoint_is_offered_and_a_bad_one_says_why(window, qtbot, tmp_path) -> None:  # noqa: ANN001
    from workbench.gui.hub import CheckpointLoaded

    panel = open_panel(window, qtbot)
    click_tab(qtbot, panel.tabs, 2)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(panel.failed, timeout=120000) as sig:
        window.hub.publish(CheckpointLoaded(path=bad))
    for combo in (panel.roi_page.model_combo, panel.rpn_page.model_combo):
        assert combo.currentText() == "checkpoint: broken.pt"
        assert combo.currentData() == f"ckpt:{bad}"
    assert panel.rpn_page.note.text() == ""              # no "random weights" warning
    assert "broken.pt" in sig.args[0]
    assert panel.rpn_page.status.text().startswith("Failed: ")
    assert panel.rpn_page.trace is None and len(panel.rpn_page.all_layer) == 0
