"""Writing VOC XML: LabelImg-exact for new annotations, lossless against ``Annotation.raw``.

Public entry points are re-exported by :mod:`workbench.core.voc` (``annotation_to_bytes``,
``write_annotation``); see its docstring for the behaviour.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import threading
from typing import TYPE_CHECKING

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.atomic import atomic_write_bytes
from workbench.core.boxes import edges_to_voc
from workbench.core.fsnames import has_undecodable, readable
from workbench.core.voc_plain import read_plain
from workbench.core.voc_xml import (
    COORDS, MAX_XML_BYTES, OBJ_ORDER, ROOT_ORDER, parse_root, parser, read_meta, read_object,
    read_size,
)

if TYPE_CHECKING:
    from lxml import etree
else:  # (imported at its first use: files the plain-layout reader reads never need it)
    from workbench.core.lazy_lxml import etree


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
    child.text = readable(text)


def _sub(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = etree.SubElement(parent, tag)
    el.text = readable(text)
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


def _readable_meta(ann: Annotation) -> Annotation:
    fields = {f: readable(getattr(ann, f)) for f in ("folder", "filename", "path")
              if has_undecodable(getattr(ann, f))}
    return dataclasses.replace(ann, **fields) if fields else ann


# The objects each recently written file was written from, by the identity of its bytes (the
# ``raw`` that write_annotation returns): the next save of the same document (autosave after
# every edit) then needs no second reading of its file. An element is reused only for an
# object equal to, and with the same ``raw`` as, the one it was written from — the writer's
# output for it is the same element. Two entries: each holds a file's bytes.
_WRITTEN: dict[int, tuple[bytes, tuple[VocObject, ...]]] = {}
_WRITTEN_LOCK = threading.Lock()


def _remember_written(data: bytes, objects: tuple[VocObject, ...]) -> None:
    with _WRITTEN_LOCK:
        _WRITTEN.pop(id(data), None)  # an id reused by new bytes: the entry goes last
        _WRITTEN[id(data)] = (data, objects)
        while len(_WRITTEN) > 2:
            del _WRITTEN[next(iter(_WRITTEN))]


def _old_objects(root: etree._Element, raw: bytes) -> list[tuple[etree._Element, VocObject | None]]:
    """Each ``<object>`` child of ``root`` with what the reader loads from it (None: not loaded).

    A file in LabelImg's layout is read with the reader's fast path (the same values and
    ``raw`` bytes ``parse_annotation`` gave, ~5x faster than ``read_object`` per element);
    a file this module just wrote is not read again (see ``_WRITTEN``)."""
    elements = root.findall("object")
    with _WRITTEN_LOCK:
        written = _WRITTEN.get(id(raw))
    if written is not None and written[0] is raw and len(written[1]) == len(elements):
        return list(zip(elements, written[1]))
    plain = read_plain(raw)
    if plain is not None and len(plain.objects) == len(elements):
        return list(zip(elements, plain.objects))
    return [(el, read_object(el)[0]) for el in elements]


# A flag written as anything but a bare 0/1 is normalised when its object is rebuilt
# (_updated_object); such an object is never reused as it stands.
_ODD_FLAG = re.compile(rb"<(truncated|difficult)>(?!\s*[01]\s*</)")


def _object_elements(ann: Annotation,
                     loaded: list[tuple[etree._Element, VocObject | None]]) -> list[etree._Element]:
    """The ``<object>`` elements for ``ann.objects``, in order. An object equal to the one read
    from an element with the same serialisation (``raw``) reuses that element as it stands;
    only the others are rebuilt (:func:`_object_element`). Linear in the number of objects:
    moving one box of 100,000 rebuilds one element."""
    spare: dict[bytes, list[tuple[etree._Element, VocObject]]] = {}
    for el, old in loaded:
        if old is not None and old.raw is not None:
            spare.setdefault(old.raw, []).append((el, old))
    out: list[etree._Element] = []
    for obj in ann.objects:
        candidates = spare.get(obj.raw) if obj.raw is not None else None
        el = None
        if candidates and not _ODD_FLAG.search(obj.raw):
            for i, (cand, old) in enumerate(candidates):
                if old == obj:
                    el = cand
                    del candidates[i]
                    break
        out.append(el if el is not None else _object_element(obj))
    return out


def annotation_to_bytes(ann: Annotation) -> bytes:
    """The XML bytes for ``ann`` (LabelImg layout; lossless against ``ann.raw``).

    Linear in the size of the file (issue 12: it was quadratic in the number of objects).
    Text holding undecodable file-name bytes (an image called ``latin\\xe9.jpg`` on a
    non-UTF-8 share) is written in its :func:`~workbench.core.fsnames.readable` form."""
    ann = _readable_meta(ann)
    if ann.raw is None:
        root = _fresh_root(ann)
        return _serialise(root, root)
    root = parse_root(ann.raw, ann.filename or "<annotation>")
    old_meta = read_meta(root)
    old_size, _ = read_size(root)
    loaded = _old_objects(root, ann.raw)
    old_objects = tuple(o for _, o in loaded if o is not None)
    new_meta = {f: getattr(ann, f) for f in old_meta}
    if new_meta == old_meta and old_size == ann.size and old_objects == ann.objects:
        return bytes(ann.raw)
    _update_meta(root, old_meta, old_size, ann)
    if old_objects != ann.objects:
        # Children in order: what precedes the first loaded object (or the first <object>),
        # the objects, then everything else (unloaded objects, comments) as it was.
        replaced = {el for el, obj in loaded if obj is not None}
        children = list(root)
        anchor = next((i for i, c in enumerate(children) if c in replaced), None)
        if anchor is None:
            anchor = next((i for i, c in enumerate(children) if c.tag == "object"),
                          len(children))
        root[:] = (children[:anchor] + _object_elements(ann, loaded)
                   + [c for c in children[anchor:] if c not in replaced])
    return _serialise(root.getroottree(), root)


def write_annotation(ann: Annotation, xml_path: str | os.PathLike[str]) -> Annotation:
    """Write ``ann`` to ``xml_path`` atomically; returns ``ann`` with ``raw`` = bytes written."""
    data = annotation_to_bytes(ann)
    if len(data) > MAX_XML_BYTES:  # the reader would refuse the file: nothing is written
        raise OSError(errno.EFBIG, f"the annotation would be {len(data):,} bytes, over the "
                      f"{MAX_XML_BYTES:,}-byte limit of the VOC reader; nothing was written",
                      str(xml_path))
    atomic_write_bytes(xml_path, data)
    _remember_written(data, tuple(ann.objects))
    return dataclasses.replace(ann, raw=data)


