"""Questions the window asks the user. Module-level functions so tests can monkeypatch them
(``monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a, **k: True)``); callers always go
through the module (``dialogs.ask_yes_no(...)``), never a copied reference."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QCursor, QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHeaderView, QInputDialog,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QMessageBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core import wording
from workbench.gui.canvas.palette import class_color


def _focus_back(parent: QWidget | None) -> None:
    """After a modal dialog: make the parent's window the active one again. A window manager
    does this by itself; without one (a bare X server, some kiosk set-ups) X gave the input
    focus to the root window when the dialog closed, and the window took no more keys."""
    if parent is not None:
        top = parent.window()
        if top.isVisible() and not top.isActiveWindow():
            top.activateWindow()


def _exec(dialog: QDialog, parent: QWidget | None) -> int:
    try:
        return dialog.exec()
    finally:
        _focus_back(parent)


def ask_yes_no(parent: QWidget | None, title: str, text: str, *, yes: str = "Yes",
               destructive: bool = False) -> bool:
    """A confirmation; ``destructive`` makes "Cancel" the default button."""
    box = QMessageBox(QMessageBox.Icon.Warning if destructive else QMessageBox.Icon.Question,
                      title, text, parent=parent)
    ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel if destructive else ok)
    _exec(box, parent)
    return box.clickedButton() is ok


def ask_save_discard_cancel(parent: QWidget | None, title: str, text: str) -> str:
    """``"save"``, ``"discard"`` or ``"cancel"``."""
    answer = QMessageBox.question(
        parent, title, text,
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
    _focus_back(parent)
    return {QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")


def ask_text(parent: QWidget | None, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, text)
    _focus_back(parent)
    value = value.strip()
    return value if ok and value else None


def ask_directory(parent: QWidget | None, title: str, start: str = "") -> str | None:
    path = QFileDialog.getExistingDirectory(parent, title, start)
    _focus_back(parent)
    return path or None


def show_info(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.information(parent, title, text)
    _focus_back(parent)


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)
    _focus_back(parent)


def choose_export(parent: QWidget | None, project, previous=None):  # noqa: ANN001,ANN201
    """File → Export dataset…: an ``ExportChoice`` (see ``gui/export_dialog.py``) or None."""
    from workbench.gui.export_dialog import ExportDialog

    dialog = ExportDialog(project, previous, parent)
    return dialog.choice() if _exec(dialog, parent) == QDialog.DialogCode.Accepted else None


def choose_class(parent: QWidget | None, classes: Sequence[str], current: str | None = None,
                 title: str = "Class", anchor: QRect | QPoint | None = None) -> str | None:
    """The class dialog (see :class:`ClassDialog`): type to filter, Enter takes the highlighted
    class; a new class only through its "Create class" row. Opens beside ``anchor`` (a box or
    point in global pixels; default: the mouse pointer)."""
    dialog = ClassDialog(classes, current, title, parent, anchor)
    return dialog.value() if _exec(dialog, parent) == QDialog.DialogCode.Accepted else None


def choose_reassignment(parent: QWidget | None, name: str, count: int,
                        classes: Sequence[str]) -> str | None:
    """Where the ``count`` boxes of a class being deleted go; None cancels the deletion."""
    others = [c for c in classes if c != name]
    if not others:
        return None
    value, ok = QInputDialog.getItem(
        parent, "Delete class",
        f"{wording.count(count, 'box')} use{'s' if count == 1 else ''} “{name}”. Reassign "
        f"{'it' if count == 1 else 'them'} to:", others, 0, False)
    return value if ok and value else None


#: The class dialog's row that creates a new class (its UserRole data).
CREATE_ROLE = Qt.ItemDataRole.UserRole + 1


class ClassDialog(QDialog):
    """LabelImg's label dialog, without its surprise: **Enter takes the highlighted row**.

    Typing filters the classes and highlights the best match (the exact name, else the first
    that starts with the text, else the first that contains it), so "rac" + Enter is
    "raccoon". A new class is made only through its own row, "+ Create class “rac”", shown
    while the text is not a class name: it is highlighted only when no class matches, and
    reached with Down or a click otherwise. An empty field + Enter takes the highlighted
    class (the one used last, else the first). Up/Down walk the visible rows. The dialog
    opens beside ``anchor`` (the box just drawn, global pixels) or the mouse pointer, kept on
    the screen.
    """

    def __init__(self, classes: Sequence[str], current: str | None, title: str,
                 parent: QWidget | None = None, anchor: QRect | QPoint | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(320)
        self.anchor = anchor
        self._current = current
        self.edit = QLineEdit(current or "")
        self.edit.setPlaceholderText("Type to filter or name a new class")
        self.list = QListWidget()
        for name in classes:
            item = QListWidgetItem(f"●  {name}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setForeground(class_color(name))
            self.list.addItem(item)
        self.create_item = QListWidgetItem()
        self.create_item.setData(CREATE_ROLE, True)
        self.create_item.setToolTip("Add a new class with this name to the project")
        self.list.addItem(self.create_item)
        self.hint = QLabel()
        self.hint.setObjectName("muted")
        self.hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)
        self.edit.textChanged.connect(self._filter)
        self.list.itemDoubleClicked.connect(lambda _it: self._accept())
        self._filter("")  # every class shown, the one used last highlighted
        self.edit.selectAll()

    # -- rows -------------------------------------------------------------------------------
    def _class_rows(self) -> list[int]:
        return [i for i in range(self.list.count()) if self.list.item(i) is not self.create_item]

    def _visible_rows(self) -> list[int]:
        return [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]

    def _filter(self, text: str) -> None:
        """Show the classes containing ``text`` (any case) and highlight the best match (with
        no text: the class the dialog opened with)."""
        typed = text.strip()
        keep = None if typed else self._current
        needle = typed.lower()
        names = {i: self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in self._class_rows()}
        for i, name in names.items():
            self.list.item(i).setHidden(needle not in name.lower())
        exists = typed in names.values()
        self.create_item.setText(f"+  Create class “{typed}”")
        self.create_item.setHidden(not typed or exists)
        shown = [i for i in names if not self.list.item(i).isHidden()]
        ranked = ([i for i in shown if names[i] == keep]
                  + [i for i in shown if names[i] == typed]
                  + [i for i in shown if names[i].lower() == needle]
                  + [i for i in shown if names[i].lower().startswith(needle)] + shown)
        if ranked:
            self.list.setCurrentRow(ranked[0])
        elif typed:
            self.list.setCurrentItem(self.create_item)
        else:
            self.list.setCurrentRow(-1)
        self._update_hint()

    def _update_hint(self) -> None:
        typed = self.edit.text().strip()
        if not self._class_rows() and not typed:
            self.hint.setText("No classes yet: type the name of the first one.")
        elif self.list.currentItem() is self.create_item:
            self.hint.setText(f"No class matches: Enter creates “{typed}”.")
        elif not self.create_item.isHidden():
            self.hint.setText("Enter takes the highlighted class; ↓ to the last row creates "
                              "a new one.")
        else:
            self.hint.setText("")

    def keyPressEvent(self, event) -> None:  # noqa: ANN001,N802 (Qt API)
        """Up/Down in the name field walk the visible rows (LabelImg's label dialog)."""
        step = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1}.get(event.key())
        if step is None:
            super().keyPressEvent(event)
            return
        rows = self._visible_rows()
        if not rows:
            return
        current = self.list.currentRow()
        pos = rows.index(current) + step if current in rows else (0 if step > 0 else -1)
        self.list.setCurrentRow(rows[max(0, min(pos, len(rows) - 1))])
        self._update_hint()

    # -- result -----------------------------------------------------------------------------
    def _accept(self) -> None:
        if self.value():
            self.accept()

    def value(self) -> str:
        """The highlighted class, or the typed name when the "Create class" row is highlighted
        ("" when nothing is)."""
        item = self.list.currentItem()
        if item is None or item.isHidden():
            return ""
        if item is self.create_item:
            return self.edit.text().strip()
        return str(item.data(Qt.ItemDataRole.UserRole))

    def creates(self) -> bool:
        """Whether accepting makes a new class."""
        return self.list.currentItem() is self.create_item and bool(self.value())

    # -- placement --------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: ANN001,N802 (Qt API)
        super().showEvent(event)
        zone = self.anchor if self.anchor is not None else QCursor.pos()
        self.move(place_beside(zone, self.frameGeometry().size()))


def place_beside(zone: QRect | QPoint, size: QSize, gap: int = 16) -> QPoint:
    """Top-left (global pixels) for a window of ``size`` beside ``zone`` — a box just drawn, or
    the pointer — without covering it: to its right, else to its left, vertically centred on
    it, and always on the screen (LabelImg opens its label dialog at the pointer, so the eye
    stays on the box)."""
    if isinstance(zone, QPoint):
        zone = QRect(zone, QSize(1, 1))
    screen = QGuiApplication.screenAt(zone.center()) or QGuiApplication.primaryScreen()
    area = screen.availableGeometry() if screen is not None else QRect(0, 0, 1 << 16, 1 << 16)
    w, h = size.width(), size.height()
    x = zone.right() + gap
    if x + w > area.right() + 1 and zone.left() - gap - w >= area.left():
        x = zone.left() - gap - w
    y = zone.center().y() - h // 2
    x = max(area.left(), min(x, area.right() + 1 - w))
    y = max(area.top(), min(y, area.bottom() + 1 - h))
    return QPoint(x, y)


class ShortcutSheet(QDialog):
    """Help → Keyboard shortcuts: every action with a key, from the live actions."""

    def __init__(self, rows: Sequence[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 640)
        table = QTableWidget(len(rows), 3)
        table.setHorizontalHeaderLabels(["Key", "Action", "Menu"])
        for r, (key, text, menu) in enumerate(rows):
            for c, value in enumerate((key, text, menu)):
                item = QTableWidgetItem(value)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                table.setItem(r, c, item)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.resizeColumnToContents(0)
        self.table = table
        note = QLabel("Canvas: wheel zooms, middle-drag or Space-drag pans, arrows nudge the "
                      "selected boxes (Shift = 10 px), Esc cancels. Number keys 1–9 set the "
                      "class. Ctrl+click or a band from empty space selects several boxes. "
                      "Class dialog: typing filters, Enter takes the highlighted class (empty "
                      "field: the last used), a new class only through its “Create class” row.")
        note.setWordWrap(True)
        note.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
