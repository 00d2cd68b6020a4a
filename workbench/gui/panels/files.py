"""File dock: every image of the project with its state, counts, a filter and "next unlabeled".

States (highest priority first): ``problems`` (the file had read errors or error-level problems),
``suggestions`` (unreviewed model-made boxes), ``verified``, ``labeled`` (at least one box),
``unlabeled``. States of files not opened yet are filled in by :class:`StateScanner` in small
chunks on the event loop, so a big folder never blocks the window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import (QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex,
                            QSortFilterProxyModel, Qt, QTimer, Signal)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QListView, QPushButton,
                               QVBoxLayout, QWidget)

from workbench.core.annotation import Annotation, Problem
from workbench.gui import assets
from workbench.gui.theme import STATE_COLORS

log = logging.getLogger(__name__)

STATES = ("unlabeled", "labeled", "verified", "problems", "suggestions")
STATE_TITLES = {"unlabeled": "Unlabeled", "labeled": "Labeled", "verified": "Verified",
                "problems": "Has problems", "suggestions": "Model suggestions"}
StateRole = Qt.ItemDataRole.UserRole + 1


def file_state(annotation: Annotation | None, problems: Sequence[Problem],
               read_failed: bool = False) -> str:
    """The file dock state of one image."""
    if read_failed or any(p.severity == "error" for p in problems):
        return "problems"
    if annotation is None:
        return "unlabeled"
    if any(o.model_made for o in annotation.objects):
        return "suggestions"
    if annotation.verified:
        return "verified"
    return "labeled" if annotation.objects else "unlabeled"


def _dot(color: str) -> QIcon:
    pix = QPixmap(24, 24)
    pix.setDevicePixelRatio(2.0)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(color))
    p.drawEllipse(3, 3, 6, 6)
    p.end()
    return QIcon(pix)


class FileListModel(QAbstractListModel):
    """Rows = project entries in project order; ``None`` state = not scanned yet."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._states: list[str | None] = []
        self._dirty: set[int] = set()
        self._icons = {s: _dot(c) for s, c in STATE_COLORS.items()}
        self._pending_icon = _dot("#3a3f47")

    def set_entries(self, names: Sequence[str]) -> None:
        self.beginResetModel()
        self._names = list(names)
        self._states = [None] * len(self._names)
        self._dirty = set()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802,B008
        return 0 if parent.isValid() else len(self._names)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        row = index.row()
        if not index.isValid() or row >= len(self._names):
            return None
        state = self._states[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return ("● " if row in self._dirty else "") + self._names[row]
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icons[state] if state else self._pending_icon
        if role == Qt.ItemDataRole.ToolTipRole:
            extra = " — unsaved changes" if row in self._dirty else ""
            return f"{self._names[row]}: {STATE_TITLES.get(state or '', 'not scanned yet')}{extra}"
        if role == StateRole:
            return state
        return None

    def state(self, row: int) -> str | None:
        return self._states[row]

    def states(self) -> list[str | None]:
        return list(self._states)

    def set_state(self, row: int, state: str, dirty: bool | None = None) -> None:
        changed = self._states[row] != state
        self._states[row] = state
        if dirty is not None and (row in self._dirty) != dirty:
            changed = True
            (self._dirty.add if dirty else self._dirty.discard)(row)
        if changed:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for s in self._states:
            if s:
                out[s] += 1
        return out


class _Filter(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state: str | None = None
        self.text = ""

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        model = self.sourceModel()
        idx = model.index(row, 0, parent)
        if self.state and model.data(idx, StateRole) != self.state:
            return False
        return not self.text or self.text in str(model.data(idx)).lower()


class FilesPanel(QWidget):
    """The file dock widget. ``image_activated(row)`` uses project (source model) rows."""

    image_activated = Signal(int)
    next_unlabeled_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FileListModel(self)
        self.proxy = _Filter(self)
        self.proxy.setSourceModel(self.model)
        self.counter = QLabel("No folder open")
        self.counter.setObjectName("counter")
        self.counter.setWordWrap(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter files…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.addAction(assets.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.state_combo = QComboBox()
        self.state_combo.addItem("All", None)
        for s in STATES:
            self.state_combo.addItem(_dot(STATE_COLORS[s]), STATE_TITLES[s], s)
        self.next_button = QPushButton(assets.icon("next-unlabeled"), "Next unlabeled")
        self.next_button.setToolTip("Go to the next unlabeled image (Ctrl+N)")
        self.list = QListView()
        self.list.setModel(self.proxy)
        self.list.setUniformItemSizes(True)
        self.list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        row = QHBoxLayout()
        row.addWidget(self.state_combo, 1)
        row.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.counter)
        layout.addWidget(self.filter_edit)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        self.filter_edit.textChanged.connect(self._on_filter)
        self.state_combo.currentIndexChanged.connect(self._on_filter)
        self.list.activated.connect(self._on_activated)
        self.list.clicked.connect(self._on_activated)
        self.list.selectionModel().currentChanged.connect(self._on_current_changed)
        self.next_button.clicked.connect(self.next_unlabeled_requested)
        self.model.dataChanged.connect(lambda *_: self._schedule_counts())
        self.model.modelReset.connect(self._update_counts)
        self._filtering = False
        self._counts_timer = QTimer(self, singleShot=True, interval=50)
        self._counts_timer.timeout.connect(self._update_counts)

    def set_entries(self, names: Sequence[str]) -> None:
        self.model.set_entries(names)

    def set_current(self, row: int) -> None:
        idx = self.proxy.mapFromSource(self.model.index(row))
        if idx.isValid():
            self.list.setCurrentIndex(idx)
            self.list.scrollTo(idx)

    def _on_activated(self, index: QModelIndex) -> None:
        src = self.proxy.mapToSource(index)
        if src.isValid():
            self.image_activated.emit(src.row())

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        # Up/Down in the list opens the image, as a click does. Only for the user's own
        # keyboard navigation: programmatic changes (filtering, set_current) must not navigate.
        if self.list.hasFocus() and not self._filtering:
            self._on_activated(current)

    def _on_filter(self) -> None:
        self._filtering = True
        try:
            self._apply_filter()
        finally:
            self._filtering = False

    def _apply_filter(self) -> None:
        new_api = hasattr(self.proxy, "beginFilterChange")  # Qt >= 6.9; invalidateFilter before
        if new_api:
            self.proxy.beginFilterChange()
        self.proxy.text = self.filter_edit.text().strip().lower()
        self.proxy.state = self.state_combo.currentData()
        if new_api:
            self.proxy.endFilterChange()
        else:
            self.proxy.invalidateFilter()

    def _schedule_counts(self) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _update_counts(self) -> None:
        n = self.model.rowCount()
        if not n:
            self.counter.setText("No images")
            return
        c = self.model.counts()
        parts = []
        for s in ("labeled", "verified", "unlabeled", "problems", "suggestions"):
            if c[s] or s in ("labeled", "unlabeled"):
                parts.append(f"<span style='color:{STATE_COLORS[s]}'>●</span> {c[s]} "
                             f"{STATE_TITLES[s].lower()}")
        pending = sum(1 for s in self.model.states() if s is None)
        if pending:
            parts.append(f"{pending} scanning…")
        self.counter.setText(f"<b>{n}</b> images<br>" + " &nbsp; ".join(parts))

    def refresh_counts(self) -> None:
        self._update_counts()


class StateScanner(QObject):
    """Fills in file states a chunk at a time from the event loop (never blocks the window)."""

    finished = Signal()

    def __init__(self, model: FileListModel, state_of: Callable[[int], str | None],
                 chunk: int = 40, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._state_of = state_of
        self._chunk = chunk
        self._next = 0
        self._timer = QTimer(self, interval=0)
        self._timer.timeout.connect(self._step)

    def start(self) -> None:
        self._next = 0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def run_to_end(self) -> None:
        """Scan everything now (tests, screenshots)."""
        while self._timer.isActive():
            self._step()

    #: Wall time one step may take before it hands the event loop back. A fixed row count is
    #: not enough: while a training thread competes for the GIL, 40 rows took 60–100 ms.
    STEP_BUDGET_S = 0.008

    def _step(self) -> None:
        end = min(self._next + self._chunk, self._model.rowCount())
        deadline = time.perf_counter() + self.STEP_BUDGET_S
        for row in range(self._next, end):
            if row > self._next and time.perf_counter() > deadline:
                end = row
                break
            if self._model.state(row) is None:
                try:
                    state = self._state_of(row)
                except Exception:  # a scanner must never take the window down
                    log.exception("could not read the state of row %d", row)
                    state = "problems"
                if state:
                    self._model.set_state(row, state)
        self._next = end
        if self._next >= self._model.rowCount():
            self._timer.stop()
            self.finished.emit()
