"""File → Import dataset…: convert a YOLO, COCO, CreateML or labelme dataset to a VOC folder.

The conversion is :func:`workbench.core.importing.import_dataset`, the function behind
``workbench import``. It runs off the GUI thread on a
:class:`~workbench.gui.workers.tasks.TaskRunner` (progress bar, Cancel stops it between images
and removes what was written); the window stays usable. Afterwards the result (counts, how the
images got there, "read back: identical" or the differences) is shown and the user is offered
to open the imported folder.

:class:`ImportDialog` is non-modal (``open()``), so tests drive its widgets and click
*Import* with real mouse events; :func:`destination_problem` holds the rules without widgets.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from workbench.gui import dialogs
from workbench.gui.workers.tasks import Task, TaskContext, TaskRunner

if TYPE_CHECKING:
    from workbench.core.importing import ImportSummary
    from workbench.gui.main_window import MainWindow

log = logging.getLogger(__name__)
TITLE = "Import dataset"

#: ``(core format or None, label)`` for the format box.
FORMAT_CHOICES: list[tuple[str | None, str]] = [
    (None, "Detect from the files"),
    ("yolo", "YOLO txt (Ultralytics or LabelImg layout)"),
    ("coco", "COCO JSON"),
    ("createml", "CreateML JSON"),
    ("labelme", "labelme JSON"),
    ("voc", "PASCAL VOC XML"),
]
#: ``(core mode, label)`` for the images box.
MODE_CHOICES: list[tuple[str, str]] = [
    ("auto", "Hard-link when on the same drive, else copy"),
    ("copy", "Copy"),
    ("link", "Hard-link (symbolic link across drives)"),
]


def source_problem(src: str | Path | None) -> str | None:
    if src is None or not str(src).strip():
        return "Choose the dataset folder."
    path = Path(str(src).strip()).expanduser()
    if not path.is_absolute():
        return f"{path}: give an absolute path."
    if not path.is_dir():
        return f"{path}: no such folder."
    return None


def destination_problem(src: str | Path | None, out: str | Path | None) -> str | None:
    """Why ``out`` cannot receive an import of ``src`` (None: it can)."""
    from workbench.core.importing import check_destination

    problem = source_problem(src)
    if problem:
        return problem
    if out is None or not str(out).strip():
        return "Choose an output folder."
    path = Path(str(out).strip()).expanduser()
    if not path.is_absolute():
        return f"{path}: give an absolute path."
    return check_destination(Path(str(src).strip()).expanduser().resolve(), path.resolve())


def default_destination(src: Path) -> Path:
    """``<src>-voc`` beside the dataset (``-2``, ``-3`` … if it is taken)."""
    src = Path(src).resolve()
    base = src.parent / f"{src.name}-voc"
    candidate, n = base, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def detected_text(src: Path) -> str:
    """What format detection sees in ``src`` (one line for the dialog)."""
    from workbench.core.formats import detect_format

    try:
        guess = detect_format(src)
    except OSError as exc:
        return f"Cannot read {src}: {exc}"
    text = f"Detected: {guess.format.upper()}"
    if guess.evidence:
        text += f" ({guess.evidence[0].name}{' …' if len(guess.evidence) > 1 else ''})"
    if guess.ambiguous_with:
        text += "; also " + ", ".join(f.upper() for f, _ in guess.ambiguous_with)
    return text


class _Stop:
    """``import_dataset``'s ``stop``: set when the task is cancelled."""

    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx

    def is_set(self) -> bool:
        return self._ctx.cancelled()


class ImportDialog(QDialog):
    """Dataset folder, format, output folder, how images get there; runs the import.

    ``imported(summary)`` when an import finished (the dialog then closes itself).
    """

    imported = Signal(object)

    def __init__(self, start: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(TITLE)
        self.setMinimumWidth(680)
        self.runner = TaskRunner(self)
        self.task: Task | None = None
        app = QApplication.instance()
        if app is not None:  # quitting mid-import: stop at the next image, remove its files
            app.aboutToQuit.connect(self.runner.cancel_all)
        intro = QLabel("Convert a YOLO, COCO, CreateML or labelme dataset to a PASCAL VOC "
                       "folder (<code>JPEGImages/</code>, <code>Annotations/</code>, "
                       "<code>ImageSets/Main/</code> from its split) — the same conversion as "
                       "<code>workbench import</code>. The dataset itself is not changed.")
        intro.setWordWrap(True)

        self.src = QLineEdit()
        self.src.setPlaceholderText("The dataset folder")
        self.src_browse = QPushButton("Browse…")
        self.src_browse.setAutoDefault(False)
        self.src_browse.clicked.connect(self._browse_src)
        self.detected = QLabel()
        self.detected.setObjectName("muted")
        self.detected.setWordWrap(True)
        self.format = QComboBox()
        for key, label in FORMAT_CHOICES:
            self.format.addItem(label, key)
        self.out = QLineEdit()
        self.out.setPlaceholderText("A new or empty folder outside the dataset")
        self.out_browse = QPushButton("Browse…")
        self.out_browse.setAutoDefault(False)
        self.out_browse.clicked.connect(self._browse_out)
        self.mode = QComboBox()
        for key, label in MODE_CHOICES:
            self.mode.addItem(label, key)
        self.mode.setToolTip("Images are never moved. A hard link takes no space and needs no "
                             "copy; it is the same file as the dataset's.")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #f05252;")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)

        form = QFormLayout()
        form.addRow("Dataset folder", _row(self.src, self.src_browse))
        form.addRow("", self.detected)
        form.addRow("Format", self.format)
        form.addRow("Output folder", _row(self.out, self.out_browse))
        form.addRow("Images", self.mode)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton("Import",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setDefault(True)
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)

        self._suggested = ""
        self.src.textChanged.connect(self._on_src)
        self.src.editingFinished.connect(self._detect)
        self.out.textChanged.connect(self._validate)
        if start is not None:
            self.src.setText(str(start))
        self._on_src()
        self._detect()

    # -- inputs ---------------------------------------------------------------------------
    def _detect(self) -> None:
        """Format detection lists the folder: only once the path is entered (focus leaves the
        field, Browse…), never per keystroke — "/" on the way to "/data/x" is a folder too."""
        text = self.src.text().strip()
        ok = source_problem(text) is None
        self.detected.setText(detected_text(Path(text).expanduser()) if ok else "")

    def _on_src(self) -> None:
        text = self.src.text().strip()
        ok = source_problem(text) is None
        self.detected.setText("")
        if ok and self.out.text() == self._suggested:  # follow the source until edited
            self._suggested = str(default_destination(Path(text).expanduser()))
            self.out.setText(self._suggested)
        self._validate()

    def _validate(self) -> None:
        problem = destination_problem(self.src.text(), self.out.text())
        running = self.task is not None
        self.problem.setText(problem or "")
        self.problem.setVisible(bool(problem))
        self.import_button.setEnabled(problem is None and not running)

    def _browse_src(self) -> None:
        folder = dialogs.ask_directory(self, "Dataset to import", self.src.text().strip())
        if folder:
            self.src.setText(folder)
            self._detect()

    def _browse_out(self) -> None:
        start = self.out.text().strip()
        while start and not Path(start).is_dir() and Path(start).parent != Path(start):
            start = str(Path(start).parent)
        folder = dialogs.ask_directory(self, "Import into folder", start)
        if folder:
            self.out.setText(folder)

    def choice(self) -> tuple[Path, Path, str | None, str]:
        """``(src, out, format or None, mode)`` as entered."""
        return (Path(self.src.text().strip()).expanduser(),
                Path(self.out.text().strip()).expanduser(),
                self.format.currentData(), self.mode.currentData())

    # -- running --------------------------------------------------------------------------
    def start(self) -> None:
        """Run the import in the background (the *Import* button)."""
        if self.task is not None or destination_problem(self.src.text(), self.out.text()):
            return
        src, out, fmt, mode = self.choice()

        def job(ctx: TaskContext) -> Any:
            from workbench.core.importing import import_dataset

            def progress(done: int, total: int, name: str) -> None:
                ctx.progress(done / max(total, 1), f"{done}/{total} {name}")

            return import_dataset(src, out, format=fmt, mode=mode, progress=progress,
                                  stop=_Stop(ctx))  # type: ignore[arg-type]

        for w in (self.src, self.src_browse, self.format, self.out, self.out_browse, self.mode):
            w.setEnabled(False)
        self.progress.setValue(0)
        self.progress.setFormat("Reading the dataset …")
        self.progress.setVisible(True)
        self.task = self.runner.submit(job, key=("import", str(src)))
        self.task.progressed.connect(self._on_progress)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.cancelled.connect(self._on_cancelled)
        self._validate()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(f"%p %  {message}")

    def _end(self) -> None:
        self.task = None
        self.progress.setVisible(False)
        for w in (self.src, self.src_browse, self.format, self.out, self.out_browse, self.mode):
            w.setEnabled(True)
        self._validate()

    def _on_finished(self, summary: ImportSummary) -> None:
        self._end()
        self.accept()
        self.imported.emit(summary)

    def _on_failed(self, message: str) -> None:
        self._end()
        message = message.partition(": ")[2] or message  # the task adds "TypeName: "
        log.error("import failed: %s", message)
        self.problem.setText(f"Nothing was imported: {message}")
        self.problem.setVisible(True)

    def _on_cancelled(self) -> None:
        self._end()
        self.problem.setText("Import cancelled; nothing was kept.")
        self.problem.setVisible(True)

    def reject(self) -> None:
        """Cancel: stops a running import first (its files are removed), else closes."""
        if self.task is not None:
            self.task.cancel()
            return
        super().reject()

    def done(self, result: int) -> None:  # noqa: D401 - Qt API
        self.runner.shutdown(30_000)
        super().done(result)


def _row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


# ---------------------------------------------------------------------------- the action

def import_dataset(window: MainWindow) -> ImportDialog | None:
    """File → Import dataset…: show the dialog (non-modal); the result is reported and the
    imported folder offered for opening when it finishes. When the open project is itself in
    another format, it is the suggested source and its unsaved edits are saved first."""
    previous = getattr(window, "_import_dialog", None)
    if previous is not None and previous.isVisible():
        previous.raise_()
        previous.activateWindow()
        return previous
    start = None
    project = getattr(window, "project", None)
    if project is not None and getattr(project, "format", "voc") != "voc":
        start = Path(project.root)  # a YOLO/COCO … project is open: offer to import it
        if window.documents.dirty():  # the import reads the files: unsaved edits first
            from workbench.gui.exporting import _save_unsaved

            if not _save_unsaved(window):
                return None
    dialog = ImportDialog(start, window)
    dialog.imported.connect(lambda summary: report(window, summary))
    window._import_dialog = dialog  # noqa: SLF001 - the window keeps its dialogs alive
    dialog.open()
    return dialog


def summary_lines(summary: ImportSummary) -> list[str]:
    how = ", ".join(f"{n} {what}" for n, what in ((summary.linked, "hard-linked"),
                                                  (summary.symlinked, "symlinked"),
                                                  (summary.copied, "copied")) if n)
    lines = [f"Imported {summary.images} images ({summary.annotated} annotated, "
             f"{summary.objects} objects, {len(summary.classes)} classes) from "
             f"{summary.format.upper()} to {summary.out}.",
             f"Images: {how or 'none'}."]
    if summary.splits:
        lines.append("Split: " + ", ".join(f"{k} {len(v)}" for k, v in summary.splits.items())
                     + ".")
    if summary.skipped_objects:
        lines.append(f"Skipped {summary.skipped_objects} object(s) with errors.")
    if summary.problems:
        lines.append(f"{len(summary.problems)} problem(s):")
        lines += [f"• {p}" for p in summary.problems[:8]]
        if len(summary.problems) > 8:
            lines.append("…")
    if summary.identical:
        lines.append("Read back: identical.")
    else:
        lines.append(f"Warning: read back with {len(summary.differences)} difference(s):")
        lines += [f"• {d}" for d in summary.differences[:8]]
    return lines


def report(window: MainWindow, summary: ImportSummary) -> bool:
    """Show the result and offer to open the folder; True when it was opened."""
    short = (f"Imported {summary.images} images, {summary.objects} objects from "
             f"{summary.format.upper()} to {summary.out}")
    log.info(short)
    window.statusBar().showMessage(short, 15000)
    text = "\n".join(summary_lines(summary)) + "\n\nOpen the imported folder now?"
    if dialogs.ask_yes_no(window, TITLE, text, yes="Open Folder"):
        return bool(window.open_folder(summary.out))  # on a worker (no GUI-thread scan)
    return False
