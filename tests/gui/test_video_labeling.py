"""File → Open Video…, Keep Previous Boxes and Propagate Boxes on a video the test draws."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from workbench.core.boxes import iou
from workbench.core.video import Selection, extract_frames

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # tests are not a package
from labeling_helpers import shown_window  # noqa: E402

_spec = importlib.util.spec_from_file_location("video_helpers", HERE.parent / "video_helpers.py")
vh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vh)


def _no_dialogs(monkeypatch) -> None:  # noqa: ANN001
    from workbench.gui import dialogs

    def unexpected(*args, **kwargs):  # noqa: ANN002,ANN003,ANN202
        raise AssertionError(f"unexpected dialog: {args[1:3]}")

    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_class",
                 "choose_reassignment", "ask_directory"):
        monkeypatch.setattr(dialogs, name, unexpected)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return vh.write_shapes_video(tmp_path / "clip.avi", frames=30)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):  # noqa: ANN001,ANN201
    _no_dialogs(monkeypatch)
    return shown_window(qtbot, tmp_path / "settings.ini")


def _key(w, k, mod=Qt.KeyboardModifier.NoModifier) -> None:  # noqa: ANN001
    QTest.keyClick(w.canvas, k, mod)


def test_open_video_through_the_dialog(window, video: Path, qtbot, monkeypatch) -> None:  # noqa: ANN001
    from workbench.gui import video_open

    monkeypatch.setattr(video_open, "ask_video_file", lambda *a, **k: str(video))
    seen = {}

    def fill_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None and dialog.objectName() == "open_video_dialog"
        seen["default_out"] = dialog.output.text()
        seen["about"] = dialog.about.text()
        dialog.every.selectAll()
        QTest.keyClicks(dialog.every, "7")  # every 7th frame of 30: 0, 7, 14, 21, 28
        seen["every 7"] = dialog.estimate.text()
        dialog.end.setFocus()
        QTest.keyClicks(dialog.end, "2.5")  # …before 2.5 s (frame 25): 0, 7, 14, 21
        seen["to 2.5 s"] = dialog.estimate.text()
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, fill_dialog)
    window.actions.open_video.trigger()
    out = video.parent / "clip_frames"
    assert seen["default_out"] == str(out)
    # the header says what the video holds and the count follows the rule as it is typed
    assert seen["about"] == "160×120 · 10 fps · 30 frames (0:03.0)"
    assert (seen["every 7"], seen["to 2.5 s"]) == ("Keeps 5 images", "Keeps 4 images")
    extraction = window._video_extraction
    qtbot.waitUntil(lambda: extraction.result is not None, timeout=15000)
    assert sorted(p.name for p in out.glob("*.jpg")) == [
        "clip_000000.jpg", "clip_000007.jpg", "clip_000014.jpg", "clip_000021.jpg"]
    record = json.loads((out / "frames.json").read_text())
    assert record["frames"]["clip_000014.jpg"] == {"video": str(video.resolve()), "frame": 14,
                                                   "time_s": 1.4}
    qtbot.waitUntil(lambda: window.project is not None)
    assert Path(window.project.images_dir) == out
    assert [Path(e.image_path).name for e in window.entries()][:2] == [
        "clip_000000.jpg", "clip_000007.jpg"]


def test_open_video_dialog_rejects_a_bad_time(window, video: Path, qtbot) -> None:  # noqa: ANN001
    from workbench.gui.video_open import OpenVideoDialog

    dialog = OpenVideoDialog(video, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start.setText("abc")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "not a time" in dialog.error.text()
    assert dialog.estimate.text() == ""  # no count for a rule that cannot be read
    dialog.start.setText("1:00")
    dialog.end.setText("0:30")
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and "must be after" in dialog.error.text()


def _frames_project(tmp_path: Path, video: Path, every: int = 1) -> Path:
    out = tmp_path / "frames"
    extract_frames(video, out, Selection(every=every, end=2.0))  # frames 0..19
    return out


def _label_first(window, qtbot) -> None:  # noqa: ANN001
    from workbench.core.annotation import VocObject

    window.add_objects([VocObject("red", vh.true_box(0, 0)), VocObject("blue", vh.true_box(1, 0))])
    _key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    window.saver.flush()
    assert not window.document.dirty


def test_keep_previous_boxes_are_suggestions_until_accepted(window, video, tmp_path, qtbot) -> None:  # noqa: ANN001
    from workbench.core.voc import read_annotation

    images = _frames_project(tmp_path, video)
    assert window.open_project(images)
    window.canvas.setFocus()
    _label_first(window, qtbot)
    window.actions.keep_previous.setChecked(True)
    _key(window, Qt.Key.Key_D)
    doc = window.document
    assert doc.image_path.name == "clip_000001.jpg"
    objects = doc.annotation.objects
    assert [(o.name, o.box, o.model_made) for o in objects] == [
        ("red", vh.true_box(0, 0), True), ("blue", vh.true_box(1, 0), True)]
    assert not doc.dirty  # a suggestion alone is not an unsaved edit
    window.saver.flush()
    xml = images / "clip_000001.xml"
    assert not xml.exists()
    _key(window, Qt.Key.Key_D)  # moving on without touching them writes nothing
    window.saver.flush()
    assert not xml.exists()
    # frame 2 is offered frame 1's boxes: still unreviewed suggestions, so suggestions again
    assert [o.model_made for o in window.document.annotation.objects] == [True, True]
    _key(window, Qt.Key.Key_A)
    assert window.document.image_path.name == "clip_000001.jpg"
    _key(window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.document.dirty
    _key(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    window.saver.flush()
    saved = read_annotation(xml)[0]
    assert [(o.name, o.box, o.model_made) for o in saved.objects] == [
        ("red", vh.true_box(0, 0), False), ("blue", vh.true_box(1, 0), False)]


def test_keep_previous_off_offers_nothing(window, video, tmp_path, qtbot) -> None:  # noqa: ANN001
    images = _frames_project(tmp_path, video)
    assert window.open_project(images)
    window.canvas.setFocus()
    _label_first(window, qtbot)
    _key(window, Qt.Key.Key_D)
    assert window.document.annotation.objects == ()


def test_propagate_tracks_boxes_as_suggestions(window, video, tmp_path, qtbot) -> None:  # noqa: ANN001
    from workbench.core.voc import read_annotation
    from workbench.gui.video_propagate import PropagateOptions, start_propagation

    images = _frames_project(tmp_path, video)
    assert window.open_project(images)
    window.canvas.setFocus()
    _label_first(window, qtbot)
    run = start_propagation(window, PropagateOptions(frames=6))
    qtbot.waitUntil(lambda: run.view is not None, timeout=20000)
    assert [r.index for r in run.results] == [1, 2, 3, 4, 5, 6]
    for r in run.results:
        n = int(r.image.stem.rsplit("_", 1)[1])
        for k in (0, 1):
            assert iou(r.boxes[k].box, vh.true_box(k, n)) >= 0.5
            assert 0.6 <= r.boxes[k].confidence <= 1.0
    view = run.view
    assert view.table.rowCount() == 12
    # beside the canvas, not centred over the frame it points to
    canvas = window.canvas
    middle = canvas.mapToGlobal(canvas.rect().center())
    assert view.isVisible() and not view.frameGeometry().contains(middle), (
        view.frameGeometry(), canvas.mapToGlobal(canvas.rect().topLeft()), canvas.size())
    assert view.table.item(0, 2).text() == "red" and view.table.item(0, 0).text() == "+1"
    # nothing written by propagating; frame 1 shows the tracked boxes as scored suggestions
    assert not (images / "clip_000001.xml").exists()
    window.actions.next.trigger()  # (the results window is the active one)
    objects = window.document.annotation.objects
    assert [o.model_made for o in objects] == [True, True], (window.document.image_path, objects)
    assert objects[0].score == run.results[0].boxes[0].confidence
    assert not window.document.dirty
    # accept one row of frame 3 from the results window: written to its file, reviewed
    row = next(i for i, (img, k) in enumerate(view.rows) if img.name == "clip_000003.jpg"
               and k == 1)
    view.table.selectRow(row)
    qtbot.mouseClick(view.accept_selected_button, Qt.MouseButton.LeftButton)
    saved = read_annotation(images / "clip_000003.xml")[0]
    assert [(o.name, o.model_made) for o in saved.objects] == [("blue", False)]
    assert iou(saved.objects[0].box, vh.true_box(1, 3)) >= 0.5
    assert "Accepted 1 box" in view.status.text()
    # Accept all twice, with a frame shown: each box is there once (the shown frame got its
    # box a second time, as an extra reviewed box, before)
    window.actions.next.trigger()  # frame 2
    assert window.document.image_path.name == "clip_000002.jpg"
    qtbot.mouseClick(view.accept_all_button, Qt.MouseButton.LeftButton)
    assert view.status.text() == "Accepted 11 boxes"
    qtbot.mouseClick(view.accept_all_button, Qt.MouseButton.LeftButton)
    assert view.status.text() == "Already accepted"
    shown = window.document.annotation.objects
    assert [(o.name, o.model_made) for o in shown] == [("red", False), ("blue", False)]
    window.saver.flush()
    for n in (3, 4, 5, 6):
        saved = read_annotation(images / f"clip_{n:06d}.xml")[0]
        assert sorted(o.name for o in saved.objects) == ["blue", "red"], n


class _RedOnly:
    """Stand-in checkpoint: finds the red square (class "red"), score 0.8; nothing else."""

    classes = ("red", "blue")

    def __init__(self) -> None:
        from workbench.engine.postprocess import PostprocessSettings

        self.settings = PostprocessSettings(score_threshold=0.5, nms_iou=0.45, top_k=10)

    def with_own_cache(self, _size: int) -> _RedOnly:
        return self

    def raw_for_array(self, rgb):  # noqa: ANN001,ANN201
        import numpy as np

        from workbench.engine.postprocess import RawDetections

        ys, xs = np.nonzero((rgb[..., 0] > 180) & (rgb[..., 2] < 90))
        if len(xs) < 20:
            return RawDetections.from_unsorted(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
        return RawDetections.from_unsorted(
            np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], float),
            np.array([0.8]), np.array([1]))


def test_propagate_with_a_detector_and_iou_matching(window, video, tmp_path, qtbot,  # noqa: ANN001
                                                    monkeypatch) -> None:
    from workbench.engine.inference import RawDetector
    from workbench.gui.video_propagate import DETECTOR, PropagateOptions, start_propagation

    monkeypatch.setattr(RawDetector, "from_checkpoint", classmethod(lambda cls, p, **k: _RedOnly()))
    images = _frames_project(tmp_path, video)
    assert window.open_project(images)
    window.canvas.setFocus()
    _label_first(window, qtbot)
    (tmp_path / "model.pt").write_bytes(b"weights")  # the stand-in's file
    run = start_propagation(window, PropagateOptions(frames=4, method=DETECTOR,
                                                     checkpoint=tmp_path / "model.pt"))
    qtbot.waitUntil(lambda: run.view is not None, timeout=20000)
    # the red box follows the red detections (score 0.8); blue has none: it stops at once
    assert [r.boxes[1] for r in run.results] == [None] * 4
    for r in run.results:
        n = int(r.image.stem.rsplit("_", 1)[1])
        assert r.boxes[0].confidence == 0.8
        assert iou(r.boxes[0].box, vh.true_box(0, n)) >= 0.8
    assert run.view.table.rowCount() == 4
    assert "blue #2: lost at frame +1" in run.view.summary.text()


def test_extraction_progress_and_cancel(window, tmp_path, qtbot) -> None:  # noqa: ANN001
    from workbench.gui.video_open import start_extraction

    long_video = vh.write_shapes_video(tmp_path / "long.avi", frames=600)
    out = tmp_path / "long_frames"
    extraction = start_extraction(window, long_video, out, Selection())
    messages = []
    extraction.job.progressed.connect(lambda f, m: messages.append(m))
    from PySide6.QtWidgets import QPushButton

    cancel = extraction.dialog.findChild(QPushButton)
    assert cancel.text() == "Cancel"
    extraction.job.progressed.connect(
        lambda f, m: qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton))
    qtbot.waitUntil(lambda: extraction.job.done, timeout=20000)
    assert extraction.job.outcome == "cancelled"
    assert messages and messages[0].startswith("frame ") and "/600" in messages[0]
    written = len(list(out.glob("*.jpg")))
    assert 0 < written < 600
    # the frames written so far are kept and opened (on a worker); frames.json lists them
    qtbot.waitUntil(lambda: window.project is not None
                    and Path(window.project.images_dir) == out, timeout=20000)
    record = json.loads((out / "frames.json").read_text())
    assert sorted(record["frames"]) == sorted(p.name for p in out.glob("*.jpg"))


def test_the_dialogs_count_is_what_extraction_keeps(video: Path) -> None:
    from workbench.core.video import Selection, iter_frames, open_video
    from workbench.gui.video_open import expected_count

    cap, info = open_video(video)
    cap.release()
    for selection in (Selection(), Selection(every=7), Selection(every=4, start=0.5),
                      Selection(fps=2.5), Selection(fps=3.0, start=0.35, end=2.05),
                      Selection(every=1, end=0.05), Selection(fps=7.0, max_frames=4)):
        kept = sum(1 for _ in iter_frames(video, selection))
        if selection.max_frames:
            kept = min(kept, selection.max_frames)
        assert expected_count(selection, info) == kept, selection
