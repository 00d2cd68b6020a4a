"""The precision-recall plot the Metrics panel and the Detections panel's operating point share:
recall across, precision up, both on [0, 1], a light grid, no mouse panning (pyqtgraph is
imported when one is made, not with the panel modules).

:func:`plot_widget` makes a ``PlotWidget`` whose context menu is built in a later event-loop turn
(issue 14, GUI stalls: the view box's menu was ~30 % of a plot's ~25 ms construction, in the
turn that builds it)."""

from __future__ import annotations

from typing import Any


#: milliseconds after a plot is made before its context menu is built
MENU_MS = 250


def plot_widget(**kwargs: Any) -> Any:
    """``pyqtgraph.PlotWidget(**kwargs)`` with its view box's context menu built
    :data:`MENU_MS` later, in a turn of its own (a right-click before then shows none)."""
    import pyqtgraph as pg
    from PySide6.QtCore import QTimer

    plot = pg.PlotWidget(enableMenu=False, **kwargs)
    item = plot.getPlotItem()
    QTimer.singleShot(MENU_MS, plot, lambda: item.setMenuEnabled(True))
    return plot


def pr_plot(min_height: int) -> Any:
    """A ``pyqtgraph.PlotWidget`` set up for PR curves, at least ``min_height`` px high."""
    plot = plot_widget()
    plot.setBackground("#1e1e1e")
    plot.setLabel("bottom", "recall")
    plot.setLabel("left", "precision")
    plot.setXRange(0, 1, padding=0.02)
    plot.setYRange(0, 1.02, padding=0.02)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMouseEnabled(x=False, y=False)
    plot.setMinimumHeight(min_height)
    return plot
