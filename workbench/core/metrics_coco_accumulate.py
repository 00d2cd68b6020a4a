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
    total_tp = np.diff(row_start)  # (A*T,)
    j = np.arange(len(row), dtype=np.int64) - row_start[row] + 1  # 1-based count in its row
    ign_upto = _ignored_by_row(ignored, flat_tp, row, n)
    tp = j.astype(np.float64)
    fp = (pos + 1 - j - ign_upto).astype(np.float64)
    pr = tp / (fp + tp + np.spacing(1))
    # suffix maximum of the precision within each row, over its true positives
    width = int(total_tp.max()) if len(total_tp) else 0
    env = np.zeros((rows, max(width, 1)))
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
