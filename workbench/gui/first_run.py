"""First run: the generated sample project in the user's data folder, and a "first five
minutes" hint beside it.

``make run`` on a fresh machine has no project to open; :func:`sample_project` makes one
(:mod:`workbench.core.synth`: ``DEFAULT_IMAGES``, 800, photo-like images with VOC boxes, no
downloads) under ``QStandardPaths.AppDataLocation/sample-project`` the first time, with a
progress dialog, and returns its folder on later runs. A ``.complete`` marker written last
tells a finished sample from one interrupted half-way (which is generated again).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QMainWindow, QProgressDialog, QTextBrowser, QWidget,
)

log = logging.getLogger(__name__)

SAMPLE_DIR_NAME = "sample-project"
MARKER = ".complete"
SAMPLE_SEED = 0
HINT_OBJECT_NAME = "dock:first five minutes"

FIRST_FIVE_MINUTES = """
<h3>First five minutes</h3>
<p>This is the <b>sample project</b>: generated photos of balls, crates, cones, bottles and
donuts, boxes already drawn (PASCAL VOC XML). Try the whole loop:</p>
<ol>
<li><b>Look</b> — <b>D</b> / <b>A</b> step through the images; the boxes are the labels.</li>
<li><b>Draw a box</b> — press <b>W</b>, drag around an object, pick its class; <b>Ctrl+S</b>
saves, <b>Ctrl+Z</b> undoes.</li>
<li><b>Train</b> — <i>Panels → Train</i>, choose <b>demo_ssdlite_cpu</b> (its recipe fills in
the settings: a small SSD made for the CPU, trained from scratch) and press <b>Start</b>. Loss
and val mAP plot live; on 2 CPU cores it passes mAP 0.9 in about 4 minutes.</li>
<li><b>Tune</b> — each saved checkpoint's detections appear on the image. When the run ends,
<i>Panels → Detections</i> loads its <code>best.pt</code> by itself (<b>Load…</b> picks another
checkpoint); drag the <i>score</i> and <i>NMS IoU</i> sliders: the boxes change at once, marked
TP / FP / FN against the labels.</li>
<li><b>Export</b> — <i>File → Export dataset…</i> (<b>Ctrl+Shift+E</b>) writes a VOC2007 tree,
COCO JSON or YOLO txt with a seeded train/val split (on the command line: <code>workbench export
FOLDER --format voc|coco|yolo --out OUT</code>).</li>
</ol>
<p>Open your own folder of images with <b>Ctrl+U</b>. Close this tab when done; it is under
<i>View → First five minutes</i>.</p>
"""


def sample_project_dir() -> Path:
    """``<AppDataLocation>/sample-project`` (e.g. ``~/.local/share/DetectionWorkbench/workbench``
    on Linux)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if not base:
        base = str(Path.home() / ".local" / "share" / "DetectionWorkbench" / "workbench")
    return Path(base) / SAMPLE_DIR_NAME


def is_sample_complete(root: Path) -> bool:
    """True when ``root`` holds a sample project whose generation finished."""
    return (root / MARKER).is_file() and (root / "images").is_dir()


def is_sample_project(path: Path | str) -> bool:
    """True when ``path`` is the sample project's root or its ``images`` folder."""
    root = sample_project_dir().resolve()
    p = Path(path).expanduser().resolve()
    return p == root or p == root / "images"


def sample_project(parent: QWidget | None = None, root: Path | None = None,
                   num_images: int | None = None) -> Path:
    """The sample project's root folder, generated first when it is absent or incomplete.

    Shows a progress dialog while generating (the window is not up yet). Raises ``OSError``
    when the folder cannot be written.
    """
    from workbench.core.synth import DEFAULT_IMAGES, generate_project

    root = Path(root) if root is not None else sample_project_dir()
    if is_sample_complete(root):
        return root
    total = int(num_images or DEFAULT_IMAGES)
    dialog = None
    if QApplication.instance() is not None:
        dialog = QProgressDialog("Creating the sample project…", "", 0, total, parent)
        dialog.setWindowTitle("Detection Workbench")
        dialog.setCancelButton(None)
        dialog.setMinimumDuration(300)
        dialog.setWindowModality(Qt.WindowModality.ApplicationModal)

    def progress(done: int, _total: int) -> None:
        if dialog is not None:
            dialog.setValue(done)
            QApplication.processEvents()

    log.info("generating the sample project in %s", root)
    try:
        generate_project(root, num_images=total, seed=SAMPLE_SEED, progress=progress)
    finally:
        if dialog is not None:
            dialog.close()
            dialog.deleteLater()
    (root / MARKER).write_text(json.dumps({"images": total, "seed": SAMPLE_SEED}) + "\n",
                               encoding="utf-8")
    return root


def show_hint(window: QMainWindow) -> QDockWidget:
    """Add (or raise) the "First five minutes" dock on the right of ``window``."""
    for dock in window.findChildren(QDockWidget):
        if dock.objectName() == HINT_OBJECT_NAME:
            dock.show()
            dock.raise_()
            return dock
    text = QTextBrowser()
    text.setObjectName("first-five-minutes")
    text.setOpenExternalLinks(False)
    text.setHtml(FIRST_FIVE_MINUTES)
    dock = QDockWidget("First five minutes", window)
    dock.setObjectName(HINT_OBJECT_NAME)
    dock.setWidget(text)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    beside = getattr(window, "boxes_dock", None)
    if isinstance(beside, QDockWidget):  # a tab next to Boxes / Problems, shown first
        window.tabifyDockWidget(beside, dock)
    dock.show()
    dock.raise_()
    menus = getattr(getattr(window, "actions", None), "menus", None)
    if isinstance(menus, dict) and "docks" in menus:
        menus["docks"].addAction(dock.toggleViewAction())
    return dock
