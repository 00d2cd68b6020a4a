"""VOC I/O and validation speed on the raccoon folder (200 LabelImg files, 217 boxes).

    .venv/bin/python bench/bench_voc.py [--repeat 5]

Baseline: a LabelImg-1.8.6-style reader (``xml.etree`` parse + ``find`` of the fields, no
checks, no hardening) over the same files, measured in the same run. Rows:

* ``labelimg-style read``   — the baseline.
* ``read_annotation``       — hardened parser, every quirk and check, no image.
* ``read_annotation+image`` — the same plus the image header (size/EXIF check).
* ``write (fresh)``         — LabelImg-exact serialisation of an annotation without ``raw``.
* ``write (edited raw)``    — lossless re-save with one box moved.
* ``Project.open``          — folder scan and XML ↔ image matching (per image).
* ``validate_project``      — everything ``workbench validate`` does (per image).

Times are per file, the best of ``--repeat`` runs; ratio = row / baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"


def labelimg_style(xml: Path) -> list[tuple]:
    root = ET.parse(xml).getroot()
    out = []
    for obj in root.findall("object"):
        bnd = obj.find("bndbox")
        out.append((obj.find("name").text, *(int(float(bnd.find(t).text))
                                            for t in ("xmin", "ymin", "xmax", "ymax"))))
    return out


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from workbench.core.project import Project
    from workbench.core.validate import validate_project
    from workbench.core.voc import annotation_to_bytes, read_annotation

    xmls = sorted((RACCOON / "annotations").glob("*.xml"))
    pairs = [(x, RACCOON / "images" / f"{x.stem}.jpg") for x in xmls]
    anns = [read_annotation(x)[0] for x in xmls]
    fresh = [dataclasses.replace(a, raw=None, objects=tuple(
        dataclasses.replace(o, raw=None) for o in a.objects)) for a in anns]
    edited = [dataclasses.replace(a, objects=(dataclasses.replace(
        a.objects[0], box=(1.0, 1.0, 50.0, 50.0)),) + a.objects[1:]) for a in anns]
    n = len(xmls)
    rows = [
        ("labelimg-style read", lambda: [labelimg_style(x) for x in xmls]),
        ("read_annotation", lambda: [read_annotation(x) for x in xmls]),
        ("read_annotation+image", lambda: [read_annotation(x, i) for x, i in pairs]),
        ("write (fresh)", lambda: [annotation_to_bytes(a) for a in fresh]),
        ("write (edited raw)", lambda: [annotation_to_bytes(a) for a in edited]),
        ("Project.open", lambda: Project.open(RACCOON)),
        ("validate_project", lambda: validate_project(Project.open(RACCOON))),
    ]
    results = [(name, best(fn, args.repeat) / n) for name, fn in rows]
    base = results[0][1]
    print(f"raccoon: {n} files, best of {args.repeat}")
    print(f"{'operation':<24}{'µs/file':>10}{'ratio':>8}")
    for name, t in results:
        print(f"{name:<24}{t * 1e6:>10.1f}{t / base:>8.2f}")
    total = best(lambda: validate_project(Project.open(RACCOON)), args.repeat)
    print(f"validate raccoon (200 images, 217 boxes): {total * 1e3:.1f} ms in-process")


if __name__ == "__main__":
    main()
