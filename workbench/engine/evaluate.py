"""Evaluate a detector on the validation split with the project's VOC metric code.

The network runs once per image (original size; the model resizes internally) with a low
score floor, torchvision's per-class NMS and at most 100 detections per image — the usual VOC
evaluation setting — and :func:`workbench.core.metrics.evaluate_voc` scores the detections
against the snapshot's ground truth (``difficult`` objects ignored) both ways: VOC2007 11-point
and VOC2010+ all-point AP at IoU 0.5.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from workbench.core.detections import ImageDetections
from workbench.engine.dataset import ImageRecord, read_image_rgb, to_tensor

log = logging.getLogger(__name__)

EVAL_SCORE_FLOOR = 0.01
EVAL_TOP_K = 100


@dataclass(frozen=True)
class EvalResult:
    """mAP both VOC ways and AP per class name (NaN where the class has no ground truth)."""

    map_voc07: float
    map_voc: float
    ap_voc07: dict[str, float]
    ap_voc: dict[str, float]
    num_images: int
    seconds: float


class EvalAborted(Exception):
    """The stop event was set while evaluating."""


def _decode(record: ImageRecord, max_side: int | None) -> tuple[np.ndarray, float]:
    image = read_image_rgb(record.image_path)
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image, 1.0
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, small.shape[1] / w


@torch.no_grad()
def predict_records(model: nn.Module, records: Sequence[ImageRecord], classes: Sequence[str],
                    device: torch.device, batch_size: int = 4,
                    stop: threading.Event | None = None,
                    max_side: int | None = None) -> list[ImageDetections]:
    """Run ``model`` (eval mode, its own post-processing) on each record's image.

    Images longer than ``max_side`` are shrunk first (the model resizes to its input size
    anyway) and the boxes scaled back. Returns one :class:`ImageDetections` per image (boxes in
    original image pixels, labels as class names); unreadable images are logged and given no
    detections.
    """
    was_training = model.training
    model.eval()
    out: list[ImageDetections] = []
    try:
        for start in range(0, len(records), max(1, batch_size)):
            if stop is not None and stop.is_set():
                raise EvalAborted()
            chunk = records[start:start + batch_size]
            images, kept = [], []
            for r in chunk:
                try:
                    image, scale = _decode(r, max_side)
                    images.append(to_tensor(image).to(device))
                    kept.append((r, scale))
                except (ValueError, OSError) as exc:
                    log.warning("evaluation skips %s: %s", r.image_path, exc)
                    out.append(ImageDetections(r.image_id))
            if not images:
                continue
            for (r, scale), pred in zip(kept, model(images)):
                labels = pred["labels"].cpu().numpy()
                names = np.asarray([classes[i - 1] for i in labels], dtype=str)
                boxes = pred["boxes"].cpu().double().numpy() / scale
                out.append(ImageDetections(r.image_id, boxes,
                                           pred["scores"].cpu().double().numpy(), names))
    finally:
        model.train(was_training)
    return out


def score(records: Sequence[ImageRecord], detections: Sequence[ImageDetections],
          classes: Sequence[str]) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """``(map_voc07, map_voc, ap_voc07, ap_voc)`` of detections against the records' labels.

    AP is NaN for a class without a non-difficult object in ``records``.
    """
    try:
        from workbench.core.metrics import evaluate_voc
    except ImportError:  # the metrics package re-exports metrics_voc
        from workbench.core.metrics_voc import evaluate_voc

    gt = {r.image_id: r.to_annotation() for r in records}
    dets = list(detections)
    r07 = evaluate_voc(gt, dets, classes=list(classes), use_07_metric=True)
    r10 = evaluate_voc(gt, dets, classes=list(classes), use_07_metric=False)
    nan = float("nan")
    ap07 = {c: float(r07.per_class.get(c, nan)) for c in classes}
    ap10 = {c: float(r10.per_class.get(c, nan)) for c in classes}
    return float(r07.map), float(r10.map), ap07, ap10


def evaluate_detector(model: nn.Module, records: Sequence[ImageRecord],
                      classes: Sequence[str], device: torch.device, batch_size: int = 4,
                      stop: threading.Event | None = None,
                      max_side: int | None = None) -> EvalResult:
    """Predict on ``records`` and score with both VOC AP variants. Raises :class:`EvalAborted`
    when ``stop`` is set midway."""
    t0 = time.perf_counter()
    dets = predict_records(model, records, classes, device, batch_size, stop, max_side)
    m07, m10, ap07, ap10 = score(records, dets, classes)
    return EvalResult(m07, m10, ap07, ap10, len(records), time.perf_counter() - t0)
