"""Error analysis of detections on a labelled set: operating point, confusion matrix, per image.

Definitions (issue 15; numpy only, no Qt, no torch). For detections with score ``>= s`` and an
IoU threshold ``t`` (default 0.5; the VOC ``+1`` IoU, which is the plain IoU of our pixel-edge
boxes, :mod:`workbench.core.boxes`):

* **Per-image TP/FP/FN and the operating point** follow the VOC devkit's class-aware rules used
  for AP (:func:`workbench.core.metrics_voc.match_detections`), restricted to detections with
  score ``>= s``: per class, by descending score, each detection takes the ground truth of its
  class with the highest IoU; IoU ``>= t`` with a ``difficult`` one → *ignored* (neither TP nor
  FP); with an unmatched one → TP (and it is matched); otherwise FP (also a second detection of
  an already matched object). FN = non-difficult ground truths left unmatched. Precision
  ``TP / (TP + FP)`` (0 when nothing is kept), recall ``TP / positives`` (0 without positives)
  and F1 ``2PR / (P + R)`` (0 when both are 0) pool all classes (micro average).
* **Confusion matrix** is class-agnostic matching: per image, detections with score ``>= s``
  by descending score each take the not-yet-matched ground truth with the highest IoU ``>= t``
  regardless of class (a ``difficult`` one is taken like any other); if that ground truth is
  ``difficult`` the detection is ignored; matched → ``matrix[gt_class][pred_class] += 1``;
  unmatched detection → ``matrix[background][pred_class]``; unmatched non-difficult ground
  truth → ``matrix[gt_class][background]``. Rows are ground truth, columns predictions; the last
  label is ``"background"``.
* **Confused** detections: those the confusion matrix puts off the diagonal outside the
  background row/column (matched, class-agnostically, to a non-difficult object of another
  class). :attr:`ImageErrors.confused` counts them per image. On the canvas
  (:func:`image_marks`) a detection is marked ``"confused"`` when it is a class-aware FP *and*
  confused; an object is ``"confused"`` when it is a FN taken by a confused detection.
* **Best F1**: without ``s``, the operating point is the score threshold (one of the detection
  scores) of highest F1; ties go to the highest score. With no detection at all it is ``s = 0``.
* **Per size**: COCO area ranges on ``w * h`` — small < 32², medium 32²..96², large > 96² — and
  the COCO AP@[.5:.95] (pycocotools' APs/APm/APl, :func:`workbench.core.metrics.evaluate_coco`)
  per range, all detections (AP needs no threshold); ``per_class`` is the same per class.

Both matchings are greedy by descending score, so a detection's outcome never depends on lower
scored detections: :class:`ErrorIndex` matches every detection once, and any threshold is then a
prefix — :class:`ScoreSweep` answers the operating point of any ``s`` in O(log n) from prefix
sums (the PR curve and best F1 from the same arrays), the confusion matrix and per-image list
in O(n) without matching again (:mod:`workbench.core.error_match`).

Ground truth and detections are what :func:`workbench.core.metrics.evaluate_voc` takes: ``{image
id (file stem): Annotation}`` and a sequence of :class:`ImageDetections` (or ``DetectionRuns``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detections import ImageDetections
from workbench.core.error_match import (
    SIZE_LABELS,
    HitPairs,
    hit_pairs,
    match_class_agnostic,
    match_class_aware,
    score_order,
    size_index,
)
from workbench.core.error_sweep import OperatingPoint, ScoreSweep
from workbench.core.metrics_data import (
    FlatDetections,
    FlatGroundTruth,
    class_list,
    flatten_detections,
    flatten_ground_truth,
)

__all__ = [
    "BACKGROUND", "SIZE_LABELS", "Confusion", "ErrorAnalysis", "ErrorIndex", "ImageErrors",
    "Mark", "OperatingPoint", "ScoreSweep", "SizeAP", "analyse", "image_marks", "per_size_ap",
]

#: The confusion matrix's last label (row: missed objects' … column: false detections' …).
BACKGROUND = "background"


@dataclass(frozen=True)
class Confusion:
    """Class-agnostic confusion matrix at one threshold.

    ``labels`` the classes then ``"background"``; ``matrix`` ``(K+1, K+1)`` int64, rows ground
    truth, columns predictions. ``image_ids`` is the evaluated images' order; the images behind
    each cell come from ``_entries`` (sorted once, when first asked).
    """

    labels: tuple[str, ...]
    matrix: np.ndarray
    image_ids: tuple[str, ...] = field(repr=False)
    #: ``(cell, image)`` of every count; sorted into ``_cells`` on the first :meth:`images`
    _entries: tuple[np.ndarray, np.ndarray] = field(repr=False)

    @cached_property
    def _cells(self) -> np.ndarray:
        cell, image = self._entries
        return np.unique(cell * max(len(self.image_ids), 1) + image)

    def _index(self, name: str | int) -> int:
        if isinstance(name, (int, np.integer)):
            return int(name)
        if name == BACKGROUND:
            return len(self.labels) - 1
        try:
            return self.labels.index(name)
        except ValueError:
            raise KeyError(f"unknown class {name!r}; labels are {list(self.labels)}") from None

    def images(self, gt_class: str | int, pred_class: str | int) -> list[str]:
        """Stems of the images with at least one count in cell ``[gt_class][pred_class]``
        (names or indices; ``"background"`` is the last), in ground-truth order."""
        n = max(len(self.image_ids), 1)
        cell = self._index(gt_class) * len(self.labels) + self._index(pred_class)
        lo, hi = np.searchsorted(self._cells, [cell * n, (cell + 1) * n], side="left")
        return [self.image_ids[int(i)] for i in (self._cells[lo:hi] - cell * n).tolist()]

    def to_json(self) -> dict[str, Any]:
        """``{"labels": [...], "matrix": [[int]]}``."""
        return {"labels": list(self.labels), "matrix": self.matrix.tolist()}


@dataclass(frozen=True)
class ImageErrors:
    """One image at one threshold: class-aware ``tp``/``fp``/``fn``/``ignored``; ``confused``
    detections (see the module docstring); ``worst_score`` the highest score among its FPs (0
    when none); ``classes`` the class names of its objects and kept detections; ``sizes`` the
    COCO size labels of the same boxes."""

    image: str
    tp: int
    fp: int
    fn: int
    confused: int
    ignored: int
    worst_score: float
    classes: tuple[str, ...]
    sizes: tuple[str, ...]

    @property
    def errors(self) -> int:
        """FP + FN."""
        return self.fp + self.fn

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` entry: ``{"image", "tp", "fp", "fn"}``."""
        return {"image": self.image, "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass(frozen=True)
class SizeAP:
    """COCO AP@[.5:.95] in one area range (NaN without objects there) and per class (classes
    with at least one non-difficult object in the range)."""

    ap: float
    per_class: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"ap": None if np.isnan(self.ap) else float(self.ap),
                "per_class": dict(self.per_class)}


@dataclass(frozen=True)
class Mark:
    """One box to draw: ``kind`` ``"detection"`` or ``"object"``; ``status`` one of ``"tp"``,
    ``"fp"``, ``"fn"``, ``"ignored"``, ``"confused"``; ``label`` its class; ``other`` the class
    it was confused with (else None); ``score`` for detections; ``box`` pixel-edge ``xyxy``."""

    box: tuple[float, float, float, float]
    status: str
    kind: str
    label: str
    other: str | None = None
    score: float | None = None


@dataclass(frozen=True)
class ErrorAnalysis:
    """Everything at one operating point; :attr:`index` answers other thresholds cheaply."""

    operating_point: OperatingPoint
    confusion: Confusion
    per_image: list[ImageErrors]
    per_size: dict[str, SizeAP] | None
    index: ErrorIndex = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The ``workbench eval --json`` keys of issue 15 (``per_size`` when computed)."""
        out: dict[str, Any] = {"operating_point": self.operating_point.to_json(),
                               "confusion": self.confusion.to_json(),
                               "per_image": [e.to_json() for e in self.per_image]}
        if self.per_size is not None:
            out["per_size"] = {k: v.to_json() for k, v in self.per_size.items()}
        return out


class ErrorIndex:
    """Both matchings of a data set at one IoU, done once (see the module docstring).

    Inputs as :func:`workbench.core.metrics.evaluate_voc` (``ValueError`` for a detection on an
    image without ground truth); ``classes`` defaults to the sorted union of names.
    """

    def __init__(self, ground_truth: Mapping[str, Annotation],
                 detections: Sequence[ImageDetections], classes: Sequence[str] | None = None,
                 *, iou: float = 0.5, strict: bool = False) -> None:
        if not 0.0 <= iou <= 1.0:
            raise ValueError(f"IoU threshold must be in [0, 1], got {iou}")
        self.ground_truth = ground_truth
        self.detections = detections
        self.classes = class_list(ground_truth, detections, classes)
        self.iou, self.strict = float(iou), strict
        self.gt = flatten_ground_truth(ground_truth, self.classes)
        self.det = flatten_detections(detections, self.gt.image_ids, self.classes)
        self._match(hit_pairs(self.gt, self.det, iou=iou, strict=strict))

    @classmethod
    def from_parts(cls, ground_truth: Mapping[str, Annotation],
                   detections: Sequence[ImageDetections], classes: Sequence[str],
                   gt: FlatGroundTruth, det: FlatDetections, pairs: HitPairs, *, iou: float,
                   strict: bool = False, by_score: np.ndarray | None = None) -> ErrorIndex:
        """An index from already flattened data and its hit pairs (:func:`workbench.core.
        error_match.hit_pairs` at ``iou``/``strict``) — what a slider sweep does when only the
        detections change (:mod:`workbench.core.error_sliders`). ``by_score``: the detection
        rows in descending score order, when known (saves the sort)."""
        self = cls.__new__(cls)
        self.ground_truth, self.detections = ground_truth, detections
        self.classes = tuple(classes)
        self.iou, self.strict = float(iou), strict
        self.gt, self.det = gt, det
        self._match(pairs, by_score)
        return self

    def _match(self, pairs: HitPairs, by_score: np.ndarray | None = None) -> None:
        """Both matchings and the per-row arrays every threshold reads."""
        if by_score is None:  # one sort, shared by the matchings and the sweep
            by_score = score_order(self.det)
        self.aware = match_class_aware(self.gt, self.det, pairs, by_score)
        self.agnostic = match_class_agnostic(self.gt, self.det, pairs, by_score)
        npos = int((~self.gt.difficult).sum())
        self.sweep = ScoreSweep(self.det.scores, self.aware.tp, self.aware.fp, npos, self.iou,
                                order=by_score)
        # per object: the score of the detection that found it (class-aware TP) / took it
        # (class-agnostic); -inf when none — "unmatched at s" is then "< s"
        g = len(self.gt.image)
        self.found_score = np.full(g, -np.inf)
        tp_rows = np.flatnonzero(self.aware.tp)
        self.found_score[self.aware.gt[tp_rows]] = self.det.scores[tp_rows]
        self.taken_score = np.full(g, -np.inf)
        taken = self.agnostic.taken_by >= 0
        self.taken_score[taken] = self.det.scores[self.agnostic.taken_by[taken]]
        agn = self.agnostic.gt
        safe = np.maximum(agn, 0)
        self.det_ignored_agn = (agn >= 0) & self.gt.difficult[safe] if g else agn >= 0
        self.det_row = np.where(agn >= 0, self.gt.cls[safe] if g else 0, len(self.classes))
        self.det_row = np.where(self.det_ignored_agn, -1, self.det_row)
        self.confused = (self.det_row >= 0) & (self.det_row < len(self.classes)) & \
            (self.det_row != self.det.cls)
        self._det_order: np.ndarray | None = None
        self._image_pos: dict[str, int] | None = None

    @cached_property
    def gt_size(self) -> np.ndarray:
        """``(G,)`` COCO size class of each object (0 small, 1 medium, 2 large)."""
        return size_index(self.gt.boxes)

    @cached_property
    def det_size(self) -> np.ndarray:
        """``(D,)`` COCO size class of each detection."""
        return size_index(self.det.boxes)

    @property
    def image_ids(self) -> tuple[str, ...]:
        return self.gt.image_ids

    def operating_point(self, score: float | None = None) -> OperatingPoint:
        """At ``score``, or the best-F1 one when None."""
        return self.sweep.best_f1() if score is None else self.sweep.at(score)

    @cached_property
    def _prefix(self) -> _Prefix:
        return _Prefix(self)

    def confusion(self, score: float) -> Confusion:
        """The class-agnostic confusion matrix with detections of score ``>= score``."""
        k1 = len(self.classes) + 1
        p = self._prefix
        kd = int(np.searchsorted(p.cell_neg_score, -float(score), side="right"))
        kg = int(np.searchsorted(p.miss_neg_score, -float(score), side="right"))
        cell = np.r_[p.cell[:kd], p.miss_cell[kg:]]
        images = np.r_[p.cell_image[:kd], p.miss_image[kg:]]
        matrix = np.bincount(cell, minlength=k1 * k1).reshape(k1, k1).astype(np.int64)
        return Confusion(labels=(*self.classes, BACKGROUND), matrix=matrix,
                         image_ids=self.image_ids, _entries=(cell, images))

    def per_image_counts(self, score: float) -> dict[str, np.ndarray]:
        """The per-image numbers at ``score`` as ``(N,)`` arrays in ground-truth image order:
        ``"tp"``, ``"fp"``, ``"fn"``, ``"confused"``, ``"ignored"`` (int64) and
        ``"worst_score"`` (float64, 0 without FPs) — :meth:`per_image` without the Python
        objects, for a table that sorts and filters thousands of images on every slider move.
        O(kept detections): one ``bincount`` of a prefix per number, no mask."""
        n, p = len(self.image_ids), self._prefix
        out = {}
        for name in ("tp", "fp", "confused", "ignored"):
            neg, image = p.flag[name]
            k = int(np.searchsorted(neg, -float(score), side="right"))
            out[name] = np.bincount(image[:k], minlength=n)
        out["fn"] = p.positives - out["tp"]  # each TP finds one distinct positive
        out["worst_score"] = np.where(p.worst >= score, p.worst, 0.0)
        return out

    def per_image(self, score: float) -> list[ImageErrors]:
        """One :class:`ImageErrors` per ground-truth image (in its order) at ``score``."""
        n, det, gt = len(self.image_ids), self.det, self.gt
        kept = det.scores >= score
        c = self.per_image_counts(score)
        k = max(len(self.classes), 1)
        classes = self._present(np.r_[gt.image, det.image[kept]], np.r_[gt.cls, det.cls[kept]],
                                k, n)
        sizes = self._present(np.r_[gt.image, det.image[kept]],
                              np.r_[self.gt_size, self.det_size[kept]], 3, n)
        names = self.classes
        return [ImageErrors(image_id, int(a), int(b), int(c), int(d), int(e), float(w),
                            tuple(names[j] for j in cl), tuple(SIZE_LABELS[j] for j in sz))
                for image_id, a, b, c, d, e, w, cl, sz in zip(
                    self.image_ids, c["tp"].tolist(), c["fp"].tolist(), c["fn"].tolist(),
                    c["confused"].tolist(), c["ignored"].tolist(), c["worst_score"].tolist(),
                    classes, sizes)]

    @staticmethod
    def _present(image: np.ndarray, value: np.ndarray, k: int, n: int) -> list[list[int]]:
        """For each of ``n`` images the sorted distinct ``value`` s (``< k``) it has."""
        keys = np.unique(image.astype(np.int64) * k + value.astype(np.int64))
        owners = keys // k
        bounds = np.searchsorted(owners, np.arange(n + 1), side="left").tolist()
        vals = (keys % k).tolist()
        return [vals[bounds[i]:bounds[i + 1]] for i in range(n)]

    def analysis(self, score: float | None = None, *, per_size: bool = False) -> ErrorAnalysis:
        """Operating point (best F1 when ``score`` is None), confusion matrix and per-image list
        at that threshold; ``per_size`` also runs the COCO evaluation (the slow part)."""
        point = self.operating_point(score)
        sizes = None
        if per_size:
            from workbench.core.metrics_coco import evaluate_coco

            sizes = per_size_ap(evaluate_coco(self.ground_truth, self.detections,
                                              classes=self.classes))
        return ErrorAnalysis(point, self.confusion(point.score), self.per_image(point.score),
                             sizes, self)

    def marks(self, image_id: str, score: float) -> list[Mark]:
        """The boxes of one image with their status at ``score`` (objects first, then kept
        detections by descending score); see :func:`image_marks`."""
        if self._image_pos is None:
            self._image_pos = {name: k for k, name in enumerate(self.image_ids)}
        i = self._image_pos.get(image_id)
        if i is None:
            raise KeyError(f"image {image_id!r} is not in the evaluated set")
        gt, det, names = self.gt, self.det, self.classes
        if self._det_order is None:
            self._det_order = np.lexsort((det.seq, -det.scores, det.image))
        order = self._det_order
        lo, hi = np.searchsorted(det.image[order], [i, i + 1], side="left")
        g_lo, g_hi = np.searchsorted(gt.image, [i, i + 1], side="left")
        out: list[Mark] = []
        for g in range(int(g_lo), int(g_hi)):
            other = None
            if gt.difficult[g]:
                status = "ignored"
            elif self.found_score[g] >= score:
                status = "tp"
            elif self.taken_score[g] >= score and self.confused[self.agnostic.taken_by[g]]:
                status, other = "confused", names[det.cls[self.agnostic.taken_by[g]]]
            else:
                status = "fn"
            out.append(Mark(_box(gt.boxes[g]), status, "object", names[gt.cls[g]], other))
        for d in order[int(lo):int(hi)].tolist():
            s = float(det.scores[d])
            if s < score:
                break
            other = None
            if self.aware.tp[d]:
                status = "tp"
            elif self.aware.ignored[d]:
                status = "ignored"
            elif self.confused[d]:
                status, other = "confused", names[self.det_row[d]]
            else:
                status = "fp"
            out.append(Mark(_box(det.boxes[d]), status, "detection", names[det.cls[d]], other,
                            s))
        return out


class _Prefix:
    """Per-row outcomes sorted by descending score once, so that every threshold is a prefix
    (detections) or a suffix (objects missed) — see :meth:`ErrorIndex.confusion` and
    :meth:`ErrorIndex.per_image_counts`."""

    def __init__(self, index: ErrorIndex) -> None:
        det, gt, n = index.det, index.gt, len(index.image_ids)
        k1 = len(index.classes) + 1
        order = np.argsort(-det.scores, kind="stable")
        neg = -det.scores[order]
        image = det.image[order]
        self.flag: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, rows in (("tp", index.aware.tp), ("fp", index.aware.fp),
                           ("confused", index.confused), ("ignored", index.aware.ignored)):
            sel = rows[order]
            self.flag[name] = (neg[sel], image[sel])
        counted = index.det_row[order] >= 0
        self.cell_neg_score = neg[counted]
        self.cell = (index.det_row[order] * k1 + det.cls[order])[counted]
        self.cell_image = image[counted]
        missable = np.flatnonzero(~gt.difficult)
        by_taken = missable[np.argsort(-index.taken_score[missable], kind="stable")]
        self.miss_neg_score = -index.taken_score[by_taken]
        self.miss_cell = gt.cls[by_taken] * k1 + (k1 - 1)
        self.miss_image = gt.image[by_taken]
        self.positives = np.bincount(gt.image[~gt.difficult], minlength=n)
        self.worst = np.zeros(n)
        fp_neg, fp_image = self.flag["fp"]
        if len(fp_image):  # the first FP of an image in score order is its highest
            first = np.unique(fp_image, return_index=True)[1]
            self.worst[fp_image[first]] = -fp_neg[first]


def _box(row: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in row)
    return (x1, y1, x2, y2)


def per_size_ap(coco: Any) -> dict[str, SizeAP]:
    """``{"small"|"medium"|"large": SizeAP}`` from a :class:`workbench.core.metrics.CocoResult`:
    pycocotools' APs/APm/APl and the same per class (AP@[.5:.95], 100 detections)."""
    out: dict[str, SizeAP] = {}
    for a, (label, ap) in enumerate(zip(SIZE_LABELS, (coco.map_small, coco.map_medium,
                                                      coco.map_large)), start=1):
        per_class = {}
        for k, name in enumerate(coco.classes):
            p = coco.precision[:, :, k, a, -1]
            if (p > -1).any():
                per_class[name] = float(np.mean(p[p > -1]))
        out[label] = SizeAP(float(ap), per_class)
    return out


def analyse(ground_truth: Mapping[str, Annotation], detections: Sequence[ImageDetections],
            classes: Sequence[str] | None = None, *, score: float | None = None,
            iou: float = 0.5, strict: bool = False, per_size: bool = True) -> ErrorAnalysis:
    """Operating point, confusion matrix, per-image errors and per-size AP of ``detections``
    against ``ground_truth`` at score ``>= score`` (best F1 when None) and IoU ``iou`` (``>``
    when ``strict``). ``per_size=False`` skips the COCO evaluation."""
    index = ErrorIndex(ground_truth, detections, classes, iou=iou, strict=strict)
    return index.analysis(score, per_size=per_size)


def image_marks(annotation: Annotation | None, detections: ImageDetections, score: float,
                iou: float = 0.5, *, strict: bool = False) -> list[Mark]:
    """One image's marks at score ``>= score``: objects ``"tp"`` (found), ``"fn"``,
    ``"confused"`` (a FN taken class-agnostically by a detection of another class, ``other``
    that class) or ``"ignored"`` (difficult); kept detections ``"tp"``, ``"fp"``,
    ``"ignored"`` or ``"confused"`` (a FP matched class-agnostically to an object of another
    class, ``other`` its class). ``annotation=None``: no objects."""
    key = detections.image_id
    ann = annotation if annotation is not None else Annotation(filename=key)
    index = ErrorIndex({key: ann}, [detections], iou=iou, strict=strict)
    return index.marks(key, score)
