"""The list of the current image's detections (a light table model, reset on every slider move)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from workbench.core.detections import ImageDetections
from workbench.gui.canvas.palette import class_color

_Index = QModelIndex | QPersistentModelIndex
_MARK_COLORS = {"TP": QColor(60, 170, 80), "FP": QColor(220, 70, 60),
                "difficult": QColor(150, 150, 150)}


class DetectionsTableModel(QAbstractTableModel):
    """Rows = kept detections, best first: ``#``, class, score, TP/FP mark, box."""

    HEADERS = ("#", "class", "score", "mark", "box")
    #: Header tooltips (the box's header was cut in a 1280 px window; issue 14).
    HEADER_TIPS = ("", "", "", "TP / FP against the ground truth",
                   "x1, y1, x2, y2: pixel edges in the image")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._det: ImageDetections | None = None
        self._status: tuple[str, ...] = ()

    def set_detections(self, det: ImageDetections | None, status: tuple[str, ...] = ()) -> None:
        if det is None and self._det is None:
            return  # empty already (every image change empties it): no reset for the view
        self.beginResetModel()
        self._det = det
        self._status = status
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() or self._det is None else len(self._det)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADER_TIPS[section] or None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self._det is None or not index.isValid():
            return None
        row, col = index.row(), index.column()
        name = str(self._det.labels[row])
        mark = self._status[row] if row < len(self._status) else ""
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row + 1
            if col == 1:
                return name
            if col == 2:
                return f"{self._det.scores[row]:.3f}"
            if col == 3:
                return mark
            return ", ".join(f"{v:.0f}" for v in self._det.boxes[row])
        if role == Qt.ItemDataRole.DecorationRole and col == 1:
            return class_color(name)
        if role == Qt.ItemDataRole.ForegroundRole and col == 3 and mark in _MARK_COLORS:
            return QBrush(_MARK_COLORS[mark])
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, 2):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
