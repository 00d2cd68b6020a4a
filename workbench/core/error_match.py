"""The two matchings behind :mod:`workbench.core.error_analysis`, done once over all detections.

* :func:`match_class_aware` — the VOC devkit's rules (as :func:`workbench.core.metrics_voc.
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
class HitPairs:
    """The (detection, object) pairs of the same image whose IoU reaches the threshold.

    ``d``/``g`` rows into the flat detections / ground truth, ``iou`` their IoU, ordered by
    detection, then by ground-truth row — so "the first maximum" over a detection's pairs is
    the devkit's ``max`` over the image's objects. Both matchings only ever use these pairs: a
    detection's best object below the threshold makes it a FP / background either way.
    """

    d: np.ndarray
    g: np.ndarray
    iou: np.ndarray


def hit_pairs(gt: FlatGroundTruth, det: FlatDetections, *, iou: float,
              strict: bool = False) -> HitPairs:
    """All same-image pairs with IoU ``>= iou`` (``> iou`` when ``strict``).

    The IoU is :func:`workbench.core.metrics_voc.pair_iou_edges`' arithmetic, bit for bit (the
    AP code's numbers), but only the pairs that pass a division-free test ``intersection >=
    iou * union`` (with a margin) are divided: most pairs of an image do not overlap.
    """
    d_idx, g_idx = group_pairs(det.image, gt.image)
    if len(d_idx) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return HitPairs(empty, empty.copy(), np.zeros(0))
    # contiguous columns: 1-D gathers are several times faster than gathering from (N, 4)
    dx1, dy1, dx2, dy2 = np.ascontiguousarray(det.boxes.T)
    gx1, gy1, gx2, gy2 = np.ascontiguousarray(gt.boxes.T)
    d_area = (dx2 - dx1) * (dy2 - dy1)
    g_area = (gx2 - gx1) * (gy2 - gy1)
    iw = np.minimum(dx2[d_idx], gx2[g_idx])
    iw -= np.maximum(dx1[d_idx], gx1[g_idx])
    ih = np.minimum(dy2[d_idx], gy2[g_idx])
    ih -= np.maximum(dy1[d_idx], gy1[g_idx])
    positive = (iw > 0) & (ih > 0)
    if iou > 0 or strict:
        # only overlapping pairs can reach the threshold; then a division-free superset test
        # (its margin covers the rounding of the division below)
        keep = np.flatnonzero(positive)
        d_idx, g_idx = d_idx[keep], g_idx[keep]
        inter = iw[keep] * ih[keep]
        union = d_area[d_idx] + g_area[g_idx] - inter
        maybe = inter >= (iou * (1 - 1e-9)) * union
        d_idx, g_idx, inter, union = d_idx[maybe], g_idx[maybe], inter[maybe], union[maybe]
    else:
        inter = np.where(positive, iw * ih, 0.0)
        union = d_area[d_idx] + g_area[g_idx] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        ious = np.where(inter > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    hit = ious > iou if strict else ious >= iou
    return HitPairs(d_idx[hit], g_idx[hit], ious[hit])


def score_order(det: FlatDetections) -> np.ndarray:
    """Every detection row by descending score, ties in ``seq`` order (the devkit's stable
    sort)."""
    return _by_score(det, np.arange(len(det.scores)))


def _by_score(det: FlatDetections, rows: np.ndarray,
              by_score: np.ndarray | None = None) -> np.ndarray:
    """``rows`` (ascending) by descending score, ties in ``seq`` order. With ``by_score`` (all
    rows in that order) a filter, no sort. ``seq`` follows the row order in every flattening
    (:mod:`workbench.core.metrics_data`), so a stable argsort of the scores does it — several
    times faster than ``lexsort`` with a float key."""
    if by_score is not None:
        member = np.zeros(len(det.scores), dtype=bool)
        member[rows] = True
        return by_score[member[by_score]]
    seq = det.seq[rows]
    if len(seq) > 1 and not bool((seq[1:] > seq[:-1]).all()):
        return rows[np.lexsort((seq, -det.scores[rows]))]
    return rows[np.argsort(-det.scores[rows], kind="stable")]


def _image_then_score(det: FlatDetections) -> bool:
    """Whether the rows are grouped by image in ascending order with scores descending inside
    each image and ``seq`` ascending (so row order is the (image, score, seq) order)."""
    image, scores, seq = det.image, det.scores, det.seq
    if len(image) < 2:
        return True
    same = image[1:] == image[:-1]
    return bool((image[1:] >= image[:-1]).all() and (~same | (scores[1:] <= scores[:-1])).all()
                and (seq[1:] > seq[:-1]).all())


def _first_best(pairs: HitPairs, n: int) -> np.ndarray:
    """``(n,)`` each detection's object of highest IoU among ``pairs`` (first on ties), -1
    for a detection without pairs. ``pairs`` ordered by detection."""
    best_gt = np.full(n, -1, dtype=np.int64)
    d = pairs.d
    if len(d) == 0:
        return best_gt
    starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
    best = np.full(n, -np.inf)
    best[d[starts]] = np.maximum.reduceat(pairs.iou, starts)
    at_max = np.flatnonzero(pairs.iou == best[d])
    first = at_max[np.r_[True, d[at_max][1:] != d[at_max][:-1]]]
    best_gt[d[first]] = pairs.g[first]
    return best_gt


@dataclass(frozen=True)
class ClassAwareMatch:
    """Per detection ``(D,)`` in flat order: ``tp``, ``fp``, ``ignored`` (bool) with every
    detection taking part, and ``gt`` the object row (into :class:`FlatGroundTruth`) a TP
    found or an ignored detection hit (-1 for FPs)."""

    tp: np.ndarray
    fp: np.ndarray
    ignored: np.ndarray
    gt: np.ndarray


def match_class_aware(gt: FlatGroundTruth, det: FlatDetections, pairs: HitPairs,
                      by_score: np.ndarray | None = None) -> ClassAwareMatch:
    """The devkit's matching of all detections, as
    :func:`workbench.core.metrics_voc.match_detections` (the AP code; the tests hold them
    equal) from the hit pairs of the detection's class: the best object of its class reaches
    the threshold → ``difficult``: ignored; else the first such detection of that object in
    (descending score, given order) is the TP, later ones FPs; no hit → FP."""
    n = len(det.scores)
    same = gt.cls[pairs.g] == det.cls[pairs.d]
    best_gt = _first_best(HitPairs(pairs.d[same], pairs.g[same], pairs.iou[same]), n)
    hit = best_gt >= 0
    ignored = np.zeros(n, dtype=bool)
    ignored[hit] = gt.difficult[best_gt[hit]]
    # only the candidates' order matters (one object has one class: no class key needed)
    cand = _by_score(det, np.flatnonzero(hit & ~ignored), by_score)
    _, first = np.unique(best_gt[cand], return_index=True)
    tp = np.zeros(n, dtype=bool)
    tp[cand[first]] = True
    fp = ~tp & ~ignored
    return ClassAwareMatch(tp=tp, fp=fp, ignored=ignored, gt=np.where(tp | ignored, best_gt, -1))


@dataclass(frozen=True)
class AgnosticMatch:
    """Class-agnostic greedy matching: ``gt`` ``(D,)`` the object row each detection took (-1:
    none, i.e. background) and ``taken_by`` ``(G,)`` the detection row that took each object
    (-1: none)."""

    gt: np.ndarray
    taken_by: np.ndarray


def match_class_agnostic(gt: FlatGroundTruth, det: FlatDetections, pairs: HitPairs,
                         by_score: np.ndarray | None = None) -> AgnosticMatch:
    """Per image, detections by descending score (ties: given order) each take the not yet
    matched object of highest IoU among ``pairs`` (those reaching the threshold), whatever its
    class; equal IoU → the first object. ``difficult`` objects are taken like any other (the
    caller ignores the detection).

    Vectorised over images: the loop runs over the rank inside the image (at most the largest
    number of detections of one image), and each step handles that rank of every image at once
    — one detection per image, so no two of them compete for an object. Only detections with a
    pair take part: the others take nothing and change nothing for the rest.
    """
    n, g = len(det.scores), len(gt.image)
    det_gt = np.full(n, -1, dtype=np.int64)
    taken_by = np.full(g, -1, dtype=np.int64)
    d_idx, g_idx, ious = pairs.d, pairs.g, pairs.iou
    if len(d_idx) == 0:
        return AgnosticMatch(det_gt, taken_by)
    sub = d_idx[np.r_[True, d_idx[1:] != d_idx[:-1]]]  # pairs are ordered by detection
    if _image_then_score(det):  # rows already by image, then descending score (inference)
        order = sub
    else:
        order = _by_score(det, sub, by_score)
        order = order[np.argsort(det.image[order], kind="stable")]  # image, then score
    img_sorted = det.image[order]
    m = len(order)
    starts = np.flatnonzero(np.r_[True, img_sorted[1:] != img_sorted[:-1]])
    rank = np.zeros(n, dtype=np.int64)
    rank[order] = np.arange(m) - np.repeat(starts, np.diff(np.r_[starts, m]))
    pair_rank = rank[d_idx]
    # by rank (stable: each detection's pairs stay together, in object order); int16 keys
    # get numpy's radix sort
    key = pair_rank.astype(np.int16) if m < 32_000 else pair_rank
    po = np.argsort(key, kind="stable")
    d_s, g_s, i_s = d_idx[po], g_idx[po], ious[po]
    bounds = np.searchsorted(pair_rank[po], np.arange(int(pair_rank.max()) + 2), side="left")
    taken = np.zeros(g, dtype=bool)
    for r in range(len(bounds) - 1):
        a, b = int(bounds[r]), int(bounds[r + 1])
        if a == b:
            continue
        free = ~taken[g_s[a:b]]
        dd, gg, ii = d_s[a:b][free], g_s[a:b][free], i_s[a:b][free]
        if len(dd) == 0:
            continue
        # per detection, the first free object of highest IoU
        seg = np.flatnonzero(np.r_[True, dd[1:] != dd[:-1]])
        best = np.repeat(np.maximum.reduceat(ii, seg), np.diff(np.r_[seg, len(dd)]))
        at_max = np.flatnonzero(ii == best)
        first = at_max[np.r_[True, dd[at_max][1:] != dd[at_max][:-1]]]
        det_gt[dd[first]] = gg[first]
        taken[gg[first]] = True
        taken_by[gg[first]] = dd[first]
    return AgnosticMatch(det_gt, taken_by)
