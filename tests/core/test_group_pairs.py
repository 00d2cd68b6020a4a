"""``group_pairs`` (core/metrics_data.py): the per-key table of dense image × class keys and
the binary search of sparse ones give the same pairs in the same order."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.metrics_data import group_pairs


def _reference(det_key, gt_key):
    pairs = [(d, g) for d in range(len(det_key)) for g in range(len(gt_key))
             if det_key[d] == gt_key[g]]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@pytest.mark.parametrize("scale", [1, 10 ** 9])  # dense: the table; sparse: searchsorted
def test_pairs_by_detection_then_object_order(scale):
    rng = np.random.default_rng(scale % 97)
    det_key = rng.integers(0, 30, 200) * scale
    gt_key = rng.integers(0, 30, 60) * scale
    d, g = group_pairs(det_key, gt_key)
    want_d, want_g = _reference(det_key.tolist(), gt_key.tolist())
    assert d.tolist() == want_d and g.tolist() == want_g


def test_empty_sides():
    empty = np.zeros(0, dtype=np.int64)
    for det_key, gt_key in ((empty, np.arange(3)), (np.arange(3), empty), (empty, empty)):
        d, g = group_pairs(det_key, gt_key)
        assert len(d) == len(g) == 0
