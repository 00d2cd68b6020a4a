"""``workbench gui [IMAGES_DIR] [--annotations DIR] [--screenshot PNG]`` — the labeling window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gui", help="open the labeling window",
        description="Open the labeling window on a folder of images (VOC XML beside the images "
        "or in --annotations). With --screenshot, render the window to a PNG and exit.")
    p.add_argument("images_dir", nargs="?", type=Path, help="folder of images")
    p.add_argument("--annotations", type=Path, metavar="DIR",
                   help="folder of the VOC XML files (default: beside the images; created if "
                   "missing)")
    p.add_argument("--format", default=None,
                   choices=("voc", "yolo", "coco", "createml", "labelme"),
                   help="label format of IMAGES_DIR (default: detected from its files)")
    p.add_argument("--screenshot", type=Path, metavar="PNG",
                   help="render the whole window (1440x900) to PNG and exit 0")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.images_dir is not None and not args.images_dir.is_dir():
        print(f"workbench gui: {args.images_dir}: not a folder", file=sys.stderr)
        return 2
    if args.annotations is not None:
        if args.annotations.exists() and not args.annotations.is_dir():
            print(f"workbench gui: {args.annotations}: not a folder", file=sys.stderr)
            return 2
        args.annotations.mkdir(parents=True, exist_ok=True)  # LabelImg's "change save dir"
    if args.screenshot is not None:
        from workbench.core.outfolder import OutputFolderError, check_output_folder

        try:  # a full, read-only or forbidden folder: one line, before the window is built
            check_output_folder(args.screenshot.parent)
        except OutputFolderError as exc:
            print(f"workbench gui: {exc}", file=sys.stderr)
            return 2
    from workbench.gui.app import run_gui

    if getattr(args, "format", None) is not None and args.images_dir is not None:
        from workbench.gui.project_ops import set_format_override

        set_format_override(args.images_dir, args.format)

    existed = args.screenshot is not None and args.screenshot.exists()
    try:
        return run_gui(args.images_dir, args.annotations, args.screenshot)
    except OSError as exc:
        if args.screenshot is None:
            raise
        from workbench.core.outfolder import describe_os_error

        if not existed:
            args.screenshot.unlink(missing_ok=True)
        print(f"workbench gui: cannot write {args.screenshot}: {describe_os_error(exc)}",
              file=sys.stderr)
        return 2
