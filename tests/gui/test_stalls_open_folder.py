"""Opening a folder while the event loop runs (File → Open Folder, Open Recent, drops:
``window.open_folder``, the scan on a worker, issue 14 GUI stalls): once the event loop has
run, the file dock, the class list, the boxes dock and the outside-edits watcher show exactly
the opened folder — the same as the synchronous ``open_project`` shows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.gui import dialogs

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import make_project, shown_window, write_labelimg_xml, window_without_dialogs  # noqa: E402


def _shown(window) -> dict:  # noqa: ANN001
    """What the docks show: file rows (text, state) as the list view has them, class names,
    box rows of the current image, the current image, the position label."""
    files = window.files
    view_model = files.list.model()
    rows = [(view_model.index(r, 0).data(Qt.ItemDataRole.DisplayRole),
             files.model.state(files.proxy.mapToSource(view_model.index(r, 0)).row()))
            for r in range(view_model.rowCount())]
    boxes = [window.boxes.list.item(r).text() for r in range(window.boxes.list.count())]
    current = files.list.currentIndex()
    return {"files": rows, "classes": window.classes.names(), "boxes": boxes,
            "current row": files.proxy.mapToSource(current).row() if current.isValid() else None,
            "image": window.current_image_path(), "position": window.position_label.text()}


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    return window_without_dialogs(qtbot, tmp_path, monkeypatch)


def test_open_folder_fills_every_dock_exactly_once_the_loop_has_run(window, tmp_path,
                                                                    monkeypatch, qtbot):
    images = make_project(tmp_path / "second", n=5)
    write_labelimg_xml(images / "img4.xml", "img4.png", (320, 240),
                       [("bird", 1, 2, 30, 40), ("bird", 5, 6, 50, 60), ("cat", 7, 8, 90, 99)])
    (images / "classes.txt").write_text("zebra\n")  # (read when the project has a class file)
    monkeypatch.setattr(dialogs, "ask_directory", lambda *a, **k: str(images))
    opened: list[object] = []
    window.opener.opened.connect(opened.append)
    QTest.keyClick(window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    assert window.opening is not None  # not shown yet: read on a worker
    qtbot.waitUntil(lambda: opened == [images], timeout=10_000)
    window.scanner.run_to_end()
    qtbot.wait(20)  # what was left for later event-loop turns
    shown = _shown(window)

    # the same folder opened the synchronous way, in a second window: the same docks
    other = shown_window(qtbot, tmp_path / "settings2.ini")
    assert other.open_project(images)
    other.scanner.run_to_end()
    qtbot.wait(20)
    assert _shown(other) == shown

    assert shown["files"] == [("img0.png", "labeled"), ("img1.png", "unlabeled"),
                              ("img2.png", "labeled"), ("img3.png", "unlabeled"),
                              ("img4.png", "labeled")]
    assert shown["classes"] == ["zebra", "bird", "cat", "dog"]  # the class file first
    assert shown["boxes"] == ["cat    90×100"]
    assert shown["image"] == images / "img0.png"
    assert shown["current row"] == 0
    assert shown["position"] == "Image 1 of 5 · img0.png"
    # the watcher watches the opened folder (its snapshot job has run), not the first one
    qtbot.waitUntil(lambda: str(images) in window.outside._dirs, timeout=5000)
    assert not any("first" in Path(d).parts for d in window.outside._dirs)

    # D shows the next image: the boxes dock follows, the list's current row too
    other.close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    QTest.keyClick(window.canvas, Qt.Key.Key_D)
    QTest.keyClick(window.canvas, Qt.Key.Key_D)
    assert window.current_image_path() == images / "img2.png"
    after = _shown(window)
    assert after["boxes"] == ["dog    100×100", "cat    100×150"]
    assert after["current row"] == 2
    assert after["position"] == "Image 3 of 5 · img2.png"
    assert after["files"] == shown["files"] and after["classes"] == shown["classes"]
