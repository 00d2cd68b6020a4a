"""pycocotools' greedy ground-truth matching, run for all images, classes, area ranges and IoU
thresholds at once.

pycocotools (``COCOeval.evaluateImg``) walks, per image × class × area range × threshold, the
detections by descending score and, for each, the ground truths (non-ignored first)::

    best = t; m = -1
    for g in gts:
        if matched[g] and not crowd[g]: continue
        if m > -1 and not ignored[m] and ignored[g]: break
        if iou[d, g] < best: continue
        best = iou[d, g]; m = g

i.e. the detection takes the available non-ignored object of highest IoU ``>= t`` (the *last*
one on equal IoU), and an ignored one only when no non-ignored object qualifies. The only state
is "object already matched", and it only changes between detections of the same image and
class. So step ``s`` handles the ``s``-th candidate detection of *every* (image, class) group
together, for all 4 area ranges × 10 thresholds, on the sparse list of (detection, object) pairs
with IoU >= the lowest threshold — detections or objects with no such pair never match and are
skipped entirely.
"""

from __future__ import annotations

import numpy as np

from workbench.core.metrics_data import group_pairs


def coco_iou_pairs(det_xywh: np.ndarray, gt_xywh: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """Row-wise IoU as pycocotools' C ``bbIou``: ``(P, 4)`` ``[x, y, w, h]`` boxes, ``(P,)`` crowd.

    Same operations in the same order (``x + w`` for the right edge), so the doubles agree.
    """
    d, g = det_xywh, gt_xywh
    w = np.minimum(d[:, 2] + d[:, 0], g[:, 2] + g[:, 0]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 3] + d[:, 1], g[:, 3] + g[:, 1]) - np.maximum(d[:, 1], g[:, 1])
    inter = w * h
    da = d[:, 2] * d[:, 3]
    union = np.where(crowd, da, da + g[:, 2] * g[:, 3] - inter)
    ok = (w > 0) & (h > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, inter / np.where(ok, union, 1.0), 0.0)


def match_coco(det_key: np.ndarray, det_xywh: np.ndarray, gt_key: np.ndarray,
               gt_xywh: np.ndarray, crowd: np.ndarray, gt_ignore: np.ndarray,
               thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Match ``D`` detections against ``G`` ground truths (:func:`match_coco_sparse`) →
    ``matched`` and ``ignored`` ``(A, T, D)`` bool: whether each detection matched an object,
    and whether that object was an ignored one (area-range ignoring of unmatched detections
    is left to the caller)."""
    num_a, num_t = gt_ignore.shape[0], len(thresholds)
    matched = np.zeros((num_a, num_t, len(det_key)), dtype=bool)
    ignored = np.zeros((num_a, num_t, len(det_key)), dtype=bool)
    a_i, t_i, det_i, ignored_i = match_coco_sparse(det_key, det_xywh, gt_key, gt_xywh, crowd,
                                                   gt_ignore, thresholds)
    matched[a_i, t_i, det_i] = True
    ignored[a_i, t_i, det_i] = ignored_i
    return matched, ignored


def match_coco_sparse(det_key: np.ndarray, det_xywh: np.ndarray, gt_key: np.ndarray,
                      gt_xywh: np.ndarray, crowd: np.ndarray, gt_ignore: np.ndarray,
                      thresholds: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Match ``D`` detections against ``G`` ground truths.

    ``det_key`` ``(D,)``: group (image × class) of each detection, rows already in evaluation
    order (group, then descending score); ``det_xywh`` ``(D, 4)``; ``gt_key`` ``(G,)``,
    ``gt_xywh`` ``(G, 4)`` in object order; ``crowd`` ``(G,)``; ``gt_ignore`` ``(A, G)`` (crowd or
    outside area range ``a``); ``thresholds`` ``(T,)``.

    Returns the matches as four ``(M,)`` arrays ``(area range, threshold, detection,
    ignored)``, one entry per (area range, threshold) where the detection matched an object;
    ``ignored``: that object is an ignored one (area-range ignoring of unmatched detections is
    left to the caller). Entries come step by step (see the module doc), not sorted.
    """
    num_a, num_t, num_d = gt_ignore.shape[0], len(thresholds), len(det_key)
    none = np.zeros(0, dtype=np.int64)
    d_idx, g_idx = group_pairs(det_key, gt_key)
    if len(d_idx) == 0:
        return none, none, none, np.zeros(0, dtype=bool)
    ious = coco_iou_pairs(det_xywh[d_idx], gt_xywh[g_idx], crowd[g_idx])
    keep = ious >= thresholds.min()
    d_idx, g_idx, ious = d_idx[keep], g_idx[keep], ious[keep]
    if len(d_idx) == 0:
        return none, none, none, np.zeros(0, dtype=bool)

    # candidate rank of each candidate detection inside its group (detections are in order)
    cand = d_idx[np.r_[True, d_idx[1:] != d_idx[:-1]]]  # d_idx is sorted (group_pairs)
    cand_key = det_key[cand]
    first_in_group = np.r_[True, cand_key[1:] != cand_key[:-1]]
    group_start = np.maximum.accumulate(np.where(first_in_group, np.arange(len(cand)), 0))
    cand_rank = np.empty(num_d, dtype=np.int64)
    cand_rank[cand] = np.arange(len(cand)) - group_start
    # pairs by step (candidate rank), keeping detection then object order inside a step
    step_of_pair = cand_rank[d_idx]
    p_order = np.argsort(step_of_pair, kind="stable")
    d_idx, g_idx, ious, step_of_pair = (d_idx[p_order], g_idx[p_order], ious[p_order],
                                        step_of_pair[p_order])
    step_bounds = np.searchsorted(step_of_pair, np.arange(step_of_pair[-1] + 2), side="left")

    gt_used = np.zeros((num_a, num_t, len(gt_key)), dtype=bool)
    thr = thresholds[None, :, None]
    found: list[tuple[np.ndarray, ...]] = []
    for s in range(len(step_bounds) - 1):
        lo, hi = step_bounds[s], step_bounds[s + 1]
        pd, pg, piou = d_idx[lo:hi], g_idx[lo:hi], ious[lo:hi]
        starts = np.flatnonzero(np.r_[True, pd[1:] != pd[:-1]])
        seg = np.cumsum(np.r_[True, pd[1:] != pd[:-1]]) - 1  # pair → its detection's segment
        ok = (piou[None, None, :] >= thr) & (crowd[pg] | ~gt_used[:, :, pg])  # (A, T, P)
        regular = ok & ~gt_ignore[:, None, pg]
        any_regular = np.logical_or.reduceat(regular, starts, axis=2)  # (A, T, S)
        eligible = np.where(any_regular[:, :, seg], regular, ok)
        value = np.where(eligible, piou[None, None, :], -1.0)
        best = np.maximum.reduceat(value, starts, axis=2)
        winner = eligible & (value == best[:, :, seg])
        position = np.where(winner, np.arange(len(pd))[None, None, :], -1)
        last = np.maximum.reduceat(position, starts, axis=2)  # (A, T, S): last best pair or -1
        a_i, t_i, s_i = np.nonzero(last >= 0)
        pair = last[a_i, t_i, s_i]
        det_i, gt_i = pd[pair], pg[pair]
        found.append((a_i, t_i, det_i, gt_ignore[a_i, gt_i]))
        gt_used[a_i, t_i, gt_i] = True
    if not found:
        return none, none, none, np.zeros(0, dtype=bool)
    a_all, t_all, det_all, ignored_all = (np.concatenate(column) for column in zip(*found))
    return a_all, t_all, det_all, ignored_all
