"""SSD hard-negative mining (Liu et al. 2016 sec. 2.2): which negative priors training keeps.

After matching, most priors are negatives. SSD does not train on all of them: it sorts the
negatives by their confidence (classification) loss, highest first, and keeps the top ones so
that negatives : positives is at most ``ratio : 1`` (3:1 in the paper and in torchvision). Here
the number kept is ``min(ratio * num_pos, num_neg)``.

Same rule as torchvision's ``SSD.compute_loss`` (``torchvision/models/detection/ssd.py``)::

    negative_loss = cls_loss.clone()
    negative_loss[foreground_idxs] = -float("inf")
    values, idx = negative_loss.sort(1, descending=True)
    background_idxs = idx.sort(1)[1] < num_negative          # num_negative = 3 * num_pos

i.e. rank the priors by loss, descending, with the positives pushed to the end, and keep the
first ``num_negative`` ranks. **Ties** are broken by the lower prior index, which is what a
stable descending sort gives (``torch.sort`` on CPU, and ``np.argsort(kind="stable")`` on the
negated loss here); torchvision asks for an unstable sort, so on exact ties it may keep another
of the equal-loss priors (same count, same loss sum). One difference on purpose: when
``3 * num_pos`` exceeds the number of negatives, torchvision's rank test also selects positives
(the ``-inf`` entries) as "background"; here only negatives are ever kept.
"""

from __future__ import annotations

import numpy as np


def negative_budget(num_pos: int, num_neg: int, ratio: float = 3.0) -> int:
    """How many negatives are kept: ``min(int(ratio * num_pos), num_neg)``."""
    if ratio < 0:
        raise ValueError(f"ratio must be >= 0, got {ratio}")
    return int(min(int(ratio * num_pos), num_neg))


def mine_hard_negatives(conf_loss: np.ndarray, positive: np.ndarray,
                        ratio: float = 3.0) -> np.ndarray:
    """The ``(P,)`` boolean mask of the negatives SSD keeps.

    ``conf_loss`` ``(P,)``: each prior's confidence loss (for a negative, its loss against the
    background class); ``positive`` ``(P,)`` bool: the matched priors. Every prior that is not
    positive is a negative (SSD's matcher ignores no prior; for an RPN-style labelling, drop the
    ignored priors before calling).
    """
    loss = np.asarray(conf_loss, dtype=np.float64).reshape(-1)
    pos = np.asarray(positive, dtype=bool).reshape(-1)
    if loss.shape != pos.shape:
        raise ValueError(f"{loss.shape[0]} losses but {pos.shape[0]} positive flags")
    keep = np.zeros(loss.shape, dtype=bool)
    k = negative_budget(int(pos.sum()), int((~pos).sum()), ratio)
    if k == 0:
        return keep
    ranked = np.where(pos, -np.inf, loss)
    order = np.argsort(-ranked, kind="stable")      # highest loss first, lower index on ties
    keep[order[:k]] = True
    return keep


def kept_indices(conf_loss: np.ndarray, positive: np.ndarray, ratio: float = 3.0) -> list[int]:
    """The kept negatives' prior indices, highest loss first (ties: lower index first)."""
    loss = np.asarray(conf_loss, dtype=np.float64).reshape(-1)
    mask = mine_hard_negatives(loss, positive, ratio)
    idx = np.nonzero(mask)[0]
    return [int(i) for i in idx[np.argsort(-loss[idx], kind="stable")]]


def mining_counts(conf_loss: np.ndarray, positive: np.ndarray,
                  ratio: float = 3.0) -> dict[str, int | float]:
    """``{"ratio", "positives", "negatives", "kept", "not_kept"}`` of one image's mining."""
    pos = np.asarray(positive, dtype=bool).reshape(-1)
    kept = int(mine_hard_negatives(conf_loss, pos, ratio).sum())
    negatives = int((~pos).sum())
    return {"ratio": float(ratio), "positives": int(pos.sum()), "negatives": negatives,
            "kept": kept, "not_kept": negatives - kept}
