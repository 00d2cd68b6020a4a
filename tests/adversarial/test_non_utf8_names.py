"""A file name that is not UTF-8 (issue 12): ``latin\\xe9.jpg`` as raw bytes, as old
Windows/Samba shares leave them. Python gives it as ``'latin\\udce9.jpg'`` (surrogate escape);
every path through the program must handle it: the core (scan, load, save, validate), the CLI
(validate, export, train, detect) and the window (shown, drawn on, saved, autosaved, and asked
about on close). Text for people and for XML shows the byte as ``\\xe9``."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix" or sys.platform == "darwin",
                                reason="needs a file system that stores any bytes (POSIX)")

STEM = os.fsdecode(b"latin\xe9")            # 'latin\udce9'
NAME = STEM + ".jpg"
SHOWN = "latin\\xe9.jpg"                    # how it is shown and written in XML text
ROOT = Path(__file__).resolve().parents[2]


def _helpers():  # tests/gui/labeling_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "non_utf8_labeling_helpers", ROOT / "tests" / "gui" / "labeling_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _image(path: Path, size=(96, 64), colour=(200, 40, 40)) -> None:
    from PIL import Image

    Image.new("RGB", size, colour).save(path, quality=95)


def _labeled_folder(root: Path, stems=(STEM, "plain", os.fsdecode(b"caf\xe9 \xff"))) -> Path:
    """Images with one VOC file each, written by the program's own writer."""
    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.voc import write_annotation

    root.mkdir(parents=True, exist_ok=True)
    for i, stem in enumerate(stems):
        image = root / f"{stem}.jpg"
        _image(image, colour=(40 * i, 90, 120))
        write_annotation(Annotation(
            filename=image.name, path=str(image), folder=root.name, size=ImageSize(96, 64, 3),
            objects=(VocObject("cat", (5, 5, 40, 40)), VocObject("dog", (50, 10, 90, 60)))),
            root / f"{stem}.xml")
    return root


# ------------------------------------------------------------------------------------- core


def test_readable_form():
    from workbench.core.fsnames import readable, same_name

    assert readable(NAME) == SHOWN
    assert readable("plain.jpg") == "plain.jpg"
    assert same_name(SHOWN, NAME) and same_name(NAME, NAME) and not same_name("x.jpg", NAME)
    SHOWN.encode("utf-8")  # valid text


def test_core_scan_load_save_validate(tmp_path):
    from workbench.core.annotation import VocObject
    from workbench.core.project import Project
    from workbench.core.validate import validate_project

    folder = tmp_path / "imgs"
    folder.mkdir()
    _image(folder / NAME)
    project = Project.open(folder)
    [entry] = project.entries
    assert entry.image_path == folder / NAME and entry.image_path.exists()
    ann = project.new_annotation(entry)
    assert ann.filename == SHOWN and ann.size is not None
    ann = dataclasses.replace(ann, objects=(VocObject("cat", (1.0, 2.0, 30.0, 40.0)),))
    written = project.save(entry, ann)
    xml = folder / f"{STEM}.xml"
    data = xml.read_bytes()
    data.decode("utf-8")  # well-formed UTF-8 XML
    assert f"<filename>{SHOWN}</filename>".encode() in data
    assert written.raw == data
    # read back: same boxes, <filename> matches the image, nothing to warn about
    project = Project.open(folder)
    [entry] = project.entries
    assert entry.has_xml and entry.xml_path == xml
    loaded, problems = project.load(entry)
    assert problems == [] and loaded.objects == ann.objects
    assert validate_project(project).problems == ()
    # unchanged: written back byte for byte
    assert project.save(entry, loaded).raw == data and xml.read_bytes() == data


def test_split_files_round_trip(tmp_path):
    from workbench.core.project import Project

    folder = _labeled_folder(tmp_path / "ds")
    project = Project.open(folder)
    splits = project.write_splits(val_fraction=0.34)
    read = project.read_splits()
    ids = sorted(splits["trainval"])
    assert STEM in ids
    text = (project.imagesets_dir / "trainval.txt").read_bytes()
    text.decode("utf-8")  # a text file any tool can read
    assert b"latin%E9\n" in text
    assert sorted(read["trainval"]) == ids


# -------------------------------------------------------------------------------------- CLI


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, env=env,
                          capture_output=True, timeout=timeout)


def test_cli_validate_export_train_detect(tmp_path):
    folder = _labeled_folder(tmp_path / "ds")
    r = _cli("validate", str(folder))
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert b"0 errors, 0 warnings" in r.stdout

    out = tmp_path / "voc"
    r = _cli("export", str(folder), "--format", "voc", "--out", str(out))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert (out / "JPEGImages" / NAME).exists()
    xml = (out / "Annotations" / f"{STEM}.xml").read_bytes()
    assert f"<filename>{SHOWN}</filename>".encode() in xml
    assert b"read back: identical" in r.stdout

    coco = tmp_path / "coco"
    r = _cli("export", str(folder), "--format", "coco", "--out", str(coco))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    names = {im["file_name"] for f in coco.glob("*.json")
             for im in json.loads(f.read_text()).get("images", [])}
    assert NAME in names  # JSON keeps the exact name (a \udce9 escape): it opens the file
    assert (coco / "images" / NAME).exists()

    yolo = tmp_path / "yolo"
    r = _cli("export", str(folder), "--format", "yolo", "--out", str(yolo))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert list(yolo.glob(f"labels/*/{STEM}.txt"))

    run = tmp_path / "run"
    r = _cli("train", str(folder), "--model", "demo_ssdlite_cpu", "--epochs", "1",
             "--image-size", "128", "--batch-size", "2", "--val-fraction", "0.34",
             "--out", str(run))
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    assert (run / "best.pt").exists()
    split = (folder / "ImageSets" / "Main" / "trainval.txt").read_bytes()
    assert b"latin%E9" in split

    for fmt in ("voc", "devkit", "json"):
        det = tmp_path / f"det_{fmt}"
        r = _cli("detect", str(run / "best.pt"), str(folder), "--format", fmt,
                 "--score", "0.0", "--out", str(det))
        assert r.returncode == 0, (fmt, r.stderr.decode(errors="replace")[-3000:])
    assert (tmp_path / "det_voc" / f"{STEM}.xml").exists()
    assert (tmp_path / "det_json" / f"{STEM}.json").exists()
    r = _cli("eval", str(folder), "--results", str(tmp_path / "det_devkit"))
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    r2 = _cli("eval", str(folder), "--results", str(tmp_path / "det_json"))
    assert r2.returncode == 0
    # the same detections through both formats: the same mAP
    assert r.stdout.splitlines()[-3:] == r2.stdout.splitlines()[-3:]


# -------------------------------------------------------------------------------------- GUI


@pytest.fixture
def no_dialogs(monkeypatch):
    from workbench.gui import dialogs

    def unexpected(*args, **kwargs):
        raise AssertionError(f"unexpected dialog: {args[1:3]}")

    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_reassignment",
                 "ask_directory"):
        monkeypatch.setattr(dialogs, name, unexpected)
    return dialogs


def _window_on(qtbot, tmp_path, folder):
    w = _helpers().shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(folder)
    w.scanner.run_to_end()
    w.canvas.setFocus()
    return w


def _draw_box(w, qtbot, monkeypatch, dialogs):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    asked = []
    monkeypatch.setattr(dialogs, "choose_class",
                        lambda parent, classes, current, title, **_k: asked.append(1) or "cat")
    QTest.keyClick(w.canvas, Qt.Key.Key_W)
    w.canvas.actual_size()
    w.canvas.centerOn(48, 32)
    _helpers().drag(w.canvas, (10, 8), (60, 50))
    assert asked == [1]  # the class was picked in the dialog
    assert [o.name for o in w.current_annotation().objects] == ["cat"]


def test_gui_shows_draws_and_saves(qtbot, tmp_path, monkeypatch, no_dialogs):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    folder = tmp_path / "imgs"
    folder.mkdir()
    _image(folder / NAME)
    w = _window_on(qtbot, tmp_path, folder)
    w.actions.autosave.setChecked(False)
    assert w.current_image_path() == folder / NAME
    # the image shows (not "file not found"): its pixels are on the canvas
    rgb = w.current_image_rgb()
    assert rgb is not None and rgb.shape == (64, 96, 3) and abs(int(rgb[30, 40, 0]) - 200) < 8
    assert w.canvas.scene().sceneRect().getRect() == (0, 0, 96, 64)
    # the file list and the title show a readable name
    assert SHOWN in w.windowTitle()
    shown = [w.files.model.data(w.files.model.index(r, 0)) for r in range(w.files.model.rowCount())]
    assert any(SHOWN in str(s) for s in shown), shown

    _draw_box(w, qtbot, monkeypatch, no_dialogs)
    assert w.document.dirty
    QTest.keyClick(w.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    xml = folder / f"{STEM}.xml"
    qtbot.waitUntil(lambda: xml.exists() and not w.document.dirty, timeout=5000)
    text = xml.read_bytes().decode("utf-8")
    assert f"<filename>{SHOWN}</filename>" in text and "<name>cat</name>" in text
    assert "<xmin>11</xmin>" in text and "<ymax>50</ymax>" in text


def test_gui_autosave_writes_the_xml(qtbot, tmp_path, monkeypatch, no_dialogs):
    folder = tmp_path / "imgs"
    folder.mkdir()
    _image(folder / NAME)
    w = _window_on(qtbot, tmp_path, folder)
    assert w.settings.autosave
    _draw_box(w, qtbot, monkeypatch, no_dialogs)
    xml = folder / f"{STEM}.xml"
    qtbot.waitUntil(lambda: xml.exists() and not w.document.dirty, timeout=5000)  # the timer
    assert "<name>cat</name>" in xml.read_text(encoding="utf-8")


def test_gui_close_with_unsaved_work_asks_and_a_failed_save_keeps_it(
        qtbot, tmp_path, monkeypatch, no_dialogs):
    folder = tmp_path / "imgs"
    folder.mkdir()
    _image(folder / NAME)
    w = _window_on(qtbot, tmp_path, folder)
    w.actions.autosave.setChecked(False)
    _draw_box(w, qtbot, monkeypatch, no_dialogs)
    asked = []
    monkeypatch.setattr(no_dialogs, "ask_save_discard_cancel",
                        lambda *a: asked.append(a[2]) or "cancel")
    assert not w.close()
    assert w.isVisible() and len(asked) == 1 and "latin\\xe9.xml" in asked[0]
    # a save that fails keeps the document dirty and says why — never an uncaught error
    # (the writer raising what lxml raised before the fix; Ctrl+S as a real key press, then
    # autosave, then quitting)
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    doc = w.document
    real_writer = doc.writer

    def failing(annotation):
        "latin\udce9".encode("utf-8")  # UnicodeEncodeError: surrogates not allowed

    doc.writer = failing
    QTest.keyClick(w.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "Could not save" in w.statusBar().currentMessage(), timeout=5000)
    message = w.statusBar().currentMessage()
    assert "latin\\xe9.xml" in message and "surrogates not allowed" in message
    assert doc.dirty and not (folder / f"{STEM}.xml").exists()
    w.actions.autosave.setChecked(True)  # turning autosave on saves now: fails the same way
    assert doc.dirty
    assert not w.close()  # autosave fails on close too: still asks
    assert len(asked) == 2 and w.isVisible()
    doc.writer = real_writer
    monkeypatch.setattr(no_dialogs, "ask_save_discard_cancel", lambda *a: "save")
    assert w.close()
    assert "<name>cat</name>" in (folder / f"{STEM}.xml").read_text(encoding="utf-8")


def test_xml_matched_by_its_written_filename(tmp_path):
    """The scan matches an XML to its image by stem first, then by ``<filename>``: the
    ``\\xNN`` form this program writes names the image with those bytes."""
    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.project import Project
    from workbench.core.voc import write_annotation

    folder = tmp_path / "imgs"
    folder.mkdir()
    _image(folder / NAME)
    _image(folder / f"{STEM}.png", colour=(1, 2, 3))

    def xml(path: Path, image_name: str) -> None:
        write_annotation(Annotation(filename=image_name, size=ImageSize(96, 64, 3),
                                    objects=(VocObject("cat", (1, 1, 9, 9)),)), path)

    xml(folder / f"{STEM}.xml", f"{STEM}.png")     # two images share the stem: <filename> picks
    other = folder / "other"
    other.mkdir()
    _image(other / os.fsdecode(b"b\xf6at.jpg"))
    xml(folder / "renamed.xml", os.fsdecode(b"b\xf6at.jpg"))  # no image with its stem
    project = Project.open(folder)
    by_image = {e.image_path.relative_to(folder): e for e in project.entries}
    assert by_image[Path(f"{STEM}.png")].xml_path == folder / f"{STEM}.xml"
    assert not by_image[Path(NAME)].has_xml
    assert by_image[Path("other") / os.fsdecode(b"b\xf6at.jpg")].xml_path == folder / "renamed.xml"
    assert [p for p in project.scan_problems if "renamed" in p.file] == []


def test_gui_non_utf8_folder_reopens_from_recent_at_its_last_image(qtbot, tmp_path, no_dialogs):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QPushButton

    folder = tmp_path / os.fsdecode(b"d\xe9p\xf4t")
    folder.mkdir()
    _image(folder / "a.jpg", colour=(10, 10, 10))
    _image(folder / NAME)
    w = _window_on(qtbot, tmp_path, folder)
    assert w.current_image_path() == folder / "a.jpg"
    with qtbot.waitSignal(w.image_changed) as changed:  # panels get the real path
        QTest.keyClick(w.canvas, Qt.Key.Key_D)
    assert changed.args == [str(folder / NAME)]
    assert w.current_image_path() == folder / NAME
    assert w.settings.recent_projects()[0][0] == folder.resolve()
    assert w.close()
    w.settings.sync()

    w2 = _helpers().shown_window(qtbot, tmp_path / "settings.ini")
    shown = "d\\xe9p\\xf4t"
    buttons = [b for b in w2.welcome.findChildren(QPushButton) if shown in b.toolTip()]
    assert len(buttons) == 1
    QTest.mouseClick(buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w2.project is not None, timeout=5000)
    assert w2.current_image_path() == folder / NAME  # back at the last image
    assert shown in [a.text() for a in w2.actions.menus["recent"].actions()][0]
