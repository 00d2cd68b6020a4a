"""Problems dock: what the reader found wrong in the current image's annotation file."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from workbench.core.annotation import Problem
from workbench.gui import assets


class ProblemsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel("No problems")
        self.header.setObjectName("counter")
        self.header.setWordWrap(True)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.header)
        layout.addWidget(self.list, 1)

    def set_problems(self, file: str, problems: Sequence[Problem], read_failed: bool) -> None:
        self.list.clear()
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        if not problems:
            self.header.setText(f"{file}: no problems")
            return
        note = (" — this file will not be overwritten unless you confirm" if read_failed else "")
        self.header.setText(f"<b>{file}</b>: {errors} error(s), {warnings} warning(s){note}")
        warn = assets.icon("warning", "#f5a524")
        err = assets.icon("warning", "#f05252")
        for p in problems:
            where = "" if p.object is None else f"object {p.object}: "
            item = QListWidgetItem(err if p.severity == "error" else warn, f"{where}{p.message}")
            item.setToolTip(str(p))
            self.list.addItem(item)

    def count(self) -> int:
        return self.list.count()
