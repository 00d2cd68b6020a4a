"""The Video panel: exact frames on step / seek, detections at the sliders, events → frames."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from workbench.core.video import Selection, iter_frames

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # tests are not a package
from labeling_helpers import shown_window  # noqa: E402

_spec = importlib.util.spec_from_file_location("video_helpers", HERE.parent / "video_helpers.py")
vh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vh)


class RedSquareDetector:
    """A stand-in detector: the red square as a "red" box, score 0.9; a faint 0.2 "blue"
    box at the blue one; counts its calls."""

    classes = ("red", "blue")

    def __init__(self) -> None:
        from workbench.engine.postprocess import PostprocessSettings

        self.settings = PostprocessSettings(score_threshold=0.5, nms_iou=0.45, top_k=10)
        self.calls = 0

    def raw_for_array(self, rgb: np.ndarray):  # noqa: ANN201
        from workbench.engine.postprocess import RawDetections

        self.calls += 1
        boxes, scores, labels = [], [], []
        for label, score, mask in ((1, 0.9, (rgb[..., 0] > 180) & (rgb[..., 2] < 90)),
                                   (2, 0.2, (rgb[..., 2] > 180) & (rgb[..., 0] < 90))):
            ys, xs = np.nonzero(mask)
            if len(xs) > 20:
                boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
                scores.append(score)
                labels.append(label)
        return RawDetections.from_unsorted(np.array(boxes, float).reshape(-1, 4),
                                           np.array(scores, float), np.array(labels))


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return vh.write_shapes_video(tmp_path / "clip.avi", frames=30)


@pytest.fixture
def panel(qtbot, tmp_path):  # noqa: ANN001,ANN201
    from workbench.gui.panels.video import VideoPanel

    window = shown_window(qtbot, tmp_path / "settings.ini")
    p = VideoPanel(window)
    qtbot.addWidget(p)
    p.resize(370, 760)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.shutdown()


def _decoded(video: Path) -> list[np.ndarray]:
    return [cv2.cvtColor(f.image, cv2.COLOR_BGR2RGB) for f in iter_frames(video, Selection())]


def _open(panel, video, qtbot) -> None:  # noqa: ANN001
    with qtbot.waitSignal(panel.frame_shown, timeout=10000) as shown:
        panel.open_video(video)
    assert shown.args == [0]


def test_steps_and_seeks_to_exact_frames(panel, video, qtbot) -> None:  # noqa: ANN001
    frames = _decoded(video)
    _open(panel, video, qtbot)
    assert panel.last_frame() == 29
    assert np.array_equal(panel.view.rgb, frames[0])
    panel.view.setFocus()
    for _ in range(3):
        QTest.keyClick(panel.view, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: panel.frame == 3, timeout=10000)
    assert np.array_equal(panel.view.rgb, frames[3])
    QTest.keyClick(panel.view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: panel.frame == 13, timeout=10000)
    qtbot.mouseClick(panel.back_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.frame == 12, timeout=10000)
    assert np.array_equal(panel.view.rgb, frames[12])
    assert panel.position.text().startswith("frame 12 / 29")
    panel.slider.setValue(25)  # the seek slider (backwards, then forwards)
    qtbot.waitUntil(lambda: panel.frame == 25, timeout=10000)
    assert np.array_equal(panel.view.rgb, frames[25])
    panel.slider.setValue(4)
    qtbot.waitUntil(lambda: panel.frame == 4, timeout=10000)
    assert np.array_equal(panel.view.rgb, frames[4])
    QTest.keyClick(panel.view, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: panel.frame == 29, timeout=10000)
    assert np.array_equal(panel.view.rgb, frames[29])


def test_play_advances_and_stops_at_the_end(panel, video, qtbot) -> None:  # noqa: ANN001
    _open(panel, video, qtbot)
    panel.seek(26)
    qtbot.waitUntil(lambda: panel.frame == 26, timeout=10000)
    shown = []
    panel.frame_shown.connect(shown.append)
    qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.play_timer.isActive(), timeout=10000)
    assert shown == [27, 28, 29] and panel.play_button.text() == "Play"


def test_detections_at_the_slider_values(panel, video, qtbot) -> None:  # noqa: ANN001
    detector = RedSquareDetector()
    _open(panel, video, qtbot)
    with qtbot.waitSignal(panel.frame_shown, timeout=10000):
        panel.set_detector(detector)
    assert detector.calls == 1
    assert [(b.label, round(b.score, 4)) for b in panel.view.boxes] == [("red", 0.9)]
    box = panel.view.boxes[0].box
    x1, y1, x2, y2 = vh.true_box(0, 0)
    assert box == pytest.approx((x1, y1, x2, y2), abs=2)
    panel.score_slider.setValue(10)  # 0.10: the faint blue box too, without a new forward pass
    assert sorted(b.label for b in panel.view.boxes) == ["blue", "red"]
    assert detector.calls == 1 and panel.score_value.text() == "0.10"
    panel.seek(5)
    qtbot.waitUntil(lambda: panel.frame == 5, timeout=10000)
    assert detector.calls == 2
    assert panel.view.boxes[0].box[0] == pytest.approx(vh.true_box(0, 5)[0], abs=2)


def test_clicking_an_event_jumps_to_its_frame(panel, video, qtbot, tmp_path) -> None:  # noqa: ANN001
    frames = _decoded(video)
    log = tmp_path / "events.jsonl"
    log.write_text("\n".join(json.dumps(e) for e in (
        {"event": "appeared", "class": "red", "frame": 7, "time_s": 0.7, "best_score": 0.9},
        {"event": "left", "class": "red", "frame": 21, "time_s": 2.1, "best_score": 0.95},
    )) + "\n")
    _open(panel, video, qtbot)
    assert panel.load_events(log)
    assert panel.event_list.count() == 2
    assert "left red" in panel.event_list.item(1).text()
    item = panel.event_list.item(1)
    rect = panel.event_list.visualItemRect(item)
    qtbot.mouseClick(panel.event_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: panel.frame == 21, timeout=10000)
    assert np.array_equal(panel.view.rgb, frames[21])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event": "appeared", "frame": 1}\nnot json\n')
    assert not panel.load_events(bad)
    assert "bad.jsonl, line 2" in panel.events_label.text()


def test_scan_finds_the_red_square_leaving(panel, video, qtbot) -> None:  # noqa: ANN001
    _open(panel, video, qtbot)
    panel.set_detector(RedSquareDetector())
    panel.watch.setText("red")
    panel.every.setValue(1)
    panel.min_frames.setValue(2)
    job = panel.scan()
    qtbot.waitUntil(lambda: job.done, timeout=20000)
    kinds = [(e["event"], e["class"]) for e in panel.events]
    assert kinds == [("appeared", "red"), ("left", "red")]
    assert panel.events[0]["frame"] == 1 and panel.events[0]["start_frame"] == 0
    assert panel.event_list.count() == 2


def test_this_images_frame_opens_the_source_video_there(panel, video, qtbot, tmp_path) -> None:  # noqa: ANN001
    from workbench.core.video import extract_frames

    frames = _decoded(video)
    out = tmp_path / "frames"
    extract_frames(video, out, Selection(every=7))
    window = panel.labeling_window
    assert window.open_project(out)
    window.show_row(2)  # clip_000014.jpg
    assert window.current_image_path().name == "clip_000014.jpg"
    qtbot.mouseClick(panel.source_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.frame == 14, timeout=10000)
    assert panel.video == video.resolve()
    assert np.array_equal(panel.view.rgb, frames[14])
    window.show_row(1)  # the same video: a seek, not a reopen
    reader = panel.reader
    qtbot.mouseClick(panel.source_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.frame == 7, timeout=10000)
    assert panel.reader is reader


def test_a_folder_of_frames_opens_its_video(panel, video, qtbot, tmp_path) -> None:  # noqa: ANN001
    from workbench.core.video import extract_frames

    out = tmp_path / "frames"
    extract_frames(video, out, Selection(every=7))
    window = panel.labeling_window
    assert panel.reader is None and panel.file_label.text() == "No video open"
    assert window.open_project(out)  # clip_000000.jpg is shown: its video opens at frame 0
    qtbot.waitUntil(lambda: panel.frame == 0 and panel.reader is not None, timeout=10000)
    assert panel.video == video.resolve()
    assert panel.file_label.text().startswith("clip.avi · ")
    # going on in the folder does not reopen or move the video (that is the button's)
    reader = panel.reader
    window.show_row(2)
    qtbot.wait(100)
    assert panel.reader is reader and panel.frame == 0


def test_a_plain_folder_opens_no_video(panel, qtbot, tmp_path) -> None:  # noqa: ANN001
    folder = tmp_path / "plain"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((20, 30, 3), 90, np.uint8))
    assert panel.labeling_window.open_project(folder)
    qtbot.wait(100)
    assert panel.reader is None and panel.file_label.text() == "No video open"
