"""A labeling project: a folder of images and their labels (VOC XML, YOLO, COCO, CreateML,
labelme).

API
---
``Project.open(images_dir, annotations_dir=None, *, format=None) -> Project``
    ``format=None`` detects the label format from the folder's files
    (:func:`workbench.core.formats.detect_format`; opening the ``images/`` folder of an
    Ultralytics dataset opens its parent); other formats found beside the chosen one become a
    warning in ``scan_problems`` naming their files. An explicit ``annotations_dir`` holding
    XML (or nothing) stays VOC. ``project.format`` is the format; for anything but VOC,
    ``project.dataset`` (:class:`workbench.core.formats.Dataset`) holds the scan (declared
    classes, splits, per-format tables in ``meta``) and every entry has ``entry.source``
    (:class:`workbench.core.formats.Source`: which file and record) with ``xml_path`` = that
    label file. What follows describes VOC; the other formats follow
    :mod:`workbench.core.formats` (``load`` reads the native file, ``save`` goes to the format's
    writer in ``formats.WRITERS`` and raises ``NotWritableError`` when there is none,
    ``read_splits`` gives the dataset's own split, class renames are refused).
    Layouts recognised: a VOC root (``JPEGImages/``, ``Annotations/``, ``ImageSets/Main``; also
    when ``images_dir`` is ``.../JPEGImages``), a root holding ``images/`` + ``annotations/``,
    XML beside the images (flat, nested sub-folders allowed), or a separate
    ``annotations_dir``. Images: jpg/jpeg/png/bmp/tif/tiff/webp in any letter case, found
    recursively (hidden folders skipped), in natural order (``img2`` before ``img10``).
    An XML is matched to an image with the same stem in the same relative folder; the rest
    by their ``<filename>`` (same folder, then unique anywhere), falling back to the stem
    (unique anywhere). XMLs naming no image are ``orphans`` (reported in ``scan_problems``).
    ``stop``: a callable polled while the folder is walked (every folder and every few thousand
    files); when it returns true the scan ends with :class:`OpenCancelled` (the window's
    background open: a newer open request wins).
``project.entries: list[Entry]`` — ``Entry(image_path, xml_path, has_xml, key, image_id)``;
    ``xml_path`` is where the annotation is (or will be written for an unlabeled image).
``project.entry(image_path) -> Entry | None``
``project.load_native(entry, *, clamp=False, check_image=True) -> Native`` — non-VOC: the
    annotation with its problems and, per object, its line / array index.
``project.load(entry, *, clamp=False, check_image=True) -> (Annotation | None, problems)``
    ``None`` when the image has no XML yet, or when the XML is unusable (hostile, not
    well-formed) — then ``problems`` holds one error. Never raises for bad files.
``project.new_annotation(entry) -> Annotation`` — an empty LabelImg-style annotation.
``project.save(entry, annotation) -> Annotation`` — atomic write to ``entry.xml_path``;
    returns the annotation with ``raw`` = bytes written; the entry becomes ``has_xml``.
``project.classes -> list[str]`` — class file names merged with the XMLs' names
    (:func:`workbench.core.classes.merge_classes`); cached, refreshed by ``save``/renames.
``project.rename_class(old, new) -> int`` — every annotation (and the class file) rewritten
    all-or-nothing; returns the number of XML files changed. Merges when ``new`` exists.
``project.write_class_list(names)`` — atomic write of the project's class file.
``project.read_splits() -> dict[str, list[str]]`` / ``project.write_splits(val_fraction=0.2,
seed=0) -> dict[str, list[str]]`` — ``ImageSets/Main/{train,val,trainval}.txt`` of the
    annotated images' ``image_id`` (:func:`split_ids`), one per line; an id with whitespace,
    ``%`` or non-UTF-8 bytes is percent-escaped (:func:`workbench.core.safepath.escape_id`),
    so every legal file name round-trips.
``split_ids(ids, val_fraction, seed) -> (train, val)`` — reproducible seeded split.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from workbench.core.annotation import Annotation, Problem
from workbench.core.atomic import (
    TEMP_NAME, atomic_write_many, atomic_write_text, clean_stale_temps, remove_stale_temps,
)
from workbench.core.classes import (
    CLASS_FILE_NAMES, ClassFileError, find_class_file, merge_classes, read_class_file,
    rename_in_list,
)
from workbench.core.formats import (
    FORMATS, Dataset, FormatError, FormatGuess, Item, Native, NotWritableError, Source,
    open_dataset, read_native, writer_for,
)
from workbench.core.formats.listing import Listing
from workbench.core.fsnames import has_undecodable, readable, same_name
from workbench.core.imageinfo import IMAGE_EXTENSIONS, ImageReadError, image_size
from workbench.core.gc_pause import paused as gc_paused
from workbench.core.project_scan import (
    _child, _detect, _FolderScan, _is_symlink_loop, _Names, _rel_dir, _resolve_folder, _walk,
    natural_key,
)
from workbench.core.voc import (
    VocError, annotation_to_bytes, read_annotation, read_clean, read_filename, write_annotation,
)

log = logging.getLogger(__name__)

#: Whether a path's string can be given to it (CPython's pathlib keeps ``str(path)`` in the
#: slot ``_str``, formatted from its parts at the first ``str``/``os.fspath``): the entries'
#: paths get the strings the scan joined for them (10^5 entries: ~2 us each spared to every
#: reader that opens them by string).
_PRESET_STR = "_str" in getattr(PurePath, "__slots__", ())

Layout = str  # "voc" | "separate" (images and XML in two folders) | "flat"
SPLIT_NAMES = ("train", "val", "trainval")
#: A class rename in progress (see Project.rename_class); finished by the next Project.open.
RENAME_JOURNAL = ".workbench-rename.json"


def split_ids(ids: Iterable[str], val_fraction: float = 0.2,
              seed: int = 0) -> tuple[list[str], list[str]]:
    """Seeded split of unique ``ids`` → ``(train, val)``, each in natural order.

    The ids are sorted before shuffling, so the result depends only on the set of ids,
    ``val_fraction`` and ``seed``. With two or more ids and ``0 < val_fraction < 1`` both
    parts are non-empty.
    """
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1], got {val_fraction}")
    pool = sorted(set(ids), key=natural_key)
    random.Random(seed).shuffle(pool)
    n_val = int(round(len(pool) * val_fraction))
    if len(pool) >= 2 and 0.0 < val_fraction < 1.0:
        n_val = min(max(n_val, 1), len(pool) - 1)
    val, train = pool[:n_val], pool[n_val:]
    return sorted(train, key=natural_key), sorted(val, key=natural_key)


class OpenCancelled(Exception):
    """:meth:`Project.open` was stopped by its ``stop`` callable before the scan ended."""


@dataclass(frozen=True)
class Entry:
    """One image of the project and where its annotation lives."""

    image_path: Path
    xml_path: Path
    has_xml: bool
    #: Image path relative to ``images_dir`` (posix), unique in the project.
    key: str = ""
    #: The file stem (the VOC image id).
    image_id: str = ""
    #: Non-VOC projects: where the annotation lives in its native format (``xml_path`` is then
    #: the same file: the label ``.txt``, the labelme ``.json`` or the COCO/CreateML JSON).
    source: Source | None = None

    @property
    def label_path(self) -> Path:
        """The annotation file of this image, whatever its format (= ``xml_path``)."""
        return self.xml_path


# _match fills every field of Entry by name: a field added to it must be added there too.
assert [f.name for f in dataclasses.fields(Entry)] == [
    "image_path", "xml_path", "has_xml", "key", "image_id", "source"]


@dataclass
class Project:
    images_dir: Path
    annotations_dir: Path
    root: Path
    layout: Layout
    entries: list[Entry] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)
    scan_problems: list[Problem] = field(default_factory=list)
    _classes: list[str] | None = field(default=None, repr=False)
    #: ``voc`` | ``yolo`` | ``coco`` | ``createml`` | ``labelme`` (:mod:`workbench.core.formats`).
    format: str = "voc"
    #: Non-VOC projects: the scanned dataset (classes, splits, per-format tables in ``meta``).
    dataset: Dataset | None = field(default=None, repr=False)
    #: What format detection found (other formats present become a scan problem).
    guess: FormatGuess | None = field(default=None, repr=False)
    _items: dict[Path, Item] = field(default_factory=dict, repr=False)
    _annotations_arg: Path | None = field(default=None, repr=False)
    _listing: Listing | None = field(default=None, repr=False)
    #: The walk made while detecting the format (the first VOC rescan of that folder uses it).
    _walked: _FolderScan | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, images_dir: str | os.PathLike[str],
             annotations_dir: str | os.PathLike[str] | None = None, *,
             format: str | None = None, stop: Callable[[], bool] | None = None) -> Project:
        """Scan a project folder (see the module doc). Raises FileNotFoundError, and
        :class:`~workbench.core.formats.FormatError` for an unknown ``format``;
        :class:`OpenCancelled` once ``stop()`` is true (polled during the walk)."""
        # The garbage collector is paused while a folder is scanned: a scan makes a few
        # objects per file and no reference cycle, and the collector's full passes over every
        # live object made the scan of 10^5 files grow faster than the folder (~0.6 s of
        # ~2.5 s there; issue 14). Counted with the process's other pauses (core.gc_pause).
        with gc_paused():
            return cls._open(images_dir, annotations_dir, format, stop)

    @classmethod
    def _open(cls, images_dir: str | os.PathLike[str],
              annotations_dir: str | os.PathLike[str] | None, format: str | None,
              stop: Callable[[], bool] | None) -> Project:
        images = _resolve_folder(images_dir)
        if not images.is_dir():
            raise FileNotFoundError(f"{images}: no such folder")
        if format is not None and format not in FORMATS:
            raise FormatError(f"unknown label format {format!r} (choose from "
                              f"{', '.join(FORMATS)})")
        def check() -> None:
            if stop is not None and stop():
                raise OpenCancelled(f"{images}: scan stopped")
        guess = walked = None
        if format is None:
            format, guess, images, annotations_dir, walked = _detect(images, annotations_dir,
                                                                     check)
        if format != "voc":
            return cls._open_native(images, annotations_dir, format, guess,
                                    walked.listing if walked is not None else None)
        root, layout = images, "flat"
        if annotations_dir is not None:
            annotations = _resolve_folder(annotations_dir)
            if not annotations.is_dir():
                raise FileNotFoundError(f"{annotations}: no such annotations folder")
            layout = "flat" if annotations == images else "separate"
        elif (images / "JPEGImages").is_dir():
            root, layout = images, "voc"
            images, annotations = root / "JPEGImages", root / "Annotations"
        elif images.name == "JPEGImages" and (images.parent / "Annotations").is_dir():
            root, layout, annotations = images.parent, "voc", images.parent / "Annotations"
        elif (images / "images").is_dir() and any(
                (images / n).is_dir() for n in ("annotations", "Annotations")):
            root, layout = images, "separate"
            annotations = next(images / n for n in ("annotations", "Annotations")
                               if (images / n).is_dir())
            images = images / "images"
        else:
            annotations = images
        project = cls(images_dir=images, annotations_dir=annotations, root=root, layout=layout,
                      guess=guess, _walked=walked)
        project.rescan(stop=stop)
        project._recover()
        return project

    def _recover(self) -> None:
        """At open: remove stale temporary files of interrupted saves in the project's top
        folders (the scan does the rest, :meth:`rescan`) and finish a class rename that was
        killed midway (its journal, see :meth:`rename_class`). Checkpoint temps of training
        runs killed mid-save are removed from the window's run folders too (``runs/*/``: a
        checkpoint temp is hundreds of MB)."""
        # (the images and annotations folders, and what is under them: done by the scan)
        folders = {self.root, self.imagesets_dir} - {self.images_dir, self.annotations_dir}
        try:
            with os.scandir(self.root / "runs") as listing:
                folders.update(Path(e.path) for e in listing
                               if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
        except OSError:
            pass
        for folder in folders:
            clean_stale_temps(folder)
        journal = self.annotations_dir / RENAME_JOURNAL
        if not journal.is_file():
            return
        shown = self.display_name(journal)
        try:
            data = json.loads(journal.read_text(encoding="utf-8"))
            old, new = str(data["old"]), str(data["new"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.scan_problems.append(Problem(shown, None, "warning",
                f"journal of an interrupted class rename is unreadable ({exc}); check the "
                "class names (validate) and delete this file"))
            return
        try:  # roll forward: renaming again is idempotent (renamed files hold no `old`)
            changed = self.rename_class(old, new)
        except (OSError, ValueError) as exc:
            self.scan_problems.append(Problem(shown, None, "error",
                f"the class rename {old!r} -> {new!r} was interrupted and cannot be finished "
                f"now ({exc}); open the project where it can be written to finish it"))
            return
        log.warning("finished the interrupted class rename %r -> %r (%d more files)", old, new,
                    changed)
        self.scan_problems.append(Problem(shown, None, "warning",
            f"the class rename {old!r} -> {new!r} had been interrupted; it was finished now "
            f"({changed} more annotation files)"))

    @classmethod
    def _open_native(cls, root: Path, annotations_dir: str | os.PathLike[str] | None,
                     fmt: str, guess: FormatGuess | None, listing: Listing | None) -> Project:
        ann = _resolve_folder(annotations_dir) if annotations_dir is not None else None
        project = cls(images_dir=root, annotations_dir=root, root=root, layout=fmt, format=fmt,
                      guess=guess, _annotations_arg=ann, _listing=listing)
        project.rescan()
        return project

    def _format_problems(self) -> list[Problem]:
        """One scan problem per other format found in the folder, naming its files."""
        if self.guess is None or not self.guess.ambiguous_with:
            return []
        out: list[Problem] = []
        for fmt, files in self.guess.ambiguous_with:
            shown = ", ".join(self.display_name(f) for f in files[:5])
            more = len(files) >= 5
            out.append(Problem(
                ".", None, "warning",
                f"mixed label formats: opened as {self.format.upper()}, but the folder also "
                f"holds {fmt.upper()} labels ({shown}{', …' if more else ''}); use "
                f"--format {fmt} to open those instead"))
        return out

    def _rescan_native(self) -> None:
        ds = open_dataset(self.root, self.format, annotations=self._annotations_arg,
                          listing=self._listing)
        self._listing = None  # later rescans walk the folder again
        self.dataset, self.layout = ds, f"{ds.format} {ds.layout}"
        labels = ds.meta.get("labels_dir")
        if labels is None and ds.format == "yolo" and (self.root / "labels").is_dir():
            labels = self.root / "labels"
        self.annotations_dir = Path(labels) if labels is not None else self.root
        self._items = {it.image_path: it for it in ds.items}
        entries: list[Entry] = []
        root_s = os.fspath(self.root) + os.sep
        n = len(root_s)
        for it in ds.items:
            img, src = it.image_path, it.source
            img_s = os.fspath(img)
            key = img_s[n:] if img_s.startswith(root_s) else img.name
            if os.sep != "/":
                key = key.replace(os.sep, "/")
            entries.append(Entry(img, src.path, src.exists, key, img.stem, src))
        self.entries, self.orphans = entries, []
        self.scan_problems = self._format_problems() + list(ds.problems)
        self._classes = None

    def rescan(self, stop: Callable[[], bool] | None = None) -> None:
        """Re-read the folder listing (entries, orphans, scan problems); ``stop``: see
        :meth:`open` (raises :class:`OpenCancelled`, the entries left as they were)."""
        if self.format != "voc":
            self._rescan_native()
            return

        def check() -> None:
            if stop is not None and stop():
                raise OpenCancelled(f"{self.images_dir}: scan stopped")
        images: list[Path] = []
        image_strs: list[str] = []  # os.fspath(images[i]) without pathlib's formatting
        xmls: list[Path] = []
        xml_strs: list[str] = []  # os.fspath(xmls[i]), as image_strs
        temps: list[Path] = []
        # Symlinks among images / XMLs (a loop among them is left out below); strings and
        # scandir's flags in this loop, one Path per file kept (issue 14: 10^5 files).
        links: tuple[list[Path], list[Path]] = ([], [])
        beside = self.annotations_dir == self.images_dir
        # The walk of format detection (Project.open), when it covered the images folder (and
        # the annotations folder): each folder is walked once
        walked, self._walked = self._walked, None
        part = walked.subtree(self.images_dir) if walked is not None else None
        if part is not None:
            images, image_strs, temps = part.images, part.image_strs, list(part.temps)
            links = (part.links[0], part.links[1] if beside else [])
            if beside:
                xmls, xml_strs = part.xmls, part.xml_strs
        for folder, files in (_walk(self.images_dir) if part is None else ()):
            check()
            child = _child(Path(folder))
            head = os.path.join(folder, "")
            for i, (f, link) in enumerate(files):
                if not i & 4095:
                    check()
                dot = f.rfind(".")  # is_image_file (Path.suffix) on the name string
                if 0 < dot < len(f) - 1 and f[dot:].lower() in IMAGE_EXTENSIONS:
                    images.append(path := child(f))
                    image_strs.append(head + f)
                    if link:
                        links[0].append(path)
                elif beside and f.lower().endswith(".xml"):
                    xmls.append(path := child(f))
                    xml_strs.append(head + f)
                    if link:
                        links[1].append(path)
                elif f.startswith(".") and TEMP_NAME.match(f):
                    temps.append(child(f))
        notes = walked.subtree(self.annotations_dir) if walked is not None and not beside \
            else None
        if notes is not None:
            xmls, xml_strs = notes.xmls, notes.xml_strs
            links[1].extend(notes.links[1])
            temps.extend(notes.temps)
        elif not beside and self.annotations_dir.is_dir():
            for folder, files in _walk(self.annotations_dir):
                check()
                child = _child(Path(folder))
                head = os.path.join(folder, "")
                for i, (f, link) in enumerate(files):
                    if not i & 4095:
                        check()
                    if f.lower().endswith(".xml"):
                        xmls.append(path := child(f))
                        xml_strs.append(head + f)
                        if link:
                            links[1].append(path)
                    elif f.startswith(".") and TEMP_NAME.match(f):
                        temps.append(child(f))
        check()
        remove_stale_temps(temps)  # of saves killed midway (core/atomic.py), > 1 minute old
        loops = [p for p in (*links[0], *links[1]) if _is_symlink_loop(p)]
        if loops:  # resolving one raises RuntimeError("Symlink loop") later: leave them out
            images = [p for p in images if p not in loops]
            xmls = [p for p in xmls if p not in loops]
            image_strs = [os.fspath(p) for p in images]
            xml_strs = [os.fspath(p) for p in xmls]
        self._match(images, xmls, image_strs, xml_strs)
        self.scan_problems[:0] = [Problem(self.display_name(p), None, "error",
                                          "is a symbolic link that points to itself "
                                          "(a symlink loop); left out") for p in loops]
        self._classes = None

    def _match(self, images: list[Path], xmls: list[Path],
               image_strs: list[str] | None = None, xml_strs: list[str] | None = None) -> None:
        """Entries, orphans and scan problems of ``images`` and ``xmls`` (see the module doc);
        ``image_strs`` / ``xml_strs``: ``os.fspath`` of each when the caller has them."""
        if image_strs is None:
            image_strs = [os.fspath(i) for i in images]
        if xml_strs is None:
            xml_strs = [os.fspath(x) for x in xmls]
        image_names, xml_names = _Names(self.images_dir), _Names(self.annotations_dir)
        parts = image_names.many(image_strs)  # (rel, stem, name) per image
        # Images by folder and stem, as indices: strings and ints in this loop, no Path
        # formatted again (10^5 files)
        by_dir_stem: dict[tuple[str, str], list[int]] = {}
        for k, (rel, stem, _name) in enumerate(parts):
            by_dir_stem.setdefault((rel, stem), []).append(k)
        # The image's XML by the image's path string (strings hash at a fraction of a Path's
        # first hash: 10^5 images); the XML's path string beside it.
        claimed: dict[str, Path] = {}
        claimed_strs: dict[str, str] = {}
        problems: list[Problem] = []
        rest: list[Path] = []
        for xml, xml_s, (rel, stem, _) in zip(xmls, xml_strs, xml_names.many(xml_strs)):
            same = by_dir_stem.get((rel, stem))
            if same is None:
                rest.append(xml)
                continue
            free = [k for k in same if image_strs[k] not in claimed]
            if len(free) > 1:
                named = read_filename(xml)
                free = [k for k in free if named and same_name(named, images[k].name)] or free
            if free:
                claimed[image_strs[free[0]]] = xml
                claimed_strs[image_strs[free[0]]] = xml_s
            else:
                rest.append(xml)
        orphans: list[Path] = []
        # XMLs not matched by folder and stem (rare) look images up by name and stem: the
        # tables are made only then (10^5 images: 0.2 s of every open)
        by_name: dict[str, list[Path]] = {}
        by_stem: dict[str, list[Path]] = {}
        if rest:
            for img, (_rel, stem, name) in zip(images, parts):
                by_name.setdefault(name, []).append(img)
                by_stem.setdefault(stem, []).append(img)
        shown_names = {readable(n): n for n in by_name if has_undecodable(n)} if rest else {}
        for xml in rest:
            named = read_filename(xml)
            rel = _rel_dir(xml, self.annotations_dir)
            candidates: list[list[Path]] = []
            if named in shown_names:  # a non-UTF-8 name as this program writes it (\xNN)
                named = shown_names[named]
            elif named:
                named = named.replace("\\", "/").rsplit("/", 1)[-1]
            if named:
                candidates.append([i for i in by_name.get(named, [])
                                   if _rel_dir(i, self.images_dir) == rel])
                candidates.append(by_name.get(named, []))
                candidates.append(by_stem.get(Path(named).stem, []))
            candidates.append(by_stem.get(xml.stem, []))
            target = next((c[0] for c in candidates if len(c) == 1), None)
            if target is not None and os.fspath(target) not in claimed:
                claimed[os.fspath(target)] = xml
                claimed_strs[os.fspath(target)] = os.fspath(xml)
                continue
            orphans.append(xml)
            shown = self.display_name(xml)
            if target is not None:
                problems.append(Problem(shown, None, "error",
                    f"describes image {self.display_name(target)}, which already has "
                    f"{self.display_name(claimed[os.fspath(target)])}"))
            else:
                problems.append(Problem(shown, None, "error",
                    f"names image {readable(named or xml.stem)!r}, which is not in the project"))
        entries: list[Entry] = []
        normcase = os.path.normcase  # Path equality (case-insensitive on Windows) on strings
        used_xml = {normcase(x) for x in claimed_strs.values()}
        ann_child = _child(self.annotations_dir)
        ann_head = os.fspath(self.annotations_dir).rstrip("/") + "/"
        new = object.__new__
        preset = _PRESET_STR
        for img, key, (rel, stem, name) in zip(images, image_strs, parts):
            xml = claimed.get(key)
            if preset:  # (the strings are os.fspath of each: pathlib need not format them)
                img._str = key  # type: ignore[attr-defined]
                if xml is not None:
                    xml._str = claimed_strs[key]  # type: ignore[attr-defined]
            if xml is None:  # = self._default_xml_path(img), from the strings of _Names
                if rel == ".":
                    text = ann_head + stem + ".xml"
                    xml = ann_child(stem + ".xml")
                else:
                    text = f"{ann_head}{rel}/{stem}.xml"
                    xml = Path(text)
                if normcase(text) in used_xml:
                    problems.append(Problem(self.display_name(img), None, "warning",
                        f"shares its stem with another image; its annotation goes to {xml.name}"))
                    xml = xml.with_name(img.name + ".xml")
                    text = os.fspath(xml)
                used_xml.add(normcase(text))
            entry = new(Entry)  # Entry(img, xml, …) without the frozen __init__'s cost
            entry.__dict__.update(image_path=img, xml_path=xml, has_xml=key in claimed,
                                  key=name if rel == "." else f"{rel}/{name}", image_id=stem,
                                  source=None)
            entries.append(entry)
        self.entries, self.orphans, self.scan_problems = entries, orphans, problems
        if self.guess is not None and self.guess.ambiguous_with:
            self.scan_problems[:0] = self._format_problems()

    def _default_xml_path(self, image: Path) -> Path:
        rel = image.parent.relative_to(self.images_dir)
        return self.annotations_dir / rel / (image.stem + ".xml")

    def display_name(self, path: Path) -> str:
        """``path`` as reports show it: relative to the project root (or annotations folder);
        undecodable file-name bytes as ``\\xNN`` (:func:`workbench.core.fsnames.readable`)."""
        if os.name == "posix":  # Path.relative_to is lexical: the same on strings, ~10x faster
            text = os.fspath(path)
            for base, prefix in ((self.root, ""),
                                 (self.annotations_dir, self.annotations_dir.name + "/")):
                head = os.fspath(base).rstrip("/") + "/"
                if text.startswith(head) and len(text) > len(head):
                    return readable(prefix + text[len(head):])
                if text + "/" == head:
                    return readable(prefix + ".")
            return readable(text)
        for base, prefix in ((self.root, ""), (self.annotations_dir, self.annotations_dir.name + "/")):
            try:
                return readable(prefix + path.relative_to(base).as_posix())
            except ValueError:
                continue
        return readable(str(path))

    # ------------------------------------------------------------------ entries

    def entry(self, image_path: str | os.PathLike[str]) -> Entry | None:
        """The entry of ``image_path`` (absolute, or relative to ``images_dir``)."""
        p = Path(image_path)
        p = Path(os.path.abspath(self.images_dir / p if not p.is_absolute() else p))
        found = next((e for e in self.entries if e.image_path == p), None)
        if found is None and p.exists():  # reached through a symlinked folder
            try:
                real = p.resolve()
                found = next((e for e in self.entries if e.image_path.resolve() == real), None)
            except (OSError, RuntimeError):  # a symlink loop made since the scan
                return None
        return found

    def xml_path_for(self, image_path: str | os.PathLike[str]) -> Path:
        """Where the annotation of ``image_path`` is or will be written."""
        e = self.entry(image_path)
        return e.xml_path if e is not None else self._default_xml_path(Path(image_path))

    @property
    def annotated(self) -> list[Entry]:
        return [e for e in self.entries if e.has_xml]

    def load(self, entry: Entry, *, clamp: bool = False,
             check_image: bool = True) -> tuple[Annotation | None, list[Problem]]:
        """Read ``entry``'s annotation (see module doc). Never raises for bad files."""
        if self.format != "voc":
            native = self.load_native(entry, clamp=clamp, check_image=check_image)
            return native.annotation, list(native.problems)
        if not entry.has_xml:
            return None, []
        # The usual file (LabelImg's layout, nothing to say): read once, no display name
        clean = read_clean(os.fspath(entry.xml_path), os.fspath(entry.image_path), check_image)
        if clean is not None:
            return clean[0], []
        shown = self.display_name(entry.xml_path)
        try:
            ann, problems = read_annotation(
                entry.xml_path, entry.image_path if check_image else None, clamp=clamp,
                display_name=shown)
        except VocError as exc:
            message = str(exc).removeprefix(f"{shown}: ")
            return None, [Problem(shown, None, "error", message)]
        if ann.filename and not same_name(ann.filename, entry.image_path.name):
            problems.append(Problem(shown, None, "warning",
                f"<filename> {ann.filename!r} differs from the image file "
                f"{readable(entry.image_path.name)!r}"))
        return ann, problems

    def load_native(self, entry: Entry, *, clamp: bool = False,
                    check_image: bool = True) -> Native:
        """Non-VOC projects: ``entry``'s annotation with its problems and, per object, where
        it stands in the file (``positions``: line / array index, see
        :mod:`workbench.core.formats.model`). ``Native(None)`` for an unlabeled image."""
        item = self._items.get(entry.image_path)
        if item is None or self.dataset is None or not item.source.exists:
            return Native(None)
        src = os.fspath(item.source.path)
        prefix = os.fspath(self.root) + os.sep
        shown = (src[len(prefix):].replace(os.sep, "/") if src.startswith(prefix)
                 else self.display_name(item.source.path))  # (display_name, without pathlib)
        try:
            return read_native(self.dataset, item, check_image=check_image, clamp=clamp,
                               display_name=shown)
        except Exception as exc:  # noqa: BLE001 - a reader bug must not take a command down
            log.exception("cannot read %s", shown)
            return Native(None, (Problem(shown, None, "error", f"cannot be read ({exc})"),))

    def new_annotation(self, entry: Entry) -> Annotation:
        """An empty annotation for ``entry``'s image (size read from the image header)."""
        try:
            size = image_size(entry.image_path)
        except ImageReadError:
            size = None
        # text for the XML: undecodable file-name bytes as \xNN (fsnames.readable)
        return Annotation(filename=readable(entry.image_path.name), size=size,
                          folder=readable(entry.image_path.parent.name),
                          path=readable(str(entry.image_path)))

    def save(self, entry: Entry, annotation: Annotation) -> Annotation:
        """Write ``annotation`` to ``entry.xml_path`` atomically; returns it with ``raw`` set.

        Non-VOC projects: dispatched to the format's writer
        (:data:`workbench.core.formats.WRITERS`); raises
        :class:`~workbench.core.formats.NotWritableError` when the format has none (nothing
        is written — never a VOC file beside the native labels).
        """
        if self.format != "voc":
            return self._save_native(entry, annotation)
        written = write_annotation(annotation, entry.xml_path)
        if not entry.has_xml:
            new = dataclasses.replace(entry, has_xml=True)
            self.entries = [new if e.image_path == entry.image_path else e for e in self.entries]
        if self._classes is not None:
            self._classes = merge_classes(self._classes, (o.name for o in annotation.objects))
        return written

    def _save_native(self, entry: Entry, annotation: Annotation) -> Annotation:
        writer = writer_for(self.format)
        if writer is None:
            raise NotWritableError(
                f"{self.display_name(entry.xml_path)}: saving {self.format.upper()} labels is "
                f"not supported yet, nothing was written (convert the dataset to VOC with "
                f"`workbench import` to edit it)")
        item = self._items.get(entry.image_path)
        current = next((e for e in self.entries if e.image_path == entry.image_path), entry)
        result = writer(self, current, annotation)
        native = result if isinstance(result, Native) else None
        written = native.annotation if native is not None else result
        if item is not None:
            item.source = dataclasses.replace(item.source, exists=True)
            if item.native is not None:  # formats read all at once keep what now stands
                item.native = native or Native(written, (), ())
            new = dataclasses.replace(current, has_xml=True, source=item.source)
            self.entries = [new if e.image_path == entry.image_path else e for e in self.entries]
        if self._classes is not None and written is not None:
            self._classes = merge_classes(self._classes, (o.name for o in written.objects))
        return written

    # ------------------------------------------------------------------ classes

    @property
    def class_file(self) -> Path | None:
        if self.dataset is not None and (self.dataset.class_file is not None
                                         or self.format in ("yolo", "coco")):
            return self.dataset.class_file
        # VOC, and labelme / CreateML (no names in their files): classes.txt if there is one
        return find_class_file([self.root, self.images_dir, self.annotations_dir])

    @property
    def names_files(self) -> list[Path]:
        """YOLO projects: the files holding the class names (``data.yaml``, ``classes.txt``)."""
        if self.dataset is None:
            return []
        return list(self.dataset.meta.get("names_files") or
                    ([self.dataset.class_file] if self.dataset.class_file else []))

    def predefined_classes(self) -> list[str]:
        if self.dataset is not None and (self.dataset.classes or self.format in ("yolo", "coco")):
            return list(self.dataset.classes)
        path = self.class_file
        if path is None:
            return []
        try:
            return read_class_file(path)
        except ClassFileError as exc:
            log.warning("%s", exc)
            return []

    @property
    def classes(self) -> list[str]:
        if self._classes is None:
            found: list[str] = []
            for e in self.annotated:
                ann, _ = self.load(e, check_image=False)
                if ann is not None:
                    found.extend(o.name for o in ann.objects)
            self._classes = merge_classes(self.predefined_classes(), found)
        return list(self._classes)

    def _append_class_names(self, names: Sequence[str]) -> Path:
        current = self.predefined_classes()
        wanted = [n for n in dict.fromkeys(names) if n]
        path = self.class_file
        extra = [n for n in wanted if n not in current]
        if wanted == current:
            return path or self.root
        if (self.format != "yolo" or path is None or path.suffix.lower() != ".txt"
                or wanted[:len(current)] != current):
            raise NotWritableError(
                f"the class list of a {self.format.upper()} project lives in its labels"
                f"{f' ({path.name})' if path else ''}; it is not rewritten from the class "
                "list (new classes are added when a box of that class is saved)")
        text = path.read_bytes().decode("utf-8-sig")
        sep = "" if not text or text.endswith("\n") else "\n"
        atomic_write_text(path, text + sep + "".join(f"{n}\n" for n in extra))
        self.rescan()
        return path

    def refresh_classes(self) -> list[str]:
        self._classes = None
        return self.classes

    def write_class_list(self, names: Sequence[str]) -> Path:
        """Write ``names`` to the class file (``predefined_classes.txt`` when none exists).

        YOLO and COCO projects hold class ids in their labels: refused
        (:class:`~workbench.core.formats.NotWritableError`) unless ``names`` only appends to
        a YOLO ``classes.txt`` (ids never renumbered) — then those names are appended.
        labelme and CreateML name classes in every box: their class file is a plain list,
        written as for VOC.
        """
        if self.format in ("yolo", "coco"):  # ids live in the labels: never reorder them
            return self._append_class_names(names)
        path = self.class_file or self.root / CLASS_FILE_NAMES[0]
        atomic_write_text(path, "".join(f"{n}\n" for n in dict.fromkeys(names) if n))
        self._classes = None
        return path

    def rename_class(self, old: str, new: str) -> int:
        """Rename class ``old`` to ``new`` in every annotation and the class file.

        All new file contents are prepared first; then they are written together with
        :func:`workbench.core.atomic.atomic_write_many` (all-or-nothing as far as possible),
        under a journal (``<annotations>/.workbench-rename.json``): when the process is killed
        midway, the next :meth:`open` finishes the rename (roll forward) and reports it.
        Files that cannot be read are left alone (they are reported by ``validate``).
        Returns the number of annotation files changed.
        """
        new = new.strip()
        if not old or not new:
            raise ValueError("class names must not be empty")
        if self.format != "voc":
            raise NotWritableError(
                f"renaming classes is not supported for {self.format.upper()} projects yet; "
                "nothing was changed")
        if old == new:
            return 0
        writes: list[tuple[Path, bytes]] = []
        for e in self.annotated:
            ann, _ = self.load(e, check_image=False)
            if ann is None or not any(o.name == old for o in ann.objects):
                continue
            objects = tuple(dataclasses.replace(o, name=new) if o.name == old else o
                            for o in ann.objects)
            writes.append((e.xml_path, annotation_to_bytes(dataclasses.replace(ann, objects=objects))))
        changed = len(writes)
        path = self.class_file
        if path is not None:
            names = self.predefined_classes()
            if old in names:
                text = "".join(f"{n}\n" for n in rename_in_list(names, old, new))
                writes.append((path, text.encode("utf-8")))
        # A journal first: a kill during the writes below leaves some files renamed; the next
        # Project.open finds the journal and finishes the rename (_recover). A failure inside
        # this process is rolled back by atomic_write_many, and the journal removed.
        journal = self.annotations_dir / RENAME_JOURNAL
        finishing = journal.is_file()  # called by _recover: the journal is not ours to drop
        if writes:
            atomic_write_text(journal, json.dumps({"operation": "rename_class", "old": old,
                                                   "new": new}) + "\n")
        try:
            atomic_write_many(writes)
        except BaseException:
            if writes and not finishing:
                journal.unlink(missing_ok=True)  # rolled back: nothing left to finish
            raise
        journal.unlink(missing_ok=True)
        self._classes = None
        log.info("renamed class %r to %r in %d annotation files", old, new, changed)
        return changed

    # ------------------------------------------------------------------ splits

    @property
    def imagesets_dir(self) -> Path:
        return self.root / "ImageSets" / "Main"

    def read_splits(self) -> dict[str, list[str]]:
        """``ImageSets/Main/<name>.txt`` → ``{name: [image ids]}`` (first token of each line,
        percent-unescaped: :func:`workbench.core.safepath.unescape_id`)."""
        from workbench.core.safepath import unescape_id

        out: dict[str, list[str]] = {}
        if self.dataset is not None and self.dataset.splits:
            return {k: list(v) for k, v in self.dataset.splits.items()}
        if self.imagesets_dir.is_dir():
            for f in sorted(self.imagesets_dir.glob("*.txt")):
                lines = f.read_text(encoding="utf-8-sig", errors="replace").splitlines()
                out[f.stem] = [unescape_id(ln.split()[0]) for ln in lines if ln.strip()]
        return out

    def write_splits(self, val_fraction: float = 0.2, seed: int = 0) -> dict[str, list[str]]:
        """Write ``ImageSets/Main/{train,val,trainval}.txt`` for the annotated images (one id
        per line; whitespace, ``%`` and undecodable bytes in an id percent-escaped:
        :func:`workbench.core.safepath.escape_id`)."""
        from workbench.core.safepath import escape_id

        train, val = split_ids((e.image_id for e in self.annotated), val_fraction, seed)
        splits = {"train": train, "val": val,
                  "trainval": sorted(train + val, key=natural_key)}
        atomic_write_many([(self.imagesets_dir / f"{name}.txt",
                            "".join(f"{escape_id(i)}\n" for i in ids).encode("utf-8"))
                           for name, ids in splits.items()])
        return splits


