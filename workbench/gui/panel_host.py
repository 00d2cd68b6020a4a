"""Docks for the panels listed in :mod:`workbench.gui.panels.registry`, built lazily, and the
Layers list of the canvas's overlays (:mod:`workbench.gui.canvas.layer_list`).

Layout policy (issue 14, "panels fit"; checked by ``tests/gui/test_panels_fit.py`` at 1280×800
and 1440×900 with every panel open):

* One right-hand panel area: Boxes, Problems and every registry panel share one tab group, and
  a dock group is switched by a **panel switcher** in its title bar (a combo box listing the
  open docks of the group by their whole titles) instead of Qt's row of tabs, which elided
  eight titles to "Bo…", "Proble…", "Tr…" (the main window's dock tab bars get no height,
  :data:`NO_TAB_ROW`).
* A panel is shown inside a vertical scroll area (:class:`PanelScrollArea`): a short window
  scrolls the panel instead of squashing its plots (at least 150 px high) or growing the window
  past the screen; the area is as wide as the panel's minimum width, so nothing is cut off
  sideways.
* The mouse wheel scrolls the panel: over a combo box, spin box or slider that does not have
  the focus it scrolls the panel instead of changing the value (a real-display pass found
  "best epoch" switched to "last epoch" by scrolling the Runs panel). Such widgets take the
  focus by a click or Tab only (``StrongFocus``, not ``WheelFocus``); once focused, the wheel
  changes them as usual (:data:`WHEEL_GUARDED`, :meth:`PanelScrollArea.guard_wheel`).
* Panels narrow to the column (:meth:`PanelHost.compact`): combo boxes as wide as their current
  text, form rows wrapping, long labels wrapping.
* The canvas keeps its share of the width (:data:`CANVAS_SHARE`): opening a panel gives the
  right column no more than what is left, and never less than the panel needs. Measured with
  every panel open: canvas 631 px of 1280 (49 %), 791 of 1440 (55 %); before, 338 of 1280.
* The first build of a panel (imports and all) shows "Loading <title>…" and a busy cursor, the
  window repainted first (the menu it was picked from no longer stays painted over it).
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QCursor, QFontMetrics
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDockWidget,
                               QFormLayout, QFrame, QHBoxLayout, QLabel, QMenu, QScrollArea,
                               QSizePolicy, QSlider, QStyle, QTabBar, QToolButton, QWidget)

from workbench.gui.canvas.layer_list import LayerList

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow

log = logging.getLogger(__name__)

#: Style of the main window's dock tab bars: no height (see :class:`DockTitleBar`).
NO_TAB_ROW = ("QTabBar { max-height: 0px; } "
              "QTabBar::tab { height: 0px; padding: 0px; margin: 0px; border: none; }")

#: Share of the window's width the canvas keeps when a panel opens (the right column gets at most
#: the rest, less the left column; never less than the panel's minimum width).
CANVAS_SHARE = 0.55

#: Widgets whose value the wheel changes: in a panel, only once they have the focus.
WHEEL_GUARDED = (QComboBox, QAbstractSpinBox, QSlider)


def fit_combo(combo: QComboBox) -> None:
    """``combo`` at least as wide as its current text (at most 380 px; the popup and the
    tooltip show the whole text)."""
    combo.ensurePolished()  # the style sheet's font (13 px), not the default one
    text = combo.currentText()
    need = combo.fontMetrics().horizontalAdvance(text) + 40 if text else 0
    if combo.count() and not combo.itemIcon(max(combo.currentIndex(), 0)).isNull():
        need += combo.iconSize().width() + 4
    combo.setMinimumWidth(min(need, 380))
    if combo.property("fitTip") or not combo.toolTip():
        combo.setProperty("fitTip", True)  # a tooltip of the panel's own is kept
        combo.setToolTip(text)


class PanelScrollArea(QScrollArea):
    """A panel in a vertical scroll area: as wide as the panel's minimum width (also when the
    panel grows after it was built: a table filled, a label changed), and as high as the window
    allows but never less than the panel's minimum height for that width — a short window
    scrolls the panel instead of squashing its plots. (``widgetResizable`` would give a panel
    with wrapped labels its *preferred* height for the width: the Train plots grew to 480 px
    below the fold.)"""

    #: milliseconds after a layout change before the widgets added since are guarded
    GUARD_MS = 200

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self.setObjectName("panelScroll")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.setWidget(panel)
        panel.installEventFilter(self)
        self._pending = False
        self._guarded: set[int] = set()
        #: guarded widgets whose wheel filter is installed in the next turn (below)
        self._to_filter: list[QWidget] = []
        #: widgets the panel added since: guarded at most this often (a scan of the panel's
        #: whole tree on every layout request was ~0.2 ms each, ~10 per image switch)
        self._guard_timer = QTimer(self)
        self._guard_timer.setSingleShot(True)
        self._guard_timer.setInterval(self.GUARD_MS)
        self._guard_timer.timeout.connect(self.guard_wheel)
        self.guard_wheel(first=True)
        self.fit()

    def guard_wheel(self, first: bool = False) -> None:
        """The panel's combo boxes, spin boxes and sliders (also ones added since) take the
        focus by a click or Tab only, and the wheel over one without the focus scrolls the
        panel (:meth:`eventFilter`). ``first``: the panel's build — the filters are installed
        in the next turn (below)."""
        panel = self.widget()
        if panel is None:
            return
        for kind in WHEEL_GUARDED:
            for widget in panel.findChildren(kind):
                key = id(widget)
                if key in self._guarded:
                    continue
                self._guarded.add(key)
                widget.destroyed.connect(lambda *_a, k=key: self._guarded.discard(k))
                if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
                self._to_filter.append(widget)
        if self._to_filter and not first:
            self._install_filters()
        elif self._to_filter:
            # in the next turn: the events of a panel's first show and polish (hundreds) then
            # do not each pass through this Python filter (~10 % of the GUI thread's CPU in
            # the Train panel's first opening; issue 14, GUI stalls)
            QTimer.singleShot(0, self, self._install_filters)

    def _install_filters(self) -> None:
        widgets, self._to_filter = self._to_filter, []
        for widget in widgets:
            if id(widget) in self._guarded:   # not destroyed since
                widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            if isinstance(obj, WHEEL_GUARDED) and not obj.hasFocus():
                # not for this widget: the panel scrolls
                QApplication.sendEvent(self.verticalScrollBar(), event)
                event.accept()
                return True
            return False
        if obj is self.widget() and kind == QEvent.Type.LayoutRequest and not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.fit)
        return False

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt API)
        super().resizeEvent(event)
        self.fit()

    def fit(self) -> None:
        self._pending = False
        panel = self.widget()
        if panel is None:
            return
        if not self._guard_timer.isActive():
            self._guard_timer.start()  # widgets the panel added since
        bar = self.verticalScrollBar().sizeHint().width()
        min_w = panel.minimumSizeHint().width()
        if self.minimumWidth() != min_w + bar:
            self.setMinimumWidth(min_w + bar)
        width = max(self.viewport().width(), min_w)
        layout = panel.layout()
        if layout is not None and layout.hasHeightForWidth():
            need = layout.minimumHeightForWidth(width)
        else:
            need = panel.minimumSizeHint().height()
        height = max(self.viewport().height(), need)
        if panel.width() != width or panel.height() != height:
            panel.resize(width, height)


class DockTitleBar(QWidget):
    """A dock's title bar: its title, or — when other open docks share its tab group — a
    switcher listing them by their whole titles; float and close buttons."""

    def __init__(self, dock: QDockWidget,
                 group: Callable[[QDockWidget], list[QDockWidget]]) -> None:
        super().__init__(dock)
        self.dock = dock
        self._group = group
        self.setObjectName("dockTitle")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 3, 4, 3)
        row.setSpacing(2)
        self.label = QLabel()
        self.label.setObjectName("dockTitleText")
        self.switcher = QComboBox()
        self.switcher.setObjectName("panelSwitcher")
        self.switcher.setToolTip("Panel shown here (the open panels of this group)")
        self.switcher.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.switcher.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.switcher.activated.connect(self._on_switcher_activated)
        row.addWidget(self.label)
        row.addWidget(self.switcher)
        row.addStretch(1)
        style = self.style()
        self.float_button = self._button(style.standardIcon(
            QStyle.StandardPixmap.SP_TitleBarNormalButton), "Float / dock this panel",
            lambda: dock.setFloating(not dock.isFloating()))
        self.close_button = self._button(style.standardIcon(
            QStyle.StandardPixmap.SP_TitleBarCloseButton), "Close this panel", dock.close)
        row.addWidget(self.float_button)
        row.addWidget(self.close_button)
        self._docks: list[QDockWidget] = []
        self.refresh()

    def _button(self, icon, tip: str, slot) -> QToolButton:  # noqa: ANN001
        button = QToolButton()
        button.setIcon(icon)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        return button

    def refresh(self) -> None:
        dock = self.dock
        title = dock.windowTitle().replace("&&", "&")
        features = dock.features()
        self.float_button.setVisible(bool(features & QDockWidget.DockWidgetFeature.DockWidgetFloatable))
        self.close_button.setVisible(bool(features & QDockWidget.DockWidgetFeature.DockWidgetClosable))
        docks = [] if dock.isFloating() else self._group(dock)
        if len(docks) < 2 or dock not in docks:
            self._docks = []
            self.label.setText(title)
            self.label.show()
            self.switcher.hide()
            return
        self._docks = docks
        self.switcher.blockSignals(True)
        self.switcher.clear()
        for other in docks:
            self.switcher.addItem(other.windowTitle().replace("&&", "&"))
        self.switcher.setCurrentIndex(docks.index(dock))
        bold = self.switcher.font()  # bold from the style sheet: not in its size hint
        bold.setBold(True)
        fm = QFontMetrics(bold)
        self.switcher.setMinimumWidth(
            max(fm.horizontalAdvance(self.switcher.itemText(i)) for i in range(len(docks))) + 44)
        self.switcher.blockSignals(False)
        self.label.hide()
        self.switcher.show()

    def _on_switcher_activated(self, index: int) -> None:
        if 0 <= index < len(self._docks) and self._docks[index] is not self.dock:
            target = self._docks[index]
            target.show()
            target.raise_()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: ANN001, N802 (Qt API)
        event.ignore()  # the dock floats / docks itself



class LazyDocks(Mapping[str, QDockWidget]):
    """The registry panels' docks by key (``module.ClassName``): every key is listed, and a
    dock is created (hidden, tabified with the right-hand group) when it is first read."""

    def __init__(self, host: PanelHost) -> None:
        self._host = host

    def __getitem__(self, key: str) -> QDockWidget:
        return self._host.dock(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._host._specs)  # noqa: SLF001 - the host's own listing

    def __len__(self) -> int:
        return len(self._host._specs)  # noqa: SLF001

    def built(self) -> dict[str, QDockWidget]:
        """The docks created so far (reading these creates nothing)."""
        return dict(self._host._built_docks)  # noqa: SLF001


class PanelHost:
    """One dock per registry entry, created when first shown (or named in a saved window
    state) and tabified with the window's Boxes dock; the panel is built a moment after its
    dock first comes to the front (:meth:`_build_soon`; :meth:`show_panel` at once). A
    built panel's canvas layers follow its dock (shown while it is open and in front); the
    Layers dock (left, under Files) lists them all."""

    def __init__(self, window: MainWindow, entries: list[tuple[str, str, str]],
                 menu: QMenu) -> None:
        self.w = window
        #: The canvas's overlay layers; it empties the per-image ones on every image change,
        #: connected here before any panel connects its own handler.
        self.layers = LayerList.of(window.canvas.scene())
        self.layers.follow(window.image_changed)
        self.panels: dict[str, QWidget] = {}
        self.errors: dict[str, str] = {}
        self._after_models: set[str] = set()  # shown before the models were loaded
        self._after_panels: set[str] = set()  # shown while their module was being imported
        self._soon: set[str] = set()  # come to the front, built in a moment (_build_soon)
        from workbench.gui.jobs import model_loader

        # the loader imports every panel's module in the background soon after start-up
        model_loader().add_panel_modules([module for module, _c, _t in entries])
        self._on_screen: dict[str, bool] = {}
        self._specs: dict[str, tuple[str, str, str]] = {}
        #: The Panels menu's entries: checkable actions that create their dock on first use
        #: (start-up, issue 14: 11 hidden docks built and tabified up front were 35–55 ms
        #: before the first paint). Once the dock exists, they mirror its toggleViewAction.
        self.menu_actions: dict[str, QAction] = {}
        self._built_docks: dict[str, QDockWidget] = {}
        #: Every registry panel's dock by key; reading one creates it (hidden).
        self.docks: LazyDocks = LazyDocks(self)
        for module, class_name, title in entries:
            key = f"{module}.{class_name}"
            self._specs[key] = (module, class_name, title)
            # "&" would be a mnemonic in the tab, title bar and menu ("Priors & anchors").
            action = QAction(title.replace("&", "&&"), menu)
            action.setCheckable(True)
            action.triggered.connect(lambda checked, k=key: self._on_menu(k, checked))
            menu.addAction(action)
            self.menu_actions[key] = action
        if not entries:
            none = menu.addAction("(no panels installed)")
            none.setEnabled(False)
        menu.addSeparator()
        self.layers_dock = self._layers_dock(menu)
        self.layers_panel: QWidget | None = None
        # The panel switchers in the docks' title bars follow every show, hide, move and raise.
        self._titles: dict[int, DockTitleBar] = {}
        self._order: list[QDockWidget] = []
        self._retitle_timer = QTimer(window, singleShot=True, interval=0)
        self._retitle_timer.timeout.connect(self._retitle)
        # the switcher's order: the window's own docks, then the panels in registry order
        # (not the window's child order, which raise_() changes)
        own = [getattr(window, n, None) for n in ("files_dock", "classes_dock", "boxes_dock",
                                                   "problems_dock")]
        # A dock gets its title bar when it is first shown (start-up, issue 14: 18 title bars
        # with their switchers were half of building the window; most docks stay hidden).
        for dock in [*own, self.layers_dock]:
            if isinstance(dock, QDockWidget):
                self._order.append(dock)
                dock.visibilityChanged.connect(self._retitle_timer.start)
        self._n_own = sum(isinstance(d, QDockWidget) for d in own)
        # The Layers dock is shown by its own toggle action (Qt shows it before our slot
        # runs): a title bar set then re-lays the dock out after _show_layers sized it, and
        # the list got one row's height. It gets its title bar now.
        self._adopt(self.layers_dock)
        self._retitle()
        for fixed in ("files", "classes", "boxes", "problems"):
            widget = getattr(window, fixed, None)
            if isinstance(widget, QWidget):
                self.compact(widget)

    # -- the registry panels' docks, created on demand -------------------------------------
    def dock(self, key: str) -> QDockWidget:
        """The dock of the panel ``key``, created hidden the first time it is asked for."""
        dock = self._built_docks.get(key)
        if dock is not None:
            return dock
        module, class_name, title = self._specs[key]  # KeyError for an unknown panel
        window = self.w
        dock = QDockWidget(title.replace("&", "&&"), window)
        dock.setObjectName(f"panel:{key}")
        dock.setAllowedAreas(Qt.DockWidgetArea.AllDockWidgetAreas)
        placeholder = QLabel("Loading…")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dock.setWidget(placeholder)
        dock.hide()
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        # One tab group with the Boxes / Problems docks: a shown panel gets the right
        # column's height (stacked below them, the Train panel's form and plots made the
        # window taller than the screen). Beside the panel docks made before, else Boxes.
        beside = next((d for d in reversed(self._built_docks.values()) if not d.isFloating()),
                      getattr(window, "boxes_dock", None))
        if isinstance(beside, QDockWidget) and not beside.isFloating():
            window.tabifyDockWidget(beside, dock)
        dock.hide()
        self._built_docks[key] = dock
        # Whether the dock is on screen: a dock tabbed behind another one still says
        # isVisible(); only visibilityChanged tells (read when the panel is built).
        dock.visibilityChanged.connect(
            lambda visible, k=key: self._on_screen.__setitem__(k, visible))
        dock.visibilityChanged.connect(
            lambda visible, k=key: visible and self._build_soon(k))
        dock.visibilityChanged.connect(self._retitle_timer.start)
        toggle = dock.toggleViewAction()
        # Shown from its toggle = brought to the front of its tab group (and so built).
        toggle.triggered.connect(lambda checked, d=dock: self._raise(d) if checked else None)
        action = self.menu_actions.get(key)
        if action is not None:  # the menu entry follows the dock from now on
            action.setChecked(toggle.isChecked())
            toggle.toggled.connect(action.setChecked)
        self._order.append(dock)
        return dock

    def _on_menu(self, key: str, checked: bool) -> None:
        """Panels menu → a panel: create its dock if needed, show and raise it (or close it)."""
        dock = self.dock(key)
        if checked:
            self._raise(dock)
        else:
            dock.close()
        action = self.menu_actions[key]
        action.setChecked(not dock.isHidden())

    def docks_in_state(self, state: QByteArray | bytes) -> list[str]:
        """Keys of the panels whose docks a saved :meth:`QMainWindow.saveState` names (their
        object names are stored as UTF-16 strings); create them before ``restoreState``."""
        data = state.data() if hasattr(state, "data") else bytes(state)  # QByteArray or bytes
        return [key for key in self._specs
                if f"panel:{key}".encode("utf-16-be") in data]

    def prepare_restore(self, state: QByteArray | bytes) -> None:
        """Create the docks a saved window state names, so that ``restoreState`` puts them
        back (open, floating, moved) — the others stay uncreated."""
        for key in self.docks_in_state(state):
            self.dock(key)

    def _rank(self, dock: QDockWidget) -> int:
        """The switcher's order: the window's own docks, the panels in registry order, then
        the rest (Layers, the first-run hint) in the order they came."""
        for i, own in enumerate(self._order[:self._n_own]):
            if own is dock:
                return i
        name = dock.objectName()
        if name.startswith("panel:"):
            keys = list(self._specs)
            if name[6:] in self._specs:
                return self._n_own + keys.index(name[6:])
        for i, other in enumerate(self._order):
            if other is dock:
                return self._n_own + len(self._specs) + i
        return 10**6

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
        # layer names beside their opacity boxes: narrower, they were elided ("inters…");
        # after the dock is laid out (a resize of a dock being shown is ignored)
        QTimer.singleShot(0, self._widen_layers)

    def _widen_layers(self) -> None:
        dock = self.layers_dock
        if dock.isVisible() and not dock.isFloating() and dock.width() < self.LAYERS_WIDTH:
            self.w.resizeDocks([dock], [self.LAYERS_WIDTH], Qt.Orientation.Horizontal)

    #: Width the left column gets when the Layers list opens.
    LAYERS_WIDTH = 260

    def build_layers(self) -> QWidget:
        """The Layers list widget (built on first show)."""
        if self.layers_panel is None:
            from workbench.gui.panels.layers import LayersPanel

            self.layers_panel = LayersPanel(self.layers)
            self.layers_dock.setWidget(self.layers_panel)
        return self.layers_panel

    def _raise(self, dock: QDockWidget) -> None:
        self._adopt(dock)  # its title bar before it is first painted
        dock.show()
        dock.raise_()
        self.fit_width(dock)
        self.fit_height(dock)

    # -- layout policy (see the module docstring) ------------------------------------------
    def _adopt(self, dock: QDockWidget) -> None:
        """Give ``dock`` the title bar with the panel switcher."""
        if id(dock) in self._titles:
            return
        title = DockTitleBar(dock, self._group)
        dock.setTitleBarWidget(title)
        self._titles[id(dock)] = title
        if not any(d is dock for d in self._order):
            self._order.append(dock)
        dock.destroyed.connect(lambda *_a, k=id(dock): self._titles.pop(k, None))
        for signal in (dock.visibilityChanged, dock.topLevelChanged, dock.dockLocationChanged,
                       dock.windowTitleChanged, dock.featuresChanged):
            signal.connect(lambda *_a: self._retitle_timer.start())

    def _group(self, dock: QDockWidget) -> list[QDockWidget]:
        """The open docks of ``dock``'s tab group (itself included), in a stable order."""
        group = [dock, *self.w.tabifiedDockWidgets(dock)]
        group = [d for d in group if not d.isHidden() and not d.isFloating()]
        return sorted(group, key=self._rank)

    def _retitle(self) -> None:
        """Adopt the docks shown since (e.g. the first-run hint) and refresh every switcher."""
        for dock in self.w.findChildren(QDockWidget):
            if not dock.isHidden():
                self._adopt(dock)
        # Qt's row of dock tabs (created as docks are tabified) gets no height: the switchers
        # replace it. (Qt shows the bar again whenever it lays the docks out; a style sheet
        # on the bar itself holds.)
        for bar in self.w.findChildren(QTabBar):
            if bar.parentWidget() is self.w and not bar.property("noTabRow"):
                bar.setProperty("noTabRow", True)
                bar.setStyleSheet(NO_TAB_ROW)
        for bar in list(self._titles.values()):
            bar.refresh()

    def title_bar(self, dock: QDockWidget) -> DockTitleBar | None:
        return self._titles.get(id(dock))

    def fit_height(self, dock: QDockWidget) -> None:
        """Give a panel opened under the Classes dock the height it needs (its plots beside
        its controls, not below the fold), taking it from Classes down to Classes' minimum."""
        w = self.w
        classes = getattr(w, "classes_dock", None)
        area = dock.widget()
        if not isinstance(area, PanelScrollArea) or not isinstance(classes, QDockWidget) \
                or classes is dock or not classes.isVisible() or classes.isFloating() \
                or dock.isFloating() or w.dockWidgetArea(classes) != w.dockWidgetArea(dock) \
                or classes in w.tabifiedDockWidgets(dock):
            return
        if abs(classes.x() - dock.x()) > 2:  # side by side, not one above the other
            return
        panel = area.widget()
        layout = panel.layout() if panel is not None else None
        if layout is None:
            return
        width = area.viewport().width()
        need = (layout.minimumHeightForWidth(width) if layout.hasHeightForWidth()
                else panel.minimumSizeHint().height())
        need += dock.height() - area.height()  # the title bar
        total = classes.height() + dock.height()
        want = min(need, total - classes.minimumSizeHint().height())
        if want > dock.height():
            w.resizeDocks([classes, dock], [total - want, want], Qt.Orientation.Vertical)

    def fit_width(self, dock: QDockWidget) -> None:
        """Give ``dock``'s column the width its panel needs, but leave the canvas its share
        (:data:`CANVAS_SHARE`) when the panel allows it."""
        w = self.w
        if dock.isFloating() or not dock.isVisible():
            return
        area = w.dockWidgetArea(dock)
        if area not in (Qt.DockWidgetArea.RightDockWidgetArea,
                        Qt.DockWidgetArea.LeftDockWidgetArea):
            return
        others = [d for d in w.findChildren(QDockWidget)
                  if d.isVisible() and not d.isFloating() and w.dockWidgetArea(d) != area
                  and w.dockWidgetArea(d) in (Qt.DockWidgetArea.RightDockWidgetArea,
                                              Qt.DockWidgetArea.LeftDockWidgetArea)]
        beside = max((d.width() for d in others), default=0)
        budget = int(w.width() * (1 - CANVAS_SHARE)) - beside
        need = dock.minimumSizeHint().width()
        target = max(need, min(budget, max(dock.width(), need)))
        if target != dock.width():
            w.resizeDocks([dock], [target], Qt.Orientation.Horizontal)

    @staticmethod
    def compact(panel: QWidget) -> None:
        """Let ``panel`` narrow to the right column without cutting text: combo boxes no
        longer as wide as their longest item (the whole text is in the popup and the tooltip),
        form rows put a field under its label when both do not fit, long or changing
        (empty at build) labels wrap."""
        sized = (QComboBox.SizeAdjustPolicy.AdjustToContentsOnFirstShow,
                 QComboBox.SizeAdjustPolicy.AdjustToContents)
        for combo in panel.findChildren(QComboBox):
            if combo.objectName() == "panelSwitcher":
                continue
            if combo.sizeAdjustPolicy() in sized:
                combo.setSizeAdjustPolicy(
                    QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                combo.setMinimumContentsLength(6)
            # but as wide as what it shows (a form row then wraps instead of cutting it)
            fit_combo(combo)
            combo.currentTextChanged.connect(lambda _t, c=combo: fit_combo(c))
        for form in panel.findChildren(QFormLayout):
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for label in panel.findChildren(QLabel):
            if label.wordWrap() or (label.pixmap() is not None and not label.pixmap().isNull()):
                continue
            label.ensurePolished()
            text = label.text()
            if not text or "\n" not in text and label.fontMetrics().horizontalAdvance(text) > 200:
                label.setWordWrap(True)

    def _fitted(self, panel: QWidget) -> QScrollArea:
        """``panel`` in a vertical scroll area as wide as the panel's minimum width: a short
        window scrolls it rather than squashing its plots or growing past the screen."""
        self.compact(panel)
        return PanelScrollArea(panel)

    def show_panel(self, name: str) -> QWidget | None:
        """Show and raise the panel ``name`` (class name, title or module) and return it."""
        key = self.find(name)
        if key is None:
            return None
        self._raise(self.docks[key])
        return self.build(key)

    #: Milliseconds between a panel's dock first coming to the front (its "Loading …" text laid
    #: out and painted) and the panel's construction: two passes of the event loop of ~25 ms
    #: each instead of one of ~50-75 ms on 2 CPUs (bench_gui_stalls: the first opening of a
    #: panel was the tour's longest stall). A zero delay may run in the same pass.
    BUILD_DELAY_MS = 15

    def _build_soon(self, key: str) -> None:
        """The dock of ``key`` came to the front (Panels menu, its toggle, its tab): build the
        panel :attr:`BUILD_DELAY_MS` later, if it is still in front then (:meth:`show_panel`
        and :meth:`build` build at once)."""
        if key in self.panels or key in self.errors or key in self._soon:
            return
        self._soon.add(key)
        placeholder = self.docks[key].widget()
        if isinstance(placeholder, QLabel):
            placeholder.setText(f"Loading {self._specs[key][2]}…")

        def build() -> None:
            self._soon.discard(key)
            dock = self._built_docks.get(key)
            if key in self.panels or dock is None or dock.isHidden() \
                    or not self._on_screen.get(key, False):
                return
            if self.build_when_ready(key) is not None:
                self.fit_height(dock)  # as _raise does for a panel built when shown

        QTimer.singleShot(self.BUILD_DELAY_MS, self.w, build)

    def build_when_ready(self, key: str) -> QWidget | None:
        """Build the panel ``key`` now, unless it needs the models still being imported in the
        background (:func:`workbench.gui.jobs.model_loader`): then its dock says "Loading
        models…" and it is built when they are loaded, without freezing the window."""
        from workbench.gui.jobs import model_loader

        loader = model_loader()
        module_name, _class_name, title = self._specs[key]
        if key not in self.panels and key not in self.errors \
                and loader.importing(module_name):
            # its module is being imported in the background: build it when that is done
            # rather than import it here too (the GUI thread would wait for the import lock)
            placeholder = self.docks[key].widget()
            if isinstance(placeholder, QLabel):
                placeholder.setText(f"Loading {title}…")
            if key not in self._after_panels:
                self._after_panels.add(key)
                loader.panels_loaded.connect(lambda k=key: self._panels_loaded(k))
            return None
        if key in self.panels or key in self.errors or not loader.needed_by(module_name):
            return self.build(key)
        loader.start()  # at once if it was waiting for the user to pause
        placeholder = self.docks[key].widget()
        if isinstance(placeholder, QLabel):
            placeholder.setText("Loading models… (torch, once per session)")
        if key not in self._after_models:
            self._after_models.add(key)
            loader.loaded.connect(lambda k=key: self._models_loaded(k))
        return None

    def _panels_loaded(self, key: str) -> None:
        if key in self._after_panels:
            self._after_panels.discard(key)
            dock = self._built_docks.get(key)
            if dock is not None and not dock.isHidden():
                self.build_when_ready(key)

    def _models_loaded(self, key: str) -> None:
        if key in self._after_models:
            self._after_models.discard(key)
            dock = self._built_docks.get(key)
            if dock is not None and not dock.isHidden():
                self.build(key)

    def build(self, key: str) -> QWidget | None:
        """Import and build the panel ``key`` (``module.ClassName``) if not done yet."""
        if key in self.panels:
            return self.panels[key]
        if key in self.errors:
            return None
        module_name, class_name, title = self._specs[key]
        dock = self.docks[key]
        # The first build may import a lot (pyqtgraph, the engine): say so and paint it before
        # (the menu it was picked from must not stay painted over a frozen window).
        placeholder = dock.widget()
        if isinstance(placeholder, QLabel):
            placeholder.setText(f"Loading {title}…")
        QApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
        try:
            # only before an import: a whole-window repaint was ~20-30 ms of every panel's
            # first opening (issue 14, GUI stalls), most panels' modules are imported by then
            if self.w.isVisible() and module_name not in sys.modules:
                self.w.repaint()
            module = importlib.import_module(module_name)
            panel = getattr(module, class_name)(self.w)
        except Exception as exc:  # a broken panel must not take the labeling window down
            QApplication.restoreOverrideCursor()
            log.error("panel %s failed: %s\n%s", key, exc, traceback.format_exc())
            self.errors[key] = f"{type(exc).__name__}: {exc}"
            label = QLabel(f"The “{title}” panel could not be loaded:\n{self.errors[key]}")
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setObjectName("muted")
            dock.setWidget(label)
            self.w.statusBar().showMessage(f"Panel “{title}” failed: {self.errors[key]}", 10000)
            return None
        QApplication.restoreOverrideCursor()
        dock.setWidget(self._fitted(panel))
        self.panels[key] = panel
        self.fit_width(dock)
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
