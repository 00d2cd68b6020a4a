"""Box label formats: detect, read (here) and write (``*_write.py``), one module per format.

API
---
``FORMATS = ("voc", "yolo", "coco", "createml", "labelme")``
``detect_format(root) -> FormatGuess(format, evidence, ambiguous_with, coverage)`` — see
    :mod:`workbench.core.formats.detect`.
``open_dataset(root, format=None, *, annotations=None) -> Dataset`` — scan a folder in a
    non-VOC format (``format=None``: detected; VOC folders are opened by
    :class:`workbench.core.project.Project` itself). ``annotations`` points at the labels
    when they are not where the layout puts them (YOLO labels folder, COCO/CreateML JSON
    file, labelme JSON folder). Never raises for bad label files: they become
    ``Dataset.problems``. Raises :class:`FormatError` for an unknown format.
``read_native(dataset, item, *, check_image=True, clamp=False, display_name) -> Native`` —
    one image's annotation in the internal convention (pixel-edge ``xyxy``,
    :mod:`workbench.core.formats.conventions`), with problems and per-object positions.
``WRITERS: dict[str, Writer]`` — per-format writers, filled by the ``*_write`` modules:
    ``writer(project, entry, annotation) -> Annotation`` writes ``annotation`` for
    ``entry`` (``entry.source`` says where) and returns what now stands in the file.
    :meth:`workbench.core.project.Project.save` refuses formats without a writer.

Records: :mod:`workbench.core.formats.model` (``Source``, ``Native``, ``Item``, ``Dataset``).
Coordinates: :mod:`workbench.core.formats.conventions` (the one place they are written down).

Modules: ``listing`` (one walk over the folder), ``detect`` (which format, from names and the
first bytes of JSON files), ``sizes`` (JPEG/PNG header sizes, cached by path + mtime), one
reader per format (``yolo``, ``coco``, ``createml``, ``labelme``: ``scan(root, listing, *,
annotations) -> Dataset`` and ``read(dataset, item, ...) -> Native``), the writers
(``*_write``). Readers never raise for bad files: problems name the file and the line
(YOLO) or the record (``images[3]``, ``annotations[12]``, ``[0].annotations[1]``,
``shapes[2]``). Throughput: ``bench/bench_formats.py`` (results in
``bench/results/formats.txt``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.core.formats.detect import FormatGuess, detect_format
from workbench.core.formats.listing import Listing, list_folder
from workbench.core.formats.model import (
    FORMATS, Dataset, FormatError, Item, Native, NotWritableError, Source,
)

__all__ = [
    "FORMATS", "FormatGuess", "FormatError", "NotWritableError", "Dataset", "Item", "Native", "Source",
    "WRITERS", "detect_format", "open_dataset", "read_native", "list_folder", "writer_for",
]

log = logging.getLogger(__name__)

#: ``writer(project, entry, annotation) -> Annotation``; registered by the writer modules.
Writer = Callable[[Any, Any, Any], Any]
WRITERS: dict[str, Writer] = {}

#: Writer modules imported on first use (a missing one means: no writer for that format yet).
_WRITER_MODULES = {f: f"workbench.core.formats.{f}_write" for f in FORMATS if f != "voc"}

_READERS = {f: f"workbench.core.formats.{f}" for f in FORMATS if f != "voc"}


def _reader(fmt: str):
    if fmt not in _READERS:
        raise FormatError(f"unknown label format {fmt!r} (choose from {', '.join(FORMATS)})")
    return importlib.import_module(_READERS[fmt])


def writer_for(fmt: str) -> Writer | None:
    """The registered writer of ``fmt`` (importing its ``*_write`` module), or None."""
    if fmt not in WRITERS and fmt in _WRITER_MODULES:
        try:
            importlib.import_module(_WRITER_MODULES[fmt])
        except ModuleNotFoundError as exc:
            if exc.name != _WRITER_MODULES[fmt]:
                raise
    return WRITERS.get(fmt)


def open_dataset(root: str | Path, format: str | None = None, *,
                 annotations: str | Path | None = None,
                 listing: Listing | None = None) -> Dataset:
    """Scan ``root`` as ``format`` (detected when None) — see the module doc."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    listing = listing if listing is not None else list_folder(root)
    if format is None:
        format = detect_format(root, listing).format
    if format == "voc":
        raise FormatError("VOC folders are opened by workbench.core.project.Project")
    ann = Path(annotations).expanduser().resolve() if annotations is not None else None
    return _reader(format).scan(root, listing, annotations=ann)


def read_native(dataset: Dataset, item: Item, *, check_image: bool = True, clamp: bool = False,
                display_name: str | None = None) -> Native:
    """One item's annotation (see the module doc). Never raises for bad files."""
    return _reader(dataset.format).read(dataset, item, check_image=check_image, clamp=clamp,
                                         display_name=display_name)
