"""Docks for the panels listed in :mod:`workbench.gui.panels.registry`, built lazily, and the
Layers list of the canvas's overlays (:mod:`workbench.gui.canvas.layer_list`)."""

from __future__ import annotations

import importlib
import logging
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMenu, QWidget

from workbench.gui.canvas.layer_list import LayerList

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow

log = logging.getLogger(__name__)


class PanelHost:
    """One hidden dock per registry entry, tabified with the window's Boxes dock; the panel is
    built on first show. A built panel's canvas layers follow its dock (shown while it is open
    and in front); the Layers dock (left, under Files) lists them all."""

    def __init__(self, window: MainWindow, entries: list[tuple[str, str, str]],
                 menu: QMenu) -> None:
        self.w = window
        #: The canvas's overlay layers; it empties the per-image ones on every image change,
        #: connected here before any panel connects its own handler.
        self.layers = LayerList.of(window.canvas.scene())
        self.layers.follow(window.image_changed)
        self.docks: dict[str, QDockWidget] = {}
        self.panels: dict[str, QWidget] = {}
        self.errors: dict[str, str] = {}
        self._on_screen: dict[str, bool] = {}
        self._specs: dict[str, tuple[str, str, str]] = {}
        previous: QDockWidget | None = None
        for module, class_name, title in entries:
            key = f"{module}.{class_name}"
            # "&" would be a mnemonic in the tab, title bar and menu ("Priors & anchors").
            dock = QDockWidget(title.replace("&", "&&"), window)
            dock.setObjectName(f"panel:{key}")
            dock.setAllowedAreas(Qt.DockWidgetArea.AllDockWidgetAreas)
            placeholder = QLabel("Loading…")
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            dock.setWidget(placeholder)
            window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            # One tab group with the Boxes / Problems docks: a shown panel gets the right
            # column's height (stacked below them, the Train panel's form and plots made the
            # window taller than the screen).
            beside = previous if previous is not None else getattr(window, "boxes_dock", None)
            if isinstance(beside, QDockWidget):
                window.tabifyDockWidget(beside, dock)
            previous = dock
            dock.hide()
            # Whether the dock is on screen: a dock tabbed behind another one still says
            # isVisible(); only visibilityChanged tells (read when the panel is built).
            dock.visibilityChanged.connect(
                lambda visible, k=key: self._on_screen.__setitem__(k, visible))
            dock.visibilityChanged.connect(lambda visible, k=key: visible and self.build(k))
            toggle = dock.toggleViewAction()
            # Shown from the menu = brought to the front of its tab group (and so built).
            toggle.triggered.connect(lambda checked, d=dock: self._raise(d) if checked else None)
            menu.addAction(toggle)
            self.docks[key] = dock
            self._specs[key] = (module, class_name, title)
        if not entries:
            none = menu.addAction("(no panels installed)")
            none.setEnabled(False)
        menu.addSeparator()
        self.layers_dock = self._layers_dock(menu)
        self.layers_panel: QWidget | None = None

    def _layers_dock(self, menu: QMenu) -> QDockWidget:
        """The Layers list: left, under the Files dock (beside the panels, it would be a tab
        that hides them — and their layers), hidden until asked for."""
        window = self.w
        dock = QDockWidget("Layers", window)
        dock.setObjectName("dock:layers")
        dock.setWidget(QLabel("Loading…"))
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        files = getattr(window, "files_dock", None)
        if isinstance(files, QDockWidget):
            window.splitDockWidget(files, dock, Qt.Orientation.Vertical)
        dock.hide()
        dock.visibilityChanged.connect(lambda visible: visible and self.build_layers())
        toggle = dock.toggleViewAction()
        toggle.setToolTip("Every overlay on the canvas: visibility and opacity")
        toggle.triggered.connect(lambda checked: self._show_layers() if checked else None)
        menu.addAction(toggle)
        return dock

    def _show_layers(self) -> None:
        """Show the Layers dock with a usable height: split under Files, Qt gives a newly shown
        dock only its minimum (a header and one row)."""
        dock = self.layers_dock
        self._raise(dock)
        files = getattr(self.w, "files_dock", None)
        if isinstance(files, QDockWidget) and files.isVisible() and not dock.isFloating() \
                and self.w.dockWidgetArea(dock) == self.w.dockWidgetArea(files):
            total = files.height() + dock.height()
            self.w.resizeDocks([files, dock], [total // 2, total - total // 2],
                               Qt.Orientation.Vertical)

    def build_layers(self) -> QWidget:
        """The Layers list widget (built on first show)."""
        if self.layers_panel is None:
            from workbench.gui.panels.layers import LayersPanel

            self.layers_panel = LayersPanel(self.layers)
            self.layers_dock.setWidget(self.layers_panel)
        return self.layers_panel

    def _raise(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    def show_panel(self, name: str) -> QWidget | None:
        """Show and raise the panel ``name`` (class name, title or module) and return it."""
        key = self.find(name)
        if key is None:
            return None
        self._raise(self.docks[key])
        return self.build(key)

    def build(self, key: str) -> QWidget | None:
        """Import and build the panel ``key`` (``module.ClassName``) if not done yet."""
        if key in self.panels:
            return self.panels[key]
        if key in self.errors:
            return None
        module_name, class_name, title = self._specs[key]
        dock = self.docks[key]
        try:
            module = importlib.import_module(module_name)
            panel = getattr(module, class_name)(self.w)
        except Exception as exc:  # a broken panel must not take the labeling window down
            log.error("panel %s failed: %s\n%s", key, exc, traceback.format_exc())
            self.errors[key] = f"{type(exc).__name__}: {exc}"
            label = QLabel(f"The “{title}” panel could not be loaded:\n{self.errors[key]}")
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setObjectName("muted")
            dock.setWidget(label)
            self.w.statusBar().showMessage(f"Panel “{title}” failed: {self.errors[key]}", 10000)
            return None
        dock.setWidget(panel)
        self.panels[key] = panel
        # its layers hide with the dock, and while another panel's tab is in front of it
        self.layers.attach_dock(panel, dock, shown=self._on_screen.get(key, False))
        return panel

    def confirm_close(self) -> bool:
        """Ask every built panel that defines ``confirm_close() -> bool`` (e.g. "training is
        running: stop it?"); False when one of them says no."""
        for key, panel in self.panels.items():
            ask = getattr(panel, "confirm_close", None)
            if callable(ask):
                try:
                    if not ask():
                        return False
                except Exception:  # a broken panel must not prevent quitting
                    log.exception("confirm_close of panel %s failed", key)
        return True

    def shutdown(self) -> None:
        """Call ``shutdown()`` on every built panel that has one (stop threads, workers)."""
        for key, panel in self.panels.items():
            stop = getattr(panel, "shutdown", None)
            if callable(stop):
                try:
                    stop()
                except Exception:
                    log.exception("shutdown of panel %s failed", key)

    def find(self, name: str) -> str | None:
        """Registry key for a class name, module.ClassName or title."""
        for key, (module, class_name, title) in self._specs.items():
            if name in (key, class_name, title, module):
                return key
        return None
