"""File → Export dataset…: the dialog (format, output folder, split) and the destination rules.

The export itself is :func:`workbench.core.export.export_project`, the function behind
``workbench export``; this module only asks for its arguments. :func:`destination_problem` is
plain Python (no widgets) so the rules are tested without a window:

* never the project's own image or annotation folder, a folder inside them (the next scan of
  the project would pick the exported copies up) or a folder holding them (an export with
  "overwrite" could replace the project's own files);
* a non-empty folder only with "write into a non-empty folder" (core's ``overwrite``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

#: ``(core format name, label)`` in menu order.
FORMATS: list[tuple[str, str]] = [
    ("voc", "PASCAL VOC2007 tree"),
    ("coco", "COCO JSON"),
    ("yolo", "YOLO txt"),
]

#: What each format writes (shown under the format box).
LAYOUTS = {
    "voc": "JPEGImages/, Annotations/*.xml, ImageSets/Main/{train,val,trainval}.txt, "
           "classes.txt — images become JPEG, unknown XML elements are kept.",
    "coco": "images/ + instances.json — bbox [x, y, w, h], category ids 1…K in class order, "
            "\"split\" per image.",
    "yolo": "images/{train,val}/, labels/{train,val}/*.txt (class cx cy w h, normalised), "
            "classes.txt, data.yaml.",
}


@dataclass(frozen=True)
class ExportChoice:
    fmt: str
    out: Path
    val_fraction: float = 0.2
    seed: int = 0
    overwrite: bool = False


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def destination_problem(project, out: str | Path | None,  # noqa: ANN001
                        overwrite: bool = False) -> str | None:
    """Why ``out`` cannot receive an export of ``project`` (None: it can)."""
    if out is None or not str(out).strip():
        return "Choose an output folder."
    path = Path(str(out).strip()).expanduser()
    if not path.is_absolute():
        return f"{path}: give an absolute path."
    path = path.resolve()
    own = {Path(project.images_dir).resolve(), Path(project.annotations_dir).resolve()}
    for folder in sorted(own):
        if _inside(path, folder):
            return (f"{path}: inside the project's folder {folder} — the export would be "
                    "scanned as part of the project. Choose a folder outside it.")
        if _inside(folder, path):
            return (f"{path}: holds the project's folder {folder} — choose a folder outside "
                    "the project.")
    if path.exists() and not path.is_dir():
        return f"{path}: exists and is not a folder."
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        return (f"{path}: folder is not empty. Choose a new or empty folder, or tick "
                "“Write into a non-empty folder”.")
    return None


def default_destination(project, fmt: str) -> Path:  # noqa: ANN001
    """``<project root>-<fmt>`` beside the project (``-2``, ``-3`` … if it is taken)."""
    root = Path(project.root).resolve()
    base = root.parent / f"{root.name}-{fmt}"
    candidate, n = base, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


class ExportDialog(QDialog):
    """Format, output folder, validation fraction, seed, overwrite. ``choice()`` when accepted."""

    def __init__(self, project, choice: ExportChoice | None = None,  # noqa: ANN001
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Export dataset")
        self.setMinimumWidth(640)
        annotated = len(project.annotated)
        noun = "image" if annotated == 1 else "images"
        intro = QLabel(f"Export the <b>{annotated:,}</b> annotated {noun} of "
                       f"<b>{Path(project.root).name}</b> with a seeded train/val split "
                       "(the same export as <code>workbench export</code>).")
        intro.setWordWrap(True)

        self.format = QComboBox()
        for key, label in FORMATS:
            self.format.addItem(label, key)
        self.layout_note = QLabel()
        self.layout_note.setObjectName("muted")
        self.layout_note.setWordWrap(True)

        self.out = QLineEdit()
        self.out.setPlaceholderText("A new or empty folder outside the project")
        self.browse = QPushButton("Browse…")
        self.browse.setAutoDefault(False)  # Enter exports, it does not browse
        self.browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.setContentsMargins(0, 0, 0, 0)
        out_row.addWidget(self.out, 1)
        out_row.addWidget(self.browse)

        self.val = QSpinBox()
        self.val.setRange(0, 90)
        self.val.setSingleStep(5)
        self.val.setSuffix(" %")
        self.val.setToolTip("Share of the images in the validation split")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed gives the same split")
        for spin in (self.val, self.seed):
            spin.setMinimumWidth(110)
            spin.setMaximumWidth(140)
        self.overwrite = QCheckBox("Write into a non-empty folder")
        self.overwrite.setToolTip("Files with the same names are replaced; other files stay")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #f05252;")

        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("", self.layout_note)
        form.addRow("Output folder", out_row)
        form.addRow("Validation split", self.val)
        form.addRow("Split seed", self.seed)
        form.addRow("", self.overwrite)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)

        choice = choice or ExportChoice("voc", default_destination(project, "voc"))
        self._suggested = str(choice.out)
        self.format.setCurrentIndex(max(0, self.format.findData(choice.fmt)))
        self.out.setText(str(choice.out))
        self.val.setValue(round(choice.val_fraction * 100))
        self.seed.setValue(choice.seed)
        self.overwrite.setChecked(choice.overwrite)
        self.format.currentIndexChanged.connect(self._on_format)
        self.out.textChanged.connect(self._validate)
        self.overwrite.toggled.connect(self._validate)
        self._on_format()

    def _on_format(self) -> None:
        fmt = self.format.currentData()
        self.layout_note.setText(LAYOUTS[fmt])
        if self.out.text() == self._suggested:  # follow the format until the user edits it
            self._suggested = str(default_destination(self.project, fmt))
            self.out.setText(self._suggested)
        self._validate()

    def _browse(self) -> None:
        from workbench.gui import dialogs

        start = self.out.text().strip() or str(Path(self.project.root).parent)
        while start and not Path(start).is_dir() and Path(start).parent != Path(start):
            start = str(Path(start).parent)
        folder = dialogs.ask_directory(self, "Export to folder", start)
        if folder:
            self.out.setText(folder)

    def _validate(self) -> None:
        problem = destination_problem(self.project, self.out.text(), self.overwrite.isChecked())
        self.problem.setText(problem or "")
        self.problem.setVisible(bool(problem))
        self.export_button.setEnabled(problem is None)

    def choice(self) -> ExportChoice:
        return ExportChoice(self.format.currentData(),
                            Path(self.out.text().strip()).expanduser(),
                            self.val.value() / 100.0, self.seed.value(),
                            self.overwrite.isChecked())
