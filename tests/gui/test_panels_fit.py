"""Panels fit (issue 14): at 1280×800 and 1440×900, with every panel open and the app's own
theme, no text is cut off, plots are at least 150 px high, dock tab titles are whole and the
canvas keeps its share of the width.

Each size runs in a fresh process (this file run as a script): a window that was resized or
had panels built before lays out differently, and the theme is set once per QApplication.

    .venv/bin/python tests/gui/test_panels_fit.py --size 1280x800 [--shots docs/screenshots/panels]

prints one JSON object: the problems found (one line each, with the numbers) and the measured
sizes; ``--shots`` also writes one PNG of the whole window per panel in front.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Smallest share of the window's width the canvas keeps with a panel open.
CANVAS_SHARE = {1280: 0.48, 1440: 0.54}  # measured: 631 px (49 %), 791 px (55 %)
#: Plots (pyqtgraph views inside panels) are at least this high.
PLOT_MIN_HEIGHT = 150
SIZES = ((1280, 800), (1440, 900))


# -- the checks (run inside the child process) ------------------------------------------------
def _clip_problem(widget, window) -> str | None:  # noqa: ANN001
    """Whether an ancestor cuts ``widget`` off: sideways anywhere, vertically outside a scroll
    area (inside one the user scrolls to it)."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QAbstractScrollArea

    rect = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
    scrolled = False
    parent = widget.parentWidget()
    while parent is not None and parent is not window:
        area = parent.parentWidget()
        if isinstance(area, QAbstractScrollArea) and parent is area.viewport():
            scrolled = True
        prect = QRect(parent.mapTo(window, parent.rect().topLeft()), parent.size())
        if rect.left() < prect.left() - 1 or rect.right() > prect.right() + 1:
            return (f"cut sideways by {type(parent).__name__} '{parent.objectName()}': "
                    f"x {rect.left()}..{rect.right()} outside {prect.left()}..{prect.right()}")
        if not scrolled and (rect.top() < prect.top() - 1 or rect.bottom() > prect.bottom() + 1):
            return (f"cut vertically by {type(parent).__name__}: y {rect.top()}..{rect.bottom()}"
                    f" outside {prect.top()}..{prect.bottom()}")
        parent = parent.parentWidget()
    return None


def _in_item_view(widget) -> bool:  # noqa: ANN001
    """Editors and index widgets of a list/table scroll with their rows."""
    from PySide6.QtWidgets import QAbstractItemView

    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractItemView):
            return True
        parent = parent.parentWidget()
    return False


def _on_screen(widget) -> bool:  # noqa: ANN001
    """Not in a dock that is tabbed behind another one (moved off the window by Qt)."""
    from PySide6.QtWidgets import QDockWidget

    parent = widget
    while parent is not None:
        if isinstance(parent, QDockWidget):
            return not parent.visibleRegion().isEmpty()
        parent = parent.parentWidget()
    return True


def _text_need(widget) -> tuple[int, int] | None:  # noqa: ANN001
    """(needed, available) width in px for the text of a label, button, check box or combo."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import Qt as GuiQt
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import (QAbstractButton, QCheckBox, QComboBox, QLabel, QPushButton,
                                   QRadioButton, QToolButton)

    fm = widget.fontMetrics()
    if isinstance(widget, QLabel):
        text = widget.text()
        if not text or widget.pixmap() is not None and not widget.pixmap().isNull():
            return None
        avail = widget.contentsRect().width() - 2 * widget.margin() - max(widget.indent(), 0)
        if widget.wordWrap():
            return None  # checked by height (see _wrapped_problem)
        if widget.textFormat() == Qt.TextFormat.RichText or (
                widget.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(text)):
            doc = QTextDocument()
            doc.setDefaultFont(widget.font())
            doc.setDocumentMargin(0)
            doc.setHtml(text)
            need = int(doc.idealWidth() + 0.999)
        else:
            need = max(fm.horizontalAdvance(line) for line in text.split("\n"))
        return need, avail
    if isinstance(widget, QComboBox):
        text = widget.currentText()
        if not text:
            return None
        # drop-down arrow ~20 px, padding 8 + 8, border 1 + 1 (theme.py)
        return fm.horizontalAdvance(text) + 38, widget.width()
    if isinstance(widget, QAbstractButton):
        text = widget.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        if not text:
            return None
        if isinstance(widget, (QCheckBox, QRadioButton)):
            return widget.sizeHint().width(), widget.width()
        icon = widget.iconSize().width() + 4 if not widget.icon().isNull() else 0
        if isinstance(widget, QToolButton):
            if widget.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly:
                return None
            return min(widget.sizeHint().width(), fm.horizontalAdvance(text) + icon + 8), \
                widget.width()
        if isinstance(widget, QPushButton):
            menu = 14 if widget.menu() is not None else 0
            # padding 12 + 12 and border 1 + 1 (theme.py)
            return min(widget.sizeHint().width(),
                       fm.horizontalAdvance(text) + icon + menu + 26), widget.width()
    return None


def _wrapped_problem(label) -> str | None:  # noqa: ANN001
    need = label.heightForWidth(label.width())
    if need > label.height() + 1:
        return f"wrapped text needs {need} px high, has {label.height()}"
    return None


def _describe(widget) -> str:  # noqa: ANN001
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel

    text = ""
    if isinstance(widget, (QLabel, QAbstractButton)):
        text = widget.text()
    elif isinstance(widget, QComboBox):
        text = widget.currentText()
    text = " ".join(text.split())
    if len(text) > 50:
        text = text[:47] + "..."
    return f"{type(widget).__name__}({text!r})"


def check_window(window, front: str, canvas_share: float) -> tuple[list[str], dict]:  # noqa: ANN001
    """Problems of what is on screen now (``front``: the panel in front, for the messages),
    and the measured sizes."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QComboBox, QGraphicsView,
                                   QHeaderView, QLabel, QTabBar, QWidget)

    problems: list[str] = []
    sizes: dict = {"canvas_width": window.canvas.width(), "window_width": window.width()}
    where = f"[{window.width()}x{window.height()}, {front} in front]"
    if window.canvas.width() < canvas_share * window.width():
        problems.append(f"{where} canvas {window.canvas.width()} px wide < "
                        f"{canvas_share:.0%} of the window's {window.width()} px")
    plots = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisible() or QWidget.window(widget) is not window:
            continue
        if widget.width() <= 0 or widget.height() <= 0 or not _on_screen(widget):
            continue  # e.g. in a dock tabbed behind another one (which still says isVisible)
        name = _describe(widget)
        if isinstance(widget, QGraphicsView) and widget is not window.canvas \
                and not _in_item_view(widget):
            plots.append(widget.height())
            if widget.height() < PLOT_MIN_HEIGHT:
                problems.append(f"{where} plot {type(widget).__name__} is {widget.height()} px "
                                f"high < {PLOT_MIN_HEIGHT}")
        if isinstance(widget, QHeaderView):
            if widget.orientation() == Qt.Orientation.Horizontal:
                problems += _header_problems(widget, where)
            continue
        if _in_item_view(widget) or widget.visibleRegion().isEmpty():
            continue  # a row's editor, or scrolled out of its panel's scroll area
        if isinstance(widget, QAbstractItemView):
            clip = _clip_problem(widget, window)
            if clip:
                problems.append(f"{where} {type(widget).__name__} {clip}")
        if isinstance(widget, (QLabel, QAbstractButton, QComboBox)):
            clip = _clip_problem(widget, window)
            if clip:
                problems.append(f"{where} {name} {clip}")
                continue
            if isinstance(widget, QLabel) and widget.wordWrap() and widget.text():
                wrapped = _wrapped_problem(widget)
                if wrapped:
                    problems.append(f"{where} {name} {wrapped}")
                continue
            need = _text_need(widget)
            if need is not None and need[0] > need[1] + 1:
                problems.append(f"{where} {name} text needs {need[0]} px, has {need[1]}")
        elif isinstance(widget, QTabBar):
            problems += _tab_problems(widget, where)
    sizes["plot_heights"] = plots
    return problems, sizes


def _tab_problems(bar, where: str) -> list[str]:  # noqa: ANN001
    out = []
    fm = bar.fontMetrics()
    for i in range(bar.count()):
        if not bar.isTabVisible(i):
            continue
        text = bar.tabText(i).replace("&&", "&")
        rect = bar.tabRect(i)
        need = fm.horizontalAdvance(text) + 24  # padding 12 + 12 (theme.py)
        if rect.width() + 1 < need:
            out.append(f"{where} tab {text!r} is {rect.width()} px wide, its title needs {need}")
        # scrolled out of its bar (Qt then shows arrows over the last tabs) is not whole
        if rect.left() < 0 or rect.right() > bar.width():
            out.append(f"{where} tab {text!r} at x {rect.left()}..{rect.right()} outside "
                       f"its bar (0..{bar.width()})")
    return out


def _header_problems(header, where: str) -> list[str]:  # noqa: ANN001
    out = []
    model = header.model()
    if model is None or header.count() == 0:
        return out
    view = header.parentWidget()
    viewport = view.viewport().width() if hasattr(view, "viewport") else header.width()
    fm = header.fontMetrics()
    from PySide6.QtCore import Qt

    for section in range(header.count()):
        if header.isSectionHidden(section):
            continue
        text = str(model.headerData(section, Qt.Orientation.Horizontal) or "")
        size = header.sectionSize(section)
        pos = header.sectionViewportPosition(section)
        need = fm.horizontalAdvance(text) + 8 if text else 0
        if text and size + 1 < need:
            out.append(f"{where} column {text!r} of {type(view).__name__} is {size} px wide, "
                       f"its header needs {need}")
        if pos < 0 or pos + size > viewport + 1:
            out.append(f"{where} column {text!r} of {type(view).__name__} at x "
                       f"{pos}..{pos + size} is cut off by the {viewport} px wide view")
    return out


# -- the child process ------------------------------------------------------------------------
def _settle(app, ms: int = 120) -> None:  # noqa: ANN001
    from PySide6.QtCore import QEventLoop, QTimer

    for _ in range(3):
        loop = QEventLoop()
        QTimer.singleShot(ms // 3, loop.quit)
        loop.exec()
        app.processEvents()


def run_child(width: int, height: int, shots: Path | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="panels_fit_"))
    os.environ["WORKBENCH_SETTINGS"] = str(work / "settings.ini")
    os.environ["XDG_DATA_HOME"] = str(work / "data")
    sys.path.insert(0, str(ROOT))
    from workbench.core.synth import generate_project
    from PySide6.QtWidgets import QDockWidget

    from workbench.gui.app import create_app

    app = create_app()
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    generate_project(work / "project", 4)
    window = MainWindow(Settings(work / "settings.ini"))
    window.resize(width, height)
    window.show()
    assert window.open_project(work / "project" / "images", work / "project" / "annotations")
    _settle(app)
    host = window.panel_host
    # every panel open, as a user opens them from View → Panels, then each brought to the front
    for _key, dock in host.docks.items():
        dock.toggleViewAction().trigger()
        _settle(app, 60)
    host.layers_dock.toggleViewAction().trigger()
    _settle(app, 300)
    # panels that need torch are built once it is imported in the background (gui.jobs)
    import time

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(host.panels) + len(host.errors) < len(host.docks):
        _settle(app, 100)
    assert len(host.panels) + len(host.errors) == len(host.docks), \
        f"built {sorted(host.panels)} of {sorted(host.docks)} in 180 s"
    share = CANVAS_SHARE[width]
    report: dict = {"size": [width, height], "problems": [], "fronts": {}, "errors": host.errors}
    fronts = [("Boxes", window.boxes_dock), ("Problems", window.problems_dock)]
    fronts += [(host._specs[k][2], d) for k, d in host.docks.items()]
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    for title, dock in fronts:
        dock.raise_()
        _settle(app)
        problems, sizes = check_window(window, title, share)
        report["problems"] += problems
        report["fronts"][title] = sizes
        sizes["dock_widths"] = {d.windowTitle(): [d.width(), d.minimumSizeHint().width()]
                                for d in window.findChildren(QDockWidget) if d.isVisible()}
        if title.startswith("Priors"):
            problems, sizes = _check_anchors(app, window, share)
            report["problems"] += problems
            report["fronts"][f"{title} (Faster R-CNN)"] = sizes
        # what lies below the fold: the panel's scroll areas at their end
        from PySide6.QtWidgets import QAbstractItemView, QScrollArea, QTabWidget

        areas = [a for a in dock.findChildren(QScrollArea)
                 if a.isVisible() and not isinstance(a, QAbstractItemView)
                 and a.verticalScrollBar().maximum() > 0]
        if areas:
            for area in areas:
                area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
            _settle(app, 60)
            problems, sizes = check_window(window, f"{title} (scrolled to its end)", share)
            report["problems"] += problems
            report["fronts"][f"{title} (scrolled)"] = sizes
            if shots is not None:
                _save_png(window.grab(), shots / f"{_slug(title)}-scrolled.png")
            for area in areas:
                area.verticalScrollBar().setValue(0)
            _settle(app, 30)
        # and every page of the panel's own tab widgets (Train: loss, learning rate, mAP …)

        for tabs in dock.findChildren(QTabWidget):
            if not tabs.isVisible():
                continue
            first = tabs.currentIndex()
            for i in range(tabs.count()):
                if i == first:
                    continue
                tabs.setCurrentIndex(i)
                _settle(app, 60)
                page = f"{title} / {tabs.tabText(i).replace('&', '')}"
                problems, sizes = check_window(window, page, share)
                report["problems"] += problems
                report["fronts"][page] = sizes
            tabs.setCurrentIndex(first)
            _settle(app, 30)
        if shots is not None:
            _save_png(window.grab(), shots / f"{_slug(title)}.png")
    window.close()
    return report


def _slug(title: str) -> str:
    """"Priors & anchors" -> "priors-anchors"."""
    slug = "".join(c if c.isalnum() else "-" for c in title.lower())
    return "-".join(p for p in slug.split("-") if p)


def _save_png(pixmap, path: Path) -> None:  # noqa: ANN001
    """``pixmap`` as an 8-bit palette PNG when Pillow is there (a third of the size)."""
    pixmap.save(str(path), "PNG")
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                 dither=Image.Dither.NONE).save(path, optimize=True)


def _check_anchors(app, window, share: float) -> tuple[list[str], dict]:  # noqa: ANN001
    """The Priors panel with a Faster R-CNN detector (its anchors table has the most columns),
    then back to the first detector."""
    import time

    panel = window.panel("PriorsPanel")
    combo = panel.model_combo
    first = combo.currentIndex()
    rpn = next(i for i in range(combo.count()) if "fasterrcnn" in str(combo.itemData(i)))
    combo.setCurrentIndex(rpn)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (panel.priors is None or panel.priors.kind != "rpn"):
        _settle(app, 60)
    assert panel.priors is not None and panel.priors.kind == "rpn", "anchors not built in 120 s"
    _settle(app, 120)
    out = check_window(window, "Priors & anchors (Faster R-CNN)", share)
    combo.setCurrentIndex(first)
    _settle(app, 60)
    return out


def _child_main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="1280x800")
    p.add_argument("--shots", type=Path, default=None, help="folder for one PNG per panel")
    args = p.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    report = run_child(w, h, args.shots)
    print("PANELS-FIT " + json.dumps(report))
    sys.stdout.flush()
    os._exit(0)  # panels' background threads must not hold the process


# -- the test ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_panel_fits(size: tuple[int, int]) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, __file__, "--size", f"{size[0]}x{size[1]}"],
                          capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PANELS-FIT ")]
    assert lines, f"no report (rc {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    report = json.loads(lines[-1][len("PANELS-FIT "):])
    assert not report["errors"], report["errors"]
    assert not report["problems"], "\n".join(report["problems"])


# -- in this process: the switcher and the first build's busy state -------------------------
TWO = [("workbench.gui.panels.problems", "ProblemsPanel", "One & two"),
       ("workbench.gui.panels.boxes", "BoxesPanel", "Three")]


def test_panel_switcher_lists_the_open_docks_by_whole_title(qtbot, tmp_path) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QTabBar

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    w = MainWindow(Settings(tmp_path / "s.ini"), panels=TWO)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    host = w.panel_host
    one, three = (host.docks[f"{m}.{c}"] for m, c, _t in TWO)
    three.toggleViewAction().trigger()
    one.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: host.title_bar(one).switcher.isVisible(), timeout=2000)
    bar = host.title_bar(one)
    items = [bar.switcher.itemText(i) for i in range(bar.switcher.count())]
    assert items == ["Boxes", "Problems", "One & two", "Three"]  # open docks of the group
    assert bar.switcher.currentText() == "One & two"
    # Qt's own row of dock tabs takes no room (it elided the titles)
    assert all(b.height() == 0 for b in w.findChildren(QTabBar) if b.parentWidget() is w)
    bar.switcher.activated.emit(items.index("Three"))  # as a pick in the list does
    three_key = f"{TWO[1][0]}.{TWO[1][1]}"  # behind "One & two" before it was built: now
    qtbot.waitUntil(lambda: three_key in host.panels
                    and host.layers.owner_shown(host.panels[three_key]), timeout=2000)
    assert host.title_bar(three).switcher.currentText() == "Three"
    three.close()  # a closed dock leaves the list
    qtbot.waitUntil(lambda: "Three" not in [host.title_bar(one).switcher.itemText(i) for i in
                                            range(host.title_bar(one).switcher.count())],
                    timeout=2000)


def test_first_build_shows_loading_and_a_busy_cursor(qtbot, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import types

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QWidget

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    seen: dict = {}

    class SlowPanel(QWidget):
        def __init__(self, window) -> None:  # noqa: ANN001
            super().__init__()
            cursor = QApplication.overrideCursor()
            seen["cursor"] = cursor.shape() if cursor is not None else None
            seen["text"] = window.panel_host.docks["fake_slow_panel.SlowPanel"].widget().text()

    module = types.ModuleType("fake_slow_panel")
    module.SlowPanel = SlowPanel
    monkeypatch.setitem(sys.modules, "fake_slow_panel", module)
    w = MainWindow(Settings(tmp_path / "s.ini"), panels=[("fake_slow_panel", "SlowPanel", "Slow")])
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    dock = w.panel_host.docks["fake_slow_panel.SlowPanel"]
    dock.toggleViewAction().trigger()
    # the dock first, saying what comes, in an event-loop pass of its own; then the build
    assert seen == {} and dock.widget().text() == "Loading Slow…" and dock.isVisible()
    qtbot.waitUntil(lambda: bool(seen), timeout=2000)
    assert seen == {"cursor": Qt.CursorShape.WaitCursor, "text": "Loading Slow…"}
    assert QApplication.overrideCursor() is None  # restored after the build
    assert w.panel("SlowPanel") is not None


if __name__ == "__main__":
    _child_main()
