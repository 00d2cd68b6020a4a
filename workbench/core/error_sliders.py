"""The operating point beside the score and NMS sliders, over a whole validation set (issue 15).

The network ran once per image; its raw (pre-NMS) candidates are cached. :class:`SliderSweep`
prepares, once, everything that does not depend on the sliders:

* :class:`workbench.core.error_nms.NmsCache` — the overlapping same-class candidate pairs, so
  that NMS at any IoU is one vectorised pass over the whole set;
* the candidates flattened against the ground truth and their *hit pairs* (candidate, object,
  IoU ``>= t``; :func:`workbench.core.error_match.hit_pairs`) — detections after NMS are a
  subset of the candidates, so their hit pairs are a subset of these and no IoU is computed
  again;
* the candidates' descending-score order, which the subset keeps (no sort per move).

A **score move** then costs a binary search (:meth:`ErrorIndex.sweep`); an **NMS move** costs
NMS + top-k + the two matchings on the subset (:meth:`SliderSweep.index`), and nothing once that
NMS value was computed — :meth:`SliderSweep.precompute` fills the cache for every slider step
in a background job. Scores follow post-processing's rule, kept when ``score > s`` (see
:func:`slider_score`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detection_runs import DetectionRuns
from workbench.core.detections import ImageDetections
from workbench.core.error_analysis import ErrorIndex
from workbench.core.error_match import HitPairs, hit_pairs
from workbench.core.error_nms import NmsCache
from workbench.core.error_sweep import OperatingPoint
from workbench.core.metrics_data import FlatDetections, flatten_ground_truth

#: How many NMS values' indexes :class:`SliderSweep` keeps (101 slider steps fit).
CACHED_STEPS = 128


def slider_score(score: float) -> float:
    """The analysis threshold for a slider at ``score``: post-processing keeps ``score > s``
    (torchvision's rule) and the error analysis counts ``score >= s``, so the next float up."""
    return float(np.nextafter(float(score), np.inf))


class SliderSweep:
    """Operating point, confusion matrix and per-image errors for any (score, NMS IoU).

    ``ground_truth`` ``{image id: Annotation}``; ``raw`` the cached pre-NMS candidates of those
    images (:class:`ImageDetections` or :class:`DetectionRuns`; labels are class names);
    ``iou``/``strict`` the matching threshold; ``class_agnostic``, ``candidates_per_class``
    and ``top_k`` as the detector's post-processing
    (:class:`workbench.engine.postprocess.PostprocessSettings`). Raises ``ValueError`` naming a
    candidate's image that has no ground truth.
    """

    def __init__(self, ground_truth: Mapping[str, Annotation], raw: Sequence[ImageDetections],
                 classes: Sequence[str] | None = None, *, iou: float = 0.5,
                 strict: bool = False, class_agnostic: bool = False,
                 candidates_per_class: int | None = None, top_k: int | None = 100) -> None:
        self.ground_truth = ground_truth
        self.iou, self.strict, self.top_k = float(iou), strict, top_k
        self.cache = NmsCache(raw, class_agnostic=class_agnostic,
                              candidates_per_class=candidates_per_class)
        cache = self.cache
        used = np.unique(cache.codes).tolist()
        self.classes = tuple(classes) if classes is not None else tuple(sorted(
            {o.name for a in ground_truth.values() for o in a.objects}
            | {cache.names[c] for c in used}))
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"duplicate class names in {self.classes!r}")
        self.gt = flatten_ground_truth(ground_truth, self.classes)
        image_index = {name: i for i, name in enumerate(self.gt.image_ids)}
        missing = [i for i in cache.ids if i not in image_index]
        if missing:
            raise ValueError(f"detections for image {missing[0]!r}, which has no ground truth "
                             "(image ids are file stems)")
        gt_image = np.asarray([image_index[i] for i in cache.ids], dtype=np.int64)
        class_index = {name: k for k, name in enumerate(self.classes)}
        lut = np.asarray([class_index.get(n, -1) for n in cache.names], dtype=np.int64)
        rows = cache.image_order
        cls = lut[cache.codes[rows]] if len(rows) else np.zeros(0, dtype=np.int64)
        evaluated = cls >= 0  # other classes take part in NMS but are not evaluated
        rows = rows[evaluated]
        # position of each cache row among the evaluated candidates (-1: not evaluated)
        self._pos = np.full(len(cache), -1, dtype=np.int64)
        self._pos[rows] = np.arange(len(rows))
        self.raw = FlatDetections(image=gt_image[cache.image[rows]], cls=cls[evaluated],
                                  boxes=cache.boxes[rows], scores=cache.scores[rows],
                                  seq=np.arange(len(rows), dtype=np.int64))
        self.pairs = hit_pairs(self.gt, self.raw, iou=iou, strict=strict)
        self._by_score = np.lexsort((self.raw.seq, -self.raw.scores))
        self._indexes: OrderedDict[tuple[float, int | None], ErrorIndex] = OrderedDict()
        self._lock = threading.Lock()

    def index(self, nms_iou: float) -> ErrorIndex:
        """The :class:`ErrorIndex` of the detections post-processed at ``nms_iou`` (cached per
        value, the last :data:`CACHED_STEPS` kept)."""
        key = (round(float(nms_iou), 6), self.top_k)
        with self._lock:  # a precompute job and a slider job may ask at once
            found = self._indexes.get(key)
            if found is not None:
                self._indexes.move_to_end(key)
                return found
        index = self._build(float(nms_iou))
        with self._lock:
            self._indexes[key] = index
            if len(self._indexes) > CACHED_STEPS:
                self._indexes.popitem(last=False)
        return index

    def is_cached(self, nms_iou: float) -> bool:
        with self._lock:
            return (round(float(nms_iou), 6), self.top_k) in self._indexes

    def _build(self, nms_iou: float) -> ErrorIndex:
        pos = self._pos[self.cache.selected(nms_iou, self.top_k)]
        pos = pos[pos >= 0]  # increasing: selected rows follow the cache's image order
        raw, n = self.raw, len(self.raw.scores)
        new = np.full(n, -1, dtype=np.int64)
        new[pos] = np.arange(len(pos))
        det = FlatDetections(image=raw.image[pos], cls=raw.cls[pos], boxes=raw.boxes[pos],
                             scores=raw.scores[pos], seq=np.arange(len(pos), dtype=np.int64))
        on = new[self.pairs.d] >= 0
        pairs = HitPairs(new[self.pairs.d[on]], self.pairs.g[on], self.pairs.iou[on])
        by_score = new[self._by_score]
        by_score = by_score[by_score >= 0]
        counts = np.bincount(det.image, minlength=len(self.gt.image_ids))
        present = np.flatnonzero(counts)
        runs = DetectionRuns([self.gt.image_ids[i] for i in present.tolist()],
                             np.r_[0, np.cumsum(counts[present])].astype(np.int64), det.boxes,
                             det.scores, det.cls, self.classes)
        return ErrorIndex.from_parts(self.ground_truth, runs, self.classes, self.gt, det, pairs,
                                     iou=self.iou, strict=self.strict, by_score=by_score)

    def at(self, score: float, nms_iou: float) -> OperatingPoint:
        """The operating point for the sliders at ``score`` (kept: ``score > s``) and
        ``nms_iou``."""
        return self.index(nms_iou).sweep.at(slider_score(score))

    def precompute(self, nms_values: Iterable[float],
                   stop: Callable[[], bool] | None = None) -> Iterator[float]:
        """Compute the index of each NMS value (for a background job), yielding each value when
        done; stops early when ``stop()`` is true."""
        for value in nms_values:
            if stop is not None and stop():
                return
            self.index(value)
            yield float(value)
