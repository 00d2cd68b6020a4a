"""CreateML JSON (reader): one list of ``{"image": name, "annotations": [...]}`` records.

Each annotation is ``{"label": name, "coordinates": {"x", "y", "width", "height"}}`` with the
box *centre* and size in pixels (:func:`~workbench.core.formats.conventions.createml_to_xyxy`).
Images are found relative to the JSON's folder, its ``images/``, the dataset root or its
``images/`` (the folder where most names exist); several JSON files make the split from
their names like COCO's (``train.json``, ``…valid…``). CreateML carries no image size: it
comes from the image header (cached). Problems name the JSON and the record
(``[3].annotations[1]``): malformed JSON, records without ``image``, names that point
outside the dataset folder, listed images that do not exist, images listed twice, missing or
non-numeric coordinates, NaN / negative sizes, boxes outside the image.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from workbench.core.annotation import Problem
from workbench.core.formats.coco import Resolver, image_bases, load_json, split_name
from workbench.core.formats.conventions import createml_to_xyxy
from workbench.core.formats.detect import sniff_json
from workbench.core.formats.listing import Listing, list_folder
from workbench.core.formats.model import (
    Dataset, Item, Native, RawBox, Source, build_native, native_from_saved,
)
from workbench.core.formats.sizes import image_size_fast
from workbench.core.imageinfo import ImageReadError

_NUMBER = frozenset({int, float})  # type() is exact: bool is not a number here


def _boxes(rec: dict, i: int, report) -> list[RawBox]:  # noqa: ANN001
    out: list[RawBox] = []
    anns = rec.get("annotations", [])
    if not isinstance(anns, list):
        report("error", f"[{i}].annotations: not a list")
        return out
    for k, a in enumerate(anns):
        c = a.get("coordinates") if type(a) is dict else None
        try:
            x, y, w, h = c["x"], c["y"], c["width"], c["height"]  # type: ignore[index]
        except (TypeError, KeyError):
            x = None
        if not (type(x) in _NUMBER and type(y) in _NUMBER and type(w) in _NUMBER
                and type(h) in _NUMBER):
            report("error", f"[{i}].annotations[{k}]: needs numeric coordinates x, y, width, "
                            "height; not loaded")
            continue
        if not math.isfinite(x + y + w + h):
            report("error", f"[{i}].annotations[{k}]: NaN or infinite coordinates; not loaded")
            continue
        if w < 0 or h < 0:
            report("error", f"[{i}].annotations[{k}]: negative width or height ({w:g}, {h:g})")
        label = a.get("label", "")
        out.append((k, label if type(label) is str else str(label),
                    createml_to_xyxy(x, y, w, h), False))
    return out


def _read_one(json_path: Path, shown: str, root: Path, split: str, images: dict[str, Path],
              claimed: dict[str, tuple[str, int]], found: dict[str, Item],
              problems: list[Problem]) -> None:
    doc, err = load_json(json_path, shown)
    if err is not None:
        problems.append(err)
        return

    def report(severity: str, message: str) -> None:
        problems.append(Problem(shown, None, severity, message))  # type: ignore[arg-type]

    if not isinstance(doc, list):
        report("error", "not a CreateML file (expected a list of image records)")
        return
    resolver = Resolver(root, images, image_bases(json_path, root, split))
    resolver.choose([r["image"] for r in doc[:50]
                     if isinstance(r, dict) and isinstance(r.get("image"), str)])
    for i, rec in enumerate(doc):
        if not isinstance(rec, dict) or not isinstance(rec.get("image"), str):
            report("error", f"[{i}]: needs an \"image\" name")
            continue
        name = rec["image"]
        path, why = resolver.resolve(name)
        if path is None:
            report("error", f"[{i}]: image {name!r} "
                   + ("points outside the dataset folder; left out" if why == "outside"
                      else "not found (listed, no image file)"))
            continue
        if path in claimed:
            other = claimed[path]
            report("error", f"[{i}]: image {name!r} is listed again (also {other[0]} "
                            f"[{other[1]}]); left out")
            continue
        claimed[path] = (shown, i)
        found[path] = Item(images[path], Source("createml", json_path, True, None, i, split),
                           raw=_boxes(rec, i, report))


def scan(root: Path, listing: Listing, *, annotations: Path | None = None) -> Dataset:
    """Read every CreateML JSON of the folder (see the module doc)."""
    if annotations is not None:
        candidates = [annotations] if annotations.is_file() else (
            list_folder(annotations).json if annotations.is_dir() else [])
    else:
        stems = {img.with_suffix("") for img in listing.images}
        candidates = [j for j in listing.json if j.with_suffix("") not in stems]
    files = [j for j in candidates if sniff_json(j) == "createml"]
    problems: list[Problem] = []
    images = {os.fspath(p): p for p in listing.images}
    claimed: dict[str, tuple[str, int]] = {}
    found: dict[str, Item] = {}
    several = len(files) > 1
    for j in files:
        _read_one(j, listing.rel(j), root, split_name(j, root, several), images, claimed, found,
                  problems)
    default = files[0] if files else root / "annotations.json"
    items: list[Item] = []
    splits: dict[str, list[str]] = {}
    for img in listing.images:
        item = found.get(os.fspath(img))
        if item is None:
            item = Item(img, Source("createml", default, False))
        elif item.source.split:
            splits.setdefault(item.source.split, []).append(img.stem)
        items.append(item)
    return Dataset(format="createml", root=root, images_dir=root,
                   layout="several files" if several else "one file", items=items,
                   problems=problems, classes=[], class_file=None, splits=splits,
                   meta={"files": files})


def read(dataset: Dataset, item: Item, *, check_image: bool = True, clamp: bool = False,
         display_name: str | None = None) -> Native:
    """One image's boxes; the size comes from the image header. Never raises."""
    shown = display_name or str(item.source.path)
    if item.native is not None:
        return native_from_saved(item, shown=shown, clamp=clamp)
    if item.raw is None:
        return Native(None)
    problems: list[Problem] = []
    size = None
    try:
        size = image_size_fast(item.image_path).size
    except ImageReadError as exc:
        if check_image:
            problems.append(Problem(shown, None, "error", f"[{item.source.index}]: image "
                                    f"{item.image_path.name}: {exc.reason}"))
    index = item.source.index
    return build_native(item.image_path, size, item.raw, problems, shown=shown,
                        where=lambda k: f"[{index}].annotations[{k}]: ", clamp=clamp)
