"""File → Export dataset… on the real labeling window: saves unsaved edits first, writes the
same VOC tree as ``workbench export``, refuses the project's own folders and non-empty ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.core.project import split_ids
from workbench.core.voc import read_annotation
from workbench.gui import dialogs
from workbench.gui.export_dialog import ExportChoice, ExportDialog, destination_problem

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import drag, make_project, shown_window  # noqa: E402


@pytest.fixture
def images(tmp_path):
    return make_project(tmp_path / "project")


@pytest.fixture
def messages(monkeypatch):
    """Every info / error box the window shows, as ``(kind, text)``; other dialogs fail."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(dialogs, "show_info", lambda p, t, text: shown.append(("info", text)))
    monkeypatch.setattr(dialogs, "show_error", lambda p, t, text: shown.append(("error", text)))

    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected dialog: {args[1:3]}")

    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_reassignment",
                 "ask_directory"):
        monkeypatch.setattr(dialogs, name, unexpected)
    return shown


@pytest.fixture
def window(qtbot, tmp_path, messages):
    return shown_window(qtbot, tmp_path / "settings.ini")


def _answer(monkeypatch, choice: ExportChoice | None) -> list:
    asked = []

    def choose(parent, project, previous=None):  # noqa: ANN001
        asked.append(project)
        return choice

    monkeypatch.setattr(dialogs, "choose_export", choose)
    return asked


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_export_action_enabled_only_with_a_project(window, images):
    action = window.actions.export
    assert action in window.actions.menus["file"].actions()
    assert action.shortcut().toString() == "Ctrl+Shift+E"
    assert not action.isEnabled()
    assert window.open_project(images)
    assert action.isEnabled()


def test_export_voc_saves_unsaved_edits_first(qtbot, window, images, tmp_path, monkeypatch,
                                              messages):
    assert window.open_project(images)
    window.scanner.run_to_end()
    window.canvas.setFocus()
    monkeypatch.setattr(dialogs, "choose_class", lambda *a, **k: "dog")
    QTest.keyClick(window.canvas, Qt.Key.Key_W)
    drag(window.canvas, (150, 60), (250, 180))  # a second box on img0, not saved yet
    assert window.document.dirty
    out = tmp_path / "exported"
    asked = _answer(monkeypatch, ExportChoice("voc", out, val_fraction=0.5, seed=3))

    window.actions.export.trigger()  # the export runs on the window's job runner
    qtbot.waitUntil(lambda: bool(messages), timeout=20_000)

    assert asked == [window.project]
    assert not window.document.dirty  # saved before exporting
    assert len(read_annotation(images / "img0.xml")[0].objects) == 2
    assert _files(out) == ["Annotations/img0.xml", "Annotations/img2.xml",
                           "ImageSets/Main/train.txt", "ImageSets/Main/trainval.txt",
                           "ImageSets/Main/val.txt",
                           "JPEGImages/img0.jpg", "JPEGImages/img2.jpg", "classes.txt"]
    train, val = split_ids(["img0", "img2"], 0.5, 3)
    assert len(train) == len(val) == 1
    main = out / "ImageSets" / "Main"
    assert (main / "train.txt").read_text() == f"{train[0]}\n"
    assert (main / "val.txt").read_text() == f"{val[0]}\n"
    assert (main / "trainval.txt").read_text() == "img0\nimg2\n"
    assert (out / "classes.txt").read_text() == "cat\ndog\n"
    ann0 = read_annotation(out / "Annotations" / "img0.xml")[0]
    assert (ann0.filename, ann0.folder, ann0.path) == ("img0.jpg", "exported", "")
    assert (ann0.size.width, ann0.size.height) == (320, 240)
    assert [(o.name, o.box) for o in ann0.objects] == [("cat", (10.0, 20.0, 100.0, 120.0)),
                                                       ("dog", (150.0, 60.0, 250.0, 180.0))]
    ann2 = read_annotation(out / "Annotations" / "img2.xml")[0]
    assert [(o.name, o.box) for o in ann2.objects] == [("dog", (30.0, 40.0, 130.0, 140.0)),
                                                       ("cat", (150.0, 50.0, 250.0, 200.0))]
    assert (out / "JPEGImages" / "img0.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # PNG → JPEG
    assert messages[0][0] == "info"
    text = messages[0][1]
    assert f"Exported 2 images, 4 objects (2 classes) as PASCAL VOC2007 tree to {out}" in text
    assert "1 train, 1 val" in text and "Read back: identical." in text
    assert str(out) in window.statusBar().currentMessage()


def test_export_refuses_project_folder_and_non_empty_folder(qtbot, window, images, tmp_path,
                                                            monkeypatch, messages):
    assert window.open_project(images)
    before = _files(images)
    inside = images / "export"
    _answer(monkeypatch, ExportChoice("voc", inside))
    window.actions.export.trigger()
    assert not inside.exists() and _files(images) == before
    assert messages[-1][0] == "error"
    assert "inside the project's folder" in messages[-1][1] and str(inside) in messages[-1][1]

    parent = images.parent  # holds the project: refused even with overwrite
    _answer(monkeypatch, ExportChoice("voc", parent, overwrite=True))
    window.actions.export.trigger()
    assert "holds the project's folder" in messages[-1][1]
    assert not (parent / "JPEGImages").exists()

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    _answer(monkeypatch, ExportChoice("coco", busy))
    window.actions.export.trigger()
    assert messages[-1][0] == "error" and "folder is not empty" in messages[-1][1]
    assert _files(busy) == ["notes.txt"]
    assert "Export refused" in window.statusBar().currentMessage()

    _answer(monkeypatch, ExportChoice("coco", busy, overwrite=True))  # core's overwrite rule
    n = len(messages)
    window.actions.export.trigger()
    qtbot.waitUntil(lambda: len(messages) > n, timeout=20_000)
    assert messages[-1][0] == "info"
    assert _files(busy) == ["images/img0.png", "images/img2.png", "instances.json", "notes.txt"]


def test_export_dialog_follows_format_and_validates(qtbot, images, tmp_path):
    from workbench.core.project import Project

    project = Project.open(images)
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    assert dialog.out.text() == str(images.parent / "images-voc")  # beside the project
    assert dialog.export_button.isEnabled()
    dialog.format.setCurrentIndex(dialog.format.findData("yolo"))
    assert dialog.out.text().endswith("images-yolo")  # untouched suggestion follows the format
    assert "data.yaml" in dialog.layout_note.text()
    dialog.out.setText(str(images))
    assert not dialog.export_button.isEnabled()
    assert "inside the project's folder" in dialog.problem.text()
    dialog.out.setText("relative/dir")
    assert not dialog.export_button.isEnabled()
    dialog.out.setText(str(tmp_path / "new"))
    dialog.val.setValue(25)
    dialog.seed.setValue(7)
    assert dialog.export_button.isEnabled()
    assert dialog.choice() == ExportChoice("yolo", tmp_path / "new", 0.25, 7, False)
    assert destination_problem(project, tmp_path / "new") is None
