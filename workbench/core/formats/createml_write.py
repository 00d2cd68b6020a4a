"""Saving boxes edited on a CreateML project back into its JSON file, losslessly.

A CreateML file is a list of ``{"image": name, "annotations": [{"label": ..., "coordinates":
{"x", "y", "width", "height"}}]}`` records (``x, y``: the box centre in pixels,
:func:`workbench.core.formats.conventions.createml_to_xyxy`).

API
---
``merge_createml_record(record, objects, size=None) -> bool``
    Makes ``record``'s boxes equal ``objects`` in place: unchanged annotations stay the same
    dicts (every key kept), an edited one gets new ``coordinates`` values (and ``label``),
    deleted ones go, new ones (``{"label", "coordinates"}``) follow the box before them.
    Annotations without usable coordinates are never touched. Returns whether anything
    changed.
``save_createml(project, entry, annotation) -> Annotation``
    The writer registered for ``"createml"``: merges into ``entry.source.path`` (a record is
    appended for an image the file does not list yet) and rewrites the file atomically in
    its own JSON style; nothing is written when nothing changed. CreateML holds no
    ``difficult``, ``truncated``, pose, model-suggestion marks or ``verified``: told once per
    project (``edit_write.take_warnings``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.atomic import atomic_write_text
from workbench.core.formats import WRITERS, NotWritableError
from workbench.core.formats.coco_write import image_name
from workbench.core.formats.conventions import createml_to_xyxy, xyxy_to_createml
from workbench.core.formats.edit_write import (
    load_json_to_edit,
    forget_json, lost_fields, merge_box_records, number, remember_json,
    tell_once,
)

__all__ = ["merge_createml_record", "save_createml", "createml_box"]

_KEYS = ("x", "y", "width", "height")


def createml_box(a: Any) -> tuple[float, float, float, float] | None:
    """The pixel-edge box of one CreateML annotation, or None when it has no usable one."""
    c = a.get("coordinates") if isinstance(a, dict) else None
    if not isinstance(c, dict):
        return None
    raw: list[Any] = [c.get(k) for k in _KEYS]
    if not all(type(v) in (int, float) for v in raw):  # the reader's rule: numbers only
        return None
    values = [float(v) for v in raw]
    if not all(math.isfinite(v) for v in values):
        return None
    return createml_to_xyxy(*values)


def _coordinates(box) -> dict[str, int | float]:  # noqa: ANN001
    return dict(zip(_KEYS, (number(v) for v in xyxy_to_createml(box))))


def _update_annotation(a: dict, o: VocObject) -> None:
    if a.get("label") != o.name:
        a["label"] = o.name
    coords = a["coordinates"]
    for k, v in _coordinates(o.box).items():
        if float(coords[k]) != v:
            coords[k] = v


def merge_createml_record(record: dict, objects: Sequence[VocObject],
                          size: ImageSize | tuple[int, int] | None = None) -> bool:
    """Make ``record``'s boxes equal ``objects`` (see the module doc)."""
    return merge_box_records(
        record.setdefault("annotations", []), objects, size, box_of=createml_box,
        label_of=lambda a: str(a.get("label", "")), update=_update_annotation,
        new=lambda o: {"label": o.name, "coordinates": _coordinates(o.box)})


def _record(doc: list, entry: Any, json_path: Path, root: Path) -> tuple[dict, bool]:
    source = entry.source
    idx = source.index
    image_path = Path(entry.image_path)
    name = image_name([str(r.get("image", "")) for r in doc[:50] if isinstance(r, dict)],
                      json_path, root, source.split, image_path)
    if isinstance(idx, int) and 0 <= idx < len(doc) and isinstance(doc[idx], dict):
        image = str(doc[idx].get("image", ""))
        if source.exists and image.replace("\\", "/").rsplit("/", 1)[-1] == image_path.name:
            return doc[idx], False
    for record in doc:  # the file changed since the scan, or an image added this session
        if isinstance(record, dict) and str(record.get("image", "")).replace("\\", "/") in (
                name, image_path.name):
            return record, False
    if source.exists and source.index is not None:
        raise NotWritableError(f"{json_path}: no record for {image_path.name} any more")
    record = {"image": name, "annotations": []}
    doc.append(record)
    return record, True


def save_createml(project: Any, entry: Any, annotation: Annotation) -> Annotation:
    """Write ``annotation`` into ``entry``'s CreateML JSON (see the module doc)."""
    json_path = Path(entry.source.path)
    doc, style, shown = load_json_to_edit(project, json_path, list, "a CreateML list")
    try:
        root = Path(getattr(project, "root", json_path.parent))
        record, created = _record(doc, entry, json_path, root)
        changed = merge_createml_record(record, annotation.objects, annotation.size)
        if changed or (created and annotation.objects):
            atomic_write_text(json_path, style.dumps(doc))
            remember_json(json_path, doc, style)
        elif created:
            doc.remove(record)  # nothing to say about this image: the file stays as it was
    except BaseException:
        forget_json(json_path)
        raise
    tell_once(project, "CreateML", lost_fields(annotation.objects, annotation.verified), shown)
    return dataclasses.replace(annotation, raw=None)


WRITERS["createml"] = save_createml
