"""``workbench proposals``: selective-search region proposals for one image, with recall.

    workbench proposals IMAGE [--annotations XML] [--mode single|fast|quality] [--top N] [--json]

JSON: ``{"count": int, "seconds": float, "recall": {"0.5": float, "0.7": float}, "mabo": float}``.
``seconds`` is the wall time from the decoded image to the final proposal list, every resize
and filter included. Recall and MABO (mean best overlap) are against the XML's boxes, after the
filters and ``--top``; they are ``null`` without ``--annotations``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "proposals",
        help="selective-search proposals for an image, recall/MABO against its VOC XML",
        description="Run selective search (OpenCV contrib) on IMAGE. 'ours' (default) runs "
        "OpenCV's grouping on a reduced copy and adds boxes of full-resolution segments for "
        "small objects (5-6x faster than full resolution on our benchmark photos, recall about "
        "the same); 'opencv' is plain OpenCV at full resolution.",
    )
    parser.add_argument("image", type=Path, metavar="IMAGE")
    parser.add_argument("--annotations", type=Path, metavar="XML",
                        help="VOC XML with the ground-truth boxes (for recall and MABO)")
    parser.add_argument("--mode", choices=("single", "fast", "quality"), default="fast")
    parser.add_argument("--method", choices=("ours", "opencv"), default="ours")
    parser.add_argument("--max-side", type=int, default=320, metavar="PX",
                        help="ours: the coarse pass's longest side is at most PX (default 320); it also "
                        "keeps at most 8%% of the photo's pixels")
    parser.add_argument("--top", type=int, default=None, metavar="N",
                        help="keep the N highest-ranked proposals (after the filters)")
    parser.add_argument("--min-area", type=float, default=0.0, metavar="FRAC",
                        help="drop proposals smaller than this fraction of the image")
    parser.add_argument("--max-area", type=float, default=1.0, metavar="FRAC")
    parser.add_argument("--max-aspect", type=float, default=None, metavar="R",
                        help="drop proposals with max(w/h, h/w) above R")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="OpenCV threads (default: OpenCV's own choice)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _gt_boxes(xml: Path):  # noqa: ANN202 (numpy array; numpy imported lazily)
    import numpy as np

    from workbench.core.voc import VocError, read_annotation

    try:
        annotation, _problems = read_annotation(xml)
    except VocError as exc:
        raise SystemExit(f"workbench proposals: {exc}") from exc
    return np.asarray([o.box for o in annotation.objects], dtype=np.float64).reshape(-1, 4)


def run(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from workbench.core.proposals import (
        ProposalParams,
        filter_proposals,
        mabo,
        recall_at,
        selective_search,
    )

    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    from workbench.core.images import ImageReadError, decode_image

    try:  # the one decoder (EXIF orientation, pixel limit): the pixels the GUI panel uses
        rgb = decode_image(args.image).rgb
    except ImageReadError as exc:
        print(f"workbench proposals: {exc}", file=sys.stderr)
        return 2
    image = np.ascontiguousarray(rgb[:, :, ::-1])  # selective search takes BGR, as the panel
    gt = _gt_boxes(args.annotations) if args.annotations is not None else None
    params = ProposalParams(mode=args.mode, method=args.method, max_side=args.max_side)
    start = time.perf_counter()
    result = selective_search(image, params)
    keep = filter_proposals(result.boxes, result.image_size, min_area_frac=args.min_area,
                            max_area_frac=args.max_area, max_aspect=args.max_aspect,
                            top_n=args.top)
    boxes = result.boxes[keep]
    seconds = time.perf_counter() - start
    doc = {
        "count": int(len(boxes)),
        "seconds": round(seconds, 4),
        "recall": {"0.5": None if gt is None else round(recall_at(gt, boxes, 0.5), 4),
                   "0.7": None if gt is None else round(recall_at(gt, boxes, 0.7), 4)},
        "mabo": None if gt is None else round(mabo(gt, boxes), 4),
    }
    if args.json:
        print(json.dumps(doc))
        return 0
    h, w = result.image_size
    wh, ww = result.work_size
    print(f"{args.image.name}: {doc['count']} proposals in {seconds:.3f} s "
          f"({args.method} {args.mode}, {w}x{h}, segmented at {ww}x{wh})")
    if gt is not None:
        print(f"recall@0.5 {doc['recall']['0.5']:.3f}  recall@0.7 {doc['recall']['0.7']:.3f}  "
              f"MABO {doc['mabo']:.3f}  ({len(gt)} ground-truth boxes)")
    return 0
