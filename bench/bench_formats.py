"""Reader throughput per label format: files (images) per second on one core, peak memory.

    .venv/bin/python bench/bench_formats.py [--sizes 5000 20000] [--coco-million]
        [--out bench/results/formats.txt]

For each size N a synthetic dataset is written per format (tiny 64x48 JPEGs, 5 boxes per
image: N label files for VOC / YOLO / labelme, one JSON for COCO / CreateML), then each case
runs in its own single-threaded subprocess (so peak RSS is its own):

* ``open+read``: ``Project.open`` (detection included) and ``project.load`` of every entry
  without checking the image (YOLO still needs every image size: JPEG headers, cached);
* ``validate``: ``validate_project`` (every image header checked, every problem collected).

``--coco-million`` adds one COCO JSON with 10,000 images x 100 boxes (10^6 annotations):
open+read time and peak RSS. Results are printed as a table and written to ``--out``.
"""

from __future__ import annotations

import argparse
import io
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

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("voc", "yolo", "coco", "createml", "labelme")
BOXES = [(4, 6, 20, 30), (10, 5, 40, 25), (30, 20, 60, 45), (1, 1, 63, 47), (20, 10, 35, 40)]


def _jpeg() -> bytes:
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def make_dataset(fmt: str, root: Path, n: int, per_image: int = 5) -> None:
    jpeg = _jpeg()
    img_dir = root / "images" if fmt in ("coco", "createml") else root
    img_dir.mkdir(parents=True, exist_ok=True)
    boxes = (BOXES * (per_image // len(BOXES) + 1))[:per_image]
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "thing"}]}
    createml = []
    for i in range(n):
        name = f"img{i:06d}.jpg"
        (img_dir / name).write_bytes(jpeg)
        stem = root / f"img{i:06d}"
        if fmt == "voc":
            objs = "".join(
                f"\t<object>\n\t\t<name>thing</name>\n\t\t<pose>Unspecified</pose>\n"
                f"\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n\t\t<bndbox>\n"
                f"\t\t\t<xmin>{x1 + 1}</xmin>\n\t\t\t<ymin>{y1 + 1}</ymin>\n"
                f"\t\t\t<xmax>{x2}</xmax>\n\t\t\t<ymax>{y2}</ymax>\n\t\t</bndbox>\n\t</object>\n"
                for x1, y1, x2, y2 in boxes)
            stem.with_suffix(".xml").write_text(
                f"<annotation>\n\t<folder>x</folder>\n\t<filename>{name}</filename>\n"
                f"\t<size>\n\t\t<width>64</width>\n\t\t<height>48</height>\n\t\t<depth>3</depth>\n"
                f"\t</size>\n\t<segmented>0</segmented>\n{objs}</annotation>\n")
        elif fmt == "yolo":
            stem.with_suffix(".txt").write_text("".join(
                f"0 {(x1 + x2) / 128:.6f} {(y1 + y2) / 96:.6f} {(x2 - x1) / 64:.6f} "
                f"{(y2 - y1) / 48:.6f}\n" for x1, y1, x2, y2 in boxes))
        elif fmt == "labelme":
            stem.with_suffix(".json").write_text(json.dumps({
                "version": "5.4.1", "flags": {}, "imagePath": name, "imageData": None,
                "imageWidth": 64, "imageHeight": 48,
                "shapes": [{"label": "thing", "points": [[x1, y1], [x2, y2]], "group_id": None,
                            "shape_type": "rectangle", "flags": {}}
                           for x1, y1, x2, y2 in boxes]}, indent=2))
        elif fmt == "coco":
            coco["images"].append({"id": i, "file_name": name, "width": 64, "height": 48})
            for x1, y1, x2, y2 in boxes:
                coco["annotations"].append({
                    "id": len(coco["annotations"]) + 1, "image_id": i, "category_id": 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0, "segmentation": []})
        elif fmt == "createml":
            createml.append({"image": name, "annotations": [
                {"label": "thing", "coordinates": {"x": (x1 + x2) / 2, "y": (y1 + y2) / 2,
                                                   "width": x2 - x1, "height": y2 - y1}}
                for x1, y1, x2, y2 in boxes]})
    if fmt == "yolo":
        (root / "classes.txt").write_text("thing\n")
    if fmt == "coco":
        (root / "instances.json").write_text(json.dumps(coco))
    if fmt == "createml":
        (root / "annotations.json").write_text(json.dumps(createml))


def run_case(root: str, mode: str) -> dict:
    """In the child: time one case, return its numbers."""
    sys.path.insert(0, str(ROOT))
    from workbench.core.project import Project
    from workbench.core.validate import validate_project

    start = time.perf_counter()
    cpu0 = time.process_time()
    project = Project.open(root)
    opened = time.perf_counter() - start
    objects = 0
    if mode == "read":
        for e in project.entries:
            ann, _ = project.load(e, check_image=False)
            objects += len(ann.objects) if ann is not None else 0
    else:
        report = validate_project(project)
        objects = report.objects
        assert report.errors == 0, report.problems[:3]
    wall = time.perf_counter() - start
    return {"format": project.format, "images": len(project.entries), "objects": objects,
            "open_s": opened, "wall_s": wall, "cpu_s": time.process_time() - cpu0,
            "rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak RSS: ``VmHWM`` (``ru_maxrss`` can carry the parent's peak over
    fork + exec on Linux, which inflated the first numbers by the generator's memory)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(root: Path, mode: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); "
            f"import bench_formats as b; print(json.dumps(b.run_case({str(root)!r}, {mode!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{root} ({mode}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    ap.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    ap.add_argument("--coco-million", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "formats.txt")
    args = ap.parse_args(argv)
    rows = []
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench_formats_"))
    try:
        for n in args.sizes:
            for fmt in args.formats:
                root = tmp / f"{fmt}_{n}"
                make_dataset(fmt, root, n)
                for mode in ("read", "validate"):
                    r = _child(root, mode)
                    assert r["format"] == fmt and r["images"] == n, r
                    rows.append((fmt, n, mode, r))
                    print(f"{fmt:9} {n:>7} {mode:9} {n / r['cpu_s']:>9.0f} files/cpu-s "
                          f"{n / r['wall_s']:>9.0f} files/s  {r['wall_s']:6.2f} s  "
                          f"{r['rss_mb']:6.0f} MB", flush=True)
                shutil.rmtree(root)
        if args.coco_million:
            root = tmp / "coco_million"
            make_dataset("coco", root, 10_000, per_image=100)
            size_mb = (root / "instances.json").stat().st_size / 1e6
            r = _child(root, "read")
            assert r["objects"] == 1_000_000, r
            rows.append(("coco 10^6", 10_000, "read", r))
            print(f"coco 10^6 annotations ({size_mb:.0f} MB JSON): {r['wall_s']:.2f} s, "
                  f"{r['rss_mb']:.0f} MB peak RSS", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        f"# bench/bench_formats.py — {time.strftime('%Y-%m-%d')} — "
        f"{platform.processor() or platform.machine()}, "
        f"python {platform.python_version()}, one process, 1 thread",
        f"# {os.cpu_count()} CPUs; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end (other work on the machine slows wall time and, "
        "less, CPU time)",
        "# read: Project.open + load every entry (no image check; YOLO reads JPEG headers)",
        "# validate: validate_project (every image header, every problem)",
        "# files = label files (VOC, YOLO, labelme) or images (COCO, CreateML: one JSON);",
        "# files/cpu-s is the per-core rate (the process's CPU time: fair on a shared machine),",
        "# files/s uses wall time",
        "",
        f"{'format':<10} {'images':>7} {'mode':<9} {'files/cpu-s':>11} {'files/s':>9} "
        f"{'wall s':>7} {'cpu s':>7} {'open s':>7} {'objects':>9} {'peak RSS MB':>11}",
    ]
    for fmt, n, mode, r in rows:
        lines.append(f"{fmt:<10} {n:>7} {mode:<9} {n / r['cpu_s']:>11.0f} "
                     f"{n / r['wall_s']:>9.0f} {r['wall_s']:>7.2f} {r['cpu_s']:>7.2f} "
                     f"{r['open_s']:>7.2f} {r['objects']:>9} {r['rss_mb']:>11.0f}")
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
