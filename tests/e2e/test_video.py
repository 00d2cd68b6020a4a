"""``workbench frames`` and ``workbench detect CKPT VIDEO``, on small videos the tests write.

The video: 60 frames, 128x96, 10 fps, MJPG in .avi; its background colour switches at frames
20 and 40 (the scene cuts) and a square moves across it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from workbench.core.video import Selection, extract_frames, iter_frames
from workbench.core.video_events import EventLog, parse_watch

ROOT = Path(__file__).resolve().parents[2]
CUTS = (20, 40)
BACKGROUNDS = ((40, 40, 40), (200, 200, 200), (30, 120, 220))  # BGR, one per scene


def _helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", ROOT / "tests" / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_video(path: Path, frames: int = 60, size: tuple[int, int] = (128, 96),
                fps: float = 10.0, static: bool = False) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), "this OpenCV cannot write MJPG .avi"
    w, h = size
    for i in range(frames):
        scene = sum(i >= c for c in CUTS)
        img = np.full((h, w, 3), BACKGROUNDS[scene], np.uint8)
        if not static:
            x = 4 + (i * 2) % (w - 24)
            img[30:50, x:x + 20] = (20, 200, 40)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = write_video(tmp_path_factory.mktemp("video") / "clip.avi")
    assert sum(1 for _ in iter_frames(path, Selection())) == 60  # reads back every frame
    return path


def _frames(args: list[str]) -> int:
    from workbench.cli import main

    return main(["frames", *args])


def _numbers(out: Path) -> list[int]:
    return sorted(int(p.stem.rsplit("_", 1)[1]) for p in out.glob("*.jpg"))


def test_every_n_names_carry_source_frame_numbers(video: Path, tmp_path: Path, capsys) -> None:
    assert _frames([str(video), "--out", str(tmp_path), "--every", "7"]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.jpg")) == [
        f"clip_{n:06d}.jpg" for n in range(0, 60, 7)]  # 0, 7, ... 56: 9 images
    err = capsys.readouterr().err
    assert "frame " in err and "/60" in err  # the progress line
    record = json.loads((tmp_path / "frames.json").read_text())
    entry = record["frames"]["clip_000014.jpg"]
    assert entry == {"video": str(video.resolve()), "frame": 14, "time_s": 1.4}
    assert len(record["frames"]) == 9


def test_a_frames_folder_is_a_voc_project_that_knows_its_frames(video: Path,
                                                                 tmp_path: Path) -> None:
    from workbench.core.formats.detect import detect_format
    from workbench.core.video import FrameSource, frame_source

    extract_frames(video, tmp_path, Selection(every=10))
    # frames.json must not look like a COCO file (an "images" object did: saving then went
    # to the COCO writer)
    assert detect_format(tmp_path).format == "voc"
    assert frame_source(tmp_path / "clip_000020.jpg") == FrameSource(video.resolve(), 20, 2.0)
    assert frame_source(tmp_path / "clip_000021.jpg") is None
    assert frame_source(tmp_path / "elsewhere" / "x.jpg") is None


def test_target_fps(video: Path, tmp_path: Path) -> None:
    assert _frames([str(video), "--out", str(tmp_path), "--fps", "2.5"]) == 0
    assert _numbers(tmp_path) == list(range(0, 60, 4))  # 10 fps -> 2.5 fps: 15 images


def test_scene_finds_the_cuts(video: Path, tmp_path: Path) -> None:
    assert _frames([str(video), "--out", str(tmp_path), "--scene"]) == 0
    assert _numbers(tmp_path) == [0, *CUTS]


def test_start_end_and_max(video: Path, tmp_path: Path) -> None:
    a = tmp_path / "a"
    assert _frames([str(video), "--out", str(a), "--every", "5", "--start", "1",
                    "--end", "3"]) == 0
    assert _numbers(a) == [10, 15, 20, 25]
    b = tmp_path / "b"
    assert _frames([str(video), "--out", str(b), "--every", "2", "--max", "4"]) == 0
    assert _numbers(b) == [0, 2, 4, 6]
    # the frames already there count toward --max: a re-run writes nothing
    assert _frames([str(video), "--out", str(b), "--every", "2", "--max", "4"]) == 0
    assert _numbers(b) == [0, 2, 4, 6]


def test_rerun_writes_nothing_and_never_overwrites(video: Path, tmp_path: Path) -> None:
    first = extract_frames(video, tmp_path, Selection(every=10))
    assert len(first.written) == 6 and not first.existing
    marker = tmp_path / "clip_000010.jpg"
    marker.write_bytes(b"mine")  # a file the user changed: kept as it is
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.jpg")}
    again = extract_frames(video, tmp_path, Selection(every=10))
    assert not again.written and len(again.existing) == 6
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.jpg")} == mtimes
    assert marker.read_bytes() == b"mine"
    # a different rule adds only the new frames; frames.json keeps both runs' images
    more = extract_frames(video, tmp_path, Selection(every=5))
    assert len(more.written) == 6 and len(more.existing) == 6
    assert len(json.loads((tmp_path / "frames.json").read_text())["frames"]) == 12


def test_skip_duplicates_on_a_static_video(tmp_path: Path) -> None:
    static = write_video(tmp_path / "static.avi", static=True)
    out = tmp_path / "out"
    assert _frames([str(static), "--out", str(out), "--skip-duplicates"]) == 0
    assert _numbers(out) == [0, *CUTS]  # one image per (static) scene, not 60
    everything = extract_frames(static, tmp_path / "all", Selection())
    assert len(everything.written) == 60


def test_unreadable_video_exits_2_naming_it(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 10)
    out = tmp_path / "out"
    assert _frames([str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "workbench frames:" in err and str(bad) in err and "cannot open" in err
    assert not out.exists()  # the folder it would have created is not left behind
    assert _frames([str(tmp_path / "missing.avi"), "--out", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_options_are_checked(video: Path, tmp_path: Path, capsys) -> None:
    assert _frames([str(video), "--out", str(tmp_path), "--every", "0"]) == 2
    assert "--every" in capsys.readouterr().err
    assert _frames([str(video), "--out", str(tmp_path), "--scene-threshold", "5"]) == 2
    assert "needs --scene" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _frames([str(video), "--out", str(tmp_path), "--every", "2", "--fps", "1"])


# -- detect over a video ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ckpt")
    ckpt, _ = _helpers().make_checkpoint(root, steps=4)
    return ckpt


def test_detect_video_one_line_per_processed_frame(video: Path, tiny_checkpoint: Path,
                                                   tmp_path: Path, capsys) -> None:
    from workbench.cli import main

    assert main(["detect", str(tiny_checkpoint), str(video), "--out", str(tmp_path),
                 "--every", "3", "--score", "0.05", "--top-k", "3", "--render",
                 "--watch", "cat,dog", "--min-frames", "2"]) == 0
    lines = [json.loads(x) for x in (tmp_path / "detections.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(0, 60, 3))  # 20 lines
    assert [x["time_s"] for x in lines] == pytest.approx([n / 10 for n in range(0, 60, 3)])
    for line in lines:
        assert set(line) == {"frame", "time_s", "detections"}
        assert len(line["detections"]) <= 3
        for d in line["detections"]:
            assert set(d) == {"class", "score", "box"} and d["class"] in {"cat", "dog"}
            assert d["score"] > 0.05
            x1, y1, x2, y2 = d["box"]
            assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 96
    out = capsys.readouterr().out
    assert "frames/s" in out and "20 frames" in out
    rendered = tmp_path / "clip_detections.mp4"
    cap = cv2.VideoCapture(str(rendered))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 20
    events = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    for event in events:  # whatever the barely trained model sees, each event is complete
        assert event["event"] in {"appeared", "left"}
        assert (tmp_path / event["snapshot"]).is_file()


def test_detect_video_errors(tiny_checkpoint: Path, video: Path, tmp_path: Path,
                             capsys) -> None:
    from workbench.cli import main

    bad = tmp_path / "broken.mov"
    bad.write_bytes(b"\0" * 100)
    assert main(["detect", str(tiny_checkpoint), str(bad), "--out", str(tmp_path / "o")]) == 2
    assert str(bad) in capsys.readouterr().err
    assert main(["detect", str(tiny_checkpoint), str(video), "--out", str(tmp_path / "o"),
                 "--watch", "horse"]) == 2
    assert "horse" in capsys.readouterr().err
    image = tmp_path / "x.png"
    cv2.imwrite(str(image), np.zeros((20, 20, 3), np.uint8))
    assert main(["detect", str(tiny_checkpoint), str(image), "--out", str(tmp_path / "o"),
                 "--every", "2"]) == 2
    assert "video input only" in capsys.readouterr().err


# -- the event log rule -------------------------------------------------------------------
def _run(log: EventLog, present: dict[str, set[int]], frames: range, fps: float = 10.0
         ) -> list[dict]:
    for n in frames:
        log.update(n, n / fps, [(c, 0.5 + n / 100) for c, on in present.items() if n in on])
    log.finish()
    return log.events


def test_event_log_appeared_and_left() -> None:
    events = _run(EventLog(["cat"], min_frames=3), {"cat": set(range(10, 31)),
                                                    "dog": set(range(0, 50))}, range(50))
    assert events == [
        {"event": "appeared", "class": "cat", "frame": 12, "time_s": 1.2, "start_frame": 10,
         "start_s": 1.0, "best_score": 0.62, "best_frame": 12},
        {"event": "left", "class": "cat", "frame": 33, "time_s": 3.3, "start_frame": 10,
         "start_s": 1.0, "best_score": 0.8, "best_frame": 30, "end_frame": 30, "end_s": 3.0,
         "reason": "absent for 3 frames"},
    ]


def test_event_log_ignores_flicker_and_closes_at_the_end() -> None:
    present = {"cat": {5, 6} | {8, 9, 11, 12} | set(range(20, 25)),  # runs of 2: no event
               "dog": set(range(10, 40)) - {20, 21}}  # a gap of 2 < K does not end it
    events = _run(EventLog(["cat", "dog"], min_frames=3), present, range(40))
    kinds = [(e["event"], e["class"], e["frame"]) for e in events]
    assert kinds == [("appeared", "dog", 12), ("appeared", "cat", 22), ("left", "cat", 27),
                     ("left", "dog", 39)]
    assert events[-1]["reason"] == "video ended" and events[-1]["end_frame"] == 39
    assert events[2]["end_frame"] == 24


def test_event_log_with_every_n_counts_processed_frames() -> None:
    events = _run(EventLog(["cat"], min_frames=2), {"cat": set(range(9, 22))}, range(0, 40, 3))
    assert [(e["event"], e["frame"], e["start_frame"]) for e in events] == [
        ("appeared", 12, 9), ("left", 27, 9)]
    assert events[1]["end_frame"] == 21


def test_parse_watch() -> None:
    assert parse_watch("cat, dog,cat", ["cat", "dog"]) == ["cat", "dog"]
    with pytest.raises(ValueError, match="horse"):
        parse_watch("horse", ["cat", "dog"])


class _BrightSceneDetector:
    """A stand-in detector: a "cat" at the green square while the background is light grey
    (frames 20-39 of the test video), nothing otherwise; score rises with the frame."""

    classes = ("cat", "dog")

    def __init__(self) -> None:
        from workbench.engine.postprocess import PostprocessSettings

        self.settings = PostprocessSettings(score_threshold=0.3, nms_iou=0.5, top_k=5)
        self.calls = 0

    def raw_for_array(self, rgb: np.ndarray):  # noqa: ANN201
        from workbench.engine.postprocess import RawDetections

        self.calls += 1
        if rgb[0, 0].min() < 150:
            return RawDetections.from_unsorted(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
        ys, xs = np.nonzero((rgb[..., 1] > 150) & (rgb[..., 0] < 100))
        box = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        return RawDetections.from_unsorted(np.array([box]), np.array([0.4 + self.calls / 1000]),
                                           np.array([1]))


def test_detect_video_event_log_with_snapshots(video: Path, tmp_path: Path) -> None:
    from workbench.engine.video_detect import detect_video

    result = detect_video(_BrightSceneDetector(), video, tmp_path, every=2, watch=["cat"],
                          min_frames=3)
    assert result.frames == 30
    events = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["event"], e["frame"], e["start_frame"], e.get("end_frame")) for e in events] == [
        ("appeared", 24, 20, None), ("left", 44, 20, 38)]
    assert events[1]["best_frame"] == 38 and events[1]["best_score"] == pytest.approx(0.42)
    assert events[0]["snapshot"] == "snapshots/clip_000024_appeared_1.jpg"
    for event in events:
        snap = cv2.imread(str(tmp_path / event["snapshot"]))
        assert snap.shape == (96, 128, 3)
    lines = [json.loads(x) for x in (tmp_path / "detections.jsonl").read_text().splitlines()]
    seen = [x["frame"] for x in lines if x["detections"]]
    assert seen == list(range(20, 40, 2))
    x1, y1, x2, y2 = lines[10]["detections"][0]["box"]  # frame 20: the square at x = 44
    assert (y1, y2) == pytest.approx((30, 50), abs=1) and x1 == pytest.approx(44, abs=1)
