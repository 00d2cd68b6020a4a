"""Per-image documents: the annotation being edited, its undo stack, and saving it safely.

One :class:`ImageDocument` per image the user has opened this session, kept while they move
between images, so undo/redo history and unsaved edits survive navigation. A document is *dirty*
when its undo stack is not at the clean index — undoing back to the saved state makes it clean
again, and a clean document is never written (a file the user did not change is never rewritten).
A document whose file could not be read fully (``read_failed``) is never overwritten without the
user's confirmation (:attr:`ImageDocument.overwrite_confirmed`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoGroup, QUndoStack

from workbench.core.annotation import Annotation, ImageSize, Problem
from workbench.core.wording import count
from workbench.gui.commands import EditAnnotation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingSave:
    """A save under way: the annotation being written and the undo index it corresponds to."""

    annotation: Annotation
    index: int


class ImageDocument(QObject):
    """The annotation of one image plus its undo stack. ``annotation`` is a frozen record."""

    changed = Signal()  # annotation or selection replaced (by a command, undo or redo)
    saved = Signal()

    def __init__(self, image_path: Path, xml_path: Path, annotation: Annotation,
                 problems: list[Problem], *, existed: bool, read_failed: bool,
                 writer: Callable[[Annotation], Annotation] | None = None,
                 parent: QObject | None = None, disk: object = None) -> None:
        super().__init__(parent)
        #: Writes the annotation atomically and returns it with ``raw`` set (default: the core
        #: VOC writer to ``xml_path``; the window passes the project's ``save``).
        self.writer = writer or self._write_voc
        self.image_path = Path(image_path)
        self.xml_path = Path(xml_path)
        self.annotation = annotation
        self.problems = list(problems)
        self.existed = existed
        self.read_failed = read_failed
        self.overwrite_confirmed = False
        # Outside edits (:mod:`workbench.gui.outside_edits`): ``disk`` is the file as this
        # document read or last wrote it (a DiskStamp taken before reading; None = unknown, not
        # checked), ``base`` the annotation it held. A save first checks the file still is that.
        self.disk = disk
        self.base = annotation
        self.reread: Callable[[], object] | None = None  # the window's reader of this file
        self.overwrite_stamp = None  # an outside change the user chose to overwrite
        self.conflict = None         # an outside change noticed while this had unsaved edits
        self.selection = -1
        #: every selected box (the primary ``selection`` among them); () when one or none
        self.group: tuple[int, ...] = ()
        self.stack = QUndoStack(self)
        # signal to signal: Qt drops the connection when the document is deleted (a lambda
        # here raised 'Signal source has been deleted' when the stack went with it)
        self.stack.cleanChanged.connect(self.changed)

    # -- editing --------------------------------------------------------------------------
    def apply(self, annotation: Annotation, selection: int,
              group: tuple[int, ...] = ()) -> None:
        """Called by :class:`EditAnnotation` only (so every change is undoable)."""
        self.annotation = annotation
        self._set_selection(selection, group)
        self.changed.emit()

    def edit(self, after: Annotation, text: str, *, select_after: int | None = None,
             group_after: tuple[int, ...] = (), merge_key: object = None) -> None:
        """Push one undoable edit (no-op when ``after`` equals the current annotation).
        ``select_after`` / ``group_after``: the boxes selected after it (undo selects the
        boxes selected before)."""
        if after == self.annotation:
            return
        self.stack.push(EditAnnotation(self, after, text, select_after=select_after,
                                       group_after=group_after, merge_key=merge_key))

    def select(self, index: int, group: tuple[int, ...] = ()) -> None:
        self._set_selection(index, group)

    def _set_selection(self, index: int, group: tuple[int, ...]) -> None:
        n = len(self.annotation.objects)
        self.selection = index if 0 <= index < n else -1
        group = tuple(i for i in group if 0 <= i < n)
        self.group = group if len(group) > 1 and self.selection in group else ()

    def reset(self, annotation: Annotation, disk: object = None) -> None:
        """Replace the annotation from outside the editor (e.g. a project-wide class rename that
        already wrote the file, or the file changed on disk): history is cleared because it
        refers to the old content. ``annotation`` is what the file holds (``disk``: its stamp
        when known)."""
        self.stack.clear()
        self.base = annotation
        if disk is not None:
            self.disk = disk
        self.conflict = self.overwrite_stamp = None
        self.annotation = annotation
        self.selection, self.group = -1, ()
        self.changed.emit()

    # -- state ----------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return not self.stack.isClean()

    @property
    def needs_confirmation(self) -> bool:
        """Saving would overwrite a file that had read errors and the user has not agreed."""
        return self.read_failed and self.existed and not self.overwrite_confirmed

    @property
    def would_write(self) -> bool:
        """A save would write a file: dirty, and (when no file exists yet) there is content."""
        if not self.dirty:
            return False
        if not self.existed and not self.xml_path.exists():
            return bool(self.annotation.objects) or self.annotation.verified
        return True

    def save(self) -> bool:
        """Write the annotation atomically if there is something to write. Returns True if the
        file on disk now matches the document. Raises PermissionError when the file had read
        errors and the overwrite was not confirmed (callers ask first), and
        :class:`~workbench.gui.outside_edits.OutsideChange` (an OSError) when another program
        changed the file since it was read or written (nothing written; callers ask)."""
        pending = self.prepare_save()
        if pending is None:
            return True
        # The writer returns the record with ``raw`` = the bytes written (raw is not part of
        # equality, so undo/redo records stay comparable).
        self.finish_save(pending, self.writer(pending.annotation))
        return True

    def prepare_save(self) -> PendingSave | None:
        """The checks before a write, on the GUI thread (see :meth:`save`, which raises the
        same): the annotation to write and the undo index it is, or None when nothing needs
        writing. The write itself (``writer(pending.annotation)``) may then run on another
        thread (:mod:`workbench.gui.save_queue`); :meth:`finish_save` takes its result."""
        if not self.dirty:
            return None
        if not self.would_write:
            self.stack.setClean()
            return None
        if self.needs_confirmation:
            raise PermissionError(f"{self.xml_path} had read errors; overwriting needs confirmation")
        if self.disk is not None:  # never over a change made outside the window (issue 12)
            from workbench.gui.outside_edits import check_before_write

            check_before_write(self)  # raises OutsideChange (an OSError)
        return PendingSave(self.annotation, self.stack.index())

    def finish_save(self, pending: PendingSave, written: Annotation) -> None:
        """``pending`` was written (``written``: the record with ``raw`` = the file's bytes).
        The document is marked saved only when it still is what was written: edits made while
        the write ran keep it dirty (the next save writes them)."""
        current = self.stack.index() == pending.index and (
            self.annotation is pending.annotation or self.annotation == written)
        if current:
            self.annotation = written
        if self.disk is not None:
            from workbench.gui.outside_edits import remember_written

            remember_written(self)
            self.base = written  # what the file holds, even when edits came after it
        self.existed = True
        self.read_failed = False
        if current:
            self.stack.setClean()
        log.info("saved %s (%s)", self.xml_path, count(len(written.objects), "box"))
        self.saved.emit()

    def _write_voc(self, annotation: Annotation) -> Annotation:
        from workbench.core.voc import write_annotation

        return write_annotation(annotation, self.xml_path)


def empty_annotation(image_path: Path, size: tuple[int, int, int] | None) -> Annotation:
    """The record for an image without an annotation file (LabelImg's fields)."""
    image_path = Path(image_path)
    from workbench.core.fsnames import readable  # XML text: undecodable bytes as \xNN

    return Annotation(
        filename=readable(image_path.name),
        size=ImageSize(*size) if size else None,
        objects=(),
        folder=readable(image_path.parent.name),
        path=readable(str(image_path.resolve())),
    )


class DocumentStore(QObject):
    """All documents opened this session, keyed by image path, with one QUndoGroup."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_group = QUndoGroup(self)
        self._docs: dict[Path, ImageDocument] = {}

    def get(self, image_path: Path) -> ImageDocument | None:
        # (Path(a Path) parses it again: a tenth of the file dock's state scan at 10^5 images)
        return self._docs.get(image_path if isinstance(image_path, Path) else Path(image_path))

    def add(self, doc: ImageDocument) -> ImageDocument:
        self._docs[doc.image_path] = doc
        self.undo_group.addStack(doc.stack)
        return doc

    def documents(self) -> list[ImageDocument]:
        return list(self._docs.values())

    def dirty(self) -> list[ImageDocument]:
        return [d for d in self._docs.values() if d.dirty]

    def clear(self) -> None:
        for doc in self._docs.values():
            self.undo_group.removeStack(doc.stack)
            doc.deleteLater()
        self._docs.clear()
