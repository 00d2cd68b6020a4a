"""The Priors panel's hard-negative mining: its job body and texts (no Qt state, no torch at
import; the job imports the engine on the worker).

SSD trains on every positive prior and only the hardest negatives, at most ``ratio`` per
positive, ranked by the trained model's confidence loss (:mod:`workbench.core.hard_negatives`).
The losses come from the checkpoint's own head on the current photo
(:mod:`workbench.engine.ssd_losses`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.core.hard_negatives import mine_hard_negatives
from workbench.core.wording import count

#: What the Mining tab says when there is no SSD checkpoint to ask.
NEEDS_CHECKPOINT = (
    "Hard-negative mining ranks the negative priors by a trained SSD's confidence loss on this "
    "image, so it needs an SSD-family checkpoint (ssd300_vgg16, ssdlite320_mobilenet_v3_large, "
    "demo_ssdlite_cpu): pick one with Checkpoint…, load one in the Detections panel, or finish "
    "a training run — the panel then offers it in the Detector list.")
NOT_SSD = (
    "Faster R-CNN does not mine hard negatives: its RPN draws a random sample of 256 anchors, "
    "at most half positive (Matching tab). Mining is SSD's (choose an SSD-family checkpoint).")


def class_indices(names: Sequence[str], classes: Sequence[str]) -> list[int]:
    """1-based class index of each ground-truth name in the checkpoint's ``classes`` (0: a
    class the checkpoint does not know)."""
    index = {c: i + 1 for i, c in enumerate(classes)}
    return [index.get(n, 0) for n in names]


def losses_job(model: Any, classes: Sequence[str], rgb: np.ndarray, gt: np.ndarray,
               names: Sequence[str], iou_threshold: float) -> Any:
    """Worker body: :class:`workbench.engine.ssd_losses.PriorLosses` of ``model`` on ``rgb``."""
    from workbench.engine.ssd_losses import prior_confidence_losses

    return prior_confidence_losses(model, rgb, gt, class_indices(names, classes),
                                   iou_threshold=iou_threshold)


def mined(losses: Any, ratio: float) -> np.ndarray:
    """The kept negatives ``(P,)`` of ``losses`` (a PriorLosses) at ``ratio``: ranked by the
    loss against background, SSD's rule."""
    return mine_hard_negatives(losses.background_loss, losses.positive, ratio)


def mining_text(losses: Any, kept: np.ndarray, ratio: float) -> str:
    """Counts and loss ranges of one mining, for the tab."""
    pos = losses.positive
    negatives = int((~pos).sum())
    n_kept = int(kept.sum())
    text = (f"{count(int(pos.sum()), 'positive')} (IoU ≥ {losses.iou_threshold:g} or an object's "
            f"best prior), {negatives:,} negatives: {n_kept:,} kept at {ratio:g}:1 (red, highest "
            f"confidence loss), {negatives - n_kept:,} not kept (grey).")
    if n_kept:
        lk = losses.background_loss[kept]
        text += f" Kept losses {lk.max():.3f} … {lk.min():.3f}"
        rest = ~pos & ~kept
        if rest.any():
            text += f"; the highest not kept {losses.background_loss[rest].max():.3f}"
        text += "."
    elif not pos.any():
        text += " No positive on this image: SSD keeps no negative from it."
    if abs(losses.model_threshold - losses.iou_threshold) > 1e-9:
        text += (f" This checkpoint trained with IoU ≥ {losses.model_threshold:g}: set Match "
                 "IoU to it to see its training's positives.")
    budget = int(ratio * int(pos.sum()))
    if budget > negatives:
        text += f" The budget {budget:,} exceeds the negatives: all are kept."
    return text
