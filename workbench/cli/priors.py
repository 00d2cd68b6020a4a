"""``workbench priors``: the SSD priors / Faster R-CNN anchors a detector tiles, per feature map.

    workbench priors --model ssd300_vgg16 [--image-size N] [--json]
    workbench priors --checkpoint runs/x/best.pt [--json]
    workbench priors --model NAME --image IMG [--annotations XML]
                     [--iou-threshold T | --fg-iou T --bg-iou T]

JSON: ``{"model": str, "total": int, "feature_maps": [{"name": str, "size": [h, w],
"per_cell": int, "count": int, "scales": [...], "aspect_ratios": [...]}]}``. For SSD models
``scales`` are ``[s_k, s'_k]`` (fractions of the input side) and ``aspect_ratios`` the
width/height of each box of a cell; for Faster R-CNN ``scales`` are anchor sizes in input pixels
and ``aspect_ratios`` torchvision's height/width ratios. Torchvision models are asked through
their own anchor generators (random weights, nothing downloaded).

With ``--image`` the priors, mapped onto the photo, are matched against its VOC boxes
(:func:`workbench.core.matching.match_priors`; SSD ``--iou-threshold`` default 0.5, RPN
``--fg-iou`` 0.7 / ``--bg-iou`` 0.3, ignored in between) and the JSON gains ``"matching":
{"objects", "positive_threshold", "negative_threshold", "positives", "negatives", "ignored"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.core.models import prior_names

#: The catalog's models with priors / anchors (workbench.core.models; no torch import here).
MODEL_CHOICES = prior_names()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "priors",
        help="list a detector's SSD priors / Faster R-CNN anchors per feature map",
        description="Count the priors (SSD) or anchors (Faster R-CNN) per feature map, as the "
        "detector's own anchor generator produces them. ssd300_voc_paper is the SSD paper's "
        "VOC model (scales 0.1, 0.2 ... 0.9).",
    )
    parser.add_argument("--model", choices=MODEL_CHOICES, metavar="NAME",
                        help="one of: " + ", ".join(MODEL_CHOICES))
    parser.add_argument("--checkpoint", metavar="PATH",
                        help="a trained workbench checkpoint instead of --model")
    parser.add_argument("--image-size", type=int, default=None, metavar="N",
                        help="detector input size (SSD square side, Faster R-CNN min_size); "
                        "default: the model's own")
    parser.add_argument("--image", type=Path, metavar="IMAGE",
                        help="match the priors/anchors against this image's VOC boxes and print "
                        "the counts of positives, negatives and ignored")
    parser.add_argument("--annotations", type=Path, metavar="XML",
                        help="VOC XML of --image (default: found as a labeled folder keeps it)")
    parser.add_argument("--iou-threshold", type=float, default=None, metavar="T",
                        help="SSD matching: IoU >= T positive, below negative (default 0.5)")
    parser.add_argument("--fg-iou", type=float, default=None, metavar="T",
                        help="RPN matching: IoU >= T foreground (default 0.7)")
    parser.add_argument("--bg-iou", type=float, default=None, metavar="T",
                        help="RPN matching: IoU < T background, in between ignored (default 0.3)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def _thresholds(args: argparse.Namespace, kind: str) -> tuple[float | None, float | None]:
    """``(positive, negative)`` IoU thresholds from the options (None: the kind's default)."""
    if kind == "ssd":
        if args.fg_iou is not None or args.bg_iou is not None:
            raise ValueError("--fg-iou/--bg-iou are for Faster R-CNN anchors; SSD priors take "
                             "--iou-threshold")
        return args.iou_threshold, args.iou_threshold
    if args.iou_threshold is not None:
        raise ValueError("--iou-threshold is for SSD priors; Faster R-CNN anchors take "
                         "--fg-iou and --bg-iou")
    return args.fg_iou, args.bg_iou


def _match_counts(args: argparse.Namespace, priors) -> dict:  # noqa: ANN001 (PriorSet)
    """Match ``priors`` against ``--image``'s boxes → the counts (``MatchResult.counts``)."""
    import numpy as np

    from workbench.cli.yolo_targets import default_xml
    from workbench.core.imageinfo import image_size
    from workbench.core.matching import match_priors
    from workbench.core.voc import read_annotation

    high, low = _thresholds(args, priors.kind)
    size = image_size(args.image)
    xml = args.annotations if args.annotations is not None else default_xml(args.image)
    if xml is None:
        raise ValueError(f"no VOC annotation found for {args.image}; give --annotations XML")
    annotation, _problems = read_annotation(xml)
    gt = np.asarray([o.box for o in annotation.objects], dtype=np.float64).reshape(-1, 4)
    mapped = priors.for_image(size.width, size.height)
    result = match_priors(mapped.all_boxes(), gt, priors.kind, map_offsets=mapped.offsets,
                          positive_threshold=high, negative_threshold=low)
    return {"objects": len(gt), **result.counts()}


def run(args: argparse.Namespace) -> int:
    if (args.model is None) == (args.checkpoint is None):
        print("workbench priors: give exactly one of --model NAME or --checkpoint PATH",
              file=sys.stderr)
        return 2
    from workbench.engine.anchor_extract import UnknownModelError, extract_priors

    photo = None   # Faster R-CNN keeps the photo's aspect ratio: its anchors depend on the photo
    if args.image is not None:
        from workbench.core.imageinfo import ImageReadError, image_size

        try:
            size = image_size(args.image)
        except (ImageReadError, OSError) as exc:
            print(f"workbench priors: {exc}", file=sys.stderr)
            return 2
        photo = (size.height, size.width)
    try:
        if args.checkpoint is not None:
            from workbench.engine.checkpoint import load_checkpoint
            from workbench.engine.events import CheckpointError

            try:
                model, ckpt = load_checkpoint(args.checkpoint)
            except (CheckpointError, OSError) as exc:
                print(f"workbench priors: {exc}", file=sys.stderr)
                return 2
            priors = extract_priors(ckpt["model_name"], model=model, photo_size=photo)
        else:
            priors = extract_priors(args.model, image_size=args.image_size, photo_size=photo)
    except (UnknownModelError, ValueError) as exc:
        print(f"workbench priors: {exc}", file=sys.stderr)
        return 2
    counts = None
    if args.image is not None:
        from workbench.core.imageinfo import ImageReadError
        from workbench.core.voc import VocError

        try:
            counts = _match_counts(args, priors)
        except (ImageReadError, VocError, OSError, ValueError) as exc:
            print(f"workbench priors: {exc}", file=sys.stderr)
            return 2
    elif any(v is not None for v in (args.iou_threshold, args.fg_iou, args.bg_iou,
                                     args.annotations)):
        print("workbench priors: the matching options need --image IMAGE", file=sys.stderr)
        return 2
    if args.json:
        doc = priors.to_json()
        if counts is not None:
            doc["matching"] = counts
        print(json.dumps(doc, indent=2))
        return 0
    in_h, in_w = priors.input_size
    print(f"{priors.model}: {priors.total:,} {'priors' if priors.kind == 'ssd' else 'anchors'} "
          f"on a {in_w}x{in_h} input ({priors.source})")
    unit = "scales (of input)" if priors.kind == "ssd" else "sizes (px)"
    print(f"{'map':<10} {'size':>9} {'per cell':>8} {'count':>8}  {unit:<22} aspect ratios")
    for fm in priors.feature_maps:
        scales = ", ".join(f"{s:g}" for s in (round(v, 3) for v in fm.scales))
        ratios = ", ".join(f"{a:g}" for a in (round(v, 3) for v in fm.aspect_ratios))
        size = f"{fm.size[0]}x{fm.size[1]}"
        print(f"{fm.name:<10} {size:>9} {fm.per_cell:>8} {fm.count:>8,}  {scales:<22} {ratios}")
    if counts is not None:
        ignored = f", {counts['ignored']:,} ignored" if priors.kind == "rpn" else ""
        print(f"matching {args.image.name} ({counts['objects']} objects; IoU >= "
              f"{counts['positive_threshold']:g} positive, < {counts['negative_threshold']:g} "
              f"negative): {counts['positives']:,} positives, {counts['negatives']:,} "
              f"negatives{ignored}")
    return 0
