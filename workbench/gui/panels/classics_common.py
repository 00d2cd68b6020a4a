"""Pieces shared by the Classics panel's pages: the detector choice, heat maps, tables.

No torch here: models are built in the panel's background job (``ModelCache.get`` runs on the
worker thread only; the runner has one thread, so the cache needs no lock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox, QHeaderView, QLabel, QSizePolicy, QTableWidget, QTableWidgetItem, QWidget,
)

from workbench.core.models import CATALOG
from workbench.gui.panels.table_fill import filling

#: Detectors with a torchvision backbone whose maps can be pooled (families in the catalog).
FEATURE_FAMILIES = ("ssd", "fasterrcnn")
CHECKPOINT_PREFIX = "ckpt:"


def catalog_models(families: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(name, label)`` of the trainable catalog models of ``families``."""
    return [(m.name, m.label) for m in CATALOG if m.trainable and m.family in families]


def short_label(label: str) -> str:
    """The catalog label without its " — RPN anchors" / " — torchvision" tail (the panel is
    ~370 px wide)."""
    return label.split(" — ")[0] if " — " in label else label


def fill_model_combo(combo: QComboBox, families: tuple[str, ...], default: str) -> None:
    for name, label in catalog_models(families):
        combo.addItem(short_label(label), name)
        combo.setItemData(combo.count() - 1, f"{label} ({name}), random weights",
                          Qt.ItemDataRole.ToolTipRole)
    combo.setCurrentIndex(max(combo.findData(default), 0))


def add_checkpoint(combo: QComboBox, path: str | Path, select: bool = True) -> None:
    key = f"{CHECKPOINT_PREFIX}{path}"
    if combo.findData(key) < 0:
        combo.insertItem(0, f"checkpoint: {Path(path).name}", key)
        combo.setItemData(0, str(path), Qt.ItemDataRole.ToolTipRole)
    if select:
        combo.setCurrentIndex(combo.findData(key))


class ModelCache:
    """Built detectors by key (a catalog name or ``ckpt:PATH``); used on the worker only."""

    def __init__(self) -> None:
        self._models: dict[str, Any] = {}

    def get(self, key: str) -> tuple[Any, str]:
        """``(model, description)``; builds (random weights) or loads it the first time."""
        if key in self._models:
            return self._models[key]
        if key.startswith(CHECKPOINT_PREFIX):
            from workbench.engine.checkpoint import load_checkpoint

            model, ckpt = load_checkpoint(key[len(CHECKPOINT_PREFIX):])
            entry = (model, f"{ckpt['model_name']} ({Path(key[len(CHECKPOINT_PREFIX):]).name})")
        else:
            from workbench.engine.anchor_extract import build_for_anchors

            entry = (build_for_anchors(key), f"{key}, random weights")
        if len(self._models) >= 3:  # R50-FPN is ~160 MB: keep only a few
            self._models.pop(next(iter(self._models)))
        self._models[key] = entry
        return entry


def heat_rgb(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``(H, W)`` values → ``(H, W, 3)`` uint8 (dark blue → teal → yellow), ``lo..hi``."""
    t = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    t = np.clip(t, 0.0, 1.0)[..., None]
    stops = np.array([[30, 20, 80], [30, 150, 140], [250, 230, 40]], dtype=np.float64)
    low = stops[0] + (stops[1] - stops[0]) * np.clip(t * 2, 0, 1)
    high = stops[1] + (stops[2] - stops[1]) * np.clip(t * 2 - 1, 0, 1)
    return np.where(t < 0.5, low, high).astype(np.uint8)


class HeatMap(QLabel):
    """A small ``(H, W)`` heat map, nearest-neighbour scaled, each bin a square."""

    def __init__(self, side: int = 72, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.values: np.ndarray | None = None
        self.setFixedSize(QSize(side, side))
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    #: the empty map's colour (was a style sheet of its own per map: a style sheet per widget
    #: made the panel's first polish ~10 ms slower; issue 14, GUI stalls)
    BACKGROUND = QColor("#222222")

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.BACKGROUND)
        painter.end()
        super().paintEvent(event)

    def set_values(self, values: np.ndarray | None, lo: float = 0.0, hi: float = 1.0) -> None:
        self.values = None if values is None else np.asarray(values, dtype=np.float64)
        if self.values is None:
            self.clear()
            self.setToolTip("")
            return
        rgb = np.ascontiguousarray(heat_rgb(self.values, lo, hi))
        h, w = rgb.shape[:2]
        image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        cell = max(1, self.side // max(h, w))
        pixmap = QPixmap.fromImage(image.scaled(w * cell, h * cell,
                                                Qt.AspectRatioMode.IgnoreAspectRatio,
                                                Qt.TransformationMode.FastTransformation))
        if cell >= 6:  # thin bin borders
            painter = QPainter(pixmap)
            painter.setPen(QColor(0, 0, 0, 90))
            for i in range(1, w):
                painter.drawLine(i * cell, 0, i * cell, h * cell)
            for i in range(1, h):
                painter.drawLine(0, i * cell, w * cell, i * cell)
            painter.end()
        self.setPixmap(pixmap)
        self.setToolTip(f"{h}×{w} bins, min {self.values.min():.3g}, "
                        f"max {self.values.max():.3g}")


def make_table(headers: list[str], tips: dict[str, str] | None = None) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    for c, h in enumerate(headers):
        if tips and h in tips:
            item = table.horizontalHeaderItem(c)
            if item is not None:
                item.setToolTip(tips[h])
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    table.setWordWrap(False)
    table.verticalHeader().setDefaultSectionSize(22)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # the last (text) column takes what is left and elides ("raccoon · ke…", whole in the
    # cell's tooltip): sized to its contents it ran past the ~355 px view (test_panels_fit)
    header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
    header.setStretchLastSection(False)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setMinimumHeight(160)
    # narrow cells: the theme's 12 px side padding made seven number columns overflow the
    # ~300 px panel
    table.setStyleSheet("QTableWidget::item { padding: 0px 3px; } "
                        "QHeaderView::section { padding: 2px 3px; }")
    return table


def fill_table(table: QTableWidget, rows: list[list[str]],
               colors: list[QColor | None] | None = None) -> None:
    with filling(table):  # content-fitted columns measured once, not per cell
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)  # the text column elides
                if colors is not None and colors[r] is not None:
                    item.setForeground(colors[r])
                table.setItem(r, c, item)
    fit_columns(table)


def fit_columns(table: QTableWidget, most: int = 352) -> None:
    """Ask for the width the columns need (at most ``most`` px: the panel column is ~370)."""
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    need = sum(header.sectionSize(c) for c in range(table.columnCount()))
    need += table.verticalScrollBar().sizeHint().width() + 2 * table.frameWidth() + 2
    table.setMinimumWidth(min(need, most))


def smallest_containing(boxes: np.ndarray, x: float, y: float) -> int:
    """Index of the smallest box containing ``(x, y)``, or -1."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    inside = np.flatnonzero((b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3]))
    if len(inside) == 0:
        return -1
    area = (b[inside, 2] - b[inside, 0]) * (b[inside, 3] - b[inside, 1])
    return int(inside[np.argmin(area)])
