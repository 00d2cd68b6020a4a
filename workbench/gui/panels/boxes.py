"""Boxes dock: the current image's objects, in file order, synchronised with the canvas
selection (several rows when several boxes are selected; Ctrl/Shift+click rows selects several
here too). A check box per row toggles ``difficult``; double click changes the class."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QLabel, QListWidget,
                               QListWidgetItem, QVBoxLayout, QWidget)

from workbench.core.annotation import VocObject
from workbench.gui.canvas.palette import class_color
from workbench.gui.panels.classes import swatch


class BoxesPanel(QWidget):
    rows_selected = Signal(object, int)  # the selected rows (tuple), the current row (or -1)
    difficult_toggled = Signal(int)
    edit_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel("No boxes")
        self.header.setObjectName("counter")
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setUniformItemSizes(True)  # one row height: no per-row layout (100k rows)
        self.show_difficult = QCheckBox("Show “difficult” column")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.header)
        layout.addWidget(self.list, 1)
        self.show_difficult.hide()
        self.list.itemSelectionChanged.connect(self._on_selection_changed)
        self.list.itemDoubleClicked.connect(lambda it: self.edit_requested.emit(self.list.row(it)))
        self.list.itemChanged.connect(self._on_item_changed)
        self._objects: tuple[VocObject, ...] = ()

    def set_objects(self, objects: Sequence[VocObject], selection: int,
                    extra: Sequence[int] = ()) -> None:
        """Show ``objects``; row ``selection`` current and selected, rows ``extra`` selected."""
        objects = tuple(objects)
        blocker = QSignalBlocker(self.list)
        if self.list.count() != len(self._objects):
            self._objects = ()  # rows changed behind our back: build them all
            self.list.clear()
        if objects is not self._objects and objects != self._objects:
            self._replace_changed_rows(objects)
            self._objects = objects
        self.list.clearSelection()
        self.list.setCurrentRow(selection if 0 <= selection < len(objects) else -1)
        for row in extra:
            if 0 <= row < len(objects) and row != selection:
                self.list.item(row).setSelected(True)
        del blocker
        n = len(objects)
        self.header.setText(f"{n} box{'es' if n != 1 else ''} · check = difficult" if n
                            else "No boxes — press W to draw")

    def _replace_changed_rows(self, objects: tuple[VocObject, ...]) -> None:
        """Only the rows between the unchanged head and tail are rebuilt: moving, adding or
        deleting one box of 100,000 touches one row (issue 12: every edit rebuilt the list)."""
        old = self._objects
        head = 0
        limit = min(len(old), len(objects))
        while head < limit and old[head] == objects[head]:
            head += 1
        tail = 0
        while (tail < limit - head
               and old[len(old) - 1 - tail] == objects[len(objects) - 1 - tail]):
            tail += 1
        new_rows = objects[head:len(objects) - tail]
        old_count = len(old) - head - tail
        for offset, obj in enumerate(new_rows[:old_count]):  # rows that stay: refilled
            self._fill(self.list.item(head + offset), head + offset, obj)
        for _ in range(old_count - len(new_rows)):          # rows that went
            self.list.takeItem(head + len(new_rows))
        for offset, obj in enumerate(new_rows[old_count:], start=old_count):  # rows added
            item = QListWidgetItem()
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self._fill(item, head + offset, obj)
            self.list.insertItem(head + offset, item)
        if len(objects) != len(old):  # tooltips number the rows after the change
            for row in range(head + len(new_rows), len(objects)):
                self._fill(self.list.item(row), row, objects[row], tooltip_only=True)

    @staticmethod
    def _fill(item: QListWidgetItem, i: int, obj: VocObject, tooltip_only: bool = False) -> None:
        x1, y1, x2, y2 = obj.box
        item.setToolTip(f"#{i + 1} {obj.name} ({x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f})"
                        " — check box: difficult")
        if tooltip_only:
            return
        text = f"{obj.name}    {x2 - x1:.0f}×{y2 - y1:.0f}"
        if obj.model_made:
            text += "   suggestion" + (f" {obj.score:.2f}" if obj.score is not None else "")
        item.setText(text)
        item.setIcon(swatch(class_color(obj.name)))
        item.setCheckState(Qt.CheckState.Checked if obj.difficult else Qt.CheckState.Unchecked)

    def selected_rows(self) -> tuple[int, ...]:
        return tuple(sorted(self.list.row(item) for item in self.list.selectedItems()))

    def _on_selection_changed(self) -> None:
        rows = self.selected_rows()
        current = self.list.currentRow()
        self.rows_selected.emit(rows, current if current in rows else (rows[-1] if rows else -1))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        row = self.list.row(item)
        if 0 <= row < len(self._objects):
            checked = item.checkState() == Qt.CheckState.Checked
            if checked != self._objects[row].difficult:
                self.difficult_toggled.emit(row)
