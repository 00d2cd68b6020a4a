"""Never lose work: autosave, explicit save, and the questions before anything is discarded.

* Autosave (on by default) saves the current image a moment after each edit and when the user
  leaves an image, through the core's atomic writer. Clean documents are never written.
* A file that had read errors is not overwritten automatically; Ctrl+S asks first.
* With autosave off, leaving an image or quitting with unsaved changes asks Save/Discard/Cancel.
* A file changed by another program since it was read is never overwritten without asking
  (:mod:`workbench.gui.outside_edits`): a save asks keep mine / take theirs / show both; autosave
  asks once per outside change and otherwise leaves the file alone.
* Every write is published on the window's hub (:class:`~workbench.gui.hub.AnnotationsWritten`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer

from workbench.core.fsnames import readable
from workbench.core.wording import count
from workbench.gui.documents import ImageDocument
from workbench.gui.hub import AnnotationsWritten
from workbench.gui.save_queue import SaveJob, SaveQueue

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow
    from workbench.gui.outside_edits import DiskStamp

log = logging.getLogger(__name__)


def _shown(doc: ImageDocument) -> str:
    """The file's name for messages (undecodable name bytes as ``\\xNN``: Qt cannot hold them)."""
    return readable(doc.xml_path.name)


class SaveController:
    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.timer = QTimer(window)
        self.timer.setSingleShot(True)
        self.timer.setInterval(window.settings.autosave_delay_ms)
        self.timer.timeout.connect(self.autosave_current)
        self.told_loss = False  # the last save said what its format could not hold
        self._asked: dict[object, DiskStamp] = {}  # outside changes autosave asked about
        # Big files are written on a worker thread, in order (save_queue.py); small ones
        # (milliseconds) at once, as before.
        self.queue = SaveQueue(window)
        self.queue.job_finished.connect(self._on_job_finished)

    @property
    def autosave(self) -> bool:
        return self.w.settings.autosave

    def set_autosave(self, on: bool) -> None:
        self.w.settings.autosave = on
        if on:
            self.autosave_current()
        self.w.update_save_state()

    def on_document_changed(self) -> None:
        if self.autosave:
            self.timer.start()  # debounce: saves a moment after the last edit

    # -- saving ---------------------------------------------------------------------------
    #: Documents with at least this many objects are written on the save thread (serialising
    #: 1,000 objects takes ~15 ms; 100,000 take seconds). Tests set 0 to send every save there.
    background_min_objects = 1000

    def _write(self, doc: ImageDocument, auto: bool = False) -> bool:
        """Save ``doc`` now, on this thread (after its background write, if one runs)."""
        from workbench.gui.outside_edits import OutsideChange  # (not before the first paint)

        self.flush(doc)
        try:
            doc.save()
        except OutsideChange as change:
            return self.resolve_outside_change(doc, change.current, auto=auto)
        except Exception as exc:  # noqa: BLE001 - never an uncaught error: the edits stay
            self._failed(doc, exc)
            return False
        self._saved(doc)
        return True

    def _failed(self, doc: ImageDocument, exc: BaseException) -> None:
        # the document stays dirty, so leaving and quitting still ask about it
        log.error("could not save %s: %s", doc.xml_path, exc,
                  exc_info=None if isinstance(exc, OSError) else exc)
        self.w.statusBar().showMessage(f"Could not save {_shown(doc)}: {readable(str(exc))}",
                                       15000)

    def _start(self, doc: ImageDocument, auto: bool = False) -> bool | None:
        """Save ``doc``: big documents on the save thread (None: under way, the result comes
        to :meth:`_on_job_finished`), others at once (True/False as :meth:`_write`)."""
        from workbench.gui.outside_edits import OutsideChange

        project = getattr(self.w, "project", None)
        if (len(doc.annotation.objects) < self.background_min_objects
                or getattr(project, "format", "voc") != "voc"):  # native writers: GUI thread
            return self._write(doc, auto=auto)
        if self.queue.busy(doc):  # one write per document at a time; the latest content next
            self.queue.ask_again(doc, auto=auto)
            return None
        try:
            pending = doc.prepare_save()
        except OutsideChange as change:
            return self.resolve_outside_change(doc, change.current, auto=auto)
        except Exception as exc:  # noqa: BLE001
            self._failed(doc, exc)
            return False
        if pending is None:
            return True
        self.queue.submit(doc, pending, doc.writer, auto=auto)
        self.w.statusBar().showMessage(f"Saving {_shown(doc)}…", 30000)
        return None

    def _on_job_finished(self, job: SaveJob) -> None:
        if job.handled:
            return  # already finished by flush()
        job.handled = True
        again = self.queue.take(job)
        doc = job.doc
        try:
            if job.error is not None:
                self._failed(doc, job.error)
                return
            doc.finish_save(job.pending, job.written)
        except RuntimeError:  # the document was closed (another project opened) meanwhile
            log.info("saved %s after its document was closed", doc.xml_path)
            return
        self._saved(doc)
        if not self.told_loss and not job.auto:
            self.w.statusBar().showMessage(f"Saved {_shown(doc)}", 3000)
        elif not self.told_loss:
            self.w.statusBar().clearMessage()
        if again is not None and doc.dirty:
            self._start(doc, auto=again)

    def flush(self, doc: ImageDocument | None = None) -> None:
        """Wait for ``doc``'s background write (every one when None) and take its result
        (again when taking it started the save asked for meanwhile)."""
        jobs = self.queue.wait(doc)
        while jobs:
            for job in jobs:
                self._on_job_finished(job)
            jobs = self.queue.wait(doc)

    def _saved(self, doc: ImageDocument) -> None:
        self.w.on_document_saved(doc)
        self.told_loss = self.tell_format_losses(doc)
        self.w.hub.publish(AnnotationsWritten((doc.xml_path,), "save"))

    def resolve_outside_change(self, doc: ImageDocument, current: DiskStamp, *,
                               auto: bool = False) -> bool:
        """Another program changed ``doc``'s file and ``doc`` has unsaved edits: ask keep mine /
        take theirs / show both (autosave asks once per outside change). True when the
        document and its file agree afterwards."""
        from workbench.gui.outside_edits import (
            BOTH, KEEP, THEIRS, ask_conflict, merged_with_theirs, read_theirs,
        )

        name = _shown(doc)
        bar = self.w.statusBar()
        if auto and self._asked.get(doc.xml_path) == current:
            bar.showMessage(f"Not saved automatically: {name} was changed by another program. "
                            "Press Ctrl+S to choose which version to keep.", 10000)
            return False
        self._asked[doc.xml_path] = current
        doc.conflict = current
        read = read_theirs(doc)
        theirs = read[0] if read is not None else None
        answer = ask_conflict(self.w, name, len(doc.annotation.objects),
                              None if theirs is None else len(theirs.objects))
        log.info("%s changed outside the window and here: %s", doc.xml_path, answer)
        if answer == KEEP:
            doc.overwrite_stamp = current
            return self._write(doc, auto=auto)
        if answer == THEIRS:
            self._asked.pop(doc.xml_path, None)
            self.w.reload_document(doc)
            self.w.hub.publish(AnnotationsWritten((doc.xml_path,), "outside"))
            bar.showMessage(f"Showing {name} as the other program wrote it", 6000)
            return True
        if answer == BOTH and theirs is not None:
            # Theirs becomes the base (what the file holds); mine plus their boxes as
            # suggestions is one undoable edit, saved like any other.
            doc.disk, doc.base, doc.conflict = current, theirs, None
            self._asked.pop(doc.xml_path, None)
            doc.edit(merged_with_theirs(doc.annotation, theirs),
                     "Add the boxes from disk as suggestions")
            bar.showMessage(f"{name}: the other program's boxes were added as suggestions "
                            "(dashed) beside yours — review them, then save", 12000)
            return False
        bar.showMessage(f"Not saved: {name} was changed by another program. Press Ctrl+S to "
                        "choose which version to keep.", 10000)
        return False

    def tell_format_losses(self, doc: ImageDocument) -> bool:
        """What the project's label format could not hold (YOLO has no ``difficult`` …): each
        kind said once per project by the writer (``formats.edit_write.take_warnings``).
        True when something was said (it stays in the status bar longer than "Saved")."""
        from workbench.core.formats.edit_write import take_warnings

        project = getattr(self.w, "project", None)
        told = take_warnings(project) if project is not None else []
        for problem in told:
            log.warning("%s", problem)
            self.w.statusBar().showMessage(f"Saved {_shown(doc)}. {problem.message}",
                                           20000)
        return bool(told)

    def autosave_doc(self, doc: ImageDocument | None) -> bool:
        """Save ``doc`` if it changed and may be written without asking. True if clean after."""
        if doc is None or not doc.dirty:
            return True
        if doc.needs_confirmation:
            self.w.statusBar().showMessage(
                f"Not saved automatically: {_shown(doc)} had read errors. "
                "Press Ctrl+S to overwrite it.", 8000)
            return False
        return self._start(doc, auto=True) is not False

    def autosave_current(self) -> None:
        if self.autosave:
            self.autosave_doc(self.w.document)

    def save_current(self) -> bool:
        """Ctrl+S: save now, asking before overwriting a file that had read errors."""
        doc = self.w.document
        if doc is None:
            return True
        if not doc.dirty:
            self.w.statusBar().showMessage("No changes to save", 2000)
            return True
        if doc.needs_confirmation and not self.confirm_overwrite(doc):
            return False
        ok = self._start(doc)
        if ok is None:
            return True  # under way on the save thread: "Saved" (or why not) when it ends
        if ok and not self.told_loss:
            self.w.statusBar().showMessage(f"Saved {_shown(doc)}", 3000)
        return ok

    def confirm_overwrite(self, doc: ImageDocument) -> bool:
        problems = "\n".join(f"• {p.message}" for p in doc.problems[:8])
        from workbench.gui import dialogs  # (imported when used: start-up)
        if dialogs.ask_yes_no(
                self.w, "Overwrite a file with read errors?",
                f"{_shown(doc)} could not be read completely:\n{problems}\n\n"
                "Saving replaces it with what the window shows. Anything the reader could not "
                "understand will be lost.", yes="Overwrite", destructive=True):
            doc.overwrite_confirmed = True
            return True
        return False

    # -- leaving --------------------------------------------------------------------------
    def leave_document(self, doc: ImageDocument | None) -> bool:
        """Called before showing another image. False = stay on this image."""
        if doc is None or not doc.dirty:
            return True
        if self.autosave and not doc.needs_confirmation:
            self.timer.stop()
            return self.autosave_doc(doc) or True  # a failed write keeps the edits in memory
        if self.autosave:
            return True  # kept in memory (and asked about on quit)
        from workbench.gui import dialogs  # (imported when used: start-up)
        answer = dialogs.ask_save_discard_cancel(
            self.w, "Unsaved changes", f"Save the changes to {_shown(doc)}?")
        if answer == "cancel":
            return False
        if answer == "save":
            if doc.needs_confirmation and not self.confirm_overwrite(doc):
                return False
            return self._write(doc)
        self.w.discard_document(doc)
        return True

    def confirm_quit(self) -> bool:
        """Before closing: save or ask about every dirty document. False = do not close."""
        self.timer.stop()
        self.flush()  # background writes end first; a failed one leaves its document dirty
        dirty = self.w.documents.dirty()
        if self.autosave:
            for doc in dirty:
                if not doc.needs_confirmation:
                    self._write(doc, auto=True)
            dirty = self.w.documents.dirty()
        if not dirty:
            return True
        names = ", ".join(_shown(d) for d in dirty[:5]) + (" …" if len(dirty) > 5 else "")
        from workbench.gui import dialogs  # (imported when used: start-up)
        answer = dialogs.ask_save_discard_cancel(
            self.w, "Unsaved changes",
            f"{count(len(dirty), 'image')} {'has' if len(dirty) == 1 else 'have'} unsaved "
            f"changes ({names}). "
            "Save them before quitting?")
        if answer == "cancel":
            return False
        if answer == "save":
            for doc in dirty:
                if doc.needs_confirmation and not self.confirm_overwrite(doc):
                    return False
                if not self._write(doc):
                    return False
        return True
