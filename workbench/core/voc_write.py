"""Writing VOC XML: LabelImg-exact for new annotations, lossless against ``Annotation.raw``.

Public entry points are re-exported by :mod:`workbench.core.voc` (``annotation_to_bytes``,
``write_annotation``); see its docstring for the behaviour.
"""

from __future__ import annotations

import dataclasses
import os

from lxml import etree

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.atomic import atomic_write_bytes
from workbench.core.boxes import edges_to_voc
from workbench.core.voc_xml import (
    COORDS, OBJ_ORDER, ROOT_ORDER, parse_root, parser, read_meta, read_object, read_size,
)


def _ensure_child(parent: etree._Element, tag: str, order: tuple[str, ...]) -> etree._Element:
    """The child ``tag`` of ``parent``, created at its canonical position when missing."""
    child = parent.find(tag)
    if child is not None:
        return child
    child = etree.Element(tag)
    before = set(order[: order.index(tag)]) if tag in order else set(order)
    position = 0
    for i, c in enumerate(parent):
        if isinstance(c.tag, str) and c.tag in before:
            position = i + 1
    parent.insert(position, child)
    return child


def _set_text(parent: etree._Element, tag: str, text: str, order: tuple[str, ...]) -> None:
    child = _ensure_child(parent, tag, order)
    del child[:]  # a comment inside the old value (1<!--c-->0) would keep its tail "0"
    child.text = text


def _sub(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def _fmt_score(score: float) -> str:
    return f"{score:.6g}"


def _fresh_object(obj: VocObject) -> etree._Element:
    el = etree.Element("object")
    if obj.model_made:
        el.set("model_made", "yes")
    _sub(el, "name", obj.name)
    _sub(el, "pose", obj.pose)
    _sub(el, "truncated", "1" if obj.truncated else "0")
    _sub(el, "difficult", "1" if obj.difficult else "0")
    bnd = etree.SubElement(el, "bndbox")
    for tag, value in zip(COORDS, edges_to_voc(obj.box)):
        _sub(bnd, tag, str(value))
    if obj.score is not None:
        _sub(el, "score", _fmt_score(obj.score))
    for tag, text in obj.extra:
        _sub(el, tag, text)
    return el


def _updated_object(obj: VocObject) -> etree._Element:
    """``obj.raw`` with only the values that differ from it replaced."""
    el = etree.fromstring(obj.raw, parser())  # our own serialisation of a checked element
    old, _, _ = read_object(el)
    if old is None:
        return _fresh_object(obj)
    if old.name != obj.name:
        _set_text(el, "name", obj.name, OBJ_ORDER)
    if old.pose != obj.pose:
        _set_text(el, "pose", obj.pose, OBJ_ORDER)
    for tag in ("truncated", "difficult"):
        flag = el.find(tag)
        # LabelImg 1.8.6 reads flags with bool(int(text)): "0.0" or "true" would crash it, so a
        # flag present in a file we rewrite anyway is normalised to "0"/"1" (same value).
        if getattr(old, tag) != getattr(obj, tag) or (
                flag is not None and (flag.text or "").strip() not in ("0", "1")):
            _set_text(el, tag, "1" if getattr(obj, tag) else "0", OBJ_ORDER)
    if old.box != obj.box:
        bnd = el.find("bndbox")
        new_voc = edges_to_voc(obj.box)
        for i, tag in enumerate(COORDS):
            if old.box[i] != obj.box[i]:
                _set_text(bnd, tag, str(new_voc[i]), COORDS)
    if old.score != obj.score:
        if obj.score is None:
            for s in el.findall("score"):
                el.remove(s)
        else:
            _set_text(el, "score", _fmt_score(obj.score), OBJ_ORDER)
    if old.model_made != obj.model_made:
        if obj.model_made:
            el.set("model_made", "yes")
        else:
            el.attrib.pop("model_made", None)
    if old.extra != obj.extra:
        old_tags = {t for t, _ in old.extra}
        for c in list(el):
            if isinstance(c.tag, str) and c.tag in old_tags and len(c) == 0:
                el.remove(c)
        for tag, text in obj.extra:
            _sub(el, tag, text)
    return el


def _object_element(obj: VocObject) -> etree._Element:
    return _fresh_object(obj) if obj.raw is None else _updated_object(obj)


def _fresh_root(ann: Annotation) -> etree._Element:
    root = etree.Element("annotation")
    if ann.verified:
        root.set("verified", "yes")
    _sub(root, "folder", ann.folder)
    _sub(root, "filename", ann.filename)
    if ann.path:
        _sub(root, "path", ann.path)
    _sub(etree.SubElement(root, "source"), "database", ann.database)
    if ann.size is not None:
        size = etree.SubElement(root, "size")
        _sub(size, "width", str(ann.size.width))
        _sub(size, "height", str(ann.size.height))
        _sub(size, "depth", str(ann.size.depth))
    _sub(root, "segmented", ann.segmented)
    for obj in ann.objects:
        root.append(_object_element(obj))
    return root


def _update_meta(root: etree._Element, old: dict, old_size: ImageSize | None,
                 ann: Annotation) -> None:
    if old["verified"] != ann.verified:
        if ann.verified:
            root.set("verified", "yes")
        else:
            root.attrib.pop("verified", None)
    for field in ("folder", "filename", "segmented"):
        if old[field] != getattr(ann, field):
            _set_text(root, field, getattr(ann, field), ROOT_ORDER)
    if old["path"] != ann.path:
        if ann.path:
            _set_text(root, "path", ann.path, ROOT_ORDER)
        else:
            for p in root.findall("path"):
                root.remove(p)
    if old["database"] != ann.database:
        _set_text(_ensure_child(root, "source", ROOT_ORDER), "database", ann.database, ("database",))
    if old_size != ann.size:
        if ann.size is None:
            for s in root.findall("size"):
                root.remove(s)
        else:
            size_el = _ensure_child(root, "size", ROOT_ORDER)
            order = ("width", "height", "depth")
            for tag, value in zip(order, (ann.size.width, ann.size.height, ann.size.depth)):
                if old_size is None or getattr(old_size, tag) != value:
                    _set_text(size_el, tag, str(value), order)


def _serialise(node: etree._Element | etree._ElementTree, root: etree._Element) -> bytes:
    etree.indent(root, space="\t")
    out = etree.tostring(node, encoding="utf-8")
    return out if out.endswith(b"\n") else out + b"\n"


def annotation_to_bytes(ann: Annotation) -> bytes:
    """The XML bytes for ``ann`` (LabelImg layout; lossless against ``ann.raw``)."""
    if ann.raw is None:
        root = _fresh_root(ann)
        return _serialise(root, root)
    root = parse_root(ann.raw, ann.filename or "<annotation>")
    old_meta = read_meta(root)
    old_size, _ = read_size(root)
    loaded = [(el, read_object(el)[0]) for el in root.findall("object")]
    old_objects = tuple(o for _, o in loaded if o is not None)
    new_meta = {f: getattr(ann, f) for f in old_meta}
    if new_meta == old_meta and old_size == ann.size and old_objects == ann.objects:
        return bytes(ann.raw)
    _update_meta(root, old_meta, old_size, ann)
    if old_objects != ann.objects:
        position = None
        for el, obj in loaded:
            if obj is not None:
                if position is None:
                    position = root.index(el)
                root.remove(el)
        if position is None:
            remaining = root.findall("object")
            position = root.index(remaining[0]) if remaining else len(root)
        for offset, obj in enumerate(ann.objects):
            root.insert(position + offset, _object_element(obj))
    return _serialise(root.getroottree(), root)


def write_annotation(ann: Annotation, xml_path: str | os.PathLike[str]) -> Annotation:
    """Write ``ann`` to ``xml_path`` atomically; returns ``ann`` with ``raw`` = bytes written."""
    data = annotation_to_bytes(ann)
    atomic_write_bytes(xml_path, data)
    return dataclasses.replace(ann, raw=data)


