"""Selective search: ours vs OpenCV's fast mode at full resolution vs a plain downscale.

    .venv/bin/python bench/bench_proposals.py [--images N] [--raccoons N] [--sets ABCDEFGR]

Three methods, all OpenCV contrib's selective search in "fast" mode on one thread
(``cv2.setNumThreads(1)``, ``threads=1``):

* ``full``: ``switchToSelectiveSearchFast()`` + ``process()`` on the full-resolution photo
  (``ProposalParams(method="opencv")``), the baseline;
* ``plain``: the photo reduced to 320 px on its longest side, OpenCV's pixel-unit settings
  unchanged (``k`` 150, 300, 450, ``min_size`` 100), no finer pass, boxes mapped back —
  ``ours`` before ALGORITHM_VERSION 2;
* ``ours``: :func:`workbench.core.proposals.selective_search` with its defaults (version 5: a
  coarse pass at <= 8 % of the pixels with ``k`` and ``min_size`` scaled with the image, plus
  a full-resolution segment pass for small objects; version 7: HSV ``k`` 200 / ``min_size`` 50
  at full size, Lab at half size, bridges; see its module docstring).

Photo sets (:mod:`workbench.core.ss_eval`), and which were used to choose the defaults:

* ``A`` TUNING: 2×2 mosaics of 400×300 synthetic scenes (800×600 photos), seed 101 — the set
  the scaling exponents and side were chosen on (version 5: its first 16 photos);
* ``B`` held out: 3×2 mosaics of 320×240 scenes (960×480 photos, more and smaller objects),
  seed 202 (version 5: its scores were seen during development, and chose coarse_frac 0.08
  over 0.1 for speed);
* ``C`` held out: 2×3 mosaics of 300×200 scenes (600×600 photos), seed 303 (version 5: looked
  at — its small-object misses led to the Lab segmentation and the chains of three);
* ``D`` held out: 3×3 mosaics of 300×225 scenes (900×675 photos), seed 404 — added with
  ALGORITHM_VERSION 5 and first run in its final bench: never looked at while tuning
  (version 7: its misses were looked at and chose ``min_size`` 50 and the bridges).
* ``E`` fresh: 4×2 mosaics of 240×300 (portrait) scenes (960×600 photos), seed 505, each
  photo JPEG-encoded at quality 75 (a camera file's block and ringing artefacts) — defined
  with ALGORITHM_VERSION 7 before its first run; every setting of version 7 was chosen on
  A–D (D's misses were looked at for version 7), none on E.
* ``F`` fresh: 5×4 mosaics of 200×150 scenes (1000×600 photos: 20 small tiles, many small
  objects), seed 606, JPEG quality 85 — defined with ALGORITHM_VERSION 8 (the ranking) before
  its first run; the ranking was chosen on A–D only, F run once with the final setting
  (later a tuning set: its misses were looked at for ALGORITHM_VERSION 9's work).
* ``G`` fresh: 3×3 mosaics of 320×240 scenes (960×720 photos), seed 717, JPEG quality 90 —
  defined (16:06 UTC 2026-12-06) before its first run; run once with the final setting.
* ``R`` check: the first ``--raccoons`` raccoon photos (large animals; every method finds them).

Rows: ``full``, ``plain``, ``ours`` with every proposal; ``ours@N``: ours cut on each photo to
as many proposals as ``full`` gave there (the same budget); ``full@2k``/``ours@2k``: the first
2000 of each, what the classic detectors train on. Times of cut rows are their method's.
Recall@0.5/0.7 and MABO are pooled over the set's boxes (each box counts once). Seconds per
photo: wall (``perf_counter``) and CPU of this process (``process_time``; robust to other load
on a shared machine); ratios are full / method, measured in the same run; ``--repeat R``: the
median of R runs per photo (default 1). The last line is the whole run's mean per photo.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.core.proposals import ProposalParams, selective_search  # noqa: E402
from workbench.core.ss_eval import EvalPhoto, mosaic_set, pooled_scores  # noqa: E402
from workbench.core.voc import read_annotation  # noqa: E402

RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"
#: the classic detectors train on the first 2000 proposals in rank order
TRAIN_TOP = 2000

METHODS: dict[str, ProposalParams] = {
    "full": ProposalParams(mode="fast", method="opencv"),
    "plain": ProposalParams(mode="fast", method="ours", scale_k=0.0, scale_min_size=0.0,
                            work_area=0, fine_side=0, coarse_frac=0.0, seg_ks=(),
                            seg_spaces=(), dedup_grid=0.0),
    "ours": ProposalParams(),
}


def raccoons(n: int) -> list[EvalPhoto]:
    images = sorted((RACCOON / "images").glob("*.jpg"),
                    key=lambda p: int(p.stem.split("-")[-1]))[:n]
    out = []
    for path in images:
        img = cv2.imread(str(path))
        ann, _ = read_annotation(RACCOON / "annotations" / f"{path.stem}.xml")
        gt = np.asarray([o.box for o in ann.objects], dtype=np.float64).reshape(-1, 4)
        out.append(EvalPhoto(path.name, img, gt))
    return out


def photo_sets(n: int, n_raccoons: int, which: str) -> dict[str, list[EvalPhoto]]:
    sets: dict[str, list[EvalPhoto]] = {}
    if "A" in which:
        sets["A tuning 800x600"] = mosaic_set(101, n, 2, 2, 400, 300)
    if "B" in which:
        sets["B held-out 960x480"] = mosaic_set(202, n, 3, 2, 320, 240)
    if "C" in which:
        sets["C held-out 600x600"] = mosaic_set(303, n, 2, 3, 300, 200)
    if "D" in which:
        sets["D held-out 900x675"] = mosaic_set(404, n, 3, 3, 300, 225)
    if "E" in which:
        sets["E fresh 960x600 jpeg"] = mosaic_set(505, n, 4, 2, 240, 300, jpeg_quality=75)
    if "F" in which:
        sets["F fresh 1000x600 jpeg"] = mosaic_set(606, n, 5, 4, 200, 150, jpeg_quality=85)
    if "G" in which:
        sets["G fresh 960x720 jpeg"] = mosaic_set(717, n, 3, 3, 320, 240, jpeg_quality=90)
    if "R" in which and (RACCOON / "images").is_dir() and n_raccoons > 0:
        sets["R raccoons (check)"] = raccoons(n_raccoons)
    return sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="photos per synthetic set")
    parser.add_argument("--raccoons", type=int, default=10)
    parser.add_argument("--sets", default="ABCDEFGR",
                        help="which sets, e.g. AB (default ABCDEFGR)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per photo; times are the median (default 1)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"selective search, fast mode, 1 thread, one run per photo; s = seconds per photo "
          f"(wall | CPU of this process); x = full / method. ours = {METHODS['ours']}")
    header = (f"{'set':<22} {'photos':>6} {'boxes':>5} {'method':<6} | {'R@0.5':>6} "
              f"{'R@0.7':>6} {'MABO':>6} | {'#props':>6} | {'wall s':>7} {'x':>5} | "
              f"{'cpu s':>7} {'x':>5}")
    print(header)
    print("-" * len(header))
    totals: list[tuple[int, float, float, float, float]] = []
    for set_name, photos in photo_sets(args.images, args.raccoons, args.sets).items():
        gts = [p.boxes for p in photos]
        found: dict[str, list[np.ndarray]] = {m: [] for m in METHODS}
        walls: dict[str, float] = dict.fromkeys(METHODS, 0.0)
        cpus: dict[str, float] = dict.fromkeys(METHODS, 0.0)
        for photo in photos:  # the methods alternate photo by photo: the same load on each
            for method, params in METHODS.items():
                wall_runs, cpu_runs = [], []
                for _ in range(max(1, args.repeat)):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    result = selective_search(photo.image, params)
                    wall_runs.append(time.perf_counter() - start)
                    cpu_runs.append(time.process_time() - start_cpu)
                walls[method] += statistics.median(wall_runs)
                cpus[method] += statistics.median(cpu_runs)
                found[method].append(result.boxes)
        rows = {m: (pooled_scores(gts, found[m]), float(np.mean([len(b) for b in found[m]])),
                    walls[m] / len(photos), cpus[m] / len(photos)) for m in METHODS}
        # the same budget: ours cut to full's count on each photo (its first, best-ranked ones)
        cut = [b[:len(f)] for b, f in zip(found["ours"], found["full"], strict=True)]
        rows["ours@N"] = (pooled_scores(gts, cut), float(np.mean([len(b) for b in cut])),
                          rows["ours"][2], rows["ours"][3])
        # what training keeps: the first TRAIN_TOP of each (workbench.engine's classics)
        for method in ("full", "ours"):
            top = [b[:TRAIN_TOP] for b in found[method]]
            rows[f"{method}@2k"] = (pooled_scores(gts, top),
                                    float(np.mean([len(b) for b in top])),
                                    rows[method][2], rows[method][3])
        base_wall, base_cpu = rows["full"][2], rows["full"][3]
        totals.append((len(photos), base_wall, rows["ours"][2], base_cpu, rows["ours"][3]))
        for method, (sc, count, wall, cpu) in rows.items():
            print(f"{set_name:<22} {len(photos):>6} {sc.boxes:>5} {method:<6} | "
                  f"{sc.recall_50:>6.3f} {sc.recall_70:>6.3f} {sc.mabo:>6.3f} | {count:>6.0f} | "
                  f"{wall:>7.3f} {base_wall / wall:>5.1f} | {cpu:>7.3f} {base_cpu / cpu:>5.1f}",
                  flush=True)
        print("-" * len(header))
    n = sum(t[0] for t in totals)
    if n:
        full_w, ours_w = (sum(t[0] * t[i] for t in totals) / n for i in (1, 2))
        full_c, ours_c = (sum(t[0] * t[i] for t in totals) / n for i in (3, 4))
        print(f"per photo: OpenCV {full_w:.3f} s, ours {ours_w:.3f} s wall over all sets "
              f"(speed-up {full_w / ours_w:.1f}x); CPU {full_c:.3f} s vs {ours_c:.3f} s "
              f"({full_c / ours_c:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
