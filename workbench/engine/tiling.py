"""Tiled inference: small objects in large images.

A detector sees every image at its own input size (SSDlite 320 px, SSD 300 px, Faster R-CNN's
``min_size``), so in a 12,000 × 9,000 photo a 40 px object shrinks to about one pixel and is
lost. Tiled inference (as in SAHI, "Slicing Aided Hyper Inference", Akyon et al. 2022) cuts the
image into overlapping tiles, runs the network's *raw* prediction on each tile at the network's
input size, shifts each tile's boxes back into the full image, optionally adds one pass over the
whole image (downscaled) for objects larger than a tile, and merges everything with class-wise
NMS (:func:`torchvision.ops.batched_nms`). The result is an ordinary
:class:`~workbench.engine.postprocess.RawDetections` for the whole image, so the score / NMS /
top-k sliders and :func:`~workbench.engine.postprocess.postprocess` work on it unchanged.

Coordinate conventions (see :mod:`workbench.core.boxes`):

* Boxes are float32 pixel-edge ``xyxy`` in **full-image pixels**: ``(0, 0)`` is the top-left
  corner of the top-left pixel, a box over the whole image is ``(0, 0, W, H)``.
* A tile is ``(x0, y0, x1, y1)`` in integer full-image pixels, half-open: it holds the pixel
  columns ``x0 .. x1 - 1`` and rows ``y0 .. y1 - 1`` (``image[y0:y1, x0:x1]``). A box found in
  a tile at ``(bx1, by1, bx2, by2)`` (tile pixels) is ``(bx1 + x0, by1 + y0, bx2 + x0,
  by2 + y0)`` in the image.
* The whole-image pass runs on the image resized by ``s = min(1, max_side / max(W, H))``; its
  boxes are divided by ``s`` (pixel edges scale exactly: edge 0 stays 0, edge ``W*s`` becomes
  ``W``).

Objects cut by a tile's edge: a tile box touching an inner edge of its tile (one that is not the
image's border, within ``edge_margin`` px) shows only the part of an object inside the tile. It
is dropped when a box of the same class from another pass (another tile, the whole image) that
is not cut itself covers at least ``cut_cover`` of its area with at least half its score —
the neighbouring tile (objects smaller than the overlap) or the whole-image pass (objects larger
than a tile) saw the object whole. A cut box nothing else explains is kept.

Each tile *owns* the part of the image up to the middle of its overlaps with its neighbours
(:func:`owned_intervals`). An object smaller than the overlap is seen whole by every tile
holding it, and by its centre's owner with the most margin. A box whose centre its tile does not
own goes when a whole (uncut) box from the owner's side overlaps it by IoU ``>= 0.3`` with at
least half its score: the slightly shifted views a neighbour gives, which NMS (IoU ``> 0.5``)
would keep, are one box again; a view only the neighbour found stays.

The merge NMS removes a box whose IoU with a higher-scoring kept box of the same class is
``> merge_iou`` — the same object seen whole by two tiles across their overlap is one box
again. Because the sliders' NMS runs afterwards, an NMS slider above ``merge_iou`` behaves like
``merge_iou`` on a tiled result. For SSD-family models the per-class candidate cap
(``topk_candidates``) is applied per tile (where torchvision applies it, per network input);
the merged result carries no cap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torchvision.ops import batched_nms

from workbench.engine.postprocess import RawDetections

log = logging.getLogger(__name__)

#: Tile side used when none is given (the demo and SSDlite models see 320 px; a 640 px tile
#: halves its objects once instead of 20 times for a 12,000 px photo).
DEFAULT_TILE = 640
#: Overlap between neighbouring tiles, as a fraction of the tile side (SAHI's default is 0.2).
DEFAULT_OVERLAP = 0.2
#: IoU above which two same-class boxes from different tiles are one object.
DEFAULT_MERGE_IOU = 0.5
#: Longest side of the downscaled whole-image pass.
DEFAULT_WHOLE_SIDE = 1024
#: A tile box within this many pixels of an inner tile edge is "cut" by that edge.
EDGE_MARGIN = 2.0
#: A cut box goes when an uncut box covers this fraction of its area ...
CUT_COVER = 0.5
#: ... with at least this fraction of its score.
CUT_SCORE_RATIO = 0.5
#: A box outside its tile's own part goes when a view from the part's owner overlaps it by this
#: IoU (loosely the same object; NMS would need more), with at least half its score.
OWNED_IOU = 0.3
#: Cut boxes of one tile are checked against at most this many nearby uncut boxes (memory).
_MAX_COVERERS = 16384


class RawPredictor(Protocol):
    """What tiling needs of a detector: :class:`workbench.engine.inference.RawDetector` is one."""

    score_floor: float

    def raw_for_array(self, image: np.ndarray, key: Any = None) -> RawDetections: ...


@dataclass(frozen=True)
class Tiling:
    """How to tile: ``tile`` px square tiles, ``overlap`` px (int >= 0) or a fraction of the tile
    (float in ``[0, 1)``), a whole-image pass at ``whole_side`` px (0: none), merge at
    ``merge_iou``."""

    tile: int = DEFAULT_TILE
    overlap: float = DEFAULT_OVERLAP
    whole_image: bool = True
    whole_side: int = DEFAULT_WHOLE_SIDE
    merge_iou: float = DEFAULT_MERGE_IOU

    def __post_init__(self) -> None:
        if int(self.tile) != self.tile or self.tile < 16:
            raise ValueError(f"tile size must be an integer >= 16 px, got {self.tile}")
        overlap_px(self.tile, self.overlap)  # validates
        if not 0.0 <= self.merge_iou <= 1.0:
            raise ValueError(f"merge IoU must be in [0, 1], got {self.merge_iou}")
        if self.whole_image and self.whole_side < 16:
            raise ValueError(f"whole-image side must be >= 16 px, got {self.whole_side}")

    @property
    def overlap_pixels(self) -> int:
        return overlap_px(self.tile, self.overlap)

    def key(self) -> tuple[Any, ...]:
        """A hashable description (part of the raw-cache key of a tiled result)."""
        return ("tiled", int(self.tile), self.overlap_pixels,
                int(self.whole_side) if self.whole_image else 0, float(self.merge_iou))


def overlap_px(tile: int, overlap: float) -> int:
    """``overlap`` as whole pixels: a value below 1 is a fraction of ``tile`` (rounded), 1 or
    more is pixels (whole). Must leave a positive stride (``overlap < tile``)."""
    if overlap < 1:
        if overlap < 0:
            raise ValueError(f"overlap must be >= 0, got {overlap}")
        pixels = int(round(overlap * tile))
    elif float(overlap).is_integer():
        pixels = int(overlap)
    else:
        raise ValueError(f"overlap must be whole pixels or a fraction below 1, got {overlap}")
    if pixels < 0 or pixels >= tile:
        raise ValueError(f"overlap must be >= 0 and less than the tile ({tile} px), "
                         f"got {pixels} px")
    return pixels


def parse_overlap(text: str) -> float:
    """The CLI's ``--tile-overlap``: ``"128"`` → 128 px, ``"0.25"`` → a quarter of the tile."""
    value = float(text)
    return value if "." in text or "e" in text.lower() else float(int(value))


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles along one axis of ``length`` px.

    Tiles advance by ``tile - overlap``; the last tile is moved back to end flush with the edge
    (so it may overlap its neighbour by more than asked). An axis shorter than a tile has one
    tile starting at 0 (that tile is cut to the image: it is ``length`` px long).
    """
    if length <= tile:
        return [0]
    stride = tile - overlap
    count = math.ceil((length - tile) / stride) + 1
    return sorted({min(i * stride, length - tile) for i in range(count)})


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles ``(x0, y0, x1, y1)`` (half-open, full-image pixels) covering a ``width`` × ``height``
    image, row by row; each is ``tile`` px square unless the image is smaller."""
    xs, ys = tile_starts(width, tile, overlap), tile_starts(height, tile, overlap)
    return [(x, y, min(x + tile, width), min(y + tile, height)) for y in ys for x in xs]


def owned_intervals(starts: Sequence[int], tile: int, length: int) -> list[tuple[float, float]]:
    """The part ``[lo, hi)`` of the axis each tile *owns*: up to the middle of its overlap with
    each neighbour (the axis' ends for the first and last tile). The owned parts cover the
    axis once, without overlap."""
    ends = [min(s + tile, length) for s in starts]
    bounds = [0.0] + [(starts[i + 1] + ends[i]) / 2 for i in range(len(starts) - 1)] \
        + [float(length)]
    return [(bounds[i], bounds[i + 1]) for i in range(len(starts))]


def owned_by_tile(boxes: torch.Tensor, owned: tuple[float, float, float, float]) -> torch.Tensor:
    """``(N,)`` bool: boxes whose centre lies in the tile's owned region ``(x0, y0, x1, y1)``
    (half-open; see :func:`owned_intervals`)."""
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    x0, y0, x1, y1 = owned
    return (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)


def shift_boxes(boxes: torch.Tensor, dx: float, dy: float, scale: float = 1.0) -> torch.Tensor:
    """Tile (or resized-image) boxes → full-image boxes: ``box / scale + (dx, dy, dx, dy)``."""
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    offset = torch.tensor([dx, dy, dx, dy], dtype=torch.float32)
    return boxes / scale + offset if scale != 1.0 else boxes + offset


def capped(raw: RawDetections) -> RawDetections:
    """``raw`` without the entries its per-class candidate cap would never let through."""
    if raw.candidates_per_class is None or not len(raw):
        return raw
    keep = raw.class_rank < raw.candidates_per_class
    if bool(keep.all()):
        return raw
    return RawDetections.from_unsorted(raw.boxes[keep], raw.scores[keep], raw.labels[keep],
                                       score_floor=raw.score_floor,
                                       candidates_per_class=raw.candidates_per_class,
                                       image_size=raw.image_size)


def cut_by_inner_edges(boxes: torch.Tensor, tile: tuple[int, int, int, int],
                       image_size: tuple[int, int], margin: float = EDGE_MARGIN) -> torch.Tensor:
    """``(N,)`` bool: which full-image ``boxes`` found in ``tile`` touch one of its inner edges
    (an edge that is not the image border), i.e. show an object cut by the tile."""
    x0, y0, x1, y1 = tile
    width, height = image_size
    cut = torch.zeros(len(boxes), dtype=torch.bool)
    if x0 > 0:
        cut |= boxes[:, 0] <= x0 + margin
    if y0 > 0:
        cut |= boxes[:, 1] <= y0 + margin
    if x1 < width:
        cut |= boxes[:, 2] >= x1 - margin
    if y1 < height:
        cut |= boxes[:, 3] >= y1 - margin
    return cut


def explained(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
              source: torch.Tensor, doubtful: torch.Tensor, witness: torch.Tensor, *,
              min_overlap: float, metric: str = "ios", score_ratio: float = CUT_SCORE_RATIO,
              chunk: int = 512) -> torch.Tensor:
    """``(N,)`` bool: the ``doubtful`` boxes that a ``witness`` box of the same class from
    another ``source``, with ``>= score_ratio`` of its score, overlaps by ``>= min_overlap`` —
    measured as the intersection over the doubtful box's area (``metric="ios"``) or as IoU.

    Doubtful boxes are taken one source (tile) at a time, against the witnesses of other
    sources that reach into that source's extent — the overlap bands of the neighbouring tiles
    and the whole-image pass — not against every box of the image.
    """
    drop = torch.zeros(len(boxes), dtype=torch.bool)
    wit = torch.nonzero(witness).flatten()
    if not bool(doubtful.any()) or not len(wit):
        return drop
    ub, us, ul, usrc = boxes[wit], scores[wit], labels[wit], source[wit]
    for src in torch.unique(source[doubtful]).tolist():
        mine = torch.nonzero(doubtful & (source == src)).flatten()
        mb = boxes[mine]
        x0, y0 = mb[:, 0].min(), mb[:, 1].min()
        x1, y1 = mb[:, 2].max(), mb[:, 3].max()
        near = (usrc != src) & (ub[:, 0] < x1) & (ub[:, 2] > x0) & (ub[:, 1] < y1) & \
            (ub[:, 3] > y0)
        near = torch.nonzero(near).flatten()[:_MAX_COVERERS]
        if not len(near):
            continue
        wb, ws, wl = ub[near], us[near], ul[near]
        w_area = (wb[:, 2] - wb[:, 0]) * (wb[:, 3] - wb[:, 1])
        for start in range(0, len(mine), chunk):
            idx = mine[start:start + chunk]
            cb = boxes[idx]
            lt = torch.maximum(cb[:, None, :2], wb[None, :, :2])
            rb = torch.minimum(cb[:, None, 2:], wb[None, :, 2:])
            inter = (rb - lt).clamp_(min=0).prod(dim=2)
            area = (cb[:, 2] - cb[:, 0]) * (cb[:, 3] - cb[:, 1])
            if metric == "ios":
                denominator = area[:, None].clamp(min=1e-6)
            else:
                denominator = (area[:, None] + w_area[None, :] - inter).clamp(min=1e-6)
            hit = inter >= min_overlap * denominator
            hit &= labels[idx][:, None] == wl[None, :]
            hit &= ws[None, :] >= score_ratio * scores[idx][:, None]
            drop[idx] = hit.any(dim=1)
    return drop


def explained_cuts(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                   source: torch.Tensor, cut: torch.Tensor, *, min_cover: float = CUT_COVER,
                   score_ratio: float = CUT_SCORE_RATIO) -> torch.Tensor:
    """``(N,)`` bool: the cut boxes that an uncut box of the same class from another ``source``
    covers by ``>= min_cover`` of the cut box's area, with ``>= score_ratio`` of its score."""
    return explained(boxes, scores, labels, source, cut, ~cut, min_overlap=min_cover,
                     metric="ios", score_ratio=score_ratio)


def merge(parts: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], merge_iou: float,
          *, score_floor: float = 0.0, image_size: tuple[int, int] | None = None,
          cuts: Sequence[torch.Tensor | None] | None = None,
          owned: Sequence[torch.Tensor | None] | None = None) -> RawDetections:
    """Concatenate ``(boxes, scores, labels)`` parts (already in full-image pixels, one part per
    network pass) and drop a box whose IoU with a higher-scoring kept box of its class is
    ``> merge_iou`` (``batched_nms``); ``merge_iou >= 1`` keeps everything. Boxes are clipped to
    ``image_size`` ``(W, H)``. ``cuts`` (one ``(N_i,)`` bool mask or None per part) marks boxes
    cut by a tile edge; those :func:`explained_cuts` finds are dropped first. ``owned`` (one bool
    mask or None per part, :func:`owned_by_tile`): a box its tile does not own is dropped when
    an owned, uncut box of another part overlaps it by IoU ``>= OWNED_IOU`` (see module doc)."""
    if parts:
        boxes = torch.cat([torch.as_tensor(p[0], dtype=torch.float32).reshape(-1, 4)
                           for p in parts])
        scores = torch.cat([torch.as_tensor(p[1], dtype=torch.float32).reshape(-1)
                            for p in parts])
        labels = torch.cat([torch.as_tensor(p[2], dtype=torch.int64).reshape(-1)
                            for p in parts])
    else:
        boxes, scores, labels = torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64)
    if (cuts is not None or owned is not None) and len(boxes):
        keep = torch.ones(len(boxes), dtype=torch.bool)
        if cuts is not None:
            cut = torch.cat([torch.zeros(len(p[1]), dtype=torch.bool) if c is None else c
                             for p, c in zip(parts, cuts)])
            source = torch.cat([torch.full((len(p[1]),), i, dtype=torch.int64)
                                for i, p in enumerate(parts)])
            keep &= ~explained_cuts(boxes, scores, labels, source, cut)
        if owned is not None:
            mine = torch.cat([torch.ones(len(p[1]), dtype=torch.bool) if o is None else o
                              for p, o in zip(parts, owned)])
            cut_ = cut if cuts is not None else torch.zeros(len(boxes), dtype=torch.bool)
            source = torch.cat([torch.full((len(p[1]),), i, dtype=torch.int64)
                                for i, p in enumerate(parts)])
            # a box outside its tile's own part goes when the owning view (whole, owned)
            # saw the same object there
            keep &= ~explained(boxes, scores, labels, source, ~mine & ~cut_, mine & ~cut_,
                               min_overlap=OWNED_IOU, metric="iou")
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    if image_size is not None and len(boxes):
        width, height = image_size
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    if merge_iou < 1.0 and len(boxes):
        keep = batched_nms(boxes, scores, labels, merge_iou)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    return RawDetections.from_unsorted(boxes, scores, labels, score_floor=score_floor,
                                       image_size=image_size)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def tiled_raw(detector: RawPredictor, image: np.ndarray, tiling: Tiling = Tiling(),
              progress: Callable[[int, int], None] | None = None) -> RawDetections:
    """Raw detections for an ``(H, W, 3)`` uint8 RGB image, tile by tile (see module doc).

    Returns a :class:`RawDetections` in full-image pixels with ``image_size == (W, H)``.
    ``progress(done, total)`` is called after each network pass (tiles + whole image).
    """
    height, width = image.shape[:2]
    tiles = tile_grid(width, height, tiling.tile, tiling.overlap_pixels)
    if len(tiles) == 1:  # the image fits one tile: exactly the untiled pass
        raw = detector.raw_for_array(image)
        if progress is not None:
            progress(1, 1)
        return raw
    whole = tiling.whole_image
    total = len(tiles) + int(whole)
    xs = tile_starts(width, tiling.tile, tiling.overlap_pixels)
    ys = tile_starts(height, tiling.tile, tiling.overlap_pixels)
    own_x = dict(zip(xs, owned_intervals(xs, tiling.tile, width)))
    own_y = dict(zip(ys, owned_intervals(ys, tiling.tile, height)))
    parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    cuts: list[torch.Tensor | None] = []
    owned: list[torch.Tensor | None] = []
    for done, (x0, y0, x1, y1) in enumerate(tiles, start=1):
        raw = capped(detector.raw_for_array(image[y0:y1, x0:x1]))
        boxes = shift_boxes(raw.boxes, x0, y0)
        parts.append((boxes, raw.scores, raw.labels))
        cuts.append(cut_by_inner_edges(boxes, (x0, y0, x1, y1), (width, height)))
        (ox0, ox1), (oy0, oy1) = own_x[x0], own_y[y0]
        owned.append(owned_by_tile(boxes, (ox0, oy0, ox1, oy1)))
        if progress is not None:
            progress(done, total)
    if whole:
        scale = min(1.0, tiling.whole_side / max(width, height))
        small = _resize(image, scale) if scale < 1.0 else image
        # The resized image's edges are at round(W * s); scale back by that exact ratio.
        sx, sy = small.shape[1] / width, small.shape[0] / height
        raw = capped(detector.raw_for_array(small))
        boxes = raw.boxes / torch.tensor([sx, sy, sx, sy], dtype=torch.float32)
        parts.append((boxes, raw.scores, raw.labels))
        cuts.append(None)
        owned.append(None)
        if progress is not None:
            progress(total, total)
    merged = merge(parts, tiling.merge_iou, score_floor=float(detector.score_floor),
                   image_size=(width, height), cuts=cuts, owned=owned)
    log.info("tiled detection: %d x %d px in %d tiles of %d px (overlap %d px)%s: %d raw entries",
             width, height, len(tiles), tiling.tile, tiling.overlap_pixels,
             " + whole image" if whole else "", len(merged))
    return merged


def tiled_raw_for_path(detector: Any, path: str | Path, tiling: Tiling = Tiling(),
                       progress: Callable[[int, int], None] | None = None) -> RawDetections:
    """:func:`tiled_raw` for an image file, through ``detector``'s raw cache (a
    :class:`~workbench.engine.inference.RawDetector`): the key is the file's path + mtime + size
    and the tiling, so plain and tiled results of one image are cached side by side."""
    from workbench.engine.inference import read_image_rgb

    path = Path(path)
    key = (detector._path_key(path), tiling.key())
    if (hit := detector.cached(key)) is not None:
        return hit
    raw = tiled_raw(detector, read_image_rgb(path), tiling, progress)
    detector._store(key, raw)
    return raw


def is_tiled_cached(detector: Any, path: str | Path, tiling: Tiling) -> bool:
    key = (detector._path_key(Path(path)), tiling.key())
    return detector.cached(key) is not None
