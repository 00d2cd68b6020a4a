"""Carry boxes from one frame to the next ones: OpenCV trackers, or detections matched by IoU.

No Qt, no torch. Boxes are float pixel-edge ``xyxy`` (:mod:`workbench.core.boxes`); images are
``(H, W, 3)`` uint8 arrays in one channel order throughout a call (BGR as OpenCV decodes, or
RGB — the trackers do not care as long as it does not change).

**Trackers** (:func:`track_boxes`): one OpenCV tracker per box (``opencv-contrib``:
``cv2.TrackerCSRT_create``, ``TrackerKCF_create``, ``TrackerMIL_create``), started on the
labeled frame and updated on each following frame. The default is **CSRT** (discriminative
correlation filter with channel and spatial reliability): the most accurate of the three on
moving and slightly rescaling objects, but the slowest (measured by ``bench/bench_video.py`` on
the shared 2-core machine: ~190 ms per frame for one 70 px box in 640x360, decode included);
KCF is ~5x faster but lags fast motion and keeps a fixed size; MIL drifts and does not report
losses.

OpenCV's ``getTrackingScore()`` returns -1 for these trackers, so the **confidence** reported
here is our own appearance check: the normalised cross-correlation of the box's first-frame
patch and the patch at the tracked box (both grey, resized to :data:`PATCH_SIZE`), mapped from
[-1, 1] to [0, 1] (1: the same pixels; ~0.5: unrelated). A box **stops** (is lost from that
frame on; it is never picked up again) when

* the tracker itself reports a failure (``update`` returns False),
* less than :data:`MIN_VISIBLE` of the tracked box lies inside the image (it left the frame), or
* the confidence falls below ``min_confidence`` (default :data:`DEFAULT_MIN_CONFIDENCE`).

**Detections** (:func:`follow_detections`): when a detector has run on the next frames, each
box moves to the detection it overlaps most in the next frame: greedy matching by descending
IoU (every pair with ``IoU >= iou_threshold``, default :data:`DEFAULT_ASSOCIATION_IOU` = 0.5,
the PASCAL VOC match threshold; with ``same_class`` only detections of the box's class), each
detection used once. The confidence is the detection's score; a box with no match stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from workbench.core.boxes import Box, iou_matrix

#: Tracker names, in the order a user interface offers them (the first is the default).
TRACKERS: tuple[str, ...] = ("csrt", "kcf", "mil")
DEFAULT_TRACKER = "csrt"
DEFAULT_MIN_CONFIDENCE = 0.6
DEFAULT_ASSOCIATION_IOU = 0.5
#: A tracked box with less than this share of its area inside the image has left the frame.
MIN_VISIBLE = 0.5
#: (width, height) both patches are resized to before they are compared.
PATCH_SIZE = (32, 32)

_CREATE = {"csrt": "TrackerCSRT_create", "kcf": "TrackerKCF_create",
           "mil": "TrackerMIL_create"}


@dataclass(frozen=True)
class TrackedBox:
    """Where one box is in a frame: ``box`` (pixel-edge ``xyxy``) and ``confidence`` (0..1)."""

    box: Box
    confidence: float


#: One frame's result: one entry per input box, None once that box has stopped.
FrameBoxes = list[TrackedBox | None]


def make_tracker(name: str) -> Any:
    """A new OpenCV tracker; ``ValueError`` naming the choices for an unknown name or one this
    OpenCV build lacks."""
    key = name.strip().lower()
    if key not in _CREATE:
        raise ValueError(f"unknown tracker {name!r}: choose one of {', '.join(TRACKERS)}")
    create = getattr(cv2, _CREATE[key], None)
    if create is None:
        legacy = getattr(cv2, "legacy", None)
        create = getattr(legacy, _CREATE[key], None) if legacy is not None else None
    if create is None:
        raise ValueError(f"this OpenCV ({cv2.__version__}) has no {_CREATE[key]}: install "
                         f"opencv-contrib-python-headless")
    return create()


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _patch(grey: np.ndarray, box: Box) -> np.ndarray | None:
    """The pixels under ``box`` (clipped to the image), resized to :data:`PATCH_SIZE`."""
    h, w = grey.shape[:2]
    x1, y1 = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    x2, y2 = min(w, int(round(box[2]))), min(h, int(round(box[3])))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return cv2.resize(grey[y1:y2, x1:x2], PATCH_SIZE,
                      interpolation=cv2.INTER_AREA).astype(np.float32)


def appearance_confidence(template: np.ndarray | None, patch: np.ndarray | None) -> float:
    """``(1 + NCC) / 2`` of two equal-size patches (0..1); 0 when one is missing. Two flat
    patches (no variance) count as the same when their means agree within 10 grey levels."""
    if template is None or patch is None:
        return 0.0
    a = template - template.mean()
    b = patch - patch.mean()
    na, nb = float(np.sqrt((a * a).sum())), float(np.sqrt((b * b).sum()))
    if na < 1e-3 or nb < 1e-3:
        return 1.0 if na < 1e-3 and nb < 1e-3 and abs(template.mean() - patch.mean()) < 10 \
            else 0.5
    ncc = float((a * b).sum()) / (na * nb)
    return float(min(1.0, max(0.0, (1.0 + ncc) / 2.0)))


def visible_fraction(box: Box, width: int, height: int) -> float:
    """Share of ``box``'s area inside a ``width`` x ``height`` image (0 for an empty box)."""
    x1, y1, x2, y2 = box
    area = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    if area <= 0:
        return 0.0
    ix = max(0.0, min(x2, width) - max(x1, 0.0))
    iy = max(0.0, min(y2, height) - max(y1, 0.0))
    return ix * iy / area


def track_boxes(first: np.ndarray, boxes: Sequence[Box], frames: Iterable[np.ndarray], *,
                tracker: str = DEFAULT_TRACKER,
                min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                should_cancel: Callable[[], bool] | None = None) -> Iterator[FrameBoxes]:
    """Track ``boxes`` (drawn on ``first``) through ``frames``: yields, per frame, one
    :class:`TrackedBox` per input box, or None for a box that has stopped (see the module
    docstring for when). Stops early when every box has stopped or ``should_cancel()``.
    """
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be within 0..1, not {min_confidence}")
    make_tracker(tracker)  # an unknown name fails before any work
    grey0 = _grey(first)
    h0, w0 = grey0.shape[:2]
    live: list[tuple[Any, np.ndarray | None] | None] = []
    for box in boxes:
        x1, y1, x2, y2 = (float(v) for v in box)
        rect = (int(round(x1)), int(round(y1)), max(1, int(round(x2 - x1))),
                max(1, int(round(y2 - y1))))
        if visible_fraction((x1, y1, x2, y2), w0, h0) < MIN_VISIBLE or rect[2] < 2 \
                or rect[3] < 2:
            live.append(None)
            continue
        t = make_tracker(tracker)
        t.init(first, rect)
        live.append((t, _patch(grey0, (x1, y1, x2, y2))))
    for image in frames:
        if should_cancel is not None and should_cancel():
            return
        if not any(s is not None for s in live):
            return
        grey = _grey(image)
        h, w = grey.shape[:2]
        out: FrameBoxes = []
        for i, state in enumerate(live):
            if state is None:
                out.append(None)
                continue
            t, template = state
            ok, rect = t.update(image)
            x, y, rw, rh = (float(v) for v in rect)
            box = (x, y, x + rw, y + rh)
            if not ok or rw < 1 or rh < 1 or visible_fraction(box, w, h) < MIN_VISIBLE:
                live[i] = None
                out.append(None)
                continue
            confidence = appearance_confidence(template, _patch(grey, box))
            if confidence < min_confidence:
                live[i] = None
                out.append(None)
                continue
            clipped = (max(0.0, x), max(0.0, y), min(float(w), box[2]), min(float(h), box[3]))
            out.append(TrackedBox(clipped, round(confidence, 4)))
        yield out


def associate(boxes: Sequence[Box | None], detections: np.ndarray,
              iou_threshold: float = DEFAULT_ASSOCIATION_IOU,
              allowed: np.ndarray | None = None) -> list[int | None]:
    """Greedy IoU matching: for each of ``boxes`` (None: skipped) the index of its detection
    in ``detections`` (``(N, 4)`` xyxy), or None. Pairs are taken by descending IoU, each box and
    detection once, only pairs with ``IoU >= iou_threshold`` and ``allowed[i, j]`` (when given).
    Ties go to the lower box index, then the lower detection index."""
    out: list[int | None] = [None] * len(boxes)
    rows = [i for i, b in enumerate(boxes) if b is not None]
    dets = np.asarray(detections, dtype=np.float64).reshape(-1, 4)
    if not rows or len(dets) == 0:
        return out
    ious = iou_matrix(np.array([boxes[i] for i in rows], dtype=np.float64), dets)
    if allowed is not None:
        ious = np.where(np.asarray(allowed)[rows], ious, -1.0)
    order = sorted(((float(ious[r, j]), r, j) for r in range(len(rows))
                    for j in range(len(dets)) if ious[r, j] >= iou_threshold),
                   key=lambda t: (-t[0], t[1], t[2]))
    used_r: set[int] = set()
    used_d: set[int] = set()
    for _, r, j in order:
        if r in used_r or j in used_d:
            continue
        used_r.add(r)
        used_d.add(j)
        out[rows[r]] = j
    return out


@dataclass(frozen=True)
class FrameDetections:
    """A detector's kept boxes on one frame: ``boxes`` ``(N, 4)`` xyxy, ``scores`` ``(N,)``,
    ``labels`` ``(N,)`` class names."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: Sequence[str]


def follow_detections(boxes: Sequence[Box], detections: Iterable[FrameDetections], *,
                      labels: Sequence[str] | None = None,
                      iou_threshold: float = DEFAULT_ASSOCIATION_IOU,
                      same_class: bool = True) -> Iterator[FrameBoxes]:
    """Carry ``boxes`` through frames by detector + IoU association (module docstring): per
    frame, each live box moves to its matched detection (confidence = its score) or stops.
    ``labels``: the boxes' class names (needed for ``same_class``)."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be within (0, 1], not {iou_threshold}")
    if same_class and labels is not None and len(labels) != len(boxes):
        raise ValueError("labels must give one class name per box")
    current: list[Box | None] = [tuple(float(v) for v in b) for b in boxes]  # type: ignore[misc]
    for frame in detections:
        if not any(b is not None for b in current):
            return
        allowed = None
        if same_class and labels is not None:
            allowed = np.array([[str(d) == str(c) for d in frame.labels] for c in labels],
                               dtype=bool).reshape(len(labels), len(frame.labels))
        match = associate(current, frame.boxes, iou_threshold, allowed)
        out: FrameBoxes = []
        for i, j in enumerate(match):
            if current[i] is None or j is None:
                current[i] = None
                out.append(None)
                continue
            box = tuple(float(v) for v in frame.boxes[j])
            current[i] = box  # type: ignore[assignment]
            out.append(TrackedBox(box, round(float(frame.scores[j]), 4)))  # type: ignore[arg-type]
        yield out
