"""The Proposals panel's "Segments and grouping" section: what selective search starts from.

* **Segments**: OpenCV's graph-based segmentation (Felzenszwalb & Huttenlocher;
  :func:`workbench.core.ss_grouping.felzenszwalb`) of the current image with the ``k`` (scale),
  ``sigma`` and ``min_size`` controls, drawn as a coloured semi-transparent layer
  (``"ss:segments"``) with each region's outline.
* **Grouping**: :func:`workbench.core.ss_grouping.group` (colour, texture, size and fill
  similarities of Uijlings et al.) merges the two most similar neighbours at each step; the
  step slider shows the regions after step ``t`` and outlines the region step ``t`` made
  (``"ss:merge"``: its box, labelled with the similarity).

Both run as one :class:`~workbench.gui.jobs.JobRunner` job per (image, k, sigma, min_size) on a
copy of at most :data:`WORK_SIDE` pixels (the layer is scaled back to the image); moving the
step slider only recolours (a label lookup, a few ms).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPixmap, QTransform
from PySide6.QtWidgets import (
    QCheckBox, QDoubleSpinBox, QFormLayout, QGraphicsPixmapItem, QGroupBox, QHBoxLayout, QLabel,
    QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from workbench.core.ss_grouping import Grouping, felzenszwalb, group, region_colours
from workbench.gui.canvas.layer_list import LayerList
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.jobs import JobContext, JobRunner

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

#: Longest side the segmentation and grouping run at (the layer is scaled back up).
WORK_SIDE = 512
#: Alpha of the region colours (0–255): the photo shows through.
FILL_ALPHA = 110
#: Delay after a control changes before the job starts (typing "300" is one run, not three).
DEBOUNCE_MS = 250


class SegmentsLayer(QGraphicsPixmapItem):
    """A label image painted as colours over the photo; ``len()`` = regions shown."""

    def __init__(self, name: str = "ss:segments") -> None:
        super().__init__()
        self.name = name
        self.regions = 0
        self.setTransformationMode(Qt.TransformationMode.FastTransformation)

    def __len__(self) -> int:
        return self.regions

    def set_labels(self, labels: np.ndarray, colours: np.ndarray, scale: tuple[float, float],
                   highlight: int | None = None) -> None:
        """``labels`` ``(h, w)`` region ids into ``colours`` ``(N, 3)`` RGB; ``scale`` maps the
        label image's pixels to the photo's; region ``highlight`` is painted more opaque."""
        h, w = labels.shape
        rgba = np.empty((h, w, 4), np.uint8)
        rgba[:, :, :3] = colours[labels]
        alpha = np.full((h, w), FILL_ALPHA, np.uint8)
        if highlight is not None:
            alpha[labels == highlight] = 190
        edge = np.zeros((h, w), bool)
        edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
        edge[1:, :] |= labels[1:, :] != labels[:-1, :]
        rgba[edge, :3] = 20
        alpha[edge] = 230
        rgba[:, :, 3] = alpha
        image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        self.setPixmap(QPixmap.fromImage(image))
        self.setTransform(QTransform.fromScale(*scale))
        self.regions = int(len(np.unique(labels)))

    def clear(self) -> None:
        self.setPixmap(QPixmap())
        self.regions = 0


def segment_job(ctx: JobContext, rgb: np.ndarray, k: float, sigma: float,
                min_size: int) -> tuple[Grouping, tuple[float, float]]:
    """Segments and their grouping of ``rgb`` reduced to :data:`WORK_SIDE` (worker thread)."""
    h, w = rgb.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    ww, wh = max(1, round(w * s)), max(1, round(h * s))
    small = rgb if s == 1.0 else cv2.resize(rgb, (ww, wh), interpolation=cv2.INTER_AREA)
    ctx.progress(0.1, f"segmenting at {ww}×{wh}")
    labels = felzenszwalb(small, k=k, sigma=sigma, min_size=min_size)
    ctx.check()
    ctx.progress(0.4, f"grouping {int(labels.max()) + 1} segments")
    hsv = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2HSV)
    grouping = group(hsv, labels)
    return grouping, (w / ww, h / wh)


class SegmentsSection(QGroupBox):
    """Controls and layers for the segments and the grouping (see the module docstring)."""

    segments_ready = Signal()   #: a segmentation + grouping arrived and was drawn
    step_shown = Signal(int)    #: the layer now shows the regions after this step

    def __init__(self, window: PanelWindow, owner: QWidget) -> None:
        super().__init__("Segments and grouping")
        self.main_window = window
        self.owner = owner
        self.runner = JobRunner(self)
        self.layer = SegmentsLayer()
        self.merge_layer = BoxLayer("ss:merge")
        self.layers = LayerList.of(window.canvas.scene())
        self.layers.add(self.layer, owner, per_image=True, name="ss:segments")
        self.layers.add(self.merge_layer, owner, per_image=True, name="ss:merge")
        self.grouping: Grouping | None = None
        self.scale = (1.0, 1.0)
        self.colours = np.zeros((0, 3), np.uint8)
        self._job_key: tuple | None = None
        self._build_ui()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.run)
        self._sync_wanted()

    def _build_ui(self) -> None:
        self.show_check = QCheckBox("Show segments")
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 100000)
        self.k_spin.setValue(300)
        self.k_spin.setToolTip("Felzenszwalb's k (OpenCV setK): larger → fewer, larger segments")
        self.sigma_spin = QDoubleSpinBox()
        self.sigma_spin.setRange(0.0, 10.0)
        self.sigma_spin.setSingleStep(0.1)
        self.sigma_spin.setValue(0.8)
        self.sigma_spin.setToolTip("Gaussian smoothing before the graph is built")
        self.min_spin = QSpinBox()
        self.min_spin.setRange(1, 100000)
        self.min_spin.setValue(50)
        self.min_spin.setToolTip("Segments smaller than this (pixels at the working size) are "
                                 "merged into a neighbour")
        self.step_slider = QSlider(Qt.Orientation.Horizontal)
        self.step_slider.setRange(0, 0)
        self.step_slider.setEnabled(False)
        self.step_label = QLabel("")
        self.show_check.setToolTip("What selective search starts from: graph-based segments, "
                                   "then merged two at a time")
        self.info = QLabel("Tick “Show segments”.")
        self.info.setWordWrap(True)
        form = QFormLayout()
        form.addRow("k (scale)", self.k_spin)
        form.addRow("sigma", self.sigma_spin)
        form.addRow("min size", self.min_spin)
        step = QHBoxLayout()
        step.addWidget(self.step_slider, 1)
        step.addWidget(self.step_label)
        form.addRow("Step", step)
        layout = QVBoxLayout(self)
        layout.addWidget(self.show_check)
        layout.addLayout(form)
        layout.addWidget(self.info)
        self.show_check.toggled.connect(self._on_show)
        for signal in (self.k_spin.valueChanged, self.sigma_spin.valueChanged,
                       self.min_spin.valueChanged):
            signal.connect(lambda _v: self._schedule())
        self.step_slider.valueChanged.connect(self.show_step)

    # -- running --------------------------------------------------------------------------
    def _sync_wanted(self) -> None:
        on = self.show_check.isChecked()
        self.layers.set_wanted(self.layer, on)
        self.layers.set_wanted(self.merge_layer, on)

    def _on_show(self, on: bool) -> None:
        self._sync_wanted()
        if on and self.grouping is None:
            self.run()

    def _schedule(self) -> None:
        if self.show_check.isChecked():
            self._timer.start()

    def key(self) -> tuple | None:
        path = self.main_window.current_image_path()
        if path is None:
            return None
        return (str(path), self.k_spin.value(), round(self.sigma_spin.value(), 3),
                self.min_spin.value())

    def run(self) -> None:
        """Segment and group the current image on the worker (latest request wins)."""
        self._timer.stop()
        key = self.key()
        rgb = self.main_window.current_image_rgb()
        if key is None or rgb is None:
            self.info.setText("Open an image first.")
            return
        rgb = np.ascontiguousarray(rgb)
        _path, k, sigma, min_size = key
        self._job_key = key
        self.info.setText("segmenting…")
        job = self.runner.submit(lambda ctx: segment_job(ctx, rgb, k, sigma, min_size),
                                 key="segments", name="Felzenszwalb segments")
        job.finished.connect(lambda result, kk=key: self._on_finished(kk, result))
        job.failed.connect(lambda message: self.info.setText(f"Failed: {message}"))

    def _on_finished(self, key: tuple, result: tuple[Grouping, tuple[float, float]]) -> None:
        if key != self.key():
            return  # the image or the controls changed while it ran
        self.grouping, self.scale = result
        g = self.grouping
        self.colours = region_colours(g.n_segments + g.steps)
        self.step_slider.blockSignals(True)
        self.step_slider.setRange(0, g.steps)
        self.step_slider.setValue(0)
        self.step_slider.setEnabled(g.steps > 0)
        self.step_slider.blockSignals(False)
        self.show_step(0)
        self.segments_ready.emit()

    # -- drawing --------------------------------------------------------------------------
    def show_step(self, step: int) -> None:
        """Colour the regions after ``step`` merges; outline the region that step made."""
        g = self.grouping
        if g is None:
            return
        step = min(max(int(step), 0), g.steps)
        made = g.n_segments + step - 1 if step > 0 else None
        self.layer.set_labels(g.label_image(step), self.colours, self.scale, highlight=made)
        count = self.layer.regions
        self.step_label.setText(f"{step} / {g.steps}")
        if made is None:
            self.merge_layer.clear()
            self.info.setText(f"{g.n_segments} segments (step 0: before any merge). "
                              "Move the step slider to merge the most similar neighbours.")
        else:
            a, b = (int(v) for v in g.merges[step - 1])
            sx, sy = self.scale
            box = g.boxes[made] * np.array([sx, sy, sx, sy])
            sim = float(g.similarity[step - 1])
            self.merge_layer.set_boxes(box[None], QColor(255, 255, 255),
                                       labels=[f"step {step}: {a}+{b} → {made}, s={sim:.2f}"],
                                       width=2.0)
            self.info.setText(f"{g.n_segments} segments; after step {step}: {count} regions. "
                              f"Step {step} merged regions {a} and {b} (similarity {sim:.3f} "
                              "= colour + texture + size + fill).")
        self.step_shown.emit(step)

    def on_image_changed(self) -> None:
        """Another image: the layer list has emptied the layers; segment it if shown."""
        self.runner.cancel("segments")
        self.grouping = None
        self.step_slider.blockSignals(True)
        self.step_slider.setRange(0, 0)
        self.step_slider.blockSignals(False)
        self.step_slider.setEnabled(False)
        self.step_label.setText("")
        if self.show_check.isChecked():
            self.run()
        else:
            self.info.setText("Tick “Show segments”.")

    def shutdown(self) -> None:
        self.runner.shutdown()
