"""Run a :class:`~workbench.engine.inference.RawDetector` over a video (``workbench detect
CKPT VIDEO``).

Writes into ``out``:

* ``detections.jsonl``: one line per processed frame,
  ``{"frame": n, "time_s": t, "detections": [{"class", "score", "box"}]}`` with ``box`` float
  pixel-edge ``xyxy`` in the video's pixels (what ``workbench detect`` writes for an image);
* with ``render``: ``<video stem>_detections.mp4`` (``mp4v``), the processed frames with their
  boxes drawn, at the video's rate divided by ``every``;
* with ``watch``: ``events.jsonl`` (rule: :mod:`workbench.core.video_events`) and one JPEG per
  event in ``snapshots/``: the frame that confirmed an ``"appeared"`` event, the best-scoring
  frame of the appearance for a ``"left"`` event, boxes drawn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from workbench.core.video import JPEG_QUALITY, Selection, VideoInfo, iter_frames
from workbench.core.video_events import EventLog
from workbench.engine.postprocess import PostprocessSettings, apply

#: BGR colours cycled over class ids.
_COLOURS = [(40, 40, 230), (230, 120, 30), (40, 200, 40), (200, 40, 200), (30, 200, 230),
            (230, 230, 40), (120, 60, 200), (60, 160, 160)]


@dataclass
class VideoDetectResult:
    video: VideoInfo | None = None
    frames: int = 0  #: processed frames
    detections: int = 0
    seconds: float = 0.0  #: decode + detect + write, wall clock
    events: list[dict[str, Any]] = field(default_factory=list)
    jsonl: Path | None = None
    rendered: Path | None = None

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def detections_json(det: Any) -> list[dict[str, Any]]:
    return [{"class": str(label), "score": round(float(score), 6),
             "box": [round(float(v), 3) for v in box]}
            for box, score, label in zip(det.boxes, det.scores, det.labels)]


def draw(image_bgr: np.ndarray, dets: Sequence[dict[str, Any]], classes: Sequence[str]
         ) -> np.ndarray:
    """A copy of the frame with each detection's box and ``class score`` drawn."""
    out = image_bgr.copy()
    for d in dets:
        x1, y1, x2, y2 = (int(round(v)) for v in d["box"])
        cid = classes.index(d["class"]) if d["class"] in classes else 0
        colour = _COLOURS[cid % len(_COLOURS)]
        cv2.rectangle(out, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), colour, 1)
        cv2.putText(out, f"{d['class']} {d['score']:.2f}", (x1, max(8, y1 - 2)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    return out


def detect_video(detector: Any, video: str | Path, out: str | Path, *,
                 settings: PostprocessSettings | None = None, every: int = 1,
                 render: bool = False, watch: Sequence[str] = (), min_frames: int = 3,
                 on_frame: Callable[[int, int, int], None] | None = None,
                 should_cancel: Callable[[], bool] | None = None) -> VideoDetectResult:
    """Detect on every ``every``-th frame of ``video`` and write the files above into ``out``.

    ``on_frame(processed, frames read, total frames)`` after each processed frame.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = settings or detector.settings
    classes = list(detector.classes)
    log = EventLog(list(watch), min_frames) if watch else None
    best_image: dict[str, tuple[np.ndarray, list[dict[str, Any]]]] = {}
    result = VideoDetectResult(jsonl=out / "detections.jsonl")
    infos: list[VideoInfo] = []
    progress = [0, 0]
    writer: Any = None
    snapshots = out / "snapshots"
    events_file = None

    def read_progress(done: int, total: int) -> None:
        progress[:] = [done, total]

    def snapshot(event: dict[str, Any], image: np.ndarray, dets: list[dict[str, Any]]) -> None:
        snapshots.mkdir(exist_ok=True)
        path = snapshots / (f"{Path(video).stem}_{event['frame']:06d}_{event['event']}_"
                            f"{classes.index(event['class']) + 1}.jpg")
        cv2.imwrite(str(path), draw(image, dets, classes),
                    [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        event["snapshot"] = str(path.relative_to(out))

    started = time.perf_counter()
    assert result.jsonl is not None
    with open(result.jsonl, "w", encoding="utf-8") as jsonl:
        if log is not None:
            events_file = open(out / "events.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        try:
            for frame in iter_frames(video, Selection(every=every), on_progress=read_progress,
                                     should_cancel=should_cancel, info_out=infos):
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
                raw = detector.raw_for_array(rgb)
                det = apply(raw, settings, classes, f"{Path(video).stem}_{frame.number:06d}")
                dets = detections_json(det)
                jsonl.write(json.dumps({"frame": frame.number,
                                        "time_s": round(frame.time_s, 6),
                                        "detections": dets}) + "\n")
                result.frames += 1
                result.detections += len(dets)
                if render:
                    if writer is None:
                        info = infos[0]
                        result.rendered = out / f"{Path(video).stem}_detections.mp4"
                        writer = cv2.VideoWriter(str(result.rendered),
                                                 cv2.VideoWriter.fourcc(*"mp4v"),
                                                 max(1.0, info.fps / every),
                                                 (frame.image.shape[1], frame.image.shape[0]))
                        if not writer.isOpened():
                            raise OSError(f"{result.rendered}: OpenCV cannot write an MP4 "
                                          f"(mp4v) here")
                    writer.write(draw(frame.image, dets, classes))
                if log is not None and events_file is not None:
                    events = log.update(frame.number, frame.time_s,
                                        ((d["class"], d["score"]) for d in dets))
                    for cls in log.new_best:
                        best_image[cls] = (frame.image, dets)
                    for event in events:
                        if event["event"] == "appeared":
                            snapshot(event, frame.image, dets)
                        else:
                            snapshot(event, *best_image.get(event["class"], (frame.image, dets)))
                        events_file.write(json.dumps(event) + "\n")
                        events_file.flush()
                if on_frame is not None:
                    on_frame(result.frames, *progress)
            if log is not None and events_file is not None:
                for event in log.finish():
                    snapshot(event, *best_image[event["class"]])
                    events_file.write(json.dumps(event) + "\n")
        finally:
            if writer is not None:
                writer.release()
            if events_file is not None:
                events_file.close()
    result.seconds = time.perf_counter() - started
    result.video = infos[0] if infos else None
    result.events = log.events if log is not None else []
    return result
