"""Problems dock: what the reader found wrong in the current image's annotation file, and
what the folder scan found wrong in the project (e.g. XML files naming no image)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from workbench.core.annotation import Problem
from workbench.core.wording import count
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
        self._file = ""
        self._problems: list[Problem] = []
        self._read_failed = False
        self._project: list[Problem] = []

    def set_problems(self, file: str, problems: Sequence[Problem], read_failed: bool) -> None:
        """The current image's annotation problems."""
        self._file, self._problems, self._read_failed = file, list(problems), read_failed
        self._rebuild()

    def set_project_problems(self, problems: Sequence[Problem]) -> None:
        """Problems of the project as a whole (listed below the current file's)."""
        self._project = list(problems)
        self._rebuild()

    def count(self) -> int:
        """Number of problems of the current file."""
        return len(self._problems)

    def _rebuild(self) -> None:
        self.list.clear()
        problems = self._problems
        errors = sum(p.severity == "error" for p in problems)
        if problems:
            note = (" — this file will not be overwritten unless you confirm"
                    if self._read_failed else "")
            self.header.setText(f"<b>{self._file}</b>: {count(errors, 'error')}, "
                                f"{count(len(problems) - errors, 'warning')}{note}")
        else:
            self.header.setText(f"{self._file}: no problems" if self._file else "No problems")
        for p in problems:
            where = "" if p.object is None else f"object {p.object}: "
            self._add(p, f"{where}{p.message}")
        if self._project:
            title = QListWidgetItem(f"Project ({len(self._project)})")
            font = QFont()
            font.setBold(True)
            title.setFont(font)
            title.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(title)
            for p in self._project:
                self._add(p, f"{p.file}: {p.message}")

    def _add(self, problem: Problem, text: str) -> None:
        icon = assets.icon("warning", "#f05252" if problem.severity == "error" else "#f5a524")
        item = QListWidgetItem(icon, text)
        item.setToolTip(str(problem))
        self.list.addItem(item)
