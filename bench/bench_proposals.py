"""Selective search on raccoon photos: ours (reduced resolution) vs plain OpenCV fast mode.

    .venv/bin/python bench/bench_proposals.py [--images N] [--repeat R] [--min-side PX]

Both run OpenCV contrib's selective search in "fast" mode on one thread
(``cv2.setNumThreads(1)``, the issue's baseline). "opencv" is ``switchToSelectiveSearchFast()``
+ ``process()`` on the full-resolution photo; "ours" is
:func:`workbench.core.proposals.selective_search` with its defaults (longest side 320 px,
boxes mapped back, repeats removed). Time is the median of ``--repeat`` runs per photo, from the
decoded image to the final list. Recall@0.5/0.7 and MABO are against the photo's VOC boxes.
The speed-up is total OpenCV time / total ours time over the photos, measured in the same run.
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

from workbench.core.proposals import (  # noqa: E402
    ProposalParams, mabo, recall_at, selective_search,
)
from workbench.core.voc import read_annotation  # noqa: E402

RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"


def photos(n: int, min_side: int) -> list[Path]:
    images = sorted((RACCOON / "images").glob("*.jpg"),
                    key=lambda p: int(p.stem.split("-")[-1]))
    chosen = []
    for path in images:
        img = cv2.imread(str(path))
        if img is not None and max(img.shape[:2]) >= min_side:
            chosen.append(path)
        if len(chosen) == n:
            break
    return chosen


def measure(img: np.ndarray, params: ProposalParams,
            repeat: int) -> tuple[float, float, np.ndarray]:
    """Median wall seconds, median CPU seconds of this process, boxes."""
    wall, cpu, boxes = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = selective_search(img, params)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        boxes = result.boxes
    return statistics.median(wall), statistics.median(cpu), boxes  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--min-side", type=int, default=0,
                        help="only photos whose longest side is at least this (default: any)")
    args = parser.parse_args()
    if not (RACCOON / "images").is_dir():
        print(f"no dataset at {RACCOON}", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    base = ProposalParams(mode="fast", method="opencv")
    ours = ProposalParams(mode="fast", method="ours")
    rows = []
    for path in photos(args.images, args.min_side):
        img = cv2.imread(str(path))
        ann, _ = read_annotation(RACCOON / "annotations" / f"{path.stem}.xml")
        gt = np.asarray([o.box for o in ann.objects], dtype=np.float64).reshape(-1, 4)
        t_cv, c_cv, b_cv = measure(img, base, args.repeat)
        t_us, c_us, b_us = measure(img, ours, args.repeat)
        rows.append((path.name, f"{img.shape[1]}x{img.shape[0]}", len(gt), t_cv, t_us,
                     len(b_cv), len(b_us), recall_at(gt, b_cv, 0.5), recall_at(gt, b_us, 0.5),
                     recall_at(gt, b_cv, 0.7), recall_at(gt, b_us, 0.7), mabo(gt, b_cv),
                     mabo(gt, b_us), c_cv, c_us))
    header = (f"{'photo':<16} {'size':>8} {'gt':>3} | {'opencv s':>8} {'ours s':>7} "
              f"{'x':>5} | {'cpu cv':>6} {'ours':>5} {'x':>5} | {'#cv':>5} {'#ours':>5} | "
              f"{'R@.5 cv':>7} {'ours':>5} | {'R@.7 cv':>7} {'ours':>5} | "
              f"{'MABO cv':>7} {'ours':>5}")
    print(f"selective search, fast mode, 1 thread, median of {args.repeat} runs; "
          "s = wall seconds, cpu = CPU seconds of this process (robust to other load)")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r[0]:<16} {r[1]:>8} {r[2]:>3} | {r[3]:>8.3f} {r[4]:>7.3f} {r[3] / r[4]:>5.1f} | "
              f"{r[13]:>6.3f} {r[14]:>5.3f} {r[13] / r[14]:>5.1f} | {r[5]:>5} {r[6]:>5} | "
              f"{r[7]:>7.2f} {r[8]:>5.2f} | {r[9]:>7.2f} {r[10]:>5.2f} | "
              f"{r[11]:>7.3f} {r[12]:>5.3f}")
    t_cv = sum(r[3] for r in rows)
    t_us = sum(r[4] for r in rows)
    c_cv = sum(r[13] for r in rows)
    c_us = sum(r[14] for r in rows)
    n_gt = sum(r[2] for r in rows)

    def pooled(col: int) -> float:  # over all boxes, not per photo
        return sum(r[col] * r[2] for r in rows) / n_gt

    print("-" * len(header))
    print(f"{'total/pooled':<16} {'':>8} {n_gt:>3} | {t_cv:>8.3f} {t_us:>7.3f} "
          f"{t_cv / t_us:>5.1f} | {c_cv:>6.3f} {c_us:>5.3f} {c_cv / c_us:>5.1f} | "
          f"{sum(r[5] for r in rows):>5} {sum(r[6] for r in rows):>5} | "
          f"{pooled(7):>7.2f} {pooled(8):>5.2f} | {pooled(9):>7.2f} {pooled(10):>5.2f} | "
          f"{pooled(11):>7.3f} {pooled(12):>5.3f}")
    print(f"per photo: OpenCV {t_cv / len(rows):.3f} s, ours {t_us / len(rows):.3f} s wall "
          f"(speed-up {t_cv / t_us:.1f}x); CPU {c_cv / len(rows):.3f} s vs "
          f"{c_us / len(rows):.3f} s ({c_cv / c_us:.1f}x); recall@0.5 {pooled(7):.3f} vs "
          f"{pooled(8):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
