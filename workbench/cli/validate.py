"""``workbench validate``: counts and every problem of a labeling project.

    workbench validate IMAGES_DIR [--annotations DIR] [--format FMT] [--json]

The label format (VOC XML, YOLO txt, COCO / CreateML / labelme JSON) is detected from the
folder's files unless ``--format`` names it; a folder holding several formats is reported.

Prints a readable summary (counts, objects per class, a table of problems), or with
``--json`` exactly ``{"images": int, "annotated": int, "objects": int, "per_class":
{name: int}, "problems": [{"file": str, "object": int|null, "severity": "error"|"warning",
"message": str}]}``. Exit status 1 when any problem is an error, 2 when the folder is
missing, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys

from workbench.core.formats.model import FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a folder of images and VOC XML: counts and every problem",
        description="Scan IMAGES_DIR (XML beside the images, a VOC root, or --annotations DIR) "
        "and report counts and every problem. Exit status 1 when there is an error.",
    )
    parser.add_argument("images_dir", metavar="IMAGES_DIR")
    parser.add_argument("--annotations", metavar="DIR", default=None,
                        help="folder holding the XML files (default: beside the images)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="label format: voc, yolo, coco, createml or labelme (default: "
                        "detected from the folder's files)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--decode-all", action="store_true",
                        help="decode every image (complete JPEG/PNG files are otherwise "
                             "judged from their header and end marker)")
    parser.set_defaults(func=run)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths)),
            *(fmt.format(*r) for r in rows)]


def run(args: argparse.Namespace) -> int:
    from workbench.core.project import Project
    from workbench.core.validate import validate_project

    try:
        project = Project.open(args.images_dir, args.annotations, format=args.format)
    except (FileNotFoundError, ValueError) as exc:
        print(f"workbench validate: {exc}", file=sys.stderr)
        return 2
    report = validate_project(project, decode_all=args.decode_all)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(f"project    {project.root}  ({project.layout} layout)")
        print(f"images     {report.images}")
        print(f"annotated  {report.annotated}")
        print(f"objects    {report.objects}")
        if report.per_class:
            print()
            print("\n".join(_table([(n, str(c)) for n, c in report.per_class.items()],
                                   ("class", "objects"))))
        print()
        if report.problems:
            rows = [(p.severity, p.file, "" if p.object is None else str(p.object), p.message)
                    for p in report.problems]
            print("\n".join(_table(rows, ("severity", "file", "object", "message"))))
            print()
        print(f"{report.errors} errors, {report.warnings} warnings")
    return 1 if report.errors else 0
