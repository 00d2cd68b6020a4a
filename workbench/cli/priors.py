"""``workbench priors``: the SSD priors / Faster R-CNN anchors a detector tiles, per feature map.

    workbench priors --model ssd300_vgg16 [--image-size N] [--json]
    workbench priors --checkpoint runs/x/best.pt [--json]

JSON: ``{"model": str, "total": int, "feature_maps": [{"name": str, "size": [h, w],
"per_cell": int, "count": int, "scales": [...], "aspect_ratios": [...]}]}``. For SSD models
``scales`` are ``[s_k, s'_k]`` (fractions of the input side) and ``aspect_ratios`` the
width/height of each box of a cell; for Faster R-CNN ``scales`` are anchor sizes in input pixels
and ``aspect_ratios`` torchvision's height/width ratios. Torchvision models are asked through
their own anchor generators (random weights, nothing downloaded).
"""

from __future__ import annotations

import argparse
import json
import sys

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
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.model is None) == (args.checkpoint is None):
        print("workbench priors: give exactly one of --model NAME or --checkpoint PATH",
              file=sys.stderr)
        return 2
    from workbench.engine.anchor_extract import UnknownModelError, extract_priors

    try:
        if args.checkpoint is not None:
            from workbench.engine.checkpoint import load_checkpoint
            from workbench.engine.events import CheckpointError

            try:
                model, ckpt = load_checkpoint(args.checkpoint)
            except (CheckpointError, OSError) as exc:
                print(f"workbench priors: {exc}", file=sys.stderr)
                return 2
            priors = extract_priors(ckpt["model_name"], model=model)
        else:
            priors = extract_priors(args.model, image_size=args.image_size)
    except (UnknownModelError, ValueError) as exc:
        print(f"workbench priors: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(priors.to_json(), indent=2))
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
    return 0
