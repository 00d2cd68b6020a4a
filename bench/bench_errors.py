"""Error analysis at scale (issue 15): operating point, confusion matrix, per-image list, sliders.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_errors.py [--images 5000] [--dets 100]
        [--slider-images 1000] [--raw 300,1000] [--moves 200] [--out bench/results/errors.txt]

Data: the synthetic set of ``bench/bench_scale.py`` (500x375 images, 20 VOC classes, 3-8 objects
an image, 10 % difficult) and its fake detector (``--dets`` an image: a jittered copy of each
object, the rest random boxes; uniform scores), built in memory (no files).

Table 1 — ``--images`` x ``--dets``, each step timed alone (median of 3), with two baselines
measured in the same run: the VOC07 AP of the same detections (``evaluate_voc``, the existing
metric) and the per-image list done with the existing per-image judge (``match_image`` called
once per image, what the canvas uses for the image in view).

Table 2 — sliders over ``--slider-images`` cached images. The cache holds each image's *raw*
pre-NMS candidates (``--raw`` an image: clusters of jittered boxes around every object, the
object's class scoring high and other classes low, plus low-scored background boxes), as the
engine keeps them for the sliders. Rows, each over ``--moves`` moves (p50 / p95 / max):

* score move → new operating point: ``ScoreSweep.at`` (prefix sums, no re-matching); and
  with the confusion matrix and the per-image numbers (arrays, or one object an image)
  re-derived at the new score;
* NMS move to a value not computed yet (``SliderSweep``): NMS of every image at the new IoU
  (``NmsCache``: whole-set vectorised NMS), top 100 an image, both matchings on the subset of
  the candidates' precomputed hit pairs, operating point; baseline: the engine's per-image
  ``postprocess`` loop (``torchvision.ops.batched_nms``) for the same images, then
  ``ErrorIndex`` on its output;
* NMS move once every slider step (0.01) was computed (``SliderSweep.precompute``, as a
  background job would): a dict lookup and ``ScoreSweep.at``; the background cost of all 101
  steps is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale import CLASSES, HEIGHT, WIDTH, make_detections, make_ground_truth  # noqa: E402

from workbench.core.annotation import Annotation, VocObject  # noqa: E402
from workbench.core.detection_runs import DetectionRuns  # noqa: E402
from workbench.core.detections import ImageDetections  # noqa: E402
from workbench.core.error_analysis import ErrorIndex  # noqa: E402
from workbench.core.error_sliders import SliderSweep, slider_score  # noqa: E402
from workbench.core.metrics import evaluate_voc, match_image  # noqa: E402


def ground_truth(gt: dict) -> dict[str, Annotation]:
    """bench_scale's arrays → ``{stem: Annotation}`` (pixel-edge boxes)."""
    bounds = np.searchsorted(gt["image"], np.arange(gt["n"] + 1))
    cols = [gt[k].tolist() for k in ("cls", "xmin", "ymin", "xmax", "ymax", "difficult")]
    out = {}
    for i in range(gt["n"]):
        objs = tuple(VocObject(CLASSES[cols[0][j]], (cols[1][j] - 1.0, cols[2][j] - 1.0,
                                                     float(cols[3][j]), float(cols[4][j])),
                               difficult=bool(cols[5][j]))
                     for j in range(bounds[i], bounds[i + 1]))
        out[f"{i:06d}"] = Annotation(filename=f"{i:06d}.jpg", objects=objs)
    return out


def detections(det: dict, n: int) -> DetectionRuns:
    boxes = np.stack([det["x"], det["y"], det["x"] + det["w"], det["y"] + det["h"]], axis=1)
    counts = np.bincount(det["image"], minlength=n)
    return DetectionRuns([f"{i:06d}" for i in range(n)], np.r_[0, np.cumsum(counts)],
                         boxes.astype(np.float64), det["score"].astype(np.float64),
                         det["cls"].astype(np.int64), CLASSES)


def raw_candidates(gt: dict, per_image: int, seed: int = 5) -> list[ImageDetections]:
    """``per_image`` pre-NMS candidates an image: 70 % in clusters around its objects (its class
    scoring up to 1, another class up to 0.3), 30 % background boxes scoring up to 0.1."""
    rng = np.random.default_rng(seed)
    out = []
    bounds = np.searchsorted(gt["image"], np.arange(gt["n"] + 1))
    names = np.asarray(CLASSES, dtype=str)
    for i in range(gt["n"]):
        rows = np.arange(bounds[i], bounds[i + 1])
        m = len(rows)
        n_cl = int(per_image * 0.7)
        obj = rows[rng.integers(0, m, n_cl)]
        w = (gt["xmax"][obj] - gt["xmin"][obj] + 1).astype(float)
        h = (gt["ymax"][obj] - gt["ymin"][obj] + 1).astype(float)
        jit = rng.normal(0, 0.15, (n_cl, 4)) * np.c_[w, h, w, h]
        x1 = gt["xmin"][obj] - 1 + jit[:, 0]
        y1 = gt["ymin"][obj] - 1 + jit[:, 1]
        x2 = np.maximum(gt["xmax"][obj] + jit[:, 2], x1 + 2)
        y2 = np.maximum(gt["ymax"][obj] + jit[:, 3], y1 + 2)
        true = rng.random(n_cl) < 0.6
        cls = np.where(true, gt["cls"][obj], rng.integers(0, len(CLASSES), n_cl))
        closeness = np.exp(-np.abs(jit).sum(1) / (w + h))
        score = rng.uniform(0.01, 1.0, n_cl) * closeness * np.where(true, 1.0, 0.3)
        n_bg = per_image - n_cl
        bw, bh = rng.uniform(10, 250, n_bg), rng.uniform(10, 250, n_bg)
        bx, by = rng.uniform(0, WIDTH - bw), rng.uniform(0, HEIGHT - bh)
        boxes = np.r_[np.c_[x1, y1, x2, y2], np.c_[bx, by, bx + bw, by + bh]]
        scores = np.r_[np.maximum(score, 0.011), rng.uniform(0.011, 0.1, n_bg)]
        labels = names[np.r_[cls, rng.integers(0, len(CLASSES), n_bg)]]
        out.append(ImageDetections(f"{i:06d}", boxes.astype(np.float32).astype(np.float64),
                                   scores.astype(np.float32).astype(np.float64), labels))
    return out


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    """Median seconds over ``repeat`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def table1(args: argparse.Namespace, say: Callable[[str], None]) -> None:
    g = make_ground_truth(args.images)
    gt = ground_truth(g)
    dets = detections(make_detections(g, args.dets), args.images)
    say(f"\n## 1. {args.images:,} images x {args.dets} detections "
        f"({dets.rows:,} detections, {len(g['image']):,} objects), score s = 0.5, IoU 0.5\n")
    t_voc, _ = timed(lambda: evaluate_voc(gt, dets))
    runs = list(dets)
    t_loop, _ = timed(lambda: [match_image(gt[d.image_id], d, score_threshold=0.5).counts
                               for d in runs], repeat=1)
    t_index, index = timed(lambda: ErrorIndex(gt, dets))
    assert isinstance(index, ErrorIndex)
    t_op, op = timed(lambda: index.operating_point(0.5), repeat=50)
    t_best, best = timed(lambda: index.operating_point(None), repeat=5)
    t_conf, _ = timed(lambda: index.confusion(0.5))
    t_img, per_image = timed(lambda: index.per_image(0.5))
    t_all, _ = timed(lambda: index.analysis(0.5))
    t_total = t_index + t_all
    t_size, _ = timed(lambda: index.analysis(0.5, per_size=True), repeat=1)
    rows = [
        ("baseline: evaluate_voc (VOC07 AP, existing)", t_voc),
        ("baseline: per-image list by match_image x N", t_loop),
        ("ErrorIndex: both matchings, once", t_index),
        ("operating point at s (ScoreSweep.at)", t_op),
        ("best-F1 operating point", t_best),
        ("confusion matrix at s", t_conf),
        ("per-image list at s", t_img),
        ("analysis(s): op + confusion + per-image", t_all),
        ("total: matchings + analysis(s)", t_total),
        ("analysis(s, per_size=True) (adds COCO eval)", t_size),
    ]
    say(f"{'step':<46} {'ms':>10} {'x evaluate_voc':>15}")
    for name, t in rows:
        say(f"{name:<46} {t * 1e3:>10.2f} {t / t_voc:>15.3f}")
    assert isinstance(per_image, list)
    say(f"\nop at 0.5: P {op.precision:.4f} R {op.recall:.4f} F1 {op.f1:.4f} "  # type: ignore
        f"TP {op.tp} FP {op.fp} FN {op.fn}; best F1 {best.f1:.4f} at s={best.score:.4f}; "
        f"per-image sums TP {sum(e.tp for e in per_image)} FP {sum(e.fp for e in per_image)} "
        f"FN {sum(e.fn for e in per_image)}")
    say(f"speed-up of the per-image list over match_image x N: {t_loop / t_img:.0f}x "
        f"(with the matchings: {t_loop / (t_index + t_img):.1f}x)")


def slider_rows(args: argparse.Namespace, raw_per_image: int, say: Callable[[str], None]) -> None:
    n = args.slider_images
    g = make_ground_truth(n, seed=7)
    gt = ground_truth(g)
    raw = raw_candidates(g, raw_per_image)
    top_k = 100
    t0 = time.perf_counter()
    sweep = SliderSweep(gt, raw, top_k=top_k)
    t_build = time.perf_counter() - t0
    cache = sweep.cache
    say(f"\n### {n:,} cached images x {raw_per_image} raw candidates "
        f"({len(cache):,} raw, {cache.num_pairs:,} overlapping same-class pairs, largest "
        f"group {cache.max_group}, {len(sweep.pairs.d):,} candidate-object hit pairs); "
        f"SliderSweep built once in {t_build:.2f} s\n")
    rng = np.random.default_rng(11)
    index = sweep.index(0.45)
    scores = rng.uniform(0.05, 0.95, args.moves)
    score_only, score_arrays, score_all = [], [], []
    for s in scores.tolist():
        t0 = time.perf_counter()
        index.sweep.at(slider_score(s))
        score_only.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        index.sweep.at(slider_score(s))
        index.confusion(slider_score(s))
        index.per_image_counts(slider_score(s))
        score_arrays.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        index.sweep.at(slider_score(s))
        index.confusion(slider_score(s))
        index.per_image(slider_score(s))
        score_all.append(time.perf_counter() - t0)
    # NMS moves to values not computed yet (the LRU is emptied before each)
    nms_values = np.round(rng.uniform(0.3, 0.7, max(args.moves // 10, 5)), 2).tolist()
    cold, t_nms, t_match = [], [], []
    for t in nms_values:
        sweep._indexes.clear()  # noqa: SLF001 - measure the uncached path
        t0 = time.perf_counter()
        cache.selected(t, top_k)
        t1 = time.perf_counter()
        sweep.at(0.5, t)
        t2 = time.perf_counter()
        cold.append(t2 - t1)
        t_nms.append(t1 - t0)
        t_match.append((t2 - t1) - (t1 - t0))
    base = []
    import torch

    from workbench.engine.postprocess import PostprocessSettings, RawDetections, postprocess

    torch.set_num_threads(1)
    names = list(CLASSES)
    label_names = np.asarray(names, dtype=str)
    cached_raw = [RawDetections.from_unsorted(d.boxes, d.scores,
                                              np.searchsorted(names, d.labels) + 1)
                  for d in raw]
    for t in nms_values[:3]:
        settings = PostprocessSettings(score_threshold=0.0, nms_iou=t, top_k=top_k)
        t0 = time.perf_counter()
        out = []
        for d, r in zip(raw, cached_raw):
            kept = postprocess(r, settings).kept
            out.append(ImageDetections(d.image_id, r.boxes[kept].double().numpy(),
                                       r.scores[kept].double().numpy(),
                                       label_names[r.labels[kept].numpy() - 1]))
        ErrorIndex(gt, out).sweep.at(slider_score(0.5))
        base.append(time.perf_counter() - t0)
    # every NMS slider step (0.01) computed once, as a background job would
    sweep._indexes.clear()  # noqa: SLF001
    t0 = time.perf_counter()
    done = list(sweep.precompute(i / 100 for i in range(101)))
    t_background = time.perf_counter() - t0
    warm = []
    for t, s in zip(rng.integers(0, 101, args.moves).tolist(), scores.tolist()):
        t0 = time.perf_counter()
        sweep.at(s, t / 100)
        warm.append(time.perf_counter() - t0)
    rows = [
        ("score move: operating point (ScoreSweep.at)", score_only),
        ("score move: op + confusion + per-image arrays", score_arrays),
        ("score move: op + confusion + per-image objects", score_all),
        ("NMS move, value not computed yet: NMS + match + op", cold),
        ("  of which NmsCache NMS + top-100", t_nms),
        ("  of which matchings on the subset + op", t_match),
        ("baseline NMS move: engine postprocess x N + match", base),
        ("NMS move, all 101 steps precomputed: lookup + op", warm),
    ]
    say(f"{'slider move (goal p95 < 50 ms)':<52} {'n':>4} {'p50 ms':>9} {'p95 ms':>9} "
        f"{'max ms':>9} {'x baseline':>11}")
    b50 = statistics.median(base)
    for name, values in rows:
        say(f"{name:<52} {len(values):>4} {pct(values, 50) * 1e3:>9.3f} "
            f"{pct(values, 95) * 1e3:>9.3f} {max(values) * 1e3:>9.3f} "
            f"{pct(values, 50) / b50:>11.4f}")
    say(f"background: all {len(done)} NMS steps computed in {t_background:.1f} s "
        f"({t_background / len(done) * 1e3:.0f} ms a step)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=5000)
    p.add_argument("--dets", type=int, default=100)
    p.add_argument("--slider-images", type=int, default=1000)
    p.add_argument("--raw", default="300,1000", help="raw candidates an image (comma list)")
    p.add_argument("--moves", type=int, default=200)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "errors.txt"))
    args = p.parse_args(argv)
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    say("# bench_errors.py — error analysis at scale (issue 15)")
    say(f"machine: {platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
        f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    table1(args, say)
    say(f"\n## 2. Sliders on {args.slider_images:,} cached images (top 100 an image after NMS)")
    for raw_per_image in (int(x) for x in args.raw.split(",") if x.strip()):
        slider_rows(args, raw_per_image, say)
    if args.out:
        from workbench.core.atomic import atomic_write_text

        atomic_write_text(args.out, "\n".join(lines) + "\n")
        print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
