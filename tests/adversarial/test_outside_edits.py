"""Outside edits (issue 12): an annotation file changed by another program while the window has
it open is never overwritten without a question, and never shown stale.

Before: with an image open, an outside rewrite of its XML was replaced by the next save (Ctrl+S
or autosave) without a word, and moving away and back still showed the cached old content.

Driven through the real window with real mouse and key events; the conflict question is answered
by clicking its buttons from a timer while it is open (it is modal).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from workbench.core.voc import read_annotation
from workbench.gui import dialogs, outside_edits
from workbench.gui.hub import AnnotationsWritten

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))  # tests are not a package
from labeling_helpers import (  # noqa: E402
    click, drag, make_project, shown_window, write_labelimg_xml,
)

SIZE = (320, 240)
THEIRS = [("dog", 201, 11, 300, 90), ("bird", 21, 151, 80, 220)]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    return make_project(tmp_path, size=SIZE)


@pytest.fixture(autouse=True)
def never_hang(qapp):  # noqa: ANN001, ANN201
    """A question nobody answers would hang the run: one open for 5 s is closed ("Not now")
    and the test fails."""
    stuck: list[str] = []
    open_since: dict[int, int] = {}

    def watch() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            open_since.clear()
            return
        n = open_since[id(box)] = open_since.get(id(box), 0) + 1
        if n > 50:
            stuck.append(getattr(box, "text", lambda: box.objectName())())
            box.reject() if not isinstance(box, QMessageBox) else QTest.mouseClick(
                box.findChild(QPushButton, "conflict-cancel") or box.buttons()[-1],
                Qt.MouseButton.LeftButton)

    timer = QTimer(interval=100)
    timer.timeout.connect(watch)
    timer.start()
    yield
    timer.stop()
    assert not stuck, f"a question was left unanswered: {stuck}"


def _no_questions(monkeypatch) -> None:  # noqa: ANN001
    def unexpected(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError(f"unexpected question: {args[1:3]}")

    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_class",
                 "choose_reassignment", "ask_directory"):
        monkeypatch.setattr(dialogs, name, unexpected)


def _open(qtbot, tmp_path: Path, images: Path, *, autosave: bool):  # noqa: ANN001, ANN202
    w = shown_window(qtbot, tmp_path / "settings.ini")
    w.settings.autosave = autosave
    assert w.open_project(images)
    w.scanner.run_to_end()
    w.canvas.setFocus()
    assert w.current_image_path().name == "img0.png"
    return w


def _write_theirs(images: Path, objects=THEIRS) -> bytes:  # noqa: ANN001
    """Another program rewrites img0.xml in place (not atomically, as many tools do)."""
    write_labelimg_xml(images / "img0.xml", "img0.png", SIZE, objects)
    return (images / "img0.xml").read_bytes()


def _names(window) -> list[str]:  # noqa: ANN001
    return [o.name for o in window.current_annotation().objects]


def _canvas_boxes(window) -> list[tuple[float, ...]]:  # noqa: ANN001
    """What the canvas draws (the annotation layer's boxes, pixel edges)."""
    item = window.canvas.annotation_item()
    return [tuple(round(v) for v in item.box(i)) for i in range(len(item.boxes))]


def _move_cat(window) -> None:  # noqa: ANN001
    """Select img0's cat (pixel edges 10,20-100,120) and drag it by (+20, +10)."""
    c = window.canvas
    c.actual_size()
    c.centerOn(160, 120)
    click(c, 50, 70)
    assert window.document.selection == 0
    drag(c, (50, 70), (70, 80))
    assert window.current_annotation().objects[0].box == pytest.approx((30, 30, 120, 130), abs=1)
    assert window.document.dirty


def _answer(choice: str, seen: list[str], tries: int = 1500) -> None:
    """When the conflict question is open, click ``choice``'s button (``keep`` / ``theirs`` /
    ``both`` / ``cancel``); ``seen`` gets the question's text."""

    def poll(left: int = tries) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "outside-edit-conflict":
            seen.append(box.text())
            button = box.findChild(QPushButton, f"conflict-{choice}")
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        elif left > 0:
            QTimer.singleShot(10, lambda: poll(left - 1))

    QTimer.singleShot(0, poll)


def _activate(window) -> None:  # noqa: ANN001
    """After a modal question the offscreen platform leaves no window active (a desktop gives
    activation back): window shortcuts need it."""
    if not window.isActiveWindow():
        window.activateWindow()
        for _ in range(500):
            if window.isActiveWindow():
                break
            QTest.qWait(10)
    window.canvas.setFocus()


def _ctrl_s(window) -> None:  # noqa: ANN001
    _activate(window)
    QTest.keyClick(window.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)


def test_untouched_document_reloads_silently(qtbot, tmp_path, images, monkeypatch) -> None:  # noqa: ANN001
    _no_questions(monkeypatch)
    monkeypatch.setattr(outside_edits, "ask_conflict",
                        lambda *a, **k: pytest.fail("asked about an untouched document"))
    w = _open(qtbot, tmp_path, images, autosave=True)
    written: list[AnnotationsWritten] = []
    w.hub.subscribe(AnnotationsWritten, written.append)
    assert _names(w) == ["cat"]
    theirs = _write_theirs(images)
    # The watcher notices (no navigation, no click): the canvas shows their boxes.
    qtbot.waitUntil(lambda: _names(w) == ["dog", "bird"], timeout=10_000)
    assert _canvas_boxes(w) == [(200, 10, 300, 90), (20, 150, 80, 220)]
    assert not w.document.dirty
    assert "bird" in w.classes.names()  # a class only the other program used is listed
    assert (images / "img0.xml").read_bytes() == theirs  # never rewritten by the window
    assert any(e.source == "outside" and images / "img0.xml" in e.paths for e in written)
    qtbot.wait(300)  # nothing is written afterwards either (autosave is on)
    assert (images / "img0.xml").read_bytes() == theirs


def test_keep_mine_writes_mine(qtbot, tmp_path, images, monkeypatch) -> None:  # noqa: ANN001
    _no_questions(monkeypatch)
    w = _open(qtbot, tmp_path, images, autosave=False)
    _move_cat(w)
    _write_theirs(images)
    qtbot.waitUntil(lambda: w.document.conflict is not None, timeout=10_000)  # noticed
    assert _names(w) == ["cat"]  # my unsaved edit is not replaced
    seen: list[str] = []
    _answer("keep", seen)
    _ctrl_s(w)
    assert seen == ["img0.xml was changed by another program while you edited it."]
    mine = read_annotation(images / "img0.xml")[0]
    assert [(o.name, o.box) for o in mine.objects] == [("cat", (30.0, 30.0, 120.0, 130.0))]
    from workbench.core.voc_write import annotation_to_bytes

    assert (images / "img0.xml").read_bytes() == annotation_to_bytes(w.current_annotation())
    assert not w.document.dirty
    # Saved over theirs once, by choice: the next edit saves without asking again.
    _activate(w)
    QTest.keyClick(w.canvas, Qt.Key.Key_Right)
    _ctrl_s(w)
    assert read_annotation(images / "img0.xml")[0].objects[0].box == (31.0, 30.0, 121.0, 130.0)


def test_take_theirs_reloads_theirs(qtbot, tmp_path, images, monkeypatch) -> None:  # noqa: ANN001
    _no_questions(monkeypatch)
    w = _open(qtbot, tmp_path, images, autosave=False)
    _move_cat(w)
    theirs = _write_theirs(images)
    seen: list[str] = []
    _answer("theirs", seen)
    _ctrl_s(w)  # before the watcher's look, too: the save itself compares
    assert len(seen) == 1
    assert (images / "img0.xml").read_bytes() == theirs
    assert _names(w) == ["dog", "bird"]
    assert _canvas_boxes(w) == [(200, 10, 300, 90), (20, 150, 80, 220)]
    assert not w.document.dirty


def test_show_both_adds_theirs_as_suggestions(qtbot, tmp_path, images, monkeypatch) -> None:  # noqa: ANN001
    _no_questions(monkeypatch)
    w = _open(qtbot, tmp_path, images, autosave=False)
    _move_cat(w)
    theirs = _write_theirs(images)
    seen: list[str] = []
    _answer("both", seen)
    _ctrl_s(w)
    assert len(seen) == 1
    assert (images / "img0.xml").read_bytes() == theirs  # nothing written yet: review first
    objects = w.current_annotation().objects
    assert [(o.name, o.model_made) for o in objects] == [
        ("cat", False), ("dog", True), ("bird", True)]
    assert w.document.dirty
    _ctrl_s(w)  # reviewed: saved without another question
    assert len(seen) == 1
    saved = read_annotation(images / "img0.xml")[0]
    assert [(o.name, o.model_made) for o in saved.objects] == [
        ("cat", False), ("dog", True), ("bird", True)]
    # Undo takes their suggestions away again (one undoable edit).
    _activate(w)
    QTest.keyClick(w.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _names(w) == ["cat"]
    QTest.keyClick(w.canvas, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert _names(w) == ["cat", "dog", "bird"] and not w.document.dirty  # = the file


def test_autosave_never_overwrites_an_outside_change(qtbot, tmp_path, images,  # noqa: ANN001
                                                     monkeypatch) -> None:
    _no_questions(monkeypatch)
    w = _open(qtbot, tmp_path, images, autosave=True)
    w.saver.timer.setInterval(400)
    _move_cat(w)
    theirs = _write_theirs(images)
    seen: list[str] = []
    _answer("cancel", seen)  # "Not now"
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=10_000)  # autosave asked
    qtbot.wait(50)
    assert (images / "img0.xml").read_bytes() == theirs
    assert w.document.dirty and _names(w) == ["cat"]
    # Another edit, another autosave: not asked twice about the same change, still not written.
    _activate(w)
    QTest.keyClick(w.canvas, Qt.Key.Key_Right)
    qtbot.wait(900)
    assert len(seen) == 1
    assert (images / "img0.xml").read_bytes() == theirs
    assert "Not saved automatically" in w.statusBar().currentMessage()
    # Leaving the image (autosave on) does not overwrite either (asked already: not again);
    # the edits stay in memory.
    assert w.show_row(1)
    assert (images / "img0.xml").read_bytes() == theirs
    assert w.documents.get(images / "img0.png").dirty
    assert len(seen) == 1
    seen_before = len(seen)
    # Ctrl+S on it asks again and keeps mine when told to.
    assert w.show_row(0)
    _answer("keep", seen)
    _ctrl_s(w)
    assert len(seen) == seen_before + 1
    saved = read_annotation(images / "img0.xml")[0]
    assert [(o.name, o.box) for o in saved.objects] == [("cat", (31.0, 30.0, 121.0, 130.0))]


def test_moving_away_and_back_shows_the_file(qtbot, tmp_path, images, monkeypatch) -> None:  # noqa: ANN001
    """Even without the watcher (stopped here: network shares often send no events), showing
    an image again compares its file and shows what is there now."""
    _no_questions(monkeypatch)
    monkeypatch.setattr(outside_edits, "ask_conflict",
                        lambda *a, **k: pytest.fail("asked about an untouched document"))
    w = _open(qtbot, tmp_path, images, autosave=True)
    assert w.show_row(1)
    w.outside.stop()
    theirs = _write_theirs(images)
    QTest.keyClick(w.canvas, Qt.Key.Key_A)  # previous image (A), a real key
    assert w.current_image_path().name == "img0.png"
    assert _names(w) == ["dog", "bird"]
    assert _canvas_boxes(w) == [(200, 10, 300, 90), (20, 150, 80, 220)]
    # Deleted outside: shown empty, nothing recreated.
    QTest.keyClick(w.canvas, Qt.Key.Key_D)
    (images / "img0.xml").unlink()
    QTest.keyClick(w.canvas, Qt.Key.Key_A)
    assert _names(w) == []
    assert not (images / "img0.xml").exists()
    assert theirs


def test_a_new_file_from_outside_updates_the_file_list(qtbot, tmp_path, images,  # noqa: ANN001
                                                       monkeypatch) -> None:
    """The CLI's pre-labeling writes img3.xml (not open): the file dock's row follows."""
    _no_questions(monkeypatch)
    w = _open(qtbot, tmp_path, images, autosave=True)
    assert w.files.model.state(3) == "unlabeled"
    qtbot.waitUntil(lambda: bool(w.outside._snapshots), timeout=10_000)
    write_labelimg_xml(images / "img3.xml", "img3.png", SIZE, [("cat", 5, 5, 60, 60)])
    qtbot.waitUntil(lambda: w.files.model.state(3) == "labeled", timeout=10_000)


def test_watches_folders_not_every_file(qtbot, tmp_path, images, monkeypatch) -> None:  # noqa: ANN001
    _no_questions(monkeypatch)
    w = _open(qtbot, tmp_path, images, autosave=True)
    watched = w.outside.watched()
    assert str(images) in watched and str(images / "img0.xml") in watched
    assert str(images / "img2.xml") not in watched  # one folder watch covers the others
    assert w.show_row(2)
    watched = w.outside.watched()
    assert str(images / "img2.xml") in watched and str(images / "img0.xml") not in watched


def _yolo(root: Path) -> Path:
    from PIL import Image

    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    for split, stem in (("train", "a"), ("train", "b"), ("val", "c")):
        Image.new("RGB", (200, 100), (90, 90, 120)).save(root / "images" / split / f"{stem}.jpg")
        (root / "labels" / split / f"{stem}.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [cat, dog]\n")
    return root


def test_yolo_labels_changed_outside(qtbot, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The same promise for a YOLO project (one label file per image, in labels/<split>/)."""
    pytest.importorskip("workbench.core.formats.yolo_write")
    _no_questions(monkeypatch)
    src = _yolo(tmp_path / "yolo")
    w = shown_window(qtbot, tmp_path / "settings.ini")
    w.settings.autosave = False
    assert w.open_project(src) and w.project.format == "yolo"
    assert w.current_image_path().name == "a.jpg"
    label = src / "labels" / "train" / "a.txt"
    assert str(label.parent) in w.outside.watched() and str(label) in w.outside.watched()
    # Untouched: their two dogs are shown, nothing asked.
    label.write_text("1 0.25 0.25 0.1 0.1\n1 0.75 0.75 0.1 0.1\n")
    qtbot.waitUntil(lambda: _names(w) == ["dog", "dog"], timeout=10_000)
    assert not w.document.dirty
    # Both changed: Ctrl+S asks; Take theirs leaves their file as it is and shows it.
    w.canvas.setFocus()
    w.editor.select_all()
    QTest.keyClick(w.canvas, Qt.Key.Key_Delete)
    assert _names(w) == [] and w.document.dirty
    theirs = "0 0.5 0.5 0.2 0.2\n"
    label.write_text(theirs)
    seen: list[str] = []
    _answer("theirs", seen)
    _ctrl_s(w)
    assert len(seen) == 1 and label.read_text() == theirs
    assert _names(w) == ["cat"] and not w.document.dirty
    # And Keep mine writes mine (no boxes: an empty label file).
    _activate(w)
    w.editor.select_all()
    QTest.keyClick(w.canvas, Qt.Key.Key_Delete)
    label.write_text("1 0.5 0.5 0.3 0.3\n")
    _answer("keep", seen)
    _ctrl_s(w)
    assert len(seen) == 2 and label.read_text() == ""


def test_a_non_utf8_name_is_compared_though_not_watched(qtbot, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Qt cannot hold a non-UTF-8 file name (old Windows/Samba shares): such a file is not
    watched, but it is still compared when shown again and before every write."""
    import os

    _no_questions(monkeypatch)
    images = make_project(tmp_path, size=SIZE)
    odd = os.fsdecode(b"latin\xe9")
    (images / "img0.png").rename(images / f"{odd}.png")
    write_labelimg_xml(images / f"{odd}.xml", "latin.png", SIZE, [("cat", 11, 21, 100, 120)])
    (images / "img0.xml").unlink()
    w = shown_window(qtbot, tmp_path / "settings.ini")
    w.settings.autosave = False
    assert w.open_project(images)
    assert w.show_row(next(i for i, e in enumerate(w.entries()) if e.image_path.stem == odd))
    assert str(images / f"{odd}.xml") not in w.outside.watched()
    assert _names(w) == ["cat"]
    _move_cat(w)
    write_labelimg_xml(images / f"{odd}.xml", "latin.png", SIZE, THEIRS)
    theirs = (images / f"{odd}.xml").read_bytes()
    seen: list[str] = []
    _answer("cancel", seen)
    _ctrl_s(w)
    assert seen == ["latin\\xe9.xml was changed by another program while you edited it."]
    assert (images / f"{odd}.xml").read_bytes() == theirs and w.document.dirty
    _answer("theirs", seen)
    _ctrl_s(w)
    assert len(seen) == 2 and _names(w) == ["dog", "bird"] and not w.document.dirty


def test_a_folder_written_all_the_time_is_diffed_a_few_times(qtbot, tmp_path,  # noqa: ANN001
                                                             monkeypatch) -> None:
    """A run writing one file after another into a big folder (the CLI pre-labeling) costs one
    folder listing at a time and one more a second after a busy one — not one per file — and
    every row ends up current. (Listing is slowed to 0.4 s here, as for ~50k files.)"""
    import time

    _no_questions(monkeypatch)
    images = make_project(tmp_path, n=14, size=(64, 48))
    w = shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(images)
    w.scanner.run_to_end()
    qtbot.waitUntil(lambda: bool(w.outside._snapshots), timeout=10_000)
    listed: list[float] = []
    real = outside_edits._snapshot

    def slow(folder: str) -> dict:
        listed.append(time.monotonic())
        time.sleep(0.4)
        return real(folder)

    monkeypatch.setattr(outside_edits, "_snapshot", slow)
    for i in range(4, 14):  # 10 files, one every 0.2 s (the debounce is 0.15 s)
        write_labelimg_xml(images / f"img{i}.xml", f"img{i}.png", (64, 48), [("cat", 1, 1, 9, 9)])
        qtbot.wait(200)
    qtbot.waitUntil(lambda: all(w.files.model.state(i) == "labeled" for i in range(4, 14)),
                    timeout=15_000)
    assert 2 <= len(listed) <= 5, len(listed)  # 2 s of writes; a listing per file would be 10
    gaps = [b - a for a, b in zip(listed, listed[1:])]
    assert all(g >= 0.4 + outside_edits.OutsideEditWatcher.RESCAN_GAP_MS / 1000 - 0.1
               for g in gaps), gaps


def test_a_half_written_file_is_not_taken_for_unchanged(qtbot, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Another program is caught mid-write (the file cannot be parsed): an untouched image
    shows it as unreadable (Problems), and autosave does not write over it."""
    _no_questions(monkeypatch)
    images = make_project(tmp_path, size=SIZE)
    (images / "img0.xml").unlink()  # img0 starts without boxes: same as an unparsable file
    w = shown_window(qtbot, tmp_path / "settings.ini")
    w.settings.autosave = True
    assert w.open_project(images) and _names(w) == []
    (images / "img0.xml").write_bytes(b"<annotation><object><name>ca")
    qtbot.waitUntil(lambda: w.document.read_failed, timeout=10_000)
    assert w.files.model.state(0) == "problems"
    assert (images / "img0.xml").read_bytes() == b"<annotation><object><name>ca"
