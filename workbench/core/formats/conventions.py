"""Box coordinate conventions of every supported label format, in one place.

Inside Detection Workbench a box is a float **pixel-edge** ``(x1, y1, x2, y2)``: the image's
top-left corner is ``(0, 0)``, its bottom-right corner ``(width, height)``, the box width is
``x2 - x1`` with no ``+1`` (torchvision's convention; see :mod:`workbench.core.boxes`). Every
reader converts *to* it and every writer converts *from* it with the functions below — no
other module does coordinate arithmetic for a file format.

==========  ==========================================  =======================================
format      stored                                      to pixel-edge ``xyxy``
==========  ==========================================  =======================================
VOC XML     ``xmin ymin xmax ymax``, 1-based inclusive  ``(xmin - 1, ymin - 1, xmax, ymax)``
            integer pixel indices                       (:func:`voc_to_xyxy`)
YOLO txt    ``class cx cy w h``, box centre and size    ``x1 = (cx - w/2)·W``, ``x2 = (cx +
            normalised by the image width ``W`` and     w/2)·W`` (same for y with ``H``)
            height ``H``, each in ``[0, 1]``            (:func:`yolo_to_xyxy`)
COCO JSON   ``bbox: [x, y, w, h]``, top-left corner     ``(x, y, x + w, y + h)``
            and size, continuous pixel-edge floats      (:func:`coco_to_xyxy`)
CreateML    ``coordinates: {x, y, width, height}``:     ``(x - width/2, y - height/2,
            box *centre* and size in pixels             x + width/2, y + height/2)``
                                                        (:func:`createml_to_xyxy`)
labelme     ``shape_type: rectangle``, two corner       ``(min x, min y, max x, max y)`` of the
            ``points`` in any order, pixel-edge floats  two points (:func:`labelme_to_xyxy`)
==========  ==========================================  =======================================

Agreement with the reference tools (each within 1 px, checked in ``tests/core/formats``):

* **LabelImg's YOLO mode** (``libs/yolo_io.py``) treats its VOC-style integer corners as edges:
  it writes ``xcen = (xmin + xmax) / 2 / W`` and ``w = (xmax - xmin) / W`` and reads back
  ``xmin = round(W · max(xcen - w/2, 0))``, ``xmax = round(W · min(xcen + w/2, 1))``, then
  saves those integers as VOC ``xmin``/``xmax``. Our VOC mapping puts VOC ``xmin`` at edge
  ``xmin - 1``, so a LabelImg YOLO file read here gives ``x1`` one pixel left of LabelImg's
  own VOC export (``x2`` is identical), and a box written here is read by LabelImg with
  ``xmin`` one pixel larger than ours — the known off-by-one of LabelImg's YOLO mode, never
  more than 1 px. Exact YOLO ↔ COCO ↔ pixel-edge round trips hold (no ±1 anywhere).
* **pycocotools** treats ``bbox`` as continuous ``x, y, w, h`` (``area = w·h`` and IoU without
  ``+1``): identical to our pixel-edge boxes. (Detectron1's old ``x2 = x + w - 1`` is *not*
  followed.) The VOC → COCO mapping is therefore ``x = xmin - 1``, ``w = xmax - xmin + 1``.
* **labelme** stores Qt scene coordinates (pixel edges); its ``labelme2voc.py`` writes
  ``xmin = min(x)`` without ``+1`` — again within 1 px of our VOC mapping.
* **CreateML** (Apple) coordinates are the box centre in pixels, y pointing down.

Conversions are pure float arithmetic: nothing is clamped or rounded here. Readers report
boxes outside the image, NaN or inverted boxes as problems; writers choose number formats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workbench.core.boxes import Box, edges_to_voc, voc_to_edges

__all__ = [
    "voc_to_xyxy", "xyxy_to_voc", "yolo_to_xyxy", "xyxy_to_yolo", "coco_to_xyxy",
    "xyxy_to_coco", "createml_to_xyxy", "xyxy_to_createml", "labelme_to_xyxy",
    "xyxy_to_labelme", "all_finite",
]


def voc_to_xyxy(xmin: float, ymin: float, xmax: float, ymax: float) -> Box:
    """VOC 1-based inclusive pixel indices → pixel-edge ``xyxy`` (``xmin - 1``, ``xmax``)."""
    return voc_to_edges(xmin, ymin, xmax, ymax)


def xyxy_to_voc(box: Box) -> tuple[int, int, int, int]:
    """Pixel-edge ``xyxy`` → VOC 1-based inclusive integers (rounded; see ``boxes.edges_to_voc``)."""
    return edges_to_voc(box)


def yolo_to_xyxy(cx: float, cy: float, w: float, h: float, width: float, height: float) -> Box:
    """YOLO normalised centre/size → pixel-edge ``xyxy`` in an image ``width`` × ``height``.

    >>> yolo_to_xyxy(0.5, 0.5, 0.5, 0.25, 200, 100)
    (50.0, 37.5, 150.0, 62.5)
    """
    return ((cx - w / 2.0) * width, (cy - h / 2.0) * height,
            (cx + w / 2.0) * width, (cy + h / 2.0) * height)


def xyxy_to_yolo(box: Box, width: float, height: float) -> tuple[float, float, float, float]:
    """Pixel-edge ``xyxy`` → YOLO ``(cx, cy, w, h)`` normalised by ``width`` / ``height``."""
    x1, y1, x2, y2 = box
    return ((x1 + x2) / 2.0 / width, (y1 + y2) / 2.0 / height,
            (x2 - x1) / width, (y2 - y1) / height)


def coco_to_xyxy(x: float, y: float, w: float, h: float) -> Box:
    """COCO ``[x, y, w, h]`` (continuous, top-left corner) → pixel-edge ``xyxy``."""
    return (float(x), float(y), float(x) + float(w), float(y) + float(h))


def xyxy_to_coco(box: Box) -> tuple[float, float, float, float]:
    """Pixel-edge ``xyxy`` → COCO ``(x, y, w, h)``."""
    x1, y1, x2, y2 = box
    return (x1, y1, x2 - x1, y2 - y1)


def createml_to_xyxy(x: float, y: float, width: float, height: float) -> Box:
    """CreateML centre ``x, y`` and size in pixels → pixel-edge ``xyxy``."""
    return (x - width / 2.0, y - height / 2.0, x + width / 2.0, y + height / 2.0)


def xyxy_to_createml(box: Box) -> tuple[float, float, float, float]:
    """Pixel-edge ``xyxy`` → CreateML ``(x, y, width, height)`` (centre and size, pixels)."""
    x1, y1, x2, y2 = box
    return ((x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1)


def labelme_to_xyxy(points: Sequence[Sequence[float]]) -> Box:
    """labelme rectangle ``[[xa, ya], [xb, yb]]`` (two opposite corners, any order) → ``xyxy``."""
    (xa, ya), (xb, yb) = points[0], points[1]
    return (min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))


def xyxy_to_labelme(box: Box) -> list[list[float]]:
    """Pixel-edge ``xyxy`` → labelme rectangle points ``[[x1, y1], [x2, y2]]``."""
    x1, y1, x2, y2 = box
    return [[x1, y1], [x2, y2]]


def all_finite(values: Sequence[float]) -> bool:
    """True when every value is a finite number (no NaN, no ±inf)."""
    return all(math.isfinite(v) for v in values)
