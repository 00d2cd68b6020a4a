"""Big annotation files are saved on a worker thread, in order (issue 12): the window stays
responsive during the write, the document is marked saved only when the write succeeded, and
of two quick saves the newer content is what ends up in the file — never an older content
written after a newer one."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import shown_window, write_labelimg_xml  # noqa: E402

N = 1500


@pytest.fixture
def big(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (2000, 1500), (80, 80, 80)).save(images / "big.jpg", quality=60)
    objects = [(f"c{i % 7}", 1 + (i * 37) % 1900, 1 + (i * 53) % 1400,
                1 + (i * 37) % 1900 + 40, 1 + (i * 53) % 1400 + 30) for i in range(N)]
    write_labelimg_xml(images / "big.xml", "big.jpg", (2000, 1500), objects)
    return images


@pytest.fixture
def window(qtbot, big, tmp_path, monkeypatch):
    from workbench.gui import dialogs

    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected dialog: {args[1:3]}")

    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_class",
                 "choose_reassignment", "ask_directory"):
        monkeypatch.setattr(dialogs, name, unexpected)
    w = shown_window(qtbot, tmp_path / "settings.ini")
    w.actions.autosave.setChecked(False)
    assert w.open_project(big)
    w.canvas.setFocus()
    assert len(w.current_annotation().objects) == N
    assert w.saver.background_min_objects <= N  # this document is saved in the background
    return w


class GatedWriter:
    """Wraps the document's writer: records what each write got and on which thread; the
    first write waits for ``gate``."""

    def __init__(self, doc) -> None:  # noqa: ANN001
        self.real = doc.writer
        self.gate = threading.Event()
        self.started: list[float] = []    # xmin of box 0 each write was given
        self.finished: list[float] = []
        self.threads: list[threading.Thread] = []
        doc.writer = self

    def __call__(self, annotation):  # noqa: ANN001,ANN204
        self.threads.append(threading.current_thread())
        self.started.append(annotation.objects[0].box[0])
        if len(self.started) == 1:
            assert self.gate.wait(20)
        out = self.real(annotation)
        self.finished.append(annotation.objects[0].box[0])
        return out


def _nudge_and_save(w) -> None:  # noqa: ANN001
    QTest.keyClick(w.canvas, Qt.Key.Key_Right)  # moves the selected box 1 px
    QTest.keyClick(w.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)


def _xmin0(path: Path) -> int:
    text = path.read_text()
    return int(text.split("<xmin>", 1)[1].split("<", 1)[0])


def test_two_quick_saves_latest_wins_in_order(window, big, qtbot):
    w = window
    doc = w.document
    writer = GatedWriter(doc)
    x0 = doc.annotation.objects[0].box[0]
    w.canvas.select(0)
    _nudge_and_save(w)                       # save 1: xmin + 1, held in the writer
    qtbot.waitUntil(lambda: len(writer.started) == 1, timeout=5000)
    assert writer.threads[0] is not threading.main_thread()
    assert doc.dirty                         # not saved before the write succeeded
    _nudge_and_save(w)                       # save 2 (xmin + 2) while save 1 runs
    _nudge_and_save(w)                       # save 3 (xmin + 3): the latest
    assert doc.annotation.objects[0].box[0] == x0 + 3  # the window kept taking keys
    assert writer.started == [x0 + 1]        # nothing else started while save 1 runs
    drawn = w.canvas.annotation_item().boxes
    writer.gate.set()
    qtbot.waitUntil(lambda: not doc.dirty, timeout=10000)
    assert w.canvas.annotation_item().boxes is drawn  # saved: the boxes are not drawn again
    # save 1 then the latest content; the intermediate one was superseded, none after it
    assert writer.started == writer.finished == [x0 + 1, x0 + 3]
    assert _xmin0(big / "big.xml") == x0 + 3 + 1  # VOC xmin = x1 + 1
    assert w.statusBar().currentMessage() == "Saved big.xml"
    # exactly the file with that one box moved (the other 1,499 as they were)
    from workbench.core.voc import read_annotation

    ann, problems = read_annotation(big / "big.xml")
    assert problems == [] and ann.objects == doc.annotation.objects


def test_a_failed_background_write_keeps_the_document_dirty(window, big, qtbot, monkeypatch):
    w = window
    doc = w.document
    before = (big / "big.xml").read_bytes()

    def failing(annotation):  # noqa: ANN001,ANN202
        raise OSError(28, "No space left on device")

    doc.writer = failing
    w.canvas.select(0)
    _nudge_and_save(w)
    qtbot.waitUntil(lambda: "Could not save" in w.statusBar().currentMessage(), timeout=5000)
    assert "No space left on device" in w.statusBar().currentMessage()
    assert doc.dirty and (big / "big.xml").read_bytes() == before
    from workbench.gui import dialogs

    asked = []
    monkeypatch.setattr(dialogs, "ask_save_discard_cancel",
                        lambda *a: asked.append(a[2]) or "discard")
    assert w.close() and len(asked) == 1  # the unsaved move is asked about on close


def test_quitting_waits_for_the_write(window, big, qtbot, monkeypatch):
    w = window
    doc = w.document
    writer = GatedWriter(doc)
    w.canvas.select(0)
    _nudge_and_save(w)
    qtbot.waitUntil(lambda: len(writer.started) == 1, timeout=5000)
    x = doc.annotation.objects[0].box[0]
    _nudge_and_save(w)  # asked while the first write runs: written after it, on quit too
    threading.Timer(0.3, writer.gate.set).start()
    assert w.close()  # waits for both writes, which succeed: nothing to ask
    assert not doc.dirty and writer.finished == writer.started == [x, x + 1]
    assert _xmin0(big / "big.xml") == x + 1 + 1
