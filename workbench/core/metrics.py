"""Detection metrics: the public entry points (numpy only; no Qt, no torch).

* :func:`evaluate_voc` — PASCAL VOC AP per class and mAP, VOC2007 11-point
  (``use_07_metric=True``) or VOC2010+ all-point, with the devkit's matching and ``difficult``
  rules (:mod:`workbench.core.metrics_voc`).
* :func:`evaluate_coco` — COCO AP@[.5:.95], AP50, AP75, AP/AR by area, AR@1/10/100, identical to
  pycocotools (:mod:`workbench.core.metrics_coco`).
* :func:`match_image` — one image's TP / FP / ignored detections and missed objects (FN) at a
  score threshold, with the VOC rules: what the canvas colours.

Ground truth is a mapping ``image id → Annotation`` where the id is the image's file stem (as in
the VOC devkit results format); detections are :class:`ImageDetections` with the same ids. All
boxes are float pixel-edge ``xyxy`` (:mod:`workbench.core.boxes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detections import ImageDetections
from workbench.core.metrics_coco import (
    AREA_LABELS,
    IOU_THRESHOLDS,
    RECALL_THRESHOLDS,
    STAT_NAMES,
    CocoResult,
    evaluate_coco,
    to_coco,
)
from workbench.core.metrics_data import flatten_detections, flatten_ground_truth
from workbench.core.metrics_voc import (
    VOC07_RECALL_POINTS,
    PrecisionRecall,
    VocResult,
    evaluate_voc,
    match_detections,
    voc_ap,
)

__all__ = [
    "AREA_LABELS", "IOU_THRESHOLDS", "RECALL_THRESHOLDS", "STAT_NAMES", "VOC07_RECALL_POINTS",
    "CocoResult", "ImageMatch", "PrecisionRecall", "VocResult",
    "evaluate_coco", "evaluate_voc", "match_image", "to_coco", "voc_ap",
]


@dataclass(frozen=True)
class ImageMatch:
    """One image's detections judged against its annotation (VOC rules).

    Per detection ``(N,)`` in the order of the given :class:`ImageDetections`: ``kept`` (score
    ``>= score_threshold``), ``tp``, ``fp``, ``ignored`` (matched a ``difficult`` object) — all
    three False for a detection not kept — ``matched`` (index into ``annotation.objects`` of the
    object it was compared with when it reached the IoU threshold, else -1) and ``iou`` (its
    best IoU with an object of its class, 0 when none). ``fn`` lists the indices into
    ``annotation.objects`` of the non-difficult objects no kept detection found.
    """

    kept: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    ignored: np.ndarray
    matched: np.ndarray
    iou: np.ndarray
    fn: np.ndarray

    @property
    def counts(self) -> dict[str, int]:
        """``{"tp": …, "fp": …, "fn": …, "ignored": …}``."""
        return {"tp": int(self.tp.sum()), "fp": int(self.fp.sum()), "fn": len(self.fn),
                "ignored": int(self.ignored.sum())}


def match_image(annotation: Annotation | None, detections: ImageDetections, *,
                iou_threshold: float = 0.5, score_threshold: float = 0.0,
                strict: bool = False) -> ImageMatch:
    """Judge one image's detections scoring ``>= score_threshold`` with the devkit's rules.

    Detections are taken by descending score (stable); each compares with the objects of its
    class and takes the one of highest IoU; IoU ``>= iou_threshold`` (``>`` when ``strict``):
    a ``difficult`` object makes it ignored, a not yet found one a TP, an already found one a
    FP (duplicate); otherwise FP. ``annotation=None`` means no objects (every kept detection is
    a FP).
    """
    objects = annotation.objects if annotation is not None else ()
    n = len(detections)
    kept = detections.scores >= score_threshold
    names = sorted({o.name for o in objects} | set(detections.labels[kept].tolist()))
    key = detections.image_id
    gt = flatten_ground_truth({key: annotation or Annotation(filename=key)}, names)
    sub = ImageDetections(key, detections.boxes[kept], detections.scores[kept],
                          detections.labels[kept])
    det = flatten_detections([sub], gt.image_ids, names)
    m = match_detections(gt, det, iou_threshold=iou_threshold, strict=strict)
    kept_idx = np.flatnonzero(kept)
    tp = np.zeros(n, dtype=bool)
    fp = np.zeros(n, dtype=bool)
    ignored = np.zeros(n, dtype=bool)
    matched = np.full(n, -1, dtype=np.int64)
    iou = np.zeros(n)
    tp[kept_idx], fp[kept_idx], ignored[kept_idx] = m.tp, m.fp, m.ignored
    reached = m.tp | m.ignored | (m.fp & (m.best_gt >= 0) & _reached(m.best_iou, iou_threshold,
                                                                       strict))
    matched[kept_idx[reached]] = gt.obj[m.best_gt[reached]]
    iou[kept_idx] = np.where(np.isfinite(m.best_iou), m.best_iou, 0.0)
    found = np.zeros(len(objects), dtype=bool)
    found[gt.obj[m.best_gt[m.tp]]] = True
    positive = np.zeros(len(objects), dtype=bool)
    positive[gt.obj[~gt.difficult]] = True
    fn = np.flatnonzero(positive & ~found)
    return ImageMatch(kept=kept, tp=tp, fp=fp, ignored=ignored, matched=matched, iou=iou, fn=fn)


def _reached(best_iou: np.ndarray, threshold: float, strict: bool) -> np.ndarray:
    return best_iou > threshold if strict else best_iou >= threshold
