"""The canvas's layer list: every overlay a panel draws is a named layer registered here.

napari's layer list is the model. Each overlay item (a :class:`~.layers.BoxLayer`, the
detections' suppressor links …) is added once, with the panel that owns it::

    layers = LayerList.of(window.canvas.scene())
    layers.add(self.layer, owner=self, per_image=True)

and from then on the list, not the panel, decides whether the item is shown:

* **visible** = the user's checkbox in the Layers list (View → Panels → Layers)
  *and* the owner's own wish (:meth:`LayerList.set_wanted`, e.g. its "Show on canvas" box)
  *and* the owner panel is on screen: its dock open and in front of its tab group
  (``QDockWidget.visibilityChanged``). A panel tabbed behind another one, or closed, takes its
  layers with it; they come back when it is shown again. A panel that shows another panel's
  layer as part of its own work (the IoU panel picking boxes from the proposals) *borrows* it
  (:meth:`LayerList.borrow`): the layer is also shown while the borrower is on screen.
* **opacity** from the Layers list, multiplied into the item's own (see
  :meth:`~.layers.BoxLayer.set_layer_opacity`).
* **z-order** from :data:`LAYER_Z`, the one table of the canvas's stacking order.
* **per-image** layers (IoU pair, proposals, detections, TP/FP/FN marks, prior matches, the
  training preview) are emptied when another image is shown — before the panels hear of the new
  image, so what a panel draws for the new image stays (:meth:`LayerList.follow`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDockWidget, QGraphicsItem, QGraphicsScene, QWidget

#: The canvas's stacking order, bottom to top: one z value per named layer (and the items the
#: layers are placed around). Overlays that give context (proposals, prior grids, suppressed
#: boxes) lie under the ground-truth boxes being edited; a model's output and the judgments of
#: it (TP/FP/FN), the picked IoU pair and the draw-mode guide lie above them.
LAYER_Z: dict[str, float] = {
    "image": 0.0,                  # the photo (CanvasScene.image_item)
    "image:tiles": 0.5,            # full-resolution tiles of a very large photo (bigimage)
    "proposals": 10.0,             # selective-search proposals (Proposals panel)
    "ss:segments": 9.0,            # Felzenszwalb segments / grouped regions (Proposals)
    "ss:merge": 10.5,              # the region the grouping step made, its box (Proposals)
    "priors:grid": 11.0,           # the feature map's cells (Priors panel)
    "priors:all": 12.0,            # every prior / anchor of the map
    "priors:hn-rest": 12.2,        # negatives hard-negative mining does not keep (faint)
    "priors:hn-kept": 12.4,        # negatives it keeps (highest confidence loss, 3:1)
    "priors:hn-pos": 14.2,         # the positives the ratio counts from
    "suppressed": 13.0,            # boxes NMS removed (Detections panel)
    "suppressor-links": 13.5,      # line from each suppressed box to its suppressor
    "priors:match": 14.0,          # positive priors for the ground truth
    "annotations": 20.0,           # the ground-truth boxes being edited (AnnotationItem)
    "priors:cell": 21.0,           # the picked cell's footprint
    "priors:cell-priors": 22.0,    # the picked cell's priors, labelled
    "priors:suggested": 23.0,      # k-means shapes at the picked cell
    "priors:flagged": 24.0,        # objects no prior reaches at the threshold
    "training-preview": 25.0,      # the training run's detections on this image (Train panel)
    "fn": 26.0,                    # missed objects (Detections panel)
    "detections": 27.0,            # kept detections, TP / difficult
    "detections-fp": 28.0,         # false positives, dashed
    "metrics-fn": 29.0,            # TP/FP/FN marks of a loaded results file (Metrics panel)
    "metrics-ignored": 30.0,
    "metrics-fp": 31.0,
    "metrics-tp": 32.0,
    "errors": 32.5,                # TP/FP/FN/confused marks of the Errors panel
    "detection-selected": 33.0,    # the detection chosen in the Detections list
    "iou:union": 34.0,             # the IoU panel's A and B, lightly filled
    "iou:intersection": 35.0,      # their intersection, with "IoU 0.xyz"
    "classics:yolo-grid": 11.2,    # YOLO N x N grid (Classics panel)
    "classics:roi-map": 11.4,      # feature-map cells around the pooled box (Classics)
    "classics:rpn": 12.5,          # RPN top-N proposals after NMS (Classics)
    "classics:yolo-cells": 20.5,   # cells holding a centre, their targets; conflicts red (Classics)
    "classics:roi-cells": 21.2,    # roi_pool: the whole cells each bin takes (Classics)
    "classics:roi-bins": 21.4,     # roi_align: the continuous bins (Classics)
    "classics:roi-samples": 21.6,  # roi_align: bilinear sample points (Classics)
    "classics:roi-box": 21.8,      # the pooled box and its rounded RoI (Classics)
    "classics:yolo-centres": 22.5,  # box centres labelled with their YOLO target (Classics)
    "classics:rpn-selected": 23.5,  # the picked proposal and its anchor (Classics)
    "guide": 40.0,                 # draw-mode crosshair and rubber band (GuideItem)
}

#: Short names shown in the Layers list (the layer's name where absent).
LAYER_TITLES: dict[str, str] = {
    "proposals": "proposals",
    "priors:grid": "grid",
    "priors:all": "all priors of the map",
    "priors:match": "matched priors",
    "priors:cell": "picked cell",
    "priors:cell-priors": "the cell's priors",
    "priors:suggested": "suggested shapes",
    "priors:flagged": "objects no prior reaches",
    "priors:hn-rest": "negatives not mined",
    "priors:hn-kept": "mined hard negatives",
    "priors:hn-pos": "positives (mining)",
    "suppressed": "suppressed boxes",
    "suppressor-links": "links to suppressor",
    "fn": "missed (FN)",
    "detections": "detections",
    "detections-fp": "false positives",
    "detection-selected": "selected detection",
    "metrics-tp": "TP",
    "metrics-fp": "FP",
    "metrics-fn": "FN",
    "metrics-ignored": "on difficult",
    "training-preview": "preview detections",
    "iou:union": "A and B",
    "iou:intersection": "intersection",
}

DEFAULT_Z = 10.0


def layer_z(name: str) -> float:
    """The z value of layer ``name`` from :data:`LAYER_Z` (names not listed: ``DEFAULT_Z``)."""
    return LAYER_Z.get(name, DEFAULT_Z)


@dataclass(eq=False)
class Layer:
    """One registered overlay."""

    name: str
    item: QGraphicsItem
    owner: QWidget | None
    per_image: bool
    user_visible: bool = True     #: the Layers list's checkbox
    wanted: bool = True           #: the owner panel's own wish (its "Show on canvas" box …)
    opacity: float = 1.0          #: the Layers list's opacity, 0–1

    @property
    def title(self) -> str:
        base, _sep, n = self.name.partition("#")
        return LAYER_TITLES.get(base, base) + (f" #{n}" if n else "")

    def count(self) -> int:
        try:
            return len(self.item)  # type: ignore[arg-type]
        except TypeError:
            return 0


@dataclass(eq=False)
class _Owner:
    widget: QWidget
    title: str
    dock: QDockWidget | None = None
    shown: bool = True            #: on screen (dock open and in front); True outside a dock
    borrowed: set[str] = field(default_factory=set)


class LayerList(QObject):
    """The registry of a scene's overlay layers (one per canvas: :meth:`of`)."""

    #: a layer was added or removed, or its visibility / opacity changed
    changed = Signal()
    #: ``(panel, shown)``: a panel came to the front / went behind a tab or closed
    owner_shown_changed = Signal(object, bool)

    def __init__(self, scene: QGraphicsScene) -> None:
        super().__init__(scene)
        self.setObjectName("workbench-layer-list")
        self.scene = scene
        self._layers: dict[str, Layer] = {}
        self._owners: dict[int, _Owner] = {}

    @classmethod
    def of(cls, scene: QGraphicsScene) -> LayerList:
        """The layer list of ``scene``, created on first use (a child of the scene)."""
        found = scene.findChild(LayerList, "workbench-layer-list")
        return found if isinstance(found, LayerList) else cls(scene)

    # -- registering ----------------------------------------------------------------------
    def add(self, item: QGraphicsItem, owner: QWidget | None = None,
            per_image: bool = False, name: str | None = None) -> Layer:
        """Register ``item`` (named ``name`` or ``item.name``): put it in the scene at its
        :data:`LAYER_Z` height; from now on its visibility is the list's business."""
        base = name or str(item.name)
        name, n = base, 1
        while name in self._layers and self._layers[name].item is not item:
            n += 1  # a second panel of the same kind: "proposals#2", at the same height
            name = f"{base}#{n}"
        if item.scene() is not self.scene:
            self.scene.addItem(item)
        item.setZValue(layer_z(base))
        layer = Layer(name, item, owner, per_image)
        self._layers[name] = layer
        if owner is not None and id(owner) not in self._owners:
            self._owner(owner)
            dock = _dock_of(owner)
            if dock is not None:
                self.attach_dock(owner, dock)
        self._apply(layer)
        self.changed.emit()
        return layer

    def remove(self, item_or_name: QGraphicsItem | str) -> None:
        layer = self._find(item_or_name)
        if layer is None:
            return
        del self._layers[layer.name]
        if layer.item.scene() is not None:
            layer.item.scene().removeItem(layer.item)
        self.changed.emit()

    def attach_dock(self, owner: QWidget, dock: QDockWidget, shown: bool | None = None) -> None:
        """``owner``'s layers follow ``dock``: shown while it is open and in front.
        ``shown``: whether it is on screen now, from its last ``visibilityChanged`` (default:
        ``dock.isVisible()``, which is also true behind another dock's tab)."""
        state = self._owner(owner)
        if state.dock is dock:
            return
        state.dock = dock
        state.title = dock.windowTitle().replace("&&", "&")
        state.shown = dock.isVisible() if shown is None else shown
        dock.visibilityChanged.connect(lambda visible, k=id(owner): self._on_shown(k, visible))
        self._apply_all()
        self.changed.emit()

    def follow(self, image_changed: Any) -> None:
        """Empty the per-image layers on every emission of ``image_changed`` (connect this
        before any panel connects its own handler: Qt calls slots in connection order)."""
        image_changed.connect(lambda *_a: self.clear_per_image())

    # -- state ----------------------------------------------------------------------------
    def layers(self) -> list[Layer]:
        """Every registered layer, bottom to top."""
        return sorted(self._layers.values(), key=lambda la: la.item.zValue())

    def names(self) -> list[str]:
        return [la.name for la in self.layers()]

    def get(self, name: str) -> Layer | None:
        return self._layers.get(name)

    def owner_title(self, layer: Layer) -> str:
        state = self._owners.get(id(layer.owner)) if layer.owner is not None else None
        return state.title if state is not None else "Canvas"

    def owner_shown(self, owner: QWidget | None) -> bool:
        """Whether ``owner`` is on screen: its dock open and the current tab of its group
        (a dock tabbed behind another one still says ``isVisible()``); True outside a dock."""
        state = self._owners.get(id(owner)) if owner is not None else None
        return state is None or state.shown

    def owner_open(self, owner: QWidget | None) -> bool:
        """Whether ``owner``'s dock is open (in front or tabbed behind another panel)."""
        state = self._owners.get(id(owner)) if owner is not None else None
        return state is None or state.dock is None or not state.dock.isHidden()

    def is_shown(self, layer: Layer) -> bool:
        """What the list makes of the layer: the item's visibility."""
        if not (layer.user_visible and layer.wanted):
            return False
        if self.owner_shown(layer.owner):
            return True
        return any(state.shown and layer.name in state.borrowed
                   for state in self._owners.values())

    def sources(self, exclude: QWidget | None = None) -> dict[str, QGraphicsItem]:
        """Non-empty box layers a panel may measure against: the checkbox on, wanted by their
        owner, and the owner's dock open (tabbed behind included); not ``exclude``'s own."""
        out: dict[str, QGraphicsItem] = {}
        for layer in self.layers():
            if layer.owner is exclude and exclude is not None:
                continue
            if layer.user_visible and layer.wanted and self.owner_open(layer.owner) \
                    and hasattr(layer.item, "boxes") and layer.count():
                out[layer.name] = layer.item
        return out

    # -- changing -------------------------------------------------------------------------
    def set_visible(self, item_or_name: QGraphicsItem | str, visible: bool) -> None:
        """The user's checkbox."""
        layer = self._require(item_or_name)
        if layer.user_visible != visible:
            layer.user_visible = visible
            self._apply(layer)
            self.changed.emit()

    def set_wanted(self, item_or_name: QGraphicsItem | str, wanted: bool) -> None:
        """The owner panel's own wish to show the layer (its "Show on canvas" box …)."""
        layer = self._require(item_or_name)
        if layer.wanted != wanted:
            layer.wanted = wanted
            self._apply(layer)
            self.changed.emit()

    def set_opacity(self, item_or_name: QGraphicsItem | str, opacity: float) -> None:
        layer = self._require(item_or_name)
        opacity = min(max(float(opacity), 0.0), 1.0)
        if layer.opacity != opacity:
            layer.opacity = opacity
            self._apply(layer)
            self.changed.emit()

    def borrow(self, borrower: QWidget, names: Iterable[str]) -> None:
        """While ``borrower`` is on screen, also show the layers ``names`` (another panel's
        layers it works with); replaces what it borrowed before."""
        state = self._owner(borrower)
        new = {n for n in names if n in self._layers}
        if new != state.borrowed:
            state.borrowed = new
            self._apply_all()
            self.changed.emit()

    def clear_per_image(self) -> None:
        """Empty every per-image layer (another image is shown)."""
        for layer in self._layers.values():
            if layer.per_image:
                clear = getattr(layer.item, "clear", None)
                if callable(clear):
                    clear()

    # -- internals ------------------------------------------------------------------------
    def _owner(self, widget: QWidget) -> _Owner:
        state = self._owners.get(id(widget))
        if state is None:
            state = self._owners[id(widget)] = _Owner(widget, _title_of(widget))
            widget.destroyed.connect(lambda *_a, k=id(widget): self._forget_owner(k))
        return state

    def _find(self, item_or_name: QGraphicsItem | str) -> Layer | None:
        if isinstance(item_or_name, str):
            return self._layers.get(item_or_name)
        for layer in self._layers.values():
            if layer.item is item_or_name:
                return layer
        return None

    def _require(self, item_or_name: QGraphicsItem | str) -> Layer:
        layer = self._find(item_or_name)
        if layer is None:
            raise KeyError(f"no layer {item_or_name!r}")
        return layer

    def _apply(self, layer: Layer) -> None:
        item = layer.item
        item.setVisible(self.is_shown(layer))
        set_opacity = getattr(item, "set_layer_opacity", None)
        if callable(set_opacity):
            set_opacity(layer.opacity)
        else:
            item.setOpacity(layer.opacity)

    def _apply_all(self) -> None:
        for layer in self._layers.values():
            self._apply(layer)

    def _on_shown(self, key: int, visible: bool) -> None:
        state = self._owners.get(key)
        if state is None or state.shown == visible:
            return
        state.shown = visible
        self._apply_all()
        self.owner_shown_changed.emit(state.widget, visible)
        self.changed.emit()

    def _forget_owner(self, key: int) -> None:
        if not shiboken6.isValid(self):  # the scene (and this list) went first
            return
        self._owners.pop(key, None)
        for name in [n for n, la in self._layers.items() if id(la.owner) == key]:
            layer = self._layers.pop(name)
            try:  # the panel is gone: so is what it drew
                layer.item.setVisible(False)
            except RuntimeError:  # the scene (and its items) went first
                pass
        self.changed.emit()


def _dock_of(widget: QWidget) -> QDockWidget | None:
    w = widget.parentWidget()
    while w is not None and not isinstance(w, QDockWidget):
        w = w.parentWidget()
    return w


def _title_of(widget: QWidget) -> str:
    name = type(widget).__name__
    return name[:-5] if name.endswith("Panel") else name
