"""Score threshold + NMS + top-k, re-applied to a detector's cached *raw* output.

A detector runs once per image with NMS disabled and a very low score floor
(:mod:`workbench.engine.inference`); the result is a :class:`RawDetections`, sorted by descending
score once. Every slider move then calls :func:`postprocess`, which does what torchvision's own
``postprocess_detections`` does after decoding, in the same order:

1. keep entries with ``score > score_threshold`` (strict, as torchvision; on the sorted cache
   this is a binary search, not a mask);
2. for SSD-family models only, keep at most ``candidates_per_class`` best entries per class
   (torchvision's ``SSD.topk_candidates``, applied per class before NMS);
3. ``torchvision.ops.batched_nms`` per class (or ``nms`` over all classes when class-agnostic),
   which discards a box whose IoU with a higher-scoring kept box is ``> nms_iou``;
4. keep the ``top_k`` best (torchvision's ``detections_per_img``).

Because the decoded boxes do not depend on the thresholds, this equals running the network again
with those settings (``tests/engine/test_postprocess_*`` checks it against the models' forward),
at a tiny fraction of the cost.

Boxes are float32 pixel-edge ``xyxy`` in original image pixels (see :mod:`workbench.core.boxes`);
labels are class ids ``1..K`` (0 is background and never appears).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torchvision.ops import batched_nms, nms

from workbench.core.detections import ImageDetections

#: Settings used when a checkpoint carries none (torchvision's SSD defaults, a usual threshold).
DEFAULT_SCORE_THRESHOLD = 0.5
DEFAULT_NMS_IOU = 0.45
DEFAULT_TOP_K = 100


@dataclass(frozen=True)
class PostprocessSettings:
    """What the sliders choose; stored in a checkpoint's ``"postprocess"`` dict.

    ``score_threshold`` in ``[0, 1]`` (kept: ``score > threshold``), ``nms_iou`` in ``[0, 1]``
    (``1.0`` disables NMS), ``top_k >= 1`` detections per image, ``class_agnostic`` runs NMS over
    all classes together instead of per class.
    """

    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    nms_iou: float = DEFAULT_NMS_IOU
    top_k: int = DEFAULT_TOP_K
    class_agnostic: bool = False

    def __post_init__(self) -> None:
        if not (0.0 <= self.score_threshold <= 1.0) or math.isnan(self.score_threshold):
            raise ValueError(f"score_threshold must be in [0, 1], got {self.score_threshold}")
        if not (0.0 <= self.nms_iou <= 1.0) or math.isnan(self.nms_iou):
            raise ValueError(f"nms_iou must be in [0, 1], got {self.nms_iou}")
        if int(self.top_k) != self.top_k or self.top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {self.top_k}")

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint form: ``{"score_threshold", "nms_iou", "top_k", "class_agnostic"}``."""
        return {
            "score_threshold": float(self.score_threshold),
            "nms_iou": float(self.nms_iou),
            "top_k": int(self.top_k),
            "class_agnostic": bool(self.class_agnostic),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PostprocessSettings:
        """Read a checkpoint's ``"postprocess"`` dict; missing keys take the defaults."""
        data = dict(data or {})
        unknown = set(data) - {"score_threshold", "nms_iou", "top_k", "class_agnostic"}
        if unknown:
            raise ValueError(f"unknown postprocess settings: {sorted(unknown)}")
        return cls(
            score_threshold=float(data.get("score_threshold", DEFAULT_SCORE_THRESHOLD)),
            nms_iou=float(data.get("nms_iou", DEFAULT_NMS_IOU)),
            top_k=int(data.get("top_k", DEFAULT_TOP_K)),
            class_agnostic=bool(data.get("class_agnostic", False)),
        )

    def replace(self, **changes: Any) -> PostprocessSettings:
        values = self.to_dict()
        values.update(changes)
        return PostprocessSettings(**values)


@dataclass(frozen=True, eq=False)
class RawDetections:
    """A detector's output for one image before NMS, sorted by descending score.

    ``boxes`` ``(N, 4)`` float32 pixel-edge ``xyxy`` in image pixels; ``scores`` ``(N,)`` float32,
    non-increasing; ``labels`` ``(N,)`` int64 class ids ``1..K``; ``class_rank`` ``(N,)`` int64,
    the position of each entry among the entries of its class (0 = that class's best).
    ``score_floor``: entries at or below it were not kept, so thresholds below it show nothing
    more. ``candidates_per_class``: the model's per-class pre-NMS cap (SSD), None for none.
    ``image_size`` is ``(width, height)``. Build it with :meth:`from_unsorted`.
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    class_rank: torch.Tensor
    score_floor: float = 0.0
    candidates_per_class: int | None = None
    image_size: tuple[int, int] | None = None
    _neg_scores: torch.Tensor = field(default=None, repr=False)  # type: ignore[assignment]

    @classmethod
    def from_unsorted(
        cls,
        boxes: torch.Tensor | np.ndarray,
        scores: torch.Tensor | np.ndarray,
        labels: torch.Tensor | np.ndarray,
        *,
        score_floor: float = 0.0,
        candidates_per_class: int | None = None,
        image_size: tuple[int, int] | None = None,
    ) -> RawDetections:
        """Sort ``(N, 4)`` boxes / ``(N,)`` scores / ``(N,)`` labels once, by descending score."""
        boxes = torch.as_tensor(boxes, dtype=torch.float32).detach().cpu().reshape(-1, 4)
        scores = torch.as_tensor(scores, dtype=torch.float32).detach().cpu().reshape(-1)
        labels = torch.as_tensor(labels, dtype=torch.int64).detach().cpu().reshape(-1)
        if not (len(boxes) == len(scores) == len(labels)):
            raise ValueError(f"{len(boxes)} boxes, {len(scores)} scores, {len(labels)} labels")
        order = torch.argsort(scores, descending=True, stable=True)
        boxes, scores, labels = boxes[order].contiguous(), scores[order].contiguous(), labels[order]
        return cls(boxes, scores, labels, _class_rank(labels), float(score_floor),
                   candidates_per_class, image_size, -scores)

    def __post_init__(self) -> None:
        if self._neg_scores is None:
            object.__setattr__(self, "_neg_scores", -self.scores)

    def __len__(self) -> int:
        return int(self.scores.numel())

    def count_above(self, threshold: float) -> int:
        """How many entries have ``score > threshold`` (a binary search on the sorted scores)."""
        return int(torch.searchsorted(self._neg_scores, torch.tensor([-threshold],
                                                                     dtype=torch.float32)).item())


def _class_rank(labels: torch.Tensor) -> torch.Tensor:
    """Rank of each entry within its class, for labels already in descending-score order."""
    n = labels.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.int64)
    by_class = torch.argsort(labels, stable=True)  # keeps score order inside each class
    sorted_labels = labels[by_class]
    starts = torch.ones(n, dtype=torch.bool)
    starts[1:] = sorted_labels[1:] != sorted_labels[:-1]
    positions = torch.arange(n)
    group_start = torch.cummax(torch.where(starts, positions, torch.zeros_like(positions)), 0)[0]
    rank = torch.empty(n, dtype=torch.int64)
    rank[by_class] = positions - group_start
    return rank


@dataclass(frozen=True)
class PostprocessResult:
    """Indices into the :class:`RawDetections` an outcome refers to (all int64 numpy arrays).

    ``kept``: the final detections, best first. ``suppressed``: candidates above the threshold
    that NMS removed *because of a kept box* (best first, at most ``max_suppressed``; empty
    unless asked for), and ``suppressors[i]`` the kept entry that removed ``suppressed[i]``.
    ``dropped_by_top_k``: NMS survivors beyond ``top_k`` among the candidates NMS examined.
    ``n_candidates``: entries above the threshold (after the per-class cap); ``n_examined``:
    how many of them NMS had to look at to find ``top_k`` survivors (see :func:`postprocess`).
    """

    kept: np.ndarray
    suppressed: np.ndarray
    suppressors: np.ndarray
    dropped_by_top_k: np.ndarray
    n_candidates: int
    n_examined: int = 0


_EMPTY = np.zeros(0, dtype=np.int64)
#: NMS first looks at this many candidates per requested detection, then 4x more, ...
_PREFIX_FACTOR = 4
_MIN_PREFIX = 256


def postprocess(
    raw: RawDetections,
    settings: PostprocessSettings,
    *,
    with_suppressed: bool = False,
    max_suppressed: int = 2000,
) -> PostprocessResult:
    """Apply threshold → per-class candidate cap → NMS → top-k to ``raw`` (see module doc).

    NMS stops early: whether greedy NMS keeps a box depends only on the higher-scoring boxes,
    so NMS over the best ``P`` candidates (in score order) decides the first survivors exactly;
    ``P`` starts at ``4 * top_k`` and grows 4x until ``top_k`` survivors are found or all
    candidates were examined. With many thousands of candidates (an untrained SSD300 at a low
    threshold: 8,000) this is what keeps a slider move within a frame.

    With ``with_suppressed`` the candidates removed by a *kept* box are returned with that box:
    in greedy NMS a box is removed by the first surviving box, in score order, of its class (any
    class when class-agnostic) whose IoU with it exceeds ``nms_iou``; kept boxes precede every
    other survivor, so when any kept box qualifies, the first one is the suppressor.
    """
    n = raw.count_above(settings.score_threshold)
    candidates = torch.arange(n)
    if raw.candidates_per_class is not None and n:
        candidates = candidates[raw.class_rank[:n] < raw.candidates_per_class]
    total = int(candidates.numel())
    if total == 0:
        return PostprocessResult(_EMPTY, _EMPTY, _EMPTY, _EMPTY, 0, 0)
    prefix = max(_PREFIX_FACTOR * settings.top_k, _MIN_PREFIX)
    while True:
        examined = candidates[:prefix]
        keep = _nms_of_prefix(raw, examined, settings)
        if keep.numel() >= settings.top_k or prefix >= total:
            break
        prefix *= _PREFIX_FACTOR
    nms_kept = examined[keep]
    kept = nms_kept[: settings.top_k]
    dropped = nms_kept[settings.top_k:]
    suppressed, suppressors = _EMPTY, _EMPTY
    if with_suppressed and settings.nms_iou < 1.0 and kept.numel():
        suppressed, suppressors = _find_suppressors(raw, candidates, kept, settings,
                                                    max_suppressed)
    return PostprocessResult(kept.numpy().astype(np.int64), suppressed, suppressors,
                             dropped.numpy().astype(np.int64), total,
                             int(min(prefix, total)))


_NMS_CACHE: weakref.WeakKeyDictionary[RawDetections, dict[tuple[float, bool], tuple[int, torch.Tensor]]] \
    = weakref.WeakKeyDictionary()
_NMS_LOCK = threading.Lock()


def _nms_of_prefix(raw: RawDetections, examined: torch.Tensor,
                   settings: PostprocessSettings) -> torch.Tensor:
    """NMS over ``examined`` (positions in it, best first), cached per raw output and NMS
    setting. ``examined`` is always a prefix of one fixed candidate sequence (score order, the
    per-class cap), and greedy NMS decides each box by the better ones only, so NMS over a
    longer prefix restricted to the first ``E`` positions is NMS over the first ``E``: moving
    the score or top-k slider re-uses the last NMS (2-3 ms over 2,000 Faster R-CNN boxes)."""
    key = (float(settings.nms_iou), bool(settings.class_agnostic))
    n = int(examined.numel())
    with _NMS_LOCK:
        known = _NMS_CACHE.setdefault(raw, {}).get(key)
    if known is not None and known[0] >= n:
        keep = known[1]
        return keep[keep < n]
    boxes, scores = raw.boxes[examined], raw.scores[examined]
    if settings.class_agnostic:
        keep = nms(boxes, scores, settings.nms_iou)
    else:
        keep = batched_nms(boxes, scores, raw.labels[examined], settings.nms_iou)
    with _NMS_LOCK:
        cache = _NMS_CACHE.setdefault(raw, {})
        if len(cache) >= 64:  # an NMS slider swept end to end: start over
            cache.clear()
        cache[key] = (n, keep)
    return keep


def _find_suppressors(
    raw: RawDetections,
    candidates: torch.Tensor,
    kept: torch.Tensor,
    settings: PostprocessSettings,
    max_suppressed: int,
    first_rows: int = 1024,
    pairs_per_chunk: int = 262_144,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates (best first) that a kept box suppressed, and that box (raw indices).

    Each candidate is compared with the kept boxes of its own class only (all kept boxes when
    class-agnostic). The candidates are taken in score order, ``first_rows`` of them and then
    4x more each round, until ``max_suppressed`` are found; inside a round each class's
    candidates meet that class's kept boxes in one broadcast IoU table (at most
    ``pairs_per_chunk`` IoUs at a time). The work is candidates × kept boxes *of their class*:
    an untrained SSD300 keeps ~160 boxes of one class among 265, and a table padded to the
    widest class (8,000 candidates × 160) took 90 ms; one ``box_iou`` per class (torch) took
    15 ms on a Faster R-CNN output at score 0.001. IoU in float32, computed as
    ``torchvision.ops.box_iou`` computes it.
    """
    boxes = raw.boxes.numpy()
    kept_np = np.sort(kept.numpy())  # raw order == score order
    cand = candidates.numpy()
    is_kept = np.zeros(len(raw), dtype=bool)
    is_kept[kept_np] = True
    others = cand[~is_kept[cand]]
    if settings.class_agnostic:
        kept_group = np.zeros(len(kept_np), dtype=np.int64)
        other_group = np.zeros(len(others), dtype=np.int64)
    else:
        labels = raw.labels.numpy()
        kept_group, other_group = labels[kept_np], labels[others]
    kept_of = {group: (by, boxes[by], _areas(boxes[by]))
               for group, by in _split_by_group(kept_np, kept_group).items()}
    found_rows: list[np.ndarray] = []
    found_by: list[np.ndarray] = []
    count, start, size = 0, 0, first_rows
    while start < len(others) and count < max_suppressed:
        part = slice(start, start + size)
        start, size = start + size, size * 4
        for group, group_rows in _split_by_group(others[part], other_group[part]).items():
            if group not in kept_of:
                continue
            by, b, b_area = kept_of[group]
            step = max(64, pairs_per_chunk // len(by))
            for first in range(0, len(group_rows), step):
                rows = group_rows[first:first + step]
                a = boxes[rows]
                iw = (np.minimum(a[:, 2, None], b[None, :, 2])
                      - np.maximum(a[:, 0, None], b[None, :, 0])).clip(0)
                ih = (np.minimum(a[:, 3, None], b[None, :, 3])
                      - np.maximum(a[:, 1, None], b[None, :, 1])).clip(0)
                inter = iw * ih
                with np.errstate(divide="ignore", invalid="ignore"):
                    iou = inter / (_areas(a)[:, None] + b_area[None, :] - inter)
                # only kept boxes processed before it (earlier in score order) can remove it
                valid = (iou > settings.nms_iou) & (by[None, :] < rows[:, None])
                hit = valid.any(axis=1)
                if hit.any():
                    found_rows.append(rows[hit])
                    found_by.append(by[valid[hit].argmax(axis=1)])  # first = best kept box
                    count += int(hit.sum())
    if not found_rows:
        return _EMPTY, _EMPTY
    rows_all, by_all = np.concatenate(found_rows), np.concatenate(found_by)
    best = np.argsort(rows_all, kind="stable")[:max_suppressed]
    return rows_all[best].astype(np.int64), by_all[best].astype(np.int64)


def _split_by_group(items: np.ndarray, group: np.ndarray) -> dict[int, np.ndarray]:
    """``items`` split by ``group`` (same length), each part in the order it had in ``items``."""
    order = np.argsort(group, kind="stable")
    keys, first = np.unique(group[order], return_index=True)
    return dict(zip(keys.tolist(), np.split(items[order], first[1:])))


def _areas(boxes: np.ndarray) -> np.ndarray:
    """``(..., 4)`` xyxy → ``(...)`` areas, in the boxes' dtype (as torchvision's box_area)."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def to_image_detections(
    raw: RawDetections,
    indices: np.ndarray | Sequence[int],
    classes: Sequence[str],
    image_id: str,
) -> ImageDetections:
    """The entries ``indices`` of ``raw`` as an :class:`ImageDetections` (labels as names).

    ``classes`` names the ids ``1..K`` (``classes[0]`` is id 1).
    """
    idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
    labels = raw.labels[idx].numpy()
    if len(labels) and (labels.min() < 1 or labels.max() > len(classes)):
        raise ValueError(f"{image_id}: label ids {labels.min()}..{labels.max()} outside "
                         f"1..{len(classes)}")
    names = np.asarray([classes[i - 1] for i in labels.tolist()], dtype=str)
    return ImageDetections(
        image_id=image_id,
        boxes=raw.boxes[idx].numpy().astype(np.float64),
        scores=raw.scores[idx].numpy().astype(np.float64),
        labels=names,
    )


def apply(
    raw: RawDetections, settings: PostprocessSettings, classes: Sequence[str], image_id: str,
) -> ImageDetections:
    """:func:`postprocess` then :func:`to_image_detections` on the kept entries."""
    return to_image_detections(raw, postprocess(raw, settings).kept, classes, image_id)
