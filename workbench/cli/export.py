"""``workbench export``: a project as a VOC2007 tree, a COCO ``instances.json`` or YOLO txt.

    workbench export IMAGES_DIR [--annotations DIR] --format voc|coco|yolo --out OUT
                     [--val-fraction 0.2] [--seed 0] [--overwrite]

The train/val split is reproducible by seed. After writing, the export is read back and
compared with what was exported (exit status 1 when it differs; 2 for bad arguments).
See :mod:`workbench.core.export` for the exact layouts.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

INPUT_FORMATS = ("voc", "yolo", "coco", "createml", "labelme")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a project as VOC2007, COCO or YOLO with a seeded train/val split",
        description="Export the annotated images of IMAGES_DIR. voc: JPEGImages/, "
        "Annotations/, ImageSets/Main/{train,val,trainval}.txt; coco: images/ + "
        "instances.json; yolo: images/{train,val}/, labels/{train,val}/, classes.txt, data.yaml.",
    )
    parser.add_argument("images_dir", metavar="IMAGES_DIR")
    parser.add_argument("--annotations", metavar="DIR", default=None,
                        help="folder holding the XML files (default: beside the images)")
    parser.add_argument("--format", required=True, choices=("voc", "coco", "yolo"),
                        help="format to write")
    parser.add_argument("--input-format", choices=INPUT_FORMATS, default=None,
                        help="label format of IMAGES_DIR: voc, yolo, coco, createml or labelme "
                        "(default: detected from the folder's files)")
    parser.add_argument("--out", required=True, metavar="OUT", help="output folder (new or empty)")
    parser.add_argument("--val-fraction", type=float, default=0.2, metavar="F",
                        help="fraction of images in the validation split (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty output folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.export import (
        ExportError,
        export_project,
        pixel_mismatches,
        read_export,
        same_records,
    )
    from workbench.core.outfolder import (
        OutputFolderError, check_output_folder, describe_os_error, remove_created,
    )
    from workbench.core.project import Project

    out = Path(args.out)
    was_empty = out.is_dir() and not any(out.iterdir())
    try:  # a full, read-only or forbidden output folder: one line, before any work
        created = check_output_folder(out)
    except OutputFolderError as exc:
        print(f"workbench export: {exc}", file=sys.stderr)
        return 2
    try:
        project = Project.open(args.images_dir, args.annotations,
                               format=getattr(args, "input_format", None))
        summary = export_project(project, args.out, args.format, val_fraction=args.val_fraction,
                                 seed=args.seed, overwrite=args.overwrite)
    except (FileNotFoundError, ExportError, ValueError) as exc:
        remove_created(created)
        print(f"workbench export: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the disk filled up (or went read-only) during the export
        remove_created(created)
        if was_empty:
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        left = "nothing was kept" if created or was_empty else \
            "the folder may hold a partial export"
        print(f"workbench export: cannot write to {out}: {describe_os_error(exc)}; {left}",
              file=sys.stderr)
        return 2
    for p in summary.problems:
        print(p, file=sys.stderr)
    print(f"exported {summary.images} images, {summary.objects} objects "
          f"({len(summary.classes)} classes) as {args.format} to {summary.out}")
    print(f"split (seed {args.seed}): {len(summary.splits['train'])} train, "
          f"{len(summary.splits['val'])} val")
    if summary.skipped_objects:
        print(f"skipped {summary.skipped_objects} objects with errors (see above)")
    if summary.rotated_images or summary.transcoded_images:
        print(f"{summary.rotated_images} images rotated per EXIF, "
              f"{summary.transcoded_images} converted to JPEG")
    yolo = args.format == "yolo"
    back = read_export(summary.out, args.format)
    if not same_records(summary.source, back, tol=0.01 if yolo else 1e-9,
                        compare_difficult=not yolo):
        print("workbench export: the export does not read back identically", file=sys.stderr)
        return 1
    mismatches = pixel_mismatches(summary)  # sizes and means of the written images
    for line in mismatches:
        print(f"workbench export: pixels differ: {line}", file=sys.stderr)
    if mismatches:
        return 1
    print("read back: identical (boxes; image sizes and pixel means)")
    return 0
