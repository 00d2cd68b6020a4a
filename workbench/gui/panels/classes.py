"""Class dock: the project's classes (from its classes file and its XMLs), with stable colours,
number keys 1–9, a default class for new boxes, add / rename / delete and a filter.

Renaming and deleting touch every annotation file of the project; the panel asks the user and
then calls the hooks the window installs (``rename_hook(old, new)``: falsy when refused, else
True or a running :class:`~workbench.gui.jobs.Job` whose ``finished`` completes the rename,
``usage_hook(name) -> int``, ``persist_hook(names)``), which do the file work atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QToolButton, QVBoxLayout, QWidget)

from workbench.core.wording import count
from workbench.gui import assets
from workbench.gui.canvas.palette import class_color


_SWATCHES: dict[int, QIcon] = {}


def swatch(color: QColor) -> QIcon:
    """A small rounded square of ``color`` (class colour marker in lists); one icon per
    colour, made once (a list of 100,000 boxes asked for 100,000 pixmaps)."""
    icon = _SWATCHES.get(color.rgba())
    if icon is None:
        icon = _SWATCHES[color.rgba()] = _make_swatch(color)
    return icon


def _make_swatch(color: QColor) -> QIcon:
    pix = QPixmap(28, 28)
    pix.setDevicePixelRatio(2.0)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawRoundedRect(2, 2, 10, 10, 3, 3)
    p.end()
    return QIcon(pix)


class ClassesPanel(QWidget):
    classes_changed = Signal()
    default_changed = Signal(str)  # "" when none

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._default: str | None = None
        self._pending_default: str | None = None
        self.rename_hook: Callable[[str, str], object] | None = None
        self.usage_hook: Callable[[str], int] | None = None
        self.persist_hook: Callable[[list[str]], None] | None = None
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter classes…")
        self.filter_edit.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.hint = QLabel("1–9 set the class · ★ = default for new boxes")
        self.hint.setObjectName("counter")
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        self.add_button = self._button("add", "Add a class")
        self.rename_button = self._button("rename", "Rename the selected class in every file")
        self.delete_button = self._button("delete", "Delete the selected class")
        self.default_button = self._button("star", "Use the selected class for new boxes "
                                           "(no question after drawing)")
        self.default_button.setCheckable(True)
        for b in (self.add_button, self.rename_button, self.delete_button, self.default_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        self.add_button.clicked.connect(self.add_clicked)
        self.rename_button.clicked.connect(self.rename_clicked)
        self.delete_button.clicked.connect(self.delete_clicked)
        self.default_button.clicked.connect(self.default_clicked)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.list.currentRowChanged.connect(self._sync_buttons)
        self._sync_buttons()

    def _button(self, icon: str, tip: str) -> QToolButton:
        b = QToolButton()
        b.setIcon(assets.icon(icon))
        b.setToolTip(tip)
        b.setAutoRaise(True)
        return b

    # -- model ----------------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._names)

    def set_classes(self, names: Sequence[str], default: str | None = None) -> None:
        self._names = list(dict.fromkeys(n for n in names if n))
        self._default = default if default in self._names else None
        # A remembered default class found only in the XMLs comes back when the scan finds it.
        self._pending_default = default if self._default is None else None
        self._rebuild()
        self.classes_changed.emit()

    def ensure(self, name: str) -> None:
        """Add ``name`` if it is new (and persist the class list)."""
        if name and name not in self._names:
            self._names.append(name)
            self._rebuild()
            self._persist()
            self.classes_changed.emit()

    def add_found(self, names: Iterable[str], predefined: Sequence[str]) -> None:
        """Names discovered in annotation files, merged in the project's stable order (the class
        file's names first, then every other name sorted — :func:`merge_classes`, the order
        ``Project.classes`` has). Nothing is written: browsing never rewrites the class file."""
        new = set(names) - set(self._names)
        if not new:
            return
        from workbench.core.classes import merge_classes

        known = set(predefined)
        self._names = merge_classes(predefined, [n for n in self._names if n not in known]
                                    + sorted(new))
        if self._pending_default in new:
            self._default, self._pending_default = self._pending_default, None
        self._rebuild()
        self.classes_changed.emit()

    def default_class(self) -> str | None:
        return self._default

    def set_default_class(self, name: str | None) -> None:
        name = name if name in self._names else None
        self._pending_default = None
        if name != self._default:
            self._default = name
            self._rebuild()
            self.default_changed.emit(name or "")

    def selected_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def select_name(self, name: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentRow(i)
                return

    # -- actions --------------------------------------------------------------------------
    def add_clicked(self) -> None:
        from workbench.gui import dialogs  # (imported when used: start-up)

        name = dialogs.ask_text(self, "Add class", "Name of the new class:")
        if name and name not in self._names:
            self.ensure(name)
            self.select_name(name)

    def rename_clicked(self) -> None:
        from workbench.gui import dialogs  # (imported when used: start-up)

        old = self.selected_name()
        if not old:
            return
        new = dialogs.ask_text(self, "Rename class", f"New name for “{old}”:", old)
        if not new or new == old:
            return
        merge = new in self._names
        text = (f"Rename “{old}” to “{new}” in every annotation file of the project?"
                + (f"\n“{new}” already exists: the two classes will be merged." if merge else "")
                + "\nEach file is rewritten atomically; undo history of open images is cleared.")
        if not dialogs.ask_yes_no(self, "Rename class", text, yes="Rename", destructive=True):
            return
        self._after_rename(old, new, lambda: self.select_name(new))

    def delete_clicked(self) -> None:
        from workbench.gui import dialogs  # (imported when used: start-up)

        name = self.selected_name()
        if not name:
            return
        used = self.usage_hook(name) if self.usage_hook is not None else 0
        if used:
            target = dialogs.choose_reassignment(self, name, used, self._names)
            if not target:
                self.window().statusBar().showMessage(  # type: ignore[attr-defined]
                    f"“{name}” not deleted: {count(used, 'box')} "
                    f"use{'s' if used == 1 else ''} it", 5000)
                return
            if not dialogs.ask_yes_no(self, "Delete class",
                                      f"Reassign {count(used, 'box')} from “{name}” to "
                                      f"“{target}” in "
                                      "every file and delete “{name}”?".replace("{name}", name),
                                      yes="Reassign and delete", destructive=True):
                return
            self._after_rename(name, target)
            return
        if not dialogs.ask_yes_no(self, "Delete class", f"Delete the class “{name}”?",
                                  yes="Delete", destructive=True):
            return
        self._names.remove(name)
        if self._default == name:
            self.set_default_class(None)
        self._rebuild()
        self._persist()
        self.classes_changed.emit()

    def _after_rename(self, old: str, new: str, then: Callable[[], None] | None = None) -> None:
        """Run the rename hook; the list follows once the files are renamed (at once, or when
        the hook's background job has finished)."""
        started = self.rename_hook(old, new) if self.rename_hook is not None else True
        if not started:
            return

        def done(*_args: object) -> None:
            self._replace_name(old, new)
            if then is not None:
                then()

        finished = getattr(started, "finished", None)
        if finished is None:
            done()
        else:
            finished.connect(done)

    def default_clicked(self) -> None:
        name = self.selected_name()
        self.set_default_class(None if name == self._default else name)

    # -- internals ------------------------------------------------------------------------
    def _replace_name(self, old: str, new: str) -> None:
        names = [new if n == old else n for n in self._names]
        self._names = list(dict.fromkeys(names))
        if self._default == old:
            self._default = new
            self.default_changed.emit(new)
        self._rebuild()
        self._persist()
        self.classes_changed.emit()

    def _persist(self) -> None:
        if self.persist_hook is not None:
            self.persist_hook(list(self._names))

    def _rebuild(self) -> None:
        current = self.selected_name()
        blocker = QSignalBlocker(self.list)
        self.list.clear()
        for i, name in enumerate(self._names):
            key = f"{i + 1}  " if i < 9 else "    "
            star = "  ★" if name == self._default else ""
            item = QListWidgetItem(swatch(class_color(name)), f"{key}{name}{star}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)
        del blocker
        if current:
            self.select_name(current)
        self._apply_filter()
        self._sync_buttons()

    def _apply_filter(self) -> None:
        needle = self.filter_edit.text().strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(bool(needle) and needle not in item.data(Qt.ItemDataRole.UserRole).lower())

    def _sync_buttons(self, *_args: object) -> None:
        name = self.selected_name()
        for b in (self.rename_button, self.delete_button, self.default_button):
            b.setEnabled(name is not None)
        self.default_button.setChecked(name is not None and name == self._default)
