"""The Runs panel: compare training runs of the open project.

* **List** — every run folder of the project (``<project>/runs/*/metrics.jsonl``, where the
  Train panel writes them; :func:`workbench.core.runs_compare.find_runs`), with its model and
  epochs. Check two or more to compare them; each run keeps one colour (the square beside its
  name) in every plot.
* **Plots** — the checked runs' training loss (mean per completed epoch) and validation mAP@0.5
  per evaluated epoch, overlaid, x = epoch numbered from 1 as in the Train panel; the legend
  names the runs.
* **Per-class AP** — the checked runs' AP per class side by side (columns A, B, … in the order
  listed; header tooltips name the run and the epoch) and the differences to run A, from each
  run's best or last evaluated epoch of ``metrics.jsonl`` (the trainer logs the per-class AP of
  every evaluated epoch there), VOC2007 11-point or VOC2010+ all-point.

Reading the files runs on the panel's :class:`~workbench.gui.jobs.JobRunner` (latest request
wins); the list is read again when a project opens (:class:`~workbench.gui.hub.ProjectOpened`),
when a training run ends (:class:`~workbench.gui.hub.TrainingFinished`) and on "Refresh".
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout,
    QWidget,
)

from workbench.core.runs_compare import (
    AP_METRICS, RunCurves, compare_ap, find_runs, read_run,
)
from workbench.gui.hub import ProjectOpened, TrainingFinished, hub_of
from workbench.gui.jobs import JobContext, JobRunner
from workbench.gui.panel_api import PanelWindow
from workbench.gui.panels.runs_plots import ApTable, RunsPlots, letter, run_color, short_names

log = logging.getLogger(__name__)

#: What one read of the project's runs gives: ``(folder, curves or the error message)``.
RunListing = list[tuple[Path, RunCurves | str]]


def read_runs(root: Path, ctx: JobContext | None = None) -> RunListing:
    """Every run of the project at ``root``; an unreadable one carries its error message."""
    folders = find_runs(root)
    out: RunListing = []
    for i, folder in enumerate(folders):
        if ctx is not None:
            ctx.check()
            ctx.progress(i / max(len(folders), 1), folder.name)
        try:
            out.append((folder, read_run(folder)))
        except (OSError, ValueError) as exc:
            out.append((folder, str(exc)))
    return out


def _swatch(color: str) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(color))
    return QIcon(pix)


def run_line(run: RunCurves) -> str:
    """A run's row in the list: its folder name, epochs and best VOC07 mAP ("r2 · 3 epochs ·
    best mAP 0.820"), so that runs can be told apart before they are checked (the row held
    the name alone; the rest was in the tooltip)."""
    parts = [run.name]
    if run.loss_epochs:
        n = len(run.loss_epochs)
        parts.append(f"{n} epoch{'' if n == 1 else 's'}")
    best = run.best_epoch()
    if best is not None:
        parts.append(f"best mAP {run.map_at(best):.3f}")
    return " · ".join(parts)


class RunsPanel(QWidget):
    """Dock contents; ``window``: :class:`~workbench.gui.panel_api.PanelWindow`."""

    runs_read = Signal()      #: the list was (re)filled from disk
    compared = Signal()       #: plots and table show the checked runs

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.window = window
        self.jobs = JobRunner(self)
        self.listing: RunListing = []
        self._build_ui()
        hub = hub_of(window)
        if hub is not None:
            hub.subscribe(ProjectOpened, lambda _e: self.refresh(), owner=self)
            hub.subscribe(TrainingFinished, lambda _e: self.refresh(), owner=self)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.refresh()

    def _build_ui(self) -> None:
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.list = QListWidget()
        self.list.setMinimumHeight(64)
        self.list.setToolTip("Check two or more runs to compare them")
        self.list.itemChanged.connect(lambda _item: self.update_comparison())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the project's runs/ folder again")
        self.refresh_button.clicked.connect(self.refresh)
        self.epoch_box = QComboBox()
        self.epoch_box.addItem("best epoch", "best")
        self.epoch_box.addItem("last epoch", "last")
        self.epoch_box.setToolTip("Per-class AP of each run's best evaluated epoch (highest "
                                  "VOC2007 mAP) or its last evaluated epoch")
        self.metric_box = QComboBox()
        for key, name in AP_METRICS.items():
            self.metric_box.addItem("11-point" if key == "voc07" else "all-point", key)
            self.metric_box.setItemData(self.metric_box.count() - 1, name,
                                        Qt.ItemDataRole.ToolTipRole)
        self.metric_box.setToolTip("AP variant of the mAP plot and the table")
        for box in (self.epoch_box, self.metric_box):
            box.currentIndexChanged.connect(lambda _i: self.update_comparison())
        self.plots = RunsPlots()
        self.table = ApTable()
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.status)
        lay.addWidget(self.list)
        row = QHBoxLayout()
        row.addWidget(self.refresh_button)
        row.addWidget(self.epoch_box)
        row.addWidget(self.metric_box)
        lay.addLayout(row)
        lay.addWidget(self.legend)
        lay.addWidget(self.plots)
        lay.addWidget(QLabel("Per-class AP (differences to run A)"))
        lay.addWidget(self.table)

    # -- reading --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the open project's runs on the job runner (latest request wins)."""
        project = self.window.project
        if project is None:
            self.status.setText("Open a folder to see its training runs.")
            self._fill([])
            return
        root = Path(project.root)
        self.status.setText("Reading runs…")
        job = self.jobs.submit(lambda ctx: read_runs(root, ctx), key="runs", name="Reading runs")
        job.finished.connect(self._fill)
        job.failed.connect(lambda msg: self.status.setText(f"Cannot read the runs: {msg}"))

    def _fill(self, listing: RunListing) -> None:
        checked = set(self.checked_names())
        self.listing = listing
        self.list.blockSignals(True)
        self.list.clear()
        for index, (folder, run) in enumerate(listing):
            item = QListWidgetItem(folder.name)
            item.setData(Qt.ItemDataRole.UserRole, index)
            if isinstance(run, str):
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                item.setText(f"{folder.name} (unreadable)")
                item.setToolTip(run)
            else:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if folder.name in checked
                                   else Qt.CheckState.Unchecked)
                item.setIcon(_swatch(run_color(index)))
                item.setText(run_line(run))
                state = "finished" if run.finished else "not finished"
                item.setToolTip(f"{folder}\n{run.model or 'unknown model'}, "
                                f"{len(run.loss_epochs)} epochs, {len(run.map_epochs)} evaluated"
                                f", {state}")
            self.list.addItem(item)
        self.list.blockSignals(False)
        project = self.window.project
        if project is not None:
            where = Path(project.root) / "runs"
            n = len(listing)
            self.status.setText(f"{n} run{'' if n == 1 else 's'} in {where}" if n
                                else f"No training runs in {where} yet.")
        self.runs_read.emit()
        self.update_comparison()

    # -- comparing ------------------------------------------------------------------------------
    def checked_names(self) -> list[str]:
        return [self.listing[self.list.item(i).data(Qt.ItemDataRole.UserRole)][0].name
                for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def checked_runs(self) -> list[tuple[int, RunCurves]]:
        """``(colour index, curves)`` of the checked runs, in list order."""
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                index = item.data(Qt.ItemDataRole.UserRole)
                run = self.listing[index][1]
                if isinstance(run, RunCurves):
                    out.append((index, run))
        return out

    def update_comparison(self) -> None:
        runs = self.checked_runs()
        metric = str(self.metric_box.currentData())
        self.plots.show_runs(runs, metric)
        if runs:
            table = compare_ap([r for _i, r in runs], str(self.epoch_box.currentData()), metric)
            self.table.show_comparison(table)
            shown = short_names([run.name for _i, run in runs])
            self.legend.setText("&nbsp;&nbsp; ".join(
                f"<b>{letter(i)}</b>&nbsp;<span style='color:{run_color(index)}'>■</span>"
                f"&nbsp;{name}" for i, ((index, _run), name) in enumerate(zip(runs, shown))))
            self.legend.setToolTip("\n".join(
                f"{letter(i)}: {run.name}, AP of epoch {e if e is not None else '— (never evaluated)'}"
                for i, ((_index, run), e) in enumerate(zip(runs, table.epochs))))
        else:
            self.table.show_comparison(None)
            self.legend.setText("Check runs in the list to compare them."
                                if self.listing else "")
        self.compared.emit()

    def shutdown(self) -> None:
        self.jobs.shutdown()
