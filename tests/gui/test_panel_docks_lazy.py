"""Registry panels' docks are created when first shown (start-up, issue 14): the Panels menu
still lists every panel and opens it, and a saved window layout still reopens a panel dock
that was open when the window closed."""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget

from workbench.gui import dialogs
from workbench.gui.main_window import MainWindow
from workbench.gui.settings import Settings

PANELS = [("workbench.gui.panels.problems", "ProblemsPanel", "One & two"),
          ("workbench.gui.panels.boxes", "BoxesPanel", "Three")]
ONE, THREE = (f"{m}.{c}" for m, c, _t in PANELS)


def _panel_docks(w: MainWindow) -> list[str]:
    return sorted(d.objectName() for d in w.findChildren(QDockWidget)
                  if d.objectName().startswith("panel:"))


def _window(qtbot, path, monkeypatch) -> MainWindow:  # noqa: ANN001
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a, **k: True)
    w = MainWindow(Settings(path), panels=PANELS)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_menu_lists_every_panel_and_creates_its_dock_on_first_use(qtbot, tmp_path, monkeypatch):
    w = _window(qtbot, tmp_path / "s.ini", monkeypatch)
    assert _panel_docks(w) == []  # nothing created up front
    assert list(w.panel_host.docks) == [ONE, THREE]  # but every panel is listed
    actions = {a.text(): a for a in w.actions.panels_menu.actions() if not a.isSeparator()}
    assert set(actions) == {"One && two", "Three", "Layers"}
    assert not actions["Three"].isChecked()
    actions["Three"].trigger()
    assert _panel_docks(w) == [f"panel:{THREE}"]
    dock = w.panel_host.docks.built()[THREE]
    assert dock.isVisible() and actions["Three"].isChecked()
    assert THREE not in w.panel_host.panels  # its dock first, painted; the panel a moment later
    qtbot.waitUntil(lambda: THREE in w.panel_host.panels, timeout=2000)
    assert dock in w.tabifiedDockWidgets(w.boxes_dock)
    dock.close()  # the close button: the menu entry follows
    assert not actions["Three"].isChecked()
    actions["Three"].trigger()
    assert dock.isVisible() and actions["Three"].isChecked()
    actions["Three"].trigger()  # unchecked: closes it
    assert dock.isHidden() and not actions["Three"].isChecked()
    assert _panel_docks(w) == [f"panel:{THREE}"]  # the other one still not created


def test_saved_layout_reopens_a_panel_dock_that_was_open(qtbot, tmp_path, monkeypatch):
    ini = tmp_path / "s.ini"
    w = _window(qtbot, ini, monkeypatch)
    w.panel_host.show_panel("One & two")
    assert w.panel_host.docks.built()[ONE].isVisible()
    w.close()  # saves geometry and state
    assert w.panel_host.docks_in_state(Settings(ini).window_state()) == [ONE]

    again = _window(qtbot, ini, monkeypatch)
    assert _panel_docks(again) == [f"panel:{ONE}"]  # created for restoreState, not Three
    dock = again.panel_host.docks.built()[ONE]
    assert dock.isVisible()
    qtbot.waitUntil(lambda: ONE in again.panel_host.panels, timeout=5000)
    actions = {a.text(): a for a in again.actions.panels_menu.actions()}
    assert actions["One && two"].isChecked() and not actions["Three"].isChecked()
