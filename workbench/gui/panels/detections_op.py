"""The operating point beside the Detections panel's sliders: precision / recall / F1 on the
validation split for the sliders' score, NMS IoU and top-k, a PR curve with the current point,
and "Best F1".

How a slider move stays cheap (the network runs once per image, :mod:`.errors_data`):

* the raw outputs of the val images are computed once per checkpoint on a worker (shared with
  the Errors panel);
* an NMS / top-k / class-agnostic / evaluation-IoU move runs in a job with key (latest wins):
  it post-processes every kept raw output at score 0 and matches once — until the
  :class:`workbench.core.error_sliders.SliderSweep` of that top-k / class-agnostic / IoU,
  prepared meanwhile in a background job, is ready; then an NMS move is one vectorised NMS over
  the whole set on the matching's precomputed hit pairs (``bench/bench_operating_point_gui.py``,
  1,000 images x 200 candidates: 3.3 s → 0.26 s per NMS move, 11 s to prepare). Results are
  kept per setting, so moving back is instant;
* a score move only reads the prefix sums of :class:`~workbench.core.error_analysis.ScoreSweep`
  (two binary searches). The sliders keep ``score > s`` (torchvision's rule), the sweep counts
  ``score >= s``; the box asks the sweep at the next float above ``s``
  (:func:`workbench.core.error_sliders.slider_score`), so the numbers are those of the boxes
  drawn.

Ground truth is the saved labels of the split (re-read when labels are saved:
``AnnotationsWritten``). Without a val split the whole labelled folder is used, and the box
says so.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.core.error_sliders import slider_score
from workbench.gui.hub import AnnotationsWritten, hub_of
from workbench.gui.jobs import JobRunner
from workbench.gui.panels.pr_plot import pr_plot
from workbench.gui.panels import errors_data as data
from workbench.gui.workers.priority import BACKGROUND_NICENESS

if TYPE_CHECKING:
    from workbench.gui.panels.detections import DetectionsPanel

SCORE_STEPS = 1000  # the score slider's steps (detections_ui.SCORE_STEPS)
IOU_STEPS = 100  # the NMS slider's steps (detections_ui.IOU_STEPS)
_KEEP_SWEEPS = 8


def slider_value_for(score: float, steps: int = SCORE_STEPS) -> int:
    """The largest slider position ``v`` with ``v / steps < score``: the sliders keep
    ``score > v / steps``, so this keeps the detections of score ``>= score``."""
    v = math.ceil(score * steps) - 1
    while v + 1 < score * steps and (v + 1) / steps < score:  # float rounding of score*steps
        v += 1
    return max(0, min(steps, v))


class OperatingPointBox(QWidget):
    """See the module doc. ``panel`` is the Detections panel (its sliders, window, detector)."""

    best_requested = Signal(float)  #: the score slider value (``score > v``) of best F1
    updated = Signal()              #: the numbers (or the curve) changed

    def __init__(self, panel: DetectionsPanel) -> None:
        super().__init__()
        self.panel = panel
        self.detector: Any = None
        self.image_set: data.ImageSet | None = None
        self.raws: list[Any] | None = None
        self.sweep: Any = None
        self.curve: tuple[np.ndarray, np.ndarray] | None = None
        self.point: Any = None
        self._key: tuple | None = None  # the settings the shown sweep belongs to
        self._sweeps: OrderedDict[tuple, tuple[Any, tuple[np.ndarray, np.ndarray]]] = \
            OrderedDict()
        #: SliderSweep per (top-k, class-agnostic, IoU); filled by the jobs
        self._sliders: dict[tuple, Any] = {}
        self.jobs = JobRunner(self)
        self.long_jobs = JobRunner(self, niceness=BACKGROUND_NICENESS)
        self._build()
        hub = hub_of(panel.window)
        if hub is not None:
            hub.subscribe(AnnotationsWritten, self._on_annotations_written, owner=self)
        panel.window.project_changed.connect(self.reset)

    def _build(self) -> None:
        # Opt-in: it runs the network once over every val image (on a CPU and a large model,
        # minutes) — the sliders alone only ever need the image in view.
        # Short: with "Best F1" beside it, it sets the Detections panel's narrowest width
        # (the dock's ~230 px at 1280x800; "P/R/F1 on the val split" clipped the whole panel).
        self.enabled_box = QCheckBox("Val P/R/F1")
        self.enabled_box.setToolTip("Precision / recall / F1 of the sliders' settings over the "
                                    "validation split, with its PR curve (the network runs "
                                    "once per val image, in the background)")
        self.enabled_box.toggled.connect(self._on_enabled)
        self.values = QLabel("—")
        self.values.setWordWrap(True)
        self.best_button = QPushButton("Best F1")
        self.best_button.setToolTip("Move the score slider to the threshold of highest F1")
        self.best_button.setEnabled(False)
        self.best_button.clicked.connect(self.request_best)
        # the PR plot is built when first shown or asked for (``plot``): hidden until the box
        # is checked, it was a third of the panel's construction (issue 14, GUI stalls)
        self._plot: Any = None
        self._line: Any = None
        self._marker: Any = None
        row = QHBoxLayout()
        row.addWidget(self.enabled_box, 1)
        row.addWidget(self.best_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.values)
        self.values.setVisible(False)

    @property
    def plot(self) -> Any:
        """The PR plot (a ``pyqtgraph.PlotWidget``, hidden while the box is unchecked)."""
        return self._ensure_plot()

    def _ensure_plot(self) -> Any:
        if self._plot is None:
            import pyqtgraph as pg  # lazily: the panel module imports without it

            plot = pr_plot(160)
            plot.setMaximumHeight(220)  # the sliders' companion, not the panel's main view
            self._line = plot.plot([], [], pen=pg.mkPen((90, 170, 255), width=2))
            self._marker = plot.plot([], [], pen=None, symbol="o", symbolSize=10,
                                     symbolBrush=(255, 200, 0), symbolPen="w")
            layout = self.layout()
            assert layout is not None
            layout.addWidget(plot)
            plot.setVisible(self.enabled_box.isChecked())  # in the layout first: no window
            self._plot = plot
        return self._plot

    @property
    def line(self) -> Any:
        """The PR curve (a ``PlotDataItem``)."""
        self._ensure_plot()
        return self._line

    @property
    def marker(self) -> Any:
        """The operating point on the curve (a ``PlotDataItem``)."""
        self._ensure_plot()
        return self._marker

    # -- the detector and its raw outputs -----------------------------------------------------
    def set_detector(self, detector: Any) -> None:
        """A new detector: its raw outputs on the val images are computed (when shown)."""
        self.reset()
        self.detector = detector
        self.start()

    def reset(self) -> None:
        self.long_jobs.cancel("raws")
        self.long_jobs.cancel("prepare")
        self.jobs.cancel("sweep")
        self.image_set, self.raws, self.sweep, self.curve, self.point = None, None, None, None, \
            None
        self._key = None
        self._sweeps.clear()
        self._sliders = {}  # a running job fills the old one
        self.best_button.setEnabled(False)
        self.values.setText("—")
        if self._plot is not None:
            self._line.setData([], [])
            self._marker.setData([], [])

    def start(self) -> bool:
        """Compute the val images' raw outputs on a worker, unless done, running, switched off,
        the panel closed (it starts when shown) or without a detector / project."""
        project = self.panel.window.project
        if (self.detector is None or project is None or not self.enabled_box.isChecked()
                or self.raws is not None or self._detecting() or not self.panel.isVisible()):
            return False
        detector, known = self.detector, self.image_set

        def work(ctx: Any) -> tuple:  # on a worker: no Qt here
            image_set = known or data.scope_images(project, "val")
            n = len(image_set)
            raws = data.raw_outputs(detector, image_set.paths, stop=ctx.stop,
                                    progress=lambda i, _n: ctx.progress(i / max(n, 1),
                                                                        f"{i}/{n}"))
            return image_set, raws

        job = self.long_jobs.submit(work, key="raws", name="Operating point: detecting")
        job.progressed.connect(lambda f, m: self.values.setText(
            f"Detecting on the val images… {m}"))
        job.finished.connect(lambda result, d=detector: self._on_raws(d, *result))
        job.failed.connect(lambda msg: self.values.setText(f"<span style='color:#d33'>"
                                                           f"{msg}</span>"))
        self.values.setText("Detecting on the val images…")
        return True

    def _detecting(self) -> bool:
        """A raw-output job is running (a "prepare" job winding down after a cancel does not
        count: it must not stop the next start)."""
        job = self.long_jobs.latest("raws")
        return job is not None and not job.done

    def _on_raws(self, detector: Any, image_set: data.ImageSet, raws: list[Any]) -> None:
        if detector is not self.detector:
            return
        self.image_set, self.raws = image_set, raws
        self.settings_changed()

    def _on_enabled(self, on: bool) -> None:
        self.plot.setVisible(on)
        self.values.setVisible(on)
        if on:
            self.start()
            self.settings_changed()
        else:
            self.long_jobs.cancel("raws")
            self.long_jobs.cancel("prepare")
            self.values.setText("—")

    def _on_annotations_written(self, _event: AnnotationsWritten) -> None:
        """Saved labels changed: read the ground truth again, match again (raw outputs stay)."""
        if self.image_set is None:
            return
        self.raws, self.image_set = None, None
        self.long_jobs.cancel("prepare")  # of the old labels (and start() waits for idle)
        self._sweeps.clear()
        self._sliders = {}  # a running job fills the old one
        self._key = None
        self.start()  # the raw outputs are kept per detector: no network run

    # -- slider moves -------------------------------------------------------------------------
    def _settings_key(self) -> tuple:
        _score, nms, top_k, agnostic = self.panel.settings_values()
        return (nms, top_k, agnostic, round(self.panel.eval_iou.value(), 4))

    def settings_changed(self) -> None:
        """The sliders moved: a score move re-reads the sweep; another NMS / top-k / IoU
        takes a kept sweep or starts a job for it (latest wins)."""
        if self.raws is None or self.image_set is None or not self.enabled_box.isChecked():
            return
        key = self._settings_key()
        if key != self._key:
            found = self._sweeps.get(key)
            if found is None:
                self._start_sweep(key)
                if self.sweep is not None:
                    self.values.setText(self.values.text().split(" (updating")[0]
                                        + " (updating…)")
                return
            self._sweeps.move_to_end(key)
            self.jobs.cancel("sweep")  # one for a value passed on the way is not needed
            self._show_sweep(key, *found)
            return
        self.update_point()

    def _start_sweep(self, key: tuple) -> None:
        nms, top_k, agnostic, iou = key
        detector, image_set, raws = self.detector, self.image_set, self.raws
        assert image_set is not None and raws is not None
        sliders = self._sliders.get((top_k, agnostic, iou))
        if sliders is None:
            self._prepare_sliders((top_k, agnostic, iou))
        settings = detector.settings.replace(nms_iou=nms, top_k=top_k, class_agnostic=agnostic)

        def work(ctx: Any) -> tuple:  # on a worker: no Qt here
            if sliders is not None:
                sweep = sliders.index(nms).sweep
            else:  # until the SliderSweep is ready: post-process every image and match
                from workbench.core.error_analysis import ErrorIndex

                dets = data.detections_at_floor(raws, image_set.ids, detector.classes,
                                                settings, ctx.stop)
                ids = [i for i in image_set.ids if i in dets]
                sweep = ErrorIndex(data.restrict(image_set.ground_truth, dets),
                                   [dets[i] for i in ids], detector.classes, iou=iou).sweep
            recall, precision, _scores = sweep.pr_curve()
            return sweep, (recall, precision)

        job = self.jobs.submit(work, key="sweep", name="Operating point")
        job.finished.connect(lambda result, k=key: self._on_sweep(k, *result))

    def _prepare_sliders(self, key: tuple) -> None:
        """Prepare the SliderSweep of (top-k, class-agnostic, IoU) in the background (slow
        once: ~11 s on 1,000 images x 200 candidates); NMS moves use it when it is ready."""
        top_k, agnostic, iou = key
        latest = self.long_jobs.latest("prepare")
        if latest is not None and not latest.done and getattr(latest, "sliders_key", None) == key:
            return
        detector, image_set, raws, store = self.detector, self.image_set, self.raws, \
            self._sliders
        # then every NMS slider step, nearest to the current value first: a later NMS move
        # is a lookup (issue 15: p95 < 50 ms per move on 1,000 images)
        now = self.panel.settings_values()[1]
        steps = sorted((i / IOU_STEPS for i in range(IOU_STEPS + 1)),
                       key=lambda v: (abs(v - now), v))

        def work(ctx: Any) -> None:  # on a worker: no Qt here
            sliders = data.slider_sweep(raws, image_set, detector.classes, iou=iou,
                                        class_agnostic=agnostic, top_k=top_k)
            store[key] = sliders
            for _value in sliders.precompute(steps, ctx.stop.is_set):
                pass

        job = self.long_jobs.submit(work, key="prepare", name="Operating point: preparing")
        job.sliders_key = key  # type: ignore[attr-defined]

    def _on_sweep(self, key: tuple, sweep: Any, curve: tuple[np.ndarray, np.ndarray]) -> None:
        self._sweeps[key] = (sweep, curve)
        while len(self._sweeps) > _KEEP_SWEEPS:
            self._sweeps.popitem(last=False)
        if key == self._settings_key():
            self._show_sweep(key, sweep, curve)

    def _show_sweep(self, key: tuple, sweep: Any, curve: tuple[np.ndarray, np.ndarray]) -> None:
        self._key, self.sweep, self.curve = key, sweep, curve
        recall, precision = curve
        # a step curve from (0, first precision): the points at each distinct score
        self.line.setData(np.r_[0.0, recall], np.r_[precision[:1] if len(precision) else [1.0],
                                                  precision])
        self.best_button.setEnabled(len(sweep) > 0)
        self.update_point()

    def update_point(self) -> None:
        """The numbers and the marker at the score slider's value (prefix sums only)."""
        if self.sweep is None or self.image_set is None:
            return
        score = self.panel.settings_values()[0]
        self.point = p = self.sweep.at(slider_score(score))
        where = self.image_set.description
        self.values.setText(f"<b>P {p.precision:.3f} · R {p.recall:.3f} · F1 {p.f1:.3f}</b>"
                            f"<br>TP {p.tp} · FP {p.fp} · FN {p.fn} at score &gt; {score:.3f},"
                            f" IoU {p.iou:.2f} ({where})")
        self.marker.setData([p.recall], [p.precision])
        self.updated.emit()

    def request_best(self) -> float | None:
        """Ask for the score slider value of highest F1 (``best_requested``)."""
        if self.sweep is None or len(self.sweep) == 0:
            return None
        value = slider_value_for(self.sweep.best_f1().score) / SCORE_STEPS
        self.best_requested.emit(value)
        return value

    def shutdown(self) -> None:
        self.jobs.shutdown(30_000)
        self.long_jobs.shutdown(30_000)
