"""The two matchings behind :mod:`workbench.core.error_analysis`, done once over all detections.

* :func:`match_class_aware` — the VOC devkit's rules (:func:`workbench.core.metrics_voc.
  match_detections`, the code AP uses): per class, by descending score, a detection takes the
  object of its class with the highest IoU (already found ones included); IoU ``>= t`` with a
  ``difficult`` one → ignored, with one not yet found → TP, otherwise FP.
* :func:`match_class_agnostic` — the confusion matrix's rule: per image, by descending score, a
  detection takes the *not yet matched* object of highest IoU ``>= t`` whatever its class.

Both are greedy by descending score, so whether a detection is TP/FP/ignored (or which object
it takes) depends only on the detections scoring higher than it — never on lower-scored ones.
Matching every detection once therefore answers every score threshold ``s``: the outcome with
only the detections ``score >= s`` is the same rows restricted to ``score >= s`` (score ties
are either all kept or all dropped, so the tie order given by ``seq`` does not matter for the
counts). Boxes are pixel-edge ``xyxy``: the plain IoU equals the devkit's ``+1`` IoU
(:mod:`workbench.core.boxes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.core.metrics_data import FlatDetections, FlatGroundTruth, group_pairs
from workbench.core.metrics_voc import match_detections, pair_iou_edges

#: COCO area ranges (pycocotools): small < 32², medium 32²..96², large > 96² (pixel² of w*h).
SIZE_LABELS = ("small", "medium", "large")
SMALL_AREA = 32.0 ** 2
LARGE_AREA = 96.0 ** 2


def size_index(boxes: np.ndarray) -> np.ndarray:
    """COCO size class of ``(N, 4)`` pixel-edge boxes → ``(N,)`` int: 0 small (area < 32²),
    2 large (area > 96²), 1 medium otherwise."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.where(area < SMALL_AREA, 0, np.where(area > LARGE_AREA, 2, 1)).astype(np.int64)


@dataclass(frozen=True)
class ClassAwareMatch:
    """Per detection ``(D,)`` in flat order: ``tp``, ``fp``, ``ignored`` (bool) with every
    detection taking part, and ``gt`` the object row (into :class:`FlatGroundTruth`) a TP
    found or an ignored detection hit (-1 for FPs)."""

    tp: np.ndarray
    fp: np.ndarray
    ignored: np.ndarray
    gt: np.ndarray


def match_class_aware(gt: FlatGroundTruth, det: FlatDetections, *, iou: float,
                      strict: bool = False) -> ClassAwareMatch:
    """The devkit's matching of all detections (see the module docstring)."""
    m = match_detections(gt, det, iou_threshold=iou, strict=strict)
    found = np.where(m.tp | m.ignored, m.best_gt, -1)
    return ClassAwareMatch(tp=m.tp, fp=m.fp, ignored=m.ignored, gt=found)


@dataclass(frozen=True)
class AgnosticMatch:
    """Class-agnostic greedy matching: ``gt`` ``(D,)`` the object row each detection took (-1:
    none, i.e. background) and ``taken_by`` ``(G,)`` the detection row that took each object
    (-1: none)."""

    gt: np.ndarray
    taken_by: np.ndarray


def match_class_agnostic(gt: FlatGroundTruth, det: FlatDetections, *, iou: float,
                         strict: bool = False) -> AgnosticMatch:
    """Per image, detections by descending score (ties: given order) each take the not yet
    matched object of highest IoU ``>= iou`` (``>`` when ``strict``), whatever its class; equal
    IoU → the first object. ``difficult`` objects are taken like any other (the caller ignores
    the detection).

    Vectorised over images: the loop runs over the rank inside the image (at most the largest
    number of detections of one image), and each step handles that rank of every image at once
    — one detection per image, so no two of them compete for an object.
    """
    n, g = len(det.scores), len(gt.image)
    det_gt = np.full(n, -1, dtype=np.int64)
    taken_by = np.full(g, -1, dtype=np.int64)
    if n == 0 or g == 0:
        return AgnosticMatch(det_gt, taken_by)
    d_idx, g_idx = group_pairs(det.image, gt.image)
    ious = pair_iou_edges(det.boxes[d_idx], gt.boxes[g_idx])
    hit = ious > iou if strict else ious >= iou
    d_idx, g_idx, ious = d_idx[hit], g_idx[hit], ious[hit]
    if len(d_idx) == 0:
        return AgnosticMatch(det_gt, taken_by)
    order = np.lexsort((det.seq, -det.scores, det.image))
    img_sorted = det.image[order]
    starts = np.flatnonzero(np.r_[True, img_sorted[1:] != img_sorted[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    pair_rank = rank[d_idx]
    po = np.lexsort((g_idx, -ious, d_idx, pair_rank))
    d_s, g_s, r_s = d_idx[po], g_idx[po], pair_rank[po]
    bounds = np.searchsorted(r_s, np.arange(int(r_s[-1]) + 2), side="left")
    taken = np.zeros(g, dtype=bool)
    for r in range(len(bounds) - 1):
        a, b = int(bounds[r]), int(bounds[r + 1])
        if a == b:
            continue
        dd, gg = d_s[a:b], g_s[a:b]
        free = ~taken[gg]
        dd, gg = dd[free], gg[free]
        if len(dd) == 0:
            continue
        first = np.flatnonzero(np.r_[True, dd[1:] != dd[:-1]])  # best free object per detection
        det_gt[dd[first]] = gg[first]
        taken[gg[first]] = True
        taken_by[gg[first]] = dd[first]
    return AgnosticMatch(det_gt, taken_by)
