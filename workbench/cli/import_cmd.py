"""``workbench import``: a YOLO, COCO, CreateML, labelme (or VOC) dataset as a VOC tree.

    workbench import SRC --out DST [--format voc|yolo|coco|createml|labelme]
                     [--annotations PATH] [--copy | --link]

Writes ``DST/JPEGImages/``, ``DST/Annotations/*.xml`` (LabelImg-compatible),
``DST/ImageSets/Main/<split>.txt`` from the source's split and ``DST/classes.txt``; DST must be
new or empty. Images are never moved: by default hard-linked when SRC and DST share a file
system, else copied; ``--copy`` always copies, ``--link`` hard-links (a symbolic link across
file systems). Afterwards the VOC tree is read back and compared with the source: exit 0 only
when it reads back identical (boxes within VOC's 1 px integer grid), 1 when it differs, 2 when
nothing could be imported. See :mod:`workbench.core.importing`.
"""

from __future__ import annotations

import argparse
import sys

#: The sub-command's name (the module cannot be called ``import``).
NAME = "import"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="convert a YOLO / COCO / CreateML / labelme dataset to a VOC tree and verify it",
        description="Convert the dataset in SRC (format detected, or --format) to a PASCAL "
        "VOC tree in DST: JPEGImages/, Annotations/, ImageSets/Main/<split>.txt, classes.txt. "
        "Images are hard-linked when possible, else copied (never moved). The result is read "
        "back and compared with the source.",
    )
    parser.add_argument("src", metavar="SRC", help="the dataset folder")
    parser.add_argument("--out", required=True, metavar="DST",
                        help="output folder (new or empty, outside SRC)")
    parser.add_argument("--format", default=None,
                        choices=("voc", "yolo", "coco", "createml", "labelme"),
                        help="the source's label format (default: detected)")
    parser.add_argument("--annotations", metavar="PATH", default=None,
                        help="where the labels are when not where the layout puts them "
                        "(YOLO labels folder, COCO/CreateML JSON, labelme folder)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--copy", dest="mode", action="store_const", const="copy",
                     help="copy the images")
    how.add_argument("--link", dest="mode", action="store_const", const="link",
                     help="hard-link the images (symbolic links across file systems)")
    parser.set_defaults(func=run, mode="auto")


def run(args: argparse.Namespace) -> int:
    from workbench.core.importing import ImportError_, import_dataset

    last = [-1]

    def progress(done: int, total: int, _name: str) -> None:
        pct = done * 100 // total
        if pct != last[0] and (pct % 10 == 0 or done == total):
            last[0] = pct
            print(f"\rimporting: {done}/{total} images", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)

    try:
        summary = import_dataset(args.src, args.out, format=args.format,
                                 annotations=args.annotations, mode=args.mode,
                                 progress=progress if sys.stderr.isatty() else None)
    except (ImportError_, OSError, ValueError) as exc:
        print(f"workbench import: {exc}", file=sys.stderr)
        return 2
    for p in summary.problems:
        print(p, file=sys.stderr)
    how = ", ".join(f"{n} {what}" for n, what in ((summary.linked, "hard-linked"),
                                                  (summary.symlinked, "symlinked"),
                                                  (summary.copied, "copied")) if n)
    print(f"imported {summary.images} images ({summary.annotated} annotated, "
          f"{summary.objects} objects, {len(summary.classes)} classes) from "
          f"{summary.format.upper()} ({summary.layout}) to {summary.out}")
    print(f"images: {how or 'none'}")
    if summary.splits:
        print("splits: " + ", ".join(f"{k} {len(v)}" for k, v in summary.splits.items()))
    if summary.skipped_objects:
        print(f"skipped {summary.skipped_objects} objects with errors (see above)")
    if not summary.identical:
        for line in summary.differences[:20]:
            print(line, file=sys.stderr)
        if len(summary.differences) > 20:
            print(f"… {len(summary.differences) - 20} more", file=sys.stderr)
        print(f"read back: {len(summary.differences)} difference(s)")
        return 1
    print("read back: identical")
    return 0
