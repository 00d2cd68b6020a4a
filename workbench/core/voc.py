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
``read_clean(xml, image, check_image=True, keep_raw=True) -> (Annotation, xml stat, image stat)
| None``
    The fast path of :meth:`workbench.core.project.Project.load` (and of ``eval``'s ground
    truth): the annotation when the file is in LabelImg's layout and reading it (with its
    image's header, ``check_image``) would report nothing at all, read with ``os`` calls on
    path strings; None otherwise (then read it the usual way, with every message).
``annotation_to_bytes(annotation) -> bytes`` / ``write_annotation(annotation, xml_path)
-> Annotation``
    Serialise / write atomically. A new annotation (``raw is None``) is written exactly as
    LabelImg 1.8.6 writes it (tab indentation, no XML declaration, ``verified="yes"``, element
    order folder, filename, path, source/database, size, segmented, object(name, pose,
    truncated, difficult, bndbox)). An annotation read from a file (``raw`` set) is
    re-written from that file: only the values that changed are replaced, so unknown
    elements and attributes, ``<part>``, ``<occluded>``, comments and the original text of
    unchanged values (``123.6``) survive; an unchanged annotation is written back byte for
    byte. When a file is rewritten, indentation becomes LabelImg's tabs and ``truncated`` /
    ``difficult`` flags written as ``0.0``/``true`` become ``0``/``1`` (LabelImg's reader
    crashes on anything but an integer there). ``write_annotation`` returns the annotation with
    ``raw`` set to the bytes written.
    Extra fields: ``<score>`` for objects with a score; ``model_made="yes"`` on ``<object>``.

Read quirks handled: float coordinates, ``difficult``/``truncated`` written as ``0.0`` or
``true``, missing ``<size>`` (taken from the image) or ``pose``/``truncated``/``difficult``
(defaults, no problem reported), stray whitespace, a BOM, an encoding declared in the
prolog, whitespace before the prolog, ``<object>`` without ``<bndbox>`` (kept in the file on
re-save, reported, not loaded).

Never silent: object-like content the reader does not use is a warning naming its place
(``<v:object> at /annotation/v:object (line 9)``): an ``<object>`` not directly inside
``<annotation>`` (inside ``<objects>`` or another object), ``<Object>`` or a namespaced
object, a second ``<name>``/``<bndbox>``/``<xmin>``/``<size>``/… (the first is read), a
known tag in another letter case or namespace, and a comment or element inside a value
(``<xmin>1<!--c-->0</xmin>`` is read as ``10``, the character data around the comment).

Problem severities: ``error`` — missing ``<name>``, unreadable coordinates, inverted or
zero-area boxes, boxes wholly outside the image, unreadable or missing image; ``warning`` —
missing ``<filename>``/``<size>``, size differing from the image, boxes partly outside the
image (and every clamp), objects without ``<bndbox>``, unreadable flag values. ``object`` is
the index into ``Annotation.objects`` (None for file-level problems and unloaded objects).
A clean LabelImg file yields no problems.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from workbench.core.annotation import Annotation, Problem, VocObject
from workbench.core.boxes import Box, clamp_box
from workbench.core.image_limits import check_limits
from workbench.core.imageinfo import ImageInfo, ImageReadError, image_info
from workbench.core.jpeg_header import HEADER_BYTES, parse_jpeg_info, shown_size
from workbench.core.voc_plain import read_plain
from workbench.core.voc_write import annotation_to_bytes, write_annotation
from workbench.core.voc_xml import (
    MAX_XML_BYTES, HostileXmlError, VocError, VocReadError, child_text, parse_root, read_bytes,
    read_meta, read_object, read_size, structure_problems,
)

__all__ = [
    "MAX_XML_BYTES", "VocError", "HostileXmlError", "VocReadError", "read_annotation",
    "parse_annotation", "annotation_to_bytes", "write_annotation", "read_filename",
    "read_clean",
    "read_clean_encoded",
]


def _voc_str(box: Box) -> str:
    x1, y1, x2, y2 = box
    return f"({x1 + 1:g}, {y1 + 1:g}, {x2:g}, {y2:g})"


def parse_annotation(
    data: bytes, *, name: str, image_path: str | os.PathLike[str] | None = None,
    clamp: bool = False,
) -> tuple[Annotation, list[Problem]]:
    """Parse VOC XML ``data`` (see :func:`read_annotation`)."""
    # LabelImg's own layout with plain values: two regexes instead of a tree (voc_plain.py);
    # such a file has nothing structural to warn about. Anything else: the full reader.
    plain = read_plain(data) if len(data) <= MAX_XML_BYTES else None
    read: list[tuple[VocObject | None, str, list[tuple[str, str]]]]
    if plain is not None:
        structure: list[str] = []
        meta, (size, size_msg) = plain.meta, (plain.size, plain.size_message)
        read = []  # filled below only when an object needs a word
    else:
        root = parse_root(data, name)
        if root.tag != "annotation":
            raise VocReadError(name, f"root element is <{root.tag}>, expected <annotation>")
        structure = structure_problems(root)  # unused object-like content: never silent
        meta = read_meta(root)
        size, size_msg = read_size(root)
        read = [read_object(el) for el in root.findall("object")]
    problems: list[Problem] = []

    def report(severity: str, message: str, index: int | None = None) -> None:
        problems.append(Problem(name, index, severity, message))  # type: ignore[arg-type]

    for message in structure:
        report("warning", message)
    if not meta["filename"]:
        report("warning", "has no <filename>")
        if image_path is not None:
            meta["filename"] = Path(image_path).name
    info: ImageInfo | None = None
    if image_path is not None:
        try:
            info = image_info(image_path)
        except ImageReadError as exc:
            report("error", f"image {Path(image_path).name}: {exc.reason}")
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
    if plain is not None:
        if _all_clean(plain.objects, bounds):
            objects = plain.objects  # nothing to report or clamp: the common case, one pass
        else:
            read = [(o, o.name, []) for o in plain.objects]
    for file_index, (obj, obj_name, msgs) in enumerate(read):
        index = len(objects) if obj is not None else None
        for severity, msg in msgs:
            report(severity, f"<object> #{file_index + 1} ({obj_name!r}) {msg}"
                   if obj is None else msg, index)
        if obj is None:
            continue
        if not obj.name:
            report("error", "object has no <name>", index)
        obj = _check_box(obj, bounds, clamp, report, len(objects))  # == index: obj is not None
        objects.append(obj)

    ann = object.__new__(Annotation)  # the frozen dataclass's __init__, without its cost
    ann.__dict__.update(
        filename=meta["filename"], size=size, objects=tuple(objects), verified=meta["verified"],
        folder=meta["folder"], path=meta["path"], database=meta["database"],
        segmented=meta["segmented"], raw=bytes(data),
    )
    return ann, problems


def _all_clean(objects: list[VocObject], bounds: tuple[int, int] | None) -> bool:
    """Whether every object has a name and a box :func:`_check_box` passes without a word."""
    if bounds is None:
        for obj in objects:
            x1, y1, x2, y2 = obj.box
            if not (obj.name and x1 < x2 and y1 < y2):
                return False
        return True
    w, h = bounds
    for obj in objects:
        x1, y1, x2, y2 = obj.box
        if not (obj.name and 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            return False
    return True


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



_XML_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_IMAGE_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # (jpeg_size's: a FIFO never blocks)


def read_clean(xml: str, image: str, check_image: bool = True, keep_raw: bool = True
               ) -> tuple[Annotation, os.stat_result, os.stat_result | None] | None:
    """``(annotation, stat of the XML, stat of the image)`` when
    :meth:`workbench.core.project.Project.load` would read ``xml`` — the annotation of the
    image file ``image`` — without a single problem, else None (the caller then reads it the
    usual way, with every check and message). The common case, at a fraction of the usual
    cost (no display name, no problem list; ``os`` calls on strings, no ``pathlib``): a file
    in LabelImg's layout (:func:`workbench.core.voc_plain.read_plain`) whose ``<filename>`` is
    the image's file name, with a ``<size>`` and every box named and inside it; with
    ``check_image``, that size is the displayed size of a JPEG whose header Pillow would
    read without fail (:func:`workbench.core.jpeg_header.parse_jpeg_info`, read here from the
    open file)
    within the decoder's limits (the image's stat is then given, else None). The stats are
    of the files as opened (``fstat``). Without ``keep_raw`` the annotation and its objects
    carry no ``raw`` (readers that never write the file back)."""
    clean = read_clean_encoded(xml, image, check_image, keep_raw, False)
    return None if clean is None else clean[:3]


def _stat_and_read(path: str, flags: int, count: int | None
                   ) -> tuple[os.stat_result, bytes] | None:
    """A regular file's ``fstat`` and its first ``count`` bytes — with ``count`` None the whole
    file, which must hold 1 to :data:`MAX_XML_BYTES` bytes and not change size while read
    (:func:`read_bytes`' rule: a regular file's short read ends it). None when it cannot be
    opened or read, or is not such a file (the full reader then says why)."""
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if count is not None:
            return st, os.read(fd, count)
        size = st.st_size
        if not 0 < size <= MAX_XML_BYTES:
            return None
        data = os.read(fd, size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return (st, data) if len(data) == size else None  # (else it grew or shrank since fstat)


def read_clean_encoded(xml: str, image: str, check_image: bool = True, keep_raw: bool = True,
                       encode: bool = True
                       ) -> tuple[Annotation, os.stat_result, os.stat_result | None,
                                  list[tuple] | None] | None:
    """:func:`read_clean` and, with ``encode``, each object's fields but ``raw`` as a tuple
    (:attr:`workbench.core.voc_plain.Plain.encoded`: what the ground-truth cache keeps)."""
    read = _stat_and_read(xml, _XML_FLAGS, None)
    if read is None:
        return None
    st, data = read
    plain = read_plain(data, keep_raw, encode)
    if plain is None or plain.size is None or plain.meta["filename"] != os.path.basename(image):
        return None
    width, height = plain.size.width, plain.size.height
    ist = None
    if check_image:
        read = _stat_and_read(image, _IMAGE_FLAGS, HEADER_BYTES)
        if read is None:
            return None
        ist, head = read
        dims = parse_jpeg_info(head)
        if dims is None or shown_size(dims) != (width, height):
            return None
        try:
            check_limits(image, width, height)  # type: ignore[arg-type]  # (error never shown)
        except ImageReadError:
            return None
    if not plain.inside:  # (= _all_clean(plain.objects, (width, height)), found as read)
        return None
    meta = plain.meta
    ann = object.__new__(Annotation)  # (as parse_annotation builds it)
    fields = ann.__dict__  # (one store per field: cheaper than update's keyword dict)
    fields["filename"] = meta["filename"]
    fields["size"] = plain.size
    fields["objects"] = tuple(plain.objects)
    fields["verified"] = meta["verified"]
    fields["folder"] = meta["folder"]
    fields["path"] = meta["path"]
    fields["database"] = meta["database"]
    fields["segmented"] = meta["segmented"]
    fields["raw"] = data if keep_raw else None
    return ann, st, ist, plain.encoded


def read_annotation(
    xml_path: str | os.PathLike[str], image_path: str | os.PathLike[str] | None = None, *,
    clamp: bool = False, display_name: str | None = None,
) -> tuple[Annotation, list[Problem]]:
    """Read one VOC XML file → ``(Annotation, problems)`` (see the module doc)."""
    name = display_name if display_name is not None else str(xml_path)
    return parse_annotation(read_bytes(xml_path, name), name=name,
                            image_path=image_path, clamp=clamp)


def read_filename(xml_path: str | os.PathLike[str]) -> str | None:
    """The ``<filename>`` text of a VOC file, or None when absent or the file is unusable."""
    try:
        root = parse_root(read_bytes(Path(xml_path), str(xml_path)), str(xml_path))
    except VocError:
        return None
    return child_text(root, "filename") or None


