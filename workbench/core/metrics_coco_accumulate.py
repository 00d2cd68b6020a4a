"""pycocotools' ``COCOeval.accumulate`` computed from the true positives only.

pycocotools forms, per class × area range × maxDets × IoU threshold, the running TP and FP
counts over all ranked detections, the precision ``tp / (tp + fp + eps)``, its monotone envelope
(suffix maximum) and samples it at the first detection whose recall reaches each of the 101
recall points. Three facts make most of that work unnecessary:

* the running precision only rises at a true positive (a FP lowers it, an ignored detection
  keeps it), so every suffix maximum is attained at a true positive;
* recall ``tp / npig`` reaches a recall point ``r`` first at the ``j_r``-th true positive, where
  ``j_r`` is the smallest count with ``j_r / npig >= r`` (same float division, so the same
  comparison as pycocotools' ``searchsorted``);
* at the ``j``-th true positive, at position ``p`` (0-based) with ``i`` ignored detections up
  to it, ``fp = p + 1 - j - i``.

So only the TP positions and the ignored counts there are needed: a few passes over the
``(A, T, n)`` match flags instead of a dozen float passes. Numbers are bit-identical.
"""

from __future__ import annotations

import numpy as np


def _ignored_by_row(ignored: np.ndarray, flat_tp: np.ndarray, row: np.ndarray, n: int
                    ) -> np.ndarray:
    """For each true positive, the number of ignored detections in its row up to and
    including it (``np.cumsum(ignored, axis=1)`` there): ``ignored`` ``(rows, n)``,
    ``flat_tp`` the sorted flat indices of the TPs, ``row`` their rows. Counted from the
    sorted flat indices of the ignored flags (one ``flatnonzero`` and two binary searches per
    TP), not from a running count over every detection of every row."""
    flat_ignored = np.flatnonzero(ignored)
    upto = np.searchsorted(flat_ignored, flat_tp, side="right")
    return upto - np.searchsorted(flat_ignored, row * n, side="left")


def class_precision(matched: np.ndarray, ignored: np.ndarray, npig: np.ndarray,
                    recall_thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision ``(A, T, R)`` and recall ``(A, T)`` of one class at one maxDets.

    ``matched``/``ignored`` ``(A, T, n)`` bool: per area range and IoU threshold, the class's
    ``n`` detections in pycocotools' accumulation order; ``npig`` ``(A,)`` non-ignored ground
    truths per area range. Rows with ``npig == 0`` are left at -1 (pycocotools skips them).
    The dense form: :func:`workbench.core.metrics_coco.evaluate_coco` uses
    :func:`sparse_class_precision` (the same numbers from the matches alone; tests compare
    the two).
    """
    num_a, num_t, n = matched.shape
    precision = -np.ones((num_a, num_t, len(recall_thresholds)))
    recall = -np.ones((num_a, num_t))
    if n == 0:
        precision[npig > 0] = 0.0
        recall[npig > 0] = 0.0
        return precision, recall
    tp_mask = matched & ~ignored
    flat_tp = np.flatnonzero(tp_mask)  # sorted by (a, t, position): one index array, not 3
    rows = num_a * num_t
    row = flat_tp // n
    pos = flat_tp - row * n
    row_start = np.searchsorted(row, np.arange(rows + 1), side="left")
    j = np.arange(len(row), dtype=np.int64) - row_start[row] + 1  # 1-based count in its row
    ign_upto = _ignored_by_row(ignored, flat_tp, row, n)
    return _precision_at_tps(row, pos, j, ign_upto, row_start, npig, num_a, num_t,
                             recall_thresholds)


def _precision_at_tps(row: np.ndarray, pos: np.ndarray, j: np.ndarray, ign_upto: np.ndarray,
                      row_start: np.ndarray, npig: np.ndarray, num_a: int, num_t: int,
                      recall_thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision ``(A, T, R)`` and recall ``(A, T)`` from the true positives: ``row``
    (``a * T + t``), ``pos`` (0-based position among the counted detections), ``j`` (1-based
    TP count in its row) and ``ign_upto`` (ignored detections up to and including it), sorted
    by row then position; ``row_start`` bounds each row's."""
    precision = -np.ones((num_a, num_t, len(recall_thresholds)))
    recall = -np.ones((num_a, num_t))
    rows = num_a * num_t
    total_tp = np.diff(row_start)  # (A*T,)
    tp = j.astype(np.float64)
    fp = (pos + 1 - j - ign_upto).astype(np.float64)
    pr = tp / (fp + tp + np.spacing(1))
    # suffix maximum of the precision within each row, over its true positives
    width = int(total_tp.max()) if len(total_tp) else 0
    env: np.ndarray = np.zeros((rows, max(width, 1)))
    env[row, j - 1] = pr
    env = np.maximum.accumulate(env[:, ::-1], axis=1)[:, ::-1]
    total_tp = total_tp.reshape(num_a, num_t)
    env = env.reshape(num_a, num_t, -1)
    for a in np.flatnonzero(npig > 0):
        count = int(npig[a])
        recall[a] = total_tp[a] / count
        # j_r: first TP count whose recall reaches each recall point (0 → the first detection)
        reach = np.searchsorted(np.arange(count + 1) / count, recall_thresholds, side="left")
        take = np.maximum(reach, 1)  # recall point 0: the envelope's value at position 0
        valid = take[None, :] <= total_tp[a][:, None]  # (T, R)
        values = env[a][:, np.minimum(take, env.shape[2]) - 1]
        precision[a] = np.where(valid, values, 0.0)
    return precision, recall


def sparse_class_precision(row: np.ndarray, pos: np.ndarray, gt_ignored: np.ndarray,
                           out: np.ndarray, npig: np.ndarray, num_t: int,
                           recall_thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`class_precision` from the *matched* detections only (same numbers).

    ``row`` (``a * T + t``), ``pos`` (position in accumulation order) and ``gt_ignored``
    (matched to an ignored object) list the matches, sorted by row, then position (a
    selection of sorted matches stays sorted); ``out`` ``(A, n)``: each
    detection's area lies outside range ``a``. pycocotools ignores a detection matched to an
    ignored object and an unmatched one outside the area range, so the ignored detections up
    to position ``p`` of row ``(a, t)`` are the ``out`` ones of range ``a`` up to ``p`` (one
    running count per area range, not per row) corrected at the matches up to ``p``
    (``+ gt_ignored - out``): the work follows the matches, not ``A * T * n`` flags."""
    num_a, n = out.shape
    if n == 0:
        precision = -np.ones((num_a, num_t, len(recall_thresholds)))
        recall = -np.ones((num_a, num_t))
        precision[npig > 0] = 0.0
        recall[npig > 0] = 0.0
        return precision, recall
    area = row // num_t
    row_start = np.searchsorted(row, np.arange(num_a * num_t + 1), side="left")
    first = row_start[row]  # each match's row's first match
    change = gt_ignored.astype(np.int64) - out[area, pos]
    change_upto = np.cumsum(change)
    change_upto -= (change_upto - change)[first]  # running sum inside the row (inclusive)
    tps = np.flatnonzero(~gt_ignored)
    tp_count = np.cumsum(~gt_ignored, dtype=np.int64)
    j = (tp_count - (tp_count - ~gt_ignored)[first])[tps]  # 1-based TP count in its row
    row, pos, area, change_upto = row[tps], pos[tps], area[tps], change_upto[tps]
    out_upto = np.cumsum(out, axis=1, dtype=np.int64)  # (A, n)
    ign_upto = out_upto[area, pos] + change_upto
    tp_start = np.searchsorted(row, np.arange(num_a * num_t + 1), side="left")
    return _precision_at_tps(row, pos, j, ign_upto, tp_start, npig, num_a, num_t,
                             recall_thresholds)
