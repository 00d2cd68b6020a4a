"""Which priors/anchors a detector would train as positives for an image's ground truth.

Two rules, as torchvision implements them (``torchvision.models.detection._utils``):

* **SSD** (``SSDMatcher(0.5)``; Liu et al. 2016 sec. 2.2 "Matching strategy"): a prior is
  positive for the object it overlaps most when that IoU is ``>= 0.5``; in addition every object
  claims its single best prior (argmax over priors), whatever the IoU. The rest are negatives, of
  which training keeps at most 3 per positive, the hardest by loss (sec. 2.2 "Hard negative
  mining"), so an image's negative budget is ``min(3 * positives, negatives)``.
* **RPN** (``Matcher(0.7, 0.3, allow_low_quality_matches=True)``; Ren et al. 2015 sec. 3.1.2):
  IoU ``>= 0.7`` positive, ``< 0.3`` negative, in between ignored; every anchor tied for an
  object's highest IoU is made positive too (matched to the object it overlaps most). Training
  samples 256 anchors, at most half positive (``BalancedPositiveNegativeSampler(256, 0.5)``).
  torchvision keeps anchors that cross the image border (the paper drops them in training).

An object without any prior at the threshold is *flagged*: it is positive only through the
best-prior rule (or not at all when another object took that prior), which tells the user that
it is too small, too large or too elongated for this detector's priors.

IoU, and therefore matching, is unchanged by per-axis scaling, so priors mapped onto the photo
(:meth:`PriorSet.for_image`) match exactly as they do on the detector input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from workbench.core.boxes import iou_matrix
from workbench.core.geometry import RPN_BOX_CODER, ssd_box_coder

MatchKind = Literal["ssd", "rpn"]

#: matched_gt value of a negative prior / of an ignored anchor (torchvision's codes).
NEGATIVE = -1
IGNORED = -2


@dataclass(frozen=True)
class ObjectMatch:
    """Matching summary for one ground-truth object."""

    index: int
    positives: int            # priors matched to this object (threshold + best-prior rule)
    above_threshold: int      # of those, with IoU >= the positive threshold
    best_iou: float           # highest IoU over all priors
    best_prior: int           # global index of that prior
    flagged: bool             # no prior reaches the positive threshold

    @property
    def reason(self) -> str:
        if not self.flagged:
            return ""
        if self.positives == 0:
            return f"no positive prior (best IoU {self.best_iou:.2f}, taken by another object)"
        return f"only its best prior (IoU {self.best_iou:.2f}) is positive: too small, " \
               f"too large or too elongated for these priors"


@dataclass(frozen=True)
class MatchResult:
    """Per-prior labels and per-object / per-map counts.

    ``matched_gt`` ``(P,)``: object index for positives, :data:`NEGATIVE` or :data:`IGNORED`;
    ``best_iou`` ``(P,)`` each prior's highest IoU with any object; ``forced`` ``(P,)`` positives
    below the threshold (best-prior rule); ``map_index`` ``(P,)`` feature map of each prior.
    """

    kind: MatchKind
    positive_threshold: float
    negative_threshold: float
    matched_gt: np.ndarray
    best_iou: np.ndarray
    forced: np.ndarray
    objects: tuple[ObjectMatch, ...]
    map_positives: tuple[int, ...]
    map_negatives: tuple[int, ...]
    map_ignored: tuple[int, ...]

    @property
    def positive(self) -> np.ndarray:
        return self.matched_gt >= 0

    @property
    def negative(self) -> np.ndarray:
        return self.matched_gt == NEGATIVE

    @property
    def ignored(self) -> np.ndarray:
        return self.matched_gt == IGNORED

    @property
    def num_positive(self) -> int:
        return int(self.positive.sum())

    @property
    def num_negative(self) -> int:
        return int(self.negative.sum())

    @property
    def num_ignored(self) -> int:
        return int(self.ignored.sum())

    def counts(self) -> dict[str, int | float]:
        """``{"positive_threshold", "negative_threshold", "positives", "negatives", "ignored"}``."""
        return {"positive_threshold": self.positive_threshold,
                "negative_threshold": self.negative_threshold,
                "positives": self.num_positive, "negatives": self.num_negative,
                "ignored": self.num_ignored}

    @property
    def hard_negative_budget(self) -> int:
        """SSD: negatives kept by 3:1 hard-negative mining, ``min(3 * pos, negatives)``."""
        return min(3 * self.num_positive, self.num_negative)

    def rpn_sample(self, batch: int = 256, positive_fraction: float = 0.5) -> tuple[int, int]:
        """RPN: ``(positives, negatives)`` the balanced sampler draws for this image."""
        pos = min(int(batch * positive_fraction), self.num_positive)
        return pos, min(batch - pos, self.num_negative)

    @property
    def flagged(self) -> list[ObjectMatch]:
        return [o for o in self.objects if o.flagged]


def _labels(iou: np.ndarray, kind: MatchKind, high: float, low: float) -> np.ndarray:
    """torchvision ``Matcher`` / ``SSDMatcher`` on an ``(G, P)`` IoU matrix → ``(P,)``."""
    num_gt, num_priors = iou.shape
    if num_gt == 0:
        return np.full(num_priors, NEGATIVE, dtype=np.int64)
    matched_vals = iou.max(axis=0)
    all_matches = iou.argmax(axis=0)
    matches = all_matches.copy()
    matches[matched_vals < low] = NEGATIVE
    matches[(matched_vals >= low) & (matched_vals < high)] = IGNORED
    if kind == "rpn":  # allow_low_quality_matches: every prior tied for an object's best
        best_per_gt = iou.max(axis=1, keepdims=True)
        _gt, prior_idx = np.nonzero(iou == best_per_gt)
        matches[prior_idx] = all_matches[prior_idx]
    else:  # SSDMatcher: each object takes its (first) best prior; later objects win ties
        best_prior = iou.argmax(axis=1)
        matches[best_prior] = np.arange(num_gt)
    return matches


def match_priors(
    priors: np.ndarray,
    gt_boxes: np.ndarray,
    kind: MatchKind = "ssd",
    *,
    map_offsets: np.ndarray | None = None,
    positive_threshold: float | None = None,
    negative_threshold: float | None = None,
) -> MatchResult:
    """Label ``(P, 4)`` priors against ``(G, 4)`` ground-truth boxes (same coordinates, ``xyxy``).

    ``map_offsets`` (``PriorSet.offsets``) splits the counts per feature map. Thresholds default
    to SSD 0.5/0.5 and RPN 0.7/0.3: IoU ``>= positive_threshold`` positive, ``<
    negative_threshold`` negative, in between ignored (none for SSD, whose two are equal).
    """
    priors = np.asarray(priors, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    high = positive_threshold if positive_threshold is not None else (0.5 if kind == "ssd"
                                                                      else 0.7)
    low = negative_threshold if negative_threshold is not None else (high if kind == "ssd"
                                                                     else 0.3)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"IoU thresholds must satisfy 0 <= negative ({low:g}) <= "
                         f"positive ({high:g}) <= 1")
    iou = iou_matrix(gt, priors)                                        # (G, P)
    matched = _labels(iou, kind, high, low)
    best = iou.max(axis=0) if len(gt) else np.zeros(len(priors))
    forced = (matched >= 0) & (best < high)
    objects = []
    for g in range(len(gt)):
        mine = matched == g
        above = mine & (iou[g] >= high)
        best_prior = int(iou[g].argmax()) if len(priors) else -1
        objects.append(ObjectMatch(
            index=g, positives=int(mine.sum()), above_threshold=int(above.sum()),
            best_iou=float(iou[g, best_prior]) if best_prior >= 0 else 0.0,
            best_prior=best_prior, flagged=not bool(above.any())))
    offsets = np.asarray(map_offsets if map_offsets is not None else [0, len(priors)])
    if offsets[-1] != len(priors):
        raise ValueError(f"map offsets end at {offsets[-1]} but there are {len(priors)} priors")
    map_index = np.searchsorted(offsets, np.arange(len(priors)), side="right") - 1
    n_maps = len(offsets) - 1

    def per_map(mask: np.ndarray) -> tuple[int, ...]:
        return tuple(int(v) for v in np.bincount(map_index[mask], minlength=n_maps))

    return MatchResult(kind=kind, positive_threshold=high, negative_threshold=low,
                       matched_gt=matched, best_iou=best, forced=forced,
                       objects=tuple(objects), map_positives=per_map(matched >= 0),
                       map_negatives=per_map(matched == NEGATIVE),
                       map_ignored=per_map(matched == IGNORED))


def encode_prior(kind: MatchKind, prior: np.ndarray, gt_box: np.ndarray) -> np.ndarray:
    """The regression target ``(4,)`` of one prior for one object.

    SSD: ``(g_cx, g_cy, g_w, g_h)`` with variances 0.1/0.2; RPN: weights 1 (Faster R-CNN).
    """
    coder = ssd_box_coder() if kind == "ssd" else RPN_BOX_CODER
    return coder.encode(np.asarray(gt_box, dtype=np.float64).reshape(1, 4),
                        np.asarray(prior, dtype=np.float64).reshape(1, 4))[0]
