"""Box coordinates: the one place the convention is written down.

Inside Detection Workbench every box is a float ``(x1, y1, x2, y2)`` in **pixel-edge**
coordinates (torchvision's convention): the image's top-left corner is ``(0, 0)``, its
bottom-right corner is ``(width, height)``, width is ``x2 - x1`` with no ``+1``.

PASCAL VOC XML stores 1-based *inclusive* integer pixel indices ``xmin..xmax``. The two meet
in :mod:`workbench.core.voc` only, through :func:`voc_to_edges` / :func:`edges_to_voc`::

    x1 = xmin - 1,  y1 = ymin - 1,  x2 = xmax,  y2 = ymax

With that mapping the pixel-edge IoU (no ``+1``) equals the VOC devkit's IoU with ``+1``
widths on the original integers exactly, e.g. VOC ``(1, 1, 10, 10)`` → edges
``(0, 0, 10, 10)``, width 10 both ways.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: the GUI paints its first image without it
    import numpy as np

Box = tuple[float, float, float, float]


def voc_to_edges(xmin: float, ymin: float, xmax: float, ymax: float) -> Box:
    """VOC 1-based inclusive pixel indices → float pixel-edge ``xyxy``."""
    return (float(xmin) - 1.0, float(ymin) - 1.0, float(xmax), float(ymax))


def edges_to_voc(box: Box) -> tuple[int, int, int, int]:
    """Float pixel-edge ``xyxy`` → VOC 1-based inclusive integers (rounded to nearest).

    A box is never written with zero width: ``xmax >= xmin`` always holds for a box with
    ``x2 > x1`` (a one-pixel box ``(4, 4, 5, 5)`` becomes ``(5, 5, 5, 5)``).
    """
    x1, y1, x2, y2 = box
    xmin = int(round(x1)) + 1
    ymin = int(round(y1)) + 1
    xmax = max(int(round(x2)), xmin) if x2 > x1 else int(round(x2))
    ymax = max(int(round(y2)), ymin) if y2 > y1 else int(round(y2))
    return xmin, ymin, xmax, ymax


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of ``(N, 4)`` pixel-edge boxes → ``(N,)``; inverted boxes have area 0."""
    import numpy as np

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    h = np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    return w * h


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every pair: ``a`` ``(N, 4)``, ``b`` ``(M, 4)`` pixel-edge ``xyxy`` → ``(N, M)``.

    Same definition as ``torchvision.ops.box_iou``; a pair with zero union has IoU 0.
    """
    import numpy as np

    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return iou


def iou(a: Box, b: Box) -> float:
    """IoU of two pixel-edge boxes."""
    import numpy as np

    return float(iou_matrix(np.asarray([a]), np.asarray([b]))[0, 0])


def clamp_box(box: Box, width: float, height: float) -> Box:
    """Clamp a pixel-edge box to the image ``[0, width] x [0, height]``."""
    x1, y1, x2, y2 = box
    return (
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
        min(max(x2, 0.0), width),
        min(max(y2, 0.0), height),
    )
