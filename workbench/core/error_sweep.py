"""The operating point at any score threshold from one matching (issue 15).

:class:`ScoreSweep` holds the class-aware TP/FP flags of every detection (see
:mod:`workbench.core.error_analysis` for the rules) sorted by descending score, with their
prefix sums: the counts at a threshold ``s`` are those of the prefix of detections scoring
``>= s`` (greedy matching by descending score never lets a lower-scored detection change a
higher-scored one's outcome), so :meth:`ScoreSweep.at` is one binary search, and the PR curve
and the best-F1 point read the same arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detections import ImageDetections


@dataclass(frozen=True)
class OperatingPoint:
    """Micro precision/recall/F1 and counts at score ``>= score`` and IoU ``iou``.

    ``chosen`` says how ``score`` was picked: ``"score"`` (given) or ``"best_f1"``.
    """

    score: float
    iou: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    chosen: str = "score"

    def to_json(self) -> dict[str, Any]:
        """``{"score", "iou", "precision", "recall", "f1", "tp", "fp", "fn", "chosen"}``."""
        return asdict(self)


def _point(score: float, iou: float, tp: int, fp: int, npos: int,
           chosen: str = "score") -> OperatingPoint:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / npos if npos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return OperatingPoint(float(score), float(iou), precision, recall, f1, int(tp), int(fp),
                          int(npos - tp), chosen)


class ScoreSweep:
    """The class-aware counts at every score threshold, from one matching.

    ``scores``/``tp``/``fp`` ``(D,)`` per detection (ignored ones have neither flag);
    ``num_positives`` non-difficult objects; ``order`` the rows by descending score when the
    caller has it. Construction sorts once (O(D log D)); :meth:`at` is a binary search.
    """

    def __init__(self, scores: np.ndarray, tp: np.ndarray, fp: np.ndarray, num_positives: int,
                 iou: float, *, order: np.ndarray | None = None) -> None:
        if order is None:  # any descending order will do: ties are kept or dropped together
            order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        self._neg = -np.asarray(scores, dtype=np.float64)[order]  # ascending
        self._cum_tp = np.r_[0, np.cumsum(np.asarray(tp, dtype=np.int64)[order])]
        self._cum_fp = np.r_[0, np.cumsum(np.asarray(fp, dtype=np.int64)[order])]
        self.num_positives = int(num_positives)
        self.iou = float(iou)

    @classmethod
    def from_data(cls, ground_truth: Mapping[str, Annotation],
                  detections: Sequence[ImageDetections], classes: Sequence[str] | None = None,
                  *, iou: float = 0.5, strict: bool = False) -> ScoreSweep:
        """Match ``detections`` against ``ground_truth`` (class-aware, VOC) and sweep."""
        from workbench.core.error_analysis import ErrorIndex

        return ErrorIndex(ground_truth, detections, classes, iou=iou, strict=strict).sweep

    def __len__(self) -> int:
        return len(self._neg)

    def kept(self, score: float) -> int:
        """How many detections have score ``>= score``."""
        return int(np.searchsorted(self._neg, -float(score), side="right"))

    def at(self, score: float) -> OperatingPoint:
        """The operating point with the detections of score ``>= score``."""
        k = self.kept(score)
        return _point(score, self.iou, int(self._cum_tp[k]), int(self._cum_fp[k]),
                      self.num_positives)

    def _ends(self) -> np.ndarray:
        """Counts kept at each distinct score (the end of each run of equal scores)."""
        neg = self._neg
        return np.flatnonzero(np.r_[neg[1:] != neg[:-1], True]) + 1 if len(neg) else \
            np.zeros(0, dtype=np.int64)

    def pr_curve(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(recall, precision, score)`` ``(P,)`` arrays, one point per distinct detection score
        in descending score order: the point for threshold ``score[i]``."""
        k = self._ends()
        tp, fp = self._cum_tp[k].astype(np.float64), self._cum_fp[k].astype(np.float64)
        recall = tp / self.num_positives if self.num_positives else np.zeros_like(tp)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        return recall, precision, -self._neg[k - 1]

    def best_f1(self) -> OperatingPoint:
        """The operating point of highest F1 over all thresholds (ties → highest score)."""
        recall, precision, scores = self.pr_curve()
        if len(scores) == 0:
            return _point(0.0, self.iou, 0, 0, self.num_positives, "best_f1")
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0,
                          2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
        best = float(scores[int(np.argmax(f1))])
        point = self.at(best)
        return OperatingPoint(**{**asdict(point), "chosen": "best_f1"})
