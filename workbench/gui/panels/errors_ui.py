"""The Errors panel's widgets and their layout (wiring lives in :mod:`.errors`).

Top to bottom: the checkpoint line; which images (validation split / whole folder), score and
IoU; Evaluate / Cancel with a progress bar; the summary (precision, recall, F1, counts); the
confusion matrix and the images of its clicked cell; class and size filters; the image table;
"show marks on canvas". The panel host scrolls the column, so nothing here scrolls itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QListWidget, QProgressBar,
    QPushButton, QVBoxLayout,
)

from workbench.gui.panels.errors_confusion import ConfusionTable
from workbench.gui.panels.errors_data import SCOPES
from workbench.gui.panels.errors_table import ErrorsFilter, ErrorsTableModel, ErrorsTableView

if TYPE_CHECKING:
    from workbench.gui.panels.errors import ErrorsPanel

SIZES = ("small", "medium", "large")


def _spin(value: float, step: float, tip: str, prefix: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.0, 1.0)
    spin.setDecimals(2)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setPrefix(prefix)
    spin.setToolTip(tip)
    return spin


def build_widgets(panel: ErrorsPanel) -> None:
    """Create the panel's widgets as attributes of ``panel`` and lay them out in it."""
    panel.checkpoint_label = QLabel("No checkpoint loaded — load one in the Detections panel "
                                    "or train one")
    panel.checkpoint_label.setWordWrap(True)
    panel.scope_combo = QComboBox()
    for key, title in SCOPES.items():
        panel.scope_combo.addItem(title, key)
    panel.scope_combo.setToolTip("Validation split: ImageSets/Main/val.txt (what training "
                                 "evaluates on); whole folder: every labelled image")
    panel.score_spin = _spin(0.5, 0.05, "Detections with score ≥ this count (VOC rules)",
                             "score ≥ ")
    panel.iou_spin = _spin(0.5, 0.05, "IoU a detection needs with an object to match it",
                           "IoU ")
    panel.iou_spin.setRange(0.05, 0.95)
    panel.evaluate_button = QPushButton("Evaluate")
    panel.evaluate_button.setToolTip("Run the checkpoint over the images (once per image; the "
                                     "results are kept until the labels change)")
    panel.cancel_button = QPushButton("Cancel")
    panel.cancel_button.setEnabled(False)
    panel.progress = QProgressBar()
    panel.progress.setRange(0, 1000)
    panel.progress.setTextVisible(False)
    panel.progress.setMaximumHeight(10)
    panel.progress.hide()
    panel.status = QLabel("")
    panel.status.setWordWrap(True)
    panel.summary = QLabel("")
    panel.summary.setWordWrap(True)

    panel.confusion = ConfusionTable()
    panel.cell_label = QLabel("Click a cell to list its images")
    panel.cell_label.setWordWrap(True)
    panel.cell_list = QListWidget()
    panel.cell_list.setMaximumHeight(90)
    panel.cell_list.hide()  # until a cell is clicked
    panel.cell_list.setToolTip("The images behind the clicked cell; click one to show it")

    panel.class_filter = QComboBox()
    panel.class_filter.addItem("All classes", None)
    panel.class_filter.setToolTip("Only images with an object or a detection of this class")
    panel.size_filter = QComboBox()
    panel.size_filter.addItem("All sizes", None)
    for size in SIZES:
        panel.size_filter.addItem(size, size)
    panel.size_filter.setToolTip("Only images with an object or a detection of this COCO size "
                                 "(small < 32², large > 96² px²)")
    panel.errors_only = QCheckBox("Only images with errors")
    panel.table_model = ErrorsTableModel(panel)
    panel.table_proxy = ErrorsFilter(panel)
    panel.table_proxy.setSourceModel(panel.table_model)
    panel.table = ErrorsTableView()
    panel.table.setModel(panel.table_proxy)
    panel.hint = QLabel("Enter or N in the table: next image with an error")
    panel.hint.setWordWrap(True)
    panel.marks_box = QCheckBox("Show marks on canvas")
    panel.marks_box.setChecked(True)

    layout = QVBoxLayout(panel)
    layout.addWidget(panel.checkpoint_label)
    row = QHBoxLayout()
    row.addWidget(panel.scope_combo, 1)
    row.addWidget(panel.evaluate_button)
    row.addWidget(panel.cancel_button)
    layout.addLayout(row)
    row = QHBoxLayout()
    row.addWidget(panel.score_spin)
    row.addWidget(panel.iou_spin)
    row.addStretch(1)
    layout.addLayout(row)
    layout.addWidget(panel.progress)
    layout.addWidget(panel.status)
    layout.addWidget(panel.summary)
    layout.addWidget(QLabel("<b>Confusion</b> (rows: truth · columns: predicted)"))
    layout.addWidget(panel.confusion)
    layout.addWidget(panel.cell_label)
    layout.addWidget(panel.cell_list)
    row = QHBoxLayout()
    row.addWidget(panel.class_filter, 1)
    row.addWidget(panel.size_filter, 1)
    layout.addLayout(row)
    layout.addWidget(panel.errors_only)
    layout.addWidget(panel.table, 1)
    layout.addWidget(panel.hint)
    layout.addWidget(panel.marks_box)
