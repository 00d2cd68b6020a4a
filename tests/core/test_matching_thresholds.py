"""Editable matching thresholds (issue 16): counts of positives / negatives / ignored."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.matching import match_priors

# Five priors on a 100x100 image; IoU with object A (0, 0, 50, 50): 1.0, 0.8, 0.5, 0.4, 0;
# prior 4 overlaps the small object B only (IoU 0.0625), so B takes it by the best-prior rule.
PRIORS = np.array([[0, 0, 50, 50], [0, 0, 50, 40], [0, 0, 50, 25], [0, 0, 50, 20],
                   [60, 60, 100, 100]], dtype=np.float64)
GT = np.array([[0, 0, 50, 50], [70, 70, 80, 80]], dtype=np.float64)


def _counts(kind, **kw) -> tuple[int, int, int]:  # noqa: ANN001
    c = match_priors(PRIORS, GT, kind, **kw).counts()
    return c["positives"], c["negatives"], c["ignored"]


@pytest.mark.parametrize(("threshold", "expected"), [
    (None, (4, 1, 0)),   # 0.5: 0, 1, 2 (IoU exactly 0.5 counts) + 4 forced; 3 negative
    (0.4, (5, 0, 0)),
    (0.51, (3, 2, 0)),
    (0.9, (2, 3, 0)),    # only prior 0 above, 4 forced
])
def test_ssd_threshold(threshold, expected) -> None:  # noqa: ANN001
    assert _counts("ssd", positive_threshold=threshold,
                   negative_threshold=threshold) == expected


@pytest.mark.parametrize(("fg", "bg", "expected"), [
    (None, None, (3, 0, 2)),   # 0.7 / 0.3: 0, 1 + 4 (best anchor of B); 2, 3 ignored
    (0.5, 0.45, (4, 1, 0)),    # 0, 1, 2 + 4; 3 (0.4) below 0.45
    (0.9, 0.3, (2, 0, 3)),     # 0 + 4; 1, 2, 3 between
    (0.9, 0.9, (2, 3, 0)),     # no band: nothing ignored
])
def test_rpn_thresholds(fg, bg, expected) -> None:  # noqa: ANN001
    assert _counts("rpn", positive_threshold=fg, negative_threshold=bg) == expected


def test_counts_document_and_bad_thresholds() -> None:
    r = match_priors(PRIORS, GT, "rpn")
    assert r.counts() == {"positive_threshold": 0.7, "negative_threshold": 0.3,
                          "positives": 3, "negatives": 0, "ignored": 2}
    assert r.num_ignored == 2
    with pytest.raises(ValueError, match="thresholds"):
        match_priors(PRIORS, GT, "rpn", positive_threshold=0.3, negative_threshold=0.7)
    with pytest.raises(ValueError, match="thresholds"):
        match_priors(PRIORS, GT, "ssd", positive_threshold=1.5, negative_threshold=1.5)
