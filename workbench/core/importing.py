"""Import a dataset in any supported label format into a PASCAL VOC tree, and prove it.

API
---
``import_dataset(src, out, *, format=None, annotations=None, mode="auto", progress=None,
stop=None) -> ImportSummary``
    Opens ``src`` with :meth:`workbench.core.project.Project.open` (``format``: ``voc``,
    ``yolo``, ``coco``, ``createml``, ``labelme``; None: detected) and writes to ``out`` (a
    new or empty folder, not inside ``src`` nor holding it)::

        out/JPEGImages/<id>.<ext>      every image of the dataset, never moved
        out/Annotations/<id>.xml       LabelImg-compatible VOC XML per labelled image
        out/ImageSets/Main/<split>.txt the source's split (YOLO folders, COCO/CreateML file
                                       names ...), ``trainval`` when it has train and val
        out/classes.txt                the class names, in the source's id order

    ``<id>`` is the image's file stem (``<folder>_<stem>`` when stems repeat, as
    ``workbench export`` does). Images keep their bytes and extension; ``mode`` says how
    they get there: ``"copy"``; ``"link"`` — a hard link (same file system; else a
    symbolic link to the absolute source path); ``"auto"`` (default) — a hard link when the
    file system allows it, else a copy. Boxes are written as VOC 1-based integers
    (:func:`workbench.core.formats.conventions.xyxy_to_voc`), clamped to the image (each
    clamp reported); objects with errors (inverted, zero-area, outside the image) are
    skipped and counted; unreadable images are reported. ``progress(done, total, message)``
    is called per image; setting ``stop`` (a ``threading.Event``) cancels: the files written
    so far are removed and :class:`ImportCancelled` raised. Errors that stop the import
    (bad ``out``, unknown format, no images) raise :class:`ImportError_` naming the folder.

    Afterwards the VOC tree is opened with the VOC reader and every image's boxes compared
    with what was imported: ``summary.identical`` (boxes within the VOC integer grid,
    1 px, same classes, same ``difficult``) and ``summary.differences`` (one line each,
    naming the file).
``ImportSummary`` — counts, classes, splits, problems, ``identical``, ``differences``,
    ``linked`` / ``symlinked`` / ``copied`` image counts, ``source`` (``{id: [(class, box,
    difficult)]}`` as imported).
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.annotation import Annotation, Problem
from workbench.core.atomic import atomic_write_many, atomic_write_text
from workbench.core.boxes import Box
from workbench.core.classes import merge_classes
from workbench.core.export import _collect, _export_ids
from workbench.core.imageinfo import ImageReadError, image_info
from workbench.core.project import Entry, Project, natural_key
from workbench.core.safepath import escape_id, safe_child
from workbench.core.voc import annotation_to_bytes

log = logging.getLogger(__name__)

__all__ = ["import_dataset", "ImportSummary", "ImportError_", "ImportCancelled", "MODES",
           "compare_records"]

MODES = ("auto", "copy", "link")
Record = tuple[str, Box, bool]
#: VOC stores 1-based integers: a box read back lies within half a pixel per edge of the
#: float box imported; 1 px is the promise made to the user.
TOLERANCE_PX = 1.0
_SPLIT_ALIASES = {"valid": "val", "validation": "val", "training": "train"}


class ImportError_(ValueError):  # noqa: N801 - ImportError is Python's own
    """The import cannot be made (bad destination, unknown format ...); the message says why."""


class ImportCancelled(Exception):
    """The import was stopped by the caller; nothing is left in the destination."""


@dataclass
class ImportSummary:
    src: Path
    out: Path
    format: str = ""
    layout: str = ""
    images: int = 0
    annotated: int = 0
    objects: int = 0
    skipped_objects: int = 0
    classes: list[str] = field(default_factory=list)
    splits: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    linked: int = 0
    symlinked: int = 0
    copied: int = 0
    source: dict[str, list[Record]] = field(default_factory=dict)
    identical: bool = False
    differences: list[str] = field(default_factory=list)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_destination(src: Path, out: Path) -> str | None:
    """Why ``out`` cannot receive an import of ``src`` (None: it can)."""
    if _inside(out, src):
        return (f"{out}: inside the dataset {src} — the imported copy would be scanned as "
                "part of it. Choose a folder outside it.")
    if _inside(src, out):
        return f"{out}: holds the dataset {src}. Choose a new or empty folder outside it."
    if out.exists() and not out.is_dir():
        return f"{out}: exists and is not a folder."
    if out.is_dir() and any(out.iterdir()):
        return f"{out}: folder is not empty. Choose a new or empty folder."
    return None


def _place_image(src: Path, dst: Path, mode: str, summary: ImportSummary) -> None:
    if mode != "copy":
        try:
            os.link(src, dst)
            summary.linked += 1
            return
        except OSError as exc:
            if mode == "link" and exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK,
                                                errno.ENOTSUP, errno.EACCES):
                os.symlink(src.resolve(), dst)
                summary.symlinked += 1
                return
            if mode == "link":
                raise
            log.debug("hard link %s → %s failed (%s); copying", src, dst, exc)
    shutil.copyfile(src, dst)
    summary.copied += 1


def _split_names(project: Project, entry: Entry, by_stem: dict[str, list[str]]) -> list[str]:
    source = getattr(entry, "source", None)
    if source is not None and getattr(source, "split", None):
        return [source.split]
    return by_stem.get(entry.image_id, [])


def _splits(project: Project, items: list[tuple[Entry, Annotation]],
            ids: dict[Path, str]) -> dict[str, list[str]]:
    by_stem: dict[str, list[str]] = {}
    for name, stems in project.read_splits().items():
        for stem in stems:
            by_stem.setdefault(stem, []).append(name)
    splits: dict[str, list[str]] = {}
    for entry, _ in items:
        for name in _split_names(project, entry, by_stem):
            name = _SPLIT_ALIASES.get(name.lower(), name)
            splits.setdefault(name, []).append(ids[entry.image_path])
    if "train" in splits and "val" in splits:  # rebuilt: only the images imported
        splits["trainval"] = splits["train"] + splits["val"]
    return {k: sorted(dict.fromkeys(v), key=natural_key) for k, v in splits.items()}


def _cleanup(out: Path, created: bool) -> None:
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def import_dataset(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                   format: str | None = None, annotations: str | os.PathLike[str] | None = None,
                   mode: str = "auto",
                   progress: Callable[[int, int, str], None] | None = None,
                   stop: threading.Event | None = None) -> ImportSummary:
    """Convert ``src`` to a VOC tree in ``out`` and read it back (see the module doc)."""
    from workbench.core.formats import FormatError

    if mode not in MODES:
        raise ImportError_(f"unknown image mode {mode!r} (choose from {', '.join(MODES)})")
    src_path = Path(src).expanduser().resolve()
    out_path = Path(out).expanduser().resolve()
    if not src_path.is_dir():
        raise ImportError_(f"{src_path}: no such folder")
    problem = check_destination(src_path, out_path)
    if problem:
        raise ImportError_(problem)
    try:
        project = Project.open(src_path, annotations, format=format)
    except (FormatError, FileNotFoundError) as exc:
        raise ImportError_(str(exc)) from exc
    summary = ImportSummary(src_path, out_path, project.format, project.layout)
    summary.problems.extend(project.scan_problems)
    if not project.entries:
        raise ImportError_(f"{src_path}: no images found (as {project.format.upper()})")
    created = not out_path.exists()
    out_path.mkdir(parents=True, exist_ok=True)
    try:
        _write_tree(project, summary, mode, progress, stop)
    except ImportCancelled:
        _cleanup(out_path, created)
        raise
    summary.identical, summary.differences = compare_records(
        summary.source, read_voc_records(out_path))
    return summary


def _write_tree(project: Project, summary: ImportSummary, mode: str,
                progress: Callable[[int, int, str], None] | None,
                stop: threading.Event | None) -> None:
    out = summary.out
    images_dir, ann_dir = out / "JPEGImages", out / "Annotations"
    images_dir.mkdir()
    ann_dir.mkdir()
    from workbench.core.export import ExportSummary

    collected = ExportSummary("voc", out)
    # boxes clamped, objects with errors skipped; images are not decoded (hard-linked or
    # copied as they are; their headers are read), which halves the import's time
    items = _collect(project, collected, decode=False)
    summary.problems.extend(collected.problems)
    summary.skipped_objects = collected.skipped_objects
    annotation_of = {e.image_path: a for e, a in items}
    ids = _export_ids(project.entries)
    total = len(project.entries)
    for done, entry in enumerate(project.entries):
        if stop is not None and stop.is_set():
            raise ImportCancelled("import cancelled")
        image_id = ids[entry.image_path]
        dst = safe_child(images_dir, image_id + entry.image_path.suffix.lower(), portable=False)
        _place_image(entry.image_path, dst, mode, summary)
        summary.images += 1
        ann = annotation_of.get(entry.image_path)
        if ann is not None:
            size = ann.size
            if size is None:
                try:
                    size = image_info(entry.image_path).size
                except ImageReadError as exc:
                    summary.problems.append(Problem(entry.key, None, "error", str(exc)))
            raw = ann.raw if project.format == "voc" else None  # VOC: unknown elements kept
            exported = dataclasses.replace(ann, filename=dst.name, folder="JPEGImages",
                                           path="", size=size, raw=raw)
            # A fresh tree: each file is created once ("x": never over another), without the
            # per-file fsync of an atomic replace (3.8 s of 10.6 s at 5,000 images); the
            # read-back below checks every file.
            with open(safe_child(ann_dir, image_id + ".xml", portable=False), "xb") as fh:
                fh.write(annotation_to_bytes(exported))
            summary.annotated += 1
            summary.objects += len(ann.objects)
            summary.source[image_id] = [(o.name, o.box, o.difficult) for o in ann.objects]
        if progress is not None:
            progress(done + 1, total, entry.key)
    # the class file's order, then names met in the files (what project.classes gives,
    # without reading every file a second time)
    summary.classes = merge_classes(project.predefined_classes(),
                                    (o.name for _, a in items for o in a.objects))
    summary.splits = _splits(project, items, ids)
    writes = [(out / "ImageSets" / "Main" / f"{name}.txt",
               "".join(f"{escape_id(i)}\n" for i in members).encode("utf-8"))
              for name, members in summary.splits.items()]
    if writes:
        atomic_write_many(writes)
    atomic_write_text(out / "classes.txt", "".join(f"{c}\n" for c in summary.classes))


def read_voc_records(out: Path) -> dict[str, list[Record]]:
    """``{image id: [(class, box, difficult)]}`` of a VOC tree, read with the VOC reader."""
    project = Project.open(out, format="voc")
    result: dict[str, list[Record]] = {}
    for e in project.annotated:
        ann, _ = project.load(e, check_image=False)
        result[e.xml_path.stem] = [] if ann is None else \
            [(o.name, o.box, o.difficult) for o in ann.objects]
    return result


def compare_records(expected: dict[str, list[Record]], got: dict[str, list[Record]], *,
                    tol: float = TOLERANCE_PX) -> tuple[bool, list[str]]:
    """``(identical, differences)``: the same images, classes, flags and boxes within ``tol``."""
    diffs: list[str] = []
    for key in sorted(expected.keys() - got.keys(), key=natural_key):
        diffs.append(f"Annotations/{key}.xml: missing")
    for key in sorted(got.keys() - expected.keys(), key=natural_key):
        diffs.append(f"Annotations/{key}.xml: not in the source")
    for key in sorted(expected.keys() & got.keys(), key=natural_key):
        a, b = expected[key], got[key]
        if len(a) != len(b):
            diffs.append(f"Annotations/{key}.xml: {len(b)} objects, the source has {len(a)}")
            continue
        for i, ((na, ba, da), (nb, bb, db)) in enumerate(zip(a, b)):
            worst = max(abs(x - y) for x, y in zip(ba, bb))
            if na != nb or da != db or worst > tol:
                diffs.append(f"Annotations/{key}.xml object {i + 1}: {nb!r} {tuple(bb)} "
                             f"difficult={db}, the source has {na!r} "
                             f"{tuple(round(v, 2) for v in ba)} difficult={da}")
    return not diffs, diffs
