"""Priors panel: SSD priors / Faster R-CNN anchors of a detector, per feature map, on the image.

Pick a detector and a feature map; click the image to pick a cell and see its priors, the grid,
optionally every prior of the map, and the counts. With the image's ground truth the panel shows
which priors are positive (SSD: IoU >= 0.5 plus each object's best prior; RPN: >= 0.7, < 0.3
negative, in between ignored, plus the best anchor), per object and per map, the 3:1
hard-negative budget, the regression targets of the cell's priors, and flags objects no prior
reaches at the threshold. "Suggest" runs k-means (IoU distance) over the project's boxes.

The matching thresholds are editable (SSD's IoU 0.5; the RPN's foreground 0.7 / background
0.3) and the counts follow at once — the numbers ``workbench priors --image … --json`` prints.
The "Mining" tab asks an SSD checkpoint's own head for each prior's confidence loss on the photo
(a job) and draws the negatives SSD's ``ratio``:1 mining keeps and those it leaves out.

The panel follows the hub: a checkpoint loaded elsewhere (``CheckpointLoaded``) or written by a
finished run (``TrainingFinished``) is offered in the Detector list with its own prior
generator, and selected when the panel shows that checkpoint's model (or the paper's SSD300
set for an ``ssd300_vgg16``) or another checkpoint; a panel on a different detector stays on
it (the user chose it) and says where the checkpoint is.

Closed or tabbed behind another panel (its layers are off the canvas then), it does no per-image
work: an image switch empties the matches drawn for the image before, and the priors and matching
of the image shown are computed when the panel is in front again, in a build turn of its own
(:meth:`PriorsPanel.catch_up`; at once when a cell or a tab is picked). Issue 14, GUI stalls.

The paper's SSD300 priors are computed here (numpy). Torchvision detectors are built on a
worker (random weights, no download) and asked through their own anchor generators; torch is
imported only then (:mod:`workbench.engine.anchor_extract`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QHeaderView,
    QLabel, QProgressBar, QPushButton, QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from workbench.core.matching import MatchResult, match_priors
from workbench.core.models import prior_models
from workbench.core.priors import SSD300_VOC_PAPER, PriorSet, ssd300_paper_priors
from workbench.gui.hub import CheckpointLoaded, TrainingFinished, hub_of
from workbench.gui.panels.deferred import BuildQueue, LaterTabs
from workbench.gui.panels import priors_mining
from workbench.gui.panels.priors_overlay import PriorsOverlay
from workbench.gui.panels.priors_tables import (
    MAP_HEADERS, cell_rows, fill_table, fold_map_details, make_table, map_rows, object_rows,
    suggestion_for_project, suggestion_text, summary_text,
)
from workbench.gui.panels.inspect_common import CanvasClickWatcher
from workbench.gui.workers.tasks import TaskContext, TaskRunner

if TYPE_CHECKING:
    from workbench.gui.panel_api import PanelWindow

log = logging.getLogger(__name__)

CACHE_SIZE = 6
#: Default matching thresholds (positive, negative) per kind: torchvision's SSDMatcher(0.5) and
#: the RPN's Matcher(0.7, 0.3).
DEFAULT_THRESHOLDS = {"ssd": (0.5, 0.5), "rpn": (0.7, 0.3)}

#: (model name, label) offered in the panel: the model catalog's models with priors / anchors
#: (workbench.core.models); the first, the SSD paper's layout, needs no torch.
MODELS: list[tuple[str, str]] = [(m.name, m.label) for m in prior_models()]
#: Each entry's tooltip: the catalog's description (the paper set says how to train with it).
TOOLTIPS: dict[str, str] = {m.name: m.description for m in prior_models()}


_PAPER: list[PriorSet] = []


def _paper_priors() -> PriorSet:
    """The paper's SSD300 set, computed once (a frozen dataclass; ~10 ms of the GUI thread on
    every photo size not cached)."""
    if not _PAPER:
        _PAPER.append(ssd300_paper_priors())
    return _PAPER[0]


class PriorsPanel(QWidget):
    """Dock contents; ``window``: what a panel may use of the labeling window
    (:class:`~workbench.gui.panel_api.PanelWindow`)."""

    priors_changed = Signal()     #: priors for the current image computed and drawn
    cell_selected = Signal(int, int, int)  #: map index, row, col
    suggestion_ready = Signal()
    failed = Signal(str)
    matched = Signal()            #: matching recomputed (thresholds, image or ground truth)
    mining_ready = Signal()       #: hard negatives mined and drawn
    checkpoint_offered = Signal(str, bool)  #: checkpoint path, whether it was selected

    def __init__(self, window: PanelWindow) -> None:
        super().__init__()
        self.main_window = window
        self.runner = TaskRunner(self)
        # checkpoints from the hub (not per image): a background load, nicer, it gives way
        # while the GUI thread is busy (gui/jobs.py; issue 14, GUI stalls)
        self.follow_runner = TaskRunner(self, niceness=5)
        # "Suggest" reads the whole project: not per image, so an image change (which cancels
        # ``runner``'s jobs) must not cancel it
        self.project_runner = TaskRunner(self)
        self.overlay = PriorsOverlay(window.canvas.scene(), self)
        self.priors: PriorSet | None = None
        self.input_priors: PriorSet | None = None   # on the detector input (k-means compare)
        self.match: MatchResult | None = None
        self.gt: np.ndarray | None = None
        self.cell: tuple[int, int] | None = None     # (row, col) on the current map
        self.suggestion = None
        self.thresholds = dict(DEFAULT_THRESHOLDS)   # per kind, as the user set them
        self.losses: Any = None                      # engine PriorLosses of the current photo
        self.kept: np.ndarray | None = None          # hard negatives kept at the ratio
        self._names: list[str] = []
        self._models: dict[tuple[str, int | None], Any] = {}  # built detectors (worker only)
        # (model, size, photo) → (priors on the photo, on the input); R50-FPN sets are ~16 MB,
        # so only the last few are kept.
        self._cache: OrderedDict[tuple, tuple[PriorSet, PriorSet]] = OrderedDict()
        self._tables_stale = False  # filled for other priors / matching than shown
        # the image / ground truth changed while the panel was closed or tabbed behind another
        # one: its priors and matching are computed when it comes to the front (issue 14)
        self._stale = False
        self._build_ui()
        self.overlay.registry.owner_shown_changed.connect(self._on_owner_shown)
        window.image_changed.connect(self._on_image_changed)
        window.annotation_changed.connect(self._on_annotation_changed)
        # Clicks on the image, ground-truth boxes included (scene_clicked skips boxes).
        self.clicks = CanvasClickWatcher(window.canvas, self)
        self.clicks.clicked.connect(self._on_scene_clicked)
        hub = hub_of(window)
        if hub is not None:
            hub.subscribe(CheckpointLoaded, lambda e: self.follow_checkpoint(str(e.path)),
                          owner=self)
            hub.subscribe(TrainingFinished, self._on_training_finished, owner=self)
        # not on screen yet: the priors and matching of the image are computed in a later
        # event-loop turn, once the panel is shown in front (first opening: ~15-30 ms less
        # in the turn that builds it; issue 14, GUI stalls)
        self._refresh_in_front()
        if hub is not None:   # built after a run finished / a checkpoint was loaded: catch up
            finished = hub.last(TrainingFinished)
            if finished is not None:
                self._on_training_finished(finished)
            loaded = hub.last(CheckpointLoaded)
            if loaded is not None:
                self.follow_checkpoint(str(loaded.path))

    # -- UI -------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.model_combo = QComboBox()
        for name, label in MODELS:
            self.model_combo.addItem(label, name)
            self.model_combo.setItemData(self.model_combo.count() - 1, TOOLTIPS[name],
                                         Qt.ItemDataRole.ToolTipRole)
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
        self.pos_spin = self._threshold_spin("IoU ≥ this: positive")
        self.neg_spin = self._threshold_spin("IoU below this: negative (in between: ignored)")
        self.neg_label = QLabel("bg <")
        self.counts_label = QLabel("")
        self.counts_label.setWordWrap(True)
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)   # "<b>" bold, "&lt;" for <
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
        iou_row = QHBoxLayout()
        self.pos_label = QLabel("≥")
        iou_row.addWidget(self.pos_label)
        iou_row.addWidget(self.pos_spin, 1)
        iou_row.addWidget(self.neg_label)
        iou_row.addWidget(self.neg_spin, 1)
        form.addRow("Match IoU", iou_row)
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
        # Every page joins its tab in a later event-loop turn (the one in front first), or when
        # picked (issue 14, GUI stalls: polished, laid out and painted with the rest of the
        # panel they held its first opening up); the tables are filled all the same.
        self.builds = BuildQueue(self)
        self.later_tabs = LaterTabs(self.tabs, self.builds)
        self.later_tabs.add(counts, "Per map")  # four whole titles in a ~370 px panel
        self.later_tabs.add(cell, "Cell")
        self.later_tabs.add(objects, "Matching")
        # five whole titles in the ~360 px tab bar (issue 14's fit check)
        self.later_tabs.add(suggest_box, "k-means")
        self.tabs.setTabToolTip(3, "Anchor shapes from the project's boxes (k-means)")
        self.later_tabs.add(self._build_mining_tab(), "Mining")
        self.tabs.setTabToolTip(4, "SSD hard-negative mining on this image (needs a checkpoint)")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.counts_label)
        layout.addLayout(toggles)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        # (a checkpoint followed from the hub switches the detector while the panel is behind)
        self.model_combo.currentIndexChanged.connect(lambda _i: self._refresh_in_front())
        self.size_spin.editingFinished.connect(self._refresh_in_front)
        self.map_combo.currentIndexChanged.connect(self._on_map_changed)
        self.show_canvas.toggled.connect(lambda _on: self._sync_layers())
        for box in (self.show_grid, self.show_all, self.show_match):
            box.toggled.connect(lambda _on: self.redraw())
        self.suggest_button.clicked.connect(self.suggest)
        self.checkpoint_button.clicked.connect(self._choose_checkpoint)
        self.pos_spin.valueChanged.connect(lambda _v: self._on_thresholds_edited())
        self.neg_spin.valueChanged.connect(lambda _v: self._on_thresholds_edited())
        self.ratio_spin.valueChanged.connect(lambda _v: self._apply_mining())
        self.show_rest.toggled.connect(lambda _on: self._apply_mining())
        self.mine_button.clicked.connect(self.mine)
        self.tabs.currentChanged.connect(self._on_tab_changed)

    @staticmethod
    def _threshold_spin(tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0.0, 1.0)
        spin.setDecimals(2)
        spin.setSingleStep(0.05)
        spin.setToolTip(tip)
        return spin

    def _build_mining_tab(self) -> QWidget:
        box = QWidget()
        self.ratio_spin = QDoubleSpinBox()
        self.ratio_spin.setRange(0.0, 20.0)
        self.ratio_spin.setDecimals(1)
        self.ratio_spin.setSingleStep(0.5)
        self.ratio_spin.setValue(3.0)
        self.ratio_spin.setSuffix(" : 1")
        self.ratio_spin.setToolTip("negatives kept per positive (SSD: 3)")
        self.mine_button = QPushButton("Mine on this image")
        self.mine_button.setToolTip("Run the checkpoint's SSD head on the image and rank the "
                                    "negative priors by their confidence loss")
        self.show_rest = QCheckBox("Show the negatives not kept")
        self.show_rest.setChecked(True)
        self.mining_label = QLabel(priors_mining.NEEDS_CHECKPOINT)
        self.mining_label.setWordWrap(True)
        f = QFormLayout(box)
        row = QHBoxLayout()
        row.addWidget(self.ratio_spin, 1)
        row.addWidget(self.mine_button)
        f.addRow("Ratio", row)
        f.addRow(self.show_rest)
        f.addRow(self.mining_label)
        return box

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

        start = checkpoint_start_dir(None, self.main_window.project)
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
        self._clear_mining()
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
            base = _paper_priors()
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
            model = self._checkpoint_model(name)
            extra = ", SSD paper VOC priors" if model.workbench_priors == "voc_paper" else ""
            label = f"{model.workbench_model_name} ({Path(name[5:]).name}{extra})"
        elif model is None:
            model = self._models[(name, size)] = build_for_anchors(name, size)
        ctx.check()
        return priors_from_model(model, label, photo), priors_from_model(model, label)

    def _checkpoint_model(self, key: str) -> Any:
        """The detector of checkpoint ``key`` (``"ckpt:<path>"``), loaded once (worker only);
        it carries ``workbench_model_name``, ``workbench_priors`` and ``workbench_classes``."""
        model: Any = self._models.get((key, None))
        if model is None:
            from workbench.engine.checkpoint import load_checkpoint

            model, ckpt = load_checkpoint(key[5:])
            model.workbench_model_name = ckpt["model_name"]
            model.workbench_priors = (ckpt.get("detector") or {}).get("priors") or "torchvision"
            model.workbench_classes = list(ckpt["classes"])
            self._models[(key, None)] = model
        return model

    def _on_extracted(self, key: tuple, result: tuple[PriorSet, PriorSet]) -> None:
        self.progress.hide()
        self._remember(key, result)
        if key == (self.model_name, self._input_size(), self._photo_size()):
            if self._in_front():
                self._set_priors(*result)
            else:   # gone behind meanwhile: matched from the cache when in front again
                self._mark_stale()

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
        scales = ""
        if priors.kind == "ssd" and priors.feature_maps:
            scales = (f", scales {round(priors.feature_maps[0].scales[0], 3):g} … "
                      f"{round(priors.feature_maps[-1].scales[0], 3):g}")
        self.status.setText(f"{priors.total:,} {'priors' if priors.kind == 'ssd' else 'anchors'}"
                            f" on a {in_w}×{in_h} input{scales} — {priors.source}")
        self._show_thresholds(priors.kind)
        if self.cell is not None:
            rows, cols = priors.feature_maps[self.map_index].size
            self.cell = (min(self.cell[0], rows - 1), min(self.cell[1], cols - 1))
        self._rematch()
        self.priors_changed.emit()
        if self.losses is None:
            self._auto_mine()

    def _rematch(self) -> None:
        ann = self.main_window.current_annotation()
        objects = [o for o in ann.objects if not o.model_made] if ann is not None else []
        self.gt = np.asarray([o.box for o in objects], dtype=np.float64).reshape(-1, 4)
        self._names = [o.name for o in objects]
        if self.priors is None:
            self.match = None
        else:
            high, low = self.thresholds[self.priors.kind]
            self.match = match_priors(self.priors.all_boxes(), self.gt, self.priors.kind,
                                      map_offsets=self.priors.offsets,
                                      positive_threshold=high, negative_threshold=low)
        self._update_counts()
        self._update_tables()
        self.redraw()
        self.matched.emit()

    # -- matching thresholds --------------------------------------------------------------
    def _show_thresholds(self, kind: str) -> None:
        """The spin boxes of ``kind`` (SSD: one IoU; RPN: foreground and background)."""
        high, low = self.thresholds[kind]
        for spin, value in ((self.pos_spin, high), (self.neg_spin, low)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        rpn = kind == "rpn"
        self.pos_label.setText("fg ≥" if rpn else "≥")
        self.neg_label.setVisible(rpn)
        self.neg_spin.setVisible(rpn)

    def set_thresholds(self, positive: float, negative: float | None = None) -> None:
        """Set the current kind's thresholds (SSD: ``negative`` is ``positive``)."""
        if self.priors is not None and self.priors.kind == "rpn" and negative is not None:
            self.neg_spin.setValue(negative)
        self.pos_spin.setValue(positive)

    def _on_thresholds_edited(self) -> None:
        if self.priors is None:
            return
        kind = self.priors.kind
        high = round(self.pos_spin.value(), 4)
        low = high if kind == "ssd" else round(self.neg_spin.value(), 4)
        if low > high:   # the RPN's background must stay below its foreground
            self.counts_label.setText(f"⚠ background &lt; {low:g} is above foreground ≥ "
                                      f"{high:g}: lower it first.")
            return
        self.thresholds[kind] = (high, low)
        self._rematch()
        if kind == "ssd":   # the mined positives depend on the threshold
            self._clear_mining()
            self._auto_mine()

    def _update_counts(self) -> None:
        m = self.match
        if m is None or self.priors is None:
            self.counts_label.setText("")
            return
        if m.kind == "ssd":
            self.counts_label.setText(
                f"IoU ≥ {m.positive_threshold:g}: <b>{m.num_positive:,}</b> positive, "
                f"<b>{m.num_negative:,}</b> negative priors (SSD ignores none)")
        else:
            self.counts_label.setText(
                f"IoU ≥ {m.positive_threshold:g} / &lt; {m.negative_threshold:g}: "
                f"<b>{m.num_positive:,}</b> positive, <b>{m.num_negative:,}</b> negative, "
                f"<b>{m.num_ignored:,}</b> ignored anchors")

    def counts(self) -> dict[str, int | float] | None:
        """The current matching's counts (``MatchResult.counts``: the CLI's JSON keys)."""
        return None if self.match is None else {"objects": len(self.match.objects),
                                                **self.match.counts()}

    # -- hard-negative mining -------------------------------------------------------------
    def _mining_problem(self) -> str | None:
        if self._photo_size() is None:
            return "Open an image first."
        if not self.model_name.startswith("ckpt:"):
            return priors_mining.NEEDS_CHECKPOINT
        if self.priors is not None and self.priors.kind != "ssd":
            return priors_mining.NOT_SSD
        return None

    def mine(self) -> None:
        """Compute each prior's confidence loss on the image (a job), then mine."""
        problem = self._mining_problem()
        if problem is not None:
            self._clear_mining()
            self.mining_label.setText(problem)
            return
        rgb = self.main_window.current_image_rgb()
        gt = self.gt if self.gt is not None else np.zeros((0, 4))
        names = list(self._names)
        key = self.model_name
        threshold = self.thresholds["ssd"][0]
        self.mine_button.setEnabled(False)
        self.mining_label.setText("Running the checkpoint's SSD head on the image…")

        def work(ctx: TaskContext) -> Any:
            model = self._checkpoint_model(key)
            ctx.check()
            return priors_mining.losses_job(model, model.workbench_classes, rgb, gt, names,
                                            threshold)

        task = self.runner.submit(work, key="mine")
        request = self._mining_request()
        task.finished.connect(lambda result, r=request: self._on_losses(r, result))
        task.failed.connect(self._on_mining_failed)
        task.cancelled.connect(lambda: self.mine_button.setEnabled(True))

    def _on_losses(self, request: tuple, losses: Any) -> None:
        self.mine_button.setEnabled(True)
        if request != self._mining_request():
            return   # the image, detector or threshold changed meanwhile
        self.losses = losses
        self._apply_mining()

    def _mining_request(self) -> tuple:
        return (self.model_name, self.main_window.current_image_path(), self._photo_size(),
                self.thresholds["ssd"][0])

    def _on_mining_failed(self, message: str) -> None:
        self.mine_button.setEnabled(True)
        self.mining_label.setText(f"Failed: {message}")

    def _apply_mining(self) -> None:
        """Mine at the current ratio (numpy, milliseconds) and draw."""
        if self.losses is None:
            self.kept = None
            self.overlay.draw_mining(None, None, None)
            return
        ratio = self.ratio_spin.value()
        self.kept = priors_mining.mined(self.losses, ratio)
        self.overlay.draw_mining(self.losses.priors, self.losses.positive, self.kept,
                                 self.show_rest.isChecked())
        self.mining_label.setText(priors_mining.mining_text(self.losses, self.kept, ratio))
        self.mining_ready.emit()

    def _clear_mining(self) -> None:
        self.losses = self.kept = None
        self.overlay.draw_mining(None, None, None)
        if hasattr(self, "mining_label"):
            self.mining_label.setText(self._mining_problem() or
                                      "Mine on this image to see which negatives SSD keeps.")

    def _auto_mine(self) -> None:
        """Mine again when the Mining tab is in front and a checkpoint is chosen."""
        if self.tabs.currentIndex() == self.tabs.count() - 1 and self._mining_problem() is None:
            self.mine()

    def _on_tab_changed(self, index: int) -> None:
        self.catch_up()   # a page picked before the panel's catch-up turn: its rows now
        if index == self.tabs.count() - 1 and self.losses is None:
            self._auto_mine()

    # -- following the hub ----------------------------------------------------------------
    def _on_training_finished(self, event: TrainingFinished) -> None:
        path = event.best or event.last
        if path is not None:
            self.follow_checkpoint(str(path))

    def follow_checkpoint(self, path: str) -> None:
        """Offer checkpoint ``path`` (loaded on a worker: its model and prior set decide the
        label and whether the panel switches to it)."""
        key = f"ckpt:{path}"
        task = self.follow_runner.submit(lambda ctx: self._checkpoint_model(key),
                                         key=f"follow:{path}")
        task.finished.connect(lambda model, p=path: self._offer_checkpoint(p, model))
        task.failed.connect(lambda msg, p=path: self.status.setText(
            f"Could not read checkpoint {Path(p).name}: {msg}"))

    def _offer_checkpoint(self, path: str, model: Any) -> None:
        key = f"ckpt:{path}"
        name = str(model.workbench_model_name)
        voc = model.workbench_priors == "voc_paper"
        label = f"checkpoint: {Path(path).name} — {name}" + (" (paper VOC priors)" if voc else "")
        index = self.model_combo.findData(key)
        if index < 0:
            self.model_combo.addItem(label, key)
        else:
            self.model_combo.setItemText(index, label)
        current = self.model_name
        follow = (current == name or current.startswith("ckpt:")
                  or (current == SSD300_VOC_PAPER and name == "ssd300_vgg16"))
        if follow:
            if current != key:
                self.set_model(key)
        else:
            self.status.setText(f"{self.status.text()}\nCheckpoint {Path(path).name} ({name}) is "
                                "in the Detector list.")
        self.checkpoint_offered.emit(path, follow)

    # -- events ---------------------------------------------------------------------------
    def _on_owner_shown(self, panel: object, shown: bool) -> None:
        if panel is self and shown:
            self._catch_up_later()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        self._catch_up_later()

    def _in_front(self) -> bool:
        """Open and the current tab of its dock group (a dock tabbed behind another one still
        says ``isVisible()``; the layer list knows)."""
        return self.isVisible() and self.overlay.registry.owner_shown(self)

    def _refresh_in_front(self) -> None:
        """:meth:`refresh` now when the panel is in front, else when it comes to the front."""
        if self._in_front():
            self.refresh()
        else:
            self._mark_stale()

    def _mark_stale(self) -> None:
        """The image or its ground truth changed while the panel is closed or behind: its
        layers are off the canvas then (the layer list hides them with the panel), so the
        matching waits until it is in front again (~40 % of the GUI thread's work per image
        switch went here; issue 14). What was drawn for the image before is emptied, as the
        Detections panel does: another panel (IoU) may list these layers."""
        self._stale = True
        self.runner.cancel_all()   # an extraction or mining for the image before
        self.match = self.gt = None
        self.losses = self.kept = None
        self.overlay.draw_mining(None, None, None)
        self.overlay.draw_match(None, None, None)
        photo = self._photo_size()
        if self.priors is not None and (photo is None or tuple(self.priors.image_size) != photo):
            # another photo size: the grid and cell priors of the one before are wrong too
            self.overlay.draw_grid(None)
            self.overlay.draw_all(None)
            self.overlay.draw_cell(None, 0, 0)
            self.overlay.draw_suggested(None, None)

    def _catch_up_later(self) -> None:
        """Catch up in the panel's next build turn (not in the one that shows it)."""
        if self._stale or self._tables_stale:
            self.builds.discard(self.catch_up)
            self.builds.add(self.catch_up, first=True)

    def catch_up(self) -> None:
        """Compute what waited while the panel was not in front, if it is in front now."""
        if not self._in_front():
            return
        if self._stale:
            self._stale = False
            self.refresh()
        elif self._tables_stale:
            self._update_tables()

    def _on_image_changed(self, _path: str) -> None:
        # mines again once the priors are set, when the tab is in front
        self._refresh_in_front()

    def _on_annotation_changed(self) -> None:
        if self._stale or not self._in_front():
            self._mark_stale()
            return
        if self.priors is not None:
            self._rematch()
            if self.losses is not None:
                self._clear_mining()
                self._auto_mine()

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
        self.catch_up()
        self.cell = (row, col)
        if self.tabs.currentIndex() == 0:
            self.tabs.setCurrentIndex(1)
        self._update_cell()
        self.redraw()
        self.cell_selected.emit(self.map_index, row, col)

    # -- tables ---------------------------------------------------------------------------
    def _tables_on_screen(self) -> bool:
        return self.isVisible() and self.overlay.registry.owner_shown(self)

    def _update_tables(self) -> None:
        if self.priors is None:
            return
        # Closed or tabbed behind another panel: the tables are filled when it comes to the
        # front. ~30 ms of the GUI thread per image shown (issue 14, GUI stalls).
        if not self._tables_on_screen():
            self._tables_stale = True
            return
        self._tables_stale = False
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
        task = self.project_runner.submit(
            lambda ctx: suggestion_for_project(project, base, model, k), key="suggest")
        task.finished.connect(self._on_suggested)
        task.failed.connect(self._on_suggest_failed)
        task.cancelled.connect(self._on_suggest_cancelled)

    def _on_suggest_cancelled(self) -> None:
        if not self.project_runner.active:
            self.suggest_button.setEnabled(True)
            self.suggest_label.setText("Cancelled.")

    def _on_suggest_failed(self, message: str) -> None:
        self.suggest_button.setEnabled(True)
        self.suggest_label.setText(f"Failed: {message}")

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
        self.follow_runner.shutdown()
        self.project_runner.shutdown()
        super().closeEvent(event)
