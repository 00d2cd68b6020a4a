"""The Detections panel's "pre-label folder" box: progress, cancel, and keeping the window in step.

Runs :func:`workbench.engine.prelabel.prelabel` on a worker thread. Images open in the window
with unsaved edits are skipped. Every file written is published on the window's hub
(:class:`~workbench.gui.hub.AnnotationsWritten`, source ``"prelabel"``): the window reloads an
open document without unsaved edits and the file dock shows the new suggestions at once (an
image edited meanwhile is never overwritten: its next save asks).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout,
)

from workbench.gui.jobs import Job

if TYPE_CHECKING:
    from workbench.gui.panels.detections import DetectionsPanel

log = logging.getLogger(__name__)


class PrelabelBox(QGroupBox):
    """Start / cancel a folder-wide pre-labeling run and show its progress."""

    finished = Signal(object)  #: the PrelabelFinished event (or None after a failure)

    def __init__(self, panel: DetectionsPanel) -> None:
        super().__init__("Pre-label the folder")
        self.panel = panel
        self.task: Job | None = None
        self._running = False
        self.steps: list[Any] = []
        self.include_annotated = QCheckBox("Also annotated images")
        self.include_annotated.setToolTip("Add suggestions to images people annotated too; "
                                          "their boxes are kept as they are")
        self.start_button = QPushButton("Pre-label")
        self.start_button.setToolTip("Run the detector on every image without annotations and "
                                     "save its detections as suggestions (model-made boxes, "
                                     "marked until a person accepts or edits them)")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.include_annotated)
        row = QHBoxLayout()
        row.addWidget(self.start_button, 1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)

    @property
    def running(self) -> bool:
        """From start() until the box has handled the thread's end (buttons reset). The thread
        itself stops running a moment before its queued ``finished`` reaches this thread."""
        return self._running

    def start(self) -> bool:
        panel, window = self.panel, self.panel.window
        if panel.detector is None or self.running:
            return False
        project = window.project
        if project is None:
            self.message.setText("Open a folder first.")
            return False
        from workbench.engine.prelabel import prelabel

        skip = [d.image_path for d in window.documents.dirty()]  # open with unsaved edits
        detector, settings = panel.detector, panel.settings()
        include = self.include_annotated.isChecked()
        self.steps = []
        # a long job: the panel's nicer runner; the engine generator watches ctx.stop and ends
        # with its summary event, delivered after a cancel too (drain)
        self.task = panel.long_jobs.submit(
            lambda ctx: prelabel(detector, project, settings, include_annotated=include,
                                 skip=skip, stop=ctx.stop),
            name="Pre-labeling", drain=True)
        self.task.yielded.connect(self._on_event)
        self.task.failed.connect(self._on_failed)
        for end in (self.task.finished, self.task.failed, self.task.cancelled):
            end.connect(self._on_thread_finished)
        self.progress.setRange(0, max(len(list(project.entries)), 1))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.message.setText("Starting…")
        self._running = True
        return True

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.message.setText("Cancelling after the current image…")

    def _on_event(self, event: Any) -> None:
        from workbench.engine.prelabel import PrelabelFinished

        if isinstance(event, PrelabelFinished):
            verb = "Cancelled" if event.cancelled else "Done"
            self.message.setText(
                f"{verb}: {event.written} images got {event.suggestions} suggestions; "
                f"{event.skipped} skipped (annotated, unreadable or open with edits).")
            self.panel.say(self.message.text())
            self.finished.emit(event)
            return
        self.steps.append(event)
        self.progress.setValue(event.done)
        self.message.setText(f"{event.done}/{event.total} {event.image.name}: {event.action}"
                             + (f" ({event.suggestions})" if event.suggestions else ""))
        if event.annotation is not None:
            self._written(Path(event.xml))

    def _written(self, label_path: Path) -> None:
        """Tell the window (and any panel) that ``label_path`` was written."""
        from workbench.gui.hub import AnnotationsWritten, hub_of

        hub = hub_of(self.panel.window)
        if hub is not None:
            hub.publish(AnnotationsWritten((label_path,), "prelabel"))

    def _on_failed(self, message: str) -> None:
        # the status bar has it already (workbench.gui.jobs.job_errors)
        self.message.setText(f"Pre-labeling stopped: {message}")
        self.finished.emit(None)

    def _on_thread_finished(self, *_args: object) -> None:
        self._running = False
        self.start_button.setEnabled(self.panel.detector is not None)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
