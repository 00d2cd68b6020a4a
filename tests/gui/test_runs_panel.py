"""Runs and Label next panels in a real window: checking runs overlays their curves, the per-class
AP table shows the differences, the label-next list ranks injected detections and opens images."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from workbench.core.annotation import Annotation, VocObject
from workbench.core.detections import ImageDetections
from workbench.gui.hub import AnnotationsWritten, CheckpointLoaded, TrainingFinished
from workbench.gui.main_window import MainWindow
from workbench.gui.panels.label_next import LabelNextPanel
from workbench.gui.panels.runs import RunsPanel
from workbench.gui.settings import Settings


def _rows(epoch: int, losses: list[float], m07: float | None, ap: dict | None) -> list[dict]:
    rows = [{"type": "step", "epoch": epoch, "step": i, "loss": v} for i, v in enumerate(losses)]
    if m07 is not None:
        rows.append({"type": "epoch", "epoch": epoch, "map_voc07": m07, "map_voc": m07,
                     "ap_voc07": ap, "ap_voc": ap, "train_loss": 0})
    rows.append({"type": "checkpoint", "epoch": epoch, "is_best": True})
    return rows


def _run(root: Path, name: str, rows: list[dict]) -> None:
    folder = root / "runs" / name
    folder.mkdir(parents=True)
    start = {"type": "start", "model": "demo", "classes": ["cat", "dog"], "first_epoch": 1}
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [start, *rows]))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from workbench.core.voc import write_annotation

    images = tmp_path / "images"
    images.mkdir()
    for stem in ("a", "b", "c", "d", "e", "f", "g"):
        cv2.imwrite(str(images / f"{stem}.png"), np.full((40, 60, 3), 90, np.uint8))
    write_annotation(Annotation("a.png", objects=(VocObject("cat", (1, 1, 20, 20)),)),
                     images / "a.xml")
    # f: annotated without boxes (the Files dock calls it unlabeled); g: a verified negative
    write_annotation(Annotation("f.png"), images / "f.xml")
    write_annotation(Annotation("g.png", verified=True), images / "g.xml")
    _run(images, "r1", [*_rows(1, [4.0, 2.0], 0.25, {"cat": 0.5, "dog": 0.0}),
                        *_rows(2, [1.0], 0.75, {"cat": 1.0, "dog": 0.5})])
    _run(images, "r2", [*_rows(1, [3.0], None, None),
                        *_rows(2, [2.0], 0.5, {"cat": 0.25, "dog": 0.75})])
    _run(images, "r3", [*_rows(1, [5.0], 0.125, {"cat": 0.125, "dog": 0.125})])
    return images


@pytest.fixture
def window(qtbot, tmp_path: Path, project: Path) -> MainWindow:
    w = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(project)
    return w


def _check(qtbot, panel: RunsPanel, row: int,
           state: Qt.CheckState = Qt.CheckState.Checked) -> None:
    item = panel.list.item(row)
    rect = panel.list.visualItemRect(item)
    # the check box sits at the left of the row
    with qtbot.waitSignal(panel.compared, timeout=3000):
        QTest.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(
            rect.left() + rect.height() // 2, rect.center().y()))
    assert item.checkState() == state


def _points(plot) -> list[tuple[str, list[float], list[float]]]:
    """What the plot draws (every data item in it), by run name."""
    return sorted((c.name(), c.xData.tolist(), c.yData.tolist())
                  for c in plot.getPlotItem().listDataItems())


def test_checking_two_runs_overlays_curves_and_diffs(qtbot, window: MainWindow) -> None:
    panel = RunsPanel(window)
    qtbot.addWidget(panel)
    panel.resize(380, 900)
    panel.show()
    qtbot.waitUntil(lambda: panel.list.count() == 3, timeout=5000)
    assert [panel.list.item(i).text() for i in range(3)] == [
        "r1 · 2 epochs · best mAP 0.750", "r2 · 2 epochs · best mAP 0.500",
        "r3 · 1 epoch · best mAP 0.125"]
    assert panel.plots.curves(panel.plots.loss_plot) == []
    _check(qtbot, panel, 0)
    _check(qtbot, panel, 1)
    assert _points(panel.plots.loss_plot) == [("r1", [1.0, 2.0], [3.0, 1.0]),
                                              ("r2", [1.0, 2.0], [3.0, 2.0])]
    assert _points(panel.plots.map_plot) == [("r1", [1.0, 2.0], [0.25, 0.75]),
                                             ("r2", [2.0], [0.5])]
    colors = [c.opts["pen"].color().name() for c in panel.plots.curves(panel.plots.loss_plot)]
    assert colors[0] != colors[1]
    assert colors == [c.opts["pen"].color().name() for c in panel.plots.curves(panel.plots.map_plot)]
    assert "r1" in panel.legend.text() and colors[1] in panel.legend.text()
    assert panel.table.text() == [
        ["class", "A", "B", "B−A"],
        ["cat", "1.000", "0.250", "-0.750"],
        ["dog", "0.500", "0.750", "+0.250"],
        ["mAP", "0.750", "0.500", "-0.250"],
    ]
    # last epoch instead of best: r1's epoch 2 is both; the table keeps its numbers
    panel.epoch_box.setCurrentIndex(1)
    assert panel.table.text()[1] == ["cat", "1.000", "0.250", "-0.750"]
    # a third run: three curves, a second difference column
    _check(qtbot, panel, 2)
    assert [n for n, _x, _y in _points(panel.plots.loss_plot)] == ["r1", "r2", "r3"]
    assert _points(panel.plots.map_plot)[2] == ("r3", [1.0], [0.125])
    assert panel.table.text()[0] == ["class", "A", "B", "C", "B−A", "C−A"]
    assert panel.table.text()[1] == ["cat", "1.000", "0.250", "0.125", "-0.750", "-0.875"]
    # unchecking r2 removes its curves; r1 and r3 stay as they were
    _check(qtbot, panel, 1, Qt.CheckState.Unchecked)
    assert [n for n, _x, _y in _points(panel.plots.map_plot)] == ["r1", "r3"]
    assert [n for n, _x, _y in _points(panel.plots.loss_plot)] == ["r1", "r3"]
    assert panel.table.text()[0] == ["class", "A", "B", "B−A"]
    assert panel.table.text()[1] == ["cat", "1.000", "0.125", "-0.875"]


def test_runs_list_follows_training_finished(qtbot, window: MainWindow, project: Path) -> None:
    panel = RunsPanel(window)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.list.count() == 3, timeout=5000)
    _run(project, "r4", _rows(1, [1.0], 0.5, {"cat": 0.5}))
    with qtbot.waitSignal(panel.runs_read, timeout=5000):
        window.hub.publish(TrainingFinished(project / "runs" / "r4", None))
    assert panel.list.count() == 4 and "4 runs" in panel.status.text()
    assert panel.legend.text() == "Check runs in the list to compare them."
    bad = project / "runs" / "r5"
    bad.mkdir()
    (bad / "metrics.jsonl").write_text('{"type": "start"}\nnot json\n{"type": "finished"}\n')
    with qtbot.waitSignal(panel.runs_read, timeout=5000):
        QTest.mouseClick(panel.refresh_button, Qt.MouseButton.LeftButton)
    item = panel.list.item(4)
    assert item.text() == "r5 (unreadable)" and item.flags() == Qt.ItemFlag.NoItemFlags
    assert item.toolTip().endswith("metrics.jsonl: line 2 is not JSON (Expecting value)")


def _injected(_checkpoint: Path, paths: list[Path], lo: float, _ctx) -> list:
    A, A2 = (0, 0, 10, 10), (0, 0, 10, 8)
    dets = {  # b: 1 in band; c: a close pair (1 + 0.75); d: nothing; e: 1 in band
        "b": ([A], [0.5], ["cat"]),
        "c": ([A, A2], [0.75, 0.5], ["cat", "dog"]),
        "d": ([], [], []),
        "e": ([A], [0.6], ["dog"]),
        "f": ([A], [0.9], ["dog"]),
    }
    return [(p, ImageDetections(p.stem, *map(np.asarray, dets[p.stem]))) for p in paths]


def test_label_next_ranks_and_opens_images(qtbot, window: MainWindow, project: Path) -> None:
    panel = LabelNextPanel(window)
    qtbot.addWidget(panel)
    panel.resize(380, 700)
    panel.show()
    panel.source = _injected
    assert not panel.rank_button.isEnabled()
    window.hub.publish(CheckpointLoaded(project / "runs" / "r1" / "best.pt"))
    assert panel.rank_button.isEnabled() and "best.pt" in panel.model_label.text()
    with qtbot.waitSignal(panel.ranked, timeout=5000):
        QTest.mouseClick(panel.rank_button, Qt.MouseButton.LeftButton)
    # a and g are labeled; c (1.75) first, then b, e (1.0: by name), d, f (0: by name)
    assert panel.names() == ["c.png", "b.png", "e.png", "d.png", "f.png"]
    assert [panel.table.item(r, 1).text() for r in range(5)] == ["1.75", "1.00", "1.00", "0.00",
                                                                 "0.00"]
    # a click on the second row opens b
    rect = panel.table.visualItemRect(panel.table.item(1, 0))
    QTest.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_image_path() == project / "b.png"
    # Next opens e, then Enter on the first row opens c
    QTest.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert window.current_image_path() == project / "e.png"
    panel.table.setFocus()
    QTest.keyClick(panel.table, Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(panel.table, Qt.Key.Key_Return)
    assert window.current_image_path() == project / "c.png"
    # c gets labeled: it leaves the list, and Next from c goes to b
    window.hub.publish(AnnotationsWritten((project / "c.xml",)))
    assert panel.names() == ["b.png", "e.png", "d.png", "f.png"]
    QTest.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    assert window.current_image_path() == project / "b.png"


def test_registered(qtbot) -> None:
    from workbench.gui.panels.registry import PANELS

    assert ("workbench.gui.panels.runs", "RunsPanel", "Runs") in PANELS
    assert ("workbench.gui.panels.label_next", "LabelNextPanel", "Label next") in PANELS


def _detections_helpers():  # tests/detections_helpers.py (tests are not a package)
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_label_next_with_a_real_checkpoint(qtbot, tmp_path: Path) -> None:
    """The engine path: the checkpoint runs in the job; the list equals core.uncertainty over
    the same detections (its NMS / top-k, scores above lo / 2), ranked."""
    from workbench.core.uncertainty import image_uncertainty, rank
    from workbench.engine.inference import RawDetector

    folder = tmp_path / "images"
    folder.mkdir()
    checkpoint, paths = _detections_helpers().make_checkpoint(folder)
    w = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(w)
    assert w.open_project(folder)
    panel = LabelNextPanel(w)
    qtbot.addWidget(panel)
    panel.lo.setValue(0.1)
    panel.hi.setValue(0.6)
    panel.set_checkpoint(checkpoint)
    with qtbot.waitSignal(panel.ranked, timeout=60000):
        assert panel.start()
    detector = RawDetector.from_checkpoint(checkpoint)
    settings = detector.settings.replace(score_threshold=0.05)
    expected = rank(image_uncertainty(p.name, d.boxes, d.scores, d.labels, (0.1, 0.6))
                    for p, d in detector.detect_many(paths, settings))
    assert panel.names() == [u.image for u in expected]
    assert [panel.table.item(r, 1).text() for r in range(4)] == [f"{u.score:.2f}"
                                                                 for u in expected]
    assert sum(u.score for u in expected) > 0  # the tiny model is unsure somewhere


def test_short_legend_names() -> None:
    from workbench.gui.panels.runs_plots import letter, short_names

    assert short_names(["demo_ssdlite_cpu-lr0.001", "demo_ssdlite_cpu-lr0.003"]) == [
        "lr0.001", "lr0.003"]
    assert short_names(["ssd-20261206-0915", "ssd-20261206-1015", "frcnn-20261207-0800"]) == [
        "ssd-20261206-0915", "ssd-20261206-1015", "frcnn-20261207-0800"]
    assert short_names(["run-a", "run-ab"]) == ["a", "ab"]
    assert short_names(["x-1", "x-"]) == ["x-1", "x-"]
    assert short_names(["only-one"]) == ["only-one"]
    assert [letter(i) for i in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]


def test_label_next_forgets_the_old_folders_ranking(qtbot, window: MainWindow, project: Path,
                                                    tmp_path: Path) -> None:
    panel = LabelNextPanel(window)
    qtbot.addWidget(panel)
    panel.resize(380, 700)
    panel.show()
    panel.source = _injected
    window.hub.publish(CheckpointLoaded(project / "runs" / "r1" / "best.pt"))
    with qtbot.waitSignal(panel.ranked, timeout=5000):
        QTest.mouseClick(panel.rank_button, Qt.MouseButton.LeftButton)
    assert panel.names() == ["c.png", "b.png", "e.png", "d.png", "f.png"]
    other = tmp_path / "other"
    other.mkdir()
    cv2.imwrite(str(other / "z.png"), np.full((40, 60, 3), 90, np.uint8))
    assert window.open_project(other)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 0, timeout=5000)
    assert panel.names() == [] and panel.status.text() == ""
    assert not panel.next_button.isEnabled() and panel.rank_button.isEnabled()
    # the new folder ranks its own images
    panel.source = lambda _c, paths, _lo, _ctx: [
        (p, ImageDetections(p.stem, np.zeros((0, 4)), np.zeros(0), np.asarray([], dtype=str)))
        for p in paths]
    with qtbot.waitSignal(panel.ranked, timeout=5000):
        QTest.mouseClick(panel.rank_button, Qt.MouseButton.LeftButton)
    assert panel.names() == ["z.png"]
