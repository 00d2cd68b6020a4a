"""The Errors panel's canvas layer: one image's TP / FP / FN / confused marks.

One per-image :class:`~workbench.gui.canvas.layers.BoxLayer` named ``"errors"`` (its height in
``LAYER_Z``), emptied by the layer list when another image is shown. Colours and labels:

* TP — green, ``TP cat .91`` (detections) / ``cat ✓`` (found objects);
* FP — red, ``FP dog .55``;
* FN — orange, ``FN cat`` (the missed object's box);
* confused — magenta: the detection ``dog on cat .62`` and the object it took ``cat → dog``;
* ignored (on / a difficult object) — grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsScene, QWidget

from workbench.gui.canvas.layer_list import LayerList
from workbench.gui.canvas.layers import BoxLayer

LAYER = "errors"
COLORS = {"tp": QColor(60, 200, 90), "fp": QColor(240, 60, 60), "fn": QColor(255, 150, 30),
          "confused": QColor(230, 70, 230), "ignored": QColor(170, 170, 170)}


def mark_label(mark: Any) -> str:
    """The text beside one :class:`workbench.core.error_analysis.Mark`."""
    score = "" if mark.score is None else f" {mark.score:.2f}".replace(" 0.", " .")
    if mark.kind == "object":
        if mark.status == "confused":
            return f"{mark.label} → {mark.other}"
        if mark.status == "tp":
            return ""  # the ground-truth box is labelled by the canvas already
        return {"fn": f"FN {mark.label}", "ignored": f"{mark.label} (difficult)"}.get(
            mark.status, mark.label)
    if mark.status == "confused":
        return f"{mark.label} on {mark.other}{score}"
    tag = {"tp": "TP", "fp": "FP", "ignored": "on difficult"}.get(mark.status, mark.status)
    return f"{tag} {mark.label}{score}"


class ErrorsOverlay:
    """The ``errors`` layer of ``scene``, owned by the panel (shown while it is in front)."""

    def __init__(self, scene: QGraphicsScene, owner: QWidget | None = None) -> None:
        self.layer = BoxLayer(LAYER)
        self.registry = LayerList.of(scene)
        self.registry.add(self.layer, owner, per_image=True)
        self.marks: list[Any] = []

    def show(self, marks: Sequence[Any]) -> None:
        """Draw ``marks`` (objects and detections); an empty sequence clears."""
        self.marks = list(marks)
        if not self.marks:
            self.layer.clear()
            return
        boxes = np.asarray([m.box for m in self.marks], dtype=np.float64)
        self.layer.set_boxes(boxes, [COLORS.get(m.status, COLORS["fp"]) for m in self.marks],
                             [mark_label(m) for m in self.marks], width=2.0,
                             labels_below=True)

    def clear(self) -> None:
        self.marks = []
        self.layer.clear()

    def set_wanted(self, wanted: bool) -> None:
        self.registry.set_wanted(self.layer, wanted)

    def __len__(self) -> int:
        return len(self.layer)
