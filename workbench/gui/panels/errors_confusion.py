"""The confusion matrix as a heat-map table: rows ground truth, columns predicted, counts in
the cells, "background" last on both axes (a detection that matched no object / an object no
detection matched). A click on a cell emits ``cell_clicked(gt_label, pred_label)``; the Errors
panel lists the images behind it.

The diagonal (right class) is tinted green, the rest red, each by its count relative to the
largest count off / on the diagonal, so a few confusions stand out next to many hits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

BACKGROUND = "background"
_GOOD, _BAD = QColor(60, 170, 90), QColor(215, 60, 60)
MAX_HEIGHT = 240  #: px; more classes scroll inside the table


def short(label: str, width: int = 12) -> str:
    """A row header that keeps the table narrow ("background" → "bg"); column headers get the
    whole name and are elided by the header itself, to the width the column really has."""
    if label == BACKGROUND:
        return "bg"
    return label if len(label) <= width else label[:width - 1] + "…"


def _tint(color: QColor, share: float) -> QColor:
    share = 0.15 + 0.85 * min(max(share, 0.0), 1.0)
    return QColor(color.red(), color.green(), color.blue(), int(round(255 * share * 0.8)))


class ConfusionTable(QTableWidget):
    """Counts of (ground truth, predicted) pairs; see the module doc."""

    cell_clicked = Signal(str, str)  #: (ground-truth label, predicted label)

    def __init__(self) -> None:
        super().__init__(0, 0)
        self.labels: list[str] = []
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._fit_height(0)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.horizontalHeader().setMinimumSectionSize(28)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setToolTip("Rows: ground truth · columns: predicted · bg: background (no object "
                        "/ no detection). Click a cell to list its images.")
        self.cellClicked.connect(self._on_cell_clicked)

    def set_matrix(self, labels: Sequence[str], matrix: np.ndarray) -> None:
        """``labels`` (classes then "background") and the ``(L, L)`` counts."""
        self.labels = list(labels)
        self.matrix = np.asarray(matrix, dtype=np.int64).reshape(len(labels), len(labels))
        n = len(self.labels)
        self.clear()
        self.setRowCount(n)
        self.setColumnCount(n)
        # Columns stretch over the panel's width: whole names, elided by the header only
        # when the column is too narrow ("raccoon" was cut to "racco…" in a 180 px column).
        self.setHorizontalHeaderLabels(["bg" if x == BACKGROUND else x for x in self.labels])
        self.setVerticalHeaderLabels([short(x) for x in self.labels])
        for i, label in enumerate(self.labels):
            self.horizontalHeaderItem(i).setToolTip(f"predicted {label}")
            self.verticalHeaderItem(i).setToolTip(f"ground truth {label}")
        diag = np.eye(n, dtype=bool)
        if n:
            diag[n - 1, n - 1] = False  # background/background is never counted
        top_good = max(int(self.matrix[diag].max(initial=0)), 1)
        top_bad = max(int(self.matrix[~diag].max(initial=0)), 1)
        for r in range(n):
            for c in range(n):
                value = int(self.matrix[r, c])
                item = QTableWidgetItem("" if (r == c == n - 1) else str(value))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setToolTip(f"ground truth {self.labels[r]}, predicted {self.labels[c]}: "
                                f"{value}")
                if value and not (r == c == n - 1):
                    good = bool(diag[r, c])
                    item.setBackground(_tint(_GOOD if good else _BAD,
                                             value / (top_good if good else top_bad)))
                self.setItem(r, c, item)
        self._fit_height(n)

    def _fit_height(self, rows: int) -> None:
        """As tall as its rows (a 2x2 matrix takes no more room than it needs), at most
        :data:`MAX_HEIGHT` (then it scrolls)."""
        header = self.horizontalHeader().sizeHint().height()
        rows_height = rows * self.verticalHeader().defaultSectionSize()
        height = min(max(header + rows_height + 2 * self.frameWidth() + 2, 60), MAX_HEIGHT)
        self.setFixedHeight(height)

    def _on_cell_clicked(self, row: int, column: int) -> None:
        if 0 <= row < len(self.labels) and 0 <= column < len(self.labels):
            self.cell_clicked.emit(self.labels[row], self.labels[column])
