"""Proposals and IoU panels in the real window, driven with qtbot."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.core.boxes import box_area

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import click, write_labelimg_xml, project_window  # noqa: E402

PROPOSALS = ("workbench.gui.panels.proposals", "ProposalsPanel", "Proposals")
IOU = ("workbench.gui.panels.iou", "IouPanel", "IoU")


@pytest.fixture
def window(qtbot, tmp_path):  # noqa: ANN001, ANN201
    rng = np.random.default_rng(0)
    img = np.full((300, 400, 3), 110, np.uint8) + rng.integers(0, 12, (300, 400, 3),
                                                               dtype=np.uint8)
    img[40:140, 30:130] = (30, 30, 220)
    img[160:280, 220:380] = (200, 60, 20)
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), img)
    cv2.imwrite(str(images / "b.png"), img[:, ::-1])
    write_labelimg_xml(images / "a.xml", "a.png", (400, 300),
                       [("red", 31, 41, 130, 140), ("blue", 221, 161, 380, 280)])
    w = project_window(qtbot, tmp_path / "s.ini", images, [PROPOSALS, IOU])
    for spec in (PROPOSALS, IOU):
        w.panel_host.docks[f"{spec[0]}.{spec[1]}"].show()
    return w


def test_proposals_run_filter_cache(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel("ProposalsPanel")
    with qtbot.waitSignal(panel.proposals_ready, timeout=30000):
        panel.run_button.click()
    result = panel.result
    assert result.count > 10 and result.params.method == "ours"
    assert "s — ours fast" in panel.time_label.text()
    assert "recall@0.5 1.000" in panel.stats_label.text()
    panel.top_slider.setValue(5)
    assert len(panel.layer.boxes) == 5
    assert panel.top_label.text() == f"5 / {result.count}"
    panel.top_slider.setValue(result.count)
    panel.book_button.click()                                  # 5 %–100 %
    shown = panel.layer.boxes
    assert (box_area(shown) >= 0.05 * 400 * 300 - 1e-9).all()
    assert len(shown) < result.count
    # Colours: the best proposal for the red square is green-ish (IoU ~1).
    assert panel.best_iou.max() > 0.9
    # Same image and parameters → from the cache, no worker.
    with qtbot.waitSignal(panel.proposals_ready, timeout=1000):
        panel.run()
    assert panel.result is result and "(cached)" in panel.time_label.text()


def test_proposals_cancel(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel("ProposalsPanel")
    panel.mode_combo.setCurrentText("quality")                 # 25 units: time to cancel
    panel.run()
    task = panel._task
    with qtbot.waitSignal(task.cancelled, timeout=30000):
        panel.cancel_button.click()
    assert panel.progress.format() == "cancelled" and panel.result is None
    assert panel.run_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_iou_of_two_ground_truth_boxes_and_pick_by_click(window, qtbot) -> None:  # noqa: ANN001
    panel = window.panel("IouPanel")
    panel.select("A", "ground truth", 0)
    panel.select("B", "ground truth", 1)
    assert panel.iou == 0.0                      # disjoint boxes
    assert len(panel.inter_layer) == 0 and len(panel.union_layer) == 2
    # Pick B by clicking inside the red square on the canvas: same box as A → IoU 1.
    qtbot.wait(50)
    window.canvas.actual_size()
    panel.pick["B"].setChecked(True)
    with qtbot.waitSignal(panel.pair_changed) as sig:
        click(window.canvas, 80, 90)
    assert sig.args == [pytest.approx(1.0)]
    assert panel.index["B"].value() == 0 and not panel.pick["B"].isChecked()
    assert "IoU = 1.0000" in panel.result_label.text()


def test_iou_against_proposals_layer(window, qtbot) -> None:  # noqa: ANN001
    proposals = window.panel("ProposalsPanel")
    with qtbot.waitSignal(proposals.proposals_ready, timeout=30000):
        proposals.run()
    panel = window.panel("IouPanel")
    panel.refresh_sources()
    assert "proposals" in [panel.compare_combo.itemText(i)
                           for i in range(panel.compare_combo.count())]
    panel.compare_combo.setCurrentText("proposals")
    assert panel.table.rowCount() == 2
    best = [float(panel.table.item(r, 1).text()) for r in range(2)]
    assert min(best) > 0.7
    # A proposal against a ground-truth box: the panel's IoU equals the table's best.
    index = int(panel.table.item(0, 2).text())
    panel.select("A", "ground truth", 0)
    panel.select("B", "proposals", index)
    assert panel.iou == pytest.approx(best[0], abs=1e-3)
    inter = panel.inter_layer.boxes[0]
    assert inter[0] >= 30 - 1e-6 and inter[2] <= 130 + 1e-6


def test_panel_modules_do_not_import_torch() -> None:
    import subprocess

    code = ("import sys; import workbench.gui.panels.priors, workbench.gui.panels.proposals, "
            "workbench.gui.panels.iou, workbench.gui.workers.tasks, workbench.cli.priors, "
            "workbench.cli.proposals; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
