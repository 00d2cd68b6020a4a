"""Folders open on a worker thread (issue 14, ``workbench/gui/opening.py``): File → Open,
Open Recent, drops and start-up go through one JobRunner path with a busy state, a newer
request cancels an older one, errors are reported once and keep the current project."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.gui import dialogs
from workbench.gui import project_ops as ops
from workbench.gui.app import build_window, wait_until_open
from workbench.gui.jobs import job_errors
from workbench.gui.opening import (
    PREVIEW_EXTENSIONS, first_in_natural_order, preview_image,
)
from workbench.gui.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import make_project, window_without_dialogs  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    return window_without_dialogs(qtbot, tmp_path, monkeypatch)


class _Gate:
    """ops.open_project held until released (per folder name), recording calls."""

    def __init__(self, monkeypatch, held: set[str]) -> None:
        self.real = ops.open_project
        self.held = held
        self.release = threading.Event()
        self.calls: list[str] = []
        self.stopped: list[str] = []
        monkeypatch.setattr(ops, "open_project", self)

    def __call__(self, images_dir, annotations_dir=None, *, stop=None):  # noqa: ANN001,ANN204
        name = Path(images_dir).parent.name
        self.calls.append(name)
        if name in self.held:
            while not self.release.wait(0.01):
                if stop is not None and stop():
                    self.stopped.append(name)
                    from workbench.core.project import OpenCancelled

                    raise OpenCancelled(name)
        return self.real(images_dir, annotations_dir, stop=stop)


def test_ctrl_u_opens_in_the_background_with_a_busy_state(window, tmp_path, monkeypatch,
                                                         qtbot):
    other = make_project(tmp_path / "other", n=3)
    gate = _Gate(monkeypatch, {"other"})
    monkeypatch.setattr(dialogs, "ask_directory", lambda *a, **k: str(other))
    QTest.keyClick(window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    # the key press returned with the folder still being read: the window says so
    assert window.opening is not None
    assert window.cursor().shape() == Qt.CursorShape.BusyCursor
    assert window.position_label.text() == f"Opening {other}…"
    assert window.project.images_dir.parent.name == "first"  # still usable meanwhile
    qtbot.waitUntil(lambda: gate.calls == ["other"], timeout=5000)
    gate.release.set()
    wait_until_open(window, timeout_s=30)
    assert window.opening is None
    assert window.current_image_path() == other / "img0.png"
    assert window.files.model.rowCount() == 3
    assert window.cursor().shape() == Qt.CursorShape.ArrowCursor
    assert window.position_label.text().startswith("Image 1 of 3")
    assert window.settings.recent_projects()[0][0] == other.resolve()


def test_a_newer_open_cancels_the_older_one(window, tmp_path, monkeypatch, qtbot):
    slow, fast = make_project(tmp_path / "slow", n=2), make_project(tmp_path / "fast", n=4)
    gate = _Gate(monkeypatch, {"slow"})
    shown: list[Path] = []
    window.opener.opened.connect(shown.append)
    assert window.open_folder(slow)
    qtbot.waitUntil(lambda: gate.calls == ["slow"], timeout=5000)
    assert window.open_folder(fast)
    # the older scan saw its stop flag (ops.open_project(stop=...)) and ended
    qtbot.waitUntil(lambda: gate.stopped == ["slow"], timeout=5000)
    wait_until_open(window, timeout_s=30)
    gate.release.set()
    for _ in range(20):
        QTest.qWait(10)
    assert shown == [fast]
    assert window.current_image_path() == fast / "img0.png"
    assert window.files.model.rowCount() == 4
    assert [p for p, _ in window.settings.recent_projects()][:2] == [fast.resolve(),
                                                                     tmp_path.joinpath(
                                                                         "first", "images")
                                                                     .resolve()]


def test_a_folder_that_cannot_be_opened_keeps_the_current_project(window, tmp_path, qtbot):
    before = window.current_image_path()
    refused: list[tuple[Path, str]] = []
    window.opener.refused.connect(lambda folder, message: refused.append((folder, message)))
    reports = len(job_errors().history)
    gone = tmp_path / "gone"
    assert window.open_folder(gone)
    wait_until_open(window, timeout_s=30)
    assert len(refused) == 1 and refused[0][0] == gone
    assert "no such folder" in refused[0][1] and str(gone) in refused[0][1]
    assert job_errors().history[reports:] == [f"Opening {gone}: {refused[0][1]}"]
    assert window.current_image_path() == before
    assert window.cursor().shape() == Qt.CursorShape.ArrowCursor
    assert window.statusBar().currentMessage().startswith("Failed: Opening ")


def test_open_recent_goes_through_the_opener(window, tmp_path, monkeypatch, qtbot):
    other = make_project(tmp_path / "other", n=3)
    assert window.open_project(other)
    assert window.open_project(tmp_path / "first" / "images")
    gate = _Gate(monkeypatch, set())
    action = next(a for a in window.actions.menus["recent"].actions()
                  if a.text().startswith(str(other.resolve())))
    action.trigger()
    assert window.opening is not None  # not opened on the GUI thread
    wait_until_open(window, timeout_s=30)
    assert gate.calls == ["other"]
    assert window.current_image_path() == other.resolve() / "img0.png"


def test_lazy_start_paints_the_first_image_before_the_scan(qtbot, tmp_path):
    root = tmp_path / "root"  # images/ + annotations/: the preview looks into images/
    images = make_project(root / "tmp", n=3)
    images.rename(root / "images")
    (root / "annotations").mkdir()
    for xml in (root / "images").glob("*.xml"):
        xml.rename(root / "annotations" / xml.name)
    w = build_window(root, None, Settings(tmp_path / "s.ini"), lazy=True)
    qtbot.addWidget(w)
    assert w.project is None and w.opening is not None  # not scanned yet…
    assert w.canvas.image_size() == (320, 240)  # …but its first image is on the canvas
    assert w.stack.currentWidget() is w.canvas
    assert w.position_label.text() == f"Opening {root}…"
    assert w.files.counter.text() == "Reading the folder…"
    w.show()
    wait_until_open(w, timeout_s=30)
    assert w.project is not None and w.opening is None
    assert w.current_image_path() == root / "images" / "img0.png"
    assert [o.name for o in w.current_annotation().objects] == ["cat"]
    assert w.canvas.image_size() == (320, 240)


def test_preview_image_choice(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("img10.jpg", "img2.JPG", "img2b.png", ".jpg", "notes.txt", "a.txt.gif"):
        (folder / name).write_bytes(b"")
    assert preview_image(folder) == folder / "img2.JPG"
    from workbench.core.project import Project

    assert Project.open(folder).entries[0].image_path == folder / "img2.JPG"  # the same
    (folder / ".hidden1.jpg").write_bytes(b"")  # the project shows hidden images too, first
    assert preview_image(folder) == folder / ".hidden1.jpg"
    assert Project.open(folder).entries[0].image_path == folder / ".hidden1.jpg"
    (folder / ".hidden1.jpg").unlink()
    settings = Settings(tmp_path / "s.ini")
    settings.set_last_image(folder.resolve(), folder / "img10.jpg")
    assert preview_image(folder, settings) == folder / "img10.jpg"
    (folder / "img10.jpg").unlink()  # gone: the natural first again
    assert preview_image(folder, settings) == folder / "img2.JPG"
    assert preview_image(tmp_path / "missing") is None


def test_preview_helpers_agree_with_the_project_scan():
    from workbench.core.imageinfo import IMAGE_EXTENSIONS
    from workbench.core.project_scan import natural_key

    assert set(IMAGE_EXTENSIONS) == PREVIEW_EXTENSIONS
    names = ["b1.jpg", "a10.jpg", "a9.jpg", "A9b.jpg", "a09.png", "a.jpg", "10.jpg", "9x.jpg",
             "a9.JPG"]
    for i in range(len(names)):
        rotated = names[i:] + names[:i]
        assert first_in_natural_order(rotated) == min(rotated, key=natural_key)


def test_lazy_sample_start_shows_the_hint_once(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QDockWidget

    from workbench.core import synth
    from workbench.gui import first_run

    root = tmp_path / "data" / "sample-project"
    monkeypatch.setattr(first_run, "sample_project_dir", lambda: root)
    monkeypatch.setattr(synth, "DEFAULT_IMAGES", 3)
    w = build_window(None, None, Settings(tmp_path / "s.ini"), sample=True, lazy=True)
    qtbot.addWidget(w)

    def hints() -> list[QDockWidget]:
        return [d for d in w.findChildren(QDockWidget)
                if d.objectName() == first_run.HINT_OBJECT_NAME]

    assert w.opening is not None and hints() == []  # shown once the sample is open
    w.show()
    wait_until_open(w, timeout_s=30)
    assert len(w.entries()) == 3 and len(hints()) == 1 and hints()[0].isVisible()
    hints()[0].close()
    other = make_project(tmp_path / "other", n=2)
    assert w.open_folder(other)
    wait_until_open(w, timeout_s=30)
    assert w.current_image_path() == other / "img0.png"
    assert not hints()[0].isVisible()  # not shown again for another folder


def test_a_start_up_folder_that_fails_leaves_no_preview(qtbot, tmp_path, monkeypatch):
    images = make_project(tmp_path / "p", n=2)

    def broken(images_dir, annotations_dir=None, *, stop=None):  # noqa: ANN001,ANN202
        raise PermissionError(f"{images_dir}: permission denied")

    monkeypatch.setattr(ops, "open_project", broken)
    w = build_window(images, None, Settings(tmp_path / "s.ini"), lazy=True)
    qtbot.addWidget(w)
    assert w.stack.currentWidget() is w.canvas and w.canvas.image_size() == (320, 240)
    w.show()
    wait_until_open(w, timeout_s=30)
    assert w.project is None
    assert w.stack.currentWidget() is w.welcome
    assert w.canvas.image_size() == (0, 0)
    assert w.position_label.text() == "No folder open"
    assert w.files.counter.text() == "No folder open"
    assert w.statusBar().currentMessage() == (
        f"Failed: Opening {images}: PermissionError: {images}: permission denied")


def test_a_plain_jpeg_preview_is_decoded_once(qtbot, tmp_path, monkeypatch):
    """The start-up preview of a plain JPEG is what the canvas's loader gives: the project
    shows it from the image cache instead of decoding it again (other files are decoded
    again by the loader's rules)."""
    from PySide6.QtGui import QColor, QImage

    from workbench.gui import images as gui_images

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        image = QImage(64, 48, QImage.Format.Format_RGB888)
        image.fill(QColor(40 * i, 90, 120))
        assert image.save(str(folder / f"img{i}.jpg"), "JPEG")
    read: list[str] = []
    real = gui_images.read_plain_jpeg

    def counted(path):  # noqa: ANN001, ANN202
        read.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(gui_images, "read_plain_jpeg", counted)
    w = build_window(folder, None, Settings(tmp_path / "s.ini"), lazy=True)
    qtbot.addWidget(w)
    assert read == ["img0.jpg"] and w.opener.preview is not None
    w.show()
    wait_until_open(w, timeout_s=30)
    assert w.current_image_path() == folder / "img0.jpg" and w.opener.preview is None
    assert read.count("img0.jpg") == 1  # (img1.jpg: the prefetch of the next image)
    assert w.canvas.image_size() == (64, 48)
    rgb = w.current_image_rgb()
    assert rgb is not None and rgb.shape == (48, 64, 3)
    from workbench.core.images import decode_image

    assert (rgb == decode_image(folder / "img0.jpg").rgb).all()


def test_only_a_folder_that_may_be_the_sample_imports_first_run(tmp_path, monkeypatch):
    from workbench.gui import app, first_run

    assert app.SAMPLE_DIR_NAME == first_run.SAMPLE_DIR_NAME
    root = tmp_path / "data" / first_run.SAMPLE_DIR_NAME
    (root / "images").mkdir(parents=True)
    (tmp_path / "photos").mkdir()
    (tmp_path / "link").symlink_to(root)
    monkeypatch.setattr(first_run, "sample_project_dir", lambda: root)
    for folder in (root, root / "images", tmp_path / "link", tmp_path / "photos",
                   tmp_path / "link" / "images"):
        # never False where is_sample_project is True
        assert app._may_be_sample(folder) or not first_run.is_sample_project(folder), folder
    assert app._may_be_sample(tmp_path / "link") and not app._may_be_sample(tmp_path / "photos")
