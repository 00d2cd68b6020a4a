"""Anchor shapes from the data: k-means over box sizes with the IoU distance (numpy).

The recipe of YOLOv2 (Redmon & Farhadi 2017, sec. "Dimension Clusters"): cluster the
``(width, height)`` of the training boxes with ``d(box, centroid) = 1 - IoU(box, centroid)``,
both boxes placed on the same centre, so that large boxes do not dominate as they would with the
Euclidean distance. The quality of an anchor set is the mean over boxes of the best IoU any
anchor reaches (again centre-aligned): a detector whose priors fit the data better starts with
more, and better, positive matches.

Shapes must be compared in the detector's input pixels: SSD warps every photo to its square
(:func:`ssd_input_shapes`); Faster R-CNN scales it keeping the aspect ratio
(:func:`resize_input_shapes`, torchvision's ``GeneralizedRCNNTransform`` rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.core.priors import PriorSet


def shape_iou(wh_a: np.ndarray, wh_b: np.ndarray) -> np.ndarray:
    """IoU of centre-aligned boxes: ``(N, 2)`` and ``(K, 2)`` widths/heights → ``(N, K)``."""
    a = np.asarray(wh_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(wh_b, dtype=np.float64).reshape(-1, 2)
    inter = np.minimum(a[:, None, 0], b[None, :, 0]) * np.minimum(a[:, None, 1], b[None, :, 1])
    union = (a[:, 0] * a[:, 1])[:, None] + (b[:, 0] * b[:, 1])[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def mean_best_iou(wh: np.ndarray, anchors_wh: np.ndarray) -> float:
    """Mean over boxes of the best centre-aligned IoU with any anchor shape."""
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    if len(wh) == 0 or len(np.asarray(anchors_wh).reshape(-1, 2)) == 0:
        return 0.0
    return float(shape_iou(wh, anchors_wh).max(axis=1).mean())


def kmeans_iou(wh: np.ndarray, k: int, *, seed: int = 0, iterations: int = 300
               ) -> tuple[np.ndarray, np.ndarray]:
    """k-means on ``(N, 2)`` box shapes with distance ``1 - IoU``.

    k-means++ seeding (with the IoU distance), then Lloyd iterations that move each centroid to
    the median shape of its cluster (the median resists the odd huge box). Deterministic for a
    given ``seed``. Returns ``(centroids (k, 2) sorted by area, assignment (N,))``.
    """
    wh = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    wh = wh[(wh[:, 0] > 0) & (wh[:, 1] > 0)]
    if len(wh) == 0:
        raise ValueError("k-means needs at least one box with positive width and height")
    k = int(min(k, len(np.unique(wh, axis=0))))
    if k < 1:
        raise ValueError(f"k must be >= 1 (got {k})")
    rng = np.random.default_rng(seed)
    centroids = [wh[rng.integers(len(wh))]]
    while len(centroids) < k:
        d = 1.0 - shape_iou(wh, np.asarray(centroids)).max(axis=1)
        p = d ** 2
        total = p.sum()
        idx = rng.choice(len(wh), p=p / total) if total > 0 else rng.integers(len(wh))
        centroids.append(wh[idx])
    c = np.asarray(centroids, dtype=np.float64)
    assign = np.full(len(wh), -1)
    for _ in range(iterations):
        new_assign = shape_iou(wh, c).argmax(axis=1)
        if np.array_equal(new_assign, assign):
            break
        assign = new_assign
        for j in range(k):
            members = wh[assign == j]
            if len(members):
                c[j] = np.median(members, axis=0)
    order = np.argsort(c[:, 0] * c[:, 1])
    remap = np.empty(k, dtype=np.int64)
    remap[order] = np.arange(k)
    return c[order], remap[shape_iou(wh, c).argmax(axis=1)]


@dataclass(frozen=True)
class AnchorSuggestion:
    """k-means result next to the detector's default shapes (all in input pixels)."""

    shapes: np.ndarray          # (k, 2) suggested widths/heights, by area
    default_shapes: np.ndarray  # (D, 2) the detector's own prior shapes
    mean_best_iou_default: float
    mean_best_iou_suggested: float
    num_boxes: int

    @property
    def sizes(self) -> np.ndarray:
        """``sqrt(w h)`` of each suggested shape (torchvision's anchor "size")."""
        return np.sqrt(self.shapes[:, 0] * self.shapes[:, 1])

    @property
    def ratios_h_over_w(self) -> np.ndarray:
        """Height/width of each suggested shape (torchvision ``AnchorGenerator`` convention)."""
        return self.shapes[:, 1] / self.shapes[:, 0]

    def to_json(self) -> dict:
        return {
            "num_boxes": self.num_boxes,
            "suggested": [[round(float(w), 2), round(float(h), 2)] for w, h in self.shapes],
            "mean_best_iou": {"default": round(self.mean_best_iou_default, 4),
                              "suggested": round(self.mean_best_iou_suggested, 4)},
        }


def default_shapes(priors: PriorSet) -> np.ndarray:
    """The distinct ``(w, h)`` of a detector's priors (one cell per map), in ``image_size`` px."""
    shapes = []
    for fm in priors.feature_maps:
        cell = fm.cell_boxes(0, 0)
        shapes.append(np.stack([cell[:, 2] - cell[:, 0], cell[:, 3] - cell[:, 1]], axis=1))
    if not shapes:
        return np.zeros((0, 2))
    return np.unique(np.round(np.concatenate(shapes), 6), axis=0)


def ssd_input_shapes(boxes: np.ndarray, photo_wh: np.ndarray,
                     input_wh: tuple[float, float]) -> np.ndarray:
    """Box shapes after SSD's warp of each photo to ``input_wh``.

    ``boxes`` ``(N, 4)`` ``xyxy`` photo px; ``photo_wh`` ``(N, 2)`` each box's photo size.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    p = np.asarray(photo_wh, dtype=np.float64).reshape(-1, 2)
    wh = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    return wh * np.asarray(input_wh, dtype=np.float64) / p


def resize_input_shapes(boxes: np.ndarray, photo_wh: np.ndarray, min_size: float,
                        max_size: float) -> np.ndarray:
    """Box shapes after Faster R-CNN's aspect-keeping resize (short side ``min_size``, long
    side at most ``max_size``)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    p = np.asarray(photo_wh, dtype=np.float64).reshape(-1, 2)
    scale = np.minimum(min_size / p.min(axis=1), max_size / p.max(axis=1))
    wh = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)
    return wh * scale[:, None]


def suggest_anchors(shapes: np.ndarray, priors: PriorSet, k: int | None = None,
                    *, seed: int = 0) -> AnchorSuggestion:
    """k-means suggestion for ``shapes`` (input px) compared with ``priors``' own shapes.

    ``priors`` must be in the detector-input coordinates (``image_size == input_size``);
    ``k`` None → as many shapes as the detector has, for a like-for-like comparison.
    """
    if priors.image_size != priors.input_size:
        raise ValueError("suggest_anchors needs priors on the detector input, not on a photo")
    defaults = default_shapes(priors)
    k = int(k or len(defaults))
    centroids, _ = kmeans_iou(shapes, k, seed=seed)
    return AnchorSuggestion(shapes=centroids, default_shapes=defaults,
                            mean_best_iou_default=mean_best_iou(shapes, defaults),
                            mean_best_iou_suggested=mean_best_iou(shapes, centroids),
                            num_boxes=int(len(np.asarray(shapes).reshape(-1, 2))))
