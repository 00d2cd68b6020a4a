"""Detections side of ``workbench eval`` (issue 13): reading results files and the metric.

    .venv/bin/python bench/bench_results_read.py [--sizes 5000,20000,100000] [--root /tmp/bs]
        [--base DIR] [--repeat 3] [--cases read-json,read-devkit,voc07,coco]
        [--out bench/results/results_read.txt]

Uses the synthetic trees of ``bench/bench_scale.py`` (``--keep DIR`` there): ``ROOT/voc_N``
with ``results.json`` (COCO results, ids 1..N / 1..20) and ``devkit/comp4_det_test_*.txt``; a
missing tree is written first (``bench_scale.make_tree``, ``--dets`` per image). Without a
``--base`` checkout only this checkout's columns are filled.
Each row runs in a fresh single-threaded subprocess, this checkout and ``--base`` (the code
to compare with, e.g. ``git archive 62d9ca6 | tar -x -C /tmp/base13r``) alternating,
``--repeat`` times each; the least CPU time (``process_time``) of each is kept. Only ratios
measured in the same run mean anything on a shared machine.

* ``read-json`` / ``read-devkit``: ``read_results`` of the file / folder → detections per CPU
  second (imports not counted; the first read in the process, as ``workbench eval`` reads).
* ``voc07``: ``evaluate_voc(strict=True)`` of the devkit detections; ``coco``:
  ``evaluate_coco`` of the JSON detections — the metric alone, ground truth already in memory
  (read once per size with this checkout's ``project_ground_truth`` and pickled). Both codes'
  mAPs are printed; they must be equal to the last digit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLASSES = sorted(("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
                  "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
                  "sheep", "sofa", "train", "tvmonitor"))
SCRATCH = Path("/tmp/bench_results_read")

CHILD = r"""
import json, pickle, sys, time
sys.path.insert(0, CODE)
case, tree, n, gt_pickle = CASE, TREE, N, GT
from workbench.core.results import read_results
out = {}
if case.startswith("read-"):
    ids = [f"{i:06d}" for i in range(n)]
    path = tree + ("/results.json" if case == "read-json" else "/devkit")
    c0 = time.process_time()
    dets = read_results(path, image_ids=ids, classes=CLASSES)
    out["cpu_s"] = time.process_time() - c0
    rows = getattr(dets, "rows", None)
    out["detections"] = rows if rows is not None else sum(len(d) for d in dets)
else:
    from workbench.core.metrics import evaluate_coco, evaluate_voc
    gt = pickle.load(open(gt_pickle, "rb"))
    if case == "voc07":
        dets = read_results(tree + "/devkit")
        c0 = time.process_time()
        res = evaluate_voc(gt, dets, use_07_metric=True, strict=True)
    else:
        dets = read_results(tree + "/results.json", image_ids=list(gt), classes=CLASSES)
        c0 = time.process_time()
        res = evaluate_coco(gt, dets)
    out["cpu_s"] = time.process_time() - c0
    out["map"] = repr(float(res.map))
print(json.dumps(out))
"""


def child(code: Path, case: str, tree: Path, n: int, gt: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    src = (f"CODE, CASE, TREE, N, GT, CLASSES = {str(code)!r}, {case!r}, {str(tree)!r}, {n}, "
           f"{str(gt)!r}, {CLASSES!r}\n" + CHILD)
    proc = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, env=env,
                          cwd=str(code))
    if proc.returncode != 0:
        raise RuntimeError(f"{case} {tree} ({code}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ground_truth_pickle(tree: Path, n: int) -> Path:
    path = SCRATCH / f"gt_{n}.pkl"
    if not path.exists():
        SCRATCH.mkdir(parents=True, exist_ok=True)
        code = ("import pickle, sys; from workbench.core.project import Project; "
                "from workbench.core.results import project_ground_truth; "
                f"p = Project.open({str(tree / 'JPEGImages')!r}, {str(tree / 'Annotations')!r}); "
                f"pickle.dump(project_ground_truth(p), open({str(path)!r}, 'wb'), protocol=5)")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="5000,20000,100000")
    ap.add_argument("--root", default="/tmp/bs", type=Path)
    ap.add_argument("--base", default="/tmp/base13r", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", default="read-json,read-devkit,voc07,coco")
    ap.add_argument("--dets", type=int, default=100,
                    help="detections per image of a tree written here (default 100)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "results_read.txt"))
    args = ap.parse_args(argv)
    lines = [f"# bench_results_read  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"load {os.getloadavg()[0]:.2f}; base {args.base}; least CPU of {args.repeat} "
             "alternating fresh-process runs",
             f"{'size':>7} {'case':12} {'rows':>9} {'base cpu':>9} {'this cpu':>9} "
             f"{'base det/s':>11} {'this det/s':>11} {'ratio':>6}  mAP base / this"]
    print("\n".join(lines), flush=True)
    codes = (("base", args.base), ("this", ROOT)) if args.base.is_dir() else (("this", ROOT),)
    if not args.base.is_dir():
        print(f"# no base checkout at {args.base}: this checkout only", flush=True)
    for n in [int(s) for s in args.sizes.split(",")]:
        tree = args.root / f"voc_{n}"
        if not (tree / "Annotations").is_dir():
            sys.path.insert(0, str(ROOT / "bench"))
            import bench_scale

            made = bench_scale.make_tree(tree, n, args.dets)
            print(f"# wrote {tree}: {made['objects']} objects, {made['detections']} detections",
                  flush=True)
        gt = ground_truth_pickle(tree, n) if {"voc07", "coco"} & set(args.cases.split(",")) \
            else Path("-")
        for case in args.cases.split(","):
            best: dict[str, dict] = {}
            for _ in range(args.repeat):
                for label, code in codes:
                    row = child(code, case, tree, n, gt)
                    if label not in best or row["cpu_s"] < best[label]["cpu_s"]:
                        best[label] = row
            t = best["this"]
            b = best.get("base", {"cpu_s": float("nan"), "map": "-",
                                  "detections": t.get("detections", 0)})
            rows = t.get("detections", b.get("detections", 0))
            if case.startswith("read-"):
                assert b["detections"] == t["detections"], (b, t)
            maps = f"{b['map']} / {t['map']}" if "map" in t else ""
            if maps and "base" in best and b["map"] != t["map"]:
                maps += "  DIFFERENT"
            rate_b, rate_t = (f"{rows / r['cpu_s'] / 1e6:.2f}M" if rows and r["cpu_s"] == r["cpu_s"]
                              else "-" for r in (b, t))
            line = (f"{n:>7} {case:12} {rows:>9} {b['cpu_s']:>9.3f} {t['cpu_s']:>9.3f} "
                    f"{rate_b:>11} {rate_t:>11} {b['cpu_s'] / t['cpu_s']:>6.2f}  {maps}")
            print(line, flush=True)
            lines.append(line)
    lines.append(f"# load at the end {os.getloadavg()[0]:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
