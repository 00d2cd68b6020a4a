"""Priors panel (issue 16): editable matching thresholds whose counts equal ``workbench priors
--image --json``; hard-negative mining with a real tiny SSD checkpoint; the panel follows the
hub to the checkpoint's own priors (paper VOC set vs torchvision's COCO scales)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from workbench.core.priors import ssd300_paper_priors
from workbench.gui.panels import priors_mining

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import write_labelimg_xml, project_window  # noqa: E402

PANEL = ("workbench.gui.panels.priors", "PriorsPanel", "Priors")


def _window(qtbot, tmp_path, width: int = 300, height: int = 300):  # noqa: ANN001, ANN202
    from PySide6.QtGui import QColor, QImage

    images = tmp_path / "images"
    images.mkdir()
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(QColor(90, 120, 150))
    assert image.save(str(images / "a.png"))
    write_labelimg_xml(images / "a.xml", "a.png", (width, height),
                       [("cat", 101, 101, 160, 160), ("stick", 11, 11, 14, 30)])
    w = project_window(qtbot, tmp_path / "s.ini", images, [PANEL])
    panel = w.panel_host.show_panel(PANEL[1])
    # the priors and matching are computed in a turn after the one that shows the panel
    qtbot.waitUntil(lambda: panel.match is not None, timeout=5000)
    return w


@pytest.fixture
def window(qtbot, tmp_path):  # noqa: ANN001, ANN201
    return _window(qtbot, tmp_path)


def _type_value(qtbot, spin, text: str) -> None:  # noqa: ANN001
    """Select the spin box's text and type ``text`` + Enter, as a user does."""
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


def _cli_counts(capsys, images: Path, *options: str) -> dict:  # noqa: ANN001
    from workbench.cli import main

    capsys.readouterr()
    assert main(["priors", *options, "--image", str(images / "a.png"), "--annotations",
                 str(images / "a.xml"), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["matching"]


def test_ssd_threshold_counts_follow_and_equal_the_cli(window, qtbot, capsys) -> None:  # noqa: ANN001
    panel = window.panel("PriorsPanel")
    images = Path(window.project.root)
    assert panel.pos_spin.value() == 0.5 and not panel.neg_spin.isVisible()
    at_05 = panel.counts()
    assert at_05 == _cli_counts(capsys, images, "--model", "ssd300_voc_paper")
    with qtbot.waitSignal(panel.matched):
        _type_value(qtbot, panel.pos_spin, "0.3")
    at_03 = panel.counts()
    assert at_03["positive_threshold"] == 0.3 and at_03["ignored"] == 0
    assert at_03["positives"] > at_05["positives"]
    assert at_03 == _cli_counts(capsys, images, "--model", "ssd300_voc_paper",
                                "--iou-threshold", "0.3")
    assert f"<b>{at_03['positives']:,}</b> positive" in panel.counts_label.text()
    assert f"<b>{at_03['negatives']:,}</b> negative" in panel.counts_label.text()
    assert panel.maps_table.item(6, 4).text() == str(at_03["positives"])


def test_rpn_fg_bg_counts_equal_the_cli(window, qtbot, capsys) -> None:  # noqa: ANN001
    panel = window.panel("PriorsPanel")
    images = Path(window.project.root)
    with qtbot.waitSignal(panel.priors_changed, timeout=60000):
        panel.set_model("fasterrcnn_mobilenet_v3_large_320_fpn")
    assert (panel.pos_spin.value(), panel.neg_spin.value()) == (0.7, 0.3)
    assert panel.neg_spin.isVisible()
    assert panel.counts() == _cli_counts(capsys, images, "--model",
                                         "fasterrcnn_mobilenet_v3_large_320_fpn")
    _type_value(qtbot, panel.neg_spin, "0.2")
    with qtbot.waitSignal(panel.matched):
        _type_value(qtbot, panel.pos_spin, "0.6")
    counts = panel.counts()
    assert (counts["positive_threshold"], counts["negative_threshold"]) == (0.6, 0.2)
    assert counts["ignored"] > 0
    assert counts == _cli_counts(capsys, images, "--model",
                                 "fasterrcnn_mobilenet_v3_large_320_fpn", "--fg-iou", "0.6",
                                 "--bg-iou", "0.2")
    assert f"<b>{counts['ignored']:,}</b> ignored" in panel.counts_label.text()
    # the SSD set keeps its own threshold (0.5), the RPN's are remembered
    panel.set_model("ssd300_voc_paper")
    assert panel.pos_spin.value() == 0.5 and panel.counts()["positive_threshold"] == 0.5


def test_rpn_counts_on_a_wide_photo_equal_the_cli(qtbot, tmp_path, capsys) -> None:  # noqa: ANN001
    # Faster R-CNN keeps the photo's aspect ratio: 480x300 -> a 512x320 input, more anchors
    # than the 320x320 square (the CLI used to stretch the square's)
    window = _window(qtbot, tmp_path, 480, 300)
    panel = window.panel("PriorsPanel")
    with qtbot.waitSignal(panel.priors_changed, timeout=60000):
        panel.set_model("fasterrcnn_mobilenet_v3_large_320_fpn")
    assert panel.priors.input_size == (320, 512)
    counts = panel.counts()
    assert counts["positives"] + counts["negatives"] + counts["ignored"] == panel.priors.total
    assert counts == _cli_counts(capsys, Path(window.project.root), "--model",
                                 "fasterrcnn_mobilenet_v3_large_320_fpn")


def _mining_tab(panel, qtbot) -> None:  # noqa: ANN001
    bar = panel.tabs.tabBar()
    last = panel.tabs.count() - 1
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(last).center())
    assert panel.tabs.currentIndex() == last


def test_mining_without_a_checkpoint_says_what_is_needed(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel("PriorsPanel")
    _mining_tab(panel, qtbot)
    qtbot.mouseClick(panel.mine_button, Qt.MouseButton.LeftButton)
    assert panel.mining_label.text() == priors_mining.NEEDS_CHECKPOINT
    assert panel.losses is None and len(panel.overlay.hn_kept.boxes) == 0


@pytest.fixture
def demo_checkpoint(tmp_path):  # noqa: ANN001, ANN201
    from workbench.engine.checkpoint import make_checkpoint, save_checkpoint
    from workbench.engine.detectors import build_detector

    model, info = build_detector("demo_ssdlite_cpu", 2, image_size=320, weights=None)
    return save_checkpoint(make_checkpoint(model, info=info, classes=["cat"], config={},
                                           epoch=1), tmp_path / "demo.pt")


def test_hard_negatives_of_a_real_checkpoint(window, qtbot, demo_checkpoint) -> None:  # noqa: ANN001
    from workbench.gui.hub import CheckpointLoaded

    panel = window.panel("PriorsPanel")
    # on the paper's SSD300 set, another model's checkpoint is offered, not selected
    with qtbot.waitSignal(panel.checkpoint_offered, timeout=60000) as offered:
        window.hub.publish(CheckpointLoaded(demo_checkpoint))
    assert offered.args == [str(demo_checkpoint), False]
    assert panel.model_name == "ssd300_voc_paper"
    index = panel.model_combo.findData(f"ckpt:{demo_checkpoint}")
    assert panel.model_combo.itemText(index) == "checkpoint: demo.pt — demo_ssdlite_cpu"
    with qtbot.waitSignal(panel.priors_changed, timeout=60000):
        panel.model_combo.setCurrentIndex(index)
    assert panel.priors.total == 12828
    with qtbot.waitSignal(panel.mining_ready, timeout=60000):
        _mining_tab(panel, qtbot)                       # mines at once on the tab
    losses, kept, m = panel.losses, panel.kept, panel.match
    # the model's own matcher at 0.5 = the panel's matching (same priors, same rule), but for
    # the 4x20 stick's best prior: two priors tie for it, and torch's float32 IoU picks 489
    # where the panel's float64 picks 491 (same count)
    assert losses.num_positive == m.num_positive
    diff = np.flatnonzero(losses.positive != m.positive).tolist()
    assert diff == [489, 491] and m.forced[491] and losses.matched[489] == 1
    np.testing.assert_allclose(losses.priors, panel.priors.all_boxes(), atol=1e-3)
    pos, neg = m.num_positive, m.num_negative
    assert pos >= 2 and int(kept.sum()) == min(3 * pos, neg)
    assert not (kept & losses.positive).any()
    rest = ~kept & ~losses.positive
    assert losses.background_loss[kept].min() >= losses.background_loss[rest].max()
    # the stick's class is unknown to the checkpoint: its positives' loss is NaN, the cat's not
    stick = losses.matched == 1
    assert np.isnan(losses.conf_loss[stick]).all()
    assert np.isfinite(losses.conf_loss[losses.matched == 0]).all()
    assert len(panel.overlay.hn_kept.boxes) == 3 * pos
    assert len(panel.overlay.hn_pos.boxes) == pos
    assert len(panel.overlay.hn_rest.boxes) == neg - 3 * pos
    assert f"{3 * pos:,} kept at 3:1" in panel.mining_label.text()
    assert "This checkpoint trained with IoU ≥ 0.4" in panel.mining_label.text()  # demo's own
    with qtbot.waitSignal(panel.mining_ready):
        _type_value(qtbot, panel.ratio_spin, "1")
    assert int(panel.kept.sum()) == pos and len(panel.overlay.hn_kept.boxes) == pos
    assert np.flatnonzero(panel.kept).tolist() == sorted(
        np.flatnonzero(kept)[np.argsort(-losses.background_loss[kept],
                                        kind="stable")][:pos].tolist())
    qtbot.mouseClick(panel.show_rest, Qt.MouseButton.LeftButton)
    assert len(panel.overlay.hn_rest.boxes) == 0
    with qtbot.waitSignal(panel.mining_ready, timeout=60000):  # a new threshold mines again
        _type_value(qtbot, panel.pos_spin, "0.3")
    assert panel.losses.iou_threshold == 0.3
    assert panel.losses.num_positive == panel.match.num_positive > pos
    assert int(panel.kept.sum()) == panel.match.num_positive   # ratio still 1


@pytest.mark.slow
def test_panel_shows_the_priors_a_checkpoint_trained_with(window, qtbot, tmp_path) -> None:  # noqa: ANN001
    from workbench.engine.anchor_extract import extract_priors
    from workbench.engine.checkpoint import make_checkpoint, save_checkpoint
    from workbench.engine.detectors import build_detector
    from workbench.gui.hub import CheckpointLoaded, TrainingFinished

    paths = {}
    for priors in ("voc_paper", "torchvision"):
        model, info = build_detector("ssd300_vgg16", 2, image_size=300, weights=None,
                                     priors=priors)
        paths[priors] = save_checkpoint(make_checkpoint(model, info=info, classes=["cat"],
                                                        config={}, epoch=1),
                                        tmp_path / f"{priors}.pt")
        del model
    panel = window.panel("PriorsPanel")
    assert panel.model_combo.itemText(panel.model_combo.findData("ssd300_vgg16")) == \
        "SSD300 VGG16 — torchvision (COCO scales)"
    paper = panel.model_combo.findData("ssd300_voc_paper")
    assert panel.model_combo.itemText(paper) == "SSD300 VGG16 — paper / VOC (0.1 … 0.9)"
    assert "train --priors voc_paper" in panel.model_combo.itemData(
        paper, Qt.ItemDataRole.ToolTipRole)
    # the panel is on the paper's SSD300 set: a loaded ssd300_vgg16 checkpoint is followed
    with qtbot.waitSignal(panel.priors_changed, timeout=120000):
        window.hub.publish(CheckpointLoaded(paths["voc_paper"]))
    assert panel.model_name == f"ckpt:{paths['voc_paper']}"
    assert "(paper VOC priors)" in panel.model_combo.currentText()
    np.testing.assert_allclose(panel.priors.all_boxes(), ssd300_paper_priors().all_boxes(),
                               atol=1e-3)
    assert "scales 0.1 … 0.9" in panel.status.text()
    assert "SSD paper VOC priors" in panel.status.text()
    # a finished run's checkpoint (torchvision priors): followed from a checkpoint too
    with qtbot.waitSignal(panel.priors_changed, timeout=120000):
        window.hub.publish(TrainingFinished(run=None, best=paths["torchvision"]))
    assert panel.model_name == f"ckpt:{paths['torchvision']}"
    coco = extract_priors("ssd300_vgg16", photo_size=(300, 300))
    np.testing.assert_allclose(panel.priors.all_boxes(), coco.all_boxes(), atol=1e-3)
    assert "scales 0.07 … 0.87" in panel.status.text()
    assert not np.allclose(coco.all_boxes(), ssd300_paper_priors().all_boxes(), atol=1)


def test_hand_made_losses_drawn_kept_and_not_kept(window, qtbot) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    panel = window.panel("PriorsPanel")
    #                  0    1    2    3    4    5    6     7    8    9
    loss = np.array([0.1, 0.9, 0.3, 0.9, 0.5, 0.2, 0.8, 0.05, 0.7, 0.4])
    matched = np.full(10, -1)
    matched[[1, 6]] = 0                     # two positives with high losses: never kept
    boxes = np.array([[10 * i, 0, 10 * i + 8, 8] for i in range(10)], dtype=float)
    panel.losses = SimpleNamespace(priors=boxes, matched=matched, positive=matched >= 0,
                                   background_loss=loss, conf_loss=loss, iou_threshold=0.5,
                                   model_threshold=0.5)
    with qtbot.waitSignal(panel.mining_ready):
        _type_value(qtbot, panel.ratio_spin, "2")
    # 2 positives x 2 = 4 kept: 3 (0.9), 8 (0.7), 4 (0.5), 9 (0.4)
    assert np.flatnonzero(panel.kept).tolist() == [3, 4, 8, 9]
    np.testing.assert_array_equal(panel.overlay.hn_kept.boxes, boxes[[3, 4, 8, 9]])
    np.testing.assert_array_equal(panel.overlay.hn_pos.boxes, boxes[[1, 6]])
    np.testing.assert_array_equal(panel.overlay.hn_rest.boxes, boxes[[0, 2, 5, 7]])
    assert "4 kept at 2:1" in panel.mining_label.text()
    assert "Kept losses 0.900 … 0.400; the highest not kept 0.300." in panel.mining_label.text()
    with qtbot.waitSignal(panel.mining_ready):
        _type_value(qtbot, panel.ratio_spin, "10")
    assert panel.kept.sum() == 8 and len(panel.overlay.hn_rest.boxes) == 0
    assert "The budget 20 exceeds the negatives: all are kept." in panel.mining_label.text()
