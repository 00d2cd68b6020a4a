"""Region proposals labelled against the ground truth, as R-CNN and Fast R-CNN train on them.

numpy only (no torch): the engine's classic detectors (:mod:`workbench.engine.classic_base`)
call these per image, and the tests check them with literal values.

The chapter's recipe (Girshick 2015, Fast R-CNN §2.3 "Mini-batch sampling"):

* a proposal whose best IoU with a ground-truth box is ``>= fg_iou`` (0.5) is **foreground**
  and takes that box's class (ties go to the first box, as ``argmax`` does);
* best IoU in ``[bg_iou_lo, fg_iou)`` (``[0.1, 0.5)``) is **background** (class 0): the
  low bound keeps the hard negatives, the ones that overlap an object somewhat;
* below ``bg_iou_lo`` the proposal is **ignored** (label ``-1``) — except in an image without
  any ground-truth box (a labelled negative), where every proposal is background, since there
  is nothing else to learn from it;
* each image then contributes at most ``rois_per_image`` (64) RoIs, at most ``fg_fraction``
  (25 %) of them foreground, drawn without replacement; background fills the rest;
* a foreground RoI regresses towards its box with the offsets
  ``(dx, dy, dw, dh) = (wx (gx - px) / pw, wy (gy - py) / ph, ww log(gw / pw), wh log(gh / ph))``
  (centres ``x``/``y``, widths ``w``/``h`` of pixel-edge boxes, no ``+1``), weights
  ``(10, 10, 5, 5)`` — torchvision's ``BoxCoder`` for its RoI heads, so the same decoder reads
  them back.

Boxes are float pixel-edge ``xyxy`` (see :mod:`workbench.core.boxes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.core.boxes import iou_matrix

#: Label of a proposal that takes no part in training.
IGNORE = -1
#: torchvision's RoI-head box-coder weights (wx, wy, ww, wh).
BBOX_WEIGHTS: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)
#: torchvision's clamp on dw/dh before ``exp`` when decoding: log(1000 / 16).
BBOX_CLIP = float(np.log(1000.0 / 16))


@dataclass(frozen=True)
class SamplingParams:
    """Thresholds and mini-batch sizes of proposal labelling (see the module docstring)."""

    fg_iou: float = 0.5
    bg_iou_lo: float = 0.1
    rois_per_image: int = 64
    fg_fraction: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 <= self.bg_iou_lo <= self.fg_iou <= 1.0:
            raise ValueError(f"need 0 <= bg_iou_lo <= fg_iou <= 1 (got bg_iou_lo="
                             f"{self.bg_iou_lo}, fg_iou={self.fg_iou})")
        if int(self.rois_per_image) != self.rois_per_image or self.rois_per_image < 1:
            raise ValueError(f"rois_per_image must be a positive integer "
                             f"(got {self.rois_per_image})")
        if not 0.0 <= self.fg_fraction <= 1.0:
            raise ValueError(f"fg_fraction must be in [0, 1] (got {self.fg_fraction})")

    @property
    def max_fg(self) -> int:
        """Foreground RoIs per image at most: ``round(rois_per_image * fg_fraction)``."""
        return int(round(self.rois_per_image * self.fg_fraction))


@dataclass(frozen=True)
class ProposalLabels:
    """Per proposal: ``labels`` (N,) int64 (class 1..K, 0 background, -1 ignored),
    ``matched`` (N,) int64 index of the best ground-truth box (-1 without any) and
    ``best_iou`` (N,) float64 its IoU."""

    labels: np.ndarray
    matched: np.ndarray
    best_iou: np.ndarray


def label_proposals(proposals: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                    params: SamplingParams = SamplingParams()) -> ProposalLabels:
    """Foreground / background / ignored label of each ``(N, 4)`` proposal against ``(G, 4)``
    ground-truth boxes with ``(G,)`` class ids 1..K."""
    p = np.asarray(proposals, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    gl = np.asarray(gt_labels, dtype=np.int64).reshape(-1)
    if len(gt) != len(gl):
        raise ValueError(f"{len(gt)} ground-truth boxes but {len(gl)} labels")
    if len(gt) == 0:
        return ProposalLabels(np.zeros(len(p), np.int64), np.full(len(p), -1, np.int64),
                              np.zeros(len(p)))
    if len(p) == 0:
        return ProposalLabels(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    iou = iou_matrix(p, gt)
    matched = iou.argmax(axis=1).astype(np.int64)
    best = iou[np.arange(len(p)), matched]
    labels = np.full(len(p), IGNORE, dtype=np.int64)
    labels[(best >= params.bg_iou_lo) & (best < params.fg_iou)] = 0
    fg = best >= params.fg_iou
    labels[fg] = gl[matched[fg]]
    return ProposalLabels(labels, matched, best)


def sample_rois(labels: np.ndarray, rng: np.random.Generator,
                params: SamplingParams = SamplingParams()) -> np.ndarray:
    """Indices of the RoIs one image trains on: up to ``params.max_fg`` foreground ones
    (label > 0), then background ones (label 0) up to ``rois_per_image`` in all; each group
    drawn without replacement, in drawn order (foreground first)."""
    labels = np.asarray(labels).reshape(-1)
    fg = np.flatnonzero(labels > 0)
    bg = np.flatnonzero(labels == 0)
    n_fg = min(len(fg), params.max_fg)
    n_bg = min(len(bg), int(params.rois_per_image) - n_fg)
    chosen_fg = rng.choice(fg, size=n_fg, replace=False) if n_fg else fg[:0]
    chosen_bg = rng.choice(bg, size=n_bg, replace=False) if n_bg else bg[:0]
    return np.concatenate([chosen_fg, chosen_bg]).astype(np.int64)


def _centres(boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


def encode_offsets(proposals: np.ndarray, gt_boxes: np.ndarray,
                   weights: tuple[float, float, float, float] = BBOX_WEIGHTS) -> np.ndarray:
    """``(N, 4)`` regression targets ``(dx, dy, dw, dh)`` taking each proposal to the
    ground-truth box in the same row (torchvision ``BoxCoder.encode_single``'s formula)."""
    p = np.asarray(proposals, dtype=np.float64).reshape(-1, 4)
    g = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if len(p) != len(g):
        raise ValueError(f"{len(p)} proposals but {len(g)} ground-truth boxes")
    px, py, pw, ph = _centres(p)
    gx, gy, gw, gh = _centres(g)
    wx, wy, ww, wh = weights
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.stack([wx * (gx - px) / pw, wy * (gy - py) / ph,
                        ww * np.log(gw / pw), wh * np.log(gh / ph)], axis=1)
    if len(out) and not np.isfinite(out).all():
        raise ValueError("a proposal or ground-truth box has zero width or height")
    return out


def decode_offsets(proposals: np.ndarray, offsets: np.ndarray,
                   weights: tuple[float, float, float, float] = BBOX_WEIGHTS) -> np.ndarray:
    """Inverse of :func:`encode_offsets` (dw/dh clamped at ``log(1000/16)`` like torchvision)."""
    p = np.asarray(proposals, dtype=np.float64).reshape(-1, 4)
    d = np.asarray(offsets, dtype=np.float64).reshape(-1, 4)
    px, py, pw, ph = _centres(p)
    wx, wy, ww, wh = weights
    cx = d[:, 0] / wx * pw + px
    cy = d[:, 1] / wy * ph + py
    w = np.exp(np.minimum(d[:, 2] / ww, BBOX_CLIP)) * pw
    h = np.exp(np.minimum(d[:, 3] / wh, BBOX_CLIP)) * ph
    return np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=1)


@dataclass(frozen=True)
class TrainingRois:
    """What one image trains on: ``boxes`` (M, 4) RoIs (proposals and ground truth),
    ``labels`` (M,) int64 0..K, ``targets`` (M, 4) offsets (zeros for background)."""

    boxes: np.ndarray
    labels: np.ndarray
    targets: np.ndarray


def training_rois(proposals: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                  rng: np.random.Generator, params: SamplingParams = SamplingParams(),
                  weights: tuple[float, float, float, float] = BBOX_WEIGHTS) -> TrainingRois:
    """The ground-truth boxes added to the proposals (so every object has a perfect
    foreground RoI, as both papers do), labelled, sampled, with regression targets."""
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    boxes = np.concatenate([np.asarray(proposals, dtype=np.float64).reshape(-1, 4), gt])
    lab = label_proposals(boxes, gt, gt_labels, params)
    keep = sample_rois(lab.labels, rng, params)
    chosen, labels = boxes[keep], lab.labels[keep]
    targets = np.zeros((len(keep), 4))
    fg = labels > 0
    if fg.any():
        targets[fg] = encode_offsets(chosen[fg], gt[lab.matched[keep][fg]], weights)
    return TrainingRois(chosen, labels, targets)
