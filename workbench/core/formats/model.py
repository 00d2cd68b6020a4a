"""Plain records shared by the format readers and writers (no Qt, no torch).

``Source``  — where one image's annotation lives in its native format (which file, which
              record), kept on every :class:`workbench.core.project.Entry` as ``entry.source``.
``Native``  — what a reader returns for one image: the :class:`Annotation`, its problems and,
              per loaded object, where it came from (``positions``).
``Item``    — one image found by a format scanner (image path, source, preloaded annotation).
``Dataset`` — a scanned folder: format, items, scan problems, declared classes, splits and the
              per-format tables a writer needs (``meta``).

Positions and records by format (``Source.record`` / ``Source.index`` / ``Native.positions``):

=========  ================================  ==========================  ======================
format     ``Source.path``                   ``record`` / ``index``      ``positions[i]``
=========  ================================  ==========================  ======================
yolo       the label ``.txt`` (may not       None / None                 1-based line number
           exist yet for an unlabeled image)
coco       the JSON file                     image ``id`` / index in     index in
                                             ``"images"``                ``"annotations"``
createml   the JSON file                     None / index in the list    index in the record's
                                                                         ``"annotations"``
labelme    the image's ``.json`` (may not    None / None                 index in ``"shapes"``
           exist yet)
=========  ================================  ==========================  ======================

``Dataset.meta`` by format:

* yolo: ``{"names": {id: name}}`` (ids as in the names file, 0-based), ``"names_file"``: the
  ``data.yaml``/``dataset.yaml``/``classes.txt`` they came from (or None), ``"labels_dir"``.
* coco: ``{"files": {json_path: {"categories": {category id: name}, "images": n,
  "annotations": n}}}``.
* createml / labelme: ``{}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.annotation import Annotation, ImageSize, Problem, VocObject
from workbench.core.boxes import Box

FORMATS: tuple[str, ...] = ("voc", "yolo", "coco", "createml", "labelme")

#: Boxes that overshoot the image border by less than this (pixels) are snapped to it without
#: a problem: normalised YOLO numbers written with 6 decimals land a few 1e-3 px outside.
EDGE_TOLERANCE = 0.01


class FormatError(ValueError):
    """A dataset cannot be opened or saved in the asked format; the message says why."""


class NotWritableError(OSError, FormatError):
    """Saving is refused for this format (no writer yet, or an operation the format's files
    cannot take); nothing was written. An ``OSError`` too, so that callers that report failed
    writes report this one the same way."""


@dataclass(frozen=True)
class Source:
    """Where one image's annotation lives in its native format (see the module table)."""

    format: str
    path: Path
    #: The file holds a record for this image (False: an image without labels yet).
    exists: bool
    record: int | str | None = None
    index: int | None = None
    #: ``train`` / ``val`` / ... from the folder or JSON file name; "" when none.
    split: str = ""


@dataclass(frozen=True)
class Native:
    """One image's annotation as read from its native format."""

    annotation: Annotation | None
    problems: tuple[Problem, ...] = ()
    #: Per object of ``annotation.objects``: its line / array index (module table).
    positions: tuple[int, ...] = ()


@dataclass
class Item:
    """One image found by a scanner.

    ``raw`` is the reader's own record for formats read all at once (COCO, CreateML): the
    boxes as found, turned into an :class:`Annotation` (and checked) on each read. ``native``
    replaces it once the project saved the image (what now stands in the file).
    """

    image_path: Path
    source: Source
    native: Native | None = None
    raw: Any = None


@dataclass
class Dataset:
    format: str
    root: Path
    images_dir: Path
    layout: str
    items: list[Item] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Declared class names in file order (YOLO: by id; COCO: by category id).
    classes: list[str] = field(default_factory=list)
    class_file: Path | None = None
    #: ``{split name: [image ids (stems)]}`` from folders / JSON file names.
    splits: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- box checks

def _fmt(box: Box) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in box) + ")"


def check_box(box: Box, size: ImageSize | tuple[int, int] | None, where: str,
              clamp: bool) -> tuple[Box | None, list[tuple[str, str]]]:
    """Check one pixel-edge box against the image → ``(box to keep or None, [(severity, msg)])``.

    ``None`` (with an error) for a box with a NaN/inf number (it cannot be shown or edited);
    inverted, zero-area boxes and boxes wholly outside the image are kept with an error (as
    :mod:`workbench.core.voc` does, so the editor shows them); boxes overshooting by less than
    :data:`EDGE_TOLERANCE` are snapped silently;
    others are kept (clamped when ``clamp``) with a warning. ``where`` prefixes messages
    (``"line 3: "``, ``"annotations[12]: "``).
    """
    if not all(math.isfinite(v) for v in box):
        return None, [("error", f"{where}box {_fmt(box)} has a non-finite number")]
    x1, y1, x2, y2 = box
    if x2 < x1 or y2 < y1:
        return box, [("error", f"{where}inverted box {_fmt(box)} (negative width or height)")]
    if x2 == x1 or y2 == y1:
        return box, [("error", f"{where}zero-area box {_fmt(box)}")]
    if size is None:
        return box, []
    w, h = (size.width, size.height) if isinstance(size, ImageSize) else size
    t = EDGE_TOLERANCE
    if x1 >= -t and y1 >= -t and x2 <= w + t and y2 <= h + t:
        if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
            box = (max(x1, 0.0), max(y1, 0.0), min(x2, float(w)), min(y2, float(h)))
        return box, []
    inside = (min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w),
              min(max(y2, 0.0), h))
    if inside[2] <= inside[0] or inside[3] <= inside[1]:
        return box, [("error", f"{where}box {_fmt(box)} lies outside the {w}x{h} image")]
    if clamp:
        return inside, [("warning", f"{where}box {_fmt(box)} extends outside the {w}x{h} "
                                    f"image; clamped to {_fmt(inside)}")]
    return box, [("warning", f"{where}box {_fmt(box)} extends outside the {w}x{h} image")]


_OBJECT_DEFAULTS = VocObject(name="", box=(0.0, 0.0, 0.0, 0.0)).__dict__.copy()
_new = object.__new__


def new_object(name: str, box: Box, difficult: bool = False) -> VocObject:
    """``VocObject(name=name, box=box, difficult=difficult)``, 3× faster: readers make one per
    box, and a frozen dataclass's ``__init__`` sets each of its 8 fields through
    ``object.__setattr__``. Equal (and hashing equal) to the one the constructor makes."""
    obj = _new(VocObject)
    d = obj.__dict__
    d.update(_OBJECT_DEFAULTS)
    d["name"], d["box"], d["difficult"] = name, box, difficult
    return obj


#: One box as a JSON reader found it: ``(position, class name, pixel-edge box, difficult)``.
RawBox = tuple[int, str, Box, bool]


def build_native(image: Path, size: ImageSize | None, boxes: list[RawBox], problems: list[Problem],
                 *, shown: str, where, clamp: bool) -> Native:  # noqa: ANN001
    """An :class:`Annotation` of ``image`` from raw boxes, each checked with :func:`check_box`
    (``where(position) -> "annotations[12]: "`` prefixes the messages)."""
    objects: list[VocObject] = []
    positions: list[int] = []
    problems = list(problems)
    W, H = (size.width, size.height) if size is not None else (-1.0, -1.0)
    for pos, name, box, difficult in boxes:
        x1, y1, x2, y2 = box
        if name and 0.0 <= x1 < x2 <= W and 0.0 <= y1 < y2 <= H:  # clean: nothing to check
            objects.append(new_object(name, box, difficult))
            positions.append(pos)
            continue
        index = len(objects)
        kept, msgs = check_box(box, size, where(pos), clamp)
        for severity, msg in msgs:
            problems.append(Problem(shown, index if kept is not None else None,
                                    severity, msg))  # type: ignore[arg-type]
        if kept is None:
            continue
        if not name:
            problems.append(Problem(shown, index, "error", f"{where(pos)}object has no class name"))
        objects.append(new_object(name, kept, difficult))
        positions.append(pos)
    ann = Annotation(filename=image.name, size=size, objects=tuple(objects),
                     folder=image.parent.name, path=str(image))
    return Native(ann, tuple(problems), tuple(positions))


def native_from_saved(item: Item, *, shown: str, clamp: bool) -> Native:
    """``item.native`` (set after a save) re-checked like a fresh read."""
    native = item.native
    assert native is not None
    ann = native.annotation
    if ann is None:
        return native
    positions = native.positions or tuple(range(len(ann.objects)))
    boxes = [(p, o.name, o.box, o.difficult) for p, o in zip(positions, ann.objects)]
    return build_native(item.image_path, ann.size, boxes, [], shown=shown,
                        where=lambda p: "", clamp=clamp)
