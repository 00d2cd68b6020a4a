"""``workbench yolo-targets``: the YOLO grid targets of one image's ground truth.

    workbench yolo-targets IMAGE [--annotations XML] --grid N [--json]

JSON: ``{"grid": N, "width": W, "height": H, "cells": [{"row": r, "col": c, "class": name,
"pc": 1, "bx": f, "by": f, "bw": f, "bh": f, "conflict": bool}]}``, one entry per box, sorted by
row, column, then annotation order (see :mod:`workbench.core.yolo_targets` for the formulas and
which claimant of a conflicting cell a YOLOv1 target keeps: the last). ``W x H`` is the image's
displayed size. Without ``--annotations`` the VOC file is looked up as a labeled folder keeps
it: ``STEM.xml`` beside the image, then in an ``annotations``/``Annotations`` folder inside the
image's folder, then beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_ANN_DIRS = ("annotations", "Annotations")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "yolo-targets",
        help="YOLO grid targets [pc, bx, by, bw, bh, class] of an image's VOC boxes",
        description="Assign each ground-truth box to the grid cell holding its centre and print "
        "the cell's YOLO target: bx, by the centre's offset in the cell (0-1), bw, bh the box "
        "size relative to the cell size. Cells claimed by two or more centres are flagged.",
    )
    parser.add_argument("image", type=Path, metavar="IMAGE")
    parser.add_argument("--annotations", type=Path, metavar="XML",
                        help="VOC XML of the image (default: found as a labeled folder keeps it)")
    parser.add_argument("--grid", type=int, required=True, metavar="N", help="grid size N (NxN)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def default_xml(image: Path) -> Path | None:
    """The VOC file of ``image`` where a labeled folder keeps it, or None."""
    name = image.stem + ".xml"
    candidates = [image.with_name(name)]
    candidates += [image.parent / d / name for d in _ANN_DIRS]
    candidates += [image.parent.parent / d / name for d in _ANN_DIRS]
    return next((p for p in candidates if p.is_file()), None)


def run(args: argparse.Namespace) -> int:
    from workbench.core.imageinfo import ImageReadError, image_size
    from workbench.core.voc import VocError, read_annotation
    from workbench.core.yolo_targets import format_table, yolo_targets

    if args.grid < 1:
        print(f"workbench yolo-targets: --grid must be at least 1, got {args.grid}",
              file=sys.stderr)
        return 2
    try:
        size = image_size(args.image)
    except (ImageReadError, OSError) as exc:
        print(f"workbench yolo-targets: {exc}", file=sys.stderr)
        return 2
    xml = args.annotations if args.annotations is not None else default_xml(args.image)
    if xml is None:
        print(f"workbench yolo-targets: no VOC annotation found for {args.image}; "
              "give --annotations XML", file=sys.stderr)
        return 2
    try:
        annotation, _problems = read_annotation(xml)
    except (VocError, OSError) as exc:
        print(f"workbench yolo-targets: {exc}", file=sys.stderr)
        return 2
    boxes = [o.box for o in annotation.objects]
    names = [o.name for o in annotation.objects]
    targets = yolo_targets(size.width, size.height, boxes, names, args.grid)
    if args.json:
        print(json.dumps(targets.to_json(), indent=2))
    else:
        print(format_table(targets))
    return 0
