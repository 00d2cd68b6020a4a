"""What the window shows before a folder is open: what to do, and the recent folders."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.core.fsnames import readable
from workbench.gui import assets

#: Longest recent-folder text shown; longer paths keep their end ("…/photos/2024/cats"). The
#: page shares the window's centre with the canvas, so its minimum width is the canvas's too.
MAX_PATH_CHARS = 48


def short_path(path: str, limit: int = MAX_PATH_CHARS) -> str:
    return path if len(path) <= limit else "…" + path[-(limit - 1):]


class WelcomePage(QWidget):
    open_requested = Signal()
    # images_dir, annotations_dir ("" = beside images); Python strings, not Qt ones: a folder
    # name that is not UTF-8 must arrive unchanged (core/fsnames.py)
    recent_requested = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.setStyleSheet("#welcome { background: #1b1d21; }")
        logo = QLabel()
        logo.setPixmap(assets.app_icon().pixmap(72, 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Detection Workbench")
        title.setStyleSheet("font-size: 24px; font-weight: 700;")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel("Open a folder of images to start labeling.<br>"
                      "Press <b>Ctrl+U</b>, drop a folder on this window, or run "
                      "<code>workbench gui IMAGES_DIR</code>.<br>"
                      "Boxes are saved as PASCAL VOC XML beside the images "
                      "(or in the folder chosen with <b>Ctrl+R</b>).")
        text.setObjectName("muted")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setWordWrap(True)
        self.open_button = QPushButton(assets.icon("open-folder"), "  Open Folder…")
        self.open_button.setObjectName("primary")
        self.open_button.clicked.connect(self.open_requested)
        self.recent_box = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(logo)
        layout.addWidget(title)
        layout.addSpacing(8)
        layout.addWidget(text)
        layout.addSpacing(16)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(16)
        layout.addLayout(self.recent_box)
        layout.addStretch(3)

    def set_recent(self, recent: list[tuple[Path, Path | None]]) -> None:
        while self.recent_box.count():
            item = self.recent_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        shown = [(i, a) for i, a in recent if Path(i).is_dir()][:5]
        if shown:
            head = QLabel("Recent folders")
            head.setObjectName("muted")
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.recent_box.addWidget(head)
        for images, xml in shown:
            button = QPushButton(short_path(readable(images)))
            button.setToolTip(readable(images) + (f"\nXML: {readable(xml)}" if xml else ""))
            button.setFlat(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _c=False, i=images, a=xml:
                                   self.recent_requested.emit(str(i), str(a or "")))
            self.recent_box.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
