"""Video throughput: decode only vs decode + detect (``workbench detect CKPT VIDEO``'s path).

    .venv/bin/python bench/bench_video.py [--quick] [--threads N] [--frames N] [--size WxH]
                                          [--device cpu|cuda] [--out bench/results/video.txt]

The video is drawn by the script (moving coloured shapes on a textured background, MJPG in an
.avi; 640x360, 10 fps, 120 frames by default) so nothing is downloaded. Rows:

* ``decode only`` — :func:`workbench.core.video.iter_frames` over every frame (OpenCV decode,
  BGR → nothing else): the baseline, measured in the same run;
* ``decode + detect, <model>`` — :func:`workbench.engine.video_detect.detect_video` over every
  frame: decode, BGR → RGB, the network in raw mode, post-processing at the checkpoint
  defaults, one JSON line per frame (what ``workbench detect CKPT VIDEO --out DIR`` runs);
  models: the CPU demo detector (``demo_ssdlite_cpu``, 320 px) and torchvision's
  ``ssdlite320_mobilenet_v3_large``, both with **random weights** (built locally, nothing is
  downloaded; weights do not change the cost of a forward pass, only post-processing differs
  slightly with the number of boxes above the score floor);
* ``tracker CSRT, 1 box`` / ``KCF``: :func:`workbench.core.tracking.track_boxes` per frame
  (the GUI's Propagate), decode included.

Each row is the median of ``--repeat`` runs (3; 1 with ``--quick``) after one warm-up frame;
frames/s and the ratio to the decode-only rate.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def write_video(path: Path, frames: int, size: tuple[int, int], fps: float = 10.0) -> Path:
    w, h = size
    rng = np.random.default_rng(0)
    noise = rng.integers(40, 120, (h // 8, w // 8, 1), dtype=np.uint8)
    bg = np.repeat(cv2.resize(noise, (w, h), interpolation=cv2.INTER_NEAREST)[..., None], 3, 2)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise SystemExit("this OpenCV cannot write MJPG .avi")
    for i in range(frames):
        img = bg.copy()
        x = (20 + 7 * i) % (w - 80)
        cv2.rectangle(img, (x, h // 4), (x + 70, h // 4 + 70), (40, 40, 220), -1)
        cv2.circle(img, (w - 60 - (3 * i) % (w - 120), 2 * h // 3), 35, (220, 140, 30), -1)
        writer.write(img)
    writer.release()
    return path


def decode_only(video: Path) -> tuple[int, float]:
    from workbench.core.video import Selection, iter_frames

    start = time.perf_counter()
    n = sum(1 for _ in iter_frames(video, Selection()))
    return n, time.perf_counter() - start


def detect(detector: object, video: Path, out: Path) -> tuple[int, float]:
    from workbench.engine.video_detect import detect_video

    result = detect_video(detector, video, out)
    return result.frames, result.seconds


def track(video: Path, tracker: str) -> tuple[int, float]:
    from workbench.core.tracking import track_boxes
    from workbench.core.video import Selection, iter_frames

    start = time.perf_counter()
    frames = (f.image for f in iter_frames(video, Selection()))
    first = next(frames)
    w = first.shape[1]
    box = (20.0, first.shape[0] / 4, 90.0, first.shape[0] / 4 + 70)
    n = 1
    for _ in track_boxes(first, [box], frames, tracker=tracker, min_confidence=0.0):
        n += 1
    del w
    return n, time.perf_counter() - start


def build(name: str, device: str) -> object:
    from workbench.engine.detectors import build_detector
    from workbench.engine.inference import RawDetector

    classes = ["red", "blue"]
    model, _ = build_detector(name, len(classes) + 1)
    return RawDetector(model, classes, device=device, cache_size=1, name=name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 frames, one run per row")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="also append the table here")
    args = ap.parse_args()
    frames = args.frames or (40 if args.quick else 120)
    repeat = args.repeat or (1 if args.quick else 3)
    w, h = (int(v) for v in args.size.lower().split("x"))

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"bench_video.py  {time.strftime('%Y-%m-%d %H:%M:%S')}  {platform.node()}  "
        f"python {platform.python_version()}  torch {torch.__version__}  "
        f"opencv {cv2.__version__}  threads {torch.get_num_threads()}  "
        f"device {args.device}  load {os.getloadavg()[0]:.2f}")
    say(f"video: {w}x{h}, {frames} frames, MJPG .avi; median of {repeat} run(s)")
    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "bench.avi", frames, (w, h))
        rows: list[tuple[str, float]] = []

        def measure(label: str, fn: object) -> None:
            rates = []
            for i in range(repeat):
                n, seconds = fn(i)  # type: ignore[operator]
                rates.append(n / seconds)
            rows.append((label, statistics.median(rates)))
            print(f"  {label}: {rows[-1][1]:.1f} frames/s", file=sys.stderr, flush=True)

        measure("decode only (baseline)", lambda i: decode_only(video))
        for name in ("demo_ssdlite_cpu", "ssdlite320_mobilenet_v3_large"):
            detector = build(name, args.device)
            rgb = np.zeros((h, w, 3), np.uint8)
            detector.raw_for_array(rgb)  # type: ignore[attr-defined]  # warm-up
            measure(f"decode + detect, {name}",
                    lambda i, d=detector: detect(d, video, Path(tmp) / f"out{i}"))
        for tracker in ("csrt", "kcf"):
            measure(f"tracker {tracker.upper()}, 1 box (decode included)",
                    lambda i, t=tracker: track(video, t))
    base = rows[0][1]
    say()
    say(f"{'pipeline':<52} {'frames/s':>9} {'ms/frame':>9} {'vs decode':>10}")
    for label, rate in rows:
        say(f"{label:<52} {rate:9.1f} {1000 / rate:9.1f} {rate / base:9.3f}x")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
