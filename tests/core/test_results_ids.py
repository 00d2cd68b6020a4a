"""COCO results ids → names (core/results.py ``_mapped``): the lookup table of the usual
small ids and the sorting path of any other ids give the same codes, as ``np.unique``."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.results import _mapped


@pytest.mark.parametrize("ids", [
    [3, 1, 1, 2, 3, 3],                  # 1..N
    [7.9, 7.0, 2.2],                     # int() truncates: 7, 7, 2
    [10 ** 12, 5, 10 ** 12],             # far beyond the table: sorted instead
    [0, 4, 0],
])
def test_codes_equal_np_unique(ids):
    column = np.asarray(ids, dtype=np.float64)
    mapping = {int(v): f"n{int(v)}" for v in column}
    codes, names = _mapped(column, mapping)
    unique, inverse = np.unique(column.astype(np.int64), return_inverse=True)
    assert codes.tolist() == inverse.reshape(-1).tolist()
    assert names == [f"n{u}" for u in unique.tolist()]


def test_an_id_outside_the_mapping():
    codes, names = _mapped(np.array([1.0, 2.0, 9.0]), {1: "a", 2: "b"})
    assert codes is None and names == []
