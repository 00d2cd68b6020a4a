"""Which ground-truth boxes a proposal setting misses on a bench set, and what variants find.

    OMP_NUM_THREADS=1 .venv/bin/python bench/ss_misses.py F --images 8 \
        --variant seg_max_box=60 --variant "seg_min_sizes=(30,100)"

Prints, per variant, pooled recall@0.5/0.7, mean #proposals and CPU s per photo, then every
box the default ``ours`` misses at 0.5 (photo, size, best IoU of each variant and of OpenCV's
full-resolution run, cached in /tmp per set and photo count).
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_proposals import METHODS, photo_sets  # noqa: E402

from workbench.core.proposals import ProposalParams, best_overlaps, selective_search  # noqa: E402
from workbench.core.ss_eval import pooled_scores  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", help="one set letter (A-G, R)")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--variant", action="append", default=[],
                        help="name=value[,name=value] overrides of ProposalParams()")
    parser.add_argument("--no-full", action="store_true")
    args = parser.parse_args()
    import cv2
    cv2.setNumThreads(1)
    (_, photos), = photo_sets(args.images, 10, args.set).items()
    gts = [p.boxes for p in photos]
    variants: dict[str, ProposalParams] = {"ours": METHODS["ours"]}
    for text in args.variant:
        kw = {}
        for part in text.split(";"):
            name, value = part.split("=", 1)
            kw[name.strip()] = ast.literal_eval(value.strip())
        variants[text] = replace(METHODS["ours"], **kw)
    found: dict[str, list[np.ndarray]] = {v: [] for v in variants}
    cpu = dict.fromkeys(variants, 0.0)
    for photo in photos:
        for name, params in variants.items():
            t = time.process_time()
            found[name].append(selective_search(photo.image, params).boxes)
            cpu[name] += time.process_time() - t
    if not args.no_full:
        cache = Path(f"/tmp/ss_full_{args.set}_{args.images}.npz")
        if cache.exists():
            data = np.load(cache)
            full = [data[f"a{i}"] for i in range(len(photos))]
        else:
            full = [selective_search(p.image, METHODS["full"]).boxes for p in photos]
            np.savez(cache, **{f"a{i}": b for i, b in enumerate(full)})
        found["full"] = full
        cpu["full"] = float("nan")
    for name, boxes in found.items():
        sc = pooled_scores(gts, boxes)
        print(f"{name:<50} R5 {sc.recall_50:.3f} R7 {sc.recall_70:.3f} MABO {sc.mabo:.3f} "
              f"#{np.mean([len(b) for b in boxes]):.0f} cpu {cpu[name] / len(photos):.3f}")
    print("misses of ours at 0.5: photo  w x h  best IoU per " + " | ".join(found))
    for i, gt in enumerate(gts):
        ious = {n: best_overlaps(gt, found[n][i])[0] for n in found}
        for j in np.flatnonzero(ious["ours"] < 0.5):
            w, h = gt[j, 2] - gt[j, 0], gt[j, 3] - gt[j, 1]
            print(f"  {i} {w:4.0f}x{h:<4.0f} " + " ".join(f"{ious[n][j]:.2f}" for n in found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
