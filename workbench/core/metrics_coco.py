"""COCO box AP/AR with pycocotools' rules, vectorised over the whole data set.

Same numbers as ``pycocotools.cocoeval.COCOeval(iouType="bbox")`` on the data
:func:`to_coco` produces (tests check 1e-6 on random data; in practice they agree to the last
bit), at a fraction of the time. The rules reproduced:

* 10 IoU thresholds 0.50:0.05:0.95, 101 recall points 0:0.01:1 (pycocotools' ``linspace``
  values), area ranges all/small/medium/large with inclusive bounds, ``maxDets`` 1/10/100 —
  the truncation is per image *and class*, after a stable sort by descending score;
* IoU computed as pycocotools' C ``bbIou`` on ``[x, y, w, h]`` boxes; a crowd ground truth
  (our ``difficult``) uses ``intersection / detection area`` and never gets "used up";
* greedy matching per image and class, by descending score: a detection takes, among the
  ground truths not yet matched (crowds always available) with IoU ``>= t``, the non-ignored one
  of highest IoU, and only if there is none an ignored one (crowd or outside the area range);
  on equal IoU the later object wins (pycocotools' ``<`` comparison);
* detections matched to an ignored object, and unmatched detections outside the area range,
  are ignored; precision is ``tp / (tp + fp + eps)``, made monotone, sampled at the first
  detection reaching each recall point (0 beyond the last recall);
* -1 marks "no non-ignored ground truth" in ``precision``/``recall``; summaries average the
  entries > -1.

From VOC ground truth: box ``[xmin - 1, ymin - 1, xmax, ymax]`` continuous (our pixel-edge
box), area ``w * h``, and ``difficult`` → ``iscrowd = 1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detections import ImageDetections
from workbench.core.metrics_coco_accumulate import sparse_class_precision
from workbench.core.metrics_coco_match import match_coco_sparse
from workbench.core.metrics_data import (
    class_list,
    flatten_detections,
    flatten_ground_truth,
    score_order,
    segment_starts,
    stable_key_order,
)

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = np.array([[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]])
AREA_LABELS = ("all", "small", "medium", "large")
MAX_DETS = (1, 10, 100)
#: Names of :attr:`CocoResult.stats`, in pycocotools' ``summarize()`` order.
STAT_NAMES = ("map", "map50", "map75", "map_small", "map_medium", "map_large",
              "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large")


@dataclass(frozen=True)
class CocoResult:
    """Result of :func:`evaluate_coco`.

    ``stats`` ``(12,)`` is pycocotools' ``COCOeval.stats`` (-1 where undefined); the named
    fields are the same numbers with NaN for -1. ``precision`` ``(T=10, R=101, K, A=4, M=3)`` and
    ``recall`` ``(T, K, A, M)`` are ``COCOeval.eval["precision"/"recall"]``. ``per_class`` is
    AP@[.5:.95] (area all, 100 detections) for every class with at least one non-crowd object
    (of area in ``[0, 1e10]``),
    ``per_class_ap50`` the same at IoU 0.5.
    """

    stats: np.ndarray
    per_class: dict[str, float]
    per_class_ap50: dict[str, float]
    num_positives: dict[str, int]
    precision: np.ndarray = field(repr=False)
    recall: np.ndarray = field(repr=False)
    classes: tuple[str, ...] = ()

    def _stat(self, i: int) -> float:
        v = float(self.stats[i])
        return float("nan") if v == -1 else v

    map = property(lambda self: self._stat(0), doc="AP@[.5:.95], all areas, 100 dets")
    map50 = property(lambda self: self._stat(1), doc="AP@.5")
    map75 = property(lambda self: self._stat(2), doc="AP@.75")
    map_small = property(lambda self: self._stat(3), doc="AP small (area < 32²)")
    map_medium = property(lambda self: self._stat(4), doc="AP medium")
    map_large = property(lambda self: self._stat(5), doc="AP large (area > 96²)")
    ar1 = property(lambda self: self._stat(6), doc="AR, 1 det per image and class")
    ar10 = property(lambda self: self._stat(7), doc="AR, 10 dets")
    ar100 = property(lambda self: self._stat(8), doc="AR, 100 dets")
    ar_small = property(lambda self: self._stat(9), doc="AR small")
    ar_medium = property(lambda self: self._stat(10), doc="AR medium")
    ar_large = property(lambda self: self._stat(11), doc="AR large")

    description = "COCO AP@[.5:.95] (101-point, maxDets 100)"

    def summary(self) -> dict[str, float]:
        """The 12 summary numbers by name (NaN where undefined)."""
        return {name: self._stat(i) for i, name in enumerate(STAT_NAMES)}

    def pr_curve(self, name: str, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """``(recall (101,), precision (101,))`` of one class at one of :data:`IOU_THRESHOLDS`
        (area all, 100 dets); precision is -1 for a class without positives."""
        t = int(np.argmin(np.abs(IOU_THRESHOLDS - iou)))
        k = self.classes.index(name)
        return RECALL_THRESHOLDS.copy(), self.precision[t, :, k, 0, -1].copy()


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` pixel-edge ``xyxy`` → COCO ``[x, y, w, h]``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0],
                     boxes[:, 3] - boxes[:, 1]], axis=1)


def evaluate_coco(ground_truth: Mapping[str, Annotation], detections: Sequence[ImageDetections],
                  *, classes: Sequence[str] | None = None) -> CocoResult:
    """COCO box AP/AR, equal to pycocotools on :func:`to_coco` of the same inputs.

    Inputs as :func:`workbench.core.metrics_voc.evaluate_voc`. Images count in the order of
    ``ground_truth`` (pycocotools' image ids 1..N), which breaks cross-image score ties.
    """
    names = class_list(ground_truth, detections, classes)
    gt = flatten_ground_truth(ground_truth, names)
    det = flatten_detections(detections, gt.image_ids, names)
    num_k = max(len(names), 1)
    gt_xywh = xyxy_to_xywh(gt.boxes)
    gt_area = gt_xywh[:, 2] * gt_xywh[:, 3]
    gt_key = gt.image * num_k + gt.cls
    # per (image, class): stable sort by descending score, keep the first MAX_DETS[-1]
    det_key = det.image * num_k + det.cls
    # = np.lexsort((-det.scores, det_key)), stable: the row order (seq) breaks ties
    order = score_order(det.scores, det_key)
    key_sorted = det_key[order]
    starts = segment_starts(key_sorted)
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.arange(len(order)) - run_start
    keep = rank < MAX_DETS[-1]
    order, rank, key_sorted = order[keep], rank[keep], key_sorted[keep]
    d_xywh = xyxy_to_xywh(det.boxes[order])
    d_area = d_xywh[:, 2] * d_xywh[:, 3]
    d_cls = det.cls[order]
    d_score = det.scores[order]

    # ignore flags of the ground truth per area range (A, G)
    lo, hi = AREA_RANGES[:, 0:1], AREA_RANGES[:, 1:2]
    gt_ignore = gt.difficult[None, :] | (gt_area[None, :] < lo) | (gt_area[None, :] > hi)
    # Matching never crosses classes (groups are image x class), so each class is matched and
    # accumulated on its own: the (A, T, D) flags exist for one class at a time and peak
    # memory follows the largest class, not the whole data set.
    num_t, num_r, num_a, num_m = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), 4, len(MAX_DETS)
    precision = -np.ones((num_t, num_r, len(names), num_a, num_m))
    recall = -np.ones((num_t, len(names), num_a, num_m))
    by_class = stable_key_order(d_cls)  # keeps evaluation order inside a class
    det_bounds = np.searchsorted(d_cls[by_class], np.arange(len(names) + 1), side="left")
    gt_by_class = stable_key_order(gt.cls)
    gt_bounds = np.searchsorted(gt.cls[gt_by_class], np.arange(len(names) + 1), side="left")
    for k in range(len(names)):
        g = gt_by_class[gt_bounds[k]:gt_bounds[k + 1]]
        npig = (~gt_ignore[:, g]).sum(axis=1)  # (A,) non-ignored objects per area range
        if not npig.any():
            continue
        d = by_class[det_bounds[k]:det_bounds[k + 1]]
        matches = match_coco_sparse(key_sorted[d], d_xywh[d], gt_key[g], gt_xywh[g],
                                    gt.difficult[g], gt_ignore[:, g], IOU_THRESHOLDS)
        det_out = (d_area[d][None, :] < lo) | (d_area[d][None, :] > hi)  # (A, n)
        prec, rec = _accumulate_class(d_score[d], rank[d], matches, det_out, npig)
        precision[:, :, k] = prec
        recall[:, k] = rec
    stats = _summarize(precision, recall)
    npos = np.bincount(gt.cls[~gt.difficult], minlength=len(names))
    per_class, per_class50 = {}, {}
    for k, name in enumerate(names):
        if precision[0, 0, k, 0, -1] > -1:  # ≥ 1 non-crowd object inside the 'all' range
            per_class[name] = float(np.mean(precision[:, :, k, 0, -1]))
            per_class50[name] = float(np.mean(precision[0, :, k, 0, -1]))
    return CocoResult(stats=stats, per_class=per_class, per_class_ap50=per_class50,
                      num_positives={n: int(npos[k]) for k, n in enumerate(names)},
                      precision=precision, recall=recall, classes=names)


def _accumulate_class(d_score: np.ndarray, rank: np.ndarray,
                      matches: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                      det_out: np.ndarray, npig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pycocotools' ``accumulate`` for one class: precision ``(T, R, A, M)``, recall
    ``(T, A, M)``. The class's detections are ordered as pycocotools concatenates and sorts
    them: by descending score, then image order, then rank inside the image. ``matches``:
    :func:`match_coco_sparse`'s (area range, threshold, detection, matched an ignored object);
    ``det_out`` ``(A, n)``: outside the area range (ignored when unmatched) — see
    :func:`sparse_class_precision`."""
    num_t, num_r, num_a, num_m = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), 4, len(MAX_DETS)
    precision = -np.ones((num_t, num_r, num_a, num_m))
    recall = -np.ones((num_t, num_a, num_m))
    # = np.lexsort((rank, d_img, -d_score)): the rows come by image, then rank, so a stable
    # sort by score alone keeps exactly that order among equal scores
    order = score_order(d_score)  # = np.argsort(-d_score, kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order), dtype=np.int64)
    rank_all, out_all = rank[order], det_out[:, order]
    a_i, t_i, d_i, match_ignored = matches
    match_row = a_i * num_t + t_i
    match_pos = position[d_i]
    by_row = stable_key_order(match_row, match_pos) if len(match_row) else match_row
    match_row, match_pos, match_ignored = (match_row[by_row], match_pos[by_row],
                                           match_ignored[by_row])
    every: tuple[np.ndarray, np.ndarray] | None = None
    for m, max_det in enumerate(MAX_DETS):
        sel = rank_all < max_det
        if sel.all():  # no image has more detections of the class: the same for larger caps
            if every is None:
                every = sparse_class_precision(match_row, match_pos, match_ignored, out_all,
                                               npig, num_t, RECALL_THRESHOLDS)
            prec, rec = every
        else:
            kept = sel[match_pos]
            new_pos = np.cumsum(sel) - 1  # position among the kept detections
            prec, rec = sparse_class_precision(match_row[kept], new_pos[match_pos[kept]],
                                               match_ignored[kept], out_all[:, sel], npig,
                                               num_t, RECALL_THRESHOLDS)
        precision[:, :, :, m] = prec.transpose(1, 2, 0)
        recall[:, :, m] = rec.T
    return precision, recall


def _summarize(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """pycocotools' ``summarize()`` for boxes → the 12 stats."""

    def mean(s: np.ndarray) -> float:
        valid = s[s > -1]
        return -1.0 if valid.size == 0 else float(np.mean(valid))

    def ap(iou: float | None = None, area: int = 0) -> float:
        s = precision if iou is None else precision[np.where(iou == IOU_THRESHOLDS)[0]]
        return mean(s[:, :, :, area, 2])

    def ar(max_det_index: int, area: int = 0) -> float:
        return mean(recall[:, :, area, max_det_index])

    return np.array([ap(), ap(0.5), ap(0.75), ap(None, 1), ap(None, 2), ap(None, 3),
                     ar(0), ar(1), ar(2), ar(2, 1), ar(2, 2), ar(2, 3)])


def to_coco(ground_truth: Mapping[str, Annotation], detections: Sequence[ImageDetections],
            *, classes: Sequence[str] | None = None) -> tuple[dict, list[dict]]:
    """The pycocotools inputs equivalent to ``(ground_truth, detections)``.

    Image ids 1..N in ``ground_truth`` order (``file_name`` = image id), category ids 1..K in
    class order, annotation ids 1.. in object order; ``difficult`` → ``iscrowd = 1``. Returns
    ``(ground-truth dataset dict, results list)``; detections of other classes are dropped.
    """
    names = class_list(ground_truth, detections, classes)
    cat_id = {n: i + 1 for i, n in enumerate(names)}
    img_id = {stem: i + 1 for i, stem in enumerate(ground_truth)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for stem, ann in ground_truth.items():
        entry = {"id": img_id[stem], "file_name": stem}
        if ann.size is not None:
            entry.update(width=ann.size.width, height=ann.size.height)
        images.append(entry)
        for o in ann.objects:
            if o.name not in cat_id:
                continue
            x1, y1, x2, y2 = (float(v) for v in o.box)
            w, h = x2 - x1, y2 - y1
            annotations.append({"id": len(annotations) + 1, "image_id": img_id[stem],
                                "category_id": cat_id[o.name], "bbox": [x1, y1, w, h],
                                "area": w * h, "iscrowd": int(bool(o.difficult))})
    results = []
    for det in detections:
        for box, score, label in zip(xyxy_to_xywh(det.boxes).tolist(), det.scores.tolist(),
                                     det.labels.tolist()):
            if label in cat_id:
                results.append({"image_id": img_id[det.image_id], "category_id": cat_id[label],
                                "bbox": box, "score": score})
    categories = [{"id": cat_id[n], "name": n} for n in names]
    return {"images": images, "annotations": annotations, "categories": categories}, results
