"""Opening projects and moving between images: a mixin of :class:`MainWindow` (kept apart so
the window module stays short). Methods use the window's docks, documents and settings."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.core.annotation import Annotation
from workbench.core.fsnames import readable
from workbench.gui import project_ops as ops
from workbench.gui.documents import ImageDocument, empty_annotation
from workbench.gui.hub import ImageChanged, ProjectOpened
from workbench.gui.images import ImageLoadError, image_depth
from workbench.gui.panels.files import file_state

log = logging.getLogger(__name__)


#: The file dock's states are read from this long after a project has opened: its first image
#: and boxes are shown first (start-up, issue 14; the state scan is CPU the first screen does
#: not need — a quick look and quit no longer pays it).
STATE_SCAN_DELAY_MS = 300


#: How many of a project's JPEGs :func:`import_decoder_if_needed` reads the header of.
DECODER_PROBE = 2000


def import_decoder() -> None:
    """The one decoder (Pillow and NumPy), imported (on the scanner's worker thread)."""
    import workbench.core.images  # noqa: F401
    from PIL import Image

    Image.preinit()  # the JPEG / PNG / BMP / GIF plugins


def import_decoder_if_needed(paths: Sequence[str]) -> bool:
    """What the state scan's reads may need beyond the XML and JPEG header readers, imported
    before the scan starts (run on the scanner's worker thread: :meth:`StateScanner.start_later`;
    an import on the GUI thread would stall it ~0.14 s): the decoder, when an image is not a
    JPEG or one of the first :data:`DECODER_PROBE` JPEGs has a header
    :func:`~workbench.core.jpeg_header.jpeg_info` leaves to Pillow. A folder of camera or
    phone JPEGs needs neither (start-up, issue 14); a stranger JPEG further on is read with a
    one-time import when the scan reaches it. True when it imported the decoder."""
    from workbench.core.jpeg_header import jpeg_info

    if "PIL.Image" in sys.modules:
        return False
    jpegs = [p for p in paths if p[-4:].lower() == ".jpg" or p[-5:].lower() == ".jpeg"]
    if len(jpegs) < len(paths) or any(jpeg_info(p) is None for p in jpegs[:DECODER_PROBE]):
        import_decoder()
        return True
    return False


def display_names(images_dir: Path, entries: list) -> list[str]:
    """The file dock's name of every entry (``_display_name``), on strings (``Path.relative_to``
    per entry was seconds at 10^5 images: issue 14). No Qt: the open job makes them too."""
    head = os.path.join(os.fspath(images_dir), "")
    n = len(head)
    out = []
    for e in entries:
        text = os.fspath(e.image_path)
        out.append(readable(text[n:] if text.startswith(head) and len(text) > n
                            else os.path.basename(text)))
    return out


def row_of_path(images_dir: Path, entries: list, path: str | None) -> int | None:
    """The row of the entry whose image path string is ``path`` (None: not there). Looked up
    by the entry's ``key`` (its path below ``images_dir``) when ``path`` lies below it: a
    path string made per entry was ~0.2 s of the GUI thread when a project of 10^5 images
    was shown (issue 14)."""
    if not path:
        return None
    head = os.path.join(os.fspath(images_dir), "")
    if path.startswith(head):
        key = path[len(head):].replace(os.sep, "/")
        keys = [e.key for e in entries]
        try:
            row = keys.index(key)
        except ValueError:
            row = -1
        if row >= 0 and os.fspath(entries[row].image_path) == path:
            return row
        if all(keys):  # every entry has its key: not there
            return None
    return next((i for i, e in enumerate(entries) if os.fspath(e.image_path) == path), None)


class NavigationMixin:
    """``open_project``, ``show_row``, next / previous / next unlabeled image."""

    # Attributes provided by MainWindow (declared for readers and type checkers).
    project: object
    document: ImageDocument | None
    _entries: list
    _rows: dict
    _row: int
    _predefined: list[str]

    # -- project --------------------------------------------------------------------------
    def open_project(self, images_dir: Path, annotations_dir: Path | None = None, *,
                     project: object | None = None, names: list[str] | None = None,
                     lower: list[str] | None = None) -> bool:
        """Open a folder (XML beside the images, or in ``annotations_dir``); ``project``: that
        folder's project, already scanned (on a worker thread: ``gui/opening.py``), with
        ``names`` = :func:`display_names` of its entries and ``lower`` =
        :func:`~workbench.gui.panels.files.lower_all` of those when made there too."""
        if not self.saver.leave_document(self.document):
            return False
        self.saver.flush()  # background writes end (and say if they failed) before documents go
        try:
            if project is None:
                project = ops.open_project(images_dir, annotations_dir)
        except Exception as exc:  # a bad folder is a message, not a crash
            log.error("cannot open %s: %s", images_dir, exc)
            self.statusBar().showMessage(f"Cannot open {images_dir}: {exc}", 10000)
            return False
        self.scanner.stop()
        self.documents.clear()
        self.document, self._row, self._rgb = None, -1, None
        self._images.clear()
        opener = getattr(self, "opener", None)
        if opener is not None and opener.preview is not None:
            self._images.put(*opener.preview)  # (the start-up preview, decoded as the cache would)
            opener.preview = None
        self.session.open(project, ops.entries(project))
        # Files changed by other programs while the project is open (outside_edits).
        self.outside.watch_project(self._entries,
                                   [Path(getattr(project, "annotations_dir", images_dir))])
        if names is None or len(names) != len(self._entries):
            names, lower = self._display_names(self._entries), None
        self.files.set_entries(names, lower)
        # The class dock starts from the class file; the state scanner adds the names it finds
        # in the XMLs (so a big project's window opens before every file is parsed).
        self._predefined = ops.predefined_classes(project)
        self.classes.set_classes(self._predefined,
                                 self.settings.default_class(Path(project.images_dir)))
        self.settings.add_recent_project(Path(images_dir), annotations_dir)
        self._refresh_recent()
        self.problems.set_project_problems(getattr(project, "scan_problems", []))
        entries = self._entries  # (the paths are made on the worker)
        self.scanner.start_later(STATE_SCAN_DELAY_MS, prepare=lambda: import_decoder_if_needed(
            [os.fspath(e.image_path) for e in entries]))
        self.stack.setCurrentWidget(self.canvas if self._entries else self.welcome)
        self.project_changed.emit()
        self.hub.publish(ProjectOpened(Path(project.images_dir)))
        self._update_enabled()
        if not self._entries:
            self.statusBar().showMessage(f"No images in {images_dir}", 8000)
            return True
        row = row_of_path(project.images_dir, self._entries,
                          self.settings.last_image(Path(project.images_dir)))
        self.show_row(row if row is not None else 0)
        return True

    def _display_names(self, entries: list) -> list[str]:
        return display_names(self.project.images_dir, entries)

    def _display_name(self, entry: object) -> str:
        path = ops.image_path(entry)
        try:  # Qt strings cannot hold undecodable name bytes: shown as \xNN (core/fsnames)
            return readable(path.relative_to(Path(self.project.images_dir)))
        except (ValueError, AttributeError):
            return readable(path.name)

    def open_folder_dialog(self) -> None:
        from workbench.gui import dialogs  # (imported when used: start-up)

        start = str(self.project.images_dir) if self.project is not None else ""
        folder = dialogs.ask_directory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(Path(folder))  # on a worker thread (gui/opening.py)

    def change_annotation_dir_dialog(self) -> None:
        from workbench.gui import dialogs  # (imported when used: start-up)

        if self.project is None:
            return
        folder = dialogs.ask_directory(self, "Folder for the annotation XML files",
                                       str(self.project.images_dir))
        if folder:
            self.open_folder(Path(self.project.images_dir), Path(folder))

    def _scan_state(self, row: int) -> str | None:
        doc = self.documents.get(ops.image_path(self._entries[row]))
        if doc is not None:
            return file_state(doc.annotation, doc.problems, doc.read_failed)
        loaded = ops.load(self.project, self._entries[row])
        if loaded.annotation is not None:
            self.classes.add_found((o.name for o in loaded.annotation.objects), self._predefined)
        return file_state(loaded.annotation, loaded.problems, loaded.read_failed)

    # -- navigation -----------------------------------------------------------------------
    def show_row(self, row: int) -> bool:
        """Show image ``row`` of the project (saving or asking about the current one first)."""
        if not 0 <= row < len(self._entries) or row == self._row:
            return row == self._row
        if not self.saver.leave_document(self.document):
            self.files.set_current(self._row)
            return False
        entry = self._entries[row]
        load_error = ""
        try:
            image = self._images.get(ops.image_path(entry))
        except ImageLoadError as exc:
            # Said once, beside the image's name (a temporary message shown before the window
            # was visible was drawn over the position label).
            image = None
            load_error = str(exc).removeprefix(f"{ops.image_path(entry)}: ")
        doc = self.documents.get(ops.image_path(entry))
        if doc is not None:
            self.check_document(doc)  # changed on disk since it was last shown: reloaded
        else:
            doc = self._open_document(entry, image)
        self.canvas.cancel_interaction()
        self.document, self._row = doc, row
        self.canvas.canvas_scene().set_image(image)
        self.canvas.set_mode("draw" if self.settings.draw_sticky and
                             self.canvas.mode == "draw" else "select")
        self.documents.undo_group.setActiveStack(doc.stack)
        self._refresh_document()
        self.canvas.fit()
        self.files.set_current(row)
        self.problems.set_problems(readable(doc.xml_path.name), doc.problems, doc.read_failed)
        if doc.read_failed:
            self.problems_dock.show()
            self.problems_dock.raise_()
            self.statusBar().showMessage(f"{readable(doc.xml_path.name)} could not be read completely: "
                                         "see Problems", 8000)
        w, h = self.canvas.image_size()
        self.size_label.setText(f"{w} × {h} px")
        self.position_label.setText(f"Image {row + 1} of {len(self._entries)} · "
                                    f"{self._display_name(entry)}"
                                    + (f" · {load_error}" if load_error else ""))
        self.settings.set_last_image(Path(self.project.images_dir), doc.image_path)
        self._update_enabled()
        self.outside.watch_document(doc)
        self.image_changed.emit(str(doc.image_path))
        self.hub.publish(ImageChanged(doc.image_path))
        if row + 1 < len(self._entries):  # D is the usual next key: decode it meanwhile
            self._images.prefetch(ops.image_path(self._entries[row + 1]))
        return True

    def _open_document(self, entry: object, image) -> ImageDocument:  # noqa: ANN001
        from workbench.gui.outside_edits import stamp

        disk = stamp(ops.xml_path(entry))  # before reading: a write meanwhile is noticed
        loaded = ops.load(self.project, entry)
        annotation = loaded.annotation
        if annotation is None:
            size = (image.width(), image.height(), image_depth(image)) if image else None
            annotation = empty_annotation(ops.image_path(entry), size)
        project = self.project
        doc = ImageDocument(ops.image_path(entry), ops.xml_path(entry), annotation,
                            loaded.problems, existed=loaded.existed,
                            read_failed=loaded.read_failed,
                            writer=lambda ann, e=entry: ops.save(project, e, ann),
                            parent=self.documents, disk=disk)
        doc.reread = lambda e=entry: ops.load(project, e)
        doc.changed.connect(lambda d=doc: self._on_document_changed(d))
        self.classes.add_found((o.name for o in annotation.objects), self._predefined)
        return self.documents.add(doc)

    def next_image(self) -> None:
        self.show_row(self._row + 1)

    def prev_image(self) -> None:
        self.show_row(self._row - 1)

    def next_unlabeled(self) -> None:
        """Ctrl+N: the next image without boxes. Without blocking the window: when the search
        reaches a row whose state the background scanner has not read yet, it goes on once the
        scanner has finished (it used to read every remaining file on the GUI thread first:
        2.7 s just after opening the 800-image sample)."""
        n = len(self._entries)
        for step in range(1, n + 1):
            row = (self._row + step) % n
            state = self.files.model.state(row)
            if state is None and self.scanner.running:
                if not getattr(self, "_next_unlabeled_waiting", False):
                    self._next_unlabeled_waiting = True
                    self.scanner.finished.connect(self._next_unlabeled_after_scan)
                self.statusBar().showMessage("Looking for the next unlabeled image…")
                return
            if state == "unlabeled":
                self.show_row(row)
                return
        self.statusBar().showMessage("Every image has boxes", 4000)

    def _next_unlabeled_after_scan(self) -> None:
        self.scanner.finished.disconnect(self._next_unlabeled_after_scan)
        self._next_unlabeled_waiting = False
        self.next_unlabeled()

    def previous_annotation(self) -> Annotation | None:
        if self._row <= 0:
            return None
        entry = self._entries[self._row - 1]
        doc = self.documents.get(ops.image_path(entry))
        return doc.annotation if doc is not None else ops.load(self.project, entry).annotation
