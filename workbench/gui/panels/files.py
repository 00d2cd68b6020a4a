"""File dock: every image of the project with its state, counts, a filter and "next unlabeled".

States (highest priority first): ``problems`` (the file had read errors or error-level problems),
``suggestions`` (unreviewed model-made boxes), ``verified``, ``labeled`` (at least one box),
``unlabeled``. States of files not opened yet are filled in by :class:`StateScanner` in small
chunks on the event loop, so a big folder never blocks the window.

Big folders (issue 14): the model holds plain lists (names, their lower-case forms, states) and
keeps the per-state counts and a byte mask per state as states change; the filter is a proxy
over a list of visible rows, computed from the lower-case names and the masks in C-level passes
(``compress``) and narrowed from the last result while the user types on — not a
``QSortFilterProxyModel`` asking Python once per row (0.4–0.8 s per keystroke at 10^5 files).
The state scanner sets a chunk of states at once (one ``dataChanged`` per step).
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Sequence
from itertools import compress, repeat
from operator import contains

from PySide6.QtCore import (QAbstractListModel, QItemSelectionModel, QModelIndex, QObject,
                            QPersistentModelIndex, QStringListModel, Qt, QTimer, Signal)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QTableView, QVBoxLayout, QWidget)

from workbench.core.annotation import Annotation, Problem
from workbench.core.wording import count
from workbench.gui import assets
from workbench.gui.theme import STATE_COLORS, SURFACE_2

log = logging.getLogger(__name__)

STATES = ("unlabeled", "labeled", "verified", "problems", "suggestions")
STATE_TITLES = {"unlabeled": "Unlabeled", "labeled": "Labeled", "verified": "Verified",
                "problems": "Has problems", "suggestions": "Model suggestions"}
StateRole = Qt.ItemDataRole.UserRole + 1
#: The roles the file list answers (the view asks for ~10 per row it paints).
_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
                    Qt.ItemDataRole.ToolTipRole, StateRole})
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


def state_count(state: str, n: int) -> str:
    """The counter's words for ``n`` files in ``state``: "1 labeled", "1 model suggestion",
    "2 model suggestions", "1 has problems", "2 have problems"."""
    if state == "suggestions":
        return count(n, "model suggestion")
    if state == "problems":
        return f"{n:,} {'has' if n == 1 else 'have'} problems"
    return f"{n:,} {STATE_TITLES[state].lower()}"


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


def lower_all(names: Sequence[str]) -> list[str]:
    """``[name.lower() for name in names]``, in one C-level pass for ASCII names (a lower()
    per name was ~50 ms at 10^5 names). No Qt: the open job makes them on its worker."""
    joined = "\n".join(names)
    if joined.isascii() and joined.count("\n") == len(names) - 1:
        return joined.lower().split("\n")
    return [name.lower() for name in names]


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
        #: ``name.lower()`` of every row (the filter's haystack, made once per folder).
        self.lower_names: list[str] = []
        self._states: list[str | None] = []
        self._counts: dict[str | None, int] = {}
        #: per state, a byte per row: 1 where the row is in that state (the state filter's
        #: rows in one C-level pass, kept as states change)
        self._masks: dict[str | None, bytearray] = {}
        self._dirty: set[int] = set()
        self._icons = {s: _dot(c) for s, c in STATE_COLORS.items()}
        self._pending_icon = _dot("#3a3f47")

    def set_entries(self, names: Sequence[str], lower: list[str] | None = None) -> None:
        """``lower``: :func:`lower_all` of ``names`` when already made (the open job)."""
        self.beginResetModel()
        self._names = list(names)
        self.lower_names = (lower if lower is not None and len(lower) == len(self._names)
                            else lower_all(self._names))
        self._states = [None] * len(self._names)
        self._counts = {None: len(self._names)}
        self._masks = {None: bytearray(b"\x01") * len(self._names)}
        self._dirty = set()
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802,B008
        return 0 if parent.isValid() else len(self._names)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        return self.row_data(index.row(), role) if index.isValid() else None

    def row_data(self, row: int, role: int):  # noqa: ANN201
        """:meth:`data` of ``row`` (the filter asks with its source rows, no index made)."""
        if role not in _ROLES or not 0 <= row < len(self._names):
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

    def names(self) -> list[str]:
        """The shown names (not a copy): read, never change."""
        return self._names

    def state_list(self) -> list[str | None]:
        """The states themselves (not a copy): read, never change."""
        return self._states

    def _mask(self, state: str | None) -> bytearray:
        mask = self._masks.get(state)
        if mask is None:
            mask = self._masks[state] = bytearray(len(self._names))
        return mask

    def rows_in_state(self, state: str | None) -> list[int]:
        """The rows in ``state``, ascending."""
        mask = self._masks.get(state)
        return list(compress(range(len(mask)), mask)) if mask is not None else []

    def set_state(self, row: int, state: str, dirty: bool | None = None) -> None:
        old = self._states[row]
        changed = old != state
        if changed:
            self._counts[old] -= 1
            self._counts[state] = self._counts.get(state, 0) + 1
            self._mask(old)[row] = 0
            self._mask(state)[row] = 1
        self._states[row] = state
        if dirty is not None and (row in self._dirty) != dirty:
            changed = True
            (self._dirty.add if dirty else self._dirty.discard)(row)
        if changed:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def set_states(self, changes: Sequence[tuple[int, str]]) -> None:
        """:meth:`set_state` for many rows (the scanner's chunks): one ``dataChanged`` over
        the rows that changed (a signal per row was a quarter of the state scan at 10^5)."""
        states, counts = self._states, self._counts
        low, high = len(states), -1
        for row, state in changes:
            old = states[row]
            if old == state:
                continue
            counts[old] -= 1
            counts[state] = counts.get(state, 0) + 1
            self._mask(old)[row] = 0
            self._mask(state)[row] = 1
            states[row] = state
            low, high = min(low, row), max(high, row)
        if high >= 0:
            self.dataChanged.emit(self.index(low), self.index(high))

    def state_mask(self, state: str | None) -> bytes:
        """A byte per row, 1 where the row is in ``state`` (read, never change; empty when no
        row ever was)."""
        return self._masks.get(state, b"")

    def counts(self) -> dict[str, int]:
        """Files per state (kept up to date by :meth:`set_state`, not counted again)."""
        return {s: self._counts.get(s, 0) for s in STATES}

    def pending(self) -> int:
        """Files whose state is not known yet."""
        return self._counts.get(None, 0)


def _holding(names: list[str], rows: Sequence[int], text: str) -> list[int]:
    """The ``rows`` whose name holds ``text`` (one C-level pass)."""
    if isinstance(rows, range) and len(rows) == len(names):
        return list(compress(rows, map(contains, names, repeat(text))))
    return list(compress(rows, map(contains, map(names.__getitem__, rows), repeat(text))))


class _Filter(QStringListModel):
    """The visible rows of a :class:`FileListModel`: ``text`` in the lower-case name and
    ``state`` (None: any). ``rows`` (source rows, ascending) is computed in one C-level pass
    over the model's lists and masks; typing on narrows the previous result.

    A ``QStringListModel`` of the visible names, not a Python proxy: after every change of the
    row count ``QListView`` asks its model for an index of *every* row (twice): 2·10^5 calls into
    Python took seconds at 10^5 files; here they stay in C++ and only the rows on screen reach
    :meth:`data`. States changed while a state filter is set (the scanner changes thousands)
    are re-filtered at most every :attr:`REFILTER_MS`.
    """

    filtered = Signal()
    #: the rows were replaced without a model reset (the view's selection is stale)
    rows_replaced = Signal()
    #: Row-count changes up to this many rows insert / remove rows at the end; more: a reset.
    RESIZE_ROWS = 500
    REFILTER_MS = 250

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state: str | None = None
        self.text = ""
        self.rows: list[int] = []
        self._source: FileListModel | None = None
        self._all = True  # rows == every source row (no filter)
        self._last: tuple[str, str | None] | None = None  # what ``rows`` was computed for
        #: Recent results of text-only filters (Backspace goes back to one); emptied when the
        #: names change.
        self._recent: dict[str, list[int]] = {}
        self._stale = QTimer(self, singleShot=True, interval=self.REFILTER_MS)
        self._stale.timeout.connect(self.refilter)

    # -- wiring ---------------------------------------------------------------------------------
    def setSourceModel(self, model: FileListModel) -> None:  # noqa: N802 (Qt API)
        self._source = model
        model.modelReset.connect(self._on_source_reset)
        model.dataChanged.connect(self._on_source_changed)
        self._on_source_reset()

    def sourceModel(self) -> FileListModel | None:  # noqa: N802 (Qt API)
        return self._source

    def _on_source_reset(self) -> None:
        self._last = None
        self._recent.clear()
        self._show(self._compute(incremental=False))

    def _on_source_changed(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:  # noqa: ANN001
        if self.state is not None:  # membership may have changed
            self._last = None
            if not self._stale.isActive():
                self._stale.start()
        if self._all:  # the visible rows that lie between top and bottom: one signal
            first, last = top.row(), min(bottom.row(), len(self.rows) - 1)
        else:
            first = bisect.bisect_left(self.rows, top.row())
            last = bisect.bisect_right(self.rows, bottom.row()) - 1
        if 0 <= first <= last:
            self.dataChanged.emit(self.index(first, 0), self.index(last, 0))

    # -- filtering ------------------------------------------------------------------------------
    def _compute(self, incremental: bool = True) -> list[int]:
        model = self._source
        if model is None:
            return []
        text, state = self.text, self.state
        n = model.rowCount()
        if not text and state is None:
            self._all, self._last = True, ("", None)
            return list(range(n))
        last = self._last
        names = model.lower_names
        # (C-level passes: compress over map(contains) is ~2x a comprehension at 10^5 rows;
        # the state's rows come from the model's byte mask: ~4x)
        if state is None and text in self._recent:
            rows = self._recent.pop(text)
            self._recent[text] = rows  # most recent last
        elif (incremental and last is not None and last[1] == state and text.startswith(last[0])
                and not self._all):
            # typing on: only the rows that matched the shorter text (and the state: any state
            # change since has set ``_last`` to None)
            rows = _holding(names, self.rows, text)
        elif state is None:
            rows = _holding(names, range(n), text)
        elif not text:
            rows = model.rows_in_state(state)
        else:
            texts = self._recent.get(text)
            if texts is None:
                texts = _holding(names, range(n), text)
            in_state = model.state_mask(state)
            rows = list(compress(texts, map(in_state.__getitem__, texts))) if in_state else []
        if state is None and text not in self._recent:
            self._recent[text] = rows
            while len(self._recent) > 16:
                self._recent.pop(next(iter(self._recent)))
        self._all, self._last = False, (text, state)
        return rows

    def set_filter(self, text: str, state: str | None) -> None:
        """Show the rows whose lower-case name holds ``text`` and whose state is ``state``."""
        if (text, state) == (self.text, self.state) and self._last is not None:
            return
        self.text, self.state = text, state
        self.refilter()

    def refilter(self) -> None:
        """Compute the visible rows again (a model reset when they changed; the panel puts
        the current row back)."""
        self._stale.stop()
        rows = self._compute()
        if rows != self.rows:
            self._show(rows)

    def _show(self, rows: list[int]) -> None:
        """A model of ``len(rows)`` rows. Its strings stay empty — what the view shows comes
        from :meth:`data` — so no list of 10^5 names crosses into Qt: the row count is changed
        by one block of empty rows inserted or removed at the end (in C++; a reset with a new
        list of 10^5 empty strings was 18 ms of a keystroke), then every row is said to have
        changed (``rows_replaced``: the panel's list repaints and clears its selection, then
        puts the current row back). (Inserting
        or removing the *difference* row by row took QListView seconds at 10^5 rows.)"""
        before = self.rowCount()
        self.rows = rows
        n = len(rows)
        if before == 0 or n == 0 or abs(n - before) > self.RESIZE_ROWS:
            self.setStringList([""] * n)  # (QStringListModel inserts rows one by one: 40k
            # rows took 0.45 s; a reset of 10^5 rows 7 ms)
        else:
            if n > before:
                self.insertRows(before, n - before)
            elif n < before:
                self.removeRows(n, before - n)
            self.rows_replaced.emit()  # (dataChanged over 10^5 rows: 10 ms in the view)
        self.filtered.emit()

    def _proxy_index(self, source_row: int) -> QModelIndex:
        if source_row < 0:
            return QModelIndex()
        if self._all:
            return self.index(source_row, 0) if source_row < len(self.rows) else QModelIndex()
        i = bisect.bisect_left(self.rows, source_row)
        if i < len(self.rows) and self.rows[i] == source_row:
            return self.index(i, 0)
        return QModelIndex()

    # -- mapping (QAbstractProxyModel's names) ----------------------------------------------------
    def mapToSource(self, index: QModelIndex | QPersistentModelIndex) -> QModelIndex:  # noqa: N802
        model = self._source
        if model is None or not index.isValid() or not 0 <= index.row() < len(self.rows):
            return QModelIndex()
        return model.index(self.rows[index.row()], 0)

    def mapFromSource(self, index: QModelIndex | QPersistentModelIndex) -> QModelIndex:  # noqa: N802
        return self._proxy_index(index.row()) if index.isValid() else QModelIndex()

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: ANN201
        """The source row's data (only rows on screen get here: the view asks ~10 roles of
        each, so no source index is made for them)."""
        model, row, rows = self._source, index.row(), self.rows
        if model is None or role not in _ROLES or not 0 <= row < len(rows):
            return None
        return model.row_data(rows[row], role)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags


class FileListView(QTableView):
    """The file list: one column of fixed-height rows without headers or grid, styled as the
    theme's lists. A table view, not a ``QListView``: after the filter changed the row count,
    QListView placed every row again before the next paint (12 ms at 10^5 rows, and 17 ms
    after a reset, of each keystroke; issue 14); a table with fixed row heights places
    nothing (1 ms / 7 ms)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.horizontalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setMinimumSectionSize(1)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 8)  # the lists' 4 px padding
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.setTabKeyNavigation(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setStyleSheet(
            "QTableView { border: none; } "
            "QTableView::item { padding: 0px 6px; border-radius: 4px; } "
            f"QTableView::item:hover {{ background: {SURFACE_2}; }} "
            "QTableView::item:selected { background: #2d4a7c; color: white; }")


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
        self.list = FileListView()
        self.list.setModel(self.proxy)
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
        self._current = -1  # the source row shown as current (kept across filter changes)
        self.proxy.rows_replaced.connect(self._on_rows_replaced)
        self.proxy.filtered.connect(self._restore_current)
        self._counts_timer = QTimer(self, singleShot=True, interval=50)
        self._counts_timer.timeout.connect(self._update_counts)

    def set_entries(self, names: Sequence[str], lower: list[str] | None = None) -> None:
        self._current = -1
        self.model.set_entries(names, lower)

    def set_current(self, row: int) -> None:
        self._current = row
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
        if self._filtering:
            return
        src = self.proxy.mapToSource(current)
        if src.isValid():
            self._current = src.row()
        if self.list.hasFocus():
            self._on_activated(current)

    def _on_rows_replaced(self) -> None:
        """The filter put other rows at the same positions: what is shown and selected there
        is stale."""
        self.list.selectionModel().clear()
        self.list.viewport().update()

    def _restore_current(self) -> None:
        """After the visible rows changed: the current row again, where it is still shown
        (without opening it: filtering never navigates)."""
        if self._current < 0:
            return
        idx = self.proxy.mapFromSource(self.model.index(self._current))
        if idx.isValid():
            was, self._filtering = self._filtering, True
            try:
                self.list.selectionModel().setCurrentIndex(
                    idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            finally:
                self._filtering = was

    def _on_filter(self) -> None:
        self._filtering = True
        try:
            self._apply_filter()
        finally:
            self._filtering = False

    def _apply_filter(self) -> None:
        self.proxy.set_filter(self.filter_edit.text().strip().lower(),
                              self.state_combo.currentData())

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
                parts.append(f"<span style='color:{STATE_COLORS[s]}'>●</span> "
                             f"{state_count(s, c[s])}")
        pending = self.model.pending()
        if pending:
            parts.append(f"{pending} scanning…")
        images = "image" if n == 1 else "images"
        self.counter.setText(f"<b>{n:,}</b> {images}<br>" + " &nbsp; ".join(parts))

    def refresh_counts(self) -> None:
        self._update_counts()


class StateScanner(QObject):
    """Fills in file states a chunk at a time from the event loop (never blocks the window).

    :meth:`start_later` (a project just opened) waits a moment first — the window shows the
    project's first image before any other file is read — and has the modules the reads need
    imported on a worker thread (the decoder, for images with an EXIF block: ~0.14 s that a
    step on the GUI thread would stall for). Until the scan ends :attr:`running` is True;
    :meth:`run_to_end` does everything at once."""

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
        self._delay = QTimer(self, singleShot=True)
        self._delay.timeout.connect(self._prepare)
        self._pending = False  # start_later: waiting for the delay or the worker
        self._prepare_fn: Callable[[], object] | None = None
        self._runner = None  # (JobRunner, made when first needed)
        self._job = None

    def start(self) -> None:
        self._cancel_pending()
        self._next = 0
        self._timer.start()

    def start_later(self, delay_ms: int, prepare: Callable[[], object] | None = None) -> None:
        """:meth:`start` after ``delay_ms`` and, with ``prepare``, once ``prepare()`` has run
        on a worker thread (a failure there is reported like any job's; the scan starts
        anyway)."""
        self.stop()
        self._pending = True
        self._prepare_fn = prepare
        self._delay.start(delay_ms)

    def stop(self) -> None:
        self._timer.stop()
        self._cancel_pending()

    @property
    def running(self) -> bool:
        return self._pending or self._timer.isActive()

    def run_to_end(self) -> None:
        """Scan everything now (tests, screenshots)."""
        if self._pending:
            prepare = self._prepare_fn
            self.start()
            if prepare is not None:
                prepare()
        while self._timer.isActive():
            self._step()

    def _cancel_pending(self) -> None:
        self._pending = False
        self._prepare_fn = None
        self._delay.stop()
        if self._job is not None:
            self._job.cancel()
            self._job = None

    def _prepare(self) -> None:
        prepare = self._prepare_fn
        if prepare is None:
            self.start()
            return
        from workbench.gui.jobs import JobRunner

        if self._runner is None:
            self._runner = JobRunner(self)
        job = self._runner.submit(lambda _ctx: prepare(), key="prepare",
                                  name="Reading the file states")
        self._job = job
        job.finished.connect(lambda _result, j=job: self._prepared(j))
        job.failed.connect(lambda _message, j=job: self._prepared(j))

    def _prepared(self, job: object) -> None:
        if job is self._job and self._pending:
            self._job = None
            self.start()

    #: Wall time one step may take before it hands the event loop back. A fixed row count is
    #: not enough: while a training thread competes for the GIL, 40 rows took 60–100 ms.
    STEP_BUDGET_S = 0.008

    def _step(self) -> None:
        model = self._model
        end = min(self._next + self._chunk, model.rowCount())
        deadline = time.perf_counter() + self.STEP_BUDGET_S
        states = model.state_list()
        changes: list[tuple[int, str]] = []
        for row in range(self._next, end):
            if row > self._next and time.perf_counter() > deadline:
                end = row
                break
            if states[row] is None:
                try:
                    state = self._state_of(row)
                except Exception:  # a scanner must never take the window down
                    log.exception("could not read the state of row %d", row)
                    state = "problems"
                if state:
                    changes.append((row, state))
        model.set_states(changes)  # one signal per step
        self._next = end
        if self._next >= self._model.rowCount():
            self._timer.stop()
            self.finished.emit()
