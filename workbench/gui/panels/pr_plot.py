"""The precision-recall plot the Metrics panel and the Detections panel's operating point share:
recall across, precision up, both on [0, 1], a light grid, no mouse panning (pyqtgraph is
imported when one is made, not with the panel modules)."""

from __future__ import annotations

from typing import Any


def pr_plot(min_height: int) -> Any:
    """A ``pyqtgraph.PlotWidget`` set up for PR curves, at least ``min_height`` px high."""
    import pyqtgraph as pg

    plot = pg.PlotWidget()
    plot.setBackground("#1e1e1e")
    plot.setLabel("bottom", "recall")
    plot.setLabel("left", "precision")
    plot.setXRange(0, 1, padding=0.02)
    plot.setYRange(0, 1.02, padding=0.02)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMouseEnabled(x=False, y=False)
    plot.setMinimumHeight(min_height)
    return plot
