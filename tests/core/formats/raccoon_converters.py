"""Converters from the raccoon VOC set to every format, written independently of workbench.

Used by ``test_formats_raccoon.py`` (loaded with importlib: tests are not a package). Each
converter reads the VOC XML with the standard library only and writes the target format the
way the format's own tools do; none imports ``workbench``.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

RACCOON = Path(os.environ.get("WORKBENCH_RACCOON", "/work/shared/datasets/raccoon"))


def raccoon_available() -> bool:
    return (RACCOON / "annotations").is_dir() and (RACCOON / "images").is_dir()


def voc_records() -> list[dict]:
    """``[{"file", "stem", "width", "height", "objects": [(name, xmin, ymin, xmax, ymax)]}]``
    — VOC's 1-based inclusive integers as written."""
    out = []
    for xml in sorted((RACCOON / "annotations").glob("*.xml")):
        root = ET.parse(xml).getroot()
        objects = []
        for o in root.iter("object"):
            b = o.find("bndbox")
            objects.append((o.findtext("name"), *(float(b.findtext(k)) for k in
                                                  ("xmin", "ymin", "xmax", "ymax"))))
        name = root.findtext("filename")
        out.append({"file": name, "stem": Path(name).stem,
                    "width": int(root.findtext("size/width")),
                    "height": int(root.findtext("size/height")), "objects": objects})
    return out


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(src, dst)
    except OSError:
        dst.write_bytes(src.read_bytes())


def _classes(recs: list[dict]) -> list[str]:
    names: list[str] = []
    for r in recs:
        for o in r["objects"]:
            if o[0] not in names:
                names.append(o[0])
    return names


def _split(i: int) -> str:
    return "val" if i % 5 == 0 else "train"


def to_yolo_ultralytics(out: Path) -> list[dict]:
    """``images/{train,val}`` + ``labels/{train,val}`` + ``data.yaml`` (names as a dict)."""
    recs = voc_records()
    names = _classes(recs)
    for i, r in enumerate(recs):
        split = _split(i)
        _link(RACCOON / "images" / r["file"], out / "images" / split / r["file"])
        w, h = r["width"], r["height"]
        lines = []
        for name, xmin, ymin, xmax, ymax in r["objects"]:
            x1, y1, x2, y2 = xmin - 1, ymin - 1, xmax, ymax  # VOC pixels → edges
            lines.append(f"{names.index(name)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                         f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
        label = out / "labels" / split / (r["stem"] + ".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("\n".join(lines) + "\n")
    (out / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames:\n"
        + "".join(f"  {i}: {n}\n" for i, n in enumerate(names)))
    return recs


def to_yolo_labelimg(out: Path) -> list[dict]:
    """LabelImg's YOLO mode: ``x.jpg`` + ``x.txt`` + ``classes.txt`` in one folder, written
    with LabelImg's own formulas (``libs/yolo_io.py``: VOC integers used as corners)."""
    recs = voc_records()
    names = _classes(recs)
    out.mkdir(parents=True, exist_ok=True)
    for r in recs:
        _link(RACCOON / "images" / r["file"], out / r["file"])
        w, h = r["width"], r["height"]
        lines = []
        for name, xmin, ymin, xmax, ymax in r["objects"]:
            xcen = float(xmin + xmax) / 2 / w
            ycen = float(ymin + ymax) / 2 / h
            bw, bh = float(xmax - xmin) / w, float(ymax - ymin) / h
            lines.append("%d %.6f %.6f %.6f %.6f\n" % (names.index(name), xcen, ycen, bw, bh))
        (out / (r["stem"] + ".txt")).write_text("".join(lines))
    (out / "classes.txt").write_text("".join(f"{n}\n" for n in names))
    return recs


def to_coco(out: Path, *, split_files: bool = False) -> list[dict]:
    """``images/`` + ``annotations/instances.json`` (or ``instances_{train,val}.json``)."""
    recs = voc_records()
    names = _classes(recs)
    docs: dict[str, dict] = {}
    ann_id = 0
    for i, r in enumerate(recs):
        key = _split(i) if split_files else ""
        doc = docs.setdefault(key, {"info": {"description": "raccoon"}, "licenses": [],
                                    "images": [], "annotations": [],
                                    "categories": [{"id": k + 1, "name": n, "supercategory": ""}
                                                   for k, n in enumerate(names)]})
        _link(RACCOON / "images" / r["file"], out / "images" / r["file"])
        doc["images"].append({"id": 1000 + i, "file_name": r["file"], "width": r["width"],
                              "height": r["height"]})
        for name, xmin, ymin, xmax, ymax in r["objects"]:
            ann_id += 1
            bbox = [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1]
            doc["annotations"].append({"id": ann_id, "image_id": 1000 + i,
                                       "category_id": names.index(name) + 1, "bbox": bbox,
                                       "area": bbox[2] * bbox[3], "iscrowd": 0,
                                       "segmentation": []})
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    for key, doc in docs.items():
        name = f"instances_{key}.json" if key else "instances.json"
        (out / "annotations" / name).write_text(json.dumps(doc))
    return recs


def to_createml(out: Path) -> list[dict]:
    """``images/`` + ``annotations.json``: ``[{"image", "annotations": [{"label",
    "coordinates": {x, y, width, height}}]}]`` with box centres in pixels."""
    recs = voc_records()
    data = []
    for r in recs:
        _link(RACCOON / "images" / r["file"], out / "images" / r["file"])
        anns = []
        for name, xmin, ymin, xmax, ymax in r["objects"]:
            x1, y1, x2, y2 = xmin - 1, ymin - 1, xmax, ymax
            anns.append({"label": name, "coordinates": {"x": (x1 + x2) / 2, "y": (y1 + y2) / 2,
                                                        "width": x2 - x1, "height": y2 - y1}})
        data.append({"image": r["file"], "annotations": anns})
    (out / "annotations.json").write_text(json.dumps(data, indent=1))
    return recs


def to_labelme(out: Path) -> list[dict]:
    """labelme: ``x.json`` beside ``x.jpg``; rectangles with their corners in reversed order
    (bottom-right first — labelme keeps the order the user dragged in)."""
    recs = voc_records()
    out.mkdir(parents=True, exist_ok=True)
    for r in recs:
        _link(RACCOON / "images" / r["file"], out / r["file"])
        shapes = [{"label": name, "points": [[xmax, ymax], [xmin - 1, ymin - 1]],
                   "group_id": None, "description": "", "shape_type": "rectangle", "flags": {}}
                  for name, xmin, ymin, xmax, ymax in r["objects"]]
        doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": r["file"],
               "imageData": None, "imageHeight": r["height"], "imageWidth": r["width"]}
        (out / (r["stem"] + ".json")).write_text(json.dumps(doc, indent=2))
    return recs
