"""What one slider move costs the Detections panel's operating point (issue 15), on cached raw
outputs of many val images — the work :mod:`workbench.gui.panels.detections_op` does.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_operating_point_gui.py [--images 1000]
        [--candidates 200] [--repeat 50]

Rows (ms; p50 / p95 over ``--repeat`` moves, each to another value):

* ``score move``: ``ScoreSweep.at(slider_score(s))`` — what a score move runs (GUI thread);
* ``NMS move, post-process + match``: :func:`errors_data.detections_at_floor` (torchvision
  post-processing per image at score 0) + ``ErrorIndex`` — what an NMS / top-k move runs in
  its background job (the baseline);
* ``NMS move, SliderSweep.index``: ``core.error_sliders.SliderSweep`` at a new NMS value (its
  one-time preparation shown on its own row);
* ``NMS move after the steps are precomputed``: what the panel runs once its background job
  has computed every NMS slider step (nearest the current value first).

The raw outputs are synthetic (seeded): ``--candidates`` boxes per image around 3 objects of 5
classes plus clutter, scores skewed low as a detector's at a 0.001 floor.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLASSES = ("a", "b", "c", "d", "e")


def make_data(n_images: int, n_cand: int, seed: int = 0) -> tuple[dict, list, list[str]]:
    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.engine.postprocess import RawDetections

    rng = np.random.default_rng(seed)
    truth, raws, ids = {}, [], []
    for i in range(n_images):
        objs = []
        for _ in range(3):
            w, h = rng.uniform(30, 200, 2)
            x, y = rng.uniform(0, 600 - w), rng.uniform(0, 400 - h)
            objs.append(VocObject(CLASSES[rng.integers(5)], (x, y, x + w, y + h)))
        image_id = f"img{i:05d}"
        truth[image_id] = Annotation(f"{image_id}.jpg", ImageSize(600, 400, 3), tuple(objs))
        boxes, scores, labels = [], [], []
        for k in range(n_cand):
            if k < n_cand // 2:  # around the objects
                o = objs[k % 3]
                x1, y1, x2, y2 = o.box
                d = rng.normal(0, 0.15, 4) * [x2 - x1, y2 - y1, x2 - x1, y2 - y1]
                boxes.append([x1 + d[0], y1 + d[1], x2 + d[2], y2 + d[3]])
                labels.append(CLASSES.index(o.name) + 1 if rng.random() < 0.7
                              else int(rng.integers(1, 6)))
            else:
                w, h = rng.uniform(10, 200, 2)
                x, y = rng.uniform(0, 600 - w), rng.uniform(0, 400 - h)
                boxes.append([x, y, x + w, y + h])
                labels.append(int(rng.integers(1, 6)))
            scores.append(float(rng.beta(0.6, 4)))
        b = np.clip(np.asarray(boxes, dtype=np.float32), 0, [600, 400, 600, 400])
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
        raws.append(RawDetections.from_unsorted(b, np.asarray(scores, np.float32),
                                                np.asarray(labels), score_floor=0.001,
                                                image_size=(600, 400)))
        ids.append(image_id)
    return truth, raws, ids


def pct(times: list[float]) -> tuple[float, float]:
    a = np.asarray(times) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--candidates", type=int, default=200)
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    from workbench.core.detections import ImageDetections
    from workbench.core.error_analysis import ErrorIndex
    from workbench.core.error_sliders import SliderSweep, slider_score
    from workbench.engine.postprocess import PostprocessSettings, to_image_detections
    from workbench.gui.panels import errors_data as data

    truth, raws, ids = make_data(args.images, args.candidates)
    settings = PostprocessSettings(score_threshold=0.3, nms_iou=0.45, top_k=100)
    rng = np.random.default_rng(1)

    def post_and_match(nms: float) -> ErrorIndex:
        dets = data.detections_at_floor(raws, ids, CLASSES, settings.replace(nms_iou=nms))
        return ErrorIndex(truth, [dets[i] for i in ids], CLASSES)

    index = post_and_match(0.45)
    score_times = []
    for s in rng.uniform(0.05, 0.95, args.repeat * 20):
        t = time.perf_counter()
        index.sweep.at(slider_score(float(s)))
        score_times.append(time.perf_counter() - t)
    nms_values = [round(v, 2) for v in rng.uniform(0.3, 0.7, args.repeat)]
    base_times = []
    for v in nms_values[: max(3, args.repeat // 10)]:  # slow: fewer repeats
        t = time.perf_counter()
        post_and_match(v)
        base_times.append(time.perf_counter() - t)
    t = time.perf_counter()
    candidates: list[ImageDetections] = [to_image_detections(r, np.arange(len(r)), CLASSES, i)
                                         for r, i in zip(raws, ids)]
    sliders = SliderSweep(truth, candidates, CLASSES, top_k=settings.top_k,
                          candidates_per_class=None)
    prep = time.perf_counter() - t
    slider_times = []
    for v in nms_values:
        if sliders.is_cached(v):
            continue
        t = time.perf_counter()
        sliders.index(v)
        slider_times.append(time.perf_counter() - t)
    # What the panel does next (detections_op._prepare_sliders): every slider step in the
    # background, after which an NMS move is a lookup + the sweep's two binary searches.
    steps = [i / 100 for i in range(101)]
    t = time.perf_counter()
    for _v in sliders.precompute(steps):
        pass
    precompute = time.perf_counter() - t
    rng = np.random.default_rng(1)
    moved_times = []
    for v in rng.choice(steps, size=args.repeat):
        t = time.perf_counter()
        sliders.at(0.3, float(v))
        moved_times.append(time.perf_counter() - t)
    check_a = post_and_match(0.5).sweep.at(slider_score(0.3))
    check_b = sliders.at(0.3, 0.5)
    base = pct(base_times)
    rows = [("score move (ScoreSweep.at)", pct(score_times), len(score_times)),
            ("NMS move, post-process + match (baseline)", base, len(base_times)),
            ("NMS move, SliderSweep.index", pct(slider_times), len(slider_times)),
            ("NMS move after the steps are precomputed", pct(moved_times), len(moved_times))]
    print(f"{args.images} images x {args.candidates} raw candidates, 3 objects, 5 classes; "
          f"torch threads 1")
    print(f"{'what':44s} {'p50 ms':>9s} {'p95 ms':>9s} {'n':>5s} {'p50 vs baseline':>16s}")
    for name, (p50, p95), n in rows:
        print(f"{name:44s} {p50:9.2f} {p95:9.2f} {n:5d} {p50 / base[0]:15.3f}x")
    print(f"SliderSweep preparation (once per top-k / class-agnostic / IoU): {prep * 1000:.0f} ms")
    print(f"then all 101 NMS slider steps precomputed (background job): {precompute * 1000:.0f} ms")
    print(f"same operating point both ways at score > 0.3, NMS 0.5: "
          f"{(check_a.tp, check_a.fp, check_a.fn) == (check_b.tp, check_b.fp, check_b.fn)} "
          f"(TP {check_a.tp} FP {check_a.fp} FN {check_a.fn})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
