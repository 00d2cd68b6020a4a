"""Undo commands. Every edit of an image's annotation is one :class:`EditAnnotation`.

Records are frozen, so a command simply holds the annotation *before* and *after* the edit (plus
which box was selected) and swaps them; the pure functions below build the *after* record with
:func:`dataclasses.replace`. Consecutive arrow-key nudges of the same box merge into one command so
that one Ctrl+Z undoes a whole nudge run, as in every drawing program.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from workbench.core.annotation import Annotation, VocObject
from workbench.core.boxes import Box, clamp_box

if TYPE_CHECKING:
    from workbench.gui.documents import ImageDocument

NUDGE_ID = 1001


# -- pure edits on records ------------------------------------------------------------------
def add_objects(ann: Annotation, objects: Iterable[VocObject]) -> Annotation:
    return replace(ann, objects=ann.objects + tuple(objects))


def remove_objects(ann: Annotation, indices: Iterable[int]) -> Annotation:
    drop = set(indices)
    return replace(ann, objects=tuple(o for i, o in enumerate(ann.objects) if i not in drop))


def replace_object(ann: Annotation, index: int, obj: VocObject) -> Annotation:
    objects = list(ann.objects)
    objects[index] = obj
    return replace(ann, objects=tuple(objects))


def set_box(ann: Annotation, index: int, box: Box) -> Annotation:
    """New box for object ``index``; a person touched it, so it is no longer an unreviewed
    model suggestion."""
    return replace_object(ann, index, replace(ann.objects[index], box=tuple(map(float, box)),
                                              model_made=False))


def relabel(ann: Annotation, index: int, name: str) -> Annotation:
    return replace_object(ann, index, replace(ann.objects[index], name=name, model_made=False))


def toggle_difficult(ann: Annotation, index: int) -> Annotation:
    obj = ann.objects[index]
    return replace_object(ann, index, replace(obj, difficult=not obj.difficult))


def accept_suggestions(ann: Annotation) -> Annotation:
    return replace(ann, objects=tuple(replace(o, model_made=False) if o.model_made else o
                                      for o in ann.objects))


def rename_class(ann: Annotation, old: str, new: str) -> Annotation:
    """Every object named ``old`` renamed to ``new`` (other fields and raw XML kept)."""
    return replace(ann, objects=tuple(replace(o, name=new) if o.name == old else o
                                      for o in ann.objects))


def nudge(ann: Annotation, index: int, dx: float, dy: float, width: float,
          height: float) -> Annotation:
    """Object ``index`` shifted by ``(dx, dy)`` image px, stopped at the image border."""
    x1, y1, x2, y2 = ann.objects[index].box
    w, h = x2 - x1, y2 - y1
    nx1 = min(max(x1 + dx, 0.0), max(width - w, 0.0))
    ny1 = min(max(y1 + dy, 0.0), max(height - h, 0.0))
    return set_box(ann, index, (nx1, ny1, nx1 + w, ny1 + h))


def copy_objects_from(ann: Annotation, source: Sequence[VocObject], width: float,
                      height: float) -> Annotation:
    """Append ``source``'s objects (e.g. the previous image's), clamped to this image, skipping
    exact duplicates of boxes already present."""
    have = {(o.name, o.box) for o in ann.objects}
    new = []
    for obj in source:
        box = clamp_box(obj.box, width, height)
        if box[2] - box[0] < 1 or box[3] - box[1] < 1 or (obj.name, box) in have:
            continue
        new.append(replace(obj, box=box, raw=None))
    return add_objects(ann, new)


# -- the command ----------------------------------------------------------------------------
class EditAnnotation(QUndoCommand):
    """Replace ``doc``'s annotation with ``after``; undo puts ``before`` back."""

    def __init__(self, doc: ImageDocument, after: Annotation, text: str, *,
                 select_after: int | None = None, group_after: tuple[int, ...] = (),
                 merge_key: object = None) -> None:
        super().__init__(text)
        self.doc = doc
        self.before = doc.annotation
        self.after = after
        self.select_before, self.group_before = doc.selection, doc.group
        self.select_after = doc.selection if select_after is None else select_after
        self.group_after = tuple(group_after)
        self.merge_key = merge_key

    def redo(self) -> None:
        self.doc.apply(self.after, self.select_after, self.group_after)

    def undo(self) -> None:
        self.doc.apply(self.before, self.select_before, self.group_before)

    def id(self) -> int:  # noqa: A003 (Qt API)
        return NUDGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt API)
        if not isinstance(other, EditAnnotation) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        self.select_after, self.group_after = other.select_after, other.group_after
        return True
