"""Errors panel in a real window: table and sort order, Enter/N navigation with canvas marks,
confusion cells, filters, image sets, label changes, cancel, the hub and the disk cache.

The project and the fake detector are tests/errors_helpers.py (hand-computed numbers there):
at score >= 0.5 and IoU 0.5 the val split (b, c, d, e) has TP 2 (b, d), FP 3 (b cat .8 on the
dog, c dog .6, e cat .55), FN 2 (b's dog, c's cat): P 2/5, R 2/4, F1 4/9.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from workbench.gui.hub import AnnotationsWritten, CheckpointLoaded
from workbench.gui.main_window import MainWindow
from workbench.gui.panels import errors_data
from workbench.gui.panels.errors import ErrorsPanel
from workbench.gui.workers import detectors


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
def panel(window: MainWindow):  # noqa: ANN201
    p = ErrorsPanel(window)
    dock = QDockWidget("Errors", window)
    dock.setObjectName("test-errors-dock")
    dock.setWidget(p)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.show()
    yield p
    p.shutdown()


@pytest.fixture
def evaluated(qtbot, panel: ErrorsPanel):  # noqa: ANN001, ANN201
    fake = H.FakeDetector()
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        panel.set_detector(fake)
    return panel, fake


def _cells(panel: ErrorsPanel) -> list[list[str]]:
    proxy = panel.table_proxy
    return [[proxy.index(r, c).data() for c in range(proxy.columnCount())]
            for r in range(proxy.rowCount())]


def _click_header(panel: ErrorsPanel, column: int) -> None:
    header = panel.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, QPoint(x, header.height() // 2))


def test_numbers_matrix_and_table(evaluated) -> None:  # noqa: ANN001
    panel, fake = evaluated
    assert fake.calls == ["b", "c", "d", "e"]  # the val split, the network once per image
    assert "P 0.400 · R 0.500 · F1 0.444" in panel.summary.text()
    assert "TP 2 · FP 3 · FN 2" in panel.summary.text()
    assert "val split: 4 images" in panel.status.text()
    assert panel.confusion.labels == ["cat", "dog", "background"]
    assert panel.confusion.matrix.tolist() == [[1, 0, 1], [1, 1, 0], [1, 1, 0]]
    assert panel.confusion.item(1, 0).text() == "1" and panel.confusion.item(2, 2).text() == ""
    # FP, the largest first; ties in the project's order
    assert _cells(panel) == [["b", "1", "1", "1", "0.80"], ["c", "1", "1", "0", "0.60"],
                             ["e", "1", "0", "0", "0.55"], ["d", "0", "0", "0", ""]]


def test_header_clicks_sort(evaluated) -> None:  # noqa: ANN001
    panel, _fake = evaluated
    _click_header(panel, 4)  # worst score, the largest first
    assert panel.table_ids() == ["b", "c", "e", "d"]
    _click_header(panel, 2)  # FN
    assert panel.table_ids() == ["b", "c", "d", "e"]
    _click_header(panel, 2)  # again: ascending
    assert panel.table_ids() == ["d", "e", "b", "c"]
    _click_header(panel, 3)  # confused
    assert panel.table_ids() == ["b", "c", "d", "e"]
    _click_header(panel, 0)  # image: project order
    assert panel.table_ids() == ["b", "c", "d", "e"]


def test_enter_and_n_go_to_the_next_error_with_marks(qtbot, window, evaluated) -> None:  # noqa: ANN001
    panel, _fake = evaluated
    assert window.current_image_path().name == "a.png"
    assert len(panel.overlay) == 0  # a is not in the val split
    panel.table.setFocus()
    QTest.keyClick(panel.table, Qt.Key.Key_N)
    assert window.current_image_path().name == "b.png"
    marks = [(m.kind, m.status, m.label, m.other) for m in panel.overlay.marks]
    assert marks == [("object", "confused", "dog", "cat"), ("object", "tp", "cat", None),
                     ("detection", "confused", "cat", "dog"), ("detection", "tp", "cat", None)]
    assert panel.overlay.layer.isVisible() and len(panel.overlay.layer) == 4
    QTest.keyClick(panel.table, Qt.Key.Key_Return)
    assert window.current_image_path().name == "c.png"
    assert [(m.kind, m.status, m.label) for m in panel.overlay.marks] == [
        ("object", "fn", "cat"), ("detection", "fp", "dog")]
    QTest.keyClick(panel.table, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert window.current_image_path().name == "e.png"
    QTest.keyClick(panel.table, Qt.Key.Key_N)  # d has no error: wraps round to b
    assert window.current_image_path().name == "b.png"
    assert window.current_annotation() is not None and not window.documents.dirty()
    # another image empties the layer; one outside the evaluated set draws nothing
    window.show_row(window.session.row_of(window.project.images_dir / "f.png"))
    assert window.current_image_path().name == "f.png"
    assert len(panel.overlay.layer) == 0
    QTest.keyClick(panel.table, Qt.Key.Key_N)
    assert window.current_image_path().name == "c.png" and len(panel.overlay.layer) == 2


def test_a_confusion_cell_lists_its_images(qtbot, evaluated) -> None:  # noqa: ANN001
    panel, _fake = evaluated
    table = panel.confusion
    expected = {(1, 0): ["b"], (0, 2): ["c"], (2, 0): ["e"], (2, 1): ["c"], (1, 1): ["d"],
                (0, 0): ["b"], (0, 1): []}
    for (row, col), stems in expected.items():
        rect = table.visualRect(table.model().index(row, col))
        QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier, rect.center())
        shown = [panel.cell_list.item(i).text() for i in range(panel.cell_list.count())]
        assert shown == stems, (row, col)
    # a listed image is one click away
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     table.visualRect(table.model().index(2, 0)).center())
    item = panel.cell_list.item(0)
    QTest.mouseClick(panel.cell_list.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier,
                     panel.cell_list.visualItemRect(item).center())
    assert panel.window.current_image_path().name == "e.png"
    assert [m.status for m in panel.overlay.marks] == ["fp"]


def test_filters_by_class_size_and_errors(evaluated) -> None:  # noqa: ANN001
    panel, _fake = evaluated
    panel.class_filter.setCurrentIndex(panel.class_filter.findData("dog"))
    assert panel.table_ids() == ["b", "c", "d"]
    panel.class_filter.setCurrentIndex(0)
    panel.size_filter.setCurrentIndex(panel.size_filter.findData("small"))  # 30x30, 25x25
    assert panel.table_ids() == ["c", "e"]
    panel.size_filter.setCurrentIndex(0)
    QTest.mouseClick(panel.errors_only, Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, QPoint(8, panel.errors_only.height() // 2))
    assert panel.errors_only.isChecked()
    assert panel.table_ids() == ["b", "c", "e"]


def test_score_and_image_set_use_kept_outputs(qtbot, evaluated) -> None:  # noqa: ANN001
    panel, fake = evaluated
    panel.score_spin.setFocus()
    panel.score_spin.selectAll()
    with qtbot.waitSignal(panel.evaluated, timeout=5000):
        QTest.keyClicks(panel.score_spin, "0.25")  # counted again as typed
    assert panel.score_spin.value() == pytest.approx(0.25)
    assert "TP 2 · FP 4 · FN 2" in panel.summary.text()  # d's dog .3 counts now
    assert ["d", "1", "0", "0", "0.30"] in _cells(panel)
    # the whole folder: only a is new to the network
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        panel.scope_combo.setCurrentIndex(panel.scope_combo.findData("all"))
    assert fake.calls == ["b", "c", "d", "e", "a"]
    assert "whole folder: 5 labelled images" in panel.status.text()
    assert sorted(panel.table_ids()) == ["a", "b", "c", "d", "e"]
    assert "TP 3 · FP 4 · FN 2" in panel.summary.text()


def test_saved_label_changes_match_again_without_the_network(qtbot, window, evaluated) -> None:  # noqa: ANN001
    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.voc import write_annotation

    panel, fake = evaluated
    xml = window.project.images_dir / "e.xml"
    write_annotation(Annotation("e.png", ImageSize(100, 80, 3),
                                (VocObject("cat", (5.0, 5.0, 30.0, 30.0)),)), xml)
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        window.hub.publish(AnnotationsWritten((xml,), source="outside"))
    assert fake.calls == ["b", "c", "d", "e"]
    assert "TP 3 · FP 2 · FN 2" in panel.summary.text()
    assert ["e", "0", "0", "0", ""] in _cells(panel)


def test_cancel_stops_the_evaluation(qtbot, panel) -> None:  # noqa: ANN001
    gate = threading.Event()

    class Slow(H.FakeDetector):
        def raw(self, path):  # noqa: ANN001, ANN202
            gate.wait(10)
            return super().raw(path)

    slow = Slow()
    panel.set_detector(slow)
    assert panel.progress.isVisible() and panel.cancel_button.isEnabled()
    job = panel.long_jobs.latest("evaluate")
    with qtbot.waitSignal(job.cancelled, timeout=10_000):
        QTest.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert panel.status.text() == "Evaluation cancelled"
    assert panel.index is None and not panel.progress.isVisible()
    assert len(slow.calls) <= 1


def test_follows_checkpoints_on_the_hub(qtbot, window, panel, monkeypatch) -> None:  # noqa: ANN001
    fake = H.FakeDetector()
    seen = []
    monkeypatch.setattr(detectors, "shared_detector", lambda p: seen.append(p) or fake)
    ckpt = window.project.images_dir / "model.pt"
    ckpt.write_bytes(b"weights")
    with qtbot.waitSignal(panel.evaluated, timeout=20_000):
        window.hub.publish(CheckpointLoaded(ckpt))
    assert seen == [ckpt] and panel.detector is fake
    assert "model.pt" in panel.checkpoint_label.text()
    # the same checkpoint again: nothing reloaded
    window.hub.publish(CheckpointLoaded(ckpt))
    assert seen == [ckpt]
    # its detections were kept on disk, under the project's runs/
    cached = list((window.project.images_dir / "runs" / ".errors-cache").glob("*.npz"))
    assert len(cached) == 1


def test_detections_disk_cache_round_trip(tmp_path: Path) -> None:
    from workbench.core.detections import ImageDetections

    dets = {"x": ImageDetections("x", [[1, 2, 3, 4], [5, 6, 7, 8]], [0.9, 0.1], ["cat", "dog"]),
            "y": ImageDetections("y")}
    path = tmp_path / "c.npz"
    errors_data.save_detections(path, dets)
    back = errors_data.load_detections(path)
    assert list(back) == ["x", "y"]
    assert back["x"].boxes.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert back["x"].labels.tolist() == ["cat", "dog"] and len(back["y"]) == 0
    np.testing.assert_array_equal(back["x"].scores, [0.9, 0.1])
    path.write_bytes(b"not a zip")
    assert errors_data.load_detections(path) is None


def test_confusion_headers_are_whole_names(qtbot) -> None:  # noqa: ANN001
    # A one-class project at 1280x800: "raccoon" was cut to "racco…" in a ~180 px column.
    from workbench.gui.panels.errors_confusion import ConfusionTable

    table = ConfusionTable()
    qtbot.addWidget(table)
    table.resize(300, 120)
    table.show()
    labels = ["raccoon", "a-very-long-class-name", "background"]
    table.set_matrix(labels, np.array([[6, 0, 0], [1, 2, 0], [539, 0, 0]]))
    heads = [table.horizontalHeaderItem(i).text() for i in range(3)]
    rows = [table.verticalHeaderItem(i).text() for i in range(3)]
    assert heads == ["raccoon", "a-very-long-class-name", "bg"]
    assert rows == ["raccoon", "a-very-long…", "bg"]
    assert table.horizontalHeaderItem(0).toolTip() == "predicted raccoon"
