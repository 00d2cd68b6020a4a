"""Which images to label next: rank images by how unsure a detector is about them (torch-free).

The input is a detector's detections on one image *after* per-class NMS, with a low score
threshold (the Runs panel's "Label next" runs the loaded checkpoint with its own NMS and
top-k, keeping scores above ``lo / 2``). The **uncertainty** of an image is

    U = n_band + sum over close pairs of (1 - margin)

* ``n_band`` — the number of detections with ``lo <= score <= hi`` (default band
  ``[0.3, 0.7]``): boxes the model neither trusts nor rejects.
* **close pairs** — the margin between the top two class scores at one place. Per-class NMS
  keeps one box per class on an object, so two classes claiming the same object show up as
  two overlapping boxes with different labels. Taking the detections with ``score >= lo`` in
  descending score order (ties: the earlier one), each detection ``d`` is paired with its
  *rival*: the highest-scoring later detection of *another* class whose IoU with ``d`` is
  ``>= iou`` (default 0.5; pixel-edge IoU, :func:`workbench.core.boxes.iou_matrix`).
  ``margin = score(d) - score(rival)`` (in ``[0, 1]``); a pair of close scores adds almost 1,
  a clear winner almost 0. A detection has at most one rival; a rival can itself have one
  (three classes on one object make two pairs).

An image without detections at or above ``lo`` has ``U = 0``. :func:`rank` orders images by
descending ``U``, ties by image name in natural order (``img2`` before ``img10``,
case-insensitive; then the plain name), so the order is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from workbench.core.boxes import iou_matrix
from workbench.core.project_scan import natural_key

DEFAULT_BAND = (0.3, 0.7)
DEFAULT_IOU = 0.5


@dataclass(frozen=True)
class Uncertainty:
    """One image's uncertainty ``score`` (``U`` of the module doc) and its parts."""

    image: str
    score: float
    in_band: int
    close_pairs: int
    #: the smallest margin of the close pairs (None without pairs)
    min_margin: float | None = None

    def describe(self) -> str:
        """``"3 in band, 1 close pair (margin 0.05)"``."""
        parts = [f"{self.in_band} in band"]
        if self.close_pairs:
            s = "" if self.close_pairs == 1 else "s"
            parts.append(f"{self.close_pairs} close pair{s} (margin {self.min_margin:.2f})")
        return ", ".join(parts)


def _check_band(band: tuple[float, float]) -> tuple[float, float]:
    lo, hi = float(band[0]), float(band[1])
    if not (0.0 <= lo <= hi <= 1.0):
        raise ValueError(f"the score band must satisfy 0 <= lo <= hi <= 1, got [{lo}, {hi}]")
    return lo, hi


def image_uncertainty(image: str, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                      band: tuple[float, float] = DEFAULT_BAND,
                      iou: float = DEFAULT_IOU) -> Uncertainty:
    """``U`` of one image (module doc) from ``(N, 4)`` pixel-edge ``xyxy`` ``boxes``, ``(N,)``
    ``scores`` and ``(N,)`` class ``labels`` (names or ids)."""
    lo, hi = _check_band(band)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if not (len(boxes) == len(scores) == len(labels)):
        raise ValueError(f"{image}: {len(boxes)} boxes, {len(scores)} scores, "
                         f"{len(labels)} labels")
    keep = scores >= lo
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    order = np.argsort(-scores, kind="stable")
    boxes, scores, labels = boxes[order], scores[order], labels[order]
    in_band = int(np.count_nonzero(scores <= hi))
    margins: list[float] = []
    if len(scores) > 1:
        overlap = iou_matrix(boxes, boxes) >= iou
        other = labels[:, None] != labels[None, :]
        later = np.triu(np.ones((len(scores), len(scores)), dtype=bool), k=1)
        candidates = overlap & other & later
        for i in range(len(scores)):
            rivals = np.flatnonzero(candidates[i])
            if len(rivals):  # sorted by score: the first is the best rival
                margins.append(float(scores[i] - scores[rivals[0]]))
    score = in_band + math.fsum(1.0 - m for m in margins)
    return Uncertainty(image, score, in_band, len(margins), min(margins) if margins else None)


def rank(items: Iterable[Uncertainty]) -> list[Uncertainty]:
    """Most uncertain first; ties by image name (natural order, then the plain name)."""
    return sorted(items, key=lambda u: (-u.score, natural_key(u.image), u.image))
