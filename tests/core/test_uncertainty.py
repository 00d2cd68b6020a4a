"""core.uncertainty: the label-next score on hand-made detections, and the ranking order."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.uncertainty import Uncertainty, image_uncertainty, rank

A = (0.0, 0.0, 10.0, 10.0)
A2 = (0.0, 0.0, 10.0, 8.0)    # IoU with A = 0.8
B = (20.0, 20.0, 30.0, 30.0)  # far from A
A_HALF = (0.0, 0.0, 10.0, 5.0)  # IoU with A = 0.5 exactly


def u(boxes, scores, labels, **kw) -> Uncertainty:
    return image_uncertainty("x", np.asarray(boxes, float).reshape(-1, 4), np.asarray(scores),
                             np.asarray(labels), **kw)


def test_band_count() -> None:
    r = u([A, B, A, B, A], [0.9, 0.7, 0.5, 0.3, 0.25], ["cat"] * 5)
    assert (r.in_band, r.close_pairs, r.min_margin, r.score) == (3, 0, None, 3.0)
    assert u([], [], []).score == 0.0


def test_close_pair_margin() -> None:
    # cat 0.75 and dog 0.5 on the same object: one pair, margin 0.25; dog is in the band
    r = u([A, A2], [0.75, 0.5], ["cat", "dog"])
    assert (r.in_band, r.close_pairs, r.min_margin) == (1, 1, 0.25)
    assert r.score == 1.75
    assert r.describe() == "1 in band, 1 close pair (margin 0.25)"
    # the same class twice is no pair; another place is no pair; IoU 0.5 counts (>=)
    assert u([A, A2], [0.75, 0.5], ["cat", "cat"]).close_pairs == 0
    assert u([A, B], [0.75, 0.5], ["cat", "dog"]).close_pairs == 0
    assert u([A, A_HALF], [0.75, 0.5], ["cat", "dog"]).close_pairs == 1
    assert u([A, A_HALF], [0.75, 0.5], ["cat", "dog"], iou=0.6).close_pairs == 0


def test_three_classes_on_one_object_make_two_pairs() -> None:
    # cat 1.0 → rival dog 0.875 (margin 0.125); dog → rival fox 0.375 (0.5); fox → none
    r = u([A, A, A2], [0.875, 1.0, 0.375], ["dog", "cat", "fox"])
    assert (r.in_band, r.close_pairs, r.min_margin) == (1, 2, 0.125)
    assert r.score == 1 + (1 - 0.125) + (1 - 0.5)
    assert r.describe() == "1 in band, 2 close pairs (margin 0.12)"


def test_below_the_band_is_ignored_and_band_checked() -> None:
    r = u([A, A2], [0.75, 0.25], ["cat", "dog"])  # dog below lo=0.3: no pair either
    assert (r.in_band, r.close_pairs, r.score) == (0, 0, 0.0)
    r = u([A, A2], [0.75, 0.25], ["cat", "dog"], band=(0.2, 0.8))
    assert (r.in_band, r.close_pairs, r.score) == (2, 1, 2.5)
    with pytest.raises(ValueError, match="lo <= hi"):
        u([A], [0.5], ["cat"], band=(0.7, 0.3))
    with pytest.raises(ValueError, match="1 boxes, 2 scores"):
        u([A], [0.5, 0.4], ["cat", "dog"])


def test_rank_is_deterministic() -> None:
    items = [Uncertainty("img10", 1.0, 1, 0), Uncertainty("img2", 1.0, 1, 0),
             Uncertainty("b", 2.5, 1, 1, 0.5), Uncertainty("Img2", 1.0, 1, 0),
             Uncertainty("a", 0.0, 0, 0)]
    assert [x.image for x in rank(items)] == ["b", "Img2", "img2", "img10", "a"]
    assert [x.image for x in rank(reversed(items))] == ["b", "Img2", "img2", "img10", "a"]
