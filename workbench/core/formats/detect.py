"""Which box format a folder holds: evidence per format, the pick, and what else is there.

``detect_format(root, listing=None) -> FormatGuess`` looks at file names and at the first
bytes of JSON files only (never parses a whole file):

* ``voc``       ``.xml`` files (a VOC root with ``JPEGImages/`` counts every image as covered);
* ``yolo``      ``.txt`` files named like an image (beside it, or in the ``labels/`` folder that
                mirrors an ``images/`` folder), or any ``.txt`` under ``labels/``;
                ``classes.txt``/``predefined_classes.txt`` and ``ImageSets/`` never count;
* ``coco``      a JSON object with an ``"images"`` array (and ``"annotations"`` or
                ``"categories"``);
* ``createml``  a JSON array whose records have ``"image"`` and ``"annotations"``;
* ``labelme``   a JSON object with ``"shapes"``.

The pick is the format covering the most images (COCO / CreateML: the records their JSONs
list, counted without parsing);
ties go to the order of :data:`FORMATS` (VOC first). No evidence at all means ``voc`` (a new
LabelImg project). Every other format with evidence is listed in ``ambiguous_with`` with
(up to 5 of) its files, so callers can say so and name them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.formats.listing import Listing, label_candidates, list_folder, stem_key
from workbench.core.formats.model import FORMATS

CLASS_FILES = {"classes.txt", "predefined_classes.txt", "obj.names", "classes.names"}
_HEAD_BYTES = 1 << 16
_MAX_SNIFFED = 64

_KEY = re.compile(rb'"(images|annotations|categories|shapes|image|imagePath)"\s*:')


@dataclass(frozen=True)
class FormatGuess:
    format: str
    #: Up to 5 files that show the format (empty for a folder with no labels at all).
    evidence: list[Path] = field(default_factory=list)
    #: ``[(format, [files])]`` for every other format that has files in the folder.
    ambiguous_with: list[tuple[str, list[Path]]] = field(default_factory=list)
    #: Per format, the number of images its files cover.
    coverage: dict[str, int] = field(default_factory=dict)


def sniff_json(path: Path) -> str | None:
    """``"coco"`` / ``"createml"`` / ``"labelme"`` / None from the first 64 KiB of ``path``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError:
        return None
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    keys = {m.group(1) for m in _KEY.finditer(head)}
    if head.startswith(b"["):
        return "createml" if b"image" in keys and (b"annotations" in keys or len(head) < 8) \
            else None
    if head.startswith(b"{"):
        if b"shapes" in keys:
            return "labelme"
        if b"images" in keys and (b"annotations" in keys or b"categories" in keys):
            return "coco"
        if b"images" in keys or (b"annotations" in keys and b"categories" in keys):
            return "coco"
    return None


def _count(path: Path, key: bytes) -> int:
    try:
        with open(path, "rb") as fh:
            return fh.read().count(key)
    except OSError:
        return 0


def detect_format(root: Path, listing: Listing | None = None) -> FormatGuess:
    """Guess the format of the folder ``root`` (see the module doc)."""
    root = Path(root)
    listing = listing if listing is not None else list_folder(root)
    n_images = len(listing.images)
    files: dict[str, list[Path]] = {f: [] for f in FORMATS}
    coverage: dict[str, int] = {f: 0 for f in FORMATS}

    files["voc"] = listing.xml
    coverage["voc"] = len(listing.xml)
    if (root / "JPEGImages").is_dir() and listing.xml:
        coverage["voc"] = max(coverage["voc"], n_images)

    root_s = os.fspath(root)
    label_names: set[str] = set()
    for img in listing.images:
        beside, mirrored = label_candidates(os.fspath(img), root_s)
        label_names.add(beside)
        if mirrored is not None:
            label_names.add(mirrored)
    labels_dir = os.sep + "labels" + os.sep
    for t in listing.txt:
        ts = os.fspath(t)
        if t.name.lower() in CLASS_FILES or os.sep + "ImageSets" + os.sep in ts[len(root_s):]:
            continue
        if ts in label_names or labels_dir in ts[len(root_s):]:
            files["yolo"].append(t)
    coverage["yolo"] = len(files["yolo"])

    image_stems = {stem_key(os.fspath(img)) for img in listing.images}
    sniffed_beside = 0
    beside_kind: str | None = None
    others = 0
    for j in listing.json:
        if stem_key(os.fspath(j)) in image_stems:  # labelme's one-per-image layout
            if sniffed_beside < 3:
                kind = sniff_json(j)
                sniffed_beside += 1
                beside_kind = beside_kind or kind
            else:
                kind = beside_kind
        elif others < _MAX_SNIFFED:
            others += 1
            kind = sniff_json(j)
        else:
            kind = None
        if kind is not None:
            files[kind].append(j)
    coverage["labelme"] = len(files["labelme"])
    for kind, key in (("coco", b'"file_name"'), ("createml", b'"image"')):
        if files[kind]:  # the records the JSONs list (counted, not parsed)
            coverage[kind] = max(1, min(n_images, sum(_count(j, key) for j in files[kind])))

    present = [f for f in FORMATS if files[f]]
    if not present:
        return FormatGuess("voc", [], [], coverage)
    best = max(present, key=lambda f: (coverage[f], -FORMATS.index(f)))
    ambiguous = [(f, files[f][:5]) for f in present if f != best]
    return FormatGuess(best, files[best][:5], ambiguous, coverage)


def detect_json_file(path: Path) -> str | None:
    """The format of one JSON file given explicitly: ``coco`` / ``createml`` / ``labelme``."""
    return sniff_json(path)
