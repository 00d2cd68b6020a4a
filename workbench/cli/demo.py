"""``workbench demo``: write the generated sample project (no downloads, deterministic by seed).

    workbench demo [DIR] [--images N] [--seed S] [--val-fraction F]

DIR defaults to ``./workbench-sample``. It gets ``images/`` (JPEG), ``annotations/`` (VOC XML),
``classes.txt`` and ``ImageSets/Main/{train,val}.txt``; see :mod:`workbench.core.synth`.
Then, for example::

    workbench train DIR --model demo_ssdlite_cpu --epochs 40 --batch-size 8 --lr 0.003 --out DIR/runs/demo
    workbench            # and open DIR/images in the window
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_DIR = "workbench-sample"


def register(subparsers: argparse._SubParsersAction) -> None:
    from workbench.core.synth import CLASSES, DEFAULT_IMAGES, VAL_FRACTION

    parser = subparsers.add_parser(
        "demo",
        help="write a generated sample project (photo-like scenes with VOC boxes)",
        description="Write a sample project of generated photo-like scenes with PASCAL VOC "
        f"boxes of {len(CLASSES)} classes ({', '.join(CLASSES)}), a classes file and a "
        "train/val split. The same seed always gives the same files.",
    )
    parser.add_argument("dir", nargs="?", default=DEFAULT_DIR, metavar="DIR",
                        help=f"output folder (default: ./{DEFAULT_DIR})")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES, metavar="N",
                        help=f"number of images (default: {DEFAULT_IMAGES})")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default: 0)")
    parser.add_argument("--val-fraction", type=float, default=VAL_FRACTION, metavar="F",
                        help=f"share of images in the val split (default: {VAL_FRACTION})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.core.synth import generate_project

    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        print(f"workbench demo: {out} exists and is not a folder", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        project = generate_project(out, num_images=args.images, seed=args.seed,
                                   val_fraction=args.val_fraction)
    except ValueError as exc:
        print(f"workbench demo: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"workbench demo: cannot write {out}: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    n = len(project.train_ids) + len(project.val_ids)
    print(f"wrote {n} images ({len(project.train_ids)} train, {len(project.val_ids)} val) "
          f"to {project.root} in {elapsed:.1f} s")
    print(f"  images:      {project.images_dir}")
    print(f"  annotations: {project.annotations_dir}")
    print(f"  classes:     {project.classes_file}")
    print(f"  split:       {project.root / 'ImageSets' / 'Main'}/{{train,val}}.txt")
    return 0
