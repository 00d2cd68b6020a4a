"""Box geometry shared by SSD and Faster R-CNN: box coders, format conversions (numpy).

All boxes are float pixel-edge ``xyxy`` (see :mod:`workbench.core.boxes`) unless a name says
``cxcywh``. The functions mirror torchvision's reference implementations so that what the
panels show is what the detectors compute (NMS itself is ``torchvision.ops`` in
:mod:`workbench.engine.postprocess`; the core needs none):

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

