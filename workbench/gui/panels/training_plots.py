"""Live training curves (pyqtgraph): every loss term raw + smoothed, learning rate, mAP per epoch
(VOC2007 11-point and VOC2010+ all-point), and a per-class AP table.

:class:`TrainingHistory` is the plain record the plots draw (it survives stop / resume: a resumed
run appends to it, x = global step). Redraws are coalesced by a timer (at most
:attr:`TrainingPlots.REDRAW_MS` apart), so plotting cost does not grow with the step rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.panels.pr_plot import plot_widget

#: The mAP curves: VOC2007 11-point, VOC2010+ all-point.
MAP07_COLOR, MAP10_COLOR = "#4e79a7", "#e15759"
#: Exponential smoothing weight (TensorBoard-style, bias-corrected).
SMOOTHING = 0.9
TERM_COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948"]
#: readable plots (issue 14: ~70 px squashed); a short window scrolls the panel instead
PLOT_MIN_HEIGHT = 180
TOTAL_COLOR = "#dddddd"


def smooth(values: np.ndarray, weight: float = SMOOTHING) -> np.ndarray:
    """Bias-corrected exponential moving average of ``(N,)`` values (NaN-free input)."""
    out = np.empty(len(values), dtype=np.float64)
    acc = 0.0
    for i, v in enumerate(values):
        acc = weight * acc + (1 - weight) * float(v)
        out[i] = acc / (1 - weight ** (i + 1))
    return out


def _ema_state(values: list[float], weight: float = SMOOTHING) -> tuple[float, int]:
    """The running (accumulator, count) of :func:`smooth` over the finite ``values``."""
    acc, n = 0.0, 0
    for v in values:
        if math.isfinite(v):
            acc, n = weight * acc + (1 - weight) * v, n + 1
    return acc, n


class IntegerAxis(pg.AxisItem):
    """An axis of whole numbers (steps, epochs): ticks only on integers, never closer than 1
    (pyqtgraph's own spacing put ticks at 0.5 and 2.5 epochs on short runs)."""

    def tickSpacing(self, minVal: float, maxVal: float,  # noqa: N802,N803 (pyqtgraph API)
                    size: float) -> list[tuple[float, float]]:
        levels = super().tickSpacing(minVal, maxVal, size)
        whole = [(float(s), float(o)) for s, o in levels
                 if s >= 1 and float(s).is_integer() and float(o).is_integer()]
        return whole or [(1.0, 0.0)]


@dataclass
class TrainingHistory:
    """Per-step and per-epoch numbers of one training (across stop/resume)."""

    steps: list[int] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)
    total: list[float] = field(default_factory=list)
    #: Smoothed copies of ``losses`` and ``total`` (key "total"), kept up to date step by step
    #: so a redraw costs the same at step 10 and step 100,000.
    smoothed: dict[str, list[float]] = field(default_factory=dict)
    _ema: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)
    lr: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)  # 1-based
    map_voc07: list[float] = field(default_factory=list)
    map_voc: list[float] = field(default_factory=list)
    ap_voc07: dict[str, float] = field(default_factory=dict)
    ap_voc: dict[str, float] = field(default_factory=dict)

    def add_step(self, event: Any) -> None:
        if self.steps and event.global_step <= self.steps[-1]:
            self._truncate(event.global_step)  # a resume from an earlier checkpoint
        self.steps.append(int(event.global_step))
        for name, value in event.losses.items():
            series = self.losses.setdefault(name, [math.nan] * (len(self.steps) - 1))
            series.append(float(value))
        for series in self.losses.values():
            if len(series) < len(self.steps):
                series.append(math.nan)
        self.total.append(float(event.total))
        self.lr.append(float(event.lr))
        for name, series in (*self.losses.items(), ("total", self.total)):
            self._smooth_append(name, series[-1])

    def _smooth_append(self, name: str, value: float) -> None:
        """Bias-corrected EMA (weight :data:`SMOOTHING`); NaN entries keep the last value."""
        acc, n = self._ema.get(name, (0.0, 0))
        out = self.smoothed.setdefault(name, [math.nan] * (len(self.steps) - 1))
        if math.isfinite(value):
            acc, n = SMOOTHING * acc + (1 - SMOOTHING) * value, n + 1
            self._ema[name] = (acc, n)
        out.append(acc / (1 - SMOOTHING ** n) if n else math.nan)

    def _truncate(self, global_step: int) -> None:
        keep = int(np.searchsorted(np.asarray(self.steps), global_step))
        del self.steps[keep:], self.total[keep:], self.lr[keep:]
        for series in (*self.losses.values(), *self.smoothed.values()):
            del series[keep:]
        self._ema = {name: _ema_state(series) for name, series in
                     (*self.losses.items(), ("total", self.total))}

    def add_epoch(self, event: Any) -> None:
        epoch = int(event.epoch) + 1
        if epoch in self.epochs:
            i = self.epochs.index(epoch)
            del self.epochs[i:], self.map_voc07[i:], self.map_voc[i:]
        self.epochs.append(epoch)
        self.map_voc07.append(float(event.map_voc07))
        self.map_voc.append(float(event.map_voc))
        self.ap_voc07 = dict(event.ap_voc07)
        self.ap_voc = dict(event.ap_voc)


class TrainingPlots(QTabWidget):
    """Tabs: Loss, Learning rate, mAP, Per-class AP."""

    REDRAW_MS = 200

    #: Milliseconds between building one plot and the next (each is ~70 ms of the GUI thread;
    #: built in one go with the panel they stalled the window 250 ms; issue 14).
    BUILD_GAP_MS = 40
    #: ... and between building one and showing it (its first paint in the pass after that)
    REVEAL_MS = 5
    #: Milliseconds before the first build: a zero-delay call ran in the same pass of the event
    #: loop as the panel's own build, in one gap with it (bench_gui_stalls: Train 148 ms)
    FIRST_MS = 15
    #: Plot tabs built in turns of their own after the panel: the one in front. The others are
    #: built when their tab is picked or a caller asks for them (issue 14, GUI stalls: each is
    #: ~20 ms of the GUI thread, 60-100 ms of stall on a loaded machine).
    QUEUED = ("loss",)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = TrainingHistory()
        pg.setConfigOptions(antialias=True)
        # The plots are built one per event-loop turn after the panel (or at once when asked
        # for: the properties below), so opening the panel does not freeze the window.
        self._boxes: dict[str, QWidget] = {}
        self._built: dict[str, Any] = {}
        self._hidden: set[str] = set()  # built, shown a turn later (_build)
        self.ap_table = QTableWidget(0, 3)
        self.ap_table.setHorizontalHeaderLabels(["class", "AP 11-point", "AP all-point"])
        # short headers (cut in a 1280 px window; issue 14): which VOC rule, in the tooltip
        for col, tip in ((1, "VOC2007 11-point interpolated AP"), (2, "VOC2010+ all-point AP")):
            self.ap_table.horizontalHeaderItem(col).setToolTip(tip)
        self.ap_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.ap_table.verticalHeader().setVisible(False)
        for name, title in (("loss", "Loss"), ("lr", "Learning rate"), ("map", "mAP")):
            self._boxes[name] = box = self._wrap(None)
            box.setMinimumHeight(PLOT_MIN_HEIGHT)
            self.addTab(box, title)
        self.addTab(self._wrap(self.ap_table), "Per-class AP")
        self._curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self.currentChanged.connect(self._on_tab_picked)
        self._build_next()

    def _build_next(self) -> None:
        """Build the next queued plot not built yet, and schedule the one after it."""
        for name in self.QUEUED:
            if name not in self._built:
                QTimer.singleShot(self.BUILD_GAP_MS if self._built else self.FIRST_MS, self,
                                  lambda n=name: (self._build(n, later=True),
                                                  self._build_next()))
                return

    def _on_tab_picked(self, index: int) -> None:
        """A plot tab picked before its plot was built: build it now."""
        for name, box in self._boxes.items():
            if self.widget(index) is box and name not in self._built:
                self._build(name)

    def _reveal(self, name: str) -> None:
        if name in self._hidden:
            self._hidden.discard(name)
            self._built[name]["plot"].show()

    def _build(self, name: str, later: bool = False) -> Any:
        """The plot ``name`` ("loss", "lr", "map") and its curves, built on first use.
        ``later`` (a turn of its own): shown a turn after it is built, so that its first paint
        (~25 ms for the tab in front) is not in the same pass of the event loop."""
        if name in self._built:
            self._reveal(name)  # asked for: shown now
            return self._built[name]
        if name == "loss":
            plot = self._plot("Loss (thin: raw, thick: smoothed)", "step", "loss")
            parts: dict[str, Any] = {"plot": plot}
        elif name == "lr":
            plot = self._plot("Learning rate", "step", "lr")
            parts = {"plot": plot, "curve": plot.plot(pen=pg.mkPen("#f28e2b", width=2))}
        else:
            # Epochs are numbered from 1 here as everywhere (metrics.jsonl, the CLI log).
            # The title is the legend: inside the plot a legend hid epochs in some corner (the
            # latest top right, a fine-tuned run's first top left, the middle of a short plot).
            plot = self._plot(
                f'<span style="color:{MAP07_COLOR}">● VOC2007 11-point</span>&nbsp;&nbsp;&nbsp;'
                f'<span style="color:{MAP10_COLOR}">■ VOC2010+ all-point</span>',
                "epoch", "val mAP@0.5")
            plot.getPlotItem().legend.setVisible(False)
            plot.setYRange(0, 1)
            parts = {"plot": plot,
                     "voc07": plot.plot(pen=pg.mkPen(MAP07_COLOR, width=2), symbol="o",
                                        symbolSize=6, symbolBrush=MAP07_COLOR,
                                        name="VOC2007 11-point"),
                     "voc10": plot.plot(pen=pg.mkPen(MAP10_COLOR, width=2), symbol="s",
                                        symbolSize=6, symbolBrush=MAP10_COLOR,
                                        name="VOC2010+ all-point")}
        layout = self._boxes[name].layout()
        assert layout is not None
        if later:
            plot.hide()
            self._hidden.add(name)
            QTimer.singleShot(self.REVEAL_MS, self, lambda n=name: self._reveal(n))
        layout.addWidget(plot)
        self._built[name] = parts
        return parts

    @property
    def loss_plot(self) -> pg.PlotWidget:
        return self._build("loss")["plot"]

    @property
    def lr_plot(self) -> pg.PlotWidget:
        return self._build("lr")["plot"]

    @property
    def map_plot(self) -> pg.PlotWidget:
        return self._build("map")["plot"]

    @property
    def _lr_curve(self) -> pg.PlotDataItem:
        return self._build("lr")["curve"]

    @property
    def _map07(self) -> pg.PlotDataItem:
        return self._build("map")["voc07"]

    @property
    def _map10(self) -> pg.PlotDataItem:
        return self._build("map")["voc10"]

    @staticmethod
    def _wrap(widget: QWidget | None) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        if widget is not None:
            lay.addWidget(widget)
        return box

    @staticmethod
    def _plot(title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
        # its context menu in a later turn (pr_plot.plot_widget; issue 14, GUI stalls)
        plot = plot_widget(title=title, axisItems={"bottom": IntegerAxis("bottom")})
        plot.setLabel("bottom", xlabel)
        plot.setLabel("left", ylabel)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.addLegend(offset=(-10, 10))
        # readable (issue 14: ~70 px squashed); a short window scrolls the panel instead
        plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        plot.setClipToView(True)  # long runs: draw only what is visible, decimated
        plot.setDownsampling(auto=True, mode="peak")
        # The axes draw the grid lines across the whole plot, three tick levels of them; the
        # third level (alpha 4/255 in the grid) is invisible yet cost ~9 of a plot's ~13 ms
        # repaint each time the range moved — every redraw while training. Two levels: ~4 ms.
        for side in ("left", "bottom"):
            plot.getAxis(side).setStyle(maxTickLevel=1)
        return plot

    # -- data -----------------------------------------------------------------------------------
    def clear(self) -> None:
        self.history = TrainingHistory()
        for raw, smoothed in self._curves.values():
            self.loss_plot.removeItem(raw)
            self.loss_plot.removeItem(smoothed)
        self._curves.clear()
        self.redraw()

    def add_steps(self, events: list[Any]) -> None:
        for event in events:
            self.history.add_step(event)
        self._schedule()

    def add_epoch(self, event: Any) -> None:
        self.history.add_epoch(event)
        self._schedule()

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    # -- drawing --------------------------------------------------------------------------------
    def _curve(self, name: str, index: int) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        if name not in self._curves:
            color = TOTAL_COLOR if name == "total" else TERM_COLORS[index % len(TERM_COLORS)]
            faint = QColor(color)
            faint.setAlpha(70)
            raw = self.loss_plot.plot(pen=pg.mkPen(faint, width=1))
            smoothed = self.loss_plot.plot(pen=pg.mkPen(color, width=2), name=name)
            self._curves[name] = (raw, smoothed)
        return self._curves[name]

    def redraw(self) -> None:
        """Push the history into the curves and the AP table (called by the timer)."""
        h = self.history
        x = np.asarray(h.steps, dtype=np.float64)
        series = {**h.losses, "total": h.total} if h.steps else {}
        for i, (name, values) in enumerate(series.items()):
            raw, smoothed = self._curve(name, i)
            y = np.asarray(values, dtype=np.float64)
            ok = np.isfinite(y)
            raw.setData(x[ok], y[ok])
            smoothed.setData(x[ok], np.asarray(h.smoothed[name], dtype=np.float64)[ok])
        self._lr_curve.setData(x, np.asarray(h.lr, dtype=np.float64))
        ex = np.asarray(h.epochs, dtype=np.float64)
        self._map07.setData(ex, np.nan_to_num(np.asarray(h.map_voc07, dtype=np.float64)))
        self._map10.setData(ex, np.nan_to_num(np.asarray(h.map_voc, dtype=np.float64)))
        self._fill_table()

    def _fill_table(self) -> None:
        h = self.history
        names = list(h.ap_voc07)
        rows = [(n, h.ap_voc07.get(n, math.nan), h.ap_voc.get(n, math.nan)) for n in names]
        if h.epochs:
            rows.append((f"mAP (epoch {h.epochs[-1]})", h.map_voc07[-1], h.map_voc[-1]))
        self.ap_table.setRowCount(len(rows))
        for row, (name, v07, v10) in enumerate(rows):
            cells = [name] + ["—" if math.isnan(v) else f"{v:.3f}" for v in (v07, v10)]
            for col, text in enumerate(cells):
                self.ap_table.setItem(row, col, QTableWidgetItem(text))

    def save_png(self, folder: str | Path) -> list[Path]:
        """Write ``loss.png``, ``lr.png``, ``map.png`` and ``ap.png`` into ``folder``."""
        self.redraw()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for widget, name in ((self.loss_plot, "loss"), (self.lr_plot, "lr"),
                             (self.map_plot, "map"), (self.ap_table, "ap")):
            path = folder / f"{name}.png"
            if not widget.isVisible():  # tabs not shown have no layout yet
                widget.resize(max(widget.width(), 640), max(widget.height(), 360))
            if not widget.grab().save(str(path)):
                raise OSError(f"cannot write {path}")
            written.append(path)
        return written
