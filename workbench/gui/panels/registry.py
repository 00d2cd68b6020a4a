"""Panels other parts of the app add to the labeling window.

Each entry is ``(module, class_name, title)``. :class:`~workbench.gui.main_window.MainWindow`
creates one dock per entry, tabified on the right and hidden by default, with a toggle in
View → Panels. The module is imported, and ``PanelClass(window)`` built, the first time the dock
is shown (so panels that need torch cost nothing at start-up). A panel that fails to import or
build shows the error in its dock and the status bar instead of taking the window down.

Panel modules must not import torch at import time. Append one line for your panel.

When the window closes it calls, on every panel that was built, ``confirm_close() -> bool``
if defined (return False to keep the window open, e.g. after asking about a running
training), then ``shutdown()`` if defined (stop threads and workers).
"""

from __future__ import annotations

PANELS: list[tuple[str, str, str]] = [
    ("workbench.gui.panels.metrics", "MetricsPanel", "Metrics"),
    ("workbench.gui.panels.detections", "DetectionsPanel", "Detections"),
    ("workbench.gui.panels.proposals", "ProposalsPanel", "Proposals"),
    ("workbench.gui.panels.priors", "PriorsPanel", "Priors & anchors"),
    ("workbench.gui.panels.iou", "IouPanel", "IoU"),
    ("workbench.gui.panels.training", "TrainingPanel", "Train"),
]
