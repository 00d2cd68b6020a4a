"""``workbench frames VIDEO --out DIR``: turn a video into a folder of JPEG frames to label.

Keeps every frame, or ``--every N`` (every Nth), ``--fps F`` (a target rate) or ``--scene``
(scene changes: the mean absolute difference of consecutive grey frames shrunk to 64x36,
0-255 scale, above ``--scene-threshold``, default 30), within ``--start``/``--end`` (seconds or
M:SS; end exclusive), at most ``--max N`` frames. ``--skip-duplicates`` drops a frame whose
difference to the last kept frame is at or below ``--dup-threshold`` (default 2).

Images are named ``<video stem>_<frame:06d>.jpg`` (the frame number in the video); a file
already there is never overwritten (a re-run writes only what is missing) and ``DIR/frames.json``
records the video, frame number and time of each image. Exit status 2: a video OpenCV cannot
open, bad options or output folder. Full rules: ``workbench/core/video.py``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _time(text: str) -> float:
    from workbench.core.video import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "frames", help="extract frames of a video into a folder of images",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", metavar="VIDEO", help="a video file OpenCV reads (mp4, avi, ...)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    rule = p.add_mutually_exclusive_group()
    rule.add_argument("--every", type=int, metavar="N", help="keep every Nth frame")
    rule.add_argument("--fps", type=float, metavar="F", help="keep F frames per second")
    rule.add_argument("--scene", action="store_true", help="keep scene changes")
    p.add_argument("--scene-threshold", type=float, default=None, metavar="T",
                   help="mean absolute grey difference (0-255) that makes a cut (default 30)")
    p.add_argument("--start", type=_time, default=0.0, metavar="T", help="from T seconds")
    p.add_argument("--end", type=_time, default=None, metavar="T",
                   help="up to T seconds (exclusive)")
    p.add_argument("--max", type=int, default=None, metavar="N", dest="max_frames",
                   help="at most N frames (those already in DIR count)")
    p.add_argument("--skip-duplicates", action="store_true",
                   help="drop frames nearly identical to the last kept one")
    p.add_argument("--dup-threshold", type=float, default=None, metavar="D",
                   help="mean absolute grey difference at or below which a frame is a "
                   "duplicate (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.outfolder import (
        OutputFolderError, check_output_folder, describe_os_error, remove_created,
    )
    from workbench.core.video import (
        DEFAULT_DUP_THRESHOLD, DEFAULT_SCENE_THRESHOLD, Progress, Selection, VideoError,
        extract_frames,
    )

    def fail(message: str) -> int:
        print(f"workbench frames: {message}", file=sys.stderr)
        return 2

    if args.scene_threshold is not None and not args.scene:
        return fail("--scene-threshold needs --scene")
    if args.dup_threshold is not None and not args.skip_duplicates:
        return fail("--dup-threshold needs --skip-duplicates")
    try:
        selection = Selection(
            every=args.every, fps=args.fps,
            scene=(args.scene_threshold if args.scene_threshold is not None
                   else DEFAULT_SCENE_THRESHOLD) if args.scene else None,
            start=args.start, end=args.end, max_frames=args.max_frames,
            skip_duplicates=args.skip_duplicates,
            dup_threshold=(DEFAULT_DUP_THRESHOLD if args.dup_threshold is None
                           else args.dup_threshold))
    except ValueError as exc:
        return fail(str(exc))
    try:
        created = check_output_folder(args.out)
    except OutputFolderError as exc:
        return fail(str(exc))
    progress = Progress(lambda line: print(line, file=sys.stderr, flush=True))
    try:
        result = extract_frames(args.video, args.out, selection,
                                on_progress=lambda done, total: progress(done, total))
    except (VideoError, ValueError) as exc:
        remove_created(created)
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write to {args.out}: {describe_os_error(exc)}")
    except KeyboardInterrupt:
        print("workbench frames: cancelled; the frames written so far are kept", file=sys.stderr)
        return 130
    info = result.video
    length = (f" ({info.frame_count} frames, {info.fps:g} fps, {info.width}x{info.height})"
              if info else "")
    print(f"{args.video}{length}: {len(result.written)} new images in {args.out}, "
          f"{len(result.existing)} already there"
          + (f", {result.duplicates} near-duplicates skipped" if result.duplicates else ""))
    return 0
