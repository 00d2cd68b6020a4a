"""Decode a video with OpenCV and pick frames from it (``workbench frames``; no Qt, no torch).

Frame numbers are 0-based positions in the decoded stream; a frame's time is
``frame / fps`` seconds (the container's nominal rate).

Selection rules (one of them; :class:`Selection`):

* ``every=N``: frames ``first, first+N, first+2N …`` where ``first`` is the first frame in the
  ``--start``/``--end`` range (frame 0 without ``--start``).
* ``fps=F``: frame ``n`` is kept when ``floor(n·F/fps)`` differs from ``floor((n−1)·F/fps)``
  (and the first frame of the range is always kept): the first frame at or after each tick
  ``k/F`` s. A 10 fps video at ``F=2.5`` keeps frames 0, 4, 8 … A rate at or above the video's
  keeps every frame.
* ``scene=T``: a *scene change*: every frame is turned grey and shrunk to :data:`DIFF_SIZE`
  (area interpolation); frame ``n`` is kept when the **mean absolute difference** of its small
  grey image and frame ``n−1``'s (0–255 scale) is **above T** (default
  :data:`DEFAULT_SCENE_THRESHOLD`). The first frame of the range is always kept (it opens the
  first scene).

Range: frames with ``start <= time < end`` (seconds; ``end`` exclusive).

Near-duplicates (``skip_duplicates``): a selected frame is dropped when the mean absolute
difference between its small grey image and the **last kept** frame's is **at or below D**
(default :data:`DEFAULT_DUP_THRESHOLD`) — a static camera gives one image, not thousands;
slow drift still adds a frame once it has moved far enough from the last one kept.

``max_frames``: at most N frames are kept, frames already on disk included (a re-run with the
same options keeps the same frames and writes nothing).

Output: ``<video stem>_<frame:06d>.jpg`` (the source frame number); a file already there is
never overwritten (it is counted as *existing*), and ``frames.json`` in the folder records, per
image, the video it came from, its frame number and time (merged with what is there)::

    {"format": "workbench-frames/1",
     "frames": {"clip_000014.jpg": {"video": "/abs/clip.avi", "frame": 14, "time_s": 1.4}}}

(The key is ``frames``, not ``images``: a JSON object with an ``images`` key is what the
project's format detection takes for a COCO file.) :func:`frame_source` reads one entry back.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from workbench.core.atomic import atomic_write_text

#: Size (width, height) the frames are shrunk to before comparing them.
DIFF_SIZE = (64, 36)
DEFAULT_SCENE_THRESHOLD = 30.0
DEFAULT_DUP_THRESHOLD = 2.0
#: Suffixes treated as videos (``workbench detect`` routes them to the video path).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
FRAMES_JSON = "frames.json"
FRAMES_FORMAT = "workbench-frames/1"
JPEG_QUALITY = 95


class VideoError(ValueError):
    """A video OpenCV cannot open or decode; the message names the file."""


def is_video_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    fps: float
    frame_count: int  #: the container's count; 0 when unknown (it may be approximate)
    width: int
    height: int

    def time_of(self, frame: int) -> float:
        return frame / self.fps


def open_video(path: str | os.PathLike[str]) -> tuple[Any, VideoInfo]:
    """``(cv2.VideoCapture, VideoInfo)``; :class:`VideoError` naming the file otherwise."""
    p = Path(path)
    if not p.is_file():
        raise VideoError(f"{p}: no such file")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{p}: OpenCV cannot open this file as a video (OpenCV "
                         f"{cv2.__version__}; it reads what its FFmpeg build reads, usually "
                         f"{', '.join(VIDEO_SUFFIXES[:5])})")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not math.isfinite(fps) or fps <= 0:
        fps = 25.0  # no rate in the container: the common default, times are then nominal
    info = VideoInfo(p, fps, max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
                     int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return cap, info


def small_grey(image_bgr: np.ndarray) -> np.ndarray:
    """The frame as compared by the scene and duplicate rules: grey, :data:`DIFF_SIZE`, float32."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY) if image_bgr.ndim == 3 else image_bgr
    return cv2.resize(grey, DIFF_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def parse_time(text: str) -> float:
    """Seconds from ``12.5``, ``1:05`` or ``1:02:03.5``; ``ValueError`` otherwise."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or any(not p for p in parts):
        raise ValueError(f"not a time: {text!r} (seconds, M:SS or H:MM:SS)")
    value = 0.0
    for part in parts:
        try:
            number = float(part)
        except ValueError:
            raise ValueError(f"not a time: {text!r} (seconds, M:SS or H:MM:SS)") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"not a time: {text!r}")
        value = value * 60 + number
    return value


@dataclass(frozen=True)
class Selection:
    """Which frames to keep; at most one of ``every``/``fps``/``scene`` (none: every frame)."""

    every: int | None = None
    fps: float | None = None
    scene: float | None = None
    start: float = 0.0
    end: float | None = None
    max_frames: int | None = None
    skip_duplicates: bool = False
    dup_threshold: float = DEFAULT_DUP_THRESHOLD

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.every, self.fps, self.scene)) > 1:
            raise ValueError("choose one of --every, --fps and --scene")
        if self.every is not None and self.every < 1:
            raise ValueError(f"--every must be 1 or more, not {self.every}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"--fps must be above 0, not {self.fps}")
        if self.scene is not None and not (math.isfinite(self.scene) and self.scene >= 0):
            raise ValueError(f"--scene-threshold must be 0 or more, not {self.scene}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"--end ({self.end:g} s) must be after --start ({self.start:g} s)")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"--max must be 1 or more, not {self.max_frames}")
        if not (math.isfinite(self.dup_threshold) and self.dup_threshold >= 0):
            raise ValueError(f"--dup-threshold must be 0 or more, not {self.dup_threshold}")

    @property
    def needs_every_frame(self) -> bool:
        """Whether every frame must be decoded (not just grabbed) to apply the rule."""
        return self.scene is not None

    def rate_tick(self, frame: int, video_fps: float) -> int:
        assert self.fps is not None
        return math.floor(frame * self.fps / video_fps + 1e-9)


@dataclass(frozen=True)
class Frame:
    number: int
    time_s: float
    image: np.ndarray  #: BGR uint8, as OpenCV decodes


ProgressFn = Callable[[int, int], None]  # (frames read so far, frames in range or 0)


def iter_frames(path: str | os.PathLike[str], selection: Selection, *,
                on_progress: ProgressFn | None = None,
                should_cancel: Callable[[], bool] | None = None,
                info_out: list[VideoInfo] | None = None) -> Iterator[Frame]:
    """The frames ``selection`` keeps (before the duplicate rule and ``max_frames``), decoded.

    Frames not kept are only grabbed (not decoded to pixels) unless the rule needs them.
    ``on_progress(read, total)`` is called after each frame read; ``should_cancel()`` → stop.
    """
    cap, info = open_video(path)
    if info_out is not None:
        info_out.append(info)
    try:
        first = math.ceil(selection.start * info.fps - 1e-9)
        last = (math.ceil(selection.end * info.fps - 1e-9) if selection.end is not None
                else None)  # exclusive
        total = info.frame_count
        if last is not None:
            total = min(total, last) if total else last
        total = max(0, total - first) if total else 0
        n = 0
        while n < first:  # seeking by frame number is not exact in every container: grab
            if not cap.grab():
                return
            n += 1
        prev_small: np.ndarray | None = None
        read = 0
        while last is None or n < last:
            if should_cancel is not None and should_cancel():
                return
            if not cap.grab():
                break
            keep = n == first
            if selection.every is not None:
                keep = (n - first) % selection.every == 0
            elif selection.fps is not None:
                keep = keep or (selection.rate_tick(n, info.fps)
                                != selection.rate_tick(n - 1, info.fps))
            elif selection.scene is None:
                keep = True
            image = None
            if keep or selection.needs_every_frame:
                ok, image = cap.retrieve()
                if not ok or image is None:
                    if n == first and read == 0:
                        raise VideoError(f"{info.path}: OpenCV opened the file but cannot "
                                         f"decode its frames")
                    break
            if selection.scene is not None and image is not None:
                small = small_grey(image)
                if prev_small is not None:
                    keep = keep or mean_abs_diff(small, prev_small) > selection.scene
                prev_small = small
            read += 1
            if keep and image is not None:
                yield Frame(n, info.time_of(n), image)
            if on_progress is not None:
                on_progress(read, total)
            n += 1
        if read == 0 and first == 0:
            raise VideoError(f"{info.path}: OpenCV opened the file but decoded no frames")
    finally:
        cap.release()


def frame_name(video: str | os.PathLike[str], frame: int) -> str:
    return f"{Path(video).stem}_{frame:06d}.jpg"


@dataclass
class ExtractResult:
    video: VideoInfo | None = None
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)  #: selected, already on disk
    duplicates: int = 0  #: selected frames dropped as near-duplicates
    cancelled: bool = False

    @property
    def kept(self) -> int:
        return len(self.written) + len(self.existing)


def load_frames_json(folder: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(folder) / FRAMES_JSON
    if not path.is_file():
        return {"format": FRAMES_FORMAT, "frames": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read it ({exc}); move it aside to start a new one"
                         ) from None
    if isinstance(data, dict) and "frames" not in data and isinstance(data.get("images"), dict):
        data["frames"] = data.pop("images")  # written before the key was renamed
    if not isinstance(data, dict) or not isinstance(data.get("frames"), dict):
        raise ValueError(f"{path}: not a {FRAMES_FORMAT} file; move it aside to start a new one")
    return data


@dataclass(frozen=True)
class FrameSource:
    """Where a frame image came from (``frames.json``)."""

    video: Path
    frame: int
    time_s: float


def frame_source(image: str | os.PathLike[str]) -> FrameSource | None:
    """The video and frame ``image`` was extracted from, from ``frames.json`` beside it; None
    when the folder has no (readable) record of it."""
    path = Path(image)
    try:
        entry = load_frames_json(path.parent)["frames"].get(path.name)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    try:
        return FrameSource(Path(str(entry["video"])), int(entry["frame"]),
                           float(entry.get("time_s", 0.0)))
    except (KeyError, TypeError, ValueError):
        return None


def _write_jpeg_new(path: Path, image: np.ndarray) -> bool:
    """Write ``image`` to ``path`` unless a file is there; False when one was (never overwrite)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"{path}: JPEG encoding failed")
    try:
        with open(path, "xb") as fh:  # "x": fails when the file exists, even in a race
            fh.write(data.tobytes())
    except FileExistsError:
        return False
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


def extract_frames(video: str | os.PathLike[str], out: str | os.PathLike[str],
                   selection: Selection, *, on_progress: ProgressFn | None = None,
                   should_cancel: Callable[[], bool] | None = None) -> ExtractResult:
    """Write the selected frames of ``video`` into ``out`` as JPEGs and record them in
    ``frames.json``. See the module docstring for the rules."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record = load_frames_json(out)  # a broken frames.json stops us before any decoding
    images: dict[str, Any] = record.setdefault("frames", {})
    result = ExtractResult()
    infos: list[VideoInfo] = []
    last_kept: np.ndarray | None = None
    source = str(Path(video).resolve())
    try:
        for frame in iter_frames(video, selection, on_progress=on_progress,
                                 should_cancel=should_cancel, info_out=infos):
            if selection.skip_duplicates:
                small = small_grey(frame.image)
                if last_kept is not None and (mean_abs_diff(small, last_kept)
                                              <= selection.dup_threshold):
                    result.duplicates += 1
                    continue
                last_kept = small
            target = out / frame_name(video, frame.number)
            if target.exists() or not _write_jpeg_new(target, frame.image):
                result.existing.append(target)
            else:
                result.written.append(target)
            images[target.name] = {"video": source, "frame": frame.number,
                                   "time_s": round(frame.time_s, 6)}
            if selection.max_frames is not None and result.kept >= selection.max_frames:
                break
        else:
            result.cancelled = bool(should_cancel and should_cancel())
    finally:
        result.video = infos[0] if infos else None
        if result.written or result.existing:
            record["format"] = FRAMES_FORMAT
            record["frames"] = dict(sorted(images.items()))
            atomic_write_text(out / FRAMES_JSON, json.dumps(record, indent=1) + "\n")
    return result


class Progress:
    """``frame 120/600 (20%), 14 images, 3.1 s left``: a throttled line-writer with an ETA."""

    def __init__(self, write: Callable[[str], None], every_s: float = 0.5) -> None:
        self.write = write
        self.every_s = every_s
        self.started = time.monotonic()
        self._last = -math.inf

    def line(self, done: int, total: int, extra: str = "") -> str:
        elapsed = time.monotonic() - self.started
        if total > 0:
            pct = min(100.0, 100.0 * done / total)
            eta = elapsed / done * max(0, total - done) if done else math.nan
            left = f", {eta:.0f} s left" if math.isfinite(eta) else ""
            text = f"frame {done}/{total} ({pct:.0f}%){left}"
        else:
            text = f"frame {done}, {elapsed:.0f} s"
        return text + (f", {extra}" if extra else "")

    def __call__(self, done: int, total: int, extra: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.every_s:
            self._last = now
            self.write(self.line(done, total, extra))
