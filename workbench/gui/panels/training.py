"""The Train dock: pick a detector and settings, press Start, watch loss and mAP live.

Training runs on a background QThread (:class:`workbench.gui.workers.bridge.TrainingBridge`) on a
snapshot of the saved annotations, so the window stays responsive and labeling goes on. Stop
ends the run after the current step; Resume continues from the run's ``last.pt`` (the epoch
count and the curves carry on). After every checkpoint the current image's detections
(NMS-filtered, the checkpoint's score threshold) are drawn on the canvas.

No torch at import time: the engine is imported when the panel is built.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.events import fmt_count, fmt_duration
from workbench.gui.canvas.layer_list import LayerList
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.canvas.palette import class_color
from workbench.gui.panels.training_plots import TrainingPlots
from workbench.gui.panels.training_weights import WeightsChooser, WeightsFetcher
from workbench.gui.workers.bridge import TrainingBridge

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

log = logging.getLogger(__name__)


def _fill_model_registry() -> None:
    """The engine's detector registry (its builders import the classic models' modules: ~10 ms),
    filled when this module is imported after torch — by the background model loader
    (:class:`workbench.gui.jobs.ModelLoader`), not in ``_build_form`` on the GUI thread
    (issue 14, GUI stalls). Without torch imported, nothing: this module must not import it."""
    if "torch" not in sys.modules or "torchvision" not in sys.modules:
        return
    from workbench.core.models import DEFAULT_MODEL
    from workbench.engine.detectors import get_spec

    try:
        get_spec(DEFAULT_MODEL)
    except Exception as exc:  # noqa: BLE001 - _build_form asks again and reports it
        log.debug("model registry not filled in the background: %s", exc)


_fill_model_registry()

#: An early checkpoint can score many boxes alike; the preview draws the best ones only.
PREVIEW_MAX_BOXES = 20


#: TrainConfig fields the form sets itself (a model's recipe supplies the others).
_FORM_KEYS = frozenset({"images_dir", "annotations_dir", "model", "epochs", "batch_size", "lr",
                        "image_size", "weights", "device", "out_dir", "resume", "augment",
                        "augmentation"})
#: Augmentation choices of the form: (TrainConfig.augmentation, label, tooltip).
AUGMENTATION_ITEMS = (
    ("auto", "model's own", "SSD models: photometric, zoom-out, IoU crop, flip; others: flip"),
    ("ssd", "SSD chain", "photometric distortion, zoom-out, IoU crop, horizontal flip"),
    ("flip", "flips only", "horizontal flips"),
    ("none", "none", "the images as they are"),
)


def project_dirs(project: Any) -> tuple[Path, Path | None]:
    """``(images_dir, annotations_dir)`` that re-open ``project`` with the same root (so the
    split lands in the project's own ``ImageSets/Main``)."""
    root, images = Path(project.root), Path(project.images_dir)
    annotations = Path(project.annotations_dir)
    if root != images:
        return root, None
    return images, (annotations if annotations != images else None)


class TrainingPanel(QWidget):
    """Settings, Start/Stop/Resume, progress with ETA, live plots, canvas preview; ``window``:
    what a panel may use of the labeling window (:class:`~workbench.gui.panel_api.PanelWindow`)."""

    STATUS_LINES = 3  #: the message line's height, in text lines, reserved from the start

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.window = window
        self.bridge = TrainingBridge(self)
        self.run_dir: Path | None = None
        self.total_steps = 1
        self.done_before = 0
        self.epochs_total = 0
        self.last_finished: Any = None  #: the last ``Finished`` event (the Detections panel)
        self._epoch_text = ""
        self._build_form()
        self._build_controls()
        self.plots = TrainingPlots(self)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(self.buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.plots, 1)
        self.preview = BoxLayer("training-preview")  # in the canvas's layer list once drawn
        self.preview.setVisible(False)
        self._connect()
        self._update_buttons(False)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- construction ---------------------------------------------------------------------------
    def _build_form(self) -> None:
        # Import the training and inference code now, while the dock is built: importing it
        # on the worker thread when Start is pressed would hold the import lock and the GIL.
        import workbench.engine.inference  # noqa: F401
        import workbench.engine.trainer  # noqa: F401
        from workbench.core.models import DEFAULT_MODEL, trainable_names
        from workbench.engine.detectors import expected_step_s, get_spec
        from workbench.engine.device import mps_available, resolve_device

        self.detected_device = resolve_device("auto").type
        self.form = QFormLayout()
        self.model_box = QComboBox()
        for name in trainable_names():  # the model catalog (workbench.core.models)
            spec = get_spec(name)
            step = expected_step_s(name, self.detected_device)
            speed = f"~{step:g} s/step" if step else "speed unknown"
            self.model_box.addItem(f"{name}  ({speed})", name)
            per = f" (a step of 2 images on {self.detected_device})" if step else ""
            self.model_box.setItemData(self.model_box.count() - 1,
                                       f"{spec.description}\n{speed}{per}",
                                       Qt.ItemDataRole.ToolTipRole)
        # The items are long ("fasterrcnn_mobilenet_v3_large_320_fpn  (~… s/step …)"): sized to
        # them, the combo alone made the dock 660 px wide (the popup still shows them whole).
        self.model_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(18)
        default = self.model_box.findData(DEFAULT_MODEL)
        self.model_box.setCurrentIndex(max(default, 0))
        self.epochs = self._spin(1, 10000, 10)
        self.batch = self._spin(1, 512, 4)
        self.image_size = self._spin(0, 4096, 0)
        self.image_size.setSpecialValueText("model default")
        self.image_size.setSingleStep(32)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.0, 10.0)
        self.lr.setSingleStep(0.001)
        self.lr.setSpecialValueText("auto (scaled by batch size)")
        self.model_box.currentIndexChanged.connect(lambda _i: self._apply_recipe())
        # none / COCO (download) / ImageNet backbone (download) / torch hub cache / file
        self.weights = WeightsChooser()
        self.weights_browse = self.weights.browse
        self.weights_fetcher = WeightsFetcher(self)
        self.device = QComboBox()
        import torch

        for name, ok in (("auto", True), ("cpu", True), ("cuda", torch.cuda.is_available()),
                         ("mps", mps_available())):
            self.device.addItem(name if ok else f"{name} (not available)", name)
            if not ok:
                self.device.model().item(self.device.count() - 1).setEnabled(False)
        self.augmentation = QComboBox()
        for value, label, tip in AUGMENTATION_ITEMS:
            self.augmentation.addItem(label, value)
            self.augmentation.setItemData(self.augmentation.count() - 1, tip,
                                          Qt.ItemDataRole.ToolTipRole)
        self.augmentation.setToolTip(
            "SSD's chain regularises long runs on real photos (raccoon, 30 CPU-min from scratch: "
            "val mAP 0.94 vs 0.87 with flips only); flips learn fastest in a few minutes")
        self.augmentation.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.augmentation.setMinimumContentsLength(18)
        self.form.addRow("Model", self.model_box)
        # Epochs and batch size share a row: the Train dock must fit a 900 px tall window.
        counts_row = QHBoxLayout()
        self.epochs.setMinimumWidth(80)  # below their size hints (sized for "10000" / "512")
        self.batch.setMinimumWidth(70)
        counts_row.addWidget(self.epochs, 1)
        counts_row.addWidget(QLabel("Batch"))
        counts_row.addWidget(self.batch, 1)
        self.form.addRow("Epochs", counts_row)
        self.form.addRow("Image size", self.image_size)
        self.form.addRow("Learning rate", self.lr)
        self.form.addRow("Augmentation", self.augmentation)
        self.form.addRow("Pretrained weights", self.weights)
        self.form.addRow("Device", self.device)
        # ssd300_vgg16 only (issue 16): torchvision's COCO priors or the SSD paper's VOC ones
        self.priors = QComboBox()
        self.priors.addItem("torchvision (COCO scales 0.07 … 0.87)", "torchvision")
        self.priors.addItem("SSD paper, VOC (0.1 … 0.9)", "voc_paper")
        self.form.addRow("Priors", self.priors)

    def _recipe(self) -> dict[str, Any]:
        from workbench.engine.detectors import get_spec

        return dict(get_spec(str(self.model_box.currentData())).recipe)

    def _apply_recipe(self) -> None:
        """Fill the form with the chosen model's recommended settings (when it has some)."""
        recipe = self._recipe()
        for key, box in (("epochs", self.epochs), ("batch_size", self.batch),
                         ("lr", self.lr), ("image_size", self.image_size)):
            if recipe.get(key) is not None:
                box.setValue(recipe[key])
        wanted = recipe.get("augmentation", "auto") if recipe.get("augment", True) else "none"
        self.augmentation.setCurrentIndex(max(self.augmentation.findData(wanted), 0))

    @staticmethod
    def _spin(lo: int, hi: int, value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(lo, hi)
        box.setValue(value)
        return box

    def _build_controls(self) -> None:
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume")
        self.save_plots_button = QPushButton("Save plots…")
        self.buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.resume_button,
                  self.save_plots_button):
            self.buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.status = QLabel("Trains on the saved annotations of the open folder.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Room for STATUS_LINES lines from the start: a message of another length then changes
        # no geometry. (Each epoch's message used to resize the plots below it — a 20 ms
        # relayout plus a full repaint of every plot, a 60-90 ms GUI stall while training.)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.status.setMinimumHeight(self.STATUS_LINES
                                     * self.status.fontMetrics().lineSpacing() + 2)

    def _connect(self) -> None:
        self.start_button.clicked.connect(lambda: self.start())
        self.stop_button.clicked.connect(lambda: self.stop())
        self.resume_button.clicked.connect(lambda: self._on_resume_clicked())
        self.save_plots_button.clicked.connect(self._on_save_plots_clicked)
        self.model_box.currentIndexChanged.connect(
            lambda _i: self.weights.set_model(str(self.model_box.currentData())))
        self.weights.set_model(str(self.model_box.currentData()))
        self.model_box.currentIndexChanged.connect(lambda _i: self.form.setRowVisible(
            self.priors, self.model_box.currentData() == "ssd300_vgg16"))
        self.form.setRowVisible(self.priors, self.model_box.currentData() == "ssd300_vgg16")
        f = self.weights_fetcher
        f.said.connect(self._say)
        f.progressed.connect(self._on_weights_progressed)
        f.ready.connect(lambda config: self._launch(config, None))
        f.failed.connect(self._on_weights_failed)
        f.declined.connect(lambda: self._on_weights_stopped("not downloaded"))
        f.cancelled.connect(lambda: self._on_weights_stopped("download cancelled"))
        b = self.bridge
        b.run_started.connect(self._on_run_started)
        b.steps_logged.connect(self._on_steps_logged)
        b.epoch_evaluated.connect(self._on_epoch_evaluated)
        b.checkpoint_saved.connect(self._on_checkpoint_saved)
        b.sample_skipped.connect(self._on_sample_skipped)
        b.training_finished.connect(self._on_finished)
        b.failed.connect(self._on_failed)
        b.preview_ready.connect(self._on_preview_ready)
        b.running_changed.connect(self._update_buttons)
        self.window.image_changed.connect(self._on_image_changed)

    # -- actions --------------------------------------------------------------------------------
    def config(self, resume: Path | None = None) -> Any:
        """The :class:`TrainConfig` the form describes (for the open project)."""
        from workbench.engine.config import TrainConfig

        project = self.window.project
        if project is None:
            raise ValueError("open a folder of labeled images first")
        images, annotations = project_dirs(project)
        if resume is None or self.run_dir is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.run_dir = Path(project.root) / "runs" / f"{self.model_box.currentData()}-{stamp}"
        return TrainConfig(
            images_dir=images, annotations_dir=annotations,
            model=str(self.model_box.currentData()), epochs=self.epochs.value(),
            batch_size=self.batch.value(), lr=self.lr.value() or None,
            image_size=self.image_size.value() or None,
            weights=self.weights.request(), device=str(self.device.currentData()),
            out_dir=self.run_dir, resume=resume,
            augmentation=str(self.augmentation.currentData()),
            priors=str(self.priors.currentData()) if self.model_box.currentData()
            == "ssd300_vgg16" else "torchvision",
            **{k: v for k, v in self._recipe().items() if k not in _FORM_KEYS})

    def start(self, resume: Path | None = None) -> bool:
        """Start a new run (or resume from ``resume``); False with a message when impossible.

        COCO / ImageNet weights not yet in the torch hub cache are downloaded first, after the
        user confirms their size (:class:`WeightsFetcher`); the run starts when they are in.
        """
        if self.bridge.is_running() or self.weights_fetcher.busy():
            return False
        try:
            config = self.config(resume)
        except ValueError as exc:
            self._say(str(exc), error=True)
            return False
        if resume is None and self.weights_fetcher.wants_download(config):
            self._update_buttons(True)
            self.progress.setValue(0)
            self.progress.setFormat("pretrained weights…")
            self.weights_fetcher.fetch(config)
            return True
        self._launch(config, resume)
        return True

    def _launch(self, config: Any, resume: Path | None) -> None:
        if resume is None:
            self.plots.clear()
        self._set_preview_image(self.window.current_image_path())
        self.progress.setFormat("preparing…")
        self._say(f"{'Resuming' if resume else 'Starting'}: run folder {config.out_dir}")
        self.bridge.start(config)

    def stop(self) -> None:
        if self.weights_fetcher.busy():
            self.weights_fetcher.cancel()
        elif self.bridge.is_running():
            self.bridge.stop()
            self._say("Stopping after the current step…")

    def resume(self, checkpoint: Path) -> bool:
        self.run_dir = Path(checkpoint).parent
        return self.start(resume=Path(checkpoint))

    def _on_resume_clicked(self) -> None:
        last = self.run_dir / "last.pt" if self.run_dir is not None else None
        if last is None or not last.is_file():
            path, _ = QFileDialog.getOpenFileName(self, "Resume from checkpoint", "",
                                                  "Checkpoints (*.pt *.pth)")
            if not path:
                return
            last = Path(path)
        self.resume(last)

    def _on_weights_progressed(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(1000 * fraction))
        self.progress.setFormat(text)

    def _on_weights_failed(self, message: str) -> None:
        self._update_buttons(False)
        self.progress.setFormat("download failed")
        self._say(message, error=True)

    def _on_weights_stopped(self, what: str) -> None:
        self._update_buttons(False)
        self.progress.setValue(0)
        self.progress.setFormat(what)

    def _on_save_plots_clicked(self) -> None:
        start = str(self.run_dir) if self.run_dir else ""
        folder = QFileDialog.getExistingDirectory(self, "Save plots as PNG into", start)
        if folder:
            written = self.plots.save_png(folder)
            self._say(f"Saved {', '.join(p.name for p in written)} in {folder}")

    # -- bridge signals -------------------------------------------------------------------------
    def _on_run_started(self, event: Any) -> None:
        from workbench.gui.hub import TrainingStarted

        # other panels follow the run through the window's hub
        self.window.hub.publish(TrainingStarted(Path(event.run_dir) if event.run_dir else None))
        self.total_steps = max(1, (event.epochs - event.start_epoch) * event.steps_per_epoch)
        self.done_before = event.start_epoch * event.steps_per_epoch
        self.epochs_total = event.epochs
        self._say(f"{event.model_name} on {event.device}: {event.num_train} train / "
                  f"{event.num_val} val images, {len(event.classes)} classes. "
                  f"{event.weights_message}.")

    def _on_steps_logged(self, events: list[Any]) -> None:
        self.plots.add_steps(events)
        e = events[-1]
        done = e.global_step - self.done_before
        self.progress.setValue(int(1000 * min(1.0, done / self.total_steps)))
        # In display order, with a rank: the parts ranked last go first when the bar is too
        # narrow for all of them (the dock at its narrowest cut the text off mid-word).
        parts = [("%p%", 0), (f"epoch {e.epoch + 1}/{self.epochs_total}", 1),
                 (f"step {e.step + 1}/{e.steps_per_epoch}", 4), (f"loss {e.total:.3f}", 3),
                 (f"{e.images_per_s:.1f} img/s", 5), (f"ETA {fmt_duration(e.eta_s)}", 2)]
        full = "  ·  ".join(text for text, _ in parts)
        room = self.progress.contentsRect().width() - 12
        metrics = self.progress.fontMetrics()
        while len(parts) > 1 and metrics.horizontalAdvance(
                "  ·  ".join(text for text, _ in parts).replace("%p%", "100%")) > room:
            parts.remove(max(parts, key=lambda part: part[1]))
        self.progress.setFormat("  ·  ".join(text for text, _ in parts))
        self.progress.setToolTip(full.replace("%p%", f"{self.progress.value() / 10:.0f}%"))

    def _on_epoch_evaluated(self, event: Any) -> None:
        self.plots.add_epoch(event)
        self._epoch_text = (f"Epoch {event.epoch + 1}: mAP VOC07 (11-point) "
                            f"{event.map_voc07:.3f}, VOC (all-point) {event.map_voc:.3f} on "
                            f"{event.num_val_images} val images.")
        self._say(self._epoch_text)

    def _on_checkpoint_saved(self, event: Any) -> None:
        """The epoch's mAP stays on screen (the checkpoint follows it at once); the run folder
        was named at the start, the full path is the tooltip."""
        best = " (best so far)" if event.is_best else ""
        self._say(f"{self._epoch_text} Saved {Path(event.path).name}{best}.".strip())
        self.status.setToolTip(str(event.path))
        self._epoch_text = ""

    def _on_sample_skipped(self, event: Any) -> None:
        self._say(f"Skipped {event.image}: {event.reason}", error=True)

    def _on_finished(self, event: Any) -> None:
        self.last_finished = event
        how = "Stopped" if event.stopped else "Finished"
        self.progress.setToolTip("")
        self.progress.setFormat(f"{how} after {fmt_count(event.epochs_completed, 'epoch')} "
                                f"({fmt_duration(event.elapsed_s)})")
        if not event.stopped:
            self.progress.setValue(1000)
        resume = "; Resume continues from last.pt" if event.stopped and event.last_checkpoint \
            else ""
        best = Path(event.best_checkpoint) if event.best_checkpoint else None
        # The run folder and file name (a full path filled the status bar); the whole path is
        # in the tooltip.
        self._say(f"{how} after {fmt_count(event.epochs_completed, 'epoch')}{resume}. Best: "
                  + (f"{best.parent.name}/{best.name}" if best else "—"))
        self.status.setToolTip(str(best) if best else "")
        from workbench.gui.hub import TrainingFinished

        # the Detections panel loads best.pt from this event
        last = Path(event.last_checkpoint) if event.last_checkpoint else None
        run = (best or last).parent if (best or last) else None
        self.window.hub.publish(TrainingFinished(run, best, last, bool(event.stopped)))

    def _on_failed(self, message: str) -> None:
        self.progress.setFormat("failed")
        self.progress.setToolTip("")
        # reported once where every failed background job is (the window's status bar); the
        # training thread stays a QThread of its own (see workbench.gui.workers.bridge)
        from workbench.gui.jobs import job_errors

        job_errors().report("Training", message)
        self._say(f"Training stopped: {message}", error=True, status_bar=False)

    def _on_preview_ready(self, path: str, detections: Any) -> None:
        current = self.window.current_image_path()
        if current is None or Path(path) != Path(current):
            return
        self.show_detections(detections)

    def show_detections(self, detections: Any) -> None:
        """Draw ``ImageDetections`` (pixel-edge boxes; the checkpoint's score threshold and NMS
        applied) on the canvas preview layer, at most :data:`PREVIEW_MAX_BOXES` of them."""
        scene = self.window.canvas.scene()
        if self.preview.scene() is not scene:
            LayerList.of(scene).add(self.preview, self, per_image=True)
        order = np.argsort(-detections.scores, kind="stable")[:PREVIEW_MAX_BOXES]
        names, scores = detections.labels[order], detections.scores[order]
        labels = [f"{n} {s:.2f}" for n, s in zip(names, scores)]
        colors = [class_color(str(n)) for n in names]
        self.preview.set_boxes(detections.boxes[order], colors, labels, width=2.0,
                               style=Qt.PenStyle.DashLine, labels_below=True)

    def _on_image_changed(self, path: str) -> None:
        self.preview.clear()  # the layer list empties it too, once it is registered
        self._set_preview_image(path)

    def _set_preview_image(self, path: Any) -> None:
        self.bridge.set_preview_image(Path(path) if path else None)

    # -- helpers --------------------------------------------------------------------------------
    def _update_buttons(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.resume_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for w in (self.model_box, self.epochs, self.batch, self.image_size, self.lr,
                  self.weights, self.weights_browse, self.device):
            w.setEnabled(not running)

    def _say(self, text: str, error: bool = False, status_bar: bool = True) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #e15759;" if error else "")
        if status_bar:
            self.window.statusBar().showMessage(text, 8000)

    def shutdown(self) -> None:
        """Stop a running training and wait for its thread (application exit)."""
        self.weights_fetcher.shutdown()
        self.bridge.stop()
        self.bridge.wait(60000)
