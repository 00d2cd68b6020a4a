"""Selective-search region proposals (OpenCV contrib), a faster variant, filters and recall.

Two methods, three modes (Uijlings et al. 2013 "single", "fast", "quality"):

* ``"opencv"``: ``cv2.ximgproc.segmentation.createSelectiveSearchSegmentation`` on the
  full-resolution image, one ``process()`` call, exactly as the OpenCV tutorials run it.
* ``"ours"``: the same OpenCV building blocks on the image downscaled to at most ``max_side``
  pixels, boxes mapped back to full resolution, duplicates removed. OpenCV's hierarchical
  grouping re-sorts the neighbour list after every merge, so its cost grows faster than the
  number of initial segments, and those grow with the pixel count; a 650x417 photo at 320 px is
  ~3x fewer pixels and 4x less time. Each (colour space, ``k``) unit runs on its own, which
  gives progress and a cancel point between units (``threads > 1`` overlaps only the work
  around OpenCV's ``process()``: that call holds one lock so its random ranks are reproducible,
  see :data:`RANK_SEED`); the units' ranked lists are interleaved (OpenCV ranks by
  ``random * level``; interleaving keeps each unit's small-to-large order the same way).

  **The segmentation's pixel units are scaled with the image** (ALGORITHM_VERSION 2; the area
  rule below: 3). The graph segmentation's ``k`` and ``min_size`` are in pixels of the image
  it runs on: OpenCV's ``min_size`` of 100 px at 320 px is 625 px of an 800-px photo, and ``k`` (the merge
  threshold ``k / |C|``) likewise lets segments grow ~(1/scale)² times larger relative to the
  photo. So a plain downscale (version 1) merged every small object into its background before
  the grouping saw it: recall@0.7 0.750 vs 0.917 at full resolution on the tuning mosaics.
  ``k`` is multiplied by ``scale ** scale_k`` and ``min_size`` by ``scale ** scale_min_size``
  (``scale`` = work size / photo size; exponents 0 give the plain downscale).
  The reduction is to ``max_side`` on the longest side or to ``work_area`` pixels, whichever
  keeps more pixels, so a wide photo is not reduced further than a 4:3 one of the same width.
* ``fine_side``: an optional second, finer pass — the image at ``fine_side`` px in
  ``fine_mode`` (one colour space and ``k`` for ``"single"``), same scaling rules — whose boxes
  are interleaved with the first pass's (off by default since version 5).

**Version 5: a coarser first pass sized by the photo, and a segment pass at full resolution**
(version 6: the segment pass's boxes ranked by ``random * level`` instead of segments, then
pairs, then chains — at the 2000 the classic detectors keep, recall@0.7 0.764 → 0.819 on 16
tuning photos, OpenCV 0.824).
Objects the reduced pass is too coarse for are found from the segmentation alone, which costs
little next to the grouping. Per image:

* the coarse pass (OpenCV's units as above) keeps at most ``coarse_frac`` (8 %) of the photo's
  pixels — a 800x600 photo runs at 226x170, a 650x417 one at 184x118 — but its longest side
  stays at least ``max_side / 2`` (160 px) and at most ``max_side``; so its cost is a fixed
  fraction of OpenCV's at full resolution whatever the photo's size (version 4's fixed 320 px
  was only 2–3x cheaper on photos under 600 px);
* the segment pass: one graph segmentation per ``(seg_ks, seg_spaces)`` pair (``k`` 150 in HSV,
  300 in Lab; version 7 below: 200 and 300) at full resolution (up to ``seg_side``), no
  grouping. Its proposals are every segment's box, the box around every two touching
  segments and, with ``seg_triples``, around every chain of three (:func:`segment_boxes`),
  kept when their longer side is at most ``seg_max_box`` pixels *of the coarse pass* (38 px:
  134 px of an 800x600 photo): small objects made of one to three segments, with
  full-resolution edges. They are ranked as OpenCV ranks its hierarchy, ``random * level``
  (level 1–3; numpy's generator seeded with :data:`RANK_SEED`), and interleaved with the
  coarse units' lists. Small objects were where version 4 lost recall (on objects under 48 px
  recall@0.7 0.71–0.74 vs 0.82 at full resolution);
* near repeats go (:func:`grid_dedup`, ``dedup_grid``) after the exact ones.

**Version 7: a finer HSV segmentation, a half-size Lab one, and bridges.** The two
segmentations of the segment pass are HSV ``k`` 200 with ``min_size`` 50 at full resolution
(``seg_min_sizes``: tiny low-contrast objects, 13x26 px bottles, merged into their background at
``min_size`` 100) and Lab ``k`` 300 at half the photo's size (``seg_scales``: a quarter of the
pixels; the segmentations were 58 % of our time on the raccoon photos, which were 4.6x faster
than OpenCV, not 5x). ``seg_bridges`` adds the box of the two ends of every chain ``a-b-c``
without ``b`` where ``b`` runs out of it and ``a`` and ``c`` cover at least ``seg_bridge_fill``
(40 %) of it — an object cut in two by a thin occluder such as a wire or a branch, whose chain
box runs along the occluder. Bridges come after every other segment-pass box, so a top-N cut
drops them first. Chosen on sets A–D of ``bench/bench_proposals.py`` (D's misses were looked
at: two tiny bottles, a ball and a cone each cut by a wire); set E was added afterwards.

**Version 8: the order only** (the set of boxes is version 7's: repeats are removed in version
7's order first). At the 2000 the classic detectors keep, version 7 had recall@0.7 below
OpenCV's first 2000 on three of sets A–D: most boxes found later than 2000 were segment-pass
boxes (the HSV list alone is ~2,000 after de-duplication). Now (:func:`rank_proposals`)
the segment-pass boxes are ranked by ``random / fill²`` (``seg_rank``; fill: their segments'
pixels over the box's area, :func:`segment_boxes_fill`; a chain along an edge fills little of
its box), then interleaved with the coarse units as before, then every box in the same cell of a
grid 0.3 of its size as a higher-ranked box moves behind all others (``rank_grid``; order kept
within both parts). On A–D at 2000: recall@0.5/0.7 A .991/.864 → 1.000/.882, B .939/.756 →
.970/.787, C .880/.760 → .940/.784, D .916/.695 → .916/.723 (OpenCV's first 2000: .964/.836,
.957/.762, .940/.778, .932/.767). Tried: interleave rates 0.25–2, a proportional interleave
(R@0.5 up, R@0.7 down), size order (larger or smaller first: worse), coarse boxes first,
two or three grid tiers (R@0.7 down), ``random * level / fill`` (close second).

**Version 9: the full-size HSV segmentation's ``min_size`` 30** (``seg_min_sizes`` (30, 100);
was 50). On set F of ``bench/bench_proposals.py`` (5x4 tiles of 200x150, ~59 objects a photo)
recall@0.5 with every proposal was 0.913 vs OpenCV's 0.930: the misses were objects of 10–40 px
(most 12–25 px on a side) merged into their surroundings at ``min_size`` 50 — neither
``seg_max_box`` 60 (no change) nor ``coarse_frac`` 0.12 (0.926, 30 % slower) found them; ``min_size``
30 gives 0.934 at ~the same time and ~20 % more boxes. A–E and the raccoons keep recall at or
above OpenCV's (A's recall@0.7 0.936 → 0.927, = OpenCV's: another near-repeat representative).

The segment pass draws no random numbers, so with ``threads > 1`` it runs beside the coarse
units (whose ``process()`` calls still take the rank lock one at a time). Tuned on the 800x600
mosaics of :mod:`workbench.core.ss_eval` (seed 101, 16 photos); ``bench/bench_proposals.py``
reports the sets that were not used.

Boxes are float pixel-edge ``xyxy`` in the input image's pixels (OpenCV's ``(x, y, w, h)``
integer rects map to ``(x, y, x + w, y + h)``), in rank order (most "object-like" first as
OpenCV ranks them). Images are BGR ``uint8`` (OpenCV order); the colour-space conversions depend
on it.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from workbench.core.boxes import box_area, iou_matrix

log = logging.getLogger(__name__)

Mode = Literal["single", "fast", "quality"]
Method = Literal["ours", "opencv"]
MODES: tuple[str, ...] = ("single", "fast", "quality")

#: progress(fraction 0..1, message)
ProgressFn = Callable[[float, str], None]


class ProposalsCancelled(Exception):
    """Raised between units when the caller's ``cancelled()`` returns True."""


@dataclass(frozen=True)
class ProposalParams:
    """Parameters of one selective-search run (hashable: the GUI caches on them)."""

    mode: Mode = "fast"
    method: Method = "ours"
    #: ours: longest side the image is reduced to (no upscaling).
    max_side: int = 320
    #: ours: drop a proposal whose IoU with a higher-ranked one exceeds this (None: exact only).
    dedup_iou: float | None = None
    base_k: int = 150
    inc_k: int = 150
    sigma: float = 0.8
    single_k: int = 200
    #: ours: graph-segmentation minimum segment size (OpenCV's default 100), at full resolution.
    min_size: int = 100
    #: ours: k is multiplied by scale ** scale_k (0: the plain downscale of version 1).
    scale_k: float = 1.0
    #: ours: min_size is multiplied by scale ** scale_min_size (0: plain downscale).
    scale_min_size: float = 1.0
    #: ours: no fewer pixels than this at ``max_side`` (320x240): a wide photo (960x480) is not
    #: reduced to fewer pixels than a 4:3 one; the finer pass scales it by
    #: ``(fine_side / max_side) ** 2``. 0: by the longest side only.
    work_area: int = 76800
    #: ours: longest side of a second, finer selective-search pass (0: none) and its mode
    #: (ALGORITHM_VERSION 4's default was 480 "single"; the segment pass replaced it).
    fine_side: int = 0
    fine_mode: Mode = "single"
    #: ours: the coarse pass keeps at most this fraction of the photo's pixels (0: no such
    #: bound, only ``max_side``/``work_area``): the work size follows the photo's own size.
    coarse_frac: float = 0.08
    #: ours: the segment pass: graph segmentations (HSV) at full resolution, one per ``k``
    #: (empty: no segment pass); their segments and the unions of two touching segments are
    #: proposals, those no longer than ``seg_max_box`` pixels of the coarse pass on their
    #: longer side (the objects the coarse pass is too coarse for).
    seg_ks: tuple[int, ...] = (200, 300)
    #: ours: the colour space of each segmentation of the segment pass ("HSV" or "Lab").
    seg_spaces: tuple[str, ...] = ("HSV", "Lab")
    seg_min_size: int = 100
    #: ours: the i-th segmentation's ``min_size`` (``seg_min_size`` where the tuple has no
    #: i-th entry; entries past ``seg_ks`` are unused). Version 9: 30 (was 50) for HSV.
    seg_min_sizes: tuple[int, ...] = (30, 100)
    #: ours: also the unions of three segments that touch in a chain (a-b, b-c).
    seg_triples: bool = True
    #: ours: the segment pass runs at full resolution up to this longest side.
    seg_side: int = 1600
    seg_max_box: float = 38.0
    #: ours: the i-th segmentation of the segment pass runs at ``seg_scales[i]`` of the
    #: photo's linear size (``k`` and ``min_size`` scaled as the coarse pass's; 1.0 where the
    #: tuple has no i-th entry; entries past ``seg_ks`` are unused).
    seg_scales: tuple[float, ...] = (1.0, 0.5)
    #: ours: also the unions of the two ends of every chain a-b-c without the middle ``b``
    #: (an object cut in two by a thin occluder ``b`` that runs on past it).
    seg_bridges: bool = True
    #: ours: ... only where the two ends cover at least this fraction of their box.
    seg_bridge_fill: float = 0.4
    #: ours: each segment-pass list gives this many boxes per round of the interleave, the
    #: coarse units one each.
    seg_rate: float = 1.0
    #: ours: the final order of the segment-pass boxes (version 8; the set of boxes does not
    #: depend on it): ``"fill"`` ranks them by ``random / fill²`` (fill: their segments'
    #: pixels over the box's area), ``"level"`` by ``random * level`` as OpenCV ranks its
    #: hierarchy, bridges last (version 7).
    seg_rank: str = "fill"
    #: ours: after the interleave, a box in the same cell as a higher-ranked one of a grid whose
    #: step is this fraction of its size (as ``dedup_grid``) moves behind every box that is not
    #: (order only; 0: no move).
    rank_grid: float = 0.3
    #: ours: drop a box that falls in the same cell as a higher-ranked one of a grid whose
    #: step is this fraction of the box's size (rounded to a power of two pixels): near
    #: repeats, at ~1/60 of the cost of ``dedup_iou`` (0: exact repeats only).
    dedup_grid: float = 0.1


@dataclass(frozen=True)
class ProposalResult:
    boxes: np.ndarray = field(repr=False)  # (N, 4) xyxy in image px, rank order
    seconds: float                          # decoded image → final list, all steps included
    params: ProposalParams
    image_size: tuple[int, int]             # (height, width)
    work_size: tuple[int, int]              # (height, width) the segmentation ran at

    @property
    def count(self) -> int:
        return int(len(self.boxes))


def _strategies(mode: Mode) -> list:
    """The strategies OpenCV's ``switchTo...`` adds, sharing the same fill/texture/size objects
    the way OpenCV does (its ``fill2``/``texture2``/``size2`` are created but unused), so the
    texture histograms of an image are computed once per unit and reused."""
    seg = cv2.ximgproc.segmentation
    color = seg.createSelectiveSearchSegmentationStrategyColor()
    fill = seg.createSelectiveSearchSegmentationStrategyFill()
    texture = seg.createSelectiveSearchSegmentationStrategyTexture()
    size = seg.createSelectiveSearchSegmentationStrategySize()
    multiple = seg.createSelectiveSearchSegmentationStrategyMultiple
    out: list[Any] = [multiple(color, fill, texture, size)]
    if mode in ("fast", "quality"):
        out.append(multiple(fill, texture, size))
    if mode == "quality":
        out += [seg.createSelectiveSearchSegmentationStrategyFill(),
                seg.createSelectiveSearchSegmentationStrategySize()]
    return out


def _images(image_bgr: np.ndarray, mode: Mode) -> list[tuple[str, np.ndarray]]:
    """The colour spaces OpenCV's ``switchTo...`` uses for each mode."""
    hsv = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2HSV)
    if mode == "single":
        return [("HSV", hsv)]
    images = [("HSV", hsv), ("Lab", cv2.cvtColor(image_bgr, cv2.COLOR_BGR2Lab))]
    if mode == "quality":
        gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        images += [("I", gray), ("H", np.ascontiguousarray(hsv[:, :, 0])),
                   ("rgI", cv2.merge([image_bgr[:, :, 2], image_bgr[:, :, 1], gray]))]
    return images


def _ks(params: ProposalParams) -> list[int]:
    if params.mode == "single":
        return [params.single_k]
    steps = 2 if params.mode == "fast" else 4
    return [params.base_k + params.inc_k * i for i in range(steps + 1)]


def _rects_to_boxes(rects: Any) -> np.ndarray:
    r = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
    return np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]], axis=1)


# OpenCV's selective search ranks every region by ``std::rand() / RAND_MAX * level``: the C
# library's one generator, whose state whatever else ran in the process has moved. Unseeded,
# the same image gave a different top-N from one process (or test order) to the next. Each
# ``process()`` therefore runs with the C generator seeded to a fixed value, under one lock so
# that two searches on two threads cannot draw from the same sequence between them.
RANK_SEED = 0x5EED
_RAND_LOCK = threading.Lock()


def _c_srand() -> Callable[[int], None] | None:
    """``srand`` of the C runtime OpenCV links against; None where it cannot be found."""
    names = ["ucrtbase", "msvcrt"] if sys.platform == "win32" else [None]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            fn = lib.srand
        except (OSError, AttributeError) as exc:
            log.debug("no srand in %s: %s", name or "the process", exc)
            continue
        fn.argtypes = [ctypes.c_uint]
        fn.restype = None
        return fn
    log.warning("cannot seed the C library's rand(): selective-search ranks are not "
                "reproducible from run to run on this platform")
    return None


_SRAND = _c_srand()


def _seeded_process(ss: Any) -> Any:
    """``ss.process()`` with OpenCV's rank draws starting from :data:`RANK_SEED`."""
    with _RAND_LOCK:
        if _SRAND is not None:
            _SRAND(RANK_SEED)
        return ss.process()


def _opencv_full(image_bgr: np.ndarray, params: ProposalParams) -> np.ndarray:
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(image_bgr)
    if params.mode == "single":
        ss.switchToSingleStrategy(params.single_k, params.sigma)
    elif params.mode == "fast":
        ss.switchToSelectiveSearchFast(params.base_k, params.inc_k, params.sigma)
    else:
        ss.switchToSelectiveSearchQuality(params.base_k, params.inc_k, params.sigma)
    return _rects_to_boxes(_seeded_process(ss))


def _run_unit(image: np.ndarray, k: float, sigma: float, mode: Mode,
              min_size: int = 100) -> np.ndarray:
    seg = cv2.ximgproc.segmentation
    ss = seg.createSelectiveSearchSegmentation()
    ss.addImage(image)
    gs = seg.createGraphSegmentation()
    gs.setK(float(k))
    gs.setSigma(float(sigma))
    gs.setMinSize(int(min_size))
    ss.addGraphSegmentation(gs)
    for strategy in _strategies(mode):
        ss.addStrategy(strategy)
    return _rects_to_boxes(_seeded_process(ss))


def _interleave(lists: list[np.ndarray], rates: list[float] | None = None) -> np.ndarray:
    """Round-robin merge of ranked lists: rank 0 of every list, then rank 1, ...; with
    ``rates``, list ``i`` gives ``rates[i]`` boxes per round (its rank ``r`` sorts as
    ``r / rates[i]``; ties: the earlier list first)."""
    if not lists:
        return np.zeros((0, 4))
    source = np.concatenate([np.full(len(b), i) for i, b in enumerate(lists)])
    rank = np.concatenate([np.arange(len(b)) for b in lists])
    return np.concatenate(lists)[_interleave_order(source, rank, rates or [1.0] * len(lists))]


def _interleave_order(source: np.ndarray, rank: np.ndarray, rates: list[float]) -> np.ndarray:
    """The order of :func:`_interleave` for boxes from list ``source`` at ``rank`` in it."""
    return np.lexsort((source, rank / np.asarray(rates, dtype=np.float64)[source]))


def rank_proposals(boxes: np.ndarray, source: np.ndarray, rank: np.ndarray,
                   rates: list[float], grid: float) -> np.ndarray:
    """The final order (indices into ``boxes``) of boxes from ranked lists (``source``: the
    list, ``rank``: the place in it): interleaved as :func:`_interleave`, then every box that
    falls in a cell of a higher-ranked one (:func:`grid_dedup` at ``grid``) moved behind all
    that do not, in the same order (``grid`` 0: no move). A near repeat adds little where
    the list is cut (the classic detectors keep the first 2000): the boxes in front are
    spread over more of the photo's objects."""
    order = _interleave_order(np.asarray(source), np.asarray(rank, dtype=np.float64), rates)
    if grid <= 0 or len(order) < 2:
        return order
    behind = np.ones(len(order), bool)
    behind[grid_dedup(np.asarray(boxes)[order], grid)] = False
    return order[np.argsort(behind, kind="stable")]


def dedup(boxes: np.ndarray, iou_threshold: float | None) -> np.ndarray:
    """Indices of ``boxes`` kept after removing repeats, first occurrence wins.

    Exact repeats always go; with ``iou_threshold`` a box whose IoU with an earlier kept box is
    above it goes too (greedy, in list order: earlier = higher ranked).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    _, first = np.unique(np.round(boxes, 3), axis=0, return_index=True)
    keep = np.sort(first)
    if iou_threshold is None or len(keep) < 2:
        return keep
    b = boxes[keep]
    iou = iou_matrix(b, b)
    np.fill_diagonal(iou, 0.0)
    dup = np.triu(iou > iou_threshold, k=1)          # dup[i, j]: j repeats earlier i
    removed = np.zeros(len(b), dtype=bool)
    for i in range(len(b)):
        if removed[i]:
            continue
        removed |= dup[i]
    return keep[~removed]


def grid_dedup(boxes: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of ``boxes`` kept after removing near repeats, first occurrence wins.

    Each box's step is ``fraction`` of ``sqrt(area)`` rounded to a power of two (at least
    1 px); two boxes with the same step whose four coordinates divided by it round to the same
    integers are repeats. ``fraction`` 0 keeps everything."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if fraction <= 0 or len(b) < 2:
        return np.arange(len(b))
    size = np.sqrt(np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1.0))
    step = 2.0 ** np.round(np.log2(np.maximum(1.0, fraction * size)))
    key = np.concatenate([np.round(b / step[:, None]), step[:, None]], axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    return np.sort(first)


@dataclass(frozen=True)
class _Unit:
    name: str
    image: np.ndarray = field(repr=False)
    k: float
    min_size: int
    mode: Mode
    back: tuple[float, float]     # (x, y) factors from the unit's pixels to the photo's


def _pass_units(image: np.ndarray, side: int, mode: Mode,
                params: ProposalParams) -> tuple[list[_Unit], tuple[int, int]]:
    """The units of one pass at longest side ``side``; also its (height, width)."""
    scale = _pass_scale(image.shape[:2], side, params)
    h, w = image.shape[:2]
    work_w, work_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = image if scale == 1.0 else cv2.resize(image, (work_w, work_h),
                                                  interpolation=cv2.INTER_AREA)
    k_factor = scale ** params.scale_k
    min_size = max(1, round(params.min_size * scale ** params.scale_min_size))
    pass_params = dataclasses.replace(params, mode=mode)
    back = (w / work_w, h / work_h)
    units = [_Unit(f"{name} {work_w}x{work_h}", img, k * k_factor, min_size, mode, back)
             for name, img in _images(small, mode) for k in _ks(pass_params)]
    return units, (work_h, work_w)


def _pass_scale(size: tuple[int, int], side: int, params: ProposalParams) -> float:
    """Scale of a selective-search pass at longest side ``side`` of an ``(h, w)`` photo."""
    h, w = size
    area = params.work_area * (side / params.max_side) ** 2
    scale = min(1.0, max(side / max(h, w), (area / (h * w)) ** 0.5))
    if params.coarse_frac > 0:
        # at most coarse_frac of the pixels, but not below half of ``side`` (small photos)
        by_area = params.coarse_frac ** 0.5 * side / params.max_side
        scale = min(scale, max(by_area, min(1.0, side / 2 / max(h, w))))
    return scale


_SEG_SPACES = {"HSV": cv2.COLOR_BGR2HSV, "Lab": cv2.COLOR_BGR2Lab}


def _union(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.concatenate([np.minimum(first[:, :2], second[:, :2]),
                           np.maximum(first[:, 2:], second[:, 2:])], axis=1)


def segment_boxes(labels: np.ndarray, triples: bool = False, bridges: bool = False,
                  min_fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and their levels (1: one segment, 2: two, 3: three, 4: a bridge).

    Boxes (pixel-edge ``xyxy`` in the label image's pixels) of every segment of an
    ``(H, W)`` label image (ids ``0 … n-1``), in id order, then of the union of every two
    segments that touch (4-connectivity; pairs in ``(lower id, higher id)`` order), then, with
    ``triples``, of every chain ``a-b-c`` (``a`` and ``c`` both touch ``b``; ordered by ``b``'s
    number of neighbours, then ``b``, then ``(a, c)`` with ``a < c``). Last, with
    ``bridges``, the box of the two ends ``a``, ``c`` of every such chain without its middle
    ``b`` (same order), where ``b`` runs out of that box (else it is the chain's box) and
    ``a`` and ``c`` cover at least ``min_fill`` of it: an object cut in two by a thin
    occluder (a wire, a branch) that runs on past it."""
    boxes, levels, _fill = segment_boxes_fill(labels, triples, bridges, min_fill)
    return boxes, levels


def segment_boxes_fill(labels: np.ndarray, triples: bool = False, bridges: bool = False,
                       min_fill: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`segment_boxes` and each box's fill: the pixels of its segments over its area
    (1.0 for a rectangle segment; a chain along a diagonal edge fills little of its box)."""
    lab = np.asarray(labels, dtype=np.int64)
    if lab.ndim != 2 or lab.size == 0:
        raise ValueError(f"segment_boxes needs a non-empty (H, W) label image, got {lab.shape}")
    n = int(lab.max()) + 1
    lh, lw = lab.shape
    # each segment's box from the columns and rows it occupies
    cols = np.zeros((n, lw), bool)
    rows = np.zeros((n, lh), bool)
    cols[lab, np.broadcast_to(np.arange(lw), lab.shape)] = True
    rows[lab, np.broadcast_to(np.arange(lh)[:, None], lab.shape)] = True
    present = cols.any(axis=1)
    seg = np.stack([cols.argmax(1), rows.argmax(1), lw - cols[:, ::-1].argmax(1),
                    lh - rows[:, ::-1].argmax(1)], axis=1).astype(np.float64)
    across = lab[:, :-1] != lab[:, 1:]
    down = lab[:-1, :] != lab[1:, :]
    a = np.concatenate([lab[:, :-1][across], lab[:-1, :][down]])
    b = np.concatenate([lab[:, 1:][across], lab[1:, :][down]])
    key = np.minimum(a, b) * n + np.maximum(a, b)
    if n * n <= 1 << 24:   # a mask of all pairs (16 MB at most) sorts them 4x faster
        mask = np.zeros(n * n, bool)
        mask[key] = True
        key = np.flatnonzero(mask)
    else:
        key = np.unique(key)
    lo, hi = key // n, key % n
    found = [seg[present], _union(seg[lo], seg[hi])]
    levels = [np.full(len(found[0]), 1), np.full(len(found[1]), 2)]
    bridged: list[np.ndarray] = []
    area = np.bincount(lab.ravel(), minlength=n).astype(np.float64)
    pixels = [area[present], area[lo] + area[hi]]
    bridged_pixels: list[np.ndarray] = []
    if (triples or bridges) and len(key):
        ends = np.concatenate([hi, lo])
        mid = np.concatenate([lo, hi])
        order = np.lexsort((ends, mid))
        ends, mid = ends[order], mid[order]
        start = np.searchsorted(mid, np.arange(n))
        deg = np.searchsorted(mid, np.arange(n), side="right") - start
        for d in np.unique(deg[deg >= 2]):
            centres = np.flatnonzero(deg == d)
            i, j = np.triu_indices(int(d), 1)
            first = ends[start[centres][:, None] + i[None, :]].ravel()
            second = ends[start[centres][:, None] + j[None, :]].ravel()
            middle = np.repeat(centres, len(i))
            ends_box = _union(seg[first], seg[second])
            if triples:
                found.append(_union(ends_box, seg[middle]))
                levels.append(np.full(len(middle), 3))
                pixels.append(area[first] + area[second] + area[middle])
            if bridges:
                mb = seg[middle]
                out = ((mb[:, :2] < ends_box[:, :2]) | (mb[:, 2:] > ends_box[:, 2:])).any(1)
                box_px = (ends_box[:, 2] - ends_box[:, 0]) * (ends_box[:, 3] - ends_box[:, 1])
                out &= area[first] + area[second] >= min_fill * box_px
                bridged.append(ends_box[out])
                bridged_pixels.append((area[first] + area[second])[out])
    found += bridged
    levels += [np.full(len(x), 4) for x in bridged]
    pixels += bridged_pixels
    boxes = np.concatenate(found)
    box_px = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0)
    return boxes, np.concatenate(levels), np.concatenate(pixels) / box_px


def _segment_pass(image: np.ndarray, k: float, space: str, params: ProposalParams,
                  coarse_scale: float, seg_scale: float = 1.0,
                  min_size: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """:func:`segment_boxes` of one graph segmentation in ``space`` at ``seg_scale`` of the
    photo (and at most ``seg_side``), in photo pixels, no longer than
    ``seg_max_box / coarse_scale`` on their longer side, ranked by ``random * level``; the
    bridges (level 4) after all others, in random order (version 7: this order picks which
    of near repeats stays). Second: each box's place in the final order of ``seg_rank``."""
    h, w = image.shape[:2]
    scale = min(1.0, params.seg_side / max(h, w), seg_scale)
    small = image if scale == 1.0 else cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))),
        interpolation=cv2.INTER_AREA)
    gs = cv2.ximgproc.segmentation.createGraphSegmentation()
    gs.setK(float(k * scale ** params.scale_k))
    gs.setSigma(float(params.sigma))
    gs.setMinSize(max(1, round(min_size * scale ** params.scale_min_size)))
    if space not in _SEG_SPACES:
        raise ValueError(f"unknown segment-pass colour space {space!r}; use one of "
                         f"{tuple(_SEG_SPACES)}")
    labels = np.asarray(gs.processImage(cv2.cvtColor(small, _SEG_SPACES[space])), np.int64)
    lh, lw = labels.shape
    boxes, levels, fill = segment_boxes_fill(labels, params.seg_triples, params.seg_bridges,
                                             params.seg_bridge_fill)
    boxes = boxes * np.array([w / lw, h / lh] * 2)
    longer = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    keep = longer <= params.seg_max_box / coarse_scale
    boxes, levels, fill = boxes[keep], levels[keep], fill[keep]
    # ranked the way OpenCV ranks its hierarchy: random * level, small groups first on
    # average; the bridges (last in the list, so the others draw what they drew without
    # them) after every other box
    draw = np.random.default_rng(RANK_SEED).random(len(boxes))
    rank = np.where(levels == 4, 3.0 + draw, draw * levels)
    first = np.argsort(rank, kind="stable")
    if params.seg_rank == "level":
        return boxes[first], np.arange(len(first))
    if params.seg_rank != "fill":
        raise ValueError(f"unknown seg_rank {params.seg_rank!r}; use 'fill' or 'level'")
    # version 8: boxes their segments fill go first (a chain along an edge, a thin diagonal
    # segment fill little of their box), random among equals
    key = draw[first] / np.maximum(fill[first], 0.05) ** 2
    place = np.empty(len(first), np.int64)
    place[np.argsort(key, kind="stable")] = np.arange(len(first))
    return boxes[first], place


def _unit_boxes(unit: _Unit, sigma: float) -> np.ndarray:
    boxes = _run_unit(unit.image, unit.k, sigma, unit.mode, unit.min_size)
    return boxes * np.array([unit.back[0], unit.back[1]] * 2)


def selective_search(
    image_bgr: np.ndarray,
    params: ProposalParams = ProposalParams(),
    *,
    progress: ProgressFn | None = None,
    cancelled: Callable[[], bool] | None = None,
    threads: int = 1,
) -> ProposalResult:
    """Region proposals for one BGR ``(H, W, 3)`` uint8 image.

    ``seconds`` is the wall time from this call (decoded image in hand) to the final list,
    every resize, conversion, mapping and de-duplication included. Raises
    :class:`ProposalsCancelled` when ``cancelled()`` turns True between units. ``threads``:
    ``"ours"`` runs that many units at once (the boxes do not depend on it).
    """
    image = np.asarray(image_bgr)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"selective search needs an (H, W, 3) uint8 BGR image, got "
                         f"{image.shape} {image.dtype}")
    if params.mode not in MODES:
        raise ValueError(f"unknown selective-search mode {params.mode!r}; use one of {MODES}")
    report = progress or (lambda _f, _m: None)
    stop = cancelled or (lambda: False)
    start = time.perf_counter()
    h, w = image.shape[:2]
    if params.method == "opencv":
        report(0.0, f"OpenCV {params.mode} at {w}x{h}")
        boxes = _opencv_full(image, params)
        work = (h, w)
    elif params.method == "ours":
        if len(params.seg_ks) != len(params.seg_spaces):
            raise ValueError(f"seg_ks {params.seg_ks} and seg_spaces {params.seg_spaces} need "
                             f"one colour space per k")
        units, work = _pass_units(image, params.max_side, params.mode, params)
        if params.fine_side > 0:
            units += _pass_units(image, params.fine_side, params.fine_mode, params)[0]
        coarse_scale = _pass_scale((h, w), params.max_side, params)
        # the i-th segmentation's scale and min_size; 1.0 and seg_min_size past their ends
        n_seg = len(params.seg_ks)
        seg_scales = (params.seg_scales + (1.0,) * n_seg)[:n_seg]
        seg_mins = (params.seg_min_sizes + (params.seg_min_size,) * n_seg)[:n_seg]
        if any(not 0 < sc <= 1 for sc in seg_scales):
            raise ValueError(f"seg_scales {params.seg_scales}: each must be in (0, 1]")
        jobs: list[tuple[str, Callable[[], Any]]] = [
            (f"segments {space} k={k}",
             functools.partial(_segment_pass, image, k, space, params, coarse_scale, sc, ms))
            for k, space, sc, ms in zip(params.seg_ks, params.seg_spaces, seg_scales, seg_mins,
                                        strict=True)]
        jobs += [(f"{u.name}, k={u.k:.0f}", functools.partial(_unit_boxes, u, params.sigma))
                 for u in units]
        ranked: list[Any] = []
        if threads <= 1:
            for i, (name, job) in enumerate(jobs):
                if stop():
                    raise ProposalsCancelled(f"cancelled after {i} of {len(jobs)} units")
                report(i / len(jobs), f"{name} ({i + 1}/{len(jobs)})")
                ranked.append(job())
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = [pool.submit(job) for _name, job in jobs]
                for i, future in enumerate(futures):  # in unit order: the same list
                    if stop():
                        for f in futures:
                            f.cancel()
                        raise ProposalsCancelled(f"cancelled after {i} of {len(jobs)} units")
                    report(i / len(jobs), f"{jobs[i][0]} ({i + 1}/{len(jobs)})")
                    ranked.append(future.result())
        # the coarse units first at every rank, then the segment passes (boxes, final place)
        lists = [(b, np.arange(len(b))) for b in ranked[n_seg:]] + ranked[:n_seg]
        rates = [1.0] * (len(lists) - n_seg) + [params.seg_rate] * n_seg
        source = np.concatenate([np.full(len(b), i) for i, (b, _p) in enumerate(lists)])
        rank = np.concatenate([np.arange(len(b)) for b, _p in lists])
        place = np.concatenate([p for _b, p in lists]) if lists else np.zeros(0, np.int64)
        # the set: repeats removed in version 7's order (the first of near repeats stays) ...
        order = _interleave_order(source, rank, rates) if lists else np.zeros(0, np.int64)
        boxes = np.concatenate([b for b, _p in lists])[order] if lists else np.zeros((0, 4))
        source, place = source[order], place[order]
        boxes = np.clip(boxes, 0, [w, h, w, h])
        keep = dedup(boxes, params.dedup_iou)
        keep = keep[grid_dedup(boxes[keep], params.dedup_grid)]
        boxes, source, place = boxes[keep], source[keep], place[keep]
        # ... ranked by version 8's order: the segment passes by seg_rank, near repeats behind
        boxes = boxes[rank_proposals(boxes, source, place, rates, params.rank_grid)]
    else:
        raise ValueError(f"unknown method {params.method!r}; use 'ours' or 'opencv'")
    seconds = time.perf_counter() - start
    report(1.0, f"{len(boxes)} proposals in {seconds:.2f} s")
    return ProposalResult(boxes=boxes, seconds=seconds, params=params, image_size=(h, w),
                          work_size=work)


# --- filters and quality -------------------------------------------------------------------
def filter_proposals(
    boxes: np.ndarray,
    image_size: tuple[int, int],
    *,
    min_area_frac: float = 0.0,
    max_area_frac: float = 1.0,
    max_aspect: float | None = None,
    top_n: int | None = None,
) -> np.ndarray:
    """Indices of proposals that pass the filters, in rank order, at most ``top_n``.

    Area fractions are of the ``(height, width)`` image (the book keeps 5 %–100 %);
    ``max_aspect`` bounds ``max(w/h, h/w)``.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    frac = box_area(b) / float(image_size[0] * image_size[1])
    ok = (frac >= min_area_frac) & (frac <= max_area_frac)
    if max_aspect is not None:
        w = b[:, 2] - b[:, 0]
        h = b[:, 3] - b[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            aspect = np.maximum(w / h, h / w)
        ok &= np.nan_to_num(aspect, nan=np.inf) <= max_aspect
    idx = np.flatnonzero(ok)
    return idx[:top_n] if top_n is not None else idx


def best_overlaps(gt_boxes: np.ndarray, proposals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ground-truth box: best IoU with any proposal and that proposal's index (-1)."""
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    p = np.asarray(proposals, dtype=np.float64).reshape(-1, 4)
    if len(gt) == 0 or len(p) == 0:
        return np.zeros(len(gt)), np.full(len(gt), -1, dtype=np.int64)
    iou = iou_matrix(gt, p)
    return iou.max(axis=1), iou.argmax(axis=1)


def recall_at(gt_boxes: np.ndarray, proposals: np.ndarray, threshold: float) -> float:
    """Fraction of ground-truth boxes covered by a proposal with IoU ``>= threshold``
    (1.0 when there is no ground truth)."""
    best, _ = best_overlaps(gt_boxes, proposals)
    return float((best >= threshold).mean()) if len(best) else 1.0


def mabo(gt_boxes: np.ndarray, proposals: np.ndarray) -> float:
    """Mean Average Best Overlap (Uijlings et al. 2013) for one image: mean best IoU per box.

    (The paper averages per class first; with one image and its boxes this is the mean.)
    """
    best, _ = best_overlaps(gt_boxes, proposals)
    return float(best.mean()) if len(best) else 1.0
