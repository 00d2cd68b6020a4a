"""SSD hard-negative mining (issue 16): a hand-made loss vector, and torchvision's own rule."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from workbench.core.hard_negatives import kept_indices, mine_hard_negatives, negative_budget

#                  0    1    2    3    4    5    6     7    8    9
LOSS = np.array([0.1, 0.9, 0.3, 0.9, 0.5, 0.2, 0.8, 0.05, 0.7, 0.4])
POS = np.zeros(10, bool)
POS[[1, 6]] = True          # two positives with high losses: never "negatives"


def test_hand_made_loss_vector() -> None:
    # 2 positives -> 3:1 keeps min(6, 8) = 6 negatives: 3 (.9), 8 (.7), 4 (.5), 9 (.4), 2 (.3), 5.
    assert kept_indices(LOSS, POS) == [3, 8, 4, 9, 2, 5]
    mask = mine_hard_negatives(LOSS, POS)
    assert np.nonzero(mask)[0].tolist() == [2, 3, 4, 5, 8, 9]
    assert not (mask & POS).any()
    assert kept_indices(LOSS, POS, ratio=1) == [3, 8]
    assert kept_indices(LOSS, POS, ratio=0) == []
    # Budget larger than the negatives: all 8 kept (torchvision would add the positives too).
    assert kept_indices(LOSS, POS, ratio=10) == [3, 8, 4, 9, 2, 5, 0, 7]
    assert kept_indices(LOSS, np.zeros(10, bool)) == []       # no positive, no negative kept


def test_ties_go_to_the_lower_index() -> None:
    loss = np.array([0.5, 0.7, 0.5, 0.5, 0.7, 0.1])
    pos = np.array([False, False, False, False, False, True])
    assert kept_indices(loss, pos, ratio=1) == [1]
    assert kept_indices(loss, pos, ratio=3) == [1, 4, 0]
    assert kept_indices(loss, pos, ratio=4) == [1, 4, 0, 2]


def test_budget_and_errors() -> None:
    assert negative_budget(2, 8) == 6 and negative_budget(4, 5) == 5
    assert negative_budget(3, 100, ratio=2.5) == 7
    with pytest.raises(ValueError, match="ratio"):
        negative_budget(1, 1, ratio=-1)
    with pytest.raises(ValueError, match="losses"):
        mine_hard_negatives(np.zeros(3), np.zeros(4, bool))


def _torchvision_selection(loss: np.ndarray, pos: np.ndarray, ratio: int, stable: bool):  # noqa: ANN202
    """torchvision.models.detection.ssd.SSD.compute_loss's hard-negative lines, one image."""
    import torch

    cls_loss = torch.from_numpy(loss)[None]
    foreground_idxs = torch.from_numpy(pos)[None]
    num_negative = ratio * foreground_idxs.sum(1, keepdim=True)
    negative_loss = cls_loss.clone()
    negative_loss[foreground_idxs] = -float("inf")
    if stable:
        values, idx = negative_loss.sort(dim=1, descending=True, stable=True)
    else:  # torchvision's own call
        values, idx = negative_loss.sort(1, descending=True)
    background_idxs = idx.sort(1)[1] < num_negative
    return background_idxs[0].numpy()


def test_the_rule_is_still_torchvisions() -> None:
    from torchvision.models.detection.ssd import SSD

    src = inspect.getsource(SSD.compute_loss)
    assert "negative_loss[foreground_idxs] = -float(\"inf\")" in src
    assert "values, idx = negative_loss.sort(1, descending=True)" in src
    assert "background_idxs = idx.sort(1)[1] < num_negative" in src
    assert "num_negative = self.neg_to_pos_ratio * foreground_idxs.sum(1, keepdim=True)" in src


def test_matches_torchvision_on_random_losses() -> None:
    rng = np.random.default_rng(16)
    for trial in range(50):
        n = int(rng.integers(20, 400))
        loss = rng.random(n)
        pos = rng.random(n) < rng.uniform(0.0, 0.2)
        ratio = int(rng.integers(1, 5))
        if ratio * pos.sum() > (~pos).sum():   # torchvision then counts positives as well
            continue
        ours = mine_hard_negatives(loss, pos, ratio)
        np.testing.assert_array_equal(ours, _torchvision_selection(loss, pos, ratio, False),
                                      err_msg=f"trial {trial}")
    # With ties (losses on a coarse grid), a stable descending sort is our lower-index rule.
    for _ in range(20):
        loss = rng.integers(0, 4, 200).astype(np.float64)
        pos = rng.random(200) < 0.1
        ours = mine_hard_negatives(loss, pos, 3)
        np.testing.assert_array_equal(ours, _torchvision_selection(loss, pos, 3, True))
        theirs = _torchvision_selection(loss, pos, 3, False)   # unstable: same count and sum
        assert theirs.sum() == ours.sum() and loss[theirs].sum() == loss[ours].sum()
