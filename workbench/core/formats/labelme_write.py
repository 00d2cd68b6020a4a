"""Saving boxes edited on a labelme project back into each image's JSON, losslessly.

labelme keeps one JSON per image: ``{"version", "flags", "shapes": [...], "imagePath",
"imageData", "imageHeight", "imageWidth"}``; a box is a shape with ``"shape_type":
"rectangle"`` and two corner ``points`` (:func:`conventions.labelme_to_xyxy`).

API
---
``merge_labelme_shapes(doc, objects, size=None) -> bool``
    Makes the rectangles of ``doc["shapes"]`` equal ``objects`` in place: unchanged shapes
    stay the same dicts (``group_id``, ``flags``, ``description``, unknown keys kept), an
    edited one gets new ``points`` (and ``label``), deleted ones go, new ones follow the box
    before them. Polygons, points, lines, circles, masks — every non-rectangle shape — and
    the file's ``flags``, ``imageData`` and unknown keys are never touched.
``new_labelme_doc(image_path, json_path, size) -> dict`` — a labelme 5 file with no shapes
    (``imagePath`` relative to the JSON, ``imageData`` null).
``save_labelme(project, entry, annotation) -> Annotation``
    The writer registered for ``"labelme"``: rewrites ``entry.source.path`` atomically in its
    own JSON style (labelme's ``indent=2``, non-ASCII kept, for a new file); nothing is
    written when nothing changed, and no file is created for an image left without boxes.
    labelme holds no ``difficult``, ``truncated``, pose, model-suggestion marks or
    ``verified``: told once per project (``edit_write.take_warnings``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.atomic import atomic_write_text
from workbench.core.formats import WRITERS
from workbench.core.formats.conventions import labelme_to_xyxy, xyxy_to_labelme
from workbench.core.formats.edit_write import (
    load_json_to_edit, shown_name,
    JsonStyle, forget_json, lost_fields, merge_box_records, number,
    remember_json, tell_once,
)
from workbench.core.imageinfo import image_size

__all__ = ["merge_labelme_shapes", "new_labelme_doc", "save_labelme", "labelme_box"]

#: labelme writes ``json.dump(data, f, ensure_ascii=False, indent=2)``.
LABELME_STYLE = JsonStyle(indent=2, separators=(",", ": "), ensure_ascii=False, newline=False)
LABELME_VERSION = "5.5.0"


def labelme_box(shape: Any) -> tuple[float, float, float, float] | None:
    """The pixel-edge box of a rectangle shape, or None for other shapes / bad points."""
    if not isinstance(shape, dict) or shape.get("shape_type") != "rectangle":
        return None
    points = shape.get("points")
    if not isinstance(points, list) or len(points) != 2 or not all(
            isinstance(p, list) and len(p) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
            for p in points):  # the reader's rule: two [x, y] number pairs
        return None
    values = [float(v) for p in points for v in p]
    if not all(math.isfinite(v) for v in values):
        return None
    return labelme_to_xyxy(points)


def _points(box) -> list[list[int | float]]:  # noqa: ANN001
    return [[number(v) for v in p] for p in xyxy_to_labelme(box)]


def _new_shape(o: VocObject) -> dict:
    return {"label": o.name, "points": _points(o.box), "group_id": None, "description": "",
            "shape_type": "rectangle", "flags": {}}


def _update_shape(shape: dict, o: VocObject) -> None:
    if shape.get("label") != o.name:
        shape["label"] = o.name
    if labelme_box(shape) != o.box:
        shape["points"] = _points(o.box)


def merge_labelme_shapes(doc: dict, objects: Sequence[VocObject],
                         size: ImageSize | tuple[int, int] | None = None) -> bool:
    """Make ``doc``'s rectangles equal ``objects`` (see the module doc)."""
    return merge_box_records(
        doc.setdefault("shapes", []), objects, size, box_of=labelme_box,
        label_of=lambda shape: str(shape.get("label") or ""), update=_update_shape,
        new=_new_shape)


def new_labelme_doc(image_path: Path, json_path: Path, size: ImageSize) -> dict:
    rel = os.path.relpath(image_path, json_path.parent).replace(os.sep, "/")
    return {"version": LABELME_VERSION, "flags": {}, "shapes": [], "imagePath": rel,
            "imageData": None, "imageHeight": size.height, "imageWidth": size.width}


def save_labelme(project: Any, entry: Any, annotation: Annotation) -> Annotation:
    """Write ``annotation`` into ``entry``'s labelme JSON (see the module doc)."""
    json_path = Path(entry.source.path)
    if json_path.exists():
        doc, style, shown = load_json_to_edit(project, json_path, dict, "a labelme object")
        created = False
    else:
        if not annotation.objects:
            return dataclasses.replace(annotation, raw=None)
        size = annotation.size or image_size(entry.image_path)
        doc, style, created = new_labelme_doc(Path(entry.image_path), json_path, size), \
            LABELME_STYLE, True
        shown = shown_name(project, json_path)
    try:
        changed = merge_labelme_shapes(doc, annotation.objects, annotation.size)
        if changed or created:
            atomic_write_text(json_path, style.dumps(doc))
            remember_json(json_path, doc, style)
    except BaseException:
        forget_json(json_path)
        raise
    tell_once(project, "labelme", lost_fields(annotation.objects, annotation.verified), shown)
    return dataclasses.replace(annotation, raw=None)


WRITERS["labelme"] = save_labelme
