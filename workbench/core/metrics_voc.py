"""PASCAL VOC detection AP: VOC2007 11-point and VOC2010+ all-point, with the devkit's rules.

The rules (``VOCevaldet.m`` of the VOC devkit; ``voc_eval.py`` of py-faster-rcnn):

* per class, detections of all images are pooled and sorted by descending score — a *stable*
  sort (MATLAB's ``sort``), so ties keep the order the detections were given in;
* each detection is compared with every ground-truth object of its class in its image and takes
  the one of highest IoU (the first one on ties, MATLAB's ``max``) — already-matched objects
  included;
* IoU ``>= iou_threshold`` (or ``>`` with ``strict=True``, as py-faster-rcnn): a ``difficult``
  object makes the detection *ignored* (neither TP nor FP), an object not yet matched makes it a
  TP (and marks the object), an already matched one a FP (duplicate); below the threshold: FP;
* ``difficult`` objects are not counted as positives;
* IoU is the devkit's ``+1``-width formula on 1-based inclusive pixels, which is the plain IoU on
  our pixel-edge boxes (see :mod:`workbench.core.boxes`);
* AP is the 11-point interpolated precision (VOC2007) or the area under the monotone precision
  envelope at every recall change (VOC2010+); mAP averages the classes that have at least one
  non-difficult object.

One deliberate detail: the 11 recall points are the exact decimals ``0.0, 0.1, …, 1.0``. MATLAB's
``0:0.1:1`` and numpy's ``arange(0, 1.1, 0.1)`` hold ``0.30000000000000004`` (and numpy also
``0.6000000000000001``, ``0.7000000000000001``), so there a recall of exactly 3/10 misses the 0.3
point; here it reaches it, as the definition says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detections import ImageDetections
from workbench.core.metrics_data import (
    FlatDetections,
    FlatGroundTruth,
    class_list,
    flatten_detections,
    flatten_ground_truth,
    group_pairs,
    score_order,
    segment_starts,
    stable_key_order,
)

#: The VOC2007 11 recall points, exact decimals.
VOC07_RECALL_POINTS = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])


@dataclass(frozen=True)
class PrecisionRecall:
    """One class's ranked detections, ``(D,)`` arrays in evaluation order (descending score).

    ``tp``/``fp``/``ignored`` are per detection; ``precision``/``recall`` are the cumulative
    values after each detection (an ignored detection repeats the previous point). Recall is 0
    throughout for a class without positives.
    """

    scores: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    ignored: np.ndarray
    precision: np.ndarray
    recall: np.ndarray


@dataclass(frozen=True)
class VocResult:
    """Result of :func:`evaluate_voc`.

    ``per_class`` holds the AP of every class with at least one non-difficult object; ``map`` is
    their mean (NaN when there is none). ``curves`` and ``num_positives`` cover every evaluated
    class.
    """

    metric: str  # "voc07" or "voc"
    iou_threshold: float
    strict: bool
    map: float
    per_class: dict[str, float]
    num_positives: dict[str, int]
    curves: dict[str, PrecisionRecall] = field(repr=False)
    classes: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        """Human name of the metric, e.g. ``"VOC2007 11-point AP@0.5"``."""
        kind = "VOC2007 11-point" if self.metric == "voc07" else "VOC2010+ all-point"
        op = ">" if self.strict else ""
        return f"{kind} AP@IoU{op}{self.iou_threshold:g}"


def voc_ap(recall: np.ndarray, precision: np.ndarray, *, use_07_metric: bool) -> float:
    """AP from cumulative ``(D,)`` recall/precision in ranked order (devkit ``VOCap``).

    11-point: mean over ``t`` in 0, 0.1, …, 1 of the highest precision at recall ``>= t`` (0 if
    recall never reaches ``t``). All-point: area under the monotone precision envelope.
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if use_07_metric:
        if len(recall) == 0:
            return 0.0
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        # recall is non-decreasing: the first index with recall >= t starts the suffix rec >= t
        first = np.searchsorted(recall, VOC07_RECALL_POINTS, side="left")
        reached = first < len(recall)
        points = np.where(reached, envelope[np.minimum(first, len(recall) - 1)], 0.0)
        return float(points.sum() / 11.0)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    change = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[change] - mrec[change - 1]) * mpre[change]))


def pair_iou_edges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of ``(P, 4)`` pixel-edge boxes ``a[i]`` and ``b[i]`` → ``(P,)``.

    Equal to the devkit's ``+1`` formula on the corresponding 1-based VOC integers.
    """
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
             + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(inter > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass(frozen=True)
class VocMatch:
    """Per-detection outcome of the devkit matching, in the flat detection order.

    ``best_gt`` is the ground-truth row (into :class:`FlatGroundTruth`) of highest IoU, -1 when
    the image has no object of the class; ``tp``/``fp``/``ignored`` ``(D,)`` bool.
    """

    best_gt: np.ndarray
    best_iou: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    ignored: np.ndarray
    order: np.ndarray  # (D,) evaluation order: class, then descending score, then given order


def match_detections(gt: FlatGroundTruth, det: FlatDetections, *, iou_threshold: float,
                     strict: bool) -> VocMatch:
    """Vectorised devkit matching of all detections against all ground truth.

    The devkit's greedy loop only keeps state in "object already detected", and a detection's
    best object does not depend on that state; so each detection's best object is found at
    once, and the TP among the detections hitting one object is simply the first of them in
    evaluation order.
    """
    num_classes = max(len(gt.classes), 1)
    n = len(det.scores)
    d_idx, g_idx = group_pairs(det.image * num_classes + det.cls, gt.image * num_classes + gt.cls)
    ious = pair_iou_edges(det.boxes[d_idx], gt.boxes[g_idx])
    best_iou = np.full(n, -np.inf)
    best_gt = np.full(n, -1, dtype=np.int64)
    if len(d_idx):
        starts = np.flatnonzero(np.r_[True, d_idx[1:] != d_idx[:-1]])
        owners = d_idx[starts]
        seg_max = np.maximum.reduceat(ious, starts)
        best_iou[owners] = seg_max
        is_max = ious == best_iou[d_idx]
        at_max = np.flatnonzero(is_max)  # d_idx is sorted: each owner's first maximum
        owner = d_idx[at_max]
        first_pos = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        best_gt[owner[first_pos]] = g_idx[at_max[first_pos]]
    hit = best_iou > iou_threshold if strict else best_iou >= iou_threshold
    ignored = np.zeros(n, dtype=bool)
    ignored[hit] = gt.difficult[best_gt[hit]]
    # = np.lexsort((-det.scores, det.cls)), stable: seq (the row order) breaks ties
    order = score_order(det.scores, det.cls)
    candidates = order[np.flatnonzero((hit & ~ignored)[order])]
    # the first candidate (in evaluation order) of each object is its TP
    objects = best_gt[candidates]
    by_object = stable_key_order(objects)
    first = by_object[segment_starts(objects[by_object])]
    tp = np.zeros(n, dtype=bool)
    tp[candidates[first]] = True
    fp = ~tp & ~ignored
    return VocMatch(best_gt, best_iou, tp, fp, ignored, order)


def evaluate_voc(ground_truth: Mapping[str, Annotation], detections: Sequence[ImageDetections],
                 *, iou_threshold: float = 0.5, use_07_metric: bool = True, strict: bool = False,
                 classes: Sequence[str] | None = None) -> VocResult:
    """PASCAL VOC AP per class and mAP.

    ``ground_truth`` maps image id (the image's file stem) → :class:`Annotation` (pixel-edge
    boxes); every image to evaluate must be present, with or without objects. ``detections``
    carry the same ids; a detection on an unknown image raises ``ValueError``. ``classes``
    defaults to the sorted union of names in both; objects and detections of other classes are
    skipped. Score ties are broken by the order of ``detections`` (then the order inside each
    :class:`ImageDetections`), like the devkit's stable sort over a results file.
    """
    names = class_list(ground_truth, detections, classes)
    gt = flatten_ground_truth(ground_truth, names)
    det = flatten_detections(detections, gt.image_ids, names)
    m = match_detections(gt, det, iou_threshold=iou_threshold, strict=strict)
    npos = np.bincount(gt.cls[~gt.difficult], minlength=len(names))
    cls_sorted = det.cls[m.order]
    bounds = np.searchsorted(cls_sorted, np.arange(len(names) + 1), side="left")
    curves: dict[str, PrecisionRecall] = {}
    per_class: dict[str, float] = {}
    eps = np.finfo(np.float64).eps
    for k, name in enumerate(names):
        idx = m.order[bounds[k]:bounds[k + 1]]
        tp = np.cumsum(m.tp[idx], dtype=np.float64)
        fp = np.cumsum(m.fp[idx], dtype=np.float64)
        recall = tp / npos[k] if npos[k] > 0 else np.zeros_like(tp)
        precision = tp / np.maximum(tp + fp, eps)
        curves[name] = PrecisionRecall(det.scores[idx], m.tp[idx], m.fp[idx], m.ignored[idx],
                                       precision, recall)
        if npos[k] > 0:
            per_class[name] = voc_ap(recall, precision, use_07_metric=use_07_metric)
    mean = float(np.mean(list(per_class.values()))) if per_class else float("nan")
    return VocResult(
        metric="voc07" if use_07_metric else "voc",
        iou_threshold=float(iou_threshold),
        strict=strict,
        map=mean,
        per_class=per_class,
        num_positives={name: int(npos[k]) for k, name in enumerate(names)},
        curves=curves,
        classes=names,
    )
