"""The key table in docs/labeling.md against the window's actions, both ways.

Each row of the table is ``| key | menu item | what it does |``. A row whose menu item is
``canvas`` names a key the canvas handles itself (:data:`workbench.gui.actions.CANVAS_KEYS`);
every other row names one or more menu items (``Menu → Item``, several joined by `` / ``, in the
same order as the keys joined by `` / ``), and its keys must be exactly the shortcuts of that
action. Every QAction of the real window (registry panels' docks included) that has a shortcut
must appear in the table, and every canvas key too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

DOC = Path(__file__).resolve().parents[2] / "docs" / "labeling.md"
PORTABLE = QKeySequence.SequenceFormat.PortableText


def key_table(text: str) -> list[tuple[str, str]]:
    """``(key cell, menu cell)`` of every row of the table under ``## Keys``."""
    section = text.split("\n## Keys\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and line.startswith("|") and cells[0] not in ("key", "---"):
            rows.append((cells[0], cells[1]))
    return rows


def normal(key: str) -> str:
    """A key as Qt's portable text (``Ctrl++`` stays ``Ctrl++``; an unknown name raises)."""
    seq = QKeySequence(key)
    text = seq.toString(PORTABLE)
    assert text and seq.count() == 1, f"{key!r} in docs/labeling.md is not a key Qt knows"
    return text


def expand(keys: str, menus: str) -> list[tuple[list[str], str]]:
    """``[(keys, menu path)]`` of one action row: ``A / D`` with ``Go → X / Go → Y`` is two
    actions; ``Ctrl+Shift+Z, Ctrl+Y`` is one action with two keys; ``1 … 9`` is nine."""
    if keys == "1 … 9":
        assert menus == "Edit → Set Class → Class 1 … 9", menus
        return [([str(n)], f"Edit → Set Class → Class {n}") for n in range(1, 10)]
    groups = keys.split(" / ")
    paths = menus.split(" / ")
    assert len(groups) == len(paths), f"{keys!r}: one menu item per key group ({menus!r})"
    return [([normal(k) for k in group.split(", ")], path) for group, path in zip(groups, paths)]


def menu_paths(window) -> dict[str, QAction]:  # noqa: ANN001
    """``"Edit → Set Class → Class 1"`` → action, for every action in the menu bar."""
    out: dict[str, QAction] = {}

    def walk(menu: QMenu, prefix: str) -> None:
        for action in menu.actions():
            text = action.text().replace("&", "")
            if action.menu() is not None:
                walk(action.menu(), f"{prefix}{text} → ")
            elif text:
                out.setdefault(f"{prefix}{text}", action)

    for action in window.menuBar().actions():
        walk(action.menu(), action.text().replace("&", "") + " → ")
    return out


@pytest.fixture
def window(qtbot, tmp_path):  # noqa: ANN001, ANN201
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    w = MainWindow(Settings(tmp_path / "settings.ini"))  # the registry's panels, as the app
    qtbot.addWidget(w)
    return w


def test_key_table_parses() -> None:
    rows = key_table(DOC.read_text(encoding="utf-8"))
    assert ("W", "Edit → Draw Boxes") in rows
    assert ("Wheel", "canvas") in rows
    assert expand("A / D", "Go → Previous Image / Go → Next Image") == [
        (["A"], "Go → Previous Image"), (["D"], "Go → Next Image")]
    assert expand("Ctrl++, Ctrl+Shift+=", "View → Zoom In") == [
        (["Ctrl++", "Ctrl+Shift+="], "View → Zoom In")]
    with pytest.raises(AssertionError):
        normal("Ctrl+Nonsense")


def test_every_documented_key_triggers_the_action_named(window) -> None:  # noqa: ANN001
    from workbench.gui.actions import CANVAS_KEYS

    paths = menu_paths(window)
    canvas = {k.lower() for k, _ in CANVAS_KEYS}
    documented_canvas = set()
    for keys, menus in key_table(DOC.read_text(encoding="utf-8")):
        if menus == "canvas":
            assert keys.lower() in canvas, f"{keys!r} is not one of actions.CANVAS_KEYS"
            documented_canvas.add(keys.lower())
            continue
        for key_list, path in expand(keys, menus):
            assert path in paths, f"no menu item {path!r} (docs/labeling.md, key {keys})"
            bound = [s.toString(PORTABLE) for s in paths[path].shortcuts()]
            assert key_list == bound, f"{path}: docs say {key_list}, the action has {bound}"
    assert documented_canvas == canvas, "canvas keys missing from the table: " \
        f"{sorted(canvas - documented_canvas)}"


def test_every_action_with_a_key_is_in_the_table(window) -> None:  # noqa: ANN001
    documented: set[str] = set()
    for keys, menus in key_table(DOC.read_text(encoding="utf-8")):
        if menus != "canvas":
            documented.update(k for key_list, _ in expand(keys, menus) for k in key_list)
    actions = set(window.findChildren(QAction)) | set(window.actions.by_name.values())
    with_keys = {s.toString(PORTABLE): a.text().replace("&", "")
                 for a in actions for s in a.shortcuts() if not s.isEmpty()}
    assert with_keys, "the window has no shortcuts at all?"
    missing = {k: text for k, text in with_keys.items() if k not in documented}
    assert missing == {}, f"keys of the window missing from docs/labeling.md: {missing}"
    assert documented <= set(with_keys), f"documented keys no action has: " \
        f"{sorted(documented - set(with_keys))}"
    assert re.search(r"\| F1 \| Help → Keyboard Shortcuts \|", DOC.read_text(encoding="utf-8"))
