"""The Errors panel's image table: one row per evaluated image, sortable, filterable.

Columns: image, FP, FN, confused (detections that matched an object of another class),
worst (the highest score among the image's false positives and confused detections: the
model's most confident mistake; empty when it made none). A click on a header sorts by it
(numbers descending first); ties keep the project's order (the sort is stable). The sorted
column's title carries the order: "FP ▼" largest first, "FP ▲" smallest first (Qt's own
indicator is hidden: Fusion drew ▲ for a descending sort).

The class and size filters keep the images with an error of that class / COCO size (small
< 32², medium, large > 96² px²). :class:`ErrorsTableView` takes Enter and N itself while it
has the focus (the window's Enter accepts suggestions elsewhere) and emits ``next_requested``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import (QAbstractTableModel, QEvent, QModelIndex, QPersistentModelIndex,
                            QSortFilterProxyModel, Qt, Signal)
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Image", "FP", "FN", "Conf", "Worst")
#: The sorted column's mark: the order the rows are in, read top to bottom.
SORT_MARKS = {Qt.SortOrder.AscendingOrder: " ▲", Qt.SortOrder.DescendingOrder: " ▼"}
TIPS = ("Image (file stem)", "False positives: detections that found no object of their class",
        "False negatives: objects no detection found",
        "Confused: detections on an object of another class",
        "Worst: the highest score among the false positives and confused detections")


@dataclass(frozen=True)
class ImageRow:
    """One image's errors at the analysed score / IoU."""

    image_id: str
    tp: int
    fp: int
    fn: int
    confused: int
    worst_score: float | None
    classes: frozenset[str] = field(default_factory=frozenset)  #: classes of its errors
    sizes: frozenset[str] = field(default_factory=frozenset)    #: sizes of its errors

    @property
    def errors(self) -> int:
        return self.fp + self.fn + self.confused


class ErrorsTableModel(QAbstractTableModel):
    """The rows, kept in the table's sort order: the model sorts itself with numpy (a
    QSortFilterProxyModel sort calls back into Python twice per comparison: 2-3 s for 5,000
    images)."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.rows: list[ImageRow] = []
        self._given: list[ImageRow] = []
        self.sort_column, self.sort_order = 1, Qt.SortOrder.DescendingOrder

    def set_rows(self, rows: Sequence[ImageRow]) -> None:
        """``rows`` in the project's order; shown in the current sort order."""
        self.beginResetModel()
        self._given = list(rows)
        self.rows = self._sorted()
        self.endResetModel()

    def _sorted(self) -> list[ImageRow]:
        rows, col = self._given, self.sort_column
        if col <= 0 or not rows:
            order = np.arange(len(rows))
        else:
            if col == 4:
                values = np.asarray([-math.inf if r.worst_score is None else r.worst_score
                                     for r in rows], dtype=np.float64)
            else:
                values = np.asarray([(r.fp, r.fn, r.confused)[col - 1] for r in rows],
                                    dtype=np.float64)
            if self.sort_order == Qt.SortOrder.DescendingOrder:
                values = -values
            order = np.lexsort((np.arange(len(rows)), values))  # ties: the project's order
        if col == 0 and self.sort_order == Qt.SortOrder.DescendingOrder:
            order = order[::-1]
        return [rows[i] for i in order.tolist()]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self.sort_column, self.sort_order = int(column), order
        self.rows = self._sorted()
        self.layoutChanged.emit()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                if section == self.sort_column:
                    return COLUMNS[section] + SORT_MARKS[self.sort_order]
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return TIPS[section]
            if role == Qt.ItemDataRole.InitialSortOrderRole:  # numbers: the largest first
                return Qt.SortOrder.AscendingOrder if section == 0 \
                    else Qt.SortOrder.DescendingOrder
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.image_id
            if col == 4:
                return "" if row.worst_score is None else f"{row.worst_score:.2f}"
            return str((row.fp, row.fn, row.confused)[col - 1])
        if role == Qt.ItemDataRole.TextAlignmentRole and col:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{row.image_id}: TP {row.tp}, FP {row.fp}, FN {row.fn}, confused "
                    f"{row.confused}")
        return None


class ErrorsFilter(QSortFilterProxyModel):
    """Sort by a column's numbers; keep rows with an error of the chosen class and size."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.class_name: str | None = None
        self.size: str | None = None
        self.errors_only = False

    def set_filters(self, class_name: str | None, size: str | None,
                    errors_only: bool = False) -> None:
        self.beginFilterChange()
        self.class_name, self.size, self.errors_only = class_name, size, errors_only
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts (see :class:`ErrorsTableModel`); this one only filters."""
        model = self.sourceModel()
        if isinstance(model, ErrorsTableModel):
            model.sort(column, order)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        if not isinstance(model, ErrorsTableModel):
            return True
        row = model.rows[source_row]
        if self.errors_only and not row.errors:
            return False
        if self.class_name is not None and self.class_name not in row.classes:
            return False
        return self.size is None or self.size in row.sizes

    def row_at(self, proxy_row: int) -> ImageRow:
        model = self.sourceModel()
        assert isinstance(model, ErrorsTableModel)
        return model.rows[self.mapToSource(self.index(proxy_row, 0)).row()]

    def image_ids(self) -> list[str]:
        """The image ids in the table's order (sorted and filtered)."""
        return [self.row_at(r).image_id for r in range(self.rowCount())]


class ErrorsTableView(QTableView):
    """The table; Enter / N emit ``next_requested`` (see the module doc)."""

    next_requested = Signal()

    _KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_N)

    def __init__(self) -> None:
        super().__init__()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSortingEnabled(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setMinimumSectionSize(30)
        self.setMinimumHeight(150)
        self.setMinimumWidth(260)  # the stretching image column keeps room for its header

    def setModel(self, model: object) -> None:  # noqa: N802 (Qt API)
        super().setModel(model)  # type: ignore[arg-type]
        header = self.horizontalHeader()  # (sections exist once there is a model)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicatorShown(False)  # the order is in the title (SORT_MARKS)
        metrics = header.fontMetrics()
        for col in range(1, len(COLUMNS)):  # fixed: ResizeToContents reads 1,000 rows a time
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(col, max(metrics.horizontalAdvance(COLUMNS[col] + " ▼") + 16,
                                          metrics.horizontalAdvance("0.00") + 14))
        self.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # FP, the largest first

    def _is_next_key(self, event: QKeyEvent) -> bool:
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        return event.key() in self._KEYS and mods == Qt.KeyboardModifier.NoModifier

    def event(self, event: QEvent) -> bool:
        # The window's Enter (accept suggestions) must not take the key from the table.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and self._is_next_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if self._is_next_key(event):
            self.next_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)
