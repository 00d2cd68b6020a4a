"""Detections of one image as plain arrays (shared by metrics, inference, CLI and GUI)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ImageDetections:
    """Detections for one image.

    ``image_id`` is the image's file stem (as in the VOC devkit results format); ``boxes`` is
    ``(N, 4)`` float64 pixel-edge ``xyxy`` in image pixels (see :mod:`workbench.core.boxes`);
    ``scores`` ``(N,)`` float64; ``labels`` ``(N,)`` class names (numpy ``str`` array).
    """

    image_id: str
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,)))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=str))

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        labels = np.asarray(self.labels, dtype=str).reshape(-1)
        if not (len(boxes) == len(scores) == len(labels)):
            raise ValueError(
                f"{self.image_id}: {len(boxes)} boxes, {len(scores)} scores, {len(labels)} labels"
            )
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.scores)
