"""The "Label next" panel: the project's unlabeled images, most uncertain for the model first.

* **Model** — the checkpoint the Detections panel loaded (:class:`~workbench.gui.hub.
  CheckpointLoaded`), else the best checkpoint of the last training run
  (:class:`~workbench.gui.hub.TrainingFinished`), or one chosen with "Model…".
* **Rank** runs the model over every unlabeled image (no annotation file yet) on a nicer
  background :class:`~workbench.gui.jobs.JobRunner`, with the checkpoint's own NMS and top-k and
  scores above ``lo / 2``, and scores each image with
  :func:`workbench.core.uncertainty.image_uncertainty` (detections in the score band
  ``[lo, hi]`` plus one ``1 - margin`` per pair of classes claiming the same object); the list
  is sorted by :func:`workbench.core.uncertainty.rank` (ties by name).
* **Label them in that order** — a click or Enter on a row opens the image in the window;
  "Next" opens the row after the current one. An image whose annotation gets written (saved,
  pre-labeled) leaves the list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView, QDoubleSpinBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
    QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from workbench.core.detections import ImageDetections
from workbench.core.uncertainty import DEFAULT_BAND, Uncertainty, image_uncertainty, rank
from workbench.gui.hub import (
    AnnotationsWritten, CheckpointLoaded, ImageChanged, TrainingFinished, hub_of,
)
from workbench.gui.jobs import Job, JobContext, JobRunner
from workbench.gui.panels.files import file_state
from workbench.gui.panel_api import PanelWindow
from workbench.gui.workers.priority import BACKGROUND_NICENESS

log = logging.getLogger(__name__)

#: ``source(checkpoint, image paths, lo, ctx)`` → ``(path, detections)`` per image, in a job.
DetectionSource = Callable[[Path, list[Path], float, JobContext],
                           Iterable[tuple[Path, ImageDetections]]]


def engine_detections(checkpoint: Path, paths: list[Path], lo: float,
                      ctx: JobContext) -> Iterator[tuple[Path, ImageDetections]]:
    """The checkpoint's detections (its NMS / top-k, scores ``> lo / 2``) on ``paths``; an
    image the decoder refuses is logged and left out. Runs inside the job (imports torch)."""
    from workbench.gui.workers.detectors import shared_detector

    # the model the panels have loaded (loaded here once otherwise); a cache of its own
    detector = shared_detector(checkpoint).with_own_cache(1)
    settings = detector.settings.replace(score_threshold=lo / 2)
    for path, det in detector.detect_many(
            paths, settings, on_refused=lambda p, msg: log.warning("label next: %s", msg)):
        ctx.check()
        yield path, det


def unlabeled(project: Any, entries: Iterable[Any], ctx: JobContext | None = None) -> list[Path]:
    """Image paths of ``entries`` the Files dock calls unlabeled: no annotation, or one without
    boxes that is not marked verified (:func:`workbench.gui.panels.files.file_state`); an
    annotation that cannot be read counts as labeled (its problems come first). Reads files:
    run it in a job."""
    out = []
    for entry in entries:
        if ctx is not None:
            ctx.check()
        if not entry.has_xml:
            out.append(Path(entry.image_path))
            continue
        try:
            annotation, problems = project.load(entry)
        except (OSError, ValueError) as exc:
            log.info("label next: %s left out (%s)", entry.image_path, exc)
            continue
        if file_state(annotation, problems) == "unlabeled":
            out.append(Path(entry.image_path))
    return out


class RankTable(QTableWidget):
    """The ranking; Enter / Return on a row emits :attr:`entered` (the row)."""

    entered = Signal(int)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentRow() >= 0:
            self.entered.emit(self.currentRow())
            event.accept()
            return
        super().keyPressEvent(event)


class LabelNextPanel(QWidget):
    """Dock contents; ``window``: :class:`~workbench.gui.panel_api.PanelWindow`."""

    ranked = Signal()   #: the list shows a new ranking
    failed = Signal(str)

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.window = window
        self.jobs = JobRunner(self, niceness=BACKGROUND_NICENESS)
        self.source: DetectionSource = engine_detections
        self.checkpoint: Path | None = None
        self.ranking: list[tuple[Uncertainty, Path]] = []
        self.task: Job | None = None
        self._build_ui()
        hub = hub_of(window)
        if hub is not None:
            hub.subscribe(CheckpointLoaded, lambda e: self.set_checkpoint(e.path), owner=self)
            hub.subscribe(TrainingFinished, self._on_training_finished, owner=self)
            hub.subscribe(AnnotationsWritten, self._on_annotations_written, owner=self)
            hub.subscribe(ImageChanged, self._on_image_changed, owner=self)
            loaded, trained = hub.last(CheckpointLoaded), hub.last(TrainingFinished)
            if loaded is not None:
                self.set_checkpoint(loaded.path)
            elif trained is not None:
                self._on_training_finished(trained)
        window.project_changed.connect(self._on_project_changed)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._update_buttons()

    def _build_ui(self) -> None:
        self.model_label = QLabel("No model: load a checkpoint in Detections, train one, or "
                                  "choose one with Model…")
        self.model_label.setWordWrap(True)
        self.model_button = QPushButton("Model…")
        self.model_button.clicked.connect(self._on_model_clicked)
        self.lo = QDoubleSpinBox()
        self.hi = QDoubleSpinBox()
        for box, value in ((self.lo, DEFAULT_BAND[0]), (self.hi, DEFAULT_BAND[1])):
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setDecimals(2)
            box.setValue(value)
            box.setToolTip("Detections scoring inside [lo, hi] count as uncertain")
        self.rank_button = QPushButton("Rank unlabeled")
        self.rank_button.setToolTip("Run the model on every image without an annotation and "
                                    "list them, most uncertain first")
        self.rank_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.table = RankTable(0, 2)
        self.table.setHorizontalHeaderLabels(["image", "U"])
        self.table.horizontalHeaderItem(1).setToolTip(
            "Uncertainty: detections with a score in [lo, hi], plus 1 − margin for each pair of "
            "classes claiming the same object (IoU ≥ 0.5)")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(200)
        self.table.cellClicked.connect(lambda row, _col: self.open_row(row))
        self.table.entered.connect(self.open_row)
        self.next_button = QPushButton("Next")
        self.next_button.setToolTip("Open the next image of the list")
        self.next_button.clicked.connect(self.next)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(self.model_label, 1)
        row.addWidget(self.model_button)
        lay.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Score band"))
        row.addWidget(self.lo)
        row.addWidget(QLabel("to"))
        row.addWidget(self.hi)
        row.addStretch(1)
        lay.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.rank_button, 1)
        row.addWidget(self.cancel_button)
        lay.addLayout(row)
        lay.addWidget(self.progress)
        lay.addWidget(self.table)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.next_button)
        lay.addLayout(row)

    def _update_buttons(self) -> None:
        running = self.task is not None and not self.task.done
        self.rank_button.setEnabled(self.checkpoint is not None and not running)
        self.cancel_button.setEnabled(running)
        self.next_button.setEnabled(any(not self.table.isRowHidden(r)
                                        for r in range(self.table.rowCount())))

    # -- model ----------------------------------------------------------------------------------
    def set_checkpoint(self, path: str | Path) -> None:
        self.checkpoint = Path(path)
        self.model_label.setText(f"Model: <b>{self.checkpoint.name}</b> "
                                 f"({self.checkpoint.parent.name})")
        self.model_label.setToolTip(str(self.checkpoint))
        self._update_buttons()

    def _on_training_finished(self, event: TrainingFinished) -> None:
        path = event.best or event.last
        if path is not None:
            self.set_checkpoint(path)

    def _on_model_clicked(self) -> None:
        start = str(self.checkpoint.parent) if self.checkpoint else ""
        path, _ = QFileDialog.getOpenFileName(self, "Model for ranking", start,
                                              "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.set_checkpoint(path)

    # -- ranking --------------------------------------------------------------------------------
    def unlabeled_entries(self) -> list[Any]:
        """Entries that may be unlabeled: without an annotation file, or with one (to be read
        in the job, :func:`unlabeled`)."""
        project = self.window.project
        return [] if project is None else list(project.entries)

    def band(self) -> tuple[float, float]:
        return float(self.lo.value()), float(self.hi.value())

    def start(self) -> bool:
        """Rank the unlabeled images on the job runner; False (with a message) when it cannot."""
        project, checkpoint = self.window.project, self.checkpoint
        if checkpoint is None or (self.task is not None and not self.task.done):
            return False
        lo, hi = self.band()
        if lo > hi:
            self.status.setText(f"The band's lower end {lo:.2f} is above its upper end {hi:.2f}.")
            return False
        entries = self.unlabeled_entries()
        if project is None or not entries:
            self.status.setText("No images in this folder.")
            return False
        source = self.source

        def job(ctx: JobContext) -> list[tuple[Uncertainty, Path]]:
            paths = unlabeled(project, entries, ctx)
            names = {p: project.display_name(p) for p in paths}
            scores: list[Uncertainty] = []
            by_name: dict[str, Path] = {}
            for done, (path, det) in enumerate(source(checkpoint, paths, lo, ctx), 1):
                name = names.get(path, path.name)
                by_name[name] = path
                scores.append(image_uncertainty(name, det.boxes, det.scores, det.labels,
                                                (lo, hi)))
                ctx.progress(done / len(paths), name)
            return [(u, by_name[u.image]) for u in rank(scores)]

        self.task = self.jobs.submit(job, key="rank", name="Ranking unlabeled images")
        self.task.progressed.connect(self._on_progress)
        self.task.finished.connect(self.show_ranking)
        self.task.failed.connect(self._on_failed)
        for end in (self.task.finished, self.task.failed, self.task.cancelled):
            end.connect(self._on_task_ended)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setText(f"Running {checkpoint.name} on the unlabeled images…")
        self._update_buttons()
        return True

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_progress(self, fraction: float, name: str) -> None:
        self.progress.setValue(int(round(fraction * 1000)))
        self.progress.setFormat(f"%p% {name}")

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"Ranking stopped: {message}")
        self.failed.emit(message)

    def _on_task_ended(self, *_args: Any) -> None:
        self.progress.setVisible(False)
        if self.task is not None and self.task.outcome == "cancelled":
            self.status.setText("Ranking cancelled.")
        self._update_buttons()

    def show_ranking(self, ranking: list[tuple[Uncertainty, Path]]) -> None:
        self.ranking = list(ranking)
        if not self.ranking:
            self.table.setRowCount(0)
            self.status.setText("No unlabeled images in this folder.")
            self._update_buttons()
            self.ranked.emit()
            return
        self.table.setRowCount(len(self.ranking))
        for row, (u, path) in enumerate(self.ranking):
            name = QTableWidgetItem(u.image)
            name.setToolTip(f"{path}\n{u.describe()}")
            score = QTableWidgetItem(f"{u.score:.2f}")
            score.setToolTip(u.describe())
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, score)
        self.status.setText(f"{len(self.ranking)} unlabeled images, most uncertain first "
                            f"(band [{self.lo.value():.2f}, {self.hi.value():.2f}]).")
        self._select_current()
        self._update_buttons()
        self.ranked.emit()

    def names(self) -> list[str]:
        """Image names of the rows still listed, in order (tests)."""
        return [self.table.item(r, 0).text() for r in range(self.table.rowCount())
                if not self.table.isRowHidden(r)]

    # -- going to images ------------------------------------------------------------------------
    def open_row(self, row: int) -> bool:
        """Show the image of ``row`` in the window."""
        if not 0 <= row < len(self.ranking) or self.table.isRowHidden(row):
            return False
        self.table.setCurrentCell(row, 0)
        target = self.window.session.row_of(self.ranking[row][1])
        if target is None:
            self.status.setText(f"{self.ranking[row][0].image} is no longer in the project.")
            return False
        return bool(self.window.show_row(target))

    def next(self) -> bool:
        """Open the first listed row after the current one (the first row when none is)."""
        for row in range(self.table.currentRow() + 1, self.table.rowCount()):
            if not self.table.isRowHidden(row):
                return self.open_row(row)
        self.status.setText("End of the list.")
        return False

    def _row_of_path(self, path: Path) -> int | None:
        return next((r for r, (_u, p) in enumerate(self.ranking) if p == path), None)

    def _select_current(self) -> None:
        current = self.window.current_image_path()
        row = self._row_of_path(Path(current)) if current is not None else None
        if row is not None:
            self.table.setCurrentCell(row, 0)

    def _on_image_changed(self, event: ImageChanged) -> None:
        if event.path is not None and (row := self._row_of_path(Path(event.path))) is not None:
            self.table.setCurrentCell(row, 0)

    def _on_project_changed(self) -> None:
        """Another folder: the ranking (and a ranking under way) belonged to the old one — its
        rows would open nothing, and "No unlabeled images in this folder." stayed beside a
        folder of unlabeled video frames."""
        task, self.task = self.task, None
        if task is not None and not task.done:
            task.finished.disconnect(self.show_ranking)
            task.cancel()
        self.ranking = []
        self.table.setRowCount(0)
        self.progress.setVisible(False)
        self.status.setText("")
        self._update_buttons()

    def _on_annotations_written(self, event: AnnotationsWritten) -> None:
        """Images that got an annotation are labeled now: they leave the list."""
        if not self.ranking:
            return
        session = self.window.session
        written = {Path(session.entries[r].image_path) for p in event.paths
                   for r in session.rows_of_label(p)}
        for row, (_u, path) in enumerate(self.ranking):
            if path in written:
                self.table.setRowHidden(row, True)
        self._update_buttons()

    def shutdown(self) -> None:
        self.jobs.shutdown()
