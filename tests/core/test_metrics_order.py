"""metrics_data's packed-key sorts: the exact permutations of np.lexsort / stable argsort."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.metrics_data import (
    descending_ranks,
    score_order,
    stable_key_order,
)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000, 20000])
@pytest.mark.parametrize("decimals", [0, 1, 3, 6])
def test_score_order_is_the_stable_lexsort(n, decimals):
    rng = np.random.default_rng(n * 10 + decimals)
    scores = np.round(rng.random(n), decimals)  # few decimals: many ties
    scores[::5] = -0.0  # equal to 0.0: ties, not ordered before it
    scores[1::9] = 0.0
    scores[2::13] = np.inf
    key = rng.integers(0, 20, n)
    assert np.array_equal(score_order(scores, key), np.lexsort((-scores, key)))
    assert np.array_equal(score_order(scores), np.argsort(-scores, kind="stable"))
    assert np.array_equal(stable_key_order(key), np.argsort(key, kind="stable"))
    assert score_order(scores, key).dtype == np.int64


def test_literal_order_with_ties():
    scores = np.array([0.5, 0.9, 0.5, -0.0, 0.9, 0.0, 0.7])
    key = np.array([1, 0, 0, 0, 1, 0, 1])
    # key 0: 0.9 (row 1), 0.5 (row 2), -0.0 (3), 0.0 (5) ; key 1: 0.9 (4), 0.7 (6), 0.5 (0)
    assert score_order(scores, key).tolist() == [1, 2, 3, 5, 4, 6, 0]
    assert descending_ranks(scores).tolist() == [2, 0, 2, 3, 0, 3, 1]


def test_keys_too_wide_to_pack_fall_back_to_lexsort():
    # 3 rows x spans (2^40, 2^30): 2^71 > 2^63, so no packing
    a = np.array([2 ** 40 - 1, 0, 2 ** 40 - 1], dtype=np.int64)
    b = np.array([5, 2 ** 30 - 1, 1], dtype=np.int64)
    assert stable_key_order(a, b).tolist() == [1, 2, 0]
    assert stable_key_order(a, b).tolist() == np.lexsort((b, a)).tolist()
    negative = np.array([3, -1, 3, 0])
    assert stable_key_order(negative).tolist() == [1, 3, 0, 2]


def test_compact_index_equals_the_plain_index():
    from workbench.core.metrics_data import _compact_index

    for names in ([], [""], ["a"], ["b", "a", "b"], ["x\0y", "z"], ["", "", "q"],
                  [f"{i:06d}" for i in range(1000)]):
        assert _compact_index(names) == {n: i for i, n in enumerate(names)}, names
