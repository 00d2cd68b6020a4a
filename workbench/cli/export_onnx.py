"""``workbench export-onnx CKPT OUT.onnx``: the checkpoint's detector as an ONNX model.

The model takes one float32 ``image`` ``(3, H, W)`` RGB in ``[0, 1]`` and returns ``boxes``
``(N, 4)`` (pixel-edge ``xyxy`` in image pixels), ``scores`` ``(N,)`` and ``labels`` ``(N,)``
(class ids 1..K; the names are in the file's metadata ``workbench.classes``). Score threshold,
NMS IoU and top-k are baked in, by default from the checkpoint's saved settings. When
onnxruntime is installed the export is checked against torch on a test image.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export-onnx", help="export a checkpoint's detector (with post-processing) to ONNX",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="CKPT", help="a workbench checkpoint (.pt)")
    p.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--score", type=float, default=None, help="score threshold baked in")
    p.add_argument("--nms", type=float, default=None, help="NMS IoU baked in")
    p.add_argument("--top-k", type=int, default=None, help="detections per image baked in")
    p.add_argument("--per-class-nms", action="store_true",
                   help="export per-class NMS even when the checkpoint's settings are "
                   "class-agnostic (ONNX export supports per-class NMS only)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--no-check", action="store_true",
                   help="skip the onnxruntime-vs-torch comparison")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.engine.checkpoint import read_checkpoint
    from workbench.engine.events import CheckpointError
    from workbench.engine.onnx_export import ExportError, export_onnx
    from workbench.engine.postprocess import PostprocessSettings

    try:
        saved = PostprocessSettings.from_dict(read_checkpoint(args.checkpoint).get("postprocess"))
        changes = {k: v for k, v in (("score_threshold", args.score), ("nms_iou", args.nms),
                                     ("top_k", args.top_k)) if v is not None}
        if args.per_class_nms:
            changes["class_agnostic"] = False
        result = export_onnx(args.checkpoint, args.output, settings=saved.replace(**changes),
                             opset=args.opset, check=not args.no_check)
    except (CheckpointError, ExportError, ValueError) as exc:
        print(f"workbench export-onnx: {exc}", file=sys.stderr)
        return 2
    s = result.settings
    print(f"wrote {result.path} ({result.model_name}, classes: {', '.join(result.classes)}; "
          f"score > {s.score_threshold:g}, NMS IoU {s.nms_iou:g}, top-k {s.top_k})")
    if result.max_abs_diff is not None:
        print(f"onnxruntime matches torch: max box difference {result.max_abs_diff:.2e} px")
    return 0
