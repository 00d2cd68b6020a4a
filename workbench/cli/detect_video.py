"""``workbench detect CKPT VIDEO --out DIR``: the video half of ``workbench detect``.

``workbench detect`` hands its arguments here when its only input is a video (a suffix in
:data:`workbench.core.video.VIDEO_SUFFIXES`). Writes ``DIR/detections.jsonl`` (one line per
processed frame: ``{"frame", "time_s", "detections": [{"class", "score", "box"}]}``, boxes as
pixel-edge ``xyxy`` floats), with ``--render`` an MP4 with the boxes drawn, and with
``--watch CLASS[,CLASS] --min-frames K`` an event log ``DIR/events.jsonl`` plus
``DIR/snapshots/*.jpg`` (rule: :mod:`workbench.core.video_events`). Prints frames/s at the end.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

VIDEO_OPTIONS = ("every", "render", "watch", "min_frames")


def add_video_arguments(p: Any) -> None:
    g = p.add_argument_group("video input (a single .mp4 .avi .mov .mkv .webm file)")
    g.add_argument("--every", type=int, default=None, metavar="N",
                   help="detect on every Nth frame (default 1)")
    g.add_argument("--render", action="store_true",
                   help="also write an MP4 of the processed frames with the boxes drawn")
    g.add_argument("--watch", default=None, metavar="CLASS[,CLASS]",
                   help="write events.jsonl: when a watched class appears and leaves")
    g.add_argument("--min-frames", type=int, default=None, metavar="K",
                   help="consecutive processed frames that make an appearance or a leaving "
                   "(default 3)")


def is_video_input(inputs: Sequence[str]) -> bool:
    from workbench.core.video import is_video_path

    return len(inputs) == 1 and is_video_path(inputs[0])


def image_input_error(args: argparse.Namespace) -> str | None:
    """The message when a video-only option is given with image inputs, else None."""
    used = [f"--{name.replace('_', '-')}" for name in VIDEO_OPTIONS
            if getattr(args, name, None) not in (None, False)]
    if used:
        return f"{', '.join(used)} apply to a video input only (one .mp4/.avi/... file)"
    return None


def run_video(args: argparse.Namespace) -> int:
    from workbench.core.outfolder import (
        OutputFolderError, check_output_folder, describe_os_error, remove_created,
    )
    from workbench.core.video import Progress, VideoError, open_video
    from workbench.core.video_events import parse_watch

    def fail(message: str) -> int:
        print(f"workbench detect: {message}", file=sys.stderr)
        return 2

    video = args.inputs[0]
    if getattr(args, "tile", None) is not None:
        return fail("--tile is not supported for a video input")
    if getattr(args, "format", "json") != "json":
        return fail("a video input writes detections.jsonl; --format applies to images")
    every = 1 if args.every is None else args.every
    if every < 1:
        return fail(f"--every must be 1 or more, not {every}")
    min_frames = 3 if args.min_frames is None else args.min_frames
    if min_frames < 1:
        return fail(f"--min-frames must be 1 or more, not {min_frames}")
    if args.min_frames is not None and args.watch is None:
        return fail("--min-frames needs --watch")
    try:
        cap, _ = open_video(video)  # a bad video: one line, before the model is loaded
        cap.release()
    except VideoError as exc:
        return fail(str(exc))
    try:
        created = check_output_folder(args.out)
    except OutputFolderError as exc:
        return fail(str(exc))

    from workbench.engine.events import CheckpointError, ConfigError
    from workbench.engine.inference import RawDetector
    from workbench.engine.video_detect import detect_video

    try:
        detector = RawDetector.from_checkpoint(args.checkpoint, device=args.device, cache_size=1)
        changes = {k: v for k, v in (("score_threshold", args.score), ("nms_iou", args.nms),
                                     ("top_k", args.top_k),
                                     ("class_agnostic", args.class_agnostic)) if v is not None}
        settings = detector.settings.replace(**changes)
        watch = parse_watch(args.watch, detector.classes) if args.watch is not None else []
    except (ValueError, CheckpointError, ConfigError) as exc:
        remove_created(created)
        return fail(str(exc))
    s = settings
    print(f"{detector.name} on {video} ({detector.device}), every {every} frame(s); score > "
          f"{s.score_threshold:g}, NMS IoU {s.nms_iou:g}"
          f"{' class-agnostic' if s.class_agnostic else ''}, top-k {s.top_k}", file=sys.stderr)
    progress = Progress(lambda line: print(line, file=sys.stderr, flush=True))
    try:
        result = detect_video(detector, video, args.out, settings=settings, every=every,
                              render=args.render, watch=watch, min_frames=min_frames,
                              on_frame=lambda n, done, total: progress(
                                  done, total, f"{n} processed"))
    except VideoError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write to {args.out}: {describe_os_error(exc)}")
    summary = (f"{result.detections} detections in {result.frames} frames written to "
               f"{result.jsonl}; {result.frames_per_s:.1f} frames/s (decode + detect)")
    if result.rendered is not None:
        summary += f"; video: {result.rendered}"
    if watch:
        summary += f"; {len(result.events)} events in events.jsonl"
    print(summary)
    return 0
