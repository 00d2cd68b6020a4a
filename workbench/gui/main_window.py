"""The labeling window: canvas in the centre, file / class / box / problem docks, panels.

The API offered to panels (see ``workbench/gui/panels/registry.py``):

* ``canvas`` — :class:`~workbench.gui.canvas.view.CanvasView`; ``canvas.scene()`` uses image
  pixel-edge coordinates; ``canvas.scene_clicked(float, float)`` fires on a left click on the
  image (outside boxes) in select mode. Overlays go in the canvas's layer list,
  ``LayerList.of(canvas.scene()).add(item, owner=panel, per_image=...)``
  (:mod:`~workbench.gui.canvas.layer_list`): it shows them only while their panel is in front,
  empties the per-image ones on image change and lists them under View → Panels → Layers.
* ``image_changed(str)`` after another image is shown; ``annotation_changed()`` after every edit,
  undo or redo of the current image.
* ``current_image_path()``, ``current_annotation()``, ``current_image_rgb()`` (``(H, W, 3)``
  uint8, cached per image; None for an image the decoder refuses), ``project`` (core Project or
  None), ``add_objects(objects)`` (one undoable command), ``statusBar()``, ``panel(name)``
  (build/get a registry panel).
* ``hub`` — the window's :class:`~workbench.gui.hub.EventHub`: panels learn about each other's
  work by subscribing to its typed events (``TrainingFinished``, ``AnnotationsWritten`` …), never
  by looking for another panel.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QApplication, QDockWidget, QLabel, QMainWindow, QMenu,
                               QStackedWidget, QWidget)

from workbench import __version__
from workbench.core.annotation import Annotation, VocObject
from workbench.core.boxes import edges_to_voc
from workbench.core.fsnames import readable
from workbench.gui import assets
from workbench.gui import project_ops as ops
from workbench.gui.actions import build_actions, shortcut_rows
from workbench.gui.canvas.tools import box_at
from workbench.gui.canvas.view import CanvasView
from workbench.gui.documents import DocumentStore, ImageDocument, empty_annotation
from workbench.gui.editing import EditController
from workbench.gui.hub import AnnotationsWritten, ClassesChanged, EventHub
from workbench.gui.images import ImageCache, to_rgb_array
from workbench.gui.jobs import Job, JobRunner, job_errors
from workbench.gui.navigation import NavigationMixin
from workbench.gui.opening import ProjectOpener
from workbench.gui.panel_host import PanelHost
from workbench.gui.panels.boxes import BoxesPanel
from workbench.gui.panels.classes import ClassesPanel
from workbench.gui.panels.files import FilesPanel, StateScanner, file_state
from workbench.gui.panels.problems import ProblemsPanel
from workbench.gui.panels.registry import PANELS
from workbench.gui.saving import SaveController
from workbench.gui.session import LabelingSession
from workbench.gui.settings import Settings

if TYPE_CHECKING:  # annotations only: the first paint needs no numpy (issue 14)
    import numpy as np

    from workbench.gui.outside_edits import OutsideEditWatcher
    from workbench.gui.welcome import WelcomePage

log = logging.getLogger(__name__)


class MainWindow(NavigationMixin, QMainWindow):
    # the image's path as a Python str (Signal(str) would make it a Qt string, which drops the
    # undecodable bytes of a non-UTF-8 file name: core/fsnames.py)
    image_changed = Signal(object)
    annotation_changed = Signal()
    project_changed = Signal()

    def __init__(self, settings: Settings | None = None,
                 panels: list[tuple[str, str, str]] | None = None, *,
                 welcome: bool = True) -> None:
        """``welcome=False``: the welcome page is built when first shown (start-up with a
        folder to open: :func:`workbench.gui.app.build_window`)."""
        super().__init__()
        self.settings = settings or Settings()
        #: Typed events between the window and its panels (see workbench.gui.hub).
        self.hub = EventHub(self)
        self.documents = DocumentStore(self)
        #: Project, entries, current row, open documents (Qt-free; see workbench.gui.session).
        self.session = LabelingSession(self.documents)
        self.document: ImageDocument | None = None
        self._predefined: list[str] = []
        self._images = ImageCache()
        self._rgb: tuple[Path, np.ndarray] | None = None
        self.editor = EditController(self)
        self.saver = SaveController(self)
        # Annotation files changed by other programs while open: ``outside``, built when first
        # used (a project opens); its module is not needed for the first paint (issue 14).
        self._outside: OutsideEditWatcher | None = None
        #: Folders open on a worker thread (File → Open, Open Recent, drops, start-up).
        self.opener = ProjectOpener(self)
        self.hub.subscribe(AnnotationsWritten, self._on_annotations_written)
        self._welcome: WelcomePage | None = None
        self._recent: list[tuple[Path, Path | None]] = []
        self._setup_window()
        self._setup_canvas(welcome)
        self._setup_docks()
        self.actions = build_actions(self)
        self._setup_statusbar()
        self.panel_host = PanelHost(self, PANELS if panels is None else panels,
                                    self.actions.panels_menu)
        self._setup_dock_menu()
        self._connect()
        self._restore_layout()
        self._refresh_recent()
        self._update_enabled()

    # -- construction ---------------------------------------------------------------------
    def _setup_window(self) -> None:
        self.setWindowTitle("Detection Workbench")
        self.setWindowIcon(assets.app_icon())
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1440, 900)

    def _setup_canvas(self, welcome: bool) -> None:
        self.canvas = CanvasView()
        self.stack = QStackedWidget()
        if welcome:  # shown until a folder is open
            self._build_welcome()
        self.stack.addWidget(self.canvas)
        self.setCentralWidget(self.stack)

    @property
    def outside(self) -> OutsideEditWatcher:
        """Annotation files changed by other programs while open (see outside_edits)."""
        if self._outside is None:
            from workbench.gui.outside_edits import OutsideEditWatcher

            self._outside = OutsideEditWatcher(self)
        return self._outside

    @property
    def welcome(self) -> WelcomePage:
        """The page shown while no folder is open (built on first use)."""
        if self._welcome is None:
            self._build_welcome()
        assert self._welcome is not None
        return self._welcome

    def welcome_if_built(self) -> WelcomePage | None:
        return self._welcome

    def _build_welcome(self) -> None:
        from workbench.gui.welcome import WelcomePage

        page = WelcomePage()
        self._welcome = page
        self.stack.insertWidget(0, page)  # (the current page stays the current one)
        page.open_requested.connect(self.open_folder_dialog)
        page.recent_requested.connect(
            lambda i, a: self.open_folder(Path(i), Path(a) if a else None))
        page.set_recent(self._recent)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock:{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _setup_docks(self) -> None:
        right, left = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea
        self.files = FilesPanel()
        self.classes = ClassesPanel()
        self.boxes = BoxesPanel()
        self.problems = ProblemsPanel()
        self.files_dock = self._dock("Files", self.files, left)
        self.classes_dock = self._dock("Classes", self.classes, right)
        self.boxes_dock = self._dock("Boxes", self.boxes, right)
        self.problems_dock = self._dock("Problems", self.problems, right)
        self.tabifyDockWidget(self.boxes_dock, self.problems_dock)
        self.boxes_dock.raise_()
        self.resizeDocks([self.files_dock, self.classes_dock], [280, 300],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.classes_dock, self.boxes_dock], [230, 520],
                         Qt.Orientation.Vertical)
        self.scanner = StateScanner(self.files.model, self._scan_state, parent=self)
        self.classes.rename_hook = self.rename_class_everywhere
        self.classes.usage_hook = self.class_usage
        self.classes.persist_hook = self._persist_classes

    def _setup_dock_menu(self) -> None:
        view: QMenu = self.actions.menus["docks"]
        first = self.actions.panels_menu.menuAction()
        for dock in (self.files_dock, self.classes_dock, self.boxes_dock, self.problems_dock):
            view.insertAction(first, dock.toggleViewAction())

    def _setup_statusbar(self) -> None:
        bar = self.statusBar()
        self.position_label = QLabel("No folder open")
        bar.addWidget(self.position_label)
        self.size_label, self.cursor_label = QLabel(), QLabel()
        self.zoom_label, self.save_label = QLabel(), QLabel()
        self.cursor_label.setMinimumWidth(150)
        self._cursor_at: tuple[float, float] | None = None
        self._cursor_timer = QTimer(self, singleShot=True, interval=0)
        self._cursor_timer.timeout.connect(self.update_cursor_label)
        for label in (self.size_label, self.cursor_label, self.zoom_label, self.save_label):
            bar.addPermanentWidget(label)
        # The one place failed background jobs are reported (workbench.gui.jobs), and the
        # window's own runner (export, class rename): joined at close like every other runner.
        self.jobs = JobRunner(self)
        job_errors().reported.connect(self._on_job_failed)

    def _on_job_failed(self, message: str) -> None:
        log.error("background job failed: %s", message)
        self.statusBar().showMessage(f"Failed: {message}", 15000)

    def _connect(self) -> None:
        c = self.canvas
        c.box_drawn.connect(self.editor.on_box_drawn)
        c.box_edited.connect(self.editor.on_box_edited)
        c.boxes_moved.connect(self.editor.on_boxes_moved)
        c.selection_changed.connect(self.editor.on_selection_changed)
        c.box_double_clicked.connect(self.editor.edit_label)
        c.nudge_requested.connect(self.editor.nudge)
        c.space_tapped.connect(self.actions.verified.trigger)
        c.context_menu_requested.connect(self._context_menu)
        c.cursor_moved.connect(self._on_cursor_moved)
        c.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        c.mode_changed.connect(self._on_mode_changed)
        self.files.image_activated.connect(self.show_row)
        self.files.next_unlabeled_requested.connect(self.next_unlabeled)
        self.boxes.rows_selected.connect(self.canvas.set_selection)
        self.boxes.difficult_toggled.connect(self._toggle_difficult_row)
        self.boxes.edit_requested.connect(self.editor.edit_label)
        self.classes.default_changed.connect(self._on_default_class)

    def _restore_layout(self) -> None:
        geometry, state = self.settings.geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.panel_host.prepare_restore(state)  # the panel docks it names (lazy otherwise)
            self.restoreState(state)

    # -- session state (kept in self.session) ---------------------------------------------
    @property
    def project(self):  # noqa: ANN201 - core Project or None
        return self.session.project

    @property
    def _entries(self) -> list:
        return self.session.entries

    @property
    def _rows(self) -> dict[Path, int]:
        return self.session.rows

    @property
    def _row(self) -> int:
        return self.session.row

    @_row.setter
    def _row(self, row: int) -> None:
        self.session.row = row

    # -- panel API ------------------------------------------------------------------------
    def current_image_path(self) -> Path | None:
        return self.document.image_path if self.document is not None else None

    def current_annotation(self) -> Annotation | None:
        return self.document.annotation if self.document is not None else None

    def current_image_rgb(self) -> np.ndarray | None:
        path = self.current_image_path()
        if path is None:
            return None
        if self._rgb is None or self._rgb[0] != path:
            from workbench.gui.images import ImageLoadError

            try:
                image = self._images.get(path)
            except ImageLoadError:  # refused by the decoder: said beside the image's name
                return None
            self._rgb = (path, to_rgb_array(image))
        return self._rgb[1]

    def add_objects(self, objects: list[VocObject]) -> None:
        """Append ``objects`` (pixel-edge boxes) to the current image as one undoable edit."""
        self.editor.add_objects(list(objects))

    def open_folder(self, images_dir: Path, annotations_dir: Path | None = None) -> bool:
        """Open a folder on a worker thread (the window says so meanwhile; a newer request
        wins): :class:`~workbench.gui.opening.ProjectOpener`."""
        return self.opener.open(Path(images_dir), annotations_dir)

    def show_preview(self, image_path: Path) -> None:
        """Paint ``image_path`` while its folder is still being read (a big folder opens on a
        worker thread: :mod:`workbench.gui.opening`); nothing is editable
        until the project is open, which then shows its image as usual."""
        from workbench.gui.images import ImageLoadError

        try:
            image = self._images.get(Path(image_path))
        except ImageLoadError:
            return
        self.canvas.canvas_scene().set_image(image)
        self.stack.setCurrentWidget(self.canvas)
        self.canvas.fit()

    def panel(self, name: str) -> QWidget | None:
        """The registry panel with that class name / title / module (built if needed)."""
        key = self.panel_host.find(name)
        return self.panel_host.build(key) if key else None

    # -- document events ------------------------------------------------------------------
    def _on_document_changed(self, doc: ImageDocument) -> None:
        self._update_file_row(doc)
        if doc is self.document:
            self._refresh_document()
            self.annotation_changed.emit()
            self.saver.on_document_changed()

    def on_document_saved(self, doc: ImageDocument) -> None:
        self._update_file_row(doc)
        self.update_save_state()

    def _update_file_row(self, doc: ImageDocument) -> None:
        row = self._rows.get(doc.image_path)
        if row is not None:
            self.files.model.set_state(row, file_state(doc.annotation, doc.problems,
                                                       doc.read_failed), dirty=doc.dirty)

    def entries(self) -> list:
        """The project's entries (image path, xml path, has_xml) in file-dock order."""
        return list(self._entries)

    def entry_of(self, image_path: Path) -> object:
        return self.session.entry_of(image_path)

    def discard_document(self, doc: ImageDocument) -> None:
        """Forget unsaved edits: the document is read again from disk (undoing to the start of
        the session would be wrong after a save part-way through), its history cleared."""
        self.reload_document(doc)

    def reload_document(self, doc: ImageDocument) -> None:
        """Read ``doc``'s file again (history cleared): what is on disk is shown."""
        from workbench.gui.outside_edits import stamp

        disk = stamp(doc.xml_path)  # before reading: a write meanwhile is noticed later
        loaded = ops.load(self.project, self.entry_of(doc.image_path))
        size = doc.annotation.size
        annotation = loaded.annotation or empty_annotation(
            doc.image_path, (size.width, size.height, size.depth) if size else None)
        doc.problems, doc.read_failed = list(loaded.problems), loaded.read_failed
        doc.existed = loaded.existed
        doc.overwrite_confirmed = False
        doc.reset(annotation, disk=disk)
        self.classes.add_found((o.name for o in annotation.objects), self._predefined)
        if doc is self.document:
            self.problems.set_problems(doc.xml_path.name, doc.problems, doc.read_failed)

    # -- files changed on disk (hub: AnnotationsWritten; outside_edits) ----------------------
    def check_document(self, doc: ImageDocument) -> bool:
        """Compare ``doc`` with its file: reload it silently when it has no unsaved edits, else
        remember the conflict (asked at its next save). True when the file had changed."""
        if doc.disk is None or self.project is None:
            return False
        if self.saver.queue.busy(doc):
            return False  # our own write is under way (save_queue.py); its end re-stamps the file
        from workbench.gui.outside_edits import outside_change

        current = outside_change(doc)
        if current is None:
            return False
        if doc.dirty:
            if doc.conflict != current:
                doc.conflict = current
                from workbench.core.fsnames import readable

                self.statusBar().showMessage(
                    f"{readable(doc.xml_path.name)} was changed by another program while you "
                    "have unsaved edits: nothing is overwritten; saving asks which version to "
                    "keep", 12000)
            return True
        log.info("%s changed on disk: reloaded", doc.xml_path)
        self.reload_document(doc)
        self.hub.publish(AnnotationsWritten((doc.xml_path,), "outside"))
        return True

    def check_open_documents(self) -> None:
        for doc in self.documents.documents():
            self.check_document(doc)

    def files_changed_outside(self, paths: list[Path]) -> None:
        """The watcher found ``paths`` changed in an annotation folder."""
        self.hub.publish(AnnotationsWritten(tuple(paths), "outside"))

    def _on_annotations_written(self, event: AnnotationsWritten) -> None:
        """Bring open documents and the file dock in step with files written by someone else
        than the document itself (pre-labeling, another program)."""
        if self.project is None or event.source == "save":
            return
        paths = {Path(p) for p in event.paths}
        for doc in self.documents.documents():
            if doc.xml_path in paths:
                self.check_document(doc)
        rows = sorted({r for p in paths for r in self.session.rows_of_label(p)
                       if self.documents.get(ops.image_path(self._entries[r])) is None})
        if not rows:
            return
        if len(rows) > self.outside_rows_at_once:
            for row in rows:  # the scanner reads them again, a chunk at a time
                self.files.model.set_state(row, None)  # type: ignore[arg-type]
            self.scanner.start()
        else:
            for row in rows:
                state = self._scan_state(row)
                if state:
                    self.files.model.set_state(row, state)
        self.files.refresh_counts()

    #: Files re-read at once after an outside change; more go to the background scanner.
    outside_rows_at_once = 500

    def _refresh_document(self) -> None:
        doc = self.document
        if doc is None:
            return
        objects = doc.annotation.objects
        # The same record again (a save finished: only the clean state changed) is not redrawn
        # (100,000 boxes took ~0.5 s of the GUI thread after every background save).
        drawn_doc, drawn_objects = getattr(self, "_drawn", (None, None))
        if drawn_doc is not doc or drawn_objects is not objects:
            self.canvas.canvas_scene().set_objects(objects)
            self._drawn = (doc, objects)
        self.canvas.set_selection(doc.group or ([doc.selection] if doc.selection >= 0 else []),
                                  doc.selection)
        self.boxes.set_objects(doc.annotation.objects, doc.selection, self.canvas.selection())
        self.update_save_state()
        self.update_cursor_label()  # the box under the pointer may have changed or gone

    def on_selection_changed(self, index: int) -> None:
        if self.document is not None:
            self.boxes.set_objects(self.document.annotation.objects, index,
                                   self.canvas.selection())

    def update_save_state(self) -> None:
        doc = self.document
        if doc is None:
            self.save_label.setText("")
            return
        state = "● unsaved" if doc.dirty else "saved"
        if not doc.dirty and not doc.existed and not doc.xml_path.exists():
            state = "no file yet"
        verified = "  ✓ verified" if doc.annotation.verified else ""
        self.save_label.setText(state + verified + ("" if self.saver.autosave
                                                    else "  (autosave off)"))
        name = readable(doc.image_path.name)  # undecodable name bytes as \xNN (core/fsnames)
        self.setWindowTitle(f"{'● ' if doc.dirty else ''}{name} — Detection Workbench")

    # -- classes across the project -------------------------------------------------------
    def class_usage(self, name: str) -> int:
        from workbench.gui.class_ops import count_usage

        return count_usage(self, name)

    def rename_class_everywhere(self, old: str, new: str) -> Job | None:
        """Start the project-wide rename (on the window's job runner); the running job, or
        None when it was refused. ``ClassesChanged`` is published when it has finished."""
        from workbench.gui.class_ops import rename_everywhere

        job = rename_everywhere(self, old, new)
        if job is not None:
            def renamed(_changed: object) -> None:
                names = dict.fromkeys(new if n == old else n for n in self.classes.names())
                self.hub.publish(ClassesChanged(tuple(names)))

            job.finished.connect(renamed)
        return job

    def _persist_classes(self, names: list[str]) -> None:
        if self.project is not None:
            try:
                ops.save_class_names(self.project, names)
                self._predefined = list(names)
                self.hub.publish(ClassesChanged(tuple(names)))
            except OSError as exc:
                self.statusBar().showMessage(f"Could not write the classes file: {exc}", 8000)

    def _on_default_class(self, name: str) -> None:
        if self.project is not None:
            self.settings.set_default_class(Path(self.project.images_dir), name or None)

    # -- misc slots -----------------------------------------------------------------------
    def _on_cursor_moved(self, x: float, y: float) -> None:
        """Remember the pointer; the label is redrawn once the canvas tool has handled the same
        move (the view reports it first), so a box being drawn or resized shows its new size."""
        self._cursor_at = (x, y)
        self._cursor_timer.start()

    def update_cursor_label(self) -> None:
        """Pointer position in image pixels and the size of the box being drawn, else of the
        box under the pointer (smallest containing) as it is now — after a resize, a delete or
        an undo too. Sizes are the VOC integers the file gets (``xmax - xmin + 1``)."""
        at, doc = self._cursor_at, self.document
        if at is None or doc is None:
            self.cursor_label.setText("")
            return
        x, y = at
        text = f"x {x:.1f}  y {y:.1f}"

        def size(box: tuple[float, float, float, float]) -> str:
            xmin, ymin, xmax, ymax = edges_to_voc(box)
            return f"{xmax - xmin + 1}×{ymax - ymin + 1}"

        item = self.canvas.annotation_item()
        band = self.canvas.guide_item().band
        if self.canvas.mode == "draw" and band is not None:
            box = (band.left(), band.top(), band.right(), band.bottom())
            text += f"   ·   new box {size(box)}"
        elif item.isVisible():
            # While a box is dragged (moved or resized) it is the selected one, wherever the
            # pointer is: show its live size.
            dragging = bool(QApplication.mouseButtons() & Qt.MouseButton.LeftButton)
            i = self.canvas.selected() if dragging else box_at(item.box_rows(), x, y)
            if 0 <= i < len(doc.annotation.objects):
                text += f"   ·   {doc.annotation.objects[i].name} {size(item.box(i))}"
        self.cursor_label.setText(text)

    def _toggle_difficult_row(self, row: int) -> None:
        self.canvas.select(row)
        self.editor.toggle_difficult()

    def _on_mode_changed(self, mode: str) -> None:
        (self.actions.draw_mode if mode == "draw" else self.actions.select_mode).setChecked(True)

    def _context_menu(self, pos) -> None:  # noqa: ANN001
        menu = QMenu(self)
        a = self.actions
        menu.addActions([a.draw_mode, a.edit_label, a.difficult, a.duplicate, a.delete])
        menu.addSeparator()
        menu.addActions([a.copy_previous, a.verified])
        menu.popup(pos)

    def _update_enabled(self) -> None:
        has_image = self.document is not None
        for name in ("save", "draw_mode", "select_mode", "select_all", "delete", "duplicate",
                     "copy_previous", "edit_label", "difficult", "verified", "accept", "zoom_in",
                     "zoom_out", "fit", "actual_size", "prev", "next", "next_unlabeled"):
            self.actions.by_name[name].setEnabled(has_image)
        self.actions.change_save_dir.setEnabled(self.project is not None)
        self.actions.export.setEnabled(self.project is not None)

    def _refresh_recent(self) -> None:
        recent = self.settings.recent_projects()
        menu: QMenu = self.actions.menus["recent"]
        menu.clear()
        for images, xml in recent:
            label = readable(images) + (f"  (XML: {readable(xml)})" if xml else "")
            menu.addAction(label, lambda i=images, a=xml: self.open_folder(i, a))
        menu.setEnabled(bool(recent))
        self._recent = recent
        if self._welcome is not None:
            self._welcome.set_recent(recent)

    def export_dataset(self) -> None:
        """File → Export dataset… (see :mod:`workbench.gui.exporting`)."""
        from workbench.gui.exporting import export_dataset

        export_dataset(self)

    def show_shortcuts(self) -> None:
        from workbench.gui import dialogs  # (imported when used: start-up)

        dialogs.ShortcutSheet(shortcut_rows(self.actions), self).exec()

    def show_about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, "Detection Workbench",
                          f"Detection Workbench {__version__}<br>Label PASCAL VOC boxes, inspect "
                          "detectors, train SSD300 / Faster R-CNN and tune NMS.")

    # -- Qt events ------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt API)
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.is_dir() or path.is_file():
                self.open_folder(path if path.is_dir() else path.parent)
                event.acceptProposedAction()
                return

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if not self.panel_host.confirm_close() or not self.saver.confirm_quit():
            event.ignore()
            return
        self.panel_host.shutdown()
        self.opener.cancel()
        if self._outside is not None:
            self._outside.stop()
        self.scanner.stop()
        self._images.close()
        self.stop_background_work(self.CLOSE_WAIT_MS)
        self.settings.save_layout(self.saveGeometry(), self.saveState())
        self.settings.sync()
        event.accept()

    #: How long closing waits, in all, for background jobs that panels without a ``shutdown``
    #: leave running (a Priors build, a proposals run); they are cancelled first.
    CLOSE_WAIT_MS = 3000

    def stop_background_work(self, timeout_ms: int) -> bool:
        """Cancel every task runner's jobs in the window's panels and wait up to ``timeout_ms``
        in all for their pools and threads; True when nothing is left running. (A pool left
        busy made the process wait for it after the window had gone.)"""
        import sys
        import time

        from PySide6.QtCore import QThread

        # Task runners and threads are made by workbench.gui.workers only: without it loaded
        # there is none to look for (a search wraps every child object of the window in
        # Python, and PySide looks for each one's class: ~10-20 ms at a quick quit)
        runners, threads = [], []
        if "workbench.gui.jobs" in sys.modules:  # TaskRunner is jobs.JobRunner (workers.tasks)
            from workbench.gui.jobs import JobRunner

            runners = self.findChildren(JobRunner)
        if any(m.startswith("workbench.gui.workers") for m in sys.modules):
            threads = self.findChildren(QThread)
        for runner in runners:
            runner.cancel_all()
        deadline = time.monotonic() + timeout_ms / 1000
        idle = True
        for waiter in [*runners, *threads]:
            left = max(0, int((deadline - time.monotonic()) * 1000))
            done = waiter.wait(left)
            if not done:
                log.warning("background work of %s still running at close", waiter)
            idle = idle and bool(done)
        return idle
