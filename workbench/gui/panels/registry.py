"""Panels other parts of the app add to the labeling window.

Each entry is ``(module, class_name, title)``. :class:`~workbench.gui.main_window.MainWindow`
creates one dock per entry, tabified on the right and hidden by default, with a toggle in
View → Panels. The module is imported, and ``PanelClass(window)`` built, the first time the dock
is shown (so panels that need torch cost nothing at start-up). A panel that fails to import or
build shows the error in its dock and the status bar instead of taking the window down.

Panel modules must not import torch at import time. Append one line for your panel.

A panel that draws on the canvas registers each overlay item in the canvas's layer list,
``LayerList.of(window.canvas.scene()).add(item, owner=self, per_image=...)``
(:mod:`workbench.gui.canvas.layer_list`), and gives its name a height in ``LAYER_Z`` there; it
never calls ``setVisible`` on it (use ``set_wanted`` for its own "show" toggle). The list hides
the panel's layers while its dock is closed or behind another tab, and empties per-image layers
when another image is shown.

Panels must fit a 1280×800 window (``tests/gui/test_panels_fit.py`` builds every registry panel
and checks it there and at 1440×900): the host shows a panel in a vertical scroll area as wide as
the panel's minimum width, in a right column of about 390 px, and switches panels with the
combo box in the dock's title bar (see :mod:`workbench.gui.panel_host`). So keep a panel's
minimum width under ~370 px — put long rows on two lines, give tables short headers (the whole
words in header tooltips) and a stretching text column, and plots at least 150 px of height
(the column scrolls; nothing is squashed). The host lets combo boxes narrow to their current
text, wraps form rows and long labels.

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
    ("workbench.gui.panels.runs", "RunsPanel", "Runs"),
    ("workbench.gui.panels.label_next", "LabelNextPanel", "Label next"),
    ("workbench.gui.panels.errors", "ErrorsPanel", "Errors"),
    ("workbench.gui.panels.video", "VideoPanel", "Video"),
    ("workbench.gui.panels.classics", "ClassicsPanel", "Classics"),
]
