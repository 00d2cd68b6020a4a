"""Export a project as a VOC2007 tree, one COCO ``instances.json``, or YOLO txt files.

API
---
``export_project(project, out, fmt, *, val_fraction=0.2, seed=0, overwrite=False)
-> ExportSummary``
    ``fmt`` is ``"voc"``, ``"coco"`` or ``"yolo"``. Exports every annotated image whose XML
    can be read; boxes are clamped to the image (each clamp is a reported problem) and
    objects with an error (inverted, zero-area, nameless) are skipped and counted. The
    train/val split is :func:`workbench.core.project.split_ids` over the export ids (the
    image stems; ``sub_dir_stem`` when stems repeat), so it is reproducible by seed.
    Every image is decoded by the one decoder (:mod:`workbench.core.images`); images it
    refuses are skipped with its message (as training skips them). Images are copied byte
    for byte when their pixels need nothing; otherwise the decoder's pixels are written (JPEG
    quality 95 in the VOC tree, else the source's format): an image whose EXIF orientation is
    not 1 is written rotated (boxes live in the displayed frame), non-JPEG images become JPEG
    in the VOC tree (``JPEGImages/<id>.jpg``, as VOC loaders expect) — a 16-bit PNG scaled
    to 8 bits as the canvas shows it, not clipped —, and a truncated file is written whole
    (its grey rest included, a warning naming it). Refuses a non-empty ``out`` unless
    ``overwrite``.

    * ``voc``: ``JPEGImages/``, ``Annotations/`` (our lossless writer: unknown elements
      survive), ``ImageSets/Main/{train,val,trainval}.txt``, ``classes.txt``.
    * ``coco``: ``images/`` + ``instances.json`` — ``bbox`` ``[x, y, w, h]`` continuous from
      the VOC pixels (``x = xmin - 1``, ``w = xmax - xmin + 1``), category ids ``1..K`` in
      project class order, per image ``"split": "train"|"val"``, per annotation
      ``"difficult"``.
    * ``yolo``: ``images/{train,val}/``, ``labels/{train,val}/<id>.txt`` (``class cx cy w h``
      normalised, 6 decimals, class ids ``0..K-1``), ``classes.txt``, ``data.yaml``.
``read_export(out, fmt) -> dict[str, list[tuple[str, Box, bool]]]``
    Reads an export back: ``{export id: [(class, pixel-edge box, difficult), ...]}``
    (YOLO carries no ``difficult``: always False).
``ExportSummary``: counts, ``splits``, ``problems``, ``source`` (what was exported, in the
    same shape as ``read_export``) and ``pixels`` (export id → :class:`PixelStats` of the
    decoded source and the written file) for verification.
``pixel_mismatches(summary, tol=2.0) -> list[str]``: decodes every written image again and
    compares its size and mean with the source's (a near-white 16-bit export fails it);
    one line per mismatch, empty when the export reads back the same pixels.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from workbench.core.annotation import Annotation, Problem
from workbench.core.atomic import atomic_write_text
from workbench.core.boxes import Box
from workbench.core.imageinfo import ImageReadError, image_info
from workbench.core.images import check_image, decode_image
from workbench.core.project import Entry, Project, natural_key, split_ids
from workbench.core.safepath import escape_id
from workbench.core.usable import usable
from workbench.core.voc import write_annotation

FORMATS = ("voc", "coco", "yolo")
Record = tuple[str, Box, bool]


class ExportError(ValueError):
    """The export cannot be made (bad format, non-empty output folder ...)."""


@dataclass
class ExportSummary:
    fmt: str
    out: Path
    images: int = 0
    objects: int = 0
    skipped_objects: int = 0
    rotated_images: int = 0
    transcoded_images: int = 0
    classes: list[str] = field(default_factory=list)
    splits: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    source: dict[str, list[Record]] = field(default_factory=dict)
    pixels: dict[str, PixelStats] = field(default_factory=dict)


@dataclass(frozen=True)
class PixelStats:
    """Size and mean (all channels) of a decoded source image, and where it was written."""

    width: int
    height: int
    mean: float
    written: Path


def _export_ids(entries: list[Entry]) -> dict[Path, str]:
    stems = Counter(e.image_id for e in entries)  # one pass: a count per entry was quadratic
    ids: dict[Path, str] = {}
    used: set[str] = set()
    for e in entries:
        base = e.image_id if stems[e.image_id] == 1 else \
            Path(e.key).with_suffix("").as_posix().replace("/", "_")
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate)
        ids[e.image_path] = candidate
    return ids


def _copy_image(src: Path, dst_stem: Path, *, jpeg_only: bool, summary: ExportSummary) -> Path:
    """Copy ``src`` to ``dst_stem`` + suffix, or write the decoder's pixels when it is rotated
    per EXIF, truncated or must become JPEG (see the module doc)."""
    try:
        decoded = decode_image(src)
        orientation = image_info(src).orientation
    except ImageReadError as exc:  # validated by _collect; a full decode may still fail
        raise ExportError(str(exc)) from exc
    suffix = src.suffix.lower()
    is_jpeg = suffix in (".jpg", ".jpeg")
    if orientation == 1 and not decoded.truncated and (is_jpeg or not jpeg_only):
        dst = dst_stem.with_suffix(".jpg" if is_jpeg else suffix)
        shutil.copyfile(src, dst)
    else:
        from PIL import Image

        img = Image.fromarray(decoded.rgb)
        if jpeg_only or is_jpeg:
            dst = dst_stem.with_suffix(".jpg")
            img.save(dst, "JPEG", quality=95)
        else:
            dst = dst_stem.with_suffix(suffix)
            img.save(dst)
        if decoded.truncated:
            summary.problems.append(Problem(src.name, None, "warning",
                                            "truncated image: written with its readable part "
                                            "and the rest grey, as validate and training see it"))
    summary.pixels[dst_stem.name] = PixelStats(decoded.width, decoded.height,
                                               float(decoded.rgb.mean()), dst)
    summary.rotated_images += orientation != 1
    summary.transcoded_images += not is_jpeg and jpeg_only
    return dst


def pixel_mismatches(summary: ExportSummary, tol: float = 2.0) -> list[str]:
    """Decode every written image again and compare size and mean with its source."""
    out: list[str] = []
    for image_id, want in summary.pixels.items():
        try:
            got = decode_image(want.written)
        except ImageReadError as exc:
            out.append(f"{image_id}: {exc}")
            continue
        mean = float(got.rgb.mean())
        if (got.width, got.height) != (want.width, want.height) or abs(mean - want.mean) > tol:
            out.append(f"{image_id}: written {got.width}x{got.height} mean {mean:.1f}, source "
                       f"{want.width}x{want.height} mean {want.mean:.1f}")
    return out


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ExportError(f"{out}: folder is not empty (use overwrite to write into it)")
    out.mkdir(parents=True, exist_ok=True)


class _Record(NamedTuple):
    """What the COCO and YOLO writers and ``ExportSummary.source`` use of an object."""

    name: str
    box: Box
    difficult: bool


class _Objects(NamedTuple):
    """An annotation reduced to its records (no XML bytes): 10^5 images fit in memory."""

    objects: tuple[_Record, ...]


def _collect(project: Project, summary: ExportSummary, *,
             decode: bool = True, keep_raw: bool = True) -> list[tuple[Entry, Annotation]]:
    """Readable annotations, boxes clamped, objects with errors left out. ``decode=False``
    (``workbench import``, which links images as they are): the image header is checked,
    the pixels are not decoded."""
    items: list[tuple[Entry, Annotation]] = []
    for entry in project.annotated:
        loaded, problems = project.load(entry, clamp=True)
        summary.problems.extend(problems)
        # validate's verdict, the rule training and eval use too (core/usable.py): a refused
        # image or unreadable file is not exported, a bad box is left out of its image
        ann, _ = usable(loaded, problems)
        if ann is None or loaded is None:
            continue
        check = check_image(entry.image_path) if decode else None  # the decoder's verdict
        if check is not None and check.severity == "error":
            summary.problems.append(Problem(project.display_name(entry.image_path), None,
                                            "error", check.message))
            continue
        keep = ann.objects
        summary.skipped_objects += len(loaded.objects) - len(keep)
        if keep_raw:  # the VOC writer re-saves each file from its bytes (lossless)
            items.append((entry, dataclasses.replace(ann, objects=keep)))
        else:
            items.append((entry, _Objects(tuple(_Record(o.name, o.box, o.difficult)
                                                for o in keep))))  # type: ignore[arg-type]
    return items


def export_project(project: Project, out: str | Path, fmt: str, *, val_fraction: float = 0.2,
                   seed: int = 0, overwrite: bool = False) -> ExportSummary:
    """Export ``project`` to ``out`` in ``fmt`` (see the module doc)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    out = Path(out).expanduser().resolve()
    _prepare_out(out, overwrite)
    summary = ExportSummary(fmt, out, classes=project.classes)
    items = _collect(project, summary, keep_raw=fmt == "voc")
    ids = _export_ids([e for e, _ in items])
    train, val = split_ids(ids.values(), val_fraction, seed)
    summary.splits = {"train": train, "val": val,
                      "trainval": sorted(train + val, key=natural_key)}
    split_of = {i: "train" for i in train} | {i: "val" for i in val}
    writer = {"voc": _write_voc, "coco": _write_coco, "yolo": _write_yolo}[fmt]
    writer(out, items, ids, split_of, summary)
    summary.images = len(items)
    summary.objects = sum(len(a.objects) for _, a in items)
    summary.source = {ids[e.image_path]: [(o.name, o.box, o.difficult) for o in a.objects]
                      for e, a in items}
    return summary


def _write_voc(out: Path, items, ids, split_of, summary: ExportSummary) -> None:
    images, annotations = out / "JPEGImages", out / "Annotations"
    main = out / "ImageSets" / "Main"
    for d in (images, annotations, main):
        d.mkdir(parents=True, exist_ok=True)
    for entry, ann in items:
        image_id = ids[entry.image_path]
        dst = _copy_image(entry.image_path, images / image_id, jpeg_only=True, summary=summary)
        info = image_info(dst)
        exported = dataclasses.replace(ann, filename=dst.name, folder=out.name, path="",
                                       size=info.size)
        write_annotation(exported, annotations / f"{image_id}.xml")
    for name, members in summary.splits.items():
        atomic_write_text(main / f"{name}.txt", "".join(f"{escape_id(i)}\n" for i in members))
    atomic_write_text(out / "classes.txt", "".join(f"{c}\n" for c in summary.classes))


def _write_coco(out: Path, items, ids, split_of, summary: ExportSummary) -> None:
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    cat_id = {c: i + 1 for i, c in enumerate(summary.classes)}
    # Streamed: each image's record goes to the JSON as the image is copied, its annotations
    # to a scratch file appended after the images; no dict of the whole data set and no
    # json.dumps of it (10^5 images peaked at 2.3 GB). Written to a temporary file beside
    # instances.json and renamed over it once complete, as atomic_write_text does.
    with _atomic_stream(out / "instances.json") as body, \
            tempfile.TemporaryFile(dir=out) as anns:
        body.write(b'{"info": {"description": "exported by Detection Workbench"},\n"images": [')
        count = 0
        for n, (entry, ann) in enumerate(items, start=1):
            image_id = ids[entry.image_path]
            dst = _copy_image(entry.image_path, images_dir / image_id, jpeg_only=False,
                              summary=summary)
            info = image_info(dst)
            body.write(b"\n" if n == 1 else b",\n")
            body.write(json.dumps({"id": n, "file_name": dst.name, "width": info.width,
                                   "height": info.height, "split": split_of[image_id]}).encode())
            for o in ann.objects:
                x1, y1, x2, y2 = o.box
                w, h = x2 - x1, y2 - y1
                count += 1
                anns.write(b"\n" if count == 1 else b",\n")
                anns.write(json.dumps({"id": count, "image_id": n,
                                       "category_id": cat_id[o.name], "bbox": [x1, y1, w, h],
                                       "area": w * h, "iscrowd": 0,
                                       "difficult": int(o.difficult)}).encode())
        body.write(b'\n],\n"annotations": [')
        anns.seek(0)
        shutil.copyfileobj(anns, body)
        categories = [{"id": i, "name": c, "supercategory": "none"} for c, i in cat_id.items()]
        body.write(b'\n],\n"categories": ' + json.dumps(categories).encode() + b"}\n")


@contextlib.contextmanager
def _atomic_stream(path: Path) -> Iterator[BinaryIO]:
    """A file to write ``path`` through: a temporary file beside it (core/atomic.py's
    naming, so a killed export leaves a temp the next scan removes), fsynced and renamed over
    ``path`` when the block ends without error, removed when it raises."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _write_yolo(out: Path, items, ids, split_of, summary: ExportSummary) -> None:
    cls_id = {c: i for i, c in enumerate(summary.classes)}
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for entry, ann in items:
        image_id = ids[entry.image_path]
        split = split_of[image_id]
        dst = _copy_image(entry.image_path, out / "images" / split / image_id, jpeg_only=False,
                          summary=summary)
        info = image_info(dst)
        lines = []
        for o in ann.objects:
            x1, y1, x2, y2 = o.box
            lines.append(f"{cls_id[o.name]} {(x1 + x2) / 2 / info.width:.6f} "
                         f"{(y1 + y2) / 2 / info.height:.6f} {(x2 - x1) / info.width:.6f} "
                         f"{(y2 - y1) / info.height:.6f}\n")
        atomic_write_text(out / "labels" / split / f"{image_id}.txt", "".join(lines))
    atomic_write_text(out / "classes.txt", "".join(f"{c}\n" for c in summary.classes))
    names = "\n".join(f"  {i}: {json.dumps(c)}" for c, i in cls_id.items())
    atomic_write_text(out / "data.yaml", f"path: .\ntrain: images/train\nval: images/val\n"
                      f"nc: {len(cls_id)}\nnames:\n{names}\n")


def read_export(out: str | Path, fmt: str) -> dict[str, list[Record]]:
    """Read an export back as ``{export id: [(class, pixel-edge box, difficult)]}``."""
    out = Path(out)
    if fmt == "voc":
        project = Project.open(out)
        result: dict[str, list[Record]] = {}
        for e in project.annotated:
            ann, _ = project.load(e, check_image=False)
            result[e.image_id] = [] if ann is None else \
                [(o.name, o.box, o.difficult) for o in ann.objects]
        return result
    if fmt == "coco":
        doc = json.loads((out / "instances.json").read_text(encoding="utf-8"))
        names = {c["id"]: c["name"] for c in doc["categories"]}
        by_image = {im["id"]: Path(im["file_name"]).stem for im in doc["images"]}
        result = {stem: [] for stem in by_image.values()}
        for a in doc["annotations"]:
            x, y, w, h = a["bbox"]
            result[by_image[a["image_id"]]].append(
                (names[a["category_id"]], (x, y, x + w, y + h), bool(a.get("difficult", 0))))
        return result
    if fmt == "yolo":
        classes = (out / "classes.txt").read_text(encoding="utf-8").splitlines()
        result = {}
        images: dict[str, dict[str, Path]] = {}  # split → {stem: image}, each folder listed once
        for label in sorted((out / "labels").glob("*/*.txt")):
            split = label.parent.name
            if split not in images:
                folder = out / "images" / split
                images[split] = {p.stem: p for p in sorted(folder.iterdir(), reverse=True)
                                 if p.is_file()} if folder.is_dir() else {}
            image = images[split].get(label.stem)
            if image is None:
                raise ExportError(f"{label}: no image {label.stem}.* in images/{split}")
            info = image_info(image)
            records: list[Record] = []
            for line in label.read_text(encoding="utf-8").splitlines():
                c, cx, cy, w, h = line.split()
                cx, w = float(cx) * info.width, float(w) * info.width
                cy, h = float(cy) * info.height, float(h) * info.height
                records.append((classes[int(c)], (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
                                False))
            result[label.stem] = records
        return result
    raise ExportError(f"unknown export format {fmt!r}")


def same_records(a: dict[str, list[Record]], b: dict[str, list[Record]], *, tol: float = 1e-9,
                 compare_difficult: bool = True) -> bool:
    """True when two ``read_export``-shaped dicts hold the same objects (boxes within ``tol``)."""
    if a.keys() != b.keys():
        return False
    for key, ra in a.items():
        rb = b[key]
        if len(ra) != len(rb):
            return False
        for (na, ba, da), (nb, bb, db) in zip(ra, rb):
            if na != nb or (compare_difficult and da != db):
                return False
            if any(abs(x - y) > tol for x, y in zip(ba, bb)):
                return False
    return True
