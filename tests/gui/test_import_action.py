"""File → Import dataset… on the real labeling window: the dialog is typed into and its Import
button clicked with real events; the import runs in the background, reports "read back:
identical" and opens the imported VOC folder when asked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from workbench.core.voc import read_annotation
from workbench.gui import dialogs

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import shown_window  # noqa: E402


def _yolo_dataset(root: Path) -> Path:
    """Ultralytics layout: images/{train,val}, labels/{train,val}, data.yaml (written here)."""
    for split, stems in (("train", ["a", "b photo"]), ("val", ["c"])):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i, stem in enumerate(stems):
            Image.new("RGB", (200, 100), (30 * i, 90, 120)).save(root / "images" / split
                                                                  / f"{stem}.jpg")
            (root / "labels" / split / f"{stem}.txt").write_text(
                f"{i % 2} 0.5 0.5 0.5 0.5\n1 0.1 0.1 0.1 0.2\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [cat, dog]\n")
    return root


@pytest.fixture
def asked(monkeypatch):
    """The yes/no questions asked (answered Open); other dialogs fail the test."""
    questions: list[str] = []

    def yes(parent, title, text, **kwargs):  # noqa: ANN001
        questions.append(text)
        return True

    monkeypatch.setattr(dialogs, "ask_yes_no", yes)

    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected dialog: {args[1:3]}")

    for name in ("show_info", "show_error", "ask_save_discard_cancel", "ask_directory"):
        monkeypatch.setattr(dialogs, name, unexpected)
    return questions


@pytest.fixture
def window(qtbot, tmp_path, asked):
    return shown_window(qtbot, tmp_path / "settings.ini")


def test_import_yolo_from_the_file_menu_and_open_it(window, qtbot, tmp_path, asked) -> None:
    pytest.importorskip("workbench.core.formats.yolo")
    src = _yolo_dataset(tmp_path / "my yolo")
    action = window.actions.import_dataset
    assert action in window.actions.menus["file"].actions() and action.isEnabled()

    action.trigger()
    dialog = window._import_dialog
    qtbot.waitExposed(dialog)
    assert not dialog.import_button.isEnabled()  # no dataset chosen yet
    dialog.activateWindow()
    dialog.src.setFocus()
    qtbot.waitUntil(dialog.src.hasFocus)
    qtbot.keyClicks(dialog.src, str(src))
    assert dialog.detected.text() == ""  # no folder walk per keystroke ("/" is a folder too)
    qtbot.keyClick(dialog.src, Qt.Key.Key_Tab)  # leaving the field detects the format
    assert "YOLO" in dialog.detected.text()
    out = tmp_path / "my yolo-voc"
    assert dialog.out.text() == str(out)  # suggested beside the dataset
    assert dialog.import_button.isEnabled()
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: bool(asked), timeout=30_000)
    text = asked[0]
    assert "Imported 3 images (3 annotated, 6 objects, 2 classes) from YOLO" in text
    assert "Split: train 2, val 1, trainval 3." in text
    assert "Read back: identical." in text and "Open the imported folder now?" in text
    assert not dialog.isVisible()
    # the imported folder is now the window's project (opened on a worker, as File → Open)
    qtbot.waitUntil(lambda: window.project is not None and not window.opener.busy,
                    timeout=30_000)
    assert Path(window.project.root) == out.resolve() and window.project.format == "voc"
    assert len(window.project.entries) == 3
    ann, problems = read_annotation(out / "Annotations" / "b photo.xml")
    assert not problems and [o.name for o in ann.objects] == ["dog", "dog"]
    assert ann.objects[0].box == pytest.approx((50.0, 25.0, 150.0, 75.0), abs=1.0)
    assert (out / "ImageSets" / "Main" / "val.txt").read_text() == "c\n"
    assert (src / "images" / "train" / "a.jpg").exists()  # never moved


def test_import_dialog_refuses_non_empty_and_inside(window, qtbot, tmp_path, asked) -> None:
    src = _yolo_dataset(tmp_path / "ds")
    window.actions.import_dataset.trigger()
    dialog = window._import_dialog
    qtbot.waitExposed(dialog)
    dialog.src.setText(str(src))
    dialog.out.clear()
    qtbot.keyClicks(dialog.out, str(src / "voc"))
    assert not dialog.import_button.isEnabled() and "inside the dataset" in dialog.problem.text()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x.txt").write_text("keep")
    dialog.out.setText(str(busy))
    assert not dialog.import_button.isEnabled() and "not empty" in dialog.problem.text()
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel),
                     Qt.MouseButton.LeftButton)
    assert not dialog.isVisible() and asked == []
    assert [p.name for p in busy.iterdir()] == ["x.txt"]


def test_failed_import_is_shown_in_the_dialog(window, qtbot, tmp_path, asked) -> None:
    empty = tmp_path / "no images"
    empty.mkdir()
    window.actions.import_dataset.trigger()
    dialog = window._import_dialog
    qtbot.waitExposed(dialog)
    dialog.src.setText(str(empty))
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=10_000)
    assert "Nothing was imported" in dialog.problem.text() and "no images" in dialog.problem.text()
    assert dialog.isVisible() and asked == []
    dialog.reject()


def test_yolo_project_tells_once_that_difficult_is_lost(window, qtbot, tmp_path, asked) -> None:
    """Editing a YOLO project in place: F (difficult) then Ctrl+S writes the YOLO label file
    and the status bar says once that YOLO cannot hold the flag."""
    from PySide6.QtTest import QTest

    pytest.importorskip("workbench.core.formats.yolo_write")
    src = _yolo_dataset(tmp_path / "yolo")
    label = src / "labels" / "train" / "a.txt"
    before = label.read_text()
    assert window.open_project(src) and window.project.format == "yolo"
    window.show_row(next(i for i, e in enumerate(window._entries) if e.image_id == "a"))
    window.canvas.setFocus()
    window.editor.select_all()
    QTest.keyClick(window.canvas, Qt.Key.Key_F)  # both boxes difficult
    assert all(o.difficult for o in window.document.annotation.objects)
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not window.document.dirty
    assert "YOLO labels cannot hold the 'difficult' flag" in window.statusBar().currentMessage()
    assert label.read_text() == before  # the boxes did not move: the same lines
    window.statusBar().clearMessage()
    QTest.keyClick(window.canvas, Qt.Key.Key_F)
    QTest.keyClick(window.canvas, Qt.Key.Key_F)
    QTest.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert "cannot hold" not in window.statusBar().currentMessage()  # said once


def test_open_yolo_project_is_saved_and_offered_for_import(window, qtbot, tmp_path, asked):
    from PySide6.QtTest import QTest

    pytest.importorskip("workbench.core.formats.yolo_write")
    src = _yolo_dataset(tmp_path / "yolo")
    assert window.open_project(src)
    window.settings.autosave = False
    window.show_row(next(i for i, e in enumerate(window._entries) if e.image_id == "c"))
    window.canvas.setFocus()
    window.editor.select_all()
    QTest.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert window.document.dirty
    window.actions.import_dataset.trigger()
    dialog = window._import_dialog
    qtbot.waitExposed(dialog)
    assert not window.document.dirty  # saved before the import reads the files
    assert (src / "labels" / "val" / "c.txt").read_text() == ""
    assert dialog.src.text() == str(src.resolve()) and "YOLO" in dialog.detected.text()
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(asked), timeout=30_000)
    assert "(3 annotated, 4 objects, 2 classes)" in asked[0]


def test_cancel_stops_the_running_import_and_keeps_nothing(window, qtbot, tmp_path, asked,
                                                           monkeypatch) -> None:
    import threading

    import workbench.core.importing as importing

    pytest.importorskip("workbench.core.formats.yolo")
    src = _yolo_dataset(tmp_path / "ds")
    placed = threading.Event()
    release = threading.Event()
    real = importing._place_image

    def slow(*args, **kwargs):  # noqa: ANN002,ANN003
        real(*args, **kwargs)
        placed.set()
        release.wait(10)  # holds the worker until the test has clicked Cancel

    monkeypatch.setattr(importing, "_place_image", slow)
    window.actions.import_dataset.trigger()
    dialog = window._import_dialog
    qtbot.waitExposed(dialog)
    dialog.src.setText(str(src))
    out = Path(dialog.out.text())
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert placed.wait(10) and dialog.progress.isVisible()
    assert not dialog.import_button.isEnabled() and not dialog.src.isEnabled()
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Cancel),
                     Qt.MouseButton.LeftButton)
    release.set()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=10_000)
    assert "cancelled" in dialog.problem.text() and dialog.isVisible()
    assert not out.exists() and asked == []
    assert (src / "images" / "train" / "a.jpg").exists()
    dialog.reject()
    assert not dialog.isVisible()
