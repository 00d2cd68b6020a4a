"""Questions the window asks the user. Module-level functions so tests can monkeypatch them
(``monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a, **k: True)``); callers always go
through the module (``dialogs.ask_yes_no(...)``), never a copied reference."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHeaderView, QInputDialog,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QMessageBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.gui.canvas.palette import class_color


def ask_yes_no(parent: QWidget | None, title: str, text: str, *, yes: str = "Yes",
               destructive: bool = False) -> bool:
    """A confirmation; ``destructive`` makes "Cancel" the default button."""
    box = QMessageBox(QMessageBox.Icon.Warning if destructive else QMessageBox.Icon.Question,
                      title, text, parent=parent)
    ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel if destructive else ok)
    box.exec()
    return box.clickedButton() is ok


def ask_save_discard_cancel(parent: QWidget | None, title: str, text: str) -> str:
    """``"save"``, ``"discard"`` or ``"cancel"``."""
    answer = QMessageBox.question(
        parent, title, text,
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
    return {QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")


def ask_text(parent: QWidget | None, title: str, label: str, text: str = "") -> str | None:
    value, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, text)
    value = value.strip()
    return value if ok and value else None


def ask_directory(parent: QWidget | None, title: str, start: str = "") -> str | None:
    path = QFileDialog.getExistingDirectory(parent, title, start)
    return path or None


def show_info(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.information(parent, title, text)


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)


def choose_export(parent: QWidget | None, project, previous=None):  # noqa: ANN001,ANN201
    """File → Export dataset…: an ``ExportChoice`` (see ``gui/export_dialog.py``) or None."""
    from workbench.gui.export_dialog import ExportDialog

    dialog = ExportDialog(project, previous, parent)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None


def choose_class(parent: QWidget | None, classes: Sequence[str], current: str | None = None,
                 title: str = "Class") -> str | None:
    """LabelImg's label dialog: type to filter or to name a new class, Enter accepts."""
    dialog = ClassDialog(classes, current, title, parent)
    return dialog.value() if dialog.exec() == QDialog.DialogCode.Accepted else None


def choose_reassignment(parent: QWidget | None, name: str, count: int,
                        classes: Sequence[str]) -> str | None:
    """Where the ``count`` boxes of a class being deleted go; None cancels the deletion."""
    others = [c for c in classes if c != name]
    if not others:
        return None
    value, ok = QInputDialog.getItem(
        parent, "Delete class",
        f"{count} box(es) use “{name}”. Reassign them to:", others, 0, False)
    return value if ok and value else None


class ClassDialog(QDialog):
    def __init__(self, classes: Sequence[str], current: str | None, title: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(320)
        self.edit = QLineEdit(current or "")
        self.edit.setPlaceholderText("Class name (type to filter or add)")
        self.list = QListWidget()
        for name in classes:
            item = QListWidgetItem(f"●  {name}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setForeground(class_color(name))
            self.list.addItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.edit.textChanged.connect(self._filter)
        self.list.itemClicked.connect(lambda it: self.edit.setText(it.data(Qt.ItemDataRole.UserRole)))
        self.list.itemDoubleClicked.connect(lambda _it: self._accept())
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == current:
                self.list.setCurrentRow(i)
        self.edit.selectAll()

    def keyPressEvent(self, event) -> None:  # noqa: ANN001,N802 (Qt API)
        """Up/Down in the name field walk the visible classes (LabelImg's label dialog)."""
        step = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1}.get(event.key())
        if step is None:
            super().keyPressEvent(event)
            return
        rows = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
        if not rows:
            return
        current = self.list.currentRow()
        pos = rows.index(current) + step if current in rows else (0 if step > 0 else -1)
        row = rows[max(0, min(pos, len(rows) - 1))]
        self.list.setCurrentRow(row)
        self.edit.blockSignals(True)  # keep the filter as typed
        self.edit.setText(self.list.item(row).data(Qt.ItemDataRole.UserRole))
        self.edit.blockSignals(False)

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(needle not in item.data(Qt.ItemDataRole.UserRole).lower())

    def _accept(self) -> None:
        if self.value():
            self.accept()

    def value(self) -> str:
        return self.edit.text().strip()


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
                      "class. Ctrl+click or a band from empty space selects several boxes.")
        note.setWordWrap(True)
        note.setObjectName("muted")
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
