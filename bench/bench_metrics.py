"""COCO box mAP on a random data set: workbench vs pycocotools vs torchmetrics, in one run.

    .venv/bin/python bench/bench_metrics.py [--images 5000] [--dets 100] [--classes 20]
                                            [--skip-torchmetrics] [--seed 0]

Data: per image 1-12 ground-truth boxes (10 % difficult → COCO crowd), ``--dets`` detections:
jittered copies of the objects (some with a wrong class) and random boxes, random scores.
Coordinates lie on a 1/4-pixel grid and scores are float32 values, so torchmetrics (which
holds float32 tensors) sees exactly the same numbers as the float64 evaluators.

Times: workbench = ``evaluate_coco`` on our records; pycocotools = ``COCO`` index +
``loadRes`` + ``evaluate`` + ``accumulate`` + ``summarize`` on dicts made beforehand
(``to_coco``, not timed); torchmetrics = ``MeanAveragePrecision.update`` + ``compute`` on tensors
made beforehand (a second torchmetrics row passes pycocotools' exact float64 IoU/recall
thresholds instead of its float32 defaults). "max |diff|" is the largest absolute difference of the
12 summary numbers from
pycocotools'; for workbench also of the full precision (T×R×K×A×M) and recall arrays.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.annotation import Annotation, VocObject  # noqa: E402
from workbench.core.detections import ImageDetections  # noqa: E402
from workbench.core.metrics import evaluate_coco, evaluate_voc, to_coco  # noqa: E402


def make_data(images: int, dets: int, classes: int, seed: int
              ) -> tuple[dict[str, Annotation], list[ImageDetections], list[str]]:
    rng = np.random.default_rng(seed)
    names = [f"class{k:02d}" for k in range(classes)]
    gt: dict[str, Annotation] = {}
    out: list[ImageDetections] = []
    for i in range(images):
        n_obj = int(rng.integers(1, 13))
        xy = rng.uniform(0, 500, (n_obj, 2))
        wh = np.exp(rng.uniform(np.log(4), np.log(300), (n_obj, 2)))
        boxes = np.round(np.concatenate([xy, xy + wh], 1) * 4) / 4
        labels = rng.integers(0, classes, n_obj)
        difficult = rng.random(n_obj) < 0.1
        stem = f"img{i:05d}"
        gt[stem] = Annotation(f"{stem}.jpg", objects=tuple(
            VocObject(names[c], tuple(b.tolist()), difficult=bool(d))
            for b, c, d in zip(boxes, labels, difficult)))
        n_jit = min(dets * 6 // 10, n_obj * 8)
        src = rng.integers(0, n_obj, n_jit)
        sizes = (boxes[src, 2:] - boxes[src, :2])
        jitter = rng.normal(0, 0.12, (n_jit, 4)) * np.concatenate([sizes, sizes], 1)
        jit_boxes = boxes[src] + jitter
        jit_labels = np.where(rng.random(n_jit) < 0.85, labels[src],
                              rng.integers(0, classes, n_jit))
        n_rand = dets - n_jit
        rxy = rng.uniform(0, 500, (n_rand, 2))
        rwh = np.exp(rng.uniform(np.log(4), np.log(300), (n_rand, 2)))
        all_boxes = np.concatenate([jit_boxes, np.concatenate([rxy, rxy + rwh], 1)])
        all_boxes = np.round(all_boxes * 4) / 4
        all_boxes[:, 2:] = np.maximum(all_boxes[:, 2:], all_boxes[:, :2] + 0.25)
        all_labels = np.concatenate([jit_labels, rng.integers(0, classes, n_rand)])
        scores = rng.random(dets).astype(np.float32).astype(np.float64)
        out.append(ImageDetections(stem, all_boxes, scores, np.asarray(names)[all_labels]))
    return gt, out, names


def run_pycocotools(dataset: dict, results: list[dict]) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def torchmetrics_inputs(gt: dict[str, Annotation], dets: list[ImageDetections],
                        names: list[str]) -> tuple[list[dict], list[dict]]:
    import torch

    index = {n: i for i, n in enumerate(names)}
    preds, targets = [], []
    for det, ann in zip(dets, gt.values()):
        preds.append({"boxes": torch.tensor(det.boxes, dtype=torch.float32),
                      "scores": torch.tensor(det.scores, dtype=torch.float32),
                      "labels": torch.tensor([index[x] for x in det.labels.tolist()])})
        targets.append({
            "boxes": torch.tensor([o.box for o in ann.objects], dtype=torch.float32),
            "labels": torch.tensor([index[o.name] for o in ann.objects]),
            "iscrowd": torch.tensor([int(o.difficult) for o in ann.objects])})
    return preds, targets


def run_torchmetrics(preds: list[dict], targets: list[dict], exact: bool = False) -> np.ndarray:
    """``exact``: pass pycocotools' float64 thresholds (torchmetrics' defaults are float32
    ``torch.linspace`` values such as 0.550000011920929, which move a few matches)."""
    import torch
    from torchmetrics.detection import MeanAveragePrecision

    from workbench.core.metrics import IOU_THRESHOLDS, RECALL_THRESHOLDS

    torch.set_num_threads(1)
    extra = ({"iou_thresholds": IOU_THRESHOLDS.tolist(),
              "rec_thresholds": RECALL_THRESHOLDS.tolist()} if exact else {})
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="pycocotools",
                                  **extra)
    metric.update(preds, targets)
    with contextlib.redirect_stdout(io.StringIO()):
        out = metric.compute()
    keys = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large",
            "mar_1", "mar_10", "mar_100", "mar_small", "mar_medium", "mar_large")
    return np.array([float(out[k]) for k in keys])


def timed(fn, *args):
    t0 = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--dets", type=int, default=100)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-torchmetrics", action="store_true")
    args = parser.parse_args()

    gt, dets, names = make_data(args.images, args.dets, args.classes, args.seed)
    n_obj = sum(len(a.objects) for a in gt.values())
    n_det = sum(len(d) for d in dets)
    print(f"# COCO bbox mAP: {args.images} images, {n_obj} objects "
          f"({sum(o.difficult for a in gt.values() for o in a.objects)} crowd), "
          f"{n_det} detections, {args.classes} classes; "
          f"python {platform.python_version()}, numpy {np.__version__}")

    ours, t_ours = timed(evaluate_coco, gt, dets)
    dataset, results = to_coco(gt, dets)
    ref, t_ref = timed(run_pycocotools, dataset, results)
    rows = [("workbench evaluate_coco", t_ours, ours.stats),
            ("pycocotools COCOeval", t_ref, ref.stats)]
    if not args.skip_torchmetrics:
        preds, targets = torchmetrics_inputs(gt, dets, names)
        tm, t_tm = timed(run_torchmetrics, preds, targets)
        rows.append(("torchmetrics MeanAveragePrecision (pycocotools backend)", t_tm, tm))
        tm, t_tm = timed(run_torchmetrics, preds, targets, True)
        rows.append(("  same, given pycocotools' float64 thresholds", t_tm, tm))
    full = max(np.abs(ours.precision - ref.eval["precision"]).max(),
               np.abs(ours.recall - ref.eval["recall"]).max())
    _, t_voc = timed(evaluate_voc, gt, dets)

    print()
    print(f"| {'evaluator':<56} | {'time (s)':>9} | {'vs pycocotools':>14} | "
          f"{'mAP':>8} | {'max |diff| of 12 stats':>22} |")
    print(f"|{'-' * 58}|{'-' * 11}|{'-' * 16}|{'-' * 10}|{'-' * 24}|")
    for name, seconds, stats in rows:
        diff = float(np.abs(np.asarray(stats) - ref.stats).max())
        print(f"| {name:<56} | {seconds:>9.2f} | {t_ref / seconds:>13.1f}x | "
              f"{stats[0]:>8.5f} | {diff:>22.3g} |")
    print()
    print(f"workbench vs pycocotools, full precision/recall arrays: max |diff| = {full:.3g}")
    print(f"workbench evaluate_voc (VOC07, same data): {t_voc:.2f} s")
    print("stats (pycocotools order):", " ".join(f"{v:.6f}" for v in ref.stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
