"""COCO detection JSON (reader): one file, or several that make the split.

Layouts
-------
* One JSON (``instances.json``, ``annotations/instances_train2017.json``, Roboflow's
  ``<split>/_annotations.coco.json`` …) with the images beside it, in ``images/`` beside it,
  in the dataset root or its ``images/``, or in a folder named after the JSON's split
  (``train2017/``). The folder is chosen per JSON as the one where most ``file_name`` values
  exist; ``file_name`` may hold sub-folders.
* Several JSONs: each one's split comes from its name (``instances_train.json`` → ``train``,
  ``…val…``/``…valid…`` → ``val``, ``…test…`` → ``test``) or its folder (``valid/…json``).
* ``annotations=FILE`` (``--annotations``) reads that JSON only.

Each ``"images"`` record becomes an entry (annotated, possibly with no boxes); images of the
folder that no JSON lists are unlabeled entries. ``bbox`` ``[x, y, w, h]`` → pixel-edge
``xyxy`` (:func:`~workbench.core.formats.conventions.coco_to_xyxy`); the class name is the
category's ``name``; a ``difficult`` key (as ``workbench export`` writes it) is kept.
Annotations without a usable ``bbox`` (segmentation-only, keypoints-only, non-numeric) stay
in the file, are not loaded, and are counted in a warning.

Problems name the JSON and the record (``images[3]``, ``annotations[12]``): malformed JSON
(one error, no traceback), duplicate image ids or file names, ``file_name`` that points
outside the dataset folder (``..``, absolute paths: refused), listed images that do not
exist, annotations naming an unknown image or category, NaN / non-numeric / negative boxes,
boxes outside the image, ``width``/``height`` that differ from the image header.
Image sizes come from the JSON; the header is read only when the image is checked.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from workbench.core.annotation import ImageSize, Problem
from workbench.core.formats.conventions import coco_to_xyxy
from workbench.core.formats.detect import sniff_json
from workbench.core.formats.listing import Listing, list_folder
from workbench.core.formats.model import (
    Dataset, Item, Native, RawBox, Source, build_native, native_from_saved,
)
from workbench.core.formats.sizes import size_against_image

_NUMBER = frozenset({int, float})  # type() is exact: bool is not a number here
#: Types usable as ids (hashable JSON scalars); a list or object as an id is a problem.
_KEY = frozenset({int, float, str, bool, type(None)})
isfinite = math.isfinite

SPLIT_WORDS = (("train", "train"), ("valid", "val"), ("val", "val"), ("test", "test"))


def split_name(path: Path, root: Path, several: bool) -> str:
    """``train`` / ``val`` / ``test`` from a JSON's name or folder; else its stem when there
    are several JSONs, "" for a single one."""
    stem = path.name.lower().removesuffix(".json")
    for word, split in SPLIT_WORDS:
        if word in stem:
            return split
    if path.parent != root:
        folder = path.parent.name.lower()
        for word, split in SPLIT_WORDS:
            if folder == word or folder.startswith(word):
                return split
    return stem.removeprefix("instances_") if several else ""


def _compact_annotation(d: dict) -> Any:
    """``json.loads`` object hook: an annotation record becomes the tuple ``(id, image_id,
    category_id, bbox, difficult)`` the moment it is decoded, so the parsed document holds
    ~100 bytes per annotation instead of a ~600-byte dict (segmentation, area …): 10^6
    annotations peak at about half the memory. Other objects stay dicts."""
    if "image_id" in d and "file_name" not in d:
        return (d.get("id"), d["image_id"], d.get("category_id"), d.get("bbox"),
                d.get("difficult"))
    return d


def load_json(path: Path, shown: str, *, compact: bool = False) -> tuple[Any, Problem | None]:
    """Parsed JSON, or ``(None, problem)`` naming the file (never raises). ``compact``: COCO
    annotations as tuples (:func:`_compact_annotation`)."""
    try:
        data = path.read_bytes().decode("utf-8-sig")  # the bytes go before parsing (memory)
    except OSError as exc:
        return None, Problem(shown, None, "error", f"cannot read ({exc.strerror or exc})")
    except UnicodeDecodeError as exc:
        return None, Problem(shown, None, "error", f"not UTF-8 text ({exc.reason} at byte "
                                                   f"{exc.start})")
    try:
        if compact:
            return json.loads(data, object_hook=_compact_annotation), None
        return json.loads(data), None
    except json.JSONDecodeError as exc:
        return None, Problem(shown, None, "error", f"not valid JSON: {exc.msg} at line "
                             f"{exc.lineno}, column {exc.colno}")
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        return None, Problem(shown, None, "error", f"not valid JSON ({exc})")


def image_bases(json_path: Path, root: Path, split: str) -> list[Path]:
    """Folders a JSON's ``file_name`` values may be relative to, most likely first."""
    here = json_path.parent
    stem = json_path.name.removesuffix(".json").removeprefix("instances_")
    out = [here / "images", here, root / "images", root]
    for name in dict.fromkeys(n for n in (split, stem) if n):
        out += [root / "images" / name, root / name, here.parent / name]
    return list(dict.fromkeys(out))


class Resolver:
    """``file_name`` → an image of the listing, relative to the best base folder."""

    def __init__(self, root: Path, images: set[str] | dict[str, Path], bases: list[Path]) -> None:
        self.root = os.fspath(root)
        self.images = images
        self.bases = [os.fspath(b) for b in bases]
        self.base: str | None = None

    def choose(self, names: list[str]) -> None:
        sample = [n for n in names[:50] if n]
        scores = [sum(os.path.normpath(os.path.join(b, n)) in self.images for n in sample)
                  for b in self.bases]
        best = max(range(len(self.bases)), key=lambda i: (scores[i], -i)) if scores else 0
        self.base = self.bases[best] if self.bases else self.root

    def resolve(self, name: str) -> tuple[str | None, str | None]:
        """``(path, None)``, ``(None, "outside")`` or ``(None, "missing")``."""
        name = name.replace("\\", "/")
        path = os.path.normpath(os.path.join(self.base or self.root, name))
        if not (path == self.root or path.startswith(self.root + os.sep)):
            return None, "outside"
        if path in self.images:
            return path, None
        for b in self.bases:  # a file_name that carries a folder prefix of its own
            alt = os.path.normpath(os.path.join(b, name))
            if alt in self.images and (alt == self.root or alt.startswith(self.root + os.sep)):
                return alt, None
        return None, "missing"


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _read_one(json_path: Path, shown: str, root: Path, split: str, images: dict[str, Path],
              claimed: dict[str, tuple[str, int]], items: dict[str, Item],
              problems: list[Problem], meta_files: dict) -> None:
    doc, err = load_json(json_path, shown, compact=True)
    if err is not None:
        problems.append(err)
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        problems.append(Problem(shown, None, "error", "not a COCO file (no \"images\" list)"))
        return

    def report(severity: str, message: str) -> None:
        problems.append(Problem(shown, None, severity, message))  # type: ignore[arg-type]

    cats: dict[Any, str] = {}
    for k, c in enumerate(doc.get("categories") or []):
        if not isinstance(c, dict) or "id" not in c:
            report("error", f"categories[{k}]: has no id")
            continue
        if type(c["id"]) not in _KEY:
            report("error", f"categories[{k}]: id {c['id']!r} is not a number or a string")
            continue
        if c["id"] in cats:
            report("error", f"categories[{k}]: duplicate category id {c['id']!r}")
            continue
        cats[c["id"]] = str(c.get("name", c["id"]))
    resolver = Resolver(root, images, image_bases(json_path, root, split))
    recs = doc["images"]
    resolver.choose([r.get("file_name", "") for r in recs[:50] if isinstance(r, dict)
                     and isinstance(r.get("file_name"), str)])
    by_id: dict[Any, tuple[str, int, list[RawBox], ImageSize | None]] = {}
    first_index: dict[Any, int] = {}
    for i, r in enumerate(recs):
        where = f"images[{i}]"
        if not isinstance(r, dict) or "id" not in r or not isinstance(r.get("file_name"), str):
            report("error", f"{where}: needs an \"id\" and a \"file_name\"")
            continue
        iid, name = r["id"], r["file_name"]
        if type(iid) not in _KEY:
            report("error", f"{where}: id {iid!r} is not a number or a string; left out")
            continue
        if iid in first_index:
            report("error", f"{where}: duplicate image id {iid!r} (also images[{first_index[iid]}])"
                            "; left out")
            continue
        first_index[iid] = i
        path, why = resolver.resolve(name)
        if path is None:
            if why == "outside":
                report("error", f"{where}: file_name {name!r} points outside the dataset "
                                "folder; left out")
            else:
                report("error", f"{where}: image {name!r} not found (listed, no image file)")
            continue
        if path in claimed:
            other = claimed[path]
            report("error", f"{where}: image {name!r} is listed again (also {other[0]} "
                            f"images[{other[1]}]); left out")
            continue
        claimed[path] = (shown, i)
        w: Any = r.get("width")
        h: Any = r.get("height")
        size = ImageSize(int(w), int(h)) if _positive(w) and _positive(h) else None
        if size is None:
            report("warning", f"{where}: no usable width/height; taken from the image")
        boxes: list[RawBox] = []
        by_id[iid] = (path, i, boxes, size)
    no_bbox = 0
    seen_ann: set[Any] = set()
    anns = doc.get("annotations")
    if anns is not None and not isinstance(anns, list):
        report("error", "\"annotations\" is not a list")
        anns = []
    anns = anns or []
    for k, a in enumerate(anns):
        anns[k] = None  # what the entries need is copied below: free the record as we go
        if type(a) is not tuple:  # dicts without image_id, lists, numbers …
            report("error", f"annotations[{k}]: not an annotation (an object with an "
                            "image_id)")
            continue
        aid, iid, cid, bbox, difficult = a
        if aid is not None and type(aid) in _KEY:
            if aid in seen_ann:
                report("warning", f"annotations[{k}]: duplicate annotation id {aid!r}")
            seen_ann.add(aid)
        target = by_id.get(iid) if type(iid) in _KEY else None
        if target is None:
            if type(iid) not in _KEY or iid not in first_index:
                report("error", f"annotations[{k}]: image_id {iid!r} is not in \"images\"")
            continue
        if type(bbox) is not list or len(bbox) != 4:
            no_bbox += 1
            continue
        x, y, w, h = bbox
        if not (type(x) in _NUMBER and type(y) in _NUMBER and type(w) in _NUMBER
                and type(h) in _NUMBER and isfinite(x + y + w + h)):
            report("error", f"annotations[{k}]: bbox {bbox!r} is not 4 finite numbers; not "
                            "loaded")
            continue
        name = cats.get(cid) if type(cid) in _KEY else None
        if name is None:
            report("error", f"annotations[{k}]: category_id {cid!r} is not in \"categories\"")
            name = str(cid)
        if w < 0 or h < 0:
            report("error", f"annotations[{k}]: negative width or height in bbox {bbox!r}")
        if difficult is not None:
            try:
                difficult = bool(int(difficult or 0))
            except (TypeError, ValueError):
                difficult = False
        else:
            difficult = False
        target[2].append((k, name, coco_to_xyxy(x, y, w, h), difficult))
    if no_bbox:
        report("warning", f"{no_bbox} annotation(s) without a bbox (segmentation or keypoints "
                          "only) are kept in the file, not loaded")
    stem_split = split
    for iid, (path, i, boxes, size) in by_id.items():
        items[path] = Item(images[path], Source("coco", json_path, True, iid, i, stem_split),
                           raw=(size, boxes))
    meta_files[json_path] = {"categories": cats, "images": len(recs),
                             "annotations": len(anns or ())}


def _json_files(root: Path, listing: Listing, annotations: Path | None) -> list[Path]:
    if annotations is not None:
        if annotations.is_file():
            return [annotations]
        listing_json = list_folder(annotations).json if annotations.is_dir() else []
    else:
        stems = {img.with_suffix("") for img in listing.images}
        listing_json = [j for j in listing.json if j.with_suffix("") not in stems]
    return [j for j in listing_json if sniff_json(j) == "coco"]


def scan(root: Path, listing: Listing, *, annotations: Path | None = None) -> Dataset:
    """Read every COCO JSON of the folder (see the module doc)."""
    files = _json_files(root, listing, annotations)
    problems: list[Problem] = []
    images = {os.fspath(p): p for p in listing.images}
    claimed: dict[str, tuple[str, int]] = {}
    found: dict[str, Item] = {}
    meta_files: dict[Path, dict] = {}
    several = len(files) > 1
    for j in files:
        shown = listing.rel(j)
        _read_one(j, shown, root, split_name(j, root, several), images, claimed, found,
                  problems, meta_files)
    default = files[0] if files else root / "instances.json"
    items: list[Item] = []
    splits: dict[str, list[str]] = {}
    for img in listing.images:
        item = found.get(os.fspath(img))
        if item is None:
            item = Item(img, Source("coco", _json_for(img, files, default), False))
        elif item.source.split:
            splits.setdefault(item.source.split, []).append(img.stem)
        items.append(item)
    classes: list[str] = []
    for info in meta_files.values():
        for cid in sorted(info["categories"], key=_id_key):
            name = info["categories"][cid]
            if name not in classes:
                classes.append(name)
    return Dataset(format="coco", root=root, images_dir=root,
                   layout="several files" if several else "one file", items=items,
                   problems=problems, classes=classes, class_file=files[0] if files else None,
                   splits=splits, meta={"files": meta_files})


def _id_key(v: Any) -> tuple:
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v))


def _json_for(image: Path, files: list[Path], default: Path) -> Path:
    """The JSON a new image would be added to: the one whose folder holds the image."""
    best, depth = default, -1
    for j in files:
        base = j.parent.parent if j.parent.name == "annotations" else j.parent
        if base in image.parents and len(base.parts) > depth:
            best, depth = j, len(base.parts)
    return best


def read(dataset: Dataset, item: Item, *, check_image: bool = True, clamp: bool = False,
         display_name: str | None = None) -> Native:
    """One image's boxes (checked against its size). Never raises."""
    shown = display_name or str(item.source.path)
    if item.native is not None:
        return native_from_saved(item, shown=shown, clamp=clamp)
    if item.raw is None:
        return Native(None)
    size, boxes = item.raw
    index = item.source.index
    size, problems = size_against_image(item.image_path, size, check_image=check_image,
                                        shown=shown, prefix=f"images[{index}]: ",
                                        stated_words="width x height")
    return build_native(item.image_path, size, boxes, problems, shown=shown,
                        where=lambda k: f"annotations[{k}]: ", clamp=clamp)


__all__ = ["scan", "read", "split_name", "load_json", "image_bases"]
