"""labelme JSON (reader): one file per image, rectangles as boxes.

Layout: ``x.json`` beside ``x.jpg`` (labelme's default), or in ``annotations=DIR`` mirroring
the image folders (labelme ``--output``); a JSON named differently is matched through its
``imagePath`` (relative to the JSON). Shapes with ``shape_type: rectangle`` (two opposite
corners, any order — :func:`~workbench.core.formats.conventions.labelme_to_xyxy`) become
boxes named by ``label``; every other shape (polygon, circle, line, point …) stays in the
file, is not loaded, and is counted in one warning per file. The size is ``imageWidth`` /
``imageHeight`` (checked against the header when the image is checked).

Problems name the JSON and the shape (``shapes[2]``): malformed JSON, no ``shapes`` list,
rectangles without two numeric points, NaN, zero-area boxes, boxes outside the image, an
``imagePath`` naming another file, JSON files that name no image of the folder.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

from workbench.core.annotation import ImageSize, Problem
from workbench.core.formats.conventions import labelme_to_xyxy
from workbench.core.formats.detect import sniff_json
from workbench.core.formats.listing import Listing, list_folder, natural_key, stem_key
from workbench.core.formats.model import (
    Dataset, Item, Native, RawBox, Source, build_native,
)
from workbench.core.formats.sizes import size_against_image


def _image_path_of(path: Path) -> str | None:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    name = doc.get("imagePath") if isinstance(doc, dict) else None
    return name if isinstance(name, str) else None


def scan(root: Path, listing: Listing, *, annotations: Path | None = None) -> Dataset:
    """Match every image to its labelme JSON (see the module doc)."""
    problems: list[Problem] = []
    jsons = list(listing.json)
    if annotations is not None and annotations.is_dir():
        jsons += [j for j in list_folder(annotations).json if j not in set(jsons)]
    available = {os.fspath(j): j for j in jsons}
    claimed: dict[Path, Path] = {}
    used: set[Path] = set()
    root_s = os.fspath(root)
    ann_s = os.fspath(annotations) if annotations is not None else None
    for img in listing.images:
        img_s = os.fspath(img)
        candidates = []
        if ann_s is not None:
            rel = img_s[len(root_s):] if img_s.startswith(root_s + os.sep) else os.sep + img.name
            candidates += [ann_s + stem_key(rel) + ".json",
                           os.path.join(ann_s, img.stem + ".json")]
        candidates.append(stem_key(img_s) + ".json")
        for c in candidates:
            label = available.get(c)
            if label is not None and label not in used:
                claimed[img] = label
                used.add(label)
                break
    images = {os.fspath(p): p for p in listing.images}
    for j in sorted(set(available.values()) - used, key=lambda p: natural_key(str(p))):
        if sniff_json(j) != "labelme":
            continue
        named = _image_path_of(j)
        target = None
        if named:
            full = os.path.normpath(os.path.join(j.parent, named.replace("\\", "/")))
            target = images.get(full)
        if target is not None and target not in claimed:
            claimed[target] = j
            continue
        problems.append(Problem(listing.rel(j), None, "error",
                                f"names image {named or j.stem!r}, which is not in the project"
                                if target is None else
                                f"describes image {listing.rel(target)}, which already has "
                                f"{listing.rel(claimed[target])}"))
    items = []
    for img in listing.images:
        label = claimed.get(img)
        if label is None:
            default = (annotations / (img.relative_to(root) if img.is_relative_to(root)
                                      else Path(img.name)).with_suffix(".json")
                       if annotations is not None else img.with_suffix(".json"))
            items.append(Item(img, Source("labelme", default, False)))
        else:
            items.append(Item(img, Source("labelme", label, True)))
    return Dataset(format="labelme", root=root, images_dir=root, layout="one file per image",
                   items=items, problems=problems, meta={"labels_dir": annotations})


_NUMBER = frozenset({int, float})  # type() is exact: bool is not a number here


def _points(shape: dict) -> list[tuple[float, float]] | None:
    pts: Any = shape.get("points")
    try:
        (xa, ya), (xb, yb) = pts  # type: ignore[misc]
    except (TypeError, ValueError):
        return None
    if type(xa) in _NUMBER and type(ya) in _NUMBER and type(xb) in _NUMBER \
            and type(yb) in _NUMBER and type(pts[0]) is list and type(pts[1]) is list:
        return [(float(xa), float(ya)), (float(xb), float(yb))]
    return None


def parse(doc: Any, image: Path, *, shown: str) -> tuple[ImageSize | None, list[RawBox],
                                                         list[Problem]]:
    """``(size, raw boxes, problems)`` of one parsed labelme document."""
    problems: list[Problem] = []

    def report(severity: str, message: str) -> None:
        problems.append(Problem(shown, None, severity, message))  # type: ignore[arg-type]

    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        report("error", "not a labelme file (no \"shapes\" list)")
        return None, [], problems
    w: Any = doc.get("imageWidth")
    h: Any = doc.get("imageHeight")
    size = ImageSize(int(w), int(h)) if all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
        for v in (w, h)) else None
    named = doc.get("imagePath")
    if isinstance(named, str) and named and \
            named.replace("\\", "/").rsplit("/", 1)[-1] != image.name:
        report("warning", f"imagePath {named!r} differs from the image file {image.name!r}")
    boxes: list[RawBox] = []
    others: Counter[str] = Counter()
    for s, shape in enumerate(doc["shapes"]):
        if not isinstance(shape, dict):
            report("error", f"shapes[{s}]: not an object")
            continue
        kind = shape.get("shape_type") or "polygon"
        if kind != "rectangle":
            others[str(kind)] += 1
            continue
        pts = _points(shape)
        if pts is None:
            report("error", f"shapes[{s}]: a rectangle needs two [x, y] number points; "
                            "not loaded")
            continue
        boxes.append((s, str(shape.get("label") or ""), labelme_to_xyxy(pts), False))
    if others:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(others.items()))
        report("warning", f"{sum(others.values())} non-rectangle shape(s) ({kinds}) are kept in "
                          "the file, not loaded as boxes")
    return size, boxes, problems


def read(dataset: Dataset, item: Item, *, check_image: bool = True, clamp: bool = False,
         display_name: str | None = None) -> Native:
    """Read ``item``'s JSON. Never raises for bad files."""
    shown = display_name or str(item.source.path)
    if not item.source.exists:
        return Native(None)
    try:
        doc = json.loads(item.source.path.read_bytes())
    except OSError as exc:
        return Native(None, (Problem(shown, None, "error",
                                     f"cannot read ({exc.strerror or exc})"),))
    except json.JSONDecodeError as exc:
        return Native(None, (Problem(shown, None, "error", f"not valid JSON: {exc.msg} at line "
                                     f"{exc.lineno}, column {exc.colno}"),))
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        return Native(None, (Problem(shown, None, "error", f"not valid JSON ({exc})"),))
    size, boxes, problems = parse(doc, item.image_path, shown=shown)
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        return Native(None, tuple(problems))
    size, found = size_against_image(item.image_path, size, check_image=check_image,
                                     shown=shown, prefix="",
                                     stated_words="imageWidth x imageHeight")
    problems.extend(found)
    return build_native(item.image_path, size, boxes, problems, shown=shown,
                        where=lambda s: f"shapes[{s}]: ", clamp=clamp)

