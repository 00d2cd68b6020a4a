"""What the Detections panel draws on the canvas: kept boxes, TP/FP/FN marks, suppressed boxes.

Pure drawing and bookkeeping, no torch: the panel hands in plain arrays (pixel-edge ``xyxy`` in
image pixels = scene coordinates). Layers, bottom to top:

* ``suppressed``: boxes NMS removed, faint (thin, greyed class colour), each with a thin
  line from its centre to the centre of the kept box that suppressed it;
* ``fn``: ground-truth objects no detection found (at the evaluation IoU): a red dash-dot
  outline just outside the object's box (the canvas labels the object itself);
* ``detections`` / ``detections-fp``: kept detections in class colour with ``class score``
  labels; with ground truth each label ends in ``TP``/``FP`` (or ``difficult`` when the
  detection hit a difficult object: neither, as in VOC), and false positives are dashed;
* ``selection``: the detection chosen in the list, thick white.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QGraphicsScene, \
    QStyleOptionGraphicsItem, QWidget

from workbench.core.annotation import Annotation
from workbench.core.detections import ImageDetections
from workbench.gui.canvas.layer_list import LayerList, layer_z
from workbench.gui.canvas.layers import BoxLayer
from workbench.gui.canvas.palette import class_color

FN_COLOR = QColor(255, 60, 60)
SELECT_COLOR = QColor(255, 255, 255)
SUPPRESSED_MIX = 0.45  # share of the class colour in a suppressed box's colour
#: Only the best this many detections get a text label (hundreds of labels hide the image and
#: cost a frame); the list shows every one.
MAX_LABELS = 100


@dataclass(frozen=True)
class Marks:
    """TP/FP status of each detection (``status[i]`` in {"TP", "FP", "difficult"}) and the
    indices of the ground-truth objects (in ``Annotation.objects``) that were missed."""

    status: tuple[str, ...]
    missed: tuple[int, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {"TP": self.status.count("TP"), "FP": self.status.count("FP"),
                "FN": len(self.missed)}


def ground_truth(annotation: Annotation | None) -> Annotation | None:
    """The person-made objects of ``annotation`` (model suggestions are not ground truth)."""
    if annotation is None:
        return None
    from dataclasses import replace

    return replace(annotation, objects=tuple(o for o in annotation.objects if not o.model_made))


def mark(annotation: Annotation, det: ImageDetections, iou_threshold: float = 0.5) -> Marks:
    """Match ``det`` against the annotation's objects with the VOC devkit's rules.

    Greedy by descending score, each detection takes its highest-IoU object of the same class;
    IoU ``>= iou_threshold`` with an unmatched object is a TP, with a matched one (duplicate) or
    below the threshold a FP, with a ``difficult`` object neither. Objects that are not
    difficult and not matched are missed (FN).
    """
    from workbench.core.metrics import match_image

    m = match_image(annotation, det, iou_threshold=iou_threshold)
    status = tuple("TP" if tp else "difficult" if ign else "FP"
                   for tp, ign in zip(m.tp.tolist(), m.ignored.tolist()))
    missed = tuple(int(i) for i in m.fn)
    return Marks(status, missed)


class LinkLayer(QGraphicsObject):
    """Line segments ``(N, 4)`` = ``x1, y1, x2, y2`` in scene coordinates, drawn in one pass."""

    def __init__(self, name: str, z: float | None = None,
                 parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setZValue(layer_z(name) if z is None else z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._groups: list[tuple[QColor, list[QLineF]]] = []
        self._bounds = QRectF()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def set_lines(self, lines: np.ndarray, colors: Sequence[QColor],
                  color_index: np.ndarray | None = None) -> None:
        """``colors``: one per line, or with ``color_index`` a palette (line ``i`` has the
        colour ``colors[color_index[i]]``)."""
        lines = np.asarray(lines, dtype=np.float64).reshape(-1, 4)
        self.prepareGeometryChange()
        colors = list(colors)
        if color_index is None:
            keys = np.fromiter((c.rgba() for c in colors), dtype=np.uint32, count=len(colors))
            _unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            colors = [colors[f] for f in first.tolist()]
        else:
            first, inverse = np.unique(np.asarray(color_index, dtype=np.int64), return_index=True,
                                       return_inverse=True)[1:]
            colors = [colors[int(c)] for c in np.asarray(color_index)[first].tolist()]
        self._groups = []
        for g in np.argsort(first, kind="stable"):  # colours in order of first appearance
            x1, y1, x2, y2 = lines[inverse == g].T.tolist()
            self._groups.append((QColor(colors[g]), list(map(QLineF, x1, y1, x2, y2))))
        self._count = len(lines)
        if len(lines):
            xs, ys = lines[:, [0, 2]], lines[:, [1, 3]]
            self._bounds = QRectF(xs.min() - 2, ys.min() - 2, xs.max() - xs.min() + 4,
                                  ys.max() - ys.min() + 4)
        else:
            self._bounds = QRectF()
        self.update()

    def clear(self) -> None:
        if self._count or self._groups:  # already empty: nothing to redo (every image change)
            self.set_lines(np.zeros((0, 4)), [])

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        for color, lines in self._groups:
            pen = QPen(color, 1.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLines(lines)


@lru_cache(maxsize=4096)
def _color(name: str) -> QColor:
    """:func:`class_color`, cached (a slider move colours hundreds of boxes)."""
    return class_color(name)


@lru_cache(maxsize=4096)
def _faint_color(name: str) -> QColor:
    return _faint(class_color(name))


def _faint(color: QColor) -> QColor:
    """The colour mixed into dark grey, *opaque*: translucent pens are ~15x slower to draw in
    Qt's raster engine, and a slider move must repaint within a frame."""
    a = SUPPRESSED_MIX
    return QColor(round(color.red() * a + 70 * (1 - a)), round(color.green() * a + 70 * (1 - a)),
                  round(color.blue() * a + 70 * (1 - a)))


def _centres(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)


class DetectionsOverlay:
    """The panel's layers in a scene (created once, re-filled on every slider move), registered
    in the scene's :class:`LayerList` as ``owner``'s per-image layers."""

    def __init__(self, scene: QGraphicsScene, owner: QWidget | None = None) -> None:
        self.suppressed = BoxLayer("suppressed")
        self.links = LinkLayer("suppressor-links")
        self.fn = BoxLayer("fn")
        self.kept = BoxLayer("detections")
        self.fp = BoxLayer("detections-fp")
        self.selection = BoxLayer("detection-selected")
        self.layers: list[BoxLayer | LinkLayer] = [self.suppressed, self.links, self.fn, self.kept,
                                               self.fp, self.selection]
        self.registry = LayerList.of(scene)
        for layer in self.layers:
            self.registry.add(layer, owner, per_image=True)

    def clear(self) -> None:
        for layer in self.layers:
            layer.clear()

    def set_visible(self, visible: bool) -> None:
        for layer in self.layers:
            self.registry.set_wanted(layer, visible)

    def show(self, det: ImageDetections, marks: Marks | None, annotation: Annotation | None,
             suppressed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        """Draw ``det``; ``marks`` from :func:`mark`; ``suppressed`` = (boxes ``(S, 4)``,
        class names ``(S,)``, suppressor boxes ``(S, 4)``) or None."""
        # one colour per class, each box an index into them (no QColor per box)
        classes, class_of = np.unique(np.asarray(det.labels, dtype=str), return_inverse=True)
        palette = [_color(name) for name in classes.tolist()]
        # text for the best MAX_LABELS only (the layer also leaves out labels that would not
        # fit their box on screen)
        named = min(len(det), MAX_LABELS)
        labels = [f"{name} {score:.2f}" for name, score
                  in zip(det.labels[:named].tolist(), det.scores[:named].tolist())]
        labels += [""] * (len(det) - named)
        if marks is not None:
            labels = [f"{text} {status}" if text else ""
                      for text, status in zip(labels, marks.status)]
            fp = np.asarray([s == "FP" for s in marks.status], dtype=bool).reshape(-1)
        else:
            fp = np.zeros(len(det), dtype=bool)
        if fp.any():
            tp_labels = [t for t, f in zip(labels, fp.tolist()) if not f]
            fp_labels = [t for t, f in zip(labels, fp.tolist()) if f]
        else:
            tp_labels, fp_labels = labels, []
        self.kept.set_boxes(det.boxes[~fp], palette, tp_labels, width=2.0, labels_below=True,
                            color_index=class_of[~fp])
        # 1 px: a dashed pen wider than 1 px costs ~10x to draw (Qt's raster engine).
        self.fp.set_boxes(det.boxes[fp], palette, fp_labels, width=1.0,
                          style=Qt.PenStyle.DashLine, labels_below=True,
                          color_index=class_of[fp])
        if marks is not None and annotation is not None and marks.missed:
            missed = [annotation.objects[i] for i in marks.missed]
            # No text: the canvas already labels every ground-truth box at the same corner;
            # the red dash-dot outline, slightly outside the object's box, is the FN mark.
            boxes = np.asarray([o.box for o in missed], dtype=np.float64) + (-2, -2, 2, 2)
            self.fn.set_boxes(boxes, FN_COLOR, None, width=2.0, style=Qt.PenStyle.DashDotLine)
        else:
            self.fn.clear()
        if suppressed is not None and len(suppressed[0]):
            boxes, names, by = suppressed
            kinds, kind_of = np.unique(np.asarray(names, dtype=str), return_inverse=True)
            faint = [_faint_color(name) for name in kinds.tolist()]
            # Faint = greyed and thin; solid, because dashed pens cost ~10x to draw.
            self.suppressed.set_boxes(boxes, faint, width=1.0, color_index=kind_of)
            self.links.set_lines(np.concatenate([_centres(boxes), _centres(by)], 1), faint,
                                 kind_of)
        else:
            self.suppressed.clear()
            self.links.clear()

    def select(self, box: Sequence[float] | None) -> None:
        if box is None:
            self.selection.clear()
        else:
            self.selection.set_boxes(np.asarray([box]), SELECT_COLOR, width=3.5)
