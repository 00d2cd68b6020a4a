"""Start-up imports only what the first screen needs (issue 14): opening a folder and painting
its first image loads no torch, OpenCV, pyqtgraph or panel modules (checked in a fresh
process: ``sys.modules`` after the first paint)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys
from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QDockWidget
import workbench.gui.main_window  # the window's module alone
after_import = sorted(sys.modules)
from workbench.gui.app import build_window, create_app
from workbench.gui.settings import Settings
app = create_app()
lazy = sys.argv[3] == "lazy"
w = build_window(sys.argv[1], None, Settings(sys.argv[2]), lazy=lazy)
class Painted(QObject):
    done = False
    modules = []
    ready = None  # sys.modules at the first paint with the project's boxes (scan not begun)
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not self.done and w.canvas.image_size()[0]:
            self.done = True
            self.modules = sorted(sys.modules)
            self.docks = sorted(d.objectName() for d in w.findChildren(QDockWidget))
            self.welcome = w.welcome_if_built() is not None
            QTimer.singleShot(0, loop.quit)
        if (event.type() == QEvent.Type.Paint and self.ready is None
                and w.current_annotation() is not None and w.scanner._pending):
            self.ready = sorted(sys.modules)
        return False
opened = []  # sys.modules once the project is open and its first image shown
w.opener.opened.connect(lambda _folder: opened.append(sorted(sys.modules)))
loop = QEventLoop()  # (app.quit() would close the window: Qt 6)
f = Painted(); w.canvas.viewport().installEventFilter(f)
w.show()
QTimer.singleShot(60000, loop.quit)
loop.exec()
from workbench.gui.app import wait_until_open
wait_until_open(w, 60)
ann = w.current_annotation()
if w.current_annotation() is not None and f.ready is None and w.scanner._pending:
    w.canvas.viewport().repaint()  # (the boxes' paint, if the loop has not painted them yet)
from workbench.gui import pyside_startup
print(json.dumps({"window_open": pyside_startup._WINDOW is not None,
                  "painted": f.done, "after_import": after_import,
                  "after_paint": f.modules, "opened": opened[0] if opened else None,
                  "ready": f.ready, "docks": f.docks, "welcome": f.welcome,
                  "menu": [a.text() for a in w.actions.panels_menu.actions()],
                  "boxes": [o.name for o in ann.objects] if ann is not None else None}))
os._exit(0)
"""

HEAVY = ("torch", "torchvision", "cv2", "pyqtgraph")
#: Not needed for the first paint of a real start (``run_gui``: ``build_window(lazy=True)``):
#: the image is painted by Qt's reader and the folder is scanned after that paint, so the
#: project (its XML readers: lxml) and the decoder (Pillow) are imported later, on the worker
#: thread that scans the folder. NumPy is imported where it is used (the canvas's box items,
#: core.boxes' IoU, the RGB array panels ask for), i.e. when the first boxes are drawn.
DEFERRED = ("numpy", "lxml", "PIL", "workbench.core.project", "workbench.core.voc",
            "workbench.core.images", "workbench.core.formats", "workbench.engine",
            # the questions and dialogs (13 ms of Qt classes), the first-run sample and hint:
            # imported where they are used
            "workbench.gui.dialogs", "workbench.gui.first_run",
            # the outside-edit watcher (and hashlib, ~13 ms): built when a project opens
            "workbench.gui.outside_edits", "hashlib", "_hashlib")


def _jpeg(path: Path) -> None:
    from PySide6.QtGui import QColor, QImage

    image = QImage(32, 24, QImage.Format.Format_RGB888)
    image.fill(QColor(120, 80, 40))
    assert image.save(str(path), "JPEG")


def _run(tmp_path: Path, mode: str) -> dict:
    folder = tmp_path / "images"
    folder.mkdir(parents=True)
    for i in range(3):
        _jpeg(folder / f"img{i}.jpg")
    (folder / "img0.xml").write_text(
        "<annotation><filename>img0.jpg</filename><size><width>32</width><height>24</height>"
        "<depth>3</depth></size><object><name>cat</name><bndbox><xmin>2</xmin><ymin>2</ymin>"
        "<xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>", encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(tmp_path / "s.ini"),
                          mode], env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["painted"]
    assert result["boxes"] == ["cat"]  # the project opened and its first image is shown
    # the start-up cache window (patterns, dataclasses) ended when the project was shown
    assert result["window_open"] is False
    return result


def test_lazy_start_paints_before_the_project_and_decoder_are_imported(tmp_path: Path) -> None:
    result = _run(tmp_path, "lazy")
    loaded = set(result["after_paint"])
    early = sorted(m for m in loaded if any(m == d or m.startswith(d + ".") for d in DEFERRED))
    assert not early, early


#: Not needed to show a folder of plain JPEGs with its first image's boxes either (lazy
#: start, once open): Qt's reader shows a plain JPEG (gui/images.read_plain_jpeg), the
#: canvas keeps a few boxes in lists, the header's limits need no decoder
#: (core/image_limits.py); the decoder is imported on a worker before the file dock's state
#: scan, which starts a moment after the project is shown.
NOT_BEFORE_READY = ("numpy", "PIL", "workbench.core.images", "cv2", "torch", "pyqtgraph",
                    "workbench.engine")


def test_lazy_start_shows_the_project_without_numpy_or_pillow(tmp_path: Path) -> None:
    result = _run(tmp_path, "lazy")
    assert result["opened"] is not None
    for when in ("opened", "ready"):
        if result[when] is None:  # (no paint before the state scan began: a slow machine)
            continue
        early = sorted(m for m in result[when]
                       if any(m == d or m.startswith(d + ".") for d in NOT_BEFORE_READY))
        assert not early, f"{when}: {early[:10]}"
    assert result["ready"] is not None or result["opened"] is not None


def test_first_paint_imports_no_heavy_modules(tmp_path: Path) -> None:
    result = _run(tmp_path, "eager")
    for when in ("after_import", "after_paint"):
        loaded = set(result[when])
        heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
        assert not heavy, f"{when}: {heavy[:10]}"
    # the side panels (training, priors, proposals, metrics, detections…) are built when
    # first opened: none of their modules is loaded for the first screen
    panels = sorted(m for m in result["after_paint"]
                    if m.startswith("workbench.gui.panels.")
                    and m.rsplit(".", 1)[-1] not in {"files", "classes", "boxes", "problems",
                                                     "registry", "layers"})
    assert not panels, panels
    assert not [m for m in result["after_paint"] if m.startswith("workbench.engine")]


def test_window_module_and_lazy_first_paint_import_no_numpy(tmp_path: Path) -> None:
    """The window's module imports no numpy, nor does the lazy start up to its first paint;
    once the project is open its boxes are drawn (and numpy is loaded for that)."""
    result = _run(tmp_path, "lazy")
    for when in ("after_import", "after_paint"):
        numpy = [m for m in result[when] if m == "numpy" or m.startswith("numpy.")]
        assert not numpy, f"{when}: {numpy[:5]}"
    assert "workbench.gui.canvas.items" in result["after_paint"]  # the canvas was built


def test_panel_docks_are_created_when_first_shown(tmp_path: Path) -> None:
    """No registry panel's dock exists at the first paint (they were 11 hidden docks built and
    tabified up front), yet the Panels menu lists every registry panel."""
    from workbench.gui.panels.registry import PANELS

    result = _run(tmp_path, "lazy")
    assert [d for d in result["docks"] if d.startswith("panel:")] == []
    assert sorted(result["docks"]) == ["dock:boxes", "dock:classes", "dock:files", "dock:layers",
                                       "dock:problems"]
    titles = [t.replace("&", "&&") for _m, _c, t in PANELS]
    assert result["menu"][:len(titles)] == titles


def test_welcome_page_is_not_built_when_a_folder_opens(tmp_path: Path) -> None:
    """Start-up with a folder: the canvas is painted first; the welcome page (and its module)
    is built only if it is shown."""
    for mode in ("lazy", "eager"):
        result = _run(tmp_path / mode, mode)
        assert result["welcome"] is False, mode
        assert "workbench.gui.welcome" not in result["after_paint"], mode
