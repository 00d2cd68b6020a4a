"""Flat numpy views of ground truth and detections, shared by the VOC and COCO evaluators.

Evaluation works on whole data sets at once: every ground-truth object and every detection
becomes one row of a few parallel arrays (image index, class index, box, …), so that IoU,
matching and accumulation run as vectorised numpy instead of Python loops over images.

Boxes stay float pixel-edge ``xyxy`` (see :mod:`workbench.core.boxes`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter

import numpy as np

from workbench.core.annotation import Annotation
from workbench.core.detection_runs import DetectionRuns
from workbench.core.detections import ImageDetections

log = logging.getLogger(__name__)

_OBJECTS, _NAME, _BOX, _DIFFICULT = (attrgetter("objects"), attrgetter("name"), attrgetter("box"),
                                     attrgetter("difficult"))


@dataclass(frozen=True)
class FlatGroundTruth:
    """All ground-truth objects of a data set, one row each (``G`` rows).

    ``image`` indexes :attr:`image_ids` (the order of the ground-truth mapping), ``cls`` indexes
    :attr:`classes`; ``obj`` is the object's index in its ``Annotation.objects``; ``boxes`` is
    ``(G, 4)`` pixel-edge ``xyxy``. Rows are in mapping order, then object order.
    """

    image_ids: tuple[str, ...]
    classes: tuple[str, ...]
    image: np.ndarray
    cls: np.ndarray
    obj: np.ndarray
    boxes: np.ndarray
    difficult: np.ndarray


@dataclass(frozen=True)
class FlatDetections:
    """All detections of a data set, one row each (``D`` rows), in the order given.

    ``image`` indexes the ground truth's ``image_ids``, ``cls`` the class list, ``seq`` is the
    row's position in the given order (sequence order, then order inside each
    :class:`ImageDetections`): it breaks score ties, as a stable sort would.
    """

    image: np.ndarray
    cls: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    seq: np.ndarray


def class_list(ground_truth: Mapping[str, Annotation], detections: Sequence[ImageDetections],
               classes: Sequence[str] | None) -> tuple[str, ...]:
    """The classes to evaluate: ``classes`` when given, else the sorted union of the names in
    the ground truth and the detections."""
    if classes is not None:
        names = tuple(classes)
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate class names in {names!r}")
        return names
    # one C-level pass over every object (no generator frame per annotation)
    found = set(map(_NAME, chain.from_iterable(map(_OBJECTS, ground_truth.values()))))
    if isinstance(detections, DetectionRuns):  # the names its rows use, without the strings
        used = np.flatnonzero(np.bincount(detections.codes, minlength=len(detections.names)))
        found.update(detections.names[c] for c in used.tolist())
        return tuple(sorted(found))
    labels = [det.labels for det in detections if len(det)]
    if labels:  # one np.unique over all detections, not one per image
        found.update(np.unique(np.concatenate(labels)).tolist())
    return tuple(sorted(found))


def flatten_ground_truth(ground_truth: Mapping[str, Annotation],
                         classes: Sequence[str]) -> FlatGroundTruth:
    """Flatten a ``{image_id: Annotation}`` mapping; objects of other classes are skipped."""
    index = {name: i for i, name in enumerate(classes)}
    annotations = list(ground_truth.values())
    counts = np.fromiter(map(len, map(_OBJECTS, annotations)), dtype=np.int64,
                         count=len(annotations))
    # flat, then one C-level map per field (attrgetter, dict.get): no Python frame per object
    objects = list(chain.from_iterable(map(_OBJECTS, annotations)))
    cls = np.fromiter(map(index.get, map(_NAME, objects), repeat(-1)), dtype=np.int64,
                      count=len(objects))
    boxes = np.fromiter(chain.from_iterable(map(_BOX, objects)), dtype=np.float64,
                        count=4 * len(objects)).reshape(-1, 4)
    difficult = np.fromiter(map(_DIFFICULT, objects), dtype=bool, count=len(objects))
    image = np.repeat(np.arange(len(annotations), dtype=np.int64), counts)
    obj = np.arange(len(objects), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    known = cls >= 0
    skipped = len(objects) - int(known.sum())
    if skipped:
        log.info("%d ground-truth objects of classes outside the evaluated list skipped", skipped)
        image, cls, obj, boxes, difficult = (image[known], cls[known], obj[known], boxes[known],
                                             difficult[known])
    return FlatGroundTruth(
        image_ids=tuple(ground_truth.keys()),
        classes=tuple(classes),
        image=image,
        cls=cls,
        obj=obj,
        boxes=boxes,
        difficult=difficult,
    )


def flatten_detections(detections: Sequence[ImageDetections], image_ids: Sequence[str],
                       classes: Sequence[str]) -> FlatDetections:
    """Flatten detections; labels outside ``classes`` are skipped.

    Raises ``ValueError`` naming the image for a detection on an image that has no ground
    truth (as the devkit and pycocotools do) and for NaN scores.
    """
    image_index = _compact_index(image_ids)
    class_index = {name: i for i, name in enumerate(classes)}
    if isinstance(detections, DetectionRuns):
        return _flatten_runs(detections, image_index, class_index)
    present = [det for det in detections if len(det)]
    images = []
    for det in present:
        i = image_index.get(det.image_id)
        if i is None:
            raise ValueError(f"detections for image {det.image_id!r}, which has no ground truth "
                             "(image ids are file stems)")
        images.append(i)
    if not present:
        empty_i = np.zeros(0, dtype=np.int64)
        return FlatDetections(empty_i, empty_i.copy(), np.zeros((0, 4)), np.zeros(0),
                              empty_i.copy())
    counts = np.fromiter((len(det) for det in present), dtype=np.int64, count=len(present))
    image = np.repeat(np.asarray(images, dtype=np.int64), counts)
    scores = np.concatenate([det.scores for det in present])
    nan = np.flatnonzero(np.isnan(scores))
    if len(nan):
        owner = present[int(np.searchsorted(np.cumsum(counts), nan[0], side="right"))]
        raise ValueError(f"{owner.image_id}: NaN detection score")
    # one np.unique over all labels (not one per image): the class lookup is vectorised
    uniq, inverse = np.unique(np.concatenate([det.labels for det in present]), return_inverse=True)
    lut = np.asarray([class_index.get(u, -1) for u in uniq.tolist()], dtype=np.int64)
    cls = lut[inverse.reshape(-1)]
    keep = cls >= 0
    if not keep.all():
        log.info("%d detections of classes outside the evaluated list skipped",
                 int((~keep).sum()))
    boxes = np.concatenate([det.boxes for det in present])
    return FlatDetections(
        image=image[keep],
        cls=cls[keep],
        boxes=boxes[keep],
        scores=scores[keep],
        seq=np.arange(int(keep.sum()), dtype=np.int64),
    )


def _compact_index(names: Sequence[str]) -> dict[str, int]:
    """``{name: position}`` keyed by fresh copies of the names made side by side in memory
    (one join and split): a look-up reads the key's characters, and keys scattered over a
    large heap (ground truth read from 10^5 files) made 10^6 look-ups ~2.5x slower. Plain
    keys when a name holds a NUL (the separator)."""
    joined = "\0".join(names)
    if joined.count("\0") != max(len(names) - 1, 0):
        return {name: i for i, name in enumerate(names)}
    return dict(zip(joined.split("\0") if names else [], range(len(names))))


def _flatten_runs(runs: DetectionRuns, image_index: dict[str, int],
                  class_index: dict[str, int]) -> FlatDetections:
    """:func:`flatten_detections` of :class:`DetectionRuns`: the same rows, errors and order,
    from its columns (no per-run arrays)."""
    images = np.fromiter(map(image_index.get, runs.ids, repeat(-1)), dtype=np.int64,
                         count=len(runs.ids))
    unknown = np.flatnonzero(images < 0)
    if len(unknown):
        raise ValueError(f"detections for image {runs.ids[int(unknown[0])]!r}, which has no "
                         "ground truth (image ids are file stems)")
    image = np.repeat(images, runs.run_lengths())
    nan = np.flatnonzero(np.isnan(runs.scores))
    if len(nan):
        owner = int(np.searchsorted(runs.bounds, nan[0], side="right")) - 1
        raise ValueError(f"{runs.ids[owner]}: NaN detection score")
    lut = np.asarray([class_index.get(n, -1) for n in runs.names], dtype=np.int64)
    cls = lut[runs.codes] if len(runs.codes) else runs.codes
    keep = cls >= 0
    if not keep.all():
        log.info("%d detections of classes outside the evaluated list skipped",
                 int((~keep).sum()))
        image, cls = image[keep], cls[keep]
        boxes, scores = runs.boxes[keep], runs.scores[keep]
    else:
        boxes, scores = runs.boxes, runs.scores
    return FlatDetections(image=image, cls=cls, boxes=boxes, scores=scores,
                          seq=np.arange(len(scores), dtype=np.int64))


def group_pairs(det_key: np.ndarray, gt_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (detection, ground truth) pair that shares a key (image × class).

    ``det_key`` ``(D,)`` and ``gt_key`` ``(G,)`` int arrays. Returns ``(d, g)`` index arrays of
    equal length, ordered by detection, then by ground-truth row order — so "the first
    maximum" over a detection's pairs is the devkit's ``max`` over the image's objects.
    """
    gt_order = np.argsort(gt_key, kind="stable")
    span = int(max(gt_key.max(initial=-1), det_key.max(initial=-1))) + 1
    if len(gt_key) and min(gt_key.min(), det_key.min(initial=0)) >= 0 and \
            span <= 4 * (len(det_key) + len(gt_key)) + 4096:
        # keys are image × class indices: a table per key instead of two binary searches
        per_key = np.bincount(gt_key, minlength=span)
        counts = per_key[det_key]
        start = (np.cumsum(per_key) - per_key)[det_key]
    else:
        sorted_keys = gt_key[gt_order]
        start = np.searchsorted(sorted_keys, det_key, side="left")
        counts = np.searchsorted(sorted_keys, det_key, side="right") - start
    total = int(counts.sum())
    d = np.repeat(np.arange(len(det_key), dtype=np.int64), counts)
    if total == 0:
        return d, np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    within = np.arange(total, dtype=np.int64) - np.repeat(offsets, counts)
    g = gt_order[np.repeat(start, counts) + within]
    return d, g


def segment_starts(sorted_ids: np.ndarray) -> np.ndarray:
    """Start positions of the runs of equal values in a sorted ``(N,)`` array."""
    if len(sorted_ids) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])


def stable_key_order(*keys: np.ndarray) -> np.ndarray:
    """The stable sort order by several non-negative integer ``keys`` (the first is the most
    significant; row order breaks ties): ``np.lexsort(keys[::-1])``, or ``argsort(kind=
    "stable")`` of one key.

    numpy sorts plain ``int64`` *values* with SIMD (a few ms per 10^6) but stable *argsorts*
    and ``lexsort`` with a merge sort (10-25x slower); so the keys and the row index are packed
    into one ``int64`` whose values are all distinct (the row index is its lowest part): its
    sorted values are the stable order, read back as ``value % n``. When the packed key would
    not fit in 63 bits, ``np.lexsort`` gives the same order."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    spans = [int(k.max()) + 1 for k in keys]
    total = n
    for span in spans:
        total *= span
    if total >= 2 ** 63 or min(int(k.min()) for k in keys) < 0:
        return np.lexsort(keys[::-1]) if len(keys) > 1 else np.argsort(keys[0], kind="stable")
    packed = keys[0].astype(np.int64)
    for key, span in zip(keys[1:], spans[1:]):
        packed *= span
        packed += key
    packed *= n
    packed += np.arange(n, dtype=np.int64)
    packed.sort()
    packed %= n
    return packed


def descending_ranks(scores: np.ndarray) -> np.ndarray:
    """``(N,)`` int64 dense rank of each score, 0 for the highest; equal scores (``==``, so
    ``-0.0`` and ``0.0`` too) share a rank. Sorting by it is sorting by descending score."""
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    neg = np.negative(scores)
    by_score = np.argsort(neg)  # (SIMD quicksort: any order among equal scores is fine here)
    ordered = neg[by_score]
    new = np.empty(n, dtype=np.int64)
    new[0] = 0
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:], casting="unsafe")
    np.cumsum(new, out=new)
    ranks = np.empty(n, dtype=np.int64)
    ranks[by_score] = new
    return ranks


def score_order(scores: np.ndarray, key: np.ndarray | None = None) -> np.ndarray:
    """Rows by ``key`` (non-negative ints) then descending score, ties in row order — the
    stable ``np.lexsort((-scores, key))`` (``np.argsort(-scores, kind="stable")`` without a
    key), by :func:`stable_key_order`. Scores must not be NaN."""
    ranks = descending_ranks(scores)
    return stable_key_order(ranks) if key is None else stable_key_order(key, ranks)
