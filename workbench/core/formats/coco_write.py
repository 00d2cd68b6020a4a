"""Saving boxes edited on a COCO project back into its JSON file, losslessly.

API
---
``merge_coco_image(doc, image, objects, size=None, *, touched=None) -> bool``
    Updates the parsed COCO document ``doc`` in place so that the box annotations of
    ``image`` (an element of ``doc["images"]``) are ``objects``; returns whether anything
    changed. Annotations whose ``(category, bbox)`` is unchanged stay the very same dicts
    (every field and id kept); an edited box keeps its annotation and id — only ``bbox``,
    ``area`` (when the annotation has no segmentation mask to measure it by),
    ``category_id`` and ``difficult`` change; deleted boxes' annotations are removed; new
    boxes get ids ``max + 1 …`` and are placed after the image's other annotations. Records
    of other images, annotations without a usable ``bbox`` (keypoints-only, …), ``info``,
    ``licenses`` and unknown keys are never touched. New class names are appended to
    ``categories`` with the next free id. Annotations edited in place are appended to
    ``touched``.
``save_coco(project, entry, annotation) -> Annotation``
    The writer registered for ``"coco"``: merges into ``entry.source.path`` and rewrites it
    atomically in its own JSON style (indentation, separators, escaping —
    :class:`~workbench.core.formats.edit_write.JsonStyle`); an image the file does not list
    yet gets an ``images`` record (``file_name`` relative to the JSON's image folder). The
    file is not written when nothing changed. The parsed file is cached by size + mtime, so
    saving one box of a large file parses it once per session. COCO holds ``difficult`` (an
    extra per-annotation key, as ``workbench export`` writes it); ``truncated``, pose,
    model-suggestion marks and ``verified`` are reported once per project (a warning
    :class:`~workbench.core.annotation.Problem`, see ``edit_write.take_warnings``).

Coordinates: ``bbox`` ``[x, y, w, h]`` continuous (:func:`conventions.coco_to_xyxy`).
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
from workbench.core.formats import WRITERS, NotWritableError
from workbench.core.formats.conventions import coco_to_xyxy, xyxy_to_coco
from workbench.core.formats.edit_write import (
    load_json_to_edit,
    JsonStyle, SplicedDump, align, box_key, forget_json, loaded_box,
    lost_fields, number, remember_json, tell_once,
)
from workbench.core.imageinfo import image_size

__all__ = ["merge_coco_image", "save_coco", "coco_bbox_box"]

HOLDS = frozenset({"difficult"})


def coco_bbox_box(a: Any) -> tuple[float, float, float, float] | None:
    """The pixel-edge box of a COCO annotation dict, or None when it has no usable bbox."""
    if not isinstance(a, dict):
        return None
    bbox = a.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        return None
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in bbox) \
            or not all(math.isfinite(v) for v in bbox):
        return None  # the reader reports it and does not load it
    values = [float(v) for v in bbox]
    return coco_to_xyxy(*values)


def _category_ids(doc: dict) -> tuple[dict[Any, str], dict[str, Any]]:
    names: dict[Any, str] = {}
    ids: dict[str, Any] = {}
    for c in doc.get("categories") or []:
        if isinstance(c, dict) and "id" in c:
            name = str(c.get("name", c["id"]))
            names[c["id"]] = name
            ids.setdefault(name, c["id"])
    return names, ids


def _next_id(records: Sequence[Any]) -> int:
    ids = [r.get("id") for r in records if isinstance(r, dict)]
    return max((int(i) for i in ids if isinstance(i, (int, float)) and not isinstance(i, bool)),
               default=0) + 1


def _bbox_numbers(box) -> list[int | float]:  # noqa: ANN001
    return [number(v) for v in xyxy_to_coco(box)]


def _difficult(a: dict) -> bool:
    try:
        return bool(int(a.get("difficult", 0) or 0))
    except (TypeError, ValueError):
        return False


def _has_mask(a: dict) -> bool:
    seg = a.get("segmentation")
    return bool(seg) and not (isinstance(seg, list) and not any(seg))


def _set_box(a: dict, o: VocObject, category_id: Any) -> None:
    bbox = _bbox_numbers(o.box)
    if a.get("bbox") != bbox:
        a["bbox"] = bbox
        if not _has_mask(a):
            a["area"] = number(bbox[2] * bbox[3])
    if a.get("category_id") != category_id:
        a["category_id"] = category_id
    if "difficult" in a:
        value = bool(o.difficult) if isinstance(a["difficult"], bool) else int(o.difficult)
        if a["difficult"] != value:
            a["difficult"] = value
    elif o.difficult:
        a["difficult"] = 1


def merge_coco_image(doc: dict, image: dict, objects: Sequence[VocObject],
                     size: ImageSize | tuple[int, int] | None = None, *,
                     touched: list | None = None) -> bool:
    """Make ``image``'s box annotations in ``doc`` equal ``objects`` (see the module doc)."""
    annotations = doc.setdefault("annotations", [])
    cat_names, cat_ids = _category_ids(doc)
    categories = doc.setdefault("categories", [])
    changed = False

    def category_id(name: str) -> Any:
        nonlocal changed
        if name not in cat_ids:
            new_id = _next_id(categories)
            categories.append({"id": new_id, "name": name, "supercategory": "none"})
            cat_ids[name], cat_names[new_id] = new_id, name
            changed = True
        return cat_ids[name]

    image_id = image.get("id")
    slots: list[int] = []  # positions in "annotations" of this image's box annotations
    old_keys = []
    last_of_image = None
    for pos, a in enumerate(annotations):
        if not isinstance(a, dict) or a.get("image_id") != image_id:
            continue
        last_of_image = pos
        box = coco_bbox_box(a)
        if box is not None:
            box = loaded_box(box, size)
        if box is None:
            continue
        slots.append(pos)
        name = cat_names.get(a.get("category_id"), str(a.get("category_id")))
        old_keys.append(box_key(name, box, _difficult(a)))
    new_keys = [box_key(o.name, o.box, bool(o.difficult)) for o in objects]
    removed: set[int] = set()
    added: list[dict] = []
    next_id = None
    for oi, nj in align(old_keys, new_keys):
        if oi is not None and nj is not None:
            if old_keys[oi] != new_keys[nj]:
                _set_box(annotations[slots[oi]], objects[nj], category_id(objects[nj].name))
                if touched is not None:
                    touched.append(annotations[slots[oi]])  # edited in place
                changed = True
        elif oi is not None:
            removed.add(slots[oi])
            changed = True
        else:
            assert nj is not None  # align() never pairs None with None
            o = objects[nj]
            if next_id is None:
                next_id = _next_id(annotations)
            bbox = _bbox_numbers(o.box)
            a = {"id": next_id, "image_id": image_id, "category_id": category_id(o.name),
                 "bbox": bbox, "area": number(bbox[2] * bbox[3]), "iscrowd": 0}
            if o.difficult:
                a["difficult"] = 1
            added.append(a)
            next_id += 1
            changed = True
    if removed or added:
        insert_after = last_of_image if last_of_image is not None else len(annotations) - 1
        rebuilt: list[Any] = []
        if insert_after < 0:
            rebuilt.extend(added)
        for pos, a in enumerate(annotations):
            if pos not in removed:
                rebuilt.append(a)
            if pos == insert_after:
                rebuilt.extend(added)
        annotations[:] = rebuilt
    return changed


def _image_record(doc: dict, entry: Any, json_path: Path,
                  root: Path) -> tuple[dict, bool]:
    """The ``images`` record of ``entry`` (created when the file does not list it)."""
    images = doc.setdefault("images", [])
    source = entry.source
    if source.exists and source.record is not None:  # None: a record this session added
        idx = source.index
        if isinstance(idx, int) and 0 <= idx < len(images) and isinstance(images[idx], dict) \
                and images[idx].get("id") == source.record:
            return images[idx], False
        for im in images:
            if isinstance(im, dict) and im.get("id") == source.record:
                return im, False
        raise NotWritableError(f"{json_path}: image id {source.record!r} "
                          f"({Path(entry.image_path).name}) is no longer in the file")
    image_path = Path(entry.image_path)
    names = [str(im.get("file_name", "")) for im in images[:50] if isinstance(im, dict)]
    rel = image_name(names, json_path, Path(root), source.split, image_path)
    for im in images:  # added by an earlier save of this session (the entry predates it)
        if isinstance(im, dict) and im.get("file_name") == rel:
            return im, False
    size = image_size(image_path)
    record = {"id": _next_id(images), "file_name": rel, "width": size.width,
              "height": size.height}
    images.append(record)
    return record, True


class _Exists:
    """A container of "every file that exists", for the reader's :class:`coco.Resolver`."""

    def __contains__(self, path: object) -> bool:
        return os.path.isfile(str(path))


def image_name(names: list[str], json_path: Path, root: Path, split: str,
               image_path: Path) -> str:
    """The ``file_name`` (COCO) / ``image`` (CreateML) for a new record of ``image_path``:
    relative to the folder the readers resolve names against (:class:`coco.Resolver`: the
    candidate where most of the file's ``names`` exist), else to the first candidate folder
    that holds the image."""
    from workbench.core.formats.coco import Resolver, image_bases

    bases = image_bases(json_path, root, split)
    resolver = Resolver(root, _Exists(), bases)  # type: ignore[arg-type]
    resolver.choose(names[:50])
    chosen = Path(resolver.base or root)
    for base in (chosen, *bases):
        if base in image_path.parents:
            return image_path.relative_to(base).as_posix()
    return Path(os.path.relpath(image_path, chosen)).as_posix()


_splicers: dict[Path, tuple[Any, SplicedDump]] = {}


def _splicer(path: Path, doc: Any, style: JsonStyle) -> SplicedDump:
    """The :class:`SplicedDump` of ``path`` while it holds the same parsed document."""
    hit = _splicers.get(path)
    if hit is None or hit[0] is not doc:
        if len(_splicers) >= 4:
            _splicers.pop(next(iter(_splicers)))
        hit = _splicers[path] = (doc, SplicedDump(style))
    return hit[1]


def save_coco(project: Any, entry: Any, annotation: Annotation) -> Annotation:
    """Write ``annotation`` into ``entry``'s COCO JSON (see the module doc)."""
    json_path = Path(entry.source.path)
    doc, style, shown = load_json_to_edit(project, json_path, dict, "a COCO object")
    try:
        root = Path(getattr(project, "root", json_path.parent))
        image, created = _image_record(doc, entry, json_path, root)
        touched: list = []
        changed = merge_coco_image(doc, image, annotation.objects, annotation.size,
                                   touched=touched)
        if changed or created:
            splicer = _splicer(json_path, doc, style)
            splicer.forget(touched)
            atomic_write_text(json_path, splicer.dumps(doc))
            remember_json(json_path, doc, style)
    except BaseException:
        forget_json(json_path)  # the cached document may be half-edited
        _splicers.pop(json_path, None)
        raise
    tell_once(project, "COCO", lost_fields(annotation.objects, annotation.verified, holds=HOLDS),
              shown)
    return dataclasses.replace(annotation, raw=None)


WRITERS["coco"] = save_coco
