"""Box geometry shared by SSD and Faster R-CNN: NMS, box coders, format conversions (numpy).

All boxes are float pixel-edge ``xyxy`` (see :mod:`workbench.core.boxes`) unless a name says
``cxcywh``. The functions mirror torchvision's reference implementations so that what the
panels show is what the detectors compute:

* :func:`nms` keeps the same indices, in the same order, as ``torchvision.ops.nms``: boxes are
  visited by descending score and a box is suppressed when its IoU with a kept box is
  *strictly greater* than the threshold.
* :class:`BoxCoder` is ``torchvision.models.detection._utils.BoxCoder``: offsets
  ``(dx, dy, dw, dh) = (wx (g_cx - p_cx) / p_w, wy (g_cy - p_cy) / p_h, ww log(g_w / p_w),
  wh log(g_h / p_h))`` with widths ``x2 - x1`` (no ``+1``) and ``log(1000 / 16)`` clamping of
  ``dw, dh`` on decode.
* SSD's offsets with *variances* ``(0.1, 0.2)`` (Liu et al. 2016, eq. 2 and the Caffe code) are
  the same coder with weights ``(1/0.1, 1/0.1, 1/0.2, 1/0.2) = (10, 10, 5, 5)``; torchvision's
  ``SSD`` uses exactly ``BoxCoder(weights=(10., 10., 5., 5.))``.
* Faster R-CNN's RPN uses weights ``(1, 1, 1, 1)``, its box head ``(10, 10, 5, 5)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.core.boxes import box_area

#: torchvision's clamp on ``dw``/``dh`` before ``exp`` (a box at most 1000/16 times its anchor).
BBOX_XFORM_CLIP = math.log(1000.0 / 16)


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ``x1, y1, x2, y2`` → ``(N, 4)`` ``cx, cy, w, h``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] + 0.5 * w, b[:, 1] + 0.5 * h, w, h], axis=1)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ``cx, cy, w, h`` → ``(N, 4)`` ``x1, y1, x2, y2``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    half_w = 0.5 * b[:, 2]
    half_h = 0.5 * b[:, 3]
    return np.stack([b[:, 0] - half_w, b[:, 1] - half_h, b[:, 0] + half_w, b[:, 1] + half_h],
                    axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression, index-for-index equal to ``torchvision.ops.nms``.

    Args:
        boxes: ``(N, 4)`` pixel-edge ``xyxy``.
        scores: ``(N,)``.
        iou_threshold: a box is dropped when its IoU with an already kept box is ``>`` this.

    Returns:
        ``(K,)`` int64 indices of the kept boxes, by descending score. Equal scores keep input
        order here; torchvision's sort does not promise an order for ties.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"nms: {len(boxes)} boxes but {len(scores)} scores")
    if len(boxes) == 0:
        return np.zeros((0,), dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    areas = box_area(boxes)
    x1, y1, x2, y2 = boxes.T
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep: list[int] = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(int(i))
        rest = order[pos + 1:]
        rest = rest[~suppressed[rest]]
        if len(rest) == 0:
            break
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        suppressed[rest[iou > iou_threshold]] = True
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray,
                iou_threshold: float) -> np.ndarray:
    """NMS independently per group (class), like ``torchvision.ops.batched_nms``.

    ``groups`` is ``(N,)`` of any hashable labels. Returns kept indices by descending score.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    groups = np.asarray(groups)
    keep_parts = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        keep_parts.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    if not keep_parts:
        return np.zeros((0,), dtype=np.int64)
    keep = np.concatenate(keep_parts)
    return keep[np.argsort(-scores[keep], kind="stable")]


@dataclass(frozen=True)
class BoxCoder:
    """Box ⇄ offset coder with per-coordinate weights (torchvision's ``BoxCoder``).

    ``encode(targets, references)`` gives the offsets that move each reference box (a prior /
    anchor / proposal) onto its target box; ``decode(offsets, references)`` inverts it.
    """

    weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    bbox_xform_clip: float = BBOX_XFORM_CLIP

    def encode(self, targets: np.ndarray, references: np.ndarray) -> np.ndarray:
        """``(N, 4)`` targets and ``(N, 4)`` references (``xyxy``) → ``(N, 4)`` offsets."""
        g = xyxy_to_cxcywh(targets)
        p = xyxy_to_cxcywh(references)
        if len(g) != len(p):
            raise ValueError(f"encode: {len(g)} targets for {len(p)} reference boxes")
        wx, wy, ww, wh = self.weights
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.stack([
                wx * (g[:, 0] - p[:, 0]) / p[:, 2],
                wy * (g[:, 1] - p[:, 1]) / p[:, 3],
                ww * np.log(g[:, 2] / p[:, 2]),
                wh * np.log(g[:, 3] / p[:, 3]),
            ], axis=1)

    def decode(self, offsets: np.ndarray, references: np.ndarray) -> np.ndarray:
        """``(N, 4)`` offsets applied to ``(N, 4)`` reference boxes → ``(N, 4)`` ``xyxy``."""
        d = np.asarray(offsets, dtype=np.float64).reshape(-1, 4)
        p = xyxy_to_cxcywh(references)
        if len(d) != len(p):
            raise ValueError(f"decode: {len(d)} offsets for {len(p)} reference boxes")
        wx, wy, ww, wh = self.weights
        dw = np.minimum(d[:, 2] / ww, self.bbox_xform_clip)
        dh = np.minimum(d[:, 3] / wh, self.bbox_xform_clip)
        cx = d[:, 0] / wx * p[:, 2] + p[:, 0]
        cy = d[:, 1] / wy * p[:, 3] + p[:, 1]
        w = np.exp(dw) * p[:, 2]
        h = np.exp(dh) * p[:, 3]
        return cxcywh_to_xyxy(np.stack([cx, cy, w, h], axis=1))


def ssd_box_coder(variances: tuple[float, float] = (0.1, 0.2)) -> BoxCoder:
    """SSD's coder: centre offsets divided by ``variances[0]``, log-sizes by ``variances[1]``."""
    v_center, v_size = variances
    return BoxCoder((1.0 / v_center, 1.0 / v_center, 1.0 / v_size, 1.0 / v_size))


#: Faster R-CNN's region proposal network coder (torchvision ``RegionProposalNetwork``).
RPN_BOX_CODER = BoxCoder((1.0, 1.0, 1.0, 1.0))
#: Faster R-CNN's box-head coder (torchvision ``RoIHeads``), numerically SSD's 0.1/0.2.
ROI_BOX_CODER = BoxCoder((10.0, 10.0, 5.0, 5.0))


def ssd_encode(targets: np.ndarray, priors: np.ndarray,
               variances: tuple[float, float] = (0.1, 0.2)) -> np.ndarray:
    """SSD offsets ``(g_cx, g_cy, g_w, g_h)`` of ``targets`` w.r.t. ``priors`` (both ``xyxy``)."""
    return ssd_box_coder(variances).encode(targets, priors)


def ssd_decode(offsets: np.ndarray, priors: np.ndarray,
               variances: tuple[float, float] = (0.1, 0.2)) -> np.ndarray:
    """Inverse of :func:`ssd_encode` → ``(N, 4)`` ``xyxy``."""
    return ssd_box_coder(variances).decode(offsets, priors)
