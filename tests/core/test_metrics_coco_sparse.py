"""COCO accumulation from the matches only (``sparse_class_precision``) equals the dense
``class_precision`` over ``(A, T, n)`` flags, bit for bit; ``match_coco_sparse`` lists exactly
the matches ``match_coco`` flags."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.metrics_coco import IOU_THRESHOLDS, RECALL_THRESHOLDS
from workbench.core.metrics_coco_accumulate import class_precision, sparse_class_precision
from workbench.core.metrics_coco_match import match_coco, match_coco_sparse
from workbench.core.metrics_data import stable_key_order


def _dense_and_sparse(matched, gt_ignored, out, npig):
    """Both forms of one class: ``matched``/``gt_ignored`` ``(A, T, n)`` in accumulation
    order, ``out`` ``(A, n)``."""
    num_a, num_t, n = matched.shape
    ignored = (matched & gt_ignored) | (~matched & out[:, None, :])
    dense = class_precision(matched, ignored, npig, RECALL_THRESHOLDS)
    a, t, p = np.nonzero(matched)
    row = a * num_t + t
    by_row = stable_key_order(row, p) if len(row) else row
    sparse = sparse_class_precision(row[by_row], p[by_row], gt_ignored[a, t, p][by_row], out,
                                    npig, num_t, RECALL_THRESHOLDS)
    return dense, sparse


@pytest.mark.parametrize("seed", range(12))
def test_sparse_accumulation_equals_the_dense_flags(seed):
    rng = np.random.default_rng(seed)
    num_a, num_t = 4, 10
    n = int(rng.integers(0, 300))
    density = rng.choice([0.0, 0.05, 0.3, 0.9])
    matched = rng.random((num_a, num_t, n)) < density
    gt_ignored = matched & (rng.random((num_a, num_t, n)) < rng.choice([0.0, 0.2, 1.0]))
    out = rng.random((num_a, n)) < rng.choice([0.0, 0.3, 1.0])
    npig = rng.integers(0, 40, num_a) * (rng.random(num_a) < 0.8)
    (dense_p, dense_r), (sparse_p, sparse_r) = _dense_and_sparse(matched, gt_ignored, out, npig)
    assert dense_p.tobytes() == sparse_p.tobytes()
    assert dense_r.tobytes() == sparse_r.tobytes()


def test_literal_row_ignored_counts():
    # one area range, one threshold, 6 detections in accumulation order:
    # TP, out-of-range unmatched (ignored), FP, matched to an ignored object (ignored), TP, FP
    matched = np.array([[[1, 0, 0, 1, 1, 0]]], dtype=bool)
    gt_ignored = np.array([[[0, 0, 0, 1, 0, 0]]], dtype=bool)
    out = np.array([[0, 1, 0, 0, 0, 0]], dtype=bool)
    npig = np.array([4])
    (dense_p, dense_r), (sparse_p, sparse_r) = _dense_and_sparse(matched, gt_ignored, out, npig)
    assert sparse_r.tolist() == [[0.5]]  # 2 TPs of 4
    # precision at the TPs: 1/1, then 2/3 (one FP counted; the two ignored are not)
    eps = np.spacing(1)
    envelope = [1 / (1 + eps), 2 / (3 + eps)]
    # recall points 0..0.25 → the first TP's envelope, 0.26..0.5 → the second's, then 0
    want = [envelope[0] if r <= 0.25 else envelope[1] if r <= 0.5 else 0.0
            for r in RECALL_THRESHOLDS]
    assert sparse_p[0, 0].tolist() == want
    assert dense_p.tobytes() == sparse_p.tobytes()


def test_match_coco_sparse_lists_the_dense_matches():
    rng = np.random.default_rng(5)
    num_d, num_g = 400, 60
    det_key = np.sort(rng.integers(0, 15, num_d))
    gt_key = rng.integers(0, 15, num_g)
    gt_xy = rng.uniform(0, 80, (num_g, 2))
    gt_xywh = np.c_[gt_xy, rng.uniform(5, 40, (num_g, 2))]
    source = rng.integers(0, num_g, num_d)  # detections near some object
    det_xywh = gt_xywh[source] + rng.normal(0, 3, (num_d, 4))
    det_xywh[:, 2:] = np.abs(det_xywh[:, 2:]) + 1
    crowd = rng.random(num_g) < 0.1
    area = gt_xywh[:, 2] * gt_xywh[:, 3]
    gt_ignore = np.stack([crowd, crowd | (area > 400), crowd | (area < 400), crowd])
    matched, ignored = match_coco(det_key, det_xywh, gt_key, gt_xywh, crowd, gt_ignore,
                                  IOU_THRESHOLDS)
    a, t, d, ign = match_coco_sparse(det_key, det_xywh, gt_key, gt_xywh, crowd, gt_ignore,
                                     IOU_THRESHOLDS)
    assert matched.sum() > 100  # the case matches a lot, crowds and ignored objects included
    assert ignored.sum() > 0
    listed = np.zeros_like(matched)
    listed[a, t, d] = True
    assert len(a) == matched.sum()  # each (range, threshold, detection) once
    assert (listed == matched).all()
    assert (ignored[a, t, d] == ign).all()
