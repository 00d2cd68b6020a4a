"""core.hard_negatives.mining_counts on a hand-made loss vector (issue 16)."""

from __future__ import annotations

import numpy as np

from workbench.core.hard_negatives import mining_counts

LOSS = np.array([0.1, 0.9, 0.3, 0.9, 0.5, 0.2, 0.8, 0.05, 0.7, 0.4])
POS = np.zeros(10, bool)
POS[[1, 6]] = True


def test_mining_counts() -> None:
    assert mining_counts(LOSS, POS) == {"ratio": 3.0, "positives": 2, "negatives": 8,
                                        "kept": 6, "not_kept": 2}
    assert mining_counts(LOSS, POS, 1.5)["kept"] == 3
    assert mining_counts(LOSS, POS, 10)["kept"] == 8
    assert mining_counts(LOSS, np.zeros(10, bool))["kept"] == 0
