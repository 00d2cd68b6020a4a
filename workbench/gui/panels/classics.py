"""Classics panel: the chapter's classic detectors seen on the image, one page each.

* **RoI pooling** (:mod:`.classics_roi`): a box pooled from a detector's real feature map,
  ``roi_pool`` cells and ``roi_align`` sample points drawn, pooled values as heat maps.
* **YOLO grid** (:mod:`.classics_yolo`): the ``N x N`` grid, the cells holding a centre, each
  cell's ``[pc, bx, by, bw, bh, class]``, conflicting cells in red.
* **RPN proposals** (:mod:`.classics_rpn`): a Faster R-CNN's top-N proposals after NMS with their
  objectness, and the anchor each came from.

The detectors (catalog models with random weights, or a checkpoint: the one the window loads —
``CheckpointLoaded`` — a training's best — ``TrainingFinished`` — or one chosen with
"Checkpoint…") run in this panel's :class:`~workbench.gui.jobs.JobRunner`; torch is imported
there, never on the GUI thread. Every layer is per image (emptied on image change, then redrawn
for the new image) and only the current page's layers are shown.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QTabWidget, QVBoxLayout, QWidget

from workbench.gui.canvas.layer_list import LayerList
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.hub import CheckpointLoaded, TrainingFinished, hub_of
from workbench.gui.jobs import JobContext, JobRunner, model_loader
from workbench.gui.panels.classics_common import ModelCache, add_checkpoint
from workbench.gui.panels.classics_roi import RoiPage
from workbench.gui.panels.classics_rpn import RpnPage
from workbench.gui.panels.classics_yolo import YoloPage
from workbench.gui.panels.deferred import BuildQueue, LaterTabs
from workbench.gui.panels.inspect_common import CanvasClickWatcher

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

log = logging.getLogger(__name__)

ROI_LAYERS = ("classics:roi-map", "classics:roi-cells", "classics:roi-bins",
              "classics:roi-samples", "classics:roi-box")
YOLO_LAYERS = ("classics:yolo-grid", "classics:yolo-cells", "classics:yolo-centres")
RPN_LAYERS = ("classics:rpn", "classics:rpn-selected")
PAGE_LAYERS = (ROI_LAYERS, YOLO_LAYERS, RPN_LAYERS)


class ClassicsPanel(QWidget):
    """Dock contents; ``window`` satisfies :class:`workbench.gui.panel_api.PanelWindow`."""

    features_ready = Signal()
    failed = Signal(str)

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.main_window = window
        self.runner = JobRunner(self)
        self.models = ModelCache()
        self.layer_list = LayerList.of(window.canvas.scene())
        self.layers: dict[str, BoxLayer] = {}
        for name in (*ROI_LAYERS, *YOLO_LAYERS, *RPN_LAYERS):
            self.layers[name] = BoxLayer(name)
            self.layer_list.add(self.layers[name], self, per_image=True)
        self._roi_page: RoiPage | None = None
        self._yolo_page: YoloPage | None = None
        self._rpn_page: RpnPage | None = None
        #: the checkpoints offered, oldest first: a page built later lists them too
        self._checkpoints: list[str] = []
        self.tabs = QTabWidget()
        # The pages are built in later event-loop turns: the RoI page (in front) in the next
        # one, the YOLO and RPN pages when their tab is first picked — or when code asks for
        # them (:attr:`roi_page`, :attr:`yolo_page`, :attr:`rpn_page`). Built with the panel,
        # the three pages held the event loop ~100 ms when it was first opened, and 60-90 ms
        # with the RoI page alone (issue 14, GUI stalls; panels/deferred.py).
        self.builds = BuildQueue(self)
        self.later_tabs = LaterTabs(self.tabs, self.builds)
        self.later_tabs.add(self._build_roi_page, "RoI pooling")
        self.later_tabs.add(self._build_yolo_page, "YOLO grid", queued=False)
        self.later_tabs.add(self._build_rpn_page, "RPN", queued=False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._yolo_stale = True  # the YOLO page shows another image's targets
        self._features_key: tuple[str, str] | None = None
        self._trace_key: tuple[str, str] | None = None
        self.clicks = CanvasClickWatcher(window.canvas, self)
        self.clicks.clicked.connect(self._on_scene_clicked)
        self.tabs.currentChanged.connect(self._on_page)
        window.image_changed.connect(self._on_image_changed)
        window.annotation_changed.connect(self._on_annotation_changed)
        hub = hub_of(window)
        if hub is not None:
            hub.subscribe(CheckpointLoaded, lambda e: self.add_checkpoint(e.path), owner=self)
            hub.subscribe(TrainingFinished, self._on_training_finished, owner=self)
        self.layer_list.owner_shown_changed.connect(self._on_owner_shown)
        self._on_page(self.tabs.currentIndex())
        self.refresh()

    # -- pages ----------------------------------------------------------------------------
    def _page(self, index: int, attr: str) -> Any:
        """The page of tab ``index`` (kept in ``attr``), built in its tab now if it was not yet."""
        if getattr(self, attr) is None:
            self.later_tabs.attach(index)
        page = getattr(self, attr)
        assert page is not None
        return page

    @property
    def roi_page(self) -> RoiPage:
        """The RoI-pooling page (built, in its tab, now if it was not yet)."""
        return self._page(0, "_roi_page")

    @property
    def yolo_page(self) -> YoloPage:
        """The YOLO-grid page (built, in its tab, now if it was not yet)."""
        return self._page(1, "_yolo_page")

    @property
    def rpn_page(self) -> RpnPage:
        """The RPN page (built, in its tab, now if it was not yet)."""
        return self._page(2, "_rpn_page")

    def _build_roi_page(self) -> RoiPage:
        page = RoiPage(self.main_window, self.layers, self._rpn_boxes)
        page.other_sources = self._other_sources
        page.runner = JobRunner(self)  # its own: not queued behind a model build
        self._add_checkpoints(page.model_combo)
        page.pick_button.toggled.connect(self._on_pick_toggled)
        page.features_wanted.connect(self.compute_features)
        page.checkpoint_button.clicked.connect(self._choose_checkpoint)
        self._roi_page = page
        if self.tabs.currentIndex() == 0:  # what _on_page did before it was here
            QTimer.singleShot(0, self, lambda: self._on_page(self.tabs.currentIndex()))
        return page

    def _add_checkpoints(self, combo: Any) -> None:
        """A page built now lists the checkpoints offered before (the last one selected, as
        :meth:`add_checkpoint` would have done)."""
        if self._checkpoints:
            combo.blockSignals(True)
            for path in self._checkpoints:
                add_checkpoint(combo, path)
            combo.blockSignals(False)

    def _build_yolo_page(self) -> YoloPage:
        self._yolo_page = YoloPage(self.main_window, self.layers)
        return self._yolo_page

    def _build_rpn_page(self) -> RpnPage:
        page = RpnPage(self.main_window, self.layers)
        if self._checkpoints:
            self._add_checkpoints(page.model_combo)
            page._on_model(request=False)  # its note and trace for the detector selected
        page.trace_wanted.connect(self.run_rpn)
        page.traced.connect(self._on_rpn_traced)
        page.checkpoint_button.clicked.connect(self._choose_checkpoint)
        self._rpn_page = page
        return page

    def _rpn_boxes(self) -> np.ndarray:
        """The RPN page's proposals shown (none before the page is built)."""
        return np.zeros((0, 4)) if self._rpn_page is None else self._rpn_page.shown_boxes()

    def _on_page(self, index: int) -> None:
        if index == 1 and self._yolo_stale:
            self._refresh_yolo()
        for k, names in enumerate(PAGE_LAYERS):
            for name in names:
                self.layer_list.set_wanted(self.layers[name], k == index)
        if not self.on_screen():
            return
        if index == 0:
            if self._roi_page is None:
                return  # built in a turn of its own (the queue's), then this runs again
            self._roi_page.refresh_sources()
            if self._roi_page.features is None:
                self.compute_features(self._roi_page.model_key)
        elif index == 2 and self.rpn_page.trace is None:
            self.run_rpn(self.rpn_page.model_key)

    def _on_owner_shown(self, panel: object, shown: bool) -> None:
        if panel is self and shown:
            self._on_page(self.tabs.currentIndex())

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self._on_page(self.tabs.currentIndex())

    def show_page(self, name: str) -> None:
        """``"roi"``, ``"yolo"`` or ``"rpn"``."""
        self.tabs.setCurrentIndex({"roi": 0, "yolo": 1, "rpn": 2}[name])

    def on_screen(self) -> bool:
        """Shown and in front of its tab group (the detector work waits until then)."""
        return self.isVisible() and self.layer_list.owner_shown(self)

    def _refresh_yolo(self) -> None:
        """The YOLO page's targets, table and layers — only while it is the current page: its
        layers are not wanted (nor offered to other panels) on the other pages, and it cost
        ~5 ms per image shown (issue 14, GUI stalls); picking its tab brings it up to date."""
        if self.tabs.currentIndex() == 1:
            self._yolo_stale = False
            self.yolo_page.refresh()
        else:
            self._yolo_stale = True

    def refresh(self) -> None:
        """Everything for the current image (only while on screen: the pages catch up when
        the panel comes to the front, :meth:`_on_page`)."""
        self._refresh_yolo()
        if not self.on_screen():
            return
        index = self.tabs.currentIndex()
        if index == 0:
            if self._roi_page is not None:  # else it is built, then brought up to date, soon
                self._roi_page.refresh_sources()
                self.compute_features(self._roi_page.model_key)
        elif index == 2:
            self.run_rpn(self.rpn_page.model_key)

    def _image_key(self) -> str:
        path = self.main_window.current_image_path()
        return "" if path is None else str(path)

    def _on_image_changed(self, _path: str) -> None:
        # the layer list has emptied our layers already; the pages' results are stale
        if self._roi_page is not None:
            self._roi_page.features = None
        self._features_key = None
        self._trace_key = None
        if self._rpn_page is not None and self._rpn_page.trace is not None:
            self._rpn_page.set_trace(None)
        self.refresh()

    def _on_annotation_changed(self) -> None:
        self._refresh_yolo()
        if self._roi_page is not None and self.on_screen() and self.tabs.currentIndex() == 0:
            self._roi_page.refresh_sources()

    def _other_sources(self) -> dict[str, np.ndarray]:
        return {name: item.boxes for name, item in self.layer_list.sources(exclude=self).items()
                if isinstance(item, BoxLayer)}

    # -- checkpoints ----------------------------------------------------------------------
    def add_checkpoint(self, path: str | Path) -> None:
        """Offer the detector of checkpoint ``path`` on the RoI and RPN pages (selected)."""
        key = str(path)
        self._checkpoints = [*(p for p in self._checkpoints if p != key), key]
        for page in (self._roi_page, self._rpn_page):  # the others list it once built
            if page is not None:
                add_checkpoint(page.model_combo, path)

    def _on_training_finished(self, event: TrainingFinished) -> None:
        if event.best is not None:
            self.add_checkpoint(event.best)

    def _choose_checkpoint(self) -> None:
        from workbench.gui.panels.detections import checkpoint_start_dir

        start = checkpoint_start_dir(None, self.main_window.project)
        path, _filter = QFileDialog.getOpenFileName(self, "Detector checkpoint", start,
                                                    "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.add_checkpoint(path)

    # -- jobs -----------------------------------------------------------------------------
    def compute_features(self, model_key: str) -> None:
        if self._roi_page is None:
            return  # computed once the page is built (in front)
        if not self.on_screen() or self.tabs.currentIndex() != 0:
            self.roi_page.features = None  # computed when its tab comes to the front
            return
        rgb = self.main_window.current_image_rgb()
        if rgb is None:
            self.roi_page.set_status("Open an image first.")
            return
        key = (model_key, self._image_key())
        if key == self._features_key and (self.roi_page.features is not None
                                          or self._pending("features")):
            return
        self._features_key = key
        self.roi_page.set_status(f"Computing the feature maps of {model_key}…")
        models, loader = self.models, self._start_model_loader()

        def job(ctx: JobContext) -> Any:
            loader.wait(300)  # torch is imported by the window's loader, not raced here
            ctx.check()
            from workbench.engine.feature_maps import compute_features

            model, label = models.get(model_key)
            ctx.check()
            return compute_features(model, rgb, label)

        task = self.runner.submit(job, key="features", name="Classics: feature maps")
        task.finished.connect(lambda result, k=key: self._on_features(k, result))
        task.failed.connect(lambda msg: self._on_failed(self.roi_page.set_status, msg))

    def _on_features(self, key: tuple[str, str], features: Any) -> None:
        if key != (self.roi_page.model_key, self._image_key()):
            return
        self.roi_page.set_features(features)
        self.features_ready.emit()

    def run_rpn(self, model_key: str) -> None:
        if not self.on_screen() or self.tabs.currentIndex() != 2:
            return
        rgb = self.main_window.current_image_rgb()
        if rgb is None:
            self.rpn_page.set_status("Open an image first.")
            return
        key = (model_key, self._image_key())
        if key == self._trace_key and self._pending("rpn"):
            return
        self._trace_key = key
        self.rpn_page.set_status(f"Running the backbone and RPN of {model_key}…")
        models, loader = self.models, self._start_model_loader()

        def job(ctx: JobContext) -> Any:
            loader.wait(300)
            ctx.check()
            from workbench.engine.rpn_trace import trace_rpn

            model, _label = models.get(model_key)
            ctx.check()
            return trace_rpn(model, rgb)

        task = self.runner.submit(job, key="rpn", name="Classics: RPN proposals")
        task.finished.connect(lambda result, k=key: self._on_trace(k, result))
        task.failed.connect(lambda msg: self._on_failed(self.rpn_page.set_status, msg))

    @staticmethod
    def _start_model_loader() -> Any:
        """The window's one background import of torch and the engine (started now if it
        waits for the user to pause): two threads importing torchvision at once can see it
        half initialised."""
        loader = model_loader()
        loader.start()
        return loader

    def _pending(self, key: str) -> bool:
        job = self.runner.latest(key)
        return job is not None and not job.done

    def _on_trace(self, key: tuple[str, str], trace: Any) -> None:
        if key != (self.rpn_page.model_key, self._image_key()):
            return
        self.rpn_page.set_trace(trace)

    def _on_rpn_traced(self) -> None:
        if self._roi_page is not None:
            self._roi_page.refresh_sources()

    def _on_failed(self, show: Any, message: str) -> None:
        first = message.strip().splitlines()[0] if message.strip() else "unknown error"
        show(f"Failed: {first[:300]}")  # the whole message went to the status bar's report
        self.failed.emit(message)

    # -- clicks ---------------------------------------------------------------------------
    def _on_pick_toggled(self, on: bool) -> None:
        self.clicks.consume = on

    def _on_scene_clicked(self, x: float, y: float) -> None:
        if not self.isVisible() or not self.layer_list.owner_shown(self):
            return
        page = self.tabs.currentIndex()
        if page == 0 and self._roi_page is not None and self._roi_page.pick_button.isChecked():
            self.roi_page.pick_at(x, y)
            self.clicks.consume = self.roi_page.pick_button.isChecked()
        elif page == 2:
            self.rpn_page.pick_at(x, y)

    # -- lifetime -------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.runner.shutdown()
        if self._roi_page is not None:
            self._roi_page.runner.shutdown()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.shutdown()
        super().closeEvent(event)
