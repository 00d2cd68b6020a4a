"""NMS over the cached raw detections of a whole validation set at once (numpy, no torch).

The operating point beside the sliders must follow the NMS IoU slider over, say, 1,000 images
without running the network again. :func:`workbench.engine.postprocess.postprocess` does it one
image at a time through ``torchvision.ops.batched_nms`` (≈0.3 ms an image → 0.3 s a move); here
every image is done in one vectorised pass:

* **Once** (:class:`NmsCache`): the raw candidates (score floor, the SSD per-class candidate
  cap) are grouped by image × class (image alone when class-agnostic), sorted by descending
  score, and the IoU of every pair of candidates in the same group that overlap at all is
  computed and kept (``hi`` the higher-scored one, ``lo`` the other).
* **Per NMS IoU ``t``** (:meth:`NmsCache.keep`): greedy NMS is "a candidate is kept unless a
  *kept* higher-scored candidate of its group overlaps it with IoU ``> t``" (torchvision's
  rule). Candidates are visited by their rank inside the group; each step decides the
  candidates of that rank in *every* group at once from the pairs ending at them, so the Python
  loop runs (largest group) times, not (groups) times.
* Top-k per image follows (:meth:`NmsCache.detections`).

A score threshold needs no new NMS: greedy NMS by descending score, the per-class cap and top-k
all keep a prefix, so the outcome at threshold ``s`` is the outcome at the floor restricted to
score ``> s`` — which :class:`workbench.core.error_analysis.ScoreSweep` answers by binary search.
Note that post-processing keeps ``score > s`` (strict, as torchvision) while the error analysis
counts ``score >= s``: pass ``numpy.nextafter(s, inf)`` to the analysis for the slider's ``s``.

Boxes are pixel-edge ``xyxy`` (:mod:`workbench.core.boxes`); IoU is computed in float64 and kept
in float32 (torchvision's NMS compares float32 IoUs of float32 boxes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.core.detection_runs import DetectionRuns
from workbench.core.detections import ImageDetections
from workbench.core.metrics_voc import pair_iou_edges

#: Pairs whose IoU is computed per chunk while building (bounds memory).
_PAIR_CHUNK = 2_000_000


def _ranks(counts: np.ndarray) -> np.ndarray:
    """``0..c-1`` for each count ``c``, concatenated."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)


class NmsCache:
    """Raw candidates of many images with the overlapping same-group pairs precomputed.

    ``raw``: the pre-NMS detections (one :class:`ImageDetections` per image, or
    :class:`DetectionRuns`), as :mod:`workbench.engine.inference` keeps them for the sliders.
    ``class_agnostic``: NMS over all classes of an image together. ``candidates_per_class``: the
    SSD cap, at most that many best candidates per image and class enter NMS.
    """

    def __init__(self, raw: Sequence[ImageDetections], *, class_agnostic: bool = False,
                 candidates_per_class: int | None = None) -> None:
        runs = DetectionRuns.from_detections(raw)
        self.ids: list[str] = list(runs.ids)
        self.names = runs.names
        image = np.repeat(np.arange(len(runs.ids), dtype=np.int64), runs.run_lengths())
        codes = runs.codes
        k = max(len(runs.names), 1)
        group = image if class_agnostic else image * k + codes
        # stable: equal scores keep the given order, as the sorted raw cache does
        order = np.lexsort((np.arange(len(group)), -runs.scores, group))
        if candidates_per_class is not None and len(order):
            cls_key = (image * k + codes)[order]
            o2 = np.lexsort((np.arange(len(order)), -runs.scores[order], cls_key))
            starts = np.flatnonzero(np.r_[True, cls_key[o2][1:] != cls_key[o2][:-1]])
            rank = np.arange(len(o2)) - np.repeat(starts, np.diff(np.r_[starts, len(o2)]))
            keep = np.zeros(len(order), dtype=bool)
            keep[o2[rank < candidates_per_class]] = True
            order = order[keep]
        self.image = image[order]
        self.codes = codes[order]
        self.boxes = runs.boxes[order]
        self.scores = runs.scores[order]
        group = group[order]
        n = len(order)
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if n else \
            np.zeros(0, dtype=np.int64)
        sizes = np.diff(np.r_[starts, n])
        self.rank = _ranks(sizes)  # position inside the group (0 = its best)
        self.max_group = int(sizes.max()) if n else 0
        self._build_pairs(starts, sizes)
        # per-image descending-score order, for top-k
        self.image_order = np.lexsort((np.arange(n), -self.scores, self.image))

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def num_pairs(self) -> int:
        return len(self._iou)

    def _build_pairs(self, starts: np.ndarray, sizes: np.ndarray) -> None:
        """Every (higher, lower) pair in a group with IoU > 0, sorted by the lower one's rank."""
        n = len(self.scores)
        group_end = np.repeat(starts + sizes, sizes)
        after = group_end - np.arange(n) - 1  # later candidates of the same group
        his, los, ious = [], [], []
        cum = np.cumsum(after)
        lo_row = 0
        while lo_row < n:
            base = cum[lo_row - 1] if lo_row else 0
            hi_row = int(np.searchsorted(cum, base + _PAIR_CHUNK, side="right"))
            hi_row = max(hi_row, lo_row + 1)
            rows = np.arange(lo_row, min(hi_row, n))
            counts = after[rows]
            hi = np.repeat(rows, counts)
            lo = hi + 1 + _ranks(counts)
            iou = pair_iou_edges(self.boxes[hi], self.boxes[lo])
            overlap = iou > 0
            # int32 rows and float32 IoU: 12 bytes a pair (clusters of raw boxes make many)
            his.append(hi[overlap].astype(np.int32))
            los.append(lo[overlap].astype(np.int32))
            ious.append(iou[overlap].astype(np.float32))
            lo_row = int(rows[-1]) + 1
        hi = np.concatenate(his) if his else np.zeros(0, dtype=np.int32)
        lo = np.concatenate(los) if los else np.zeros(0, dtype=np.int32)
        iou = np.concatenate(ious) if ious else np.zeros(0, dtype=np.float32)
        # by the lower one's rank, then by descending IoU: at any threshold the pairs that
        # suppress (IoU > t) are a prefix of each rank's run
        by_rank = np.lexsort((-iou, self.rank[lo]))
        self._hi, self._lo, self._iou = hi[by_rank], lo[by_rank], iou[by_rank]
        lo_rank = self.rank[self._lo]
        self._cuts = np.flatnonzero(np.r_[True, lo_rank[1:] != lo_rank[:-1], True]) \
            if len(lo_rank) else np.zeros(1, dtype=np.int64)
        self._neg_iou = -self._iou

    def keep(self, nms_iou: float) -> np.ndarray:
        """``(N,)`` bool: the candidates greedy NMS keeps at IoU threshold ``nms_iou`` (a
        candidate overlapping a kept, higher-scored one of its group with IoU ``> nms_iou``
        is removed; ``1.0`` removes nothing)."""
        keep = np.ones(len(self.scores), dtype=bool)
        hi, lo, neg = self._hi, self._lo, self._neg_iou
        limit = np.float32(-nms_iou)
        for a, b in zip(self._cuts[:-1].tolist(), self._cuts[1:].tolist()):
            end = a + int(np.searchsorted(neg[a:b], limit, side="left"))  # IoU > nms_iou
            if end > a:  # every hi here has a lower rank than its lo: already decided
                keep[lo[a:end][keep[hi[a:end]]]] = False
        return keep

    def selected(self, nms_iou: float, top_k: int | None = None) -> np.ndarray:
        """Row indices (into this cache's arrays) of the final detections: NMS, then the
        ``top_k`` best per image; grouped by image in image order, best first — a subsequence
        of :attr:`image_order`."""
        keep = self.keep(nms_iou)
        rows = self.image_order[keep[self.image_order]]
        if top_k is None:
            return rows
        img = self.image[rows]
        starts = np.searchsorted(img, np.arange(len(self.ids)), side="left")
        rank = np.arange(len(rows)) - starts[img]
        return rows[rank < top_k]

    def detections(self, nms_iou: float, top_k: int | None = None) -> DetectionRuns:
        """The post-processed detections of every image with at least one, as
        :class:`DetectionRuns` (what :class:`workbench.core.error_analysis.ErrorIndex` takes)."""
        rows = self.selected(nms_iou, top_k)
        img = self.image[rows]
        present, counts = np.unique(img, return_counts=True)
        return DetectionRuns([self.ids[i] for i in present.tolist()],
                             np.r_[0, np.cumsum(counts)].astype(np.int64), self.boxes[rows],
                             self.scores[rows], self.codes[rows], self.names)
