"""Reading and writing at scale (issue 13): readers, results files, eval, export, memory.

    .venv/bin/python bench/bench_scale.py [--sizes 5000,20000,100000] [--dets 100]
        [--out bench/results/scale.txt] [--keep DIR] [--code DIR] [--versus DIR]

For each size N a synthetic PASCAL VOC tree is written with plain string templates
(``Annotations/*.xml`` LabelImg-style, 20 VOC classes, 3-8 objects per image (~5.5), 10 %
difficult; ``JPEGImages/*.jpg`` are hard links to one tiny JPEG; ``ImageSets/Main/test.txt``),
and beside it the detections of a fake detector, ``--dets`` per image (jittered copies of
the ground truth and random boxes, scores uniform): a VOC devkit folder
(``comp4_det_test_<class>.txt``) and a COCO results JSON (ids as ``--write-coco-gt`` gives
them) plus that COCO ground truth. Every case runs in its own single-threaded subprocess,
so its peak RSS is its own. Rows:

* ``read VOC/YOLO/COCO``: ``Project.open`` + ``load`` of every entry (no image check) →
  annotation files (images) per second; YOLO and COCO trees are converted from the VOC one
  (``workbench.core.formats`` readers). ``validate``: ``validate_project`` without the
  pixel decode (``check_images=False``; headers are read where a format needs sizes);
  ``validate-decode``: what ``workbench validate`` does by default, every image decoded
  (a 500x375 JPEG here) to find truncated files — the decode, not the reading, sets its rate.
* ``results devkit/JSON``: ``read_results`` → detections per second.
* ``eval``: the whole ``workbench eval`` command (``cli.main``; ground truth read, results
  read, metric) vs its baselines on the same files: COCO (``--metric coco``, results JSON)
  vs faster-coco-eval's whole run (load GT, loadRes, evaluate, accumulate, summarize); VOC07
  (``--metric voc07``, devkit folder) vs py-faster-rcnn's ``voc_eval.py`` for every class
  (``bench/reference/voc_eval_pyfasterrcnn.py``). Both keep parsed annotations between
  runs, so VOC07 has two rows each: *cold* (``eval-voc07``: workbench's ground-truth cache
  ``$XDG_CACHE_HOME/workbench/gt`` emptied before each run, so it is built and written inside
  the measured run; ``voc_eval.py``: a new ``cachedir``, so the first class parses every XML
  and pickles it, the 19 others load the pickle) and *warm* (``eval-voc07-warm`` /
  ``voc_eval.py-warm``: both caches filled by an unmeasured run before; workbench still
  lists both folder trees and stats every file and folder under them to check its cache
  (``gt_cache.TreeSnapshot``), voc_eval.py never looks at the XML again).
  The mAPs are printed beside each other: they must agree.
* ``export coco`` / ``evaluate_coco``: wall time and peak RSS of ``export_project(fmt=
  "coco")`` and of ``evaluate_coco`` alone (peak RSS above the process before the call).

``--versus DIR`` runs the reader rows and workbench's eval rows also with the workbench of
the source tree DIR (e.g. ``git archive`` of an older commit), the two alternating, and prints
both with the ratio; the table is appended to ``--out`` (earlier runs stay above it).

Numbers depend on the machine: the header records it. The 100k size writes ~10^7 detections
(~1 GB of text); pass ``--dets`` lower there on a small machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
           "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep",
           "sofa", "train", "tvmonitor")
WIDTH, HEIGHT = 500, 375

_OBJECT = ("\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n"
           "\t\t<truncated>0</truncated>\n\t\t<difficult>{difficult}</difficult>\n"
           "\t\t<bndbox>\n\t\t\t<xmin>{xmin}</xmin>\n\t\t\t<ymin>{ymin}</ymin>\n"
           "\t\t\t<xmax>{xmax}</xmax>\n\t\t\t<ymax>{ymax}</ymax>\n\t\t</bndbox>\n\t</object>\n")
_ANNOTATION = ("<annotation>\n\t<folder>JPEGImages</folder>\n\t<filename>{filename}</filename>\n"
               "\t<path>{filename}</path>\n\t<source>\n\t\t<database>Unknown</database>\n"
               "\t</source>\n\t<size>\n\t\t<width>{w}</width>\n\t\t<height>{h}</height>\n"
               "\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n{objects}"
               "</annotation>\n")


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (120, 130, 140)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


_LINKS_PER_FILE = 60_000  # ext4 allows 65,000 hard links to one inode


def link_image(root: Path, dst: Path, i: int) -> None:
    """Hard-link ``dst`` to one of a few copies of the tiny JPEG (``root/image<k>.jpg``)."""
    master = root / f"image{i // _LINKS_PER_FILE}.jpg"
    if not master.exists():
        master.write_bytes(_jpeg())
    os.link(master, dst)


def stem(i: int) -> str:
    return f"{i:06d}"


def make_ground_truth(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Objects of ``n`` images as flat arrays: image, class, VOC box (1-based ints), difficult."""
    rng = np.random.default_rng(seed)
    per = rng.integers(3, 9, size=n)
    image = np.repeat(np.arange(n), per)
    g = len(image)
    cls = rng.integers(0, len(CLASSES), size=g)
    w = rng.integers(20, 200, size=g)
    h = rng.integers(20, 200, size=g)
    x1 = rng.integers(1, WIDTH - w)
    y1 = rng.integers(1, HEIGHT - h)
    difficult = rng.random(g) < 0.1
    return {"image": image, "cls": cls, "xmin": x1, "ymin": y1, "xmax": x1 + w - 1,
            "ymax": y1 + h - 1, "difficult": difficult, "n": n}


def write_voc(root: Path, gt: dict) -> None:
    ann_dir, img_dir, sets = root / "Annotations", root / "JPEGImages", root / "ImageSets/Main"
    for d in (ann_dir, img_dir, sets):
        d.mkdir(parents=True, exist_ok=True)
    n = gt["n"]
    bounds = np.searchsorted(gt["image"], np.arange(n + 1))
    cols = [gt[k].tolist() for k in ("cls", "xmin", "ymin", "xmax", "ymax", "difficult")]
    for i in range(n):
        s = stem(i)
        objects = "".join(
            _OBJECT.format(name=CLASSES[cols[0][j]], difficult=int(cols[5][j]), xmin=cols[1][j],
                           ymin=cols[2][j], xmax=cols[3][j], ymax=cols[4][j])
            for j in range(bounds[i], bounds[i + 1]))
        (ann_dir / f"{s}.xml").write_text(
            _ANNOTATION.format(filename=f"{s}.jpg", w=WIDTH, h=HEIGHT, objects=objects))
        link_image(root, img_dir / f"{s}.jpg", i)
    (sets / "test.txt").write_text("".join(f"{stem(i)}\n" for i in range(n)))


def make_detections(gt: dict, per_image: int, seed: int = 1) -> dict[str, np.ndarray]:
    """``per_image`` detections per image: a jittered copy of each object, the rest random."""
    rng = np.random.default_rng(seed)
    n = gt["n"]
    counts = np.bincount(gt["image"], minlength=n)
    hits = np.minimum(counts, per_image)
    image = np.repeat(np.arange(n), per_image)
    d = len(image)
    cls = rng.integers(0, len(CLASSES), size=d)
    w = rng.uniform(10, 250, size=d)
    h = rng.uniform(10, 250, size=d)
    x1 = rng.uniform(0, WIDTH - 250, size=d)
    y1 = rng.uniform(0, HEIGHT - 250, size=d)
    score = rng.uniform(0.01, 0.5, size=d)
    # the first hits[i] detections of image i copy its objects with a little jitter
    first = np.repeat(np.arange(n) * per_image, hits) + _ranks(hits)
    src = np.repeat(np.searchsorted(gt["image"], np.arange(n)), hits) + _ranks(hits)
    jitter = rng.normal(0, 4, size=(len(first), 4))
    cls[first] = gt["cls"][src]
    x1[first] = gt["xmin"][src] - 1 + jitter[:, 0]
    y1[first] = gt["ymin"][src] - 1 + jitter[:, 1]
    w[first] = gt["xmax"][src] - gt["xmin"][src] + 1 + jitter[:, 2]
    h[first] = gt["ymax"][src] - gt["ymin"][src] + 1 + jitter[:, 3]
    score[first] = rng.uniform(0.3, 1.0, size=len(first))
    x1, y1 = np.clip(x1, 0, WIDTH - 2), np.clip(y1, 0, HEIGHT - 2)
    w, h = np.clip(w, 1, WIDTH - x1), np.clip(h, 1, HEIGHT - y1)
    return {"image": image, "cls": cls, "x": np.round(x1, 1), "y": np.round(y1, 1),
            "w": np.round(w, 1), "h": np.round(h, 1), "score": np.round(score, 6)}


def _ranks(counts: np.ndarray) -> np.ndarray:
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def write_results(root: Path, gt: dict, det: dict) -> None:
    """Devkit folder (1-based pixels), COCO results JSON and the matching COCO ground truth."""
    devkit = root / "devkit"
    devkit.mkdir(exist_ok=True)
    stems = np.array([stem(i) for i in range(gt["n"])])
    order = np.argsort(det["cls"], kind="stable")
    bounds = np.searchsorted(det["cls"][order], np.arange(len(CLASSES) + 1))
    for k, name in enumerate(CLASSES):
        idx = order[bounds[k]:bounds[k + 1]]
        x1, y1 = det["x"][idx] + 1, det["y"][idx] + 1  # pixel edge → 1-based inclusive
        x2, y2 = det["x"][idx] + det["w"][idx], det["y"][idx] + det["h"][idx]
        rows = zip(stems[det["image"][idx]].tolist(), det["score"][idx].tolist(),
                   x1.tolist(), y1.tolist(), x2.tolist(), y2.tolist())
        with open(devkit / f"comp4_det_test_{name}.txt", "w") as fh:
            fh.writelines("%s %.6f %.1f %.1f %.1f %.1f\n" % r for r in rows)
    # the COCO ground truth of `workbench eval --write-coco-gt`: ids 1..N, classes sorted
    names = sorted(CLASSES)
    remap = np.array([names.index(c) + 1 for c in CLASSES])
    images = [{"id": i + 1, "file_name": stem(i), "width": WIDTH, "height": HEIGHT}
              for i in range(gt["n"])]
    x, y = gt["xmin"] - 1, gt["ymin"] - 1
    w, h = gt["xmax"] - x, gt["ymax"] - y
    anns = [{"id": j + 1, "image_id": i + 1, "category_id": c, "bbox": [bx, by, bw, bh],
             "area": bw * bh, "iscrowd": int(dif)}
            for j, (i, c, bx, by, bw, bh, dif) in enumerate(zip(
                gt["image"].tolist(), remap[gt["cls"]].tolist(), x.tolist(), y.tolist(),
                w.tolist(), h.tolist(), gt["difficult"].tolist()))]
    cats = [{"id": i + 1, "name": c} for i, c in enumerate(names)]
    (root / "coco_gt.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": cats}))
    # the results JSON: category ids 1..K in sorted class order too
    write_coco_results(root / "results.json", det, remap[det["cls"]])


def write_coco_results(path: Path, det: dict, cats: np.ndarray) -> None:
    rows = zip((det["image"] + 1).tolist(), cats.tolist(), det["x"].tolist(),
               det["y"].tolist(), det["w"].tolist(), det["h"].tolist(), det["score"].tolist())
    with open(path, "w") as fh:
        fh.write("[")
        fh.write(", ".join('{"image_id": %d, "category_id": %d, "bbox": [%.1f, %.1f, %.1f, '
                           '%.1f], "score": %.6f}' % r for r in rows))
        fh.write("]")


def make_tree(root: Path, n: int, dets: int) -> dict:
    start = time.perf_counter()
    gt = make_ground_truth(n)
    write_voc(root, gt)
    det = make_detections(gt, dets)
    write_results(root, gt, det)
    return {"objects": len(gt["image"]), "detections": len(det["image"]),
            "seconds": time.perf_counter() - start}


# --------------------------------------------------------------------------- cases (children)


def _status_mb(key: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` of this process in MB. Not ``ru_maxrss``: it carries
    the parent's peak over ``exec`` into a fresh child."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    return _status_mb("VmHWM")


def _reset_peak() -> float:
    """Restart the peak count (Linux ``clear_refs`` 5) → the resident MB now."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def case(name: str, root: str, extra: str = "") -> dict:
    """In the child: run one case, return its numbers (the workbench of ``$BENCH_CODE``, a
    source tree, when set: ``--code``)."""
    sys.path.insert(0, os.environ.get("BENCH_CODE") or str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import logging

    logging.disable(logging.WARNING)
    r = Path(root)
    out: dict = {}
    t0, c0 = time.perf_counter(), time.process_time()
    if name.startswith("read-") or name.startswith("validate"):
        from workbench.core.project import Project
        from workbench.core.validate import validate_project

        fmt = name.removeprefix("read-") if name.startswith("read-") else "voc"
        t0, c0 = time.perf_counter(), time.process_time()  # readers: imports not counted
        if fmt == "voc":
            project = Project.open(r / "JPEGImages", r / "Annotations")
        else:
            project = Project.open(r / fmt, format=fmt)
        if name.startswith("validate"):
            report = validate_project(project, check_images=name == "validate-decode")
            out["objects"], out["errors"] = report.objects, report.errors
        else:
            objects = 0
            for e in project.entries:
                ann, _ = project.load(e, check_image=False)
                objects += len(ann.objects) if ann is not None else 0
            out["objects"] = objects
        out["files"] = len(project.entries)
    elif name.startswith("results-"):
        from workbench.core.results import read_results

        names = sorted(CLASSES)
        n = int(extra)
        t0, c0 = time.perf_counter(), time.process_time()
        path = r / ("devkit" if name == "results-devkit" else "results.json")
        dets = read_results(path, image_ids=[stem(i) for i in range(n)], classes=names)
        # A DetectionRuns (devkit, COCO) counts its rows; iterating it would make one
        # ImageDetections per run (1.3M runs at 100k images x 20 detections: ~1 s of the
        # row was this count, not the reading).
        rows = getattr(dets, "rows", None)
        out["detections"] = rows if rows is not None else sum(len(d) for d in dets)
    elif name in ("eval-coco", "eval-voc07", "eval-voc07-warm"):
        from workbench.cli import main

        results = "results.json" if name == "eval-coco" else "devkit"
        metric = name.removeprefix("eval-").removesuffix("-warm")
        report = r / f"{name}.json"
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(["eval", str(r / "JPEGImages"), "--annotations", str(r / "Annotations"),
                       "--results", str(r / results), "--metric", metric, "--json",
                       *(["--strict"] if metric == "voc07" else [])])
        assert rc == 0, rc
        doc = json.loads(buf.getvalue())
        out["map"] = doc[metric]["map"]
        report.write_text(buf.getvalue())
    elif name == "faster-coco-eval":
        from faster_coco_eval import COCO, COCOeval_faster

        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            gt = COCO(str(r / "coco_gt.json"))
            dt = gt.loadRes(str(r / "results.json"))
            ev = COCOeval_faster(gt, dt, "bbox")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        out["map"] = float(ev.stats[0])
    elif name in ("voc_eval.py", "voc_eval.py-warm"):
        from reference.voc_eval_pyfasterrcnn import voc_eval

        cache = (r / ".voc_eval_cache" if name.endswith("-warm")
                 else Path(tempfile.mkdtemp(prefix="voc_eval_cache_")))
        aps = []
        for c in CLASSES:
            _, _, ap = voc_eval(str(r / "devkit" / "comp4_det_test_{:s}.txt"),
                                str(r / "Annotations" / "{:s}.xml"),
                                str(r / "ImageSets" / "Main" / "test.txt"), c, str(cache),
                                ovthresh=0.5, use_07_metric=True)
            aps.append(ap)
        if not name.endswith("-warm"):
            shutil.rmtree(cache)
        out["map"] = float(np.mean(aps))
    elif name == "export-coco":
        from workbench.core.export import export_project
        from workbench.core.project import Project

        project = Project.open(r / "JPEGImages", r / "Annotations")
        dst = Path(tempfile.mkdtemp(prefix="bench_export_"))
        before = _reset_peak()
        summary = export_project(project, dst, "coco", overwrite=True)
        out["images"] = summary.images
        out["rss_above_mb"] = _rss_mb() - before
        shutil.rmtree(dst)
    elif name == "evaluate_coco":
        from workbench.core.metrics import evaluate_coco
        from workbench.core.project import Project
        from workbench.core.results import project_ground_truth, read_results

        project = Project.open(r / "JPEGImages", r / "Annotations")
        gt_map = project_ground_truth(project)
        dets = read_results(r / "results.json", image_ids=list(gt_map),
                            classes=sorted(CLASSES))
        before = _reset_peak()
        t0, c0 = time.perf_counter(), time.process_time()
        res = evaluate_coco(gt_map, dets)
        out["map"] = res.map
        out["rss_above_mb"] = _rss_mb() - before
    else:
        raise ValueError(name)
    out["wall_s"] = time.perf_counter() - t0
    out["cpu_s"] = time.process_time() - c0
    out["rss_mb"] = _rss_mb()
    return out


def run_child(name: str, root: Path, extra: str = "") -> dict:
    """Run one case in a fresh process. workbench's ground-truth cache lives in
    ``root/.gt_cache`` (emptied before ``eval-voc07``, kept for ``eval-voc07-warm``)."""
    if name == "eval-voc07":
        shutil.rmtree(root / ".gt_cache", ignore_errors=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               XDG_CACHE_HOME=str(root / ".gt_cache"))
    env.pop("WORKBENCH_GT_CACHE", None)
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
            f"import bench_scale as b; "
            f"print(json.dumps(b.case({name!r}, {str(root)!r}, {extra!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _alternate(name: str, root: Path, extra: str, repeat: int, versus: Path
               ) -> tuple[dict, dict]:
    """``(this code's row, --versus code's row)``: each the least CPU time of ``repeat``
    runs, the two codes alternating (so both see the same machine load)."""
    mine = os.environ.get("BENCH_CODE")
    best: dict[str, dict] = {}
    try:
        for _ in range(max(repeat, 1)):
            for label, code in (("versus", str(versus.resolve())), ("this", mine)):
                if code is None:
                    os.environ.pop("BENCH_CODE", None)
                else:
                    os.environ["BENCH_CODE"] = code
                row = run_child(name, root, extra)
                if label not in best or row["cpu_s"] < best[label]["cpu_s"]:
                    best[label] = row
    finally:
        if mine is None:
            os.environ.pop("BENCH_CODE", None)
        else:
            os.environ["BENCH_CODE"] = mine
    return best["this"], best["versus"]


def _with_code(code: Path, name: str, root: Path) -> dict:
    """:func:`run_child` with ``$BENCH_CODE`` naming ``code`` (the child runs that tree)."""
    mine = os.environ.get("BENCH_CODE")
    os.environ["BENCH_CODE"] = str(code.resolve())
    try:
        return run_child(name, root)
    finally:
        if mine is None:
            os.environ.pop("BENCH_CODE", None)
        else:
            os.environ["BENCH_CODE"] = mine


def convert_formats(root: Path, gt: dict) -> None:
    """YOLO (LabelImg side-by-side) and COCO trees of the same boxes, for the reader rows."""
    n = gt["n"]
    bounds = np.searchsorted(gt["image"], np.arange(n + 1))
    yolo, coco = root / "yolo", root / "coco"
    (coco / "images").mkdir(parents=True)
    yolo.mkdir()
    x1, y1 = gt["xmin"] - 1, gt["ymin"] - 1
    w, h = gt["xmax"] - x1, gt["ymax"] - y1
    cx, cy = (x1 + w / 2) / WIDTH, (y1 + h / 2) / HEIGHT
    cols = [a.tolist() for a in (gt["cls"], cx, cy, w / WIDTH, h / HEIGHT)]
    images, anns = [], []
    for i in range(n):
        s = stem(i)
        link_image(root, yolo / f"{s}.jpg", n + i)
        link_image(root, coco / "images" / f"{s}.jpg", 2 * n + i)
        (yolo / f"{s}.txt").write_text("".join(
            f"{cols[0][j]} {cols[1][j]:.6f} {cols[2][j]:.6f} {cols[3][j]:.6f} {cols[4][j]:.6f}\n"
            for j in range(bounds[i], bounds[i + 1])))
        images.append({"id": i + 1, "file_name": f"{s}.jpg", "width": WIDTH, "height": HEIGHT})
    (yolo / "classes.txt").write_text("".join(f"{c}\n" for c in CLASSES))
    for j, (i, c, bx, by, bw, bh) in enumerate(zip(gt["image"].tolist(), gt["cls"].tolist(),
                                                   x1.tolist(), y1.tolist(), w.tolist(),
                                                   h.tolist())):
        anns.append({"id": j + 1, "image_id": i + 1, "category_id": c + 1,
                     "bbox": [bx, by, bw, bh], "area": bw * bh, "iscrowd": 0})
    (coco / "instances.json").write_text(json.dumps({
        "images": images, "annotations": anns,
        "categories": [{"id": k + 1, "name": c} for k, c in enumerate(CLASSES)]}))


# --------------------------------------------------------------------------- main

ALL_CASES = ("read-voc", "read-yolo", "read-coco", "validate", "validate-decode",
             "results-devkit", "results-json", "eval-coco", "faster-coco-eval", "eval-voc07",
             "voc_eval.py", "eval-voc07-warm", "voc_eval.py-warm", "export-coco",
             "evaluate_coco")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,20000,100000",
                    help="comma-separated image counts (default 5000,20000,100000)")
    ap.add_argument("--dets", type=int, default=100, help="detections per image (default 100)")
    ap.add_argument("--skip", default="", help="comma-separated cases to leave out")
    ap.add_argument("--only", default="", help="comma-separated cases to run (default: all)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each reader row N times, and each eval and its baseline N times "
                    "alternating; keep each one's least CPU time (default 1)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.txt",
                    help="file the table is appended to (default bench/results/scale.txt)")
    ap.add_argument("--keep", type=Path, default=None, help="build trees here and keep them")
    ap.add_argument("--code", type=Path, default=None,
                    help="run workbench from this source tree (e.g. `git archive` of an older "
                    "commit) instead of this one; baselines are unchanged")
    ap.add_argument("--versus", type=Path, default=None,
                    help="reader and eval rows: run each case also with the workbench of this "
                    "source tree, the two alternating (--repeat times each), and print both "
                    "with the ratio (on a shared machine, separate runs differ by +-20%%)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    skip = set(filter(None, args.skip.split(",")))
    only = set(filter(None, args.only.split(",")))
    if only:
        skip |= {c for c in ALL_CASES if c not in only}
    if args.code is not None:
        os.environ["BENCH_CODE"] = str(args.code.resolve())
    # Bytecode as an installed package has it: with PYTHONDONTWRITEBYTECODE set (as in this
    # project's sessions) every module edited since its .pyc was written was compiled again in
    # every measured run (0.15 s of a 5k eval).
    import compileall

    for tree in {args.code or ROOT, ROOT, args.versus or ROOT}:
        compileall.compile_dir(str(Path(tree) / "workbench"), quiet=1)
    compileall.compile_dir(str(ROOT / "bench" / "reference"), quiet=1)
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_scale_"))
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"# bench/bench_scale.py — {time.strftime('%Y-%m-%d')} — "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), "
        f"python {platform.python_version()}, one single-threaded process per case")
    if args.code is not None:
        say(f"# workbench code from {args.code}")
    if args.versus is not None:
        say(f"# reader and eval rows also with the workbench code from {args.versus} ('(versus)' rows), "
            "the two alternating")
    say(f"# synthetic VOC: 20 classes, 3-8 objects/image, 10% difficult; {args.dets} "
        "detections/image")
    say("# .pyc of workbench and bench/reference compiled before the runs (as installed)")
    say("# rates and speed-ups use CPU seconds (process_time; the machine is shared, wall "
        "time is shown too); eval = the whole command, imports and CLI included")
    if args.repeat > 1:
        say(f"# reader and eval rows: the least CPU time of {args.repeat} runs each (eval and "
            "its baseline alternating)")
    try:
        for n in sizes:
            root = base / f"voc_{n}"
            if not (root / "results.json").exists():
                if root.exists():
                    shutil.rmtree(root)
                info = make_tree(root, n, args.dets)
                say(f"\n## {n} images, {info['objects']} objects, {info['detections']} "
                    f"detections (generated in {info['seconds']:.0f} s)")
            else:
                say(f"\n## {n} images (tree reused from {root})")
            ndet = n * args.dets
            if {"read-yolo", "read-coco"} - skip and not (root / "yolo").exists():
                convert_formats(root, make_ground_truth(n))
            say(f"{'case':<26} {'wall s':>7} {'cpu s':>7} {'rate per cpu s':>18} "
                f"{'peak RSS MB':>11}  note")
            for name, unit, count in (("read-voc", "files/s", n), ("read-yolo", "files/s", n),
                                      ("read-coco", "images/s", n), ("validate", "files/s", n),
                                      ("validate-decode", "files/s", n),
                                      ("results-devkit", "dets/s", ndet),
                                      ("results-json", "dets/s", ndet)):
                if name in skip:
                    continue
                if args.versus is None:
                    r = min((run_child(name, root, str(n)) for _ in range(args.repeat)),
                            key=lambda row: row["cpu_s"])
                else:  # this code and --versus alternating, least CPU of each
                    r, v = _alternate(name, root, str(n), args.repeat, args.versus)
                    count = v.get("detections", count)
                    say(f"{name + ' (versus)':<26} {v['wall_s']:>7.2f} {v['cpu_s']:>7.2f} "
                        f"{count / v['cpu_s']:>10.0f} {unit:<8} {v['rss_mb']:>10.0f}")
                count = r.get("detections", count)  # a reused tree may hold other --dets
                note = "" if args.versus is None else \
                    f"  {v['cpu_s'] / r['cpu_s']:.2f}x the rate of --versus"
                say(f"{name:<26} {r['wall_s']:>7.2f} {r['cpu_s']:>7.2f} "
                    f"{count / r['cpu_s']:>10.0f} {unit:<8} {r['rss_mb']:>10.0f}{note}")
            pairs = (("eval-coco", "faster-coco-eval"), ("eval-voc07", "voc_eval.py"),
                     ("eval-voc07-warm", "voc_eval.py-warm"))
            for ours, theirs in pairs:
                if ours in skip:
                    continue
                if ours.endswith("-warm"):  # fill both caches, unmeasured
                    run_child(ours, root)
                    if theirs not in skip:
                        run_child(theirs, root)
                a = b = v = None
                for _ in range(args.repeat):
                    if args.versus is not None:  # the --versus code's run first, alternating
                        rv = _with_code(args.versus, ours, root)
                        v = rv if v is None or rv["cpu_s"] < v["cpu_s"] else v
                    ra = run_child(ours, root)
                    a = ra if a is None or ra["cpu_s"] < a["cpu_s"] else a
                    if theirs not in skip:
                        rb = run_child(theirs, root)
                        b = rb if b is None or rb["cpu_s"] < b["cpu_s"] else b
                assert a is not None
                if v is not None:
                    say(f"{'(versus) ' + ours:<26} {v['wall_s']:>7.2f} {v['cpu_s']:>7.2f} "
                        f"{'mAP %.4f' % v['map']:>18} {v['rss_mb']:>11.0f}"
                        + (f"  {b['cpu_s'] / v['cpu_s']:.1f}x faster than {theirs} (cpu)"
                           if b else ""))
                say(f"{'workbench ' + ours:<26} {a['wall_s']:>7.2f} {a['cpu_s']:>7.2f} "
                    f"{'mAP %.4f' % a['map']:>18} {a['rss_mb']:>11.0f}"
                    + (f"  {v['cpu_s'] / a['cpu_s']:.2f}x the speed of --versus (cpu)"
                       if v is not None else ""))
                if b:
                    say(f"{theirs:<26} {b['wall_s']:>7.2f} {b['cpu_s']:>7.2f} "
                        f"{'mAP %.4f' % b['map']:>18} {b['rss_mb']:>11.0f}  workbench "
                        f"{b['cpu_s'] / a['cpu_s']:.1f}x faster (cpu), "
                        f"{b['wall_s'] / a['wall_s']:.1f}x (wall)")
            for name in ("export-coco", "evaluate_coco"):
                if name in skip:
                    continue
                r = run_child(name, root)
                say(f"{name:<26} {r['wall_s']:>7.2f} {r['cpu_s']:>7.2f} {'':>18} "
                    f"{r['rss_mb']:>11.0f}  peak during the call: +{r['rss_above_mb']:.0f} MB "
                    "over the resident memory before it")
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as fh:  # earlier runs kept above
        fh.write("\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
