"""The Train panel's pretrained-weights choice and its opt-in download.

:class:`WeightsChooser` is the form row: none (from scratch), COCO (download), ImageNet backbone
(download), the torch hub cache, or a file. :class:`WeightsFetcher` runs the download the user
asked for, before the run starts: it resolves the file off the GUI thread
(:func:`workbench.engine.weights_download.remote_weights`), asks "Download 13.4 MB from
download.pytorch.org into ~/.cache/torch/hub/checkpoints?" and only after a Yes downloads it on
a background task (progress, cancel, SHA-256 checked, atomic), then hands the run's config back.
A file already in the cache starts the run at once, without a request.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from workbench.gui.workers.tasks import TaskRunner

log = logging.getLogger(__name__)

#: (request, label, tooltip); "none" and "file" are the form's own, the others are
#: ``TrainConfig.weights`` words.
WEIGHTS_ITEMS = (
    ("none", "none: train from scratch", "random initialisation"),
    ("coco", "COCO (download)",
     "torchvision's COCO detector weights for the chosen model; the size is shown and "
     "confirmed before anything is downloaded into the torch hub cache"),
    ("imagenet", "ImageNet backbone (download)",
     "torchvision's ImageNet weights of the model's backbone (fresh detection heads); the size "
     "is shown and confirmed before anything is downloaded into the torch hub cache"),
    ("hub", "torch hub cache",
     "COCO, else ImageNet weights already in the torch hub cache; else from scratch"),
    ("file", "file…", "a .pth/.pt state_dict (detector or backbone) or a checkpoint"),
)
DOWNLOADS = ("coco", "imagenet")


class WeightsChooser(QWidget):
    """What a new run starts from: a combo, and a file field with "…" for "file"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choice = QComboBox()
        for value, label, tip in WEIGHTS_ITEMS:
            self.choice.addItem(label, value)
            self.choice.setItemData(self.choice.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.choice.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.choice.setMinimumContentsLength(12)
        self.path = QLineEdit()
        self.path.setPlaceholderText("a .pth file")
        self.browse = QPushButton("…")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.choice, 1)
        layout.addWidget(self.path, 1)
        layout.addWidget(self.browse)
        self.choice.currentIndexChanged.connect(lambda _i: self._show_path())
        self.browse.clicked.connect(self._on_browse_clicked)
        self._show_path()

    def request(self) -> str | None:
        """``TrainConfig.weights``: None, "coco", "imagenet", "hub" or a file path."""
        value = str(self.choice.currentData())
        if value == "none":
            return None
        if value == "file":
            return self.path.text().strip() or None
        return value

    def set_model(self, model_name: str) -> None:
        """Offer COCO / ImageNet only where torchvision has them for ``model_name``."""
        from workbench.engine.detectors import get_spec

        spec = get_spec(model_name)
        for value, member in (("coco", spec.detector_weights),
                              ("imagenet", spec.backbone_weights)):
            item = self.choice.model().item(self.choice.findData(value))
            item.setEnabled(member is not None)
            item.setToolTip(dict((v, t) for v, _, t in WEIGHTS_ITEMS)[value] if member else
                            f"torchvision has no such weights for {model_name}")
        if not self.choice.model().item(self.choice.currentIndex()).isEnabled():
            self.choice.setCurrentIndex(self.choice.findData("none"))

    def _show_path(self) -> None:
        is_file = self.choice.currentData() == "file"
        self.path.setVisible(is_file)
        self.browse.setVisible(is_file)

    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pretrained weights", "",
                                              "PyTorch weights (*.pt *.pth)")
        if path:
            self.path.setText(path)


def confirm_download(parent: QWidget, remote: Any) -> bool:
    """Ask before downloading: size, server and destination; Yes downloads."""
    answer = QMessageBox.question(
        parent, "Download pretrained weights",
        f"{remote.question()}\n\n{remote.what} weights {remote.enum_name}\n{remote.url}\n\n"
        "The file's SHA-256 is checked before it is kept. Nothing is downloaded otherwise.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


class WeightsFetcher(QObject):
    """Resolve → confirm → download the COCO / ImageNet file a config asks for, then
    :attr:`ready` (the config) — or :attr:`failed` (one line), :attr:`declined` or
    :attr:`cancelled`. :attr:`progressed` carries (fraction, text) while downloading; every
    signal is emitted on the GUI thread."""

    progressed = Signal(float, str)
    said = Signal(str)
    ready = Signal(object)
    failed = Signal(str)
    declined = Signal()
    cancelled = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.runner = TaskRunner(self)
        self.task: Any = None
        self.config: Any = None
        self.remote: Any = None

    @staticmethod
    def wants_download(config: Any) -> bool:
        return str(config.weights or "").strip().lower() in DOWNLOADS

    def busy(self) -> bool:
        return self.task is not None

    def fetch(self, config: Any) -> None:
        """Start with a look-up off the GUI thread (a mirror answers a HEAD request)."""
        from workbench.engine.weights_download import remote_weights

        self.config = config
        model, which = config.model, str(config.weights).strip().lower()
        self.said.emit("Looking up the pretrained weights…")
        self._submit(lambda ctx: _plain(remote_weights, model, which), self._on_resolved)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def shutdown(self) -> None:
        self.runner.shutdown()

    def _submit(self, job: Any, on_done: Any) -> None:
        self.task = task = self.runner.submit(job)
        task.finished.connect(on_done)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_cancelled)
        task.progressed.connect(self.progressed)

    def _on_resolved(self, result: Any) -> None:
        self.task = None
        if isinstance(result, str):
            self.failed.emit(result)
            return
        remote = self.remote = result
        if remote.cached:
            self.said.emit(f"{remote.what} weights already in the torch hub cache: "
                           f"{remote.path.name} (no download).")
            self.ready.emit(self.config)
            return
        if not confirm_download(self.parent_widget, remote):
            self.said.emit("Not downloaded; the run did not start.")
            self.declined.emit()
            return
        from workbench.engine.weights_download import download, fmt_size

        label = f"downloading {remote.what} weights"

        def job(ctx: Any) -> Any:
            def progress(done: int, total: int | None) -> None:
                total = total or remote.size_bytes
                frac = done / total if total else 0.0
                of = f" / {fmt_size(total)}" if total else ""
                ctx.progress(min(1.0, frac), f"{label}  %p%  {fmt_size(done)}{of}")

            return _plain(download, remote, progress=progress, cancelled=ctx.cancelled)

        self.said.emit(f"Downloading {remote.size_text()} from {remote.host} into "
                       f"{remote.path.parent}… (Stop cancels)")
        self._submit(job, self._on_downloaded)

    def _on_downloaded(self, result: Any) -> None:
        self.task = None
        if isinstance(result, str):
            self.failed.emit(result)
            return
        self.said.emit(f"Downloaded {result.name} into the torch hub cache.")
        self.ready.emit(self.config)

    def _on_failed(self, message: str) -> None:
        self.task = None
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self.task = None
        self.said.emit("Download cancelled; nothing was kept.")
        self.cancelled.emit()


def _plain(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(...)``, or the one-line message of a :class:`WeightsError` (no type name)."""
    from workbench.engine.events import TrainingError
    from workbench.engine.weights_download import DownloadCancelled

    try:
        return fn(*args, **kwargs)
    except DownloadCancelled:
        raise
    except TrainingError as exc:
        return str(exc)
