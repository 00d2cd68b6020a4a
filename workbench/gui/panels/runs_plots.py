"""The Runs panel's overlays: loss and mAP per epoch of several runs, one colour per run, and the
per-class AP table side by side (:mod:`workbench.core.runs_compare` reads the numbers).

The plots are the Train panel's (:class:`workbench.gui.panels.training_plots.TrainingPlots`'s
plot factory: integer epoch axis, grid, legend, 180 px high) with the run names as the legend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from workbench.core.runs_compare import AP_METRICS, ApComparison, RunCurves
from workbench.gui.panels.deferred import BuildQueue, Deferred
from workbench.gui.panels.table_fill import filling
from workbench.gui.panels.training_plots import PLOT_MIN_HEIGHT, TERM_COLORS, TrainingPlots

#: Run colours, in the order runs are listed (the Train panel's palette).
RUN_COLORS = TERM_COLORS


def run_color(index: int) -> str:
    return RUN_COLORS[index % len(RUN_COLORS)]


def short_names(names: Sequence[str]) -> list[str]:
    """``names`` without the prefix they all share up to a ``-`` or ``_`` (for the
    legend: ``demo_ssdlite_cpu-lr0.001``, ``demo_ssdlite_cpu-lr0.003`` → ``lr0.001``,
    ``lr0.003``); one name, or no shared prefix: unchanged."""
    if len(names) < 2:
        return list(names)
    prefix = os.path.commonprefix(list(names))
    cut = max(prefix.rfind(sep) for sep in "-_") + 1
    if cut <= 0 or any(len(n) <= cut for n in names):
        return list(names)
    return [n[cut:] for n in names]


def letter(index: int) -> str:
    """Short column names of the AP table: A, B, … Z, AA, AB …"""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


class RunsPlots(QWidget):
    """Loss and mAP overlays; ``curves(plot)`` lists what is drawn (tests)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        # each plot in its own event-loop turn after the panel's, or at once when asked for
        # (``loss_plot``, ``map_plot``): built with the panel they held its first opening up
        # (issue 14, GUI stalls; panels/deferred.py)
        self.builds = BuildQueue(self)
        self._loss = Deferred(lambda: self._make("Train loss, mean per epoch", "loss"),
                              self.builds, min_height=PLOT_MIN_HEIGHT)
        self._map = Deferred(lambda: self._make("Val mAP@0.5", "mAP"), self.builds,
                             min_height=PLOT_MIN_HEIGHT)
        self._items: dict[tuple[str, Path], tuple[object, pg.PlotDataItem]] = {}
        self._metric: str | None = None  # of the last show_runs
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._loss)
        lay.addWidget(self._map)

    def _set_map_title(self, plot: pg.PlotWidget) -> None:
        metric = self._metric
        plot.setTitle(f"Val mAP@0.5, {'11-point' if metric == 'voc07' else 'all-point'}")
        plot.getPlotItem().titleLabel.setToolTip(AP_METRICS[metric])

    def _make(self, title: str, ylabel: str) -> pg.PlotWidget:
        plot = TrainingPlots._plot(title, "epoch", ylabel)
        if ylabel == "mAP":
            plot.setYRange(0, 1)
            if self._metric is not None:  # shown before: the title names the metric
                self._set_map_title(plot)
        # The legend is the panel's line above the plots (run letters, colours, names): inside
        # a 250 px plot pyqtgraph's legend covered the curves (the Train panel's mAP plot hides
        # its legend for the same reason). The curves keep the run names (``name()``).
        plot.getPlotItem().legend.setVisible(False)
        return plot

    @property
    def loss_plot(self) -> pg.PlotWidget:
        return self._loss.widget()  # type: ignore[return-value]

    @property
    def map_plot(self) -> pg.PlotWidget:
        return self._map.widget()  # type: ignore[return-value]

    #: Curves with more points than this are drawn without point symbols (a scatter of
    #: symbols per curve is most of a redraw's cost: 3 runs x 300 epochs took 130 ms).
    MAX_SYMBOLS = 60

    def show_runs(self, runs: Sequence[tuple[int, RunCurves]], metric: str = "voc07") -> None:
        """Draw ``(colour index, run)`` pairs: each run one colour, its name on its curves.

        Curves are kept between calls: checking one more run adds its two curves and leaves
        the others as they are (nothing is re-plotted that did not change)."""
        self._metric = metric
        if not runs and not self._items and not self._map.built:
            return  # nothing to draw: the plots are built in their own turns (titled then)
        self._set_map_title(self.map_plot)
        wanted: dict[tuple[str, Path], tuple[object, ...]] = {}
        data: dict[tuple[str, Path], tuple[np.ndarray, np.ndarray, str, str]] = {}
        for index, run in runs:
            values = run.map_voc07 if metric == "voc07" else run.map_voc
            for plot_name, xs, ys, key in (
                    ("loss", run.loss_epochs, run.loss, (id(run), index)),
                    ("map", run.map_epochs, values, (id(run), index, metric))):
                wanted[(plot_name, run.path)] = key
                data[(plot_name, run.path)] = (np.asarray(xs, float), np.asarray(ys, float),
                                               run_color(index), run.name)
        for slot in [k for k in self._items if k not in wanted]:
            plot = self.loss_plot if slot[0] == "loss" else self.map_plot
            plot.removeItem(self._items.pop(slot)[1])
        for slot, key in wanted.items():
            old = self._items.get(slot)
            if old is not None and old[0] == key:
                continue
            x, y, color, name = data[slot]
            symbols = {"symbol": "o", "symbolSize": 5, "symbolBrush": color,
                       "symbolPen": color} if len(x) <= self.MAX_SYMBOLS else {"symbol": None}
            if old is None:
                plot = self.loss_plot if slot[0] == "loss" else self.map_plot
                item = plot.plot(x, y, pen=pg.mkPen(color, width=2), name=name,
                                 connect="finite", **symbols)
            else:
                item = old[1]
                item.setPen(pg.mkPen(color, width=2))
                item.setData(x, y, connect="finite", **symbols)
            self._items[slot] = (key, item)
        # list order (the legend line's order) for curves(); new items were appended last
        order = {(p, run.path): i for i, (_index, run) in enumerate(runs) for p in ("loss", "map")}
        self._items = dict(sorted(self._items.items(), key=lambda kv: order[kv[0]]))

    def curves(self, plot: pg.PlotWidget) -> list[pg.PlotDataItem]:
        """The curves of ``plot`` in the order of the runs (tests)."""
        name = "loss" if plot is self.loss_plot else "map"
        return [item for (p, _path), (_key, item) in self._items.items() if p == name]


class ApTable(QTableWidget):
    """class | AP of run A | B | … | B−A | C−A … (headers short, the run names in tooltips)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setMinimumHeight(150)

    def show_comparison(self, table: ApComparison | None) -> None:
        self.clear()
        if table is None:
            self.setRowCount(0)
            self.setColumnCount(0)
            return
        n = len(table.runs)
        heads = ["class", *(letter(i) for i in range(n)),
                 *(f"{letter(i)}−A" for i in range(1, n))]
        tips = ["class name (last row: mean AP)",
                *(f"{name}: AP at epoch {e}" if e is not None else f"{name}: never evaluated"
                  for name, e in zip(table.runs, table.epochs)),
                *(f"{table.runs[i]} minus {table.runs[0]}" for i in range(1, n))]
        self.setColumnCount(len(heads))
        self.setHorizontalHeaderLabels(heads)
        for col, tip in enumerate(tips):
            self.horizontalHeaderItem(col).setToolTip(tip)
        rows = table.text_rows()
        with filling(self):  # fitted columns (from an earlier call) measured once
            self.setRowCount(len(rows))
            for r, cells in enumerate(rows):
                for c, text in enumerate(cells):
                    self.setItem(r, c, QTableWidgetItem(text))
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def text(self) -> list[list[str]]:
        """Header row then every row, as shown (tests)."""
        head = [self.horizontalHeaderItem(c).text() for c in range(self.columnCount())]
        return [head, *([self.item(r, c).text() for c in range(self.columnCount())]
                        for r in range(self.rowCount()))]
