"""File → Export dataset…: save unsaved edits, ask (:func:`dialogs.choose_export`), export with
the core function behind ``workbench export``, read the export back and report.

Like the project-wide class rename (:mod:`workbench.gui.class_ops`), unsaved edits are saved
first so the export holds what the window shows; a file with read errors that the user has not
agreed to overwrite stops the export instead.

The export itself (a fresh scan, writing every file, reading the export back) runs on the
window's job runner (:mod:`workbench.gui.jobs`): on the 800-image sample it took 8–18 s, all
of it on the GUI thread before. The action is disabled until the job ends; the summary dialog
comes when it does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from workbench.core.wording import count
from workbench.gui import dialogs
from workbench.gui.export_dialog import FORMATS, ExportChoice, destination_problem

if TYPE_CHECKING:
    from workbench.core.export import ExportSummary
    from workbench.gui.jobs import Job
    from workbench.gui.main_window import MainWindow

log = logging.getLogger(__name__)
TITLE = "Export dataset"


def export_dataset(window: MainWindow) -> Job | None:
    """The whole action; the running export :class:`~workbench.gui.jobs.Job` (its ``finished``
    carries the :class:`~workbench.core.export.ExportSummary`), else None."""
    if window.project is None:
        return None
    choice = dialogs.choose_export(window, window.project, getattr(window, "_export_choice", None))
    if choice is None:
        return None
    window._export_choice = choice  # the next export starts from these answers
    if not _save_unsaved(window):
        return None
    problem = destination_problem(window.project, choice.out, choice.overwrite)
    if problem:
        window.statusBar().showMessage(f"Export refused: {problem}", 10000)
        dialogs.show_error(window, TITLE, f"Nothing was exported.\n\n{problem}")
        return None
    return _run(window, choice)


def _save_unsaved(window: MainWindow) -> bool:
    window.saver.timer.stop()
    window.saver.flush()  # background writes first (gui/save_queue.py)
    for doc in window.documents.dirty():
        if doc.needs_confirmation:
            text = (f"{doc.xml_path.name} has unsaved changes and could not be read completely. "
                    "Save it with Ctrl+S (or undo the changes) before exporting.")
            window.statusBar().showMessage(f"Export cancelled: {text}", 10000)
            dialogs.show_error(window, TITLE, f"Nothing was exported.\n\n{text}")
            return False
        try:
            doc.save()
        except OSError as exc:
            window.statusBar().showMessage(f"Export cancelled: could not save "
                                           f"{doc.xml_path.name}: {exc}", 10000)
            dialogs.show_error(window, TITLE, f"Nothing was exported: could not save "
                                              f"{doc.xml_path}:\n{exc}")
            return False
        window.on_document_saved(doc)
    return True


def _run(window: MainWindow, choice: ExportChoice) -> Job:
    label = dict(FORMATS)[choice.fmt]
    window.statusBar().showMessage(f"Exporting {label} to {choice.out} …")
    images_dir, annotations_dir = window.project.images_dir, window.project.annotations_dir

    def work(_ctx: object) -> tuple[ExportSummary, bool]:  # on a worker
        # imported here, on the worker: the first export no longer imports them on the GUI thread
        from workbench.core.export import (
            export_project,
            pixel_mismatches,
            read_export,
            same_records,
        )
        from workbench.core.project import Project

        # A fresh scan: the window's project snapshot predates files written this session.
        project = Project.open(images_dir, annotations_dir)
        summary = export_project(project, choice.out, choice.fmt,
                                 val_fraction=choice.val_fraction, seed=choice.seed,
                                 overwrite=choice.overwrite)
        yolo = choice.fmt == "yolo"
        identical = same_records(summary.source, read_export(summary.out, choice.fmt),
                                 tol=0.01 if yolo else 1e-9, compare_difficult=not yolo) \
            and not pixel_mismatches(summary)  # written images: sizes and pixel means
        return summary, identical

    window.actions.export.setEnabled(False)
    job = window.jobs.submit(work, name=f"Export to {choice.out}")

    def failed(message: str) -> None:  # the status bar has it (workbench.gui.jobs)
        dialogs.show_error(window, TITLE, f"Export to {choice.out} failed:\n\n{message}")

    def ended(*_args: object) -> None:
        window.actions.export.setEnabled(window.project is not None)

    for signal in (job.finished, job.failed, job.cancelled):
        signal.connect(ended)
    job.failed.connect(failed)
    job.finished.connect(lambda result: _report(window, choice, label, *result))
    return job


def _report(window: MainWindow, choice: ExportChoice, label: str, summary: ExportSummary,
            identical: bool) -> None:
    short = (f"Exported {count(summary.images, 'image')}, {count(summary.objects, 'object')} "
             f"({count(len(summary.classes), 'class')}) as {label} to {summary.out}")
    log.info(short)
    window.statusBar().showMessage(short, 15000)
    lines = [short + ".",
             f"Split (seed {choice.seed}): {len(summary.splits['train'])} train, "
             f"{len(summary.splits['val'])} val."]
    if summary.skipped_objects:
        lines.append(f"Skipped {count(summary.skipped_objects, 'object')} with errors.")
    if summary.rotated_images or summary.transcoded_images:
        lines.append(f"{count(summary.rotated_images, 'image')} rotated per EXIF, "
                     f"{summary.transcoded_images} converted to JPEG.")
    if summary.problems:
        lines.append(f"{count(len(summary.problems), 'problem')}:")
        lines += [f"• {p}" for p in summary.problems[:8]]
        if len(summary.problems) > 8:
            lines.append("…")
    lines.append("Read back: identical." if identical else
                 "Warning: the export does not read back identically.")
    (dialogs.show_info if identical else dialogs.show_error)(window, TITLE, "\n".join(lines))
