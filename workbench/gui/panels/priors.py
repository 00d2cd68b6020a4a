"""Priors panel: SSD priors / Faster R-CNN anchors of a detector, per feature map, on the image.

Pick a detector and a feature map; click the image to pick a cell and see its priors, the grid,
optionally every prior of the map, and the counts. With the image's ground truth the panel shows
which priors are positive (SSD: IoU >= 0.5 plus each object's best prior; RPN: >= 0.7, < 0.3
negative, in between ignored, plus the best anchor), per object and per map, the 3:1
hard-negative budget, the regression targets of the cell's priors, and flags objects no prior
reaches at the threshold. "Suggest" runs k-means (IoU distance) over the project's boxes.

The paper's SSD300 priors are computed here (numpy). Torchvision detectors are built on a
worker (random weights, no download) and asked through their own anchor generators; torch is
imported only then (:mod:`workbench.engine.anchor_extract`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QHeaderView,
    QLabel, QProgressBar, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from workbench.core.matching import MatchResult, match_priors
from workbench.core.models import prior_models
from workbench.core.priors import SSD300_VOC_PAPER, PriorSet, ssd300_paper_priors
from workbench.gui.panels.priors_overlay import PriorsOverlay
from workbench.gui.panels.priors_tables import (
    MAP_HEADERS, cell_rows, fill_table, fold_map_details, make_table, map_rows, object_rows,
    suggestion_for_project, suggestion_text, summary_text,
)
from workbench.gui.panels.inspect_common import CanvasClickWatcher
from workbench.gui.workers.tasks import TaskContext, TaskRunner

log = logging.getLogger(__name__)

CACHE_SIZE = 6

#: (model name, label) offered in the panel: the model catalog's models with priors / anchors
#: (workbench.core.models); the first, the SSD paper's layout, needs no torch.
MODELS: list[tuple[str, str]] = [(m.name, m.label) for m in prior_models()]


class PriorsPanel(QWidget):
    """Dock contents; ``window`` is the labeling MainWindow (see PREAMBLE "GUI integration")."""

    priors_changed = Signal()     #: priors for the current image computed and drawn
    cell_selected = Signal(int, int, int)  #: map index, row, col
    suggestion_ready = Signal()
    failed = Signal(str)

    def __init__(self, window: Any) -> None:
        super().__init__()
        self.main_window = window
        self.runner = TaskRunner(self)
        self.overlay = PriorsOverlay(window.canvas.scene(), self)
        self.priors: PriorSet | None = None
        self.input_priors: PriorSet | None = None   # on the detector input (k-means compare)
        self.match: MatchResult | None = None
        self.gt: np.ndarray | None = None
        self.cell: tuple[int, int] | None = None     # (row, col) on the current map
        self.suggestion = None
        self._models: dict[tuple[str, int | None], Any] = {}  # built detectors (worker only)
        # (model, size, photo) → (priors on the photo, on the input); R50-FPN sets are ~16 MB,
        # so only the last few are kept.
        self._cache: OrderedDict[tuple, tuple[PriorSet, PriorSet]] = OrderedDict()
        self._build_ui()
        window.image_changed.connect(self._on_image_changed)
        window.annotation_changed.connect(self._on_annotation_changed)
        # Clicks on the image, ground-truth boxes included (scene_clicked skips boxes).
        self.clicks = CanvasClickWatcher(window.canvas, self)
        self.clicks.clicked.connect(self._on_scene_clicked)
        self.refresh()

    # -- UI -------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.model_combo = QComboBox()
        for name, label in MODELS:
            self.model_combo.addItem(label, name)
        self.checkpoint_button = QPushButton("Checkpoint…")
        self.checkpoint_button.setToolTip("Show the priors of a trained detector (asks its own "
                                          "anchor generator)")
        self.size_spin = QSpinBox()
        self.size_spin.setRange(0, 2048)
        self.size_spin.setSpecialValueText("model default")
        self.size_spin.setToolTip("Detector input: SSD square side, Faster R-CNN min_size")
        self.map_combo = QComboBox()
        self.show_canvas = QCheckBox("Show on canvas")
        self.show_canvas.setChecked(True)
        self.show_grid = QCheckBox("Grid")
        self.show_grid.setChecked(True)
        self.show_all = QCheckBox("All priors of the map")
        self.show_match = QCheckBox("Matching (ground truth)")
        self.show_match.setChecked(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        form = QFormLayout()
        form.addRow("Detector", self.model_combo)
        # beside the size, not the detector: its long names keep the whole row (issue 14)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_spin, 1)
        size_row.addWidget(self.checkpoint_button)
        form.addRow("Input size", size_row)
        form.addRow("Feature map", self.map_combo)
        toggles = QGridLayout()
        for i, box in enumerate((self.show_canvas, self.show_grid, self.show_all,
                                 self.show_match)):
            toggles.addWidget(box, i // 2, i % 2)
        self.maps_table = make_table(MAP_HEADERS)
        self.cell_label = QLabel("Click the image to pick a cell.")
        self.cell_table = make_table(["k", "w × h", "best IoU", "label",
                                      "offsets (dx, dy, dw, dh)"])
        self.objects_table = make_table(["object", "best IoU", "positives", "≥ thr", "note"])
        # the note takes what is left (elided, whole in its tooltip): sized to its text, the
        # column ran past the panel's edge (issue 14)
        self.objects_table.horizontalHeader().setSectionResizeMode(
            4, QHeaderView.ResizeMode.Stretch)
        self.objects_table.horizontalHeader().setStretchLastSection(False)  # +2 px past the edge
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        suggest_box = QWidget()
        self.k_spin = QSpinBox()
        self.k_spin.setRange(0, 60)
        self.k_spin.setSpecialValueText("as many as the detector")
        self.suggest_button = QPushButton("Suggest from project boxes")
        self.suggest_label = QLabel("")
        self.suggest_label.setWordWrap(True)
        s_layout = QFormLayout(suggest_box)
        s_layout.addRow(QLabel("k-means over the project's box sizes, IoU distance"))
        s_layout.addRow("k", self.k_spin)
        s_layout.addRow(self.suggest_button)
        s_layout.addRow(self.suggest_label)
        counts = QWidget()
        c_layout = QVBoxLayout(counts)
        c_layout.addWidget(self.maps_table)
        cell = QWidget()
        cell_layout = QVBoxLayout(cell)
        cell_layout.addWidget(self.cell_label)
        cell_layout.addWidget(self.cell_table)
        objects = QWidget()
        o_layout = QVBoxLayout(objects)
        o_layout.addWidget(self.summary)
        o_layout.addWidget(self.objects_table)
        self.tabs = QTabWidget()
        self.tabs.addTab(counts, "Per map")  # four whole titles in a ~370 px panel
        self.tabs.addTab(cell, "Cell")
        self.tabs.addTab(objects, "Matching")
        self.tabs.addTab(suggest_box, "From the data")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(toggles)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        self.model_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.size_spin.editingFinished.connect(self.refresh)
        self.map_combo.currentIndexChanged.connect(self._on_map_changed)
        self.show_canvas.toggled.connect(lambda _on: self._sync_layers())
        for box in (self.show_grid, self.show_all, self.show_match):
            box.toggled.connect(lambda _on: self.redraw())
        self.suggest_button.clicked.connect(self.suggest)
        self.checkpoint_button.clicked.connect(self._choose_checkpoint)

    # -- state ----------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return str(self.model_combo.currentData())

    @property
    def map_index(self) -> int:
        return max(self.map_combo.currentIndex(), 0)

    def set_model(self, name: str) -> None:
        self.model_combo.setCurrentIndex(self.model_combo.findData(name))

    def add_checkpoint(self, path: str) -> None:
        """Offer (and select) the detector saved in checkpoint ``path``."""
        key = f"ckpt:{path}"
        if self.model_combo.findData(key) < 0:
            self.model_combo.addItem(f"checkpoint: {Path(path).name}", key)
        self.set_model(key)

    def _choose_checkpoint(self) -> None:
        from workbench.gui.panels.detections import checkpoint_start_dir

        start = checkpoint_start_dir(None, getattr(self.main_window, "project", None))
        path, _filter = QFileDialog.getOpenFileName(self, "Detector checkpoint", start,
                                                    "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.add_checkpoint(path)

    def _fixed_size(self) -> bool:
        # The paper's SSD300 is defined at 300x300; checkpoints carry their own size.
        return self.model_name == SSD300_VOC_PAPER or self.model_name.startswith("ckpt:")

    def _input_size(self) -> int | None:
        return None if self._fixed_size() else (self.size_spin.value() or None)

    def _photo_size(self) -> tuple[int, int] | None:
        rgb = self.main_window.current_image_rgb()
        return None if rgb is None else (int(rgb.shape[0]), int(rgb.shape[1]))

    def refresh(self) -> None:
        """Recompute the priors for the current detector, input size and image."""
        self.size_spin.setEnabled(not self._fixed_size())
        photo = self._photo_size()
        if photo is None:
            self.priors = self.input_priors = None
            self.overlay.clear()
            self.status.setText("Open an image to see the priors on it.")
            return
        name, size = self.model_name, self._input_size()
        key = (name, size, photo)
        self.runner.cancel_all()  # a slower request still running is no longer wanted
        if key in self._cache:
            self.progress.hide()
            self._cache.move_to_end(key)
            self._set_priors(*self._cache[key])
            return
        if name == SSD300_VOC_PAPER:
            self.progress.hide()
            base = ssd300_paper_priors()
            self._remember(key, (base.for_image(photo[1], photo[0]), base))
            self._set_priors(*self._cache[key])
            return
        self.progress.show()
        self.status.setText(f"Building {name} (random weights) and reading its anchor "
                            "generator…")
        task = self.runner.submit(lambda ctx: self._extract(ctx, name, size, photo), key=key)
        task.finished.connect(lambda result, k=key: self._on_extracted(k, result))
        task.failed.connect(self._on_failed)
        task.cancelled.connect(lambda: None if self.runner.active else self.progress.hide())

    def _extract(self, ctx: TaskContext, name: str, size: int | None,
                 photo: tuple[int, int]) -> tuple[PriorSet, PriorSet]:
        from workbench.engine.anchor_extract import build_for_anchors, priors_from_model

        model = self._models.get((name, size))
        label = name
        if name.startswith("ckpt:"):
            from workbench.engine.checkpoint import load_checkpoint

            if model is None:
                model, ckpt = load_checkpoint(name[5:])
                model.workbench_model_name = ckpt["model_name"]
                self._models[(name, size)] = model
            label = f"{model.workbench_model_name} ({Path(name[5:]).name})"
        elif model is None:
            model = self._models[(name, size)] = build_for_anchors(name, size)
        ctx.check()
        return priors_from_model(model, label, photo), priors_from_model(model, label)

    def _on_extracted(self, key: tuple, result: tuple[PriorSet, PriorSet]) -> None:
        self.progress.hide()
        self._remember(key, result)
        if key == (self.model_name, self._input_size(), self._photo_size()):
            self._set_priors(*result)

    def _remember(self, key: tuple, value: tuple[PriorSet, PriorSet]) -> None:
        self._cache[key] = value
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _on_failed(self, message: str) -> None:
        self.progress.hide()
        self.status.setText(f"Failed: {message}")
        self.failed.emit(message)

    def _set_priors(self, priors: PriorSet, input_priors: PriorSet) -> None:
        previous = self.map_index
        self.priors, self.input_priors = priors, input_priors
        self.map_combo.blockSignals(True)
        self.map_combo.clear()
        for fm in priors.feature_maps:
            self.map_combo.addItem(f"{fm.name} — {fm.size[0]}×{fm.size[1]} × {fm.per_cell} = "
                                   f"{fm.count:,}")
        self.map_combo.setCurrentIndex(min(previous, len(priors.feature_maps) - 1))
        self.map_combo.blockSignals(False)
        in_h, in_w = priors.input_size
        self.status.setText(f"{priors.total:,} {'priors' if priors.kind == 'ssd' else 'anchors'}"
                            f" on a {in_w}×{in_h} input — {priors.source}")
        if self.cell is not None:
            rows, cols = priors.feature_maps[self.map_index].size
            self.cell = (min(self.cell[0], rows - 1), min(self.cell[1], cols - 1))
        self._rematch()
        self.priors_changed.emit()

    def _rematch(self) -> None:
        ann = self.main_window.current_annotation()
        objects = [o for o in ann.objects if not o.model_made] if ann is not None else []
        self.gt = np.asarray([o.box for o in objects], dtype=np.float64).reshape(-1, 4)
        self._names = [o.name for o in objects]
        if self.priors is None:
            self.match = None
        else:
            self.match = match_priors(self.priors.all_boxes(), self.gt, self.priors.kind,
                                      map_offsets=self.priors.offsets)
        self._update_tables()
        self.redraw()

    # -- events ---------------------------------------------------------------------------
    def _on_image_changed(self, _path: str) -> None:
        self.refresh()

    def _on_annotation_changed(self) -> None:
        if self.priors is not None:
            self._rematch()

    def _on_map_changed(self, _index: int) -> None:
        self.cell = None
        self._update_tables()
        self.redraw()

    def _on_scene_clicked(self, x: float, y: float) -> None:
        # Not while closed or tabbed behind another panel (its layers are off the canvas).
        if self.priors is None or not self.isVisible() \
                or not self.overlay.registry.owner_shown(self):
            return
        self.select_cell(*self.priors.feature_maps[self.map_index].cell_at(x, y))

    def select_cell(self, row: int, col: int) -> None:
        """Pick cell ``(row, col)`` of the selected map (what a click on the image does)."""
        self.cell = (row, col)
        if self.tabs.currentIndex() == 0:
            self.tabs.setCurrentIndex(1)
        self._update_cell()
        self.redraw()
        self.cell_selected.emit(self.map_index, row, col)

    # -- tables ---------------------------------------------------------------------------
    def _update_tables(self) -> None:
        if self.priors is None:
            return
        fill_table(self.maps_table, map_rows(self.priors, self.match))
        fold_map_details(self.maps_table, rpn=self.priors.kind == "rpn")
        m = self.match
        fill_table(self.objects_table, object_rows(m, self._names) if m is not None else [])
        self.summary.setText(summary_text(m))
        self._update_cell()

    def _cell_indices(self) -> np.ndarray | None:
        if self.priors is None or self.cell is None:
            return None
        fm = self.priors.feature_maps[self.map_index]
        sl = fm.cell_slice(*self.cell)
        start = int(self.priors.offsets[self.map_index])
        return np.arange(start + sl.start, start + sl.stop)

    def _update_cell(self) -> None:
        idx = self._cell_indices()
        if idx is None or self.priors is None or self.cell is None:
            self.cell_label.setText("Click the image to pick a cell.")
            fill_table(self.cell_table, [])
            return
        fm = self.priors.feature_maps[self.map_index]
        row, col = self.cell
        self.cell_label.setText(f"Cell ({row}, {col}) of {fm.name}: {fm.per_cell} priors, "
                                f"centre ({fm.centers_x[col]:.1f}, {fm.centers_y[row]:.1f})")
        gt = self.gt if self.gt is not None else np.zeros((0, 4))
        fill_table(self.cell_table, cell_rows(fm.cell_boxes(row, col), idx, self.match, gt))

    # -- drawing --------------------------------------------------------------------------
    def redraw(self) -> None:
        p = self.priors
        fm = p.feature_maps[self.map_index] if p is not None and p.feature_maps else None
        self.overlay.draw_grid(fm if self.show_grid.isChecked() else None)
        self.overlay.draw_all(fm if self.show_all.isChecked() else None)
        show_match = self.show_match.isChecked() and p is not None
        self.overlay.draw_match(p.all_boxes() if show_match else None,  # type: ignore[union-attr]
                                self.match if show_match else None, self.gt)
        if fm is not None and self.cell is not None:
            boxes = fm.cell_boxes(*self.cell)
            labels = [f"{k}: {b[2] - b[0]:.0f}×{b[3] - b[1]:.0f}" for k, b in enumerate(boxes)]
            self.overlay.draw_cell(fm, *self.cell, labels=labels)
            self._draw_suggested(fm)
        else:
            self.overlay.draw_cell(None, 0, 0)
            self.overlay.draw_suggested(None, None)

    def _draw_suggested(self, fm: Any) -> None:
        if self.suggestion is None or self.priors is None or self.cell is None:
            self.overlay.draw_suggested(None, None)
            return
        in_h, in_w = self.priors.input_size
        ph, pw = self.priors.image_size
        row, col = self.cell
        self.overlay.draw_suggested(self.suggestion.shapes,
                                    (float(fm.centers_x[col]), float(fm.centers_y[row])),
                                    (pw / in_w, ph / in_h))

    # -- anchors from the data ------------------------------------------------------------
    def suggest(self) -> None:
        project, base = self.main_window.project, self.input_priors
        if project is None or base is None:
            self.suggest_label.setText("Open a project and an image first.")
            return
        k = self.k_spin.value() or None
        name = self.model_name
        model = self._models.get((name, self._input_size()))
        self.suggest_button.setEnabled(False)
        self.suggest_label.setText("Reading the project's boxes…")
        task = self.runner.submit(lambda ctx: suggestion_for_project(project, base, model, k))
        task.finished.connect(self._on_suggested)
        task.failed.connect(lambda msg: (self.suggest_button.setEnabled(True),
                                         self.suggest_label.setText(f"Failed: {msg}")))

    def _on_suggested(self, suggestion: Any) -> None:
        self.suggest_button.setEnabled(True)
        self.suggestion = suggestion
        self.suggest_label.setText(suggestion_text(suggestion))
        self.redraw()
        self.suggestion_ready.emit()

    # -- lifetime -------------------------------------------------------------------------
    def _sync_layers(self) -> None:
        """'Show on canvas'; the canvas's layer list hides the layers with the panel itself
        (dock closed or tabbed behind another panel)."""
        self.overlay.set_visible(self.show_canvas.isChecked())

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.runner.shutdown()
        super().closeEvent(event)
