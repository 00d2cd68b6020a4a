"""PASCAL VOC XML read/write: LabelImg-exact output, lossless re-save, hardened parsing.

API
---
``read_annotation(xml_path, image_path=None, *, clamp=False, display_name=None)
-> (Annotation, list[Problem])``
    Reads one file. Boxes become float pixel-edge ``xyxy`` (``x1 = xmin - 1``, ``x2 = xmax``;
    see :mod:`workbench.core.boxes`). ``image_path`` (optional) is the image the file
    describes: its header gives the size when ``<size>`` is missing and is checked against
    it. ``clamp=True`` clamps boxes to the image and reports each clamp. Problems name
    ``display_name`` (default: the path as given). Raises :class:`HostileXmlError` (DOCTYPE,
    entities, over :data:`MAX_XML_BYTES`) or :class:`VocReadError` (unreadable, not
    well-formed, root is not ``<annotation>``); both name the file.
``parse_annotation(data, *, name, image_path=None, clamp=False) -> (Annotation, problems)``
    The same from bytes.
``annotation_to_bytes(annotation) -> bytes`` / ``write_annotation(annotation, xml_path)
-> Annotation``
    Serialise / write atomically. A new annotation (``raw is None``) is written exactly as
    LabelImg 1.8.6 writes it (tab indentation, no XML declaration, ``verified="yes"``, element
    order folder, filename, path, source/database, size, segmented, object(name, pose,
    truncated, difficult, bndbox)). An annotation read from a file (``raw`` set) is
    re-written from that file: only the values that changed are replaced, so unknown
    elements and attributes, ``<part>``, ``<occluded>``, comments and the original text of
    unchanged values (``123.6``) survive; an unchanged annotation is written back byte for
    byte. ``write_annotation`` returns the annotation with ``raw`` set to the bytes written.
    Extra fields: ``<score>`` for objects with a score; ``model_made="yes"`` on ``<object>``.

Read quirks handled: float coordinates, ``difficult``/``truncated`` written as ``0.0`` or
``true``, missing ``<size>`` (taken from the image) or ``pose``/``truncated``/``difficult``
(defaults, no problem reported), stray whitespace, a BOM, an encoding declared in the
prolog, whitespace before the prolog, ``<object>`` without ``<bndbox>`` (kept in the file on
re-save, reported, not loaded).

Problem severities: ``error`` — missing ``<name>``, unreadable coordinates, inverted or
zero-area boxes, boxes wholly outside the image, unreadable or missing image; ``warning`` —
missing ``<filename>``/``<size>``, size differing from the image, boxes partly outside the
image (and every clamp), objects without ``<bndbox>``, unreadable flag values. ``object`` is
the index into ``Annotation.objects`` (None for file-level problems and unloaded objects).
A clean LabelImg file yields no problems.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path

from lxml import etree

from workbench.core.annotation import Annotation, ImageSize, Problem, VocObject
from workbench.core.atomic import atomic_write_bytes
from workbench.core.boxes import Box, clamp_box, edges_to_voc, voc_to_edges
from workbench.core.imageinfo import ImageInfo, ImageReadError, image_info

__all__ = [
    "MAX_XML_BYTES", "VocError", "HostileXmlError", "VocReadError", "read_annotation",
    "parse_annotation", "annotation_to_bytes", "write_annotation", "read_filename",
]

#: Files larger than this are refused (a LabelImg file with 1,000 boxes is ~300 kB).
MAX_XML_BYTES = 10 * 1024 * 1024

_HOSTILE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_UTF8_BOM = b"\xef\xbb\xbf"
_COORDS = ("xmin", "ymin", "xmax", "ymax")
_ROOT_ORDER = ("folder", "filename", "path", "source", "size", "segmented", "object")
_OBJ_ORDER = ("name", "pose", "truncated", "difficult", "bndbox", "score")
_TRUE = {"1", "yes", "true"}
_FALSE = {"0", "no", "false", ""}


class VocError(ValueError):
    """A VOC file cannot be used; ``path`` names it and the message says why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class HostileXmlError(VocError):
    """The file holds a DOCTYPE/entity declaration or is too large: refused, never parsed."""


class VocReadError(VocError):
    """The file is unreadable, not well-formed XML, or not a VOC annotation."""


# --------------------------------------------------------------------------- parsing


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=False,
    )


def _clean_prolog(data: bytes) -> bytes:
    """Drop a UTF-8 BOM and whitespace before the first ``<`` (both trip the XML prolog)."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with BOM: let libxml2 decode it
        return data
    return data.lstrip(b" \t\r\n")


def _parse_root(data: bytes, name: str) -> etree._Element:
    if len(data) > MAX_XML_BYTES:
        raise HostileXmlError(name, f"file is {len(data)} bytes, over the {MAX_XML_BYTES} limit")
    if _HOSTILE.search(data):
        raise HostileXmlError(name, "DOCTYPE/ENTITY declarations are not allowed in annotations")
    try:
        root = etree.fromstring(_clean_prolog(data), _parser())
    except etree.XMLSyntaxError as exc:
        raise VocReadError(name, f"not well-formed XML ({exc})") from exc
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise HostileXmlError(name, "DOCTYPE declarations are not allowed in annotations")
    if next(root.iter(etree.Entity), None) is not None:
        raise HostileXmlError(name, "entity references are not allowed in annotations")
    return root


def _child_text(el: etree._Element, tag: str) -> str | None:
    child = el.find(tag)
    if child is None:
        return None
    return (child.text or "").strip()


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _flag(el: etree._Element, tag: str, msgs: list[tuple[str, str]]) -> bool:
    text = _child_text(el, tag)
    if text is None:
        return False
    low = text.lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    value = _number(text)
    if value is None:
        msgs.append(("warning", f"<{tag}> value {text!r} is not 0/1; read as 0"))
        return False
    return value != 0


def _read_object(el: etree._Element) -> tuple[VocObject | None, str, list[tuple[str, str]]]:
    """One ``<object>`` → (object or None when it has no usable box, name, messages)."""
    msgs: list[tuple[str, str]] = []
    name = _child_text(el, "name") or ""
    bnd = el.find("bndbox")
    if bnd is None:
        return None, name, [("warning", "has no <bndbox>; kept in the file but not loaded")]
    values = [_number(_child_text(bnd, c)) for c in _COORDS]
    if any(v is None for v in values):
        bad = ", ".join(f"{c}={_child_text(bnd, c)!r}" for c, v in zip(_COORDS, values) if v is None)
        return None, name, [("error", f"unreadable <bndbox> ({bad}); kept in the file but not loaded")]
    box = voc_to_edges(*values)  # type: ignore[arg-type]
    difficult = _flag(el, "difficult", msgs)
    truncated = _flag(el, "truncated", msgs)
    pose = _child_text(el, "pose")
    score_text = _child_text(el, "score")
    score = _number(score_text)
    if score_text is not None and score is None:
        msgs.append(("warning", f"<score> value {score_text!r} is not a number; ignored"))
    extra = tuple(
        (str(c.tag), (c.text or "").strip())
        for c in el
        if isinstance(c.tag, str) and c.tag not in _OBJ_ORDER and len(c) == 0
    )
    obj = VocObject(
        name=name, box=box, difficult=difficult, truncated=truncated,
        pose="Unspecified" if pose is None else pose, extra=extra, score=score,
        model_made=(el.get("model_made") or "").strip().lower() in _TRUE,
        raw=etree.tostring(el, with_tail=False),
    )
    return obj, name, msgs


def _read_size(root: etree._Element) -> tuple[ImageSize | None, str | None]:
    size_el = root.find("size")
    if size_el is None:
        return None, "has no <size>"
    w, h = _number(_child_text(size_el, "width")), _number(_child_text(size_el, "height"))
    d = _number(_child_text(size_el, "depth"))
    if w is None or h is None or w <= 0 or h <= 0:
        return None, (f"<size> {_child_text(size_el, 'width')!r}x{_child_text(size_el, 'height')!r} "
                      "is not a valid image size")
    return ImageSize(int(round(w)), int(round(h)), int(d) if d and d > 0 else 3), None


def _read_meta(root: etree._Element) -> dict:
    source = root.find("source")
    database = _child_text(source, "database") if source is not None else None
    return {
        "filename": _child_text(root, "filename") or "",
        "folder": _child_text(root, "folder") or "",
        "path": _child_text(root, "path") or "",
        "database": "Unknown" if database is None else database,
        "segmented": _child_text(root, "segmented") or "0",
        "verified": (root.get("verified") or "").strip().lower() in _TRUE,
    }


def _voc_str(box: Box) -> str:
    x1, y1, x2, y2 = box
    return f"({x1 + 1:g}, {y1 + 1:g}, {x2:g}, {y2:g})"


def parse_annotation(
    data: bytes, *, name: str, image_path: str | os.PathLike[str] | None = None,
    clamp: bool = False,
) -> tuple[Annotation, list[Problem]]:
    """Parse VOC XML ``data`` (see :func:`read_annotation`)."""
    root = _parse_root(data, name)
    if root.tag != "annotation":
        raise VocReadError(name, f"root element is <{root.tag}>, expected <annotation>")
    problems: list[Problem] = []

    def report(severity: str, message: str, index: int | None = None) -> None:
        problems.append(Problem(name, index, severity, message))  # type: ignore[arg-type]

    meta = _read_meta(root)
    if not meta["filename"]:
        report("warning", "has no <filename>")
        if image_path is not None:
            meta["filename"] = Path(image_path).name
    info: ImageInfo | None = None
    if image_path is not None:
        try:
            info = image_info(image_path)
        except ImageReadError as exc:
            report("error", str(exc))
    size, size_msg = _read_size(root)
    if size is None:
        if info is not None:
            size = info.size
            report("warning", f"{size_msg}; taken from the image ({size.width}x{size.height})")
        else:
            report("warning", f"{size_msg}; boxes cannot be checked against the image")
    elif info is not None and (size.width, size.height) != (info.width, info.height):
        if info.rotated and (size.width, size.height) == (info.raw_width, info.raw_height):
            report("warning", f"<size> {size.width}x{size.height} is the stored pixel size, but "
                   f"EXIF orientation {info.orientation} shows the image as "
                   f"{info.width}x{info.height}; boxes may refer to the unrotated pixels")
        else:
            report("warning", f"<size> {size.width}x{size.height} differs from the image "
                   f"({info.width}x{info.height})")
    bounds = (info.width, info.height) if info is not None else (
        (size.width, size.height) if size is not None else None)

    objects: list[VocObject] = []
    for file_index, el in enumerate(root.findall("object")):
        obj, obj_name, msgs = _read_object(el)
        index = len(objects) if obj is not None else None
        label = f"<object> #{file_index + 1} ({obj_name!r})"
        for severity, msg in msgs:
            report(severity, f"{label} {msg}" if obj is None else msg, index)
        if obj is None:
            continue
        if not obj.name:
            report("error", "object has no <name>", index)
        obj = _check_box(obj, bounds, clamp, report, index)
        objects.append(obj)

    ann = Annotation(
        filename=meta["filename"], size=size, objects=tuple(objects), verified=meta["verified"],
        folder=meta["folder"], path=meta["path"], database=meta["database"],
        segmented=meta["segmented"], raw=bytes(data),
    )
    return ann, problems


def _check_box(obj: VocObject, bounds: tuple[int, int] | None, clamp: bool, report,
               index: int) -> VocObject:
    x1, y1, x2, y2 = obj.box
    if x2 < x1 or y2 < y1:
        report("error", f"inverted box {_voc_str(obj.box)} (xmin > xmax or ymin > ymax)", index)
        return obj
    if x2 == x1 or y2 == y1:
        report("error", f"zero-area box {_voc_str(obj.box)}", index)
        return obj
    if bounds is None:
        return obj
    w, h = bounds
    if x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h:
        return obj
    inside = clamp_box(obj.box, w, h)
    if inside[2] <= inside[0] or inside[3] <= inside[1]:
        report("error", f"box {_voc_str(obj.box)} lies outside the {w}x{h} image", index)
        return obj
    if clamp:
        report("warning", f"box {_voc_str(obj.box)} extends outside the {w}x{h} image; "
               f"clamped to {_voc_str(inside)}", index)
        return dataclasses.replace(obj, box=inside)
    report("warning", f"box {_voc_str(obj.box)} extends outside the {w}x{h} image", index)
    return obj


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_XML_BYTES + 1)
    except OSError as exc:
        raise VocReadError(name, f"cannot read ({exc.strerror or exc})") from exc
    if len(data) > MAX_XML_BYTES:
        raise HostileXmlError(name, f"file is over the {MAX_XML_BYTES} byte limit")
    return data


def read_annotation(
    xml_path: str | os.PathLike[str], image_path: str | os.PathLike[str] | None = None, *,
    clamp: bool = False, display_name: str | None = None,
) -> tuple[Annotation, list[Problem]]:
    """Read one VOC XML file → ``(Annotation, problems)`` (see the module doc)."""
    name = display_name if display_name is not None else str(xml_path)
    return parse_annotation(_read_bytes(Path(xml_path), name), name=name,
                            image_path=image_path, clamp=clamp)


def read_filename(xml_path: str | os.PathLike[str]) -> str | None:
    """The ``<filename>`` text of a VOC file, or None when absent or the file is unusable."""
    try:
        root = _parse_root(_read_bytes(Path(xml_path), str(xml_path)), str(xml_path))
    except VocError:
        return None
    return _child_text(root, "filename") or None


# --------------------------------------------------------------------------- writing


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
    _ensure_child(parent, tag, order).text = text


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
    for tag, value in zip(_COORDS, edges_to_voc(obj.box)):
        _sub(bnd, tag, str(value))
    if obj.score is not None:
        _sub(el, "score", _fmt_score(obj.score))
    for tag, text in obj.extra:
        _sub(el, tag, text)
    return el


def _updated_object(obj: VocObject) -> etree._Element:
    """``obj.raw`` with only the values that differ from it replaced."""
    el = etree.fromstring(obj.raw, _parser())  # our own serialisation of a checked element
    old, _, _ = _read_object(el)
    if old is None:
        return _fresh_object(obj)
    if old.name != obj.name:
        _set_text(el, "name", obj.name, _OBJ_ORDER)
    if old.pose != obj.pose:
        _set_text(el, "pose", obj.pose, _OBJ_ORDER)
    for tag in ("truncated", "difficult"):
        if getattr(old, tag) != getattr(obj, tag):
            _set_text(el, tag, "1" if getattr(obj, tag) else "0", _OBJ_ORDER)
    if old.box != obj.box:
        bnd = el.find("bndbox")
        new_voc = edges_to_voc(obj.box)
        for i, tag in enumerate(_COORDS):
            if old.box[i] != obj.box[i]:
                _set_text(bnd, tag, str(new_voc[i]), _COORDS)
    if old.score != obj.score:
        if obj.score is None:
            for s in el.findall("score"):
                el.remove(s)
        else:
            _set_text(el, "score", _fmt_score(obj.score), _OBJ_ORDER)
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
            _set_text(root, field, getattr(ann, field), _ROOT_ORDER)
    if old["path"] != ann.path:
        if ann.path:
            _set_text(root, "path", ann.path, _ROOT_ORDER)
        else:
            for p in root.findall("path"):
                root.remove(p)
    if old["database"] != ann.database:
        _set_text(_ensure_child(root, "source", _ROOT_ORDER), "database", ann.database, ("database",))
    if old_size != ann.size:
        if ann.size is None:
            for s in root.findall("size"):
                root.remove(s)
        else:
            size_el = _ensure_child(root, "size", _ROOT_ORDER)
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
    root = _parse_root(ann.raw, ann.filename or "<annotation>")
    old_meta = _read_meta(root)
    old_size, _ = _read_size(root)
    loaded = [(el, _read_object(el)[0]) for el in root.findall("object")]
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

