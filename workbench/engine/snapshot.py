"""Freeze a project's labels for a run and split them into train / val.

:func:`take_snapshot` reads every annotation of the project once (through
:mod:`workbench.core.project`), so a run is unaffected by labeling that goes on meanwhile. The
split lives in ``ImageSets/Main/train.txt`` and ``val.txt`` (VOC layout, one image id = file
stem per line; ids with whitespace, ``%`` or non-UTF-8 bytes percent-escaped, see
:func:`workbench.core.safepath.escape_id`): when the files exist their assignment is kept (the user
may edit them) and
images labeled since are appended by a seeded draw; when not, a seeded random split is written
there, so the next run — and the user — see the same one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.engine.dataset import ImageRecord, class_box_counts
from workbench.engine.events import ClassWithoutBoxesError, DatasetError, EmptyDatasetError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataSnapshot:
    """The labels a run trains and evaluates on, frozen at its start."""

    classes: tuple[str, ...]
    train: tuple[ImageRecord, ...]
    val: tuple[ImageRecord, ...]
    split_dir: Path | None = None
    notes: tuple[str, ...] = ()

    def with_classes(self, classes: Sequence[str]) -> DataSnapshot:
        """The same images with a fixed class list (a resumed run keeps its checkpoint's);
        boxes of other classes are then ignored."""
        classes = tuple(classes)
        unknown = sorted({str(n) for r in (*self.train, *self.val) for n in r.names}
                         - set(classes))
        notes = self.notes
        if unknown:
            notes += (f"boxes of classes not in the checkpoint are ignored: {', '.join(unknown)}",)
        return dataclasses.replace(self, classes=classes, notes=notes)


def order_classes(records: Sequence[ImageRecord], preferred: Sequence[str] = ()) -> tuple[str,
                                                                                         ...]:
    """Class names present in ``records``: those of ``preferred`` in its order, then the rest
    alphabetically."""
    present = {str(n) for r in records for n in r.names}
    head = [c for c in preferred if c in present]
    return tuple(head + sorted(present - set(head)))


def _read_ids(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read split file {path}: {exc}") from exc
    from workbench.core.safepath import unescape_id

    # VOC's per-class files carry "id  1"; the first token is the id either way. Ids with
    # whitespace, "%" or undecodable bytes are percent-escaped (core/safepath.py escape_id).
    return [unescape_id(line.split()[0]) for line in text.splitlines() if line.strip()]


def _new_id_goes_to_val(image_id: str, val_fraction: float, seed: int) -> bool:
    """Deterministic per-id draw for images labeled after the split was written."""
    digest = hashlib.sha1(f"{seed}:{image_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < val_fraction


def _write_split(split_dir: Path, train: list[str], val: list[str]) -> None:
    from workbench.core.atomic import atomic_write_many
    from workbench.core.project import natural_key
    from workbench.core.safepath import escape_id

    split_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_many([
        (split_dir / f"{name}.txt", "".join(f"{escape_id(i)}\n" for i in part).encode("utf-8"))
        for name, part in (("train", train), ("val", val),
                           ("trainval", sorted(train + val, key=natural_key)))])


def read_or_write_split(split_dir: Path, ids: Sequence[str], val_fraction: float,
                        seed: int) -> tuple[list[str], list[str], list[str]]:
    """``(train_ids, val_ids, notes)`` for the labeled image ``ids``.

    When ``split_dir/train.txt`` exists its assignment is kept as the user left it (ids with no
    labeled image are noted and skipped); images labeled since then are assigned by a seeded
    per-id draw and appended to the files. Otherwise a new seeded split
    (:func:`workbench.core.project.split_ids`) is written, with trainval.txt as in VOC. Nothing
    is written while there are no labeled images.
    """
    from workbench.core.project import split_ids

    train_file, val_file = split_dir / "train.txt", split_dir / "val.txt"
    notes: list[str] = []
    known = set(ids)
    if train_file.is_file():
        train = list(dict.fromkeys(_read_ids(train_file)))
        val = [i for i in dict.fromkeys(_read_ids(val_file) if val_file.is_file() else [])
               if i not in set(train)]
        missing = [i for i in (*train, *val) if i not in known]
        if missing:
            notes.append(f"{len(missing)} ids in {split_dir} have no labeled image "
                         f"(e.g. {missing[0]}); they are left out")
        listed = set(train) | set(val)
        new = [i for i in ids if i not in listed]
        if new:
            to_val = [i for i in new if _new_id_goes_to_val(i, val_fraction, seed)]
            to_train = [i for i in new if i not in set(to_val)]
            train, val = train + to_train, val + to_val
            try:
                _write_split(split_dir, train, val)
                notes.append(f"added {len(to_train)} newly labeled images to train.txt and "
                             f"{len(to_val)} to val.txt in {split_dir}")
            except OSError as exc:
                notes.append(f"cannot update the split in {split_dir} ({exc}); "
                             "newly labeled images are used in memory")
        return [i for i in train if i in known], [i for i in val if i in known], notes
    if not ids:
        return [], [], notes
    train, val = split_ids(ids, val_fraction, seed)
    try:
        _write_split(split_dir, train, val)
        notes.append(f"wrote a new split to {split_dir} ({len(train)} train, {len(val)} val, "
                     f"seed {seed}); edit the files to change it")
    except OSError as exc:
        notes.append(f"cannot write the split to {split_dir} ({exc}); using it in memory")
    return train, val, notes


def take_snapshot(images_dir: Path, annotations_dir: Path | None = None, *,
                  val_fraction: float = 0.2, seed: int = 0,
                  classes: Sequence[str] | None = None,
                  split_dir: Path | None = None,
                  label_format: str | None = None) -> DataSnapshot:
    """Read the project once and split it (see the module docstring).

    Images without an annotation file are left out (never labeled ≠ labeled empty).
    ``classes`` fixes the class list (resume); otherwise it is the names present, in the
    project's class-list order. Raises :class:`DatasetError` for a missing folder.
    """
    from workbench.core.project import Project
    from workbench.core.usable import usable

    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise DatasetError(f"images folder {images_dir} does not exist")
    if annotations_dir is not None and not Path(annotations_dir).is_dir():
        raise DatasetError(f"annotations folder {annotations_dir} does not exist")
    try:
        project = Project.open(images_dir, annotations_dir, format=label_format)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot open {images_dir}: {exc}") from exc
    records: dict[str, ImageRecord] = {}
    notes: list[str] = []
    unlabeled = 0
    for entry in project.entries:
        if not entry.has_xml:
            unlabeled += 1
            continue
        # validate's verdict, the rule eval and export use too (core/usable.py): a refused
        # image or unreadable file leaves the image out, a bad box leaves that box out
        annotation, errors = usable(*project.load(entry))
        if annotation is None:
            notes.append(f"left out {entry.image_path.name}: "
                         + ("; ".join(str(p) for p in errors) or "unreadable annotation"))
            continue
        for problem in errors:
            notes.append(f"box left out of {entry.image_path.name}: {problem}")
        record = ImageRecord.from_annotation(entry.image_path, annotation)
        if record.image_id in records:
            notes.append(f"left out {entry.image_path.name}: another image has the id "
                         f"{record.image_id}")
            continue
        records[record.image_id] = record
    if unlabeled:
        notes.append(f"{unlabeled} images without an annotation file are left out")
    sdir = split_dir or project.imagesets_dir
    native = (project.read_splits() if split_dir is None
              and getattr(project, "format", "voc") != "voc" else {})
    if native.get("train") and native.get("val"):  # YOLO folders / COCO files: their split
        train_ids = [i for i in dict.fromkeys(native["train"]) if i in records]
        val_ids = [i for i in dict.fromkeys(native["val"]) if i in records
                   and i not in set(train_ids)]
        split_notes = [f"split from the {project.format} dataset: {len(train_ids)} train, "
                       f"{len(val_ids)} val"]
        sdir = project.root
    else:
        train_ids, val_ids, split_notes = read_or_write_split(sdir, list(records),
                                                              val_fraction, seed)
    notes.extend(split_notes)
    if classes is None:
        classes = order_classes(list(records.values()), list(getattr(project, "classes", ())))
    for note in notes:
        log.info("%s", note)
    return DataSnapshot(tuple(classes), tuple(records[i] for i in train_ids),
                        tuple(records[i] for i in val_ids), sdir, tuple(notes))


def check_trainable(data: DataSnapshot) -> None:
    """Raise :class:`EmptyDatasetError` / :class:`ClassWithoutBoxesError` with a message that
    says what to label."""
    if not data.train:
        left_out = [n for n in data.notes if n.startswith("left out ")]
        if left_out:  # labeled, but every one refused (unreadable image, bad XML): say why
            raise EmptyDatasetError(
                f"no image to train on: all {len(left_out)} labeled images are left out "
                f"({left_out[0]}{'; …' if len(left_out) > 1 else ''}): run `workbench "
                "validate` and fix or remove them")
        raise EmptyDatasetError(
            "no labeled images to train on"
            + (f" (split in {data.split_dir})" if data.split_dir else "")
            + ": label some images (save their VOC XML) first")
    if not data.classes:
        raise EmptyDatasetError("the labeled images contain no boxes: draw some boxes first")
    counts = class_box_counts(data.train, data.classes)
    empty = [c for c, n in counts.items() if n == 0]
    if empty:
        all_counts = class_box_counts((*data.train, *data.val), data.classes, True)
        detail = ", ".join(f"'{c}' ({all_counts[c]} in all, counting val and difficult)"
                           for c in empty)
        raise ClassWithoutBoxesError(
            f"classes with no non-difficult box in the training split: {detail}; label more "
            "of them or move images into train.txt")
