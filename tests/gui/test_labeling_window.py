"""The labeling window on a real (temporary) project, driven by real mouse and key events."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from workbench.gui import dialogs
from workbench.gui.app import wait_until_open
from workbench.gui.main_window import MainWindow
from workbench.gui.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import click, drag, make_project, shown_window, to_view  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _no_dialogs(monkeypatch):
    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected dialog: {args[1:3]}")

    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_class",
                 "choose_reassignment", "ask_directory"):
        monkeypatch.setattr(dialogs, name, unexpected)


@pytest.fixture
def images(tmp_path):
    return make_project(tmp_path)


@pytest.fixture
def window(qtbot, images, tmp_path, monkeypatch):
    _no_dialogs(monkeypatch)
    w = shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(images)
    w.scanner.run_to_end()
    w.canvas.setFocus()
    return w


def key(w, k, mod=Qt.KeyboardModifier.NoModifier):  # noqa: ANN001
    QTest.keyClick(w.canvas, k, mod)


def xml_of(images: Path, i: int) -> Path:
    return images / f"img{i}.xml"


def read(path: Path):  # noqa: ANN201
    from workbench.core.voc import read_annotation

    return read_annotation(path)[0]


def test_opens_first_image_with_its_boxes(window, images):
    assert window.current_image_path() == images / "img0.png"
    ann = window.current_annotation()
    assert [(o.name, o.box) for o in ann.objects] == [("cat", (10.0, 20.0, 100.0, 120.0))]
    assert len(window.canvas.annotation_item().boxes) == 1
    assert window.canvas.scene().sceneRect().getRect() == (0, 0, 320, 240)
    assert window.files.model.states() == ["labeled", "unlabeled", "labeled", "unlabeled"]
    assert window.classes.names() == ["cat", "dog"]
    rgb = window.current_image_rgb()
    assert rgb.shape == (240, 320, 3) and rgb.dtype.name == "uint8"
    assert tuple(rgb[5, 5]) == (40, 90, 120)
    assert window.current_image_rgb() is rgb  # cached per image


def test_draw_box_with_mouse_writes_expected_xml(window, images, qtbot):
    window.classes.set_default_class("dog")
    key(window, Qt.Key.Key_D)  # next image: img1, no XML yet
    assert window.current_image_path() == images / "img1.png"
    key(window, Qt.Key.Key_W)
    assert window.canvas.mode == "draw"
    window.canvas.actual_size()
    window.canvas.centerOn(160, 120)
    drag(window.canvas, (40, 30), (140, 110))
    assert window.canvas.mode == "select"  # LabelImg: back to select after one box
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    text = xml_of(images, 1).read_text()
    assert "<name>dog</name>" in text
    assert "<xmin>41</xmin>" in text and "<ymin>31</ymin>" in text
    assert "<xmax>140</xmax>" in text and "<ymax>110</ymax>" in text
    assert "<filename>img1.png</filename>" in text and "<width>320</width>" in text
    assert window.files.model.state(1) == "labeled"


def test_draw_asks_for_class_without_default(window, images, monkeypatch):
    asked = []
    monkeypatch.setattr(dialogs, "choose_class",
                        lambda parent, classes, current, title, **_k: asked.append((list(classes),
                                                                              current)) or "bird")
    key(window, Qt.Key.Key_W)
    window.canvas.actual_size()
    drag(window.canvas, (150, 60), (200, 100))
    assert asked == [(["cat", "dog"], None)]
    assert window.current_annotation().objects[-1].name == "bird"
    key(window, Qt.Key.Key_W)
    drag(window.canvas, (210, 60), (260, 100))
    assert asked[-1] == (["cat", "dog", "bird"], "bird")  # the dialog starts at the last class
    assert "bird" in window.classes.names()
    assert "bird" in (images / "predefined_classes.txt").read_text().split()


def test_move_resize_delete_undo_redo(window, qtbot):
    c = window.canvas
    c.actual_size()
    c.centerOn(160, 120)
    click(c, 50, 70)
    assert window.document.selection == 0
    drag(c, (50, 70), (70, 80))
    assert window.current_annotation().objects[0].box == pytest.approx((30, 30, 120, 130), abs=1)
    drag(c, (120, 80), (150, 80))  # right edge
    assert window.current_annotation().objects[0].box == pytest.approx((30, 30, 150, 130), abs=1)
    key(window, Qt.Key.Key_Delete)
    assert window.current_annotation().objects == ()
    undo = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    redo = (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    key(window, *undo)
    assert window.current_annotation().objects[0].box == pytest.approx((30, 30, 150, 130), abs=1)
    key(window, *undo)
    key(window, *undo)
    assert window.current_annotation().objects[0].box == (10, 20, 100, 120)
    assert not window.document.dirty  # back at the saved state
    key(window, *redo)
    key(window, *redo)
    key(window, *redo)
    assert window.current_annotation().objects == ()


def test_undo_history_is_kept_per_image(window, images):
    key(window, Qt.Key.Key_Space)  # verified (autosave will write img0 on leaving)
    assert window.current_annotation().verified
    key(window, Qt.Key.Key_D)
    key(window, Qt.Key.Key_D)  # img2
    window.canvas.select(1)
    key(window, Qt.Key.Key_Delete)
    assert len(window.current_annotation().objects) == 1
    key(window, Qt.Key.Key_A)
    key(window, Qt.Key.Key_A)  # back to img0: its own history
    assert window.current_annotation().verified
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not window.current_annotation().verified
    assert len(window.documents.get(images / "img2.png").annotation.objects) == 1


def test_nudge_duplicate_difficult_relabel_keys(window, monkeypatch):
    window.canvas.select(0)
    key(window, Qt.Key.Key_Right)
    key(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert window.current_annotation().objects[0].box == (11, 30, 101, 130)
    key(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one nudge run, one undo
    assert window.current_annotation().objects[0].box == (10, 20, 100, 120)
    key(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    objs = window.current_annotation().objects
    assert len(objs) == 2 and objs[1].box == (20, 30, 110, 130) and window.document.selection == 1
    key(window, Qt.Key.Key_F)
    assert window.current_annotation().objects[1].difficult
    key(window, Qt.Key.Key_2)  # class number 2 = dog
    assert window.current_annotation().objects[1].name == "dog"
    monkeypatch.setattr(dialogs, "choose_class", lambda *a, **k: "fox")
    key(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert window.current_annotation().objects[1].name == "fox"
    window.canvas.select(-1)
    key(window, Qt.Key.Key_1)  # no selection: default class
    assert window.classes.default_class() == "cat"


def test_copy_previous_next_unlabeled_and_zoom_keys(window, images):
    key(window, Qt.Key.Key_D)
    key(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert [o.name for o in window.current_annotation().objects] == ["cat"]
    key(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)  # no duplicates
    assert len(window.current_annotation().objects) == 1
    key(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.current_image_path() == images / "img3.png"
    c = window.canvas
    key(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert c.zoom() == pytest.approx(1.0)
    key(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert c.zoom() == pytest.approx(0.8)
    key(window, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert c.zoom() == pytest.approx(1.0)
    key(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert c.fit_mode and c.zoom() > 1.5


def test_open_folder_and_annotation_folder_keys(window, tmp_path, monkeypatch):
    other = make_project(tmp_path / "other", n=2)
    monkeypatch.setattr(dialogs, "ask_directory", lambda *a, **k: str(other))
    key(window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    wait_until_open(window)  # scanned on a worker thread (gui/opening.py)
    assert window.current_image_path() == other / "img0.png"
    xml_dir = tmp_path / "xml"
    xml_dir.mkdir()
    monkeypatch.setattr(dialogs, "ask_directory", lambda *a, **k: str(xml_dir))
    key(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    wait_until_open(window)
    assert window.current_annotation().objects == ()  # nothing in the new folder yet
    key(window, Qt.Key.Key_Space)
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert (xml_dir / "img0.xml").exists()
    assert 'verified="yes"' in (xml_dir / "img0.xml").read_text()


def test_autosave_writes_only_changed_files(window, images, qtbot):
    before = {p.name: p.stat().st_mtime_ns for p in images.glob("*.xml")}
    for _ in range(3):
        key(window, Qt.Key.Key_D)
    for _ in range(3):
        key(window, Qt.Key.Key_A)
    window.saver.autosave_current()
    assert {p.name: p.stat().st_mtime_ns for p in images.glob("*.xml")} == before
    window.canvas.select(0)
    key(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: not window.document.dirty, timeout=5000)  # the autosave timer
    after = {p.name: p.stat().st_mtime_ns for p in images.glob("*.xml")}
    assert after["img2.xml"] == before["img2.xml"]
    assert after["img0.xml"] != before["img0.xml"]
    assert "<xmin>12</xmin>" in xml_of(images, 0).read_text()
    assert sorted(p.name for p in images.glob("*.xml")) == ["img0.xml", "img2.xml"]
    assert not (images / "predefined_classes.txt").exists()  # browsing writes no class file


def test_autosave_off_asks_when_leaving(window, images, monkeypatch):
    window.actions.autosave.setChecked(False)
    window.canvas.select(0)
    key(window, Qt.Key.Key_Delete)
    answers = iter(["cancel", "discard"])
    monkeypatch.setattr(dialogs, "ask_save_discard_cancel", lambda *a: next(answers))
    key(window, Qt.Key.Key_D)
    assert window.current_image_path() == images / "img0.png"  # cancelled: stays
    key(window, Qt.Key.Key_D)
    assert window.current_image_path() == images / "img1.png"
    assert "<name>cat</name>" in xml_of(images, 0).read_text()  # discarded: file untouched
    key(window, Qt.Key.Key_A)
    assert len(window.current_annotation().objects) == 1


def test_file_with_read_errors_is_not_overwritten_without_confirmation(window, images, monkeypatch):
    bad = xml_of(images, 3)
    bad.write_text("<annotation><filename>img3.png</filename><object><name>cat</name>"
                   "<bndbox><xmin>50</xmin><ymin>50</ymin><xmax>10</xmax><ymax>10</ymax>"
                   "</bndbox></object>")  # not well-formed
    original = bad.read_bytes()
    window.open_project(images)
    window.show_row(3)
    assert window.document.read_failed
    assert window.problems.count() >= 1
    window.classes.set_default_class("cat")
    key(window, Qt.Key.Key_W)
    window.canvas.actual_size()
    drag(window.canvas, (20, 20), (80, 80))
    window.saver.autosave_current()
    assert bad.read_bytes() == original  # autosave does not touch it
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a, **k: False)
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert bad.read_bytes() == original
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a, **k: True)
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert "<xmin>21</xmin>" in bad.read_text()


def test_rename_class_rewrites_every_file(qtbot, window, images, monkeypatch):
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: "kitten")
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a, **k: True)
    window.classes.select_name("cat")
    window.classes.rename_button.click()  # the files are rewritten on the window's job runner
    qtbot.waitUntil(lambda: "kitten" in window.classes.names(), timeout=10_000)
    assert "<name>kitten</name>" in xml_of(images, 0).read_text()
    text2 = xml_of(images, 2).read_text()
    assert "<name>kitten</name>" in text2 and "<name>dog</name>" in text2
    assert "<name>cat</name>" not in text2
    assert window.classes.names() == ["kitten", "dog"]
    assert window.current_annotation().objects[0].name == "kitten"


def test_delete_class_needs_reassignment(qtbot, window, images, monkeypatch):
    monkeypatch.setattr(dialogs, "choose_reassignment", lambda *a, **k: None)
    window.classes.select_name("dog")
    window.classes.delete_button.click()
    assert "dog" in window.classes.names()  # refused: boxes use it
    monkeypatch.setattr(dialogs, "choose_reassignment", lambda *a, **k: "cat")
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a, **k: True)
    window.classes.delete_button.click()
    qtbot.waitUntil(lambda: window.classes.names() == ["cat"], timeout=10_000)
    assert "<name>dog</name>" not in xml_of(images, 2).read_text()


def test_reopening_shows_the_same_boxes(window, images, tmp_path, qtbot):
    window.canvas.select(0)
    key(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    saved = window.current_annotation().objects
    window.close()
    again = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(again)
    again.open_project(images)
    assert again.current_image_path() == images / "img0.png"
    assert [(o.name, o.box) for o in again.current_annotation().objects] == \
        [(o.name, o.box) for o in saved]


def test_no_key_is_bound_twice_and_sheet_lists_keys(window, monkeypatch):
    from workbench.gui.actions import shortcut_conflicts, shortcut_rows

    assert shortcut_conflicts(window.actions) == {}
    keys = {row[0] for row in shortcut_rows(window.actions)}
    for k in ("W", "A", "D", "Ctrl+S", "Space", "Del", "Ctrl+D", "Ctrl+E", "Ctrl+U", "Ctrl+Z",
              "Ctrl+V", "Ctrl+N", "Ctrl+F", "Ctrl+=", "F", "1 … 9", "Ctrl+R", "Ctrl+Shift+Z"):
        assert any(k == part.strip() for row in keys for part in row.split(",")), k
    for n in range(1, 10):
        assert window.actions.by_name[f"class_{n}"].shortcut().toString() == str(n)


def test_add_objects_is_one_undoable_command_and_suggestions_state(window, images):
    from workbench.core.annotation import VocObject

    seen = []
    window.annotation_changed.connect(lambda: seen.append(1))
    window.add_objects([VocObject("cat", (1, 1, 20, 20), score=0.9, model_made=True),
                        VocObject("dog", (30, 30, 60, 60), score=0.7, model_made=True)])
    assert len(window.current_annotation().objects) == 3 and seen
    assert window.files.model.state(0) == "suggestions"
    window.canvas.select(1)
    key(window, Qt.Key.Key_Return)  # accept one suggestion
    assert [o.model_made for o in window.current_annotation().objects] == [False, False, True]
    key(window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.files.model.state(0) == "labeled"
    for _ in range(3):
        window.documents.undo_group.undo()
    assert len(window.current_annotation().objects) == 1


def test_scene_clicked_and_image_changed_signals(window, images, qtbot):
    window.canvas.actual_size()
    with qtbot.waitSignal(window.canvas.scene_clicked) as sig:
        click(window.canvas, 250, 200)
    assert sig.args == pytest.approx([250, 200], abs=1)
    with qtbot.waitSignal(window.image_changed) as changed:
        key(window, Qt.Key.Key_D)
    assert changed.args == [str(images / "img1.png")]


def test_registry_panels_are_lazy_and_failures_do_not_crash(qtbot, tmp_path, monkeypatch):
    _no_dialogs(monkeypatch)
    panels = [("workbench.gui.panels.problems", "ProblemsPanel", "Lazy"),
              ("workbench.no_such_module", "Nope", "Broken")]
    w = MainWindow(Settings(tmp_path / "s.ini"), panels=panels)
    qtbot.addWidget(w)
    w.show()
    assert w.panel_host.panels == {}  # nothing built before shown
    dock = w.panel_host.docks["workbench.no_such_module.Nope"]
    dock.show()
    dock.raise_()  # a tab beside Boxes: built when it comes to the front
    qtbot.waitUntil(lambda: "workbench.no_such_module.Nope" in w.panel_host.errors, timeout=2000)
    assert "Broken" in w.statusBar().currentMessage()
    assert w.panel("Lazy") is not None


def test_empty_state_without_project(qtbot, tmp_path, monkeypatch):
    _no_dialogs(monkeypatch)
    w = MainWindow(Settings(tmp_path / "s.ini"), panels=[])
    qtbot.addWidget(w)
    assert w.stack.currentWidget() is w.welcome
    assert w.current_image_path() is None and w.current_annotation() is None
    assert w.current_image_rgb() is None


def test_window_builds_without_importing_torch(tmp_path, images):
    code = ("import sys, os\n"
            "from workbench.gui.app import build_window\n"
            "from workbench.gui.settings import Settings\n"
            f"w = build_window({str(images)!r}, None, Settings({str(tmp_path / 's.ini')!r}))\n"
            "w.show()\n"
            "assert w.current_annotation() is not None\n"
            "print('torch' in sys.modules, 'torchvision' in sys.modules)\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_screenshot_cli(raccoon_dir, tmp_path):
    png = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKBENCH_SETTINGS=str(tmp_path / "s.ini"))
    out = subprocess.run([sys.executable, "-m", "workbench", "gui", str(raccoon_dir / "images"),
                          "--annotations", str(raccoon_dir / "annotations"), "--screenshot",
                          str(png)], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert image.width() >= 1280 and image.height() >= 800


def test_layout_and_recent_folders_persist(window, images, tmp_path, qtbot):
    window.files_dock.hide()
    window.close()
    again = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(again)
    again.show()
    assert not again.files_dock.isVisible()
    assert again.boxes_dock.isVisible()
    recent = [a.text() for a in again.actions.menus["recent"].actions()]
    assert recent == [str(images.resolve())]
    from workbench.gui.app import initial_project

    assert initial_project(None, None, again.settings) == (images.resolve(), None)
    assert initial_project(tmp_path, None, again.settings) == (tmp_path, None)


def test_dropping_a_folder_opens_it(window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    other = make_project(tmp_path / "dropped", n=2)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    wait_until_open(window)  # scanned on a worker thread (gui/opening.py)
    assert window.current_image_path() == other / "img0.png"
    assert window.files.model.rowCount() == 2


def test_file_dock_filter_and_counts(window):
    files = window.files
    files.refresh_counts()
    assert "4</b> images" in files.counter.text()
    files.state_combo.setCurrentIndex(files.state_combo.findData("unlabeled"))
    assert files.proxy.rowCount() == 2
    files.filter_edit.setText("img3")
    assert files.proxy.rowCount() == 1
    QTest.mouseClick(files.list.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier,
                     files.list.visualRect(files.proxy.index(0, 0)).center())
    assert window.current_image_path().name == "img3.png"


def test_boxes_dock_selects_and_toggles_difficult(window, images):
    window.show_row(2)
    boxes = window.boxes
    rect = boxes.list.visualItemRect(boxes.list.item(1))
    QTest.mouseClick(boxes.list.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, rect.center())
    assert window.canvas.selected() == 1 and window.document.selection == 1
    boxes.list.item(1).setCheckState(Qt.CheckState.Checked)  # the row's check box
    assert window.current_annotation().objects[1].difficult
    assert not window.current_annotation().objects[0].difficult
    window.canvas.select(0)
    assert boxes.list.currentRow() == 0
    # Ctrl+click on a row selects several boxes, on the canvas too, and the other way round
    rect = boxes.list.visualItemRect(boxes.list.item(1))
    QTest.mouseClick(boxes.list.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.ControlModifier, rect.center())
    assert window.canvas.selection() == (0, 1) and boxes.selected_rows() == (0, 1)
    window.canvas.select(1)
    assert boxes.selected_rows() == (1,)
    window.canvas.set_selection([0, 1], 0)
    assert boxes.selected_rows() == (0, 1) and boxes.list.currentRow() == 0


def test_quitting_with_autosave_off_asks(window, images, monkeypatch):
    window.actions.autosave.setChecked(False)
    assert not window.settings.autosave
    window.canvas.select(0)
    key(window, Qt.Key.Key_Delete)
    original = xml_of(images, 0).read_text()
    monkeypatch.setattr(dialogs, "ask_save_discard_cancel", lambda *a: "cancel")
    assert not window.close()
    assert window.isVisible() and xml_of(images, 0).read_text() == original
    monkeypatch.setattr(dialogs, "ask_save_discard_cancel", lambda *a: "save")
    assert window.close()
    assert "<object>" not in xml_of(images, 0).read_text()


def test_panels_can_veto_close_and_are_shut_down(qtbot, tmp_path, monkeypatch):
    import types

    from PySide6.QtWidgets import QLabel

    calls = []

    class FakePanel(QLabel):
        allow = False

        def __init__(self, window):
            super().__init__("fake")
            self.window_ = window

        def confirm_close(self):
            calls.append("ask")
            return FakePanel.allow

        def shutdown(self):
            calls.append("shutdown")

    module = types.ModuleType("h2_fake_panel")
    module.FakePanel = FakePanel
    monkeypatch.setitem(sys.modules, "h2_fake_panel", module)
    _no_dialogs(monkeypatch)
    w = MainWindow(Settings(tmp_path / "s.ini"), panels=[("h2_fake_panel", "FakePanel", "Fake")])
    qtbot.addWidget(w)
    w.show()
    assert w.panel("Fake").window_ is w
    assert not w.close() and calls == ["ask"]
    FakePanel.allow = True
    assert w.close() and calls == ["ask", "ask", "shutdown"]


def test_double_click_changes_class_and_f1_shows_shortcuts(window, monkeypatch):
    monkeypatch.setattr(dialogs, "choose_class", lambda parent, classes, current, title: "lynx")
    c = window.canvas
    c.actual_size()
    c.centerOn(160, 120)
    from labeling_helpers import to_view

    QTest.mouseDClick(c.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      to_view(c, 50, 70))
    assert window.current_annotation().objects[0].name == "lynx"
    shown = []
    monkeypatch.setattr(dialogs.ShortcutSheet, "exec", lambda self: shown.append(
        self.table.rowCount()))
    key(window, Qt.Key.Key_F1)
    assert shown and shown[0] > 20


def test_gui_cli_rejects_a_file_and_creates_the_annotation_folder(tmp_path, images):
    from workbench.cli import main

    assert main(["gui", str(images / "img0.png")]) == 2
    assert main([str(images / "img0.png")]) == 2  # LabelImg's form: workbench DIR
    env_png = tmp_path / "s.png"
    xml_dir = tmp_path / "new_xml"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKBENCH_SETTINGS=str(tmp_path / "s.ini"))
    out = subprocess.run([sys.executable, "-m", "workbench", str(images), "--annotations",
                          str(xml_dir), "--screenshot", str(env_png)], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert xml_dir.is_dir() and list(xml_dir.iterdir()) == []  # nothing written by looking
    assert env_png.stat().st_size > 10_000


def test_arrow_keys_in_file_list_open_images(window, images):
    window.files.list.setFocus()
    QTest.keyClick(window.files.list, Qt.Key.Key_Down)
    assert window.current_image_path() == images / "img1.png"
    QTest.keyClick(window.files.list, Qt.Key.Key_Down)
    assert window.current_image_path() == images / "img2.png"
    window.files.filter_edit.setText("img0")  # filtering alone never navigates
    assert window.current_image_path() == images / "img2.png"


def test_reopening_a_split_layout_returns_to_the_last_image(qtbot, tmp_path, monkeypatch):
    _no_dialogs(monkeypatch)
    images = make_project(tmp_path / "root")
    (tmp_path / "root" / "annotations").mkdir()
    for xml in images.glob("*.xml"):
        xml.rename(tmp_path / "root" / "annotations" / xml.name)
    settings = tmp_path / "s.ini"
    w = MainWindow(Settings(settings), panels=[])
    qtbot.addWidget(w)
    assert w.open_project(tmp_path / "root")  # auto-detected images/ + annotations/
    assert len(w.current_annotation().objects) == 1
    w.show_row(2)
    w.classes.set_default_class("dog")
    w.close()
    again = MainWindow(Settings(settings), panels=[])
    qtbot.addWidget(again)
    again.open_project(tmp_path / "root")
    assert again.current_image_path() == images / "img2.png"
    assert again.classes.default_class() == "dog"


def test_discard_returns_to_the_saved_file_not_the_session_start(window, images, monkeypatch):
    window.actions.autosave.setChecked(False)
    window.canvas.select(0)
    key(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)  # 2 boxes
    key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # saved with 2
    window.canvas.select(0)
    key(window, Qt.Key.Key_Delete)  # 1 box, unsaved
    monkeypatch.setattr(dialogs, "ask_save_discard_cancel", lambda *a: "discard")
    key(window, Qt.Key.Key_D)
    key(window, Qt.Key.Key_A)
    assert len(window.current_annotation().objects) == 2
    assert xml_of(images, 0).read_text().count("<object>") == 2
    assert not window.document.dirty


def test_ctrl_h_hides_and_shows_boxes(window):
    item = window.canvas.annotation_item()
    key(window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert not item.isVisible()
    key(window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert item.isVisible()


def test_class_dialog_keys(qtbot):
    dialog = dialogs.ClassDialog(["raccoon", "dog", "cat"], "dog", "Class")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.value() == "dog" and dialog.list.currentRow() == 1
    QTest.keyClick(dialog.edit, Qt.Key.Key_Down)
    assert dialog.value() == "cat"
    dialog.edit.setText("r")  # filter: raccoon only
    QTest.keyClick(dialog.edit, Qt.Key.Key_Up)
    assert dialog.value() == "raccoon"
    dialog.edit.setText("fox")
    QTest.keyClick(dialog.edit, Qt.Key.Key_Return)
    assert dialog.result() == dialogs.QDialog.DialogCode.Accepted and dialog.value() == "fox"


def test_project_problems_are_listed(window, images):
    from labeling_helpers import write_labelimg_xml

    write_labelimg_xml(images / "ghost.xml", "ghost.png", (320, 240), [("cat", 1, 1, 5, 5)])
    window.open_project(images)
    texts = [window.problems.list.item(i).text() for i in range(window.problems.list.count())]
    assert texts[0].startswith("Project (1)")
    assert "ghost.xml" in texts[1]


def test_long_recent_folder_does_not_widen_the_window(qtbot, tmp_path):
    """The welcome page shares the centre with the canvas: a long recent path is shortened
    (it made the canvas at least 655 px wide, squeezing the docks)."""
    from workbench.gui.welcome import MAX_PATH_CHARS

    deep = tmp_path.joinpath(*[f"a-rather-long-folder-name-{i}" for i in range(6)])
    deep.mkdir(parents=True)
    w = MainWindow(Settings(tmp_path / "s.ini"), panels=[])
    qtbot.addWidget(w)
    w.welcome.set_recent([(deep, None)])
    buttons = [b for b in w.welcome.findChildren(QPushButton) if b is not w.welcome.open_button]
    assert len(buttons) == 1 and len(buttons[0].text()) == MAX_PATH_CHARS
    assert buttons[0].text().endswith("a-rather-long-folder-name-5")
    assert str(deep) in buttons[0].toolTip()
    assert w.stack.minimumSizeHint().width() < 500


def test_panels_menu_shows_raises_and_builds_tabified_panels(qtbot, tmp_path, monkeypatch):
    _no_dialogs(monkeypatch)
    panels = [("workbench.gui.panels.problems", "ProblemsPanel", "One & two"),
              ("workbench.gui.panels.boxes", "BoxesPanel", "Three")]
    w = MainWindow(Settings(tmp_path / "s.ini"), panels=panels)
    qtbot.addWidget(w)
    w.show()
    actions = {a.text(): a for a in w.actions.panels_menu.actions() if not a.isSeparator()}
    assert set(actions) == {"One && two", "Three", "Layers"}  # Layers: the canvas's overlays
    actions["Three"].trigger()
    actions["One && two"].trigger()  # tabified with "Three": must come to the front
    one, three = "workbench.gui.panels.problems.ProblemsPanel", "workbench.gui.panels.boxes.BoxesPanel"
    qtbot.waitUntil(lambda: one in w.panel_host.panels, timeout=2000)
    assert w.panel_host.docks[one].isVisible()
    # "Three" went behind before its turn came: built when it comes to the front
    assert three not in w.panel_host.panels
    assert w.panel_host.show_panel("Three") is w.panel("BoxesPanel")
    assert set(w.panel_host.panels) == {one, three}
    # one tab group with the Boxes dock (stacked below it, a tall panel made the window grow)
    tabs = w.tabifiedDockWidgets(w.boxes_dock)
    assert all(d in tabs for d in w.panel_host.docks.values())


def test_raccoon_browse_all_rewrites_nothing_and_edit_round_trips(raccoon_dir, tmp_path, qtbot,
                                                                  monkeypatch):
    import shutil

    _no_dialogs(monkeypatch)
    xml_dir = tmp_path / "annotations"
    shutil.copytree(raccoon_dir / "annotations", xml_dir)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in xml_dir.glob("*.xml")}
    w = MainWindow(Settings(tmp_path / "s.ini"), panels=[])
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    w.open_project(raccoon_dir / "images", xml_dir)
    w.scanner.run_to_end()
    w.canvas.setFocus()
    assert w.files.model.counts()["verified"] + w.files.model.counts()["labeled"] == 200
    for _ in range(199):
        key(w, Qt.Key.Key_D)
    assert w.current_image_path().name == w.entries()[-1].image_path.name
    w.saver.autosave_current()
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in xml_dir.glob("*.xml")}
    assert after == before  # 200 images seen, not one file touched
    w.show_row(0)
    name = w.current_image_path().stem
    w.canvas.select(0)
    key(w, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    key(w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    edited = (xml_dir / f"{name}.xml").read_text()
    original = before[f"{name}.xml"][1].decode()
    assert edited != original
    # only the x coordinates changed; everything else (path, verified, source...) kept
    import re

    strip = lambda t: re.sub(r"<x(min|max)>\d+</x(min|max)>", "", t)  # noqa: E731
    assert strip(edited) == strip(original)


def test_state_scanner_steps_stay_within_their_time_budget(qtbot) -> None:
    import time as _time

    from workbench.gui.panels.files import FileListModel, StateScanner

    model = FileListModel()
    model.set_entries([f"img{i}.jpg" for i in range(50)])

    def slow_state(row: int) -> str:
        _time.sleep(0.005)  # a slow disk, or a training thread holding the GIL
        return "labeled"

    scanner = StateScanner(model, slow_state, chunk=40)
    scanner._step()  # one event-loop step: ~8 ms of work, not 40 rows x 5 ms
    done = sum(model.state(r) is not None for r in range(50))
    assert 1 <= done <= 3
    scanner.start()
    qtbot.waitUntil(lambda: not scanner.running, timeout=5000)
    assert [model.state(r) for r in range(50)] == ["labeled"] * 50


def test_ctrl_click_selects_several_boxes_and_edits_act_on_all(window, monkeypatch):
    ctrl = Qt.KeyboardModifier.ControlModifier
    c = window.canvas
    key(window, Qt.Key.Key_D)
    key(window, Qt.Key.Key_D)  # img2: dog (30, 40, 130, 140), cat (150, 50, 250, 200)
    c.actual_size()
    c.centerOn(160, 120)
    click(c, 80, 90)
    click(c, 200, 120, ctrl)
    assert c.selection() == (0, 1) and window.document.selection == 1  # the last one added
    key(window, Qt.Key.Key_1)  # class 1 = cat, for both
    assert [o.name for o in window.current_annotation().objects] == ["cat", "cat"]
    assert c.selection() == (0, 1)  # an edit keeps the group selected
    key(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert [o.box for o in window.current_annotation().objects] == [
        (40, 40, 140, 140), (160, 50, 260, 200)]
    key(window, Qt.Key.Key_F)
    assert [o.difficult for o in window.current_annotation().objects] == [True, True]
    key(window, Qt.Key.Key_Z, ctrl)  # one step undoes it for both
    assert [o.difficult for o in window.current_annotation().objects] == [False, False]
    # dragging one box of the group moves both, as one undoable edit
    c.set_selection([0, 1])
    drag(c, (90, 90), (100, 110))
    boxes = [o.box for o in window.current_annotation().objects]
    assert boxes[0] == pytest.approx((50, 60, 150, 160), abs=1)
    dx, dy = boxes[0][0] - 40, boxes[0][1] - 40
    assert boxes[1] == pytest.approx((160 + dx, 50 + dy, 260 + dx, 200 + dy))
    # a group stops as one at the image border (320 x 240): its shape is kept
    key(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    key(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    key(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    key(window, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    b = [o.box for o in window.current_annotation().objects]
    assert b[1][3] == 240 and b[0][1] - b[1][1] == pytest.approx(boxes[0][1] - boxes[1][1])
    # Ctrl+click on a selected box takes it out; Ctrl+A selects all; Del deletes all at once
    click(c, *(((b[0][0] + b[0][2]) / 2, (b[0][1] + b[0][3]) / 2)), ctrl)
    assert c.selection() == (1,)
    key(window, Qt.Key.Key_A, ctrl)
    assert c.selection() == (0, 1)
    key(window, Qt.Key.Key_D, ctrl)  # duplicates both; the copies are selected
    assert len(window.current_annotation().objects) == 4 and c.selection() == (2, 3)
    key(window, Qt.Key.Key_Delete)
    assert len(window.current_annotation().objects) == 2
    key(window, Qt.Key.Key_A, ctrl)
    key(window, Qt.Key.Key_Delete)
    assert window.current_annotation().objects == () and c.selection() == ()
    key(window, Qt.Key.Key_Z, ctrl)
    assert len(window.current_annotation().objects) == 2
    # a plain click selects one box alone again; Esc deselects all
    c.set_selection([0, 1])
    b = window.current_annotation().objects[0].box
    click(c, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    assert c.selection() == (0,) and window.document.selection == 0
    c.set_selection([0, 1])
    key(window, Qt.Key.Key_Escape)
    assert c.selection() == ()


def test_undo_and_redo_select_the_group_they_act_on(window):
    ctrl = Qt.KeyboardModifier.ControlModifier
    c = window.canvas
    window.show_row(2)
    c.set_selection([0, 1], 0)
    key(window, Qt.Key.Key_Delete)
    assert window.current_annotation().objects == () and c.selection() == ()
    key(window, Qt.Key.Key_Z, ctrl)
    assert len(window.current_annotation().objects) == 2
    assert c.selection() == (0, 1) and c.selected() == 0  # the group comes back selected
    c.select(1)
    key(window, Qt.Key.Key_Z, ctrl | Qt.KeyboardModifier.ShiftModifier)  # redo
    assert window.current_annotation().objects == ()
    key(window, Qt.Key.Key_Z, ctrl)
    key(window, Qt.Key.Key_A, ctrl)
    key(window, Qt.Key.Key_D, ctrl)  # the two copies are selected, also after undo + redo
    assert c.selection() == (2, 3)
    key(window, Qt.Key.Key_Z, ctrl)
    assert c.selection() == (0, 1)
    key(window, Qt.Key.Key_Y, ctrl)
    assert c.selection() == (2, 3) and len(window.current_annotation().objects) == 4


def test_ctrl_a_in_a_text_field_selects_its_text_not_the_boxes(window):
    window.show_row(2)
    edit = window.files.filter_edit
    edit.setFocus()
    QTest.keyClicks(edit, "img")
    QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert edit.selectedText() == "img" and window.canvas.selection() == ()
    window.canvas.setFocus()
    key(window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas.selection() == (0, 1)


def test_a_band_dragged_from_empty_space_selects_the_boxes_inside(window, qtbot):
    c = window.canvas
    key(window, Qt.Key.Key_D)
    key(window, Qt.Key.Key_D)  # img2: dog (30, 40, 130, 140), cat (150, 50, 250, 200)
    c.actual_size()
    c.centerOn(160, 120)
    drag(c, (20, 30), (140, 210))  # the dog wholly, the cat not
    assert c.selection() == (0,) and c.guide_item().band is None
    drag(c, (20, 30), (300, 230))
    assert c.selection() == (0, 1) and window.document.selection == 1
    assert window.current_annotation().objects[0].box == (30, 40, 130, 140)  # nothing moved
    c.select(0)
    vp, ctrl = c.viewport(), Qt.KeyboardModifier.ControlModifier
    a, b = to_view(c, 140, 45), to_view(c, 300, 230)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, ctrl, a)  # Ctrl: the band adds
    QTest.mouseMove(vp, b)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, ctrl, b)
    assert c.selection() == (0, 1)
    with qtbot.waitSignal(c.scene_clicked) as sig:  # a click on empty space is still a click
        click(c, 290, 20)
    assert sig.args == pytest.approx([290, 20], abs=1) and c.selection() == ()
