"""Selective search's two stages, stepped through: the graph-based segmentation it starts from and
the hierarchical grouping (Uijlings et al. 2013, section 3.1–3.2), in numpy, for teaching.

* :func:`felzenszwalb` is OpenCV's ``cv2.ximgproc.segmentation.createGraphSegmentation``
  (Felzenszwalb & Huttenlocher 2004) with its three knobs: ``k`` (OpenCV's ``setK``, the
  paper's scale: larger → larger segments), ``sigma`` (Gaussian smoothing before the graph is
  built) and ``min_size`` (segments smaller than this are merged into a neighbour afterwards).
  It returns an ``(H, W)`` int32 label image, labels ``0 … n-1``.
* :func:`group` runs the greedy hierarchical grouping on such a label image: start with every
  segment as a region; compute the similarity of every pair of *adjacent* regions
  (4-connectivity); repeatedly merge the most similar pair into a new region, drop the
  similarities of the two merged regions and add those of the new region with its neighbours,
  until one region is left. Every region that ever exists (the ``n`` segments, then one new
  region per merge, ids ``n, n+1, …``) is a proposal; its box is the union of its pixels' boxes.

Similarity (paper eq. 1–6), each term in ``[0, 1]``, combined as
``s = w_colour·s_colour + w_texture·s_texture + w_size·s_size + w_fill·s_fill``:

* colour: ``Σ min(c_i, c_j)`` over a 25-bin-per-channel histogram of the three channels
  (75 bins, L1-normalised over all of them);
* texture: ``Σ min(t_i, t_j)`` over, per channel, 8 orientations × 10 bins of Gaussian
  derivative (σ = 1) responses — the positive part of the directional derivative
  ``cos θ·gx + sin θ·gy`` for θ = 0, 45, …, 315° — 240 bins, L1-normalised;
* size: ``1 - (size_i + size_j) / size_image`` (small regions merge first);
* fill: ``1 - (size(BB_ij) - size_i - size_j) / size_image`` where ``BB_ij`` is the box
  around both (regions that fill each other's gaps merge first).

A merged region's histograms are the size-weighted mean of its parts' (paper §3.2), so nothing
is recomputed from pixels. Ties break towards the pair with the smaller region ids, so the
order is deterministic. This is the paper's algorithm, one colour space and one weighting per
run; OpenCV runs it for several colour spaces, ``k`` values and weightings and also ranks the
regions with a random factor, so its internal merge order is not reproduced step for step.
Colour channels are taken as given: pass BGR, HSV or Lab as you like.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import cv2
import numpy as np

COLOUR_BINS = 25
TEXTURE_BINS = 10
ORIENTATIONS = 8


@dataclass(frozen=True)
class Weights:
    """How much each similarity counts (the paper's strategies switch terms on and off)."""

    colour: float = 1.0
    texture: float = 1.0
    size: float = 1.0
    fill: float = 1.0


@dataclass
class Grouping:
    """The whole hierarchy of one label image.

    ``merges[t] = (a, b)``: step ``t + 1`` merged regions ``a`` and ``b`` into region
    ``n_segments + t``; ``similarity[t]`` is the pair's similarity at that moment.
    ``boxes[r]`` is region ``r``'s pixel-edge ``xyxy`` box, ``sizes[r]`` its pixel count.
    """

    labels: np.ndarray = field(repr=False)       # (H, W) int32 initial segments
    n_segments: int
    merges: np.ndarray = field(repr=False)       # (n_merges, 2) int64
    similarity: np.ndarray = field(repr=False)   # (n_merges,)
    boxes: np.ndarray = field(repr=False)        # (n_segments + n_merges, 4) float64
    sizes: np.ndarray = field(repr=False)        # (n_segments + n_merges,) int64

    @property
    def steps(self) -> int:
        return int(len(self.merges))

    def regions_after(self, step: int) -> np.ndarray:
        """``(n_segments,)`` region id of each initial segment after ``step`` merges
        (``0 <= step <= steps``); ``n_segments - step`` distinct ids when the segment graph is
        connected."""
        if not 0 <= step <= self.steps:
            raise ValueError(f"step must lie in 0..{self.steps}, got {step}")
        owner = np.arange(self.n_segments + step, dtype=np.int64)
        for t in range(step):
            a, b = self.merges[t]
            new = self.n_segments + t
            owner[a] = new
            owner[b] = new
        # follow each segment up to its newest region (parents have higher ids: one pass down)
        for r in range(self.n_segments + step - 1, -1, -1):
            if owner[r] != r:
                owner[r] = owner[owner[r]]
        return owner[: self.n_segments]

    def label_image(self, step: int) -> np.ndarray:
        """``(H, W)`` region id of each pixel after ``step`` merges."""
        return self.regions_after(step)[self.labels]

    def region_count(self, step: int) -> int:
        return int(len(np.unique(self.regions_after(step))))

    def proposals(self, step: int | None = None) -> np.ndarray:
        """Boxes of every region that exists up to ``step`` merges (all of them by default)."""
        n = self.n_segments + (self.steps if step is None else step)
        return self.boxes[:n]


def felzenszwalb(image: np.ndarray, k: float = 300.0, sigma: float = 0.8,
                 min_size: int = 50) -> np.ndarray:
    """OpenCV's graph-based segmentation of an ``(H, W, 3)`` uint8 image: ``(H, W)`` int32
    labels ``0 … n-1``."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"graph segmentation needs an (H, W, 3) uint8 image, got "
                         f"{img.shape} {img.dtype}")
    if k <= 0 or sigma < 0 or min_size < 1:
        raise ValueError(f"need k > 0, sigma >= 0, min_size >= 1; got k={k}, sigma={sigma}, "
                         f"min_size={min_size}")
    gs = cv2.ximgproc.segmentation.createGraphSegmentation(float(sigma), float(k),
                                                           int(min_size))
    labels = np.asarray(gs.processImage(np.ascontiguousarray(img)), dtype=np.int32)
    _, dense = np.unique(labels, return_inverse=True)  # OpenCV's labels are 0..n-1 already
    return dense.reshape(labels.shape).astype(np.int32)


def colour_histograms(image: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """``(n, 75)`` L1-normalised colour histograms (25 bins per channel) of each segment."""
    img = np.asarray(image)
    flat = labels.ravel().astype(np.int64)
    out = np.zeros((n, 3 * COLOUR_BINS))
    for c in range(3):
        bins = (img[:, :, c].ravel().astype(np.int64) * COLOUR_BINS) // 256
        out[:, c * COLOUR_BINS:(c + 1) * COLOUR_BINS] = np.bincount(
            flat * COLOUR_BINS + bins, minlength=n * COLOUR_BINS).reshape(n, COLOUR_BINS)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)


def texture_histograms(image: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """``(n, 240)`` L1-normalised texture histograms (3 channels × 8 orientations × 10 bins of
    Gaussian-derivative responses, module docstring)."""
    img = np.asarray(image, dtype=np.float32)
    flat = labels.ravel().astype(np.int64)
    width = ORIENTATIONS * TEXTURE_BINS
    out = np.zeros((n, 3 * width))
    for c in range(3):
        smooth = cv2.GaussianBlur(img[:, :, c], (0, 0), 1.0)
        gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
        for o in range(ORIENTATIONS):
            theta = o * np.pi / 4
            resp = np.maximum(np.cos(theta) * gx + np.sin(theta) * gy, 0.0).ravel()
            top = float(resp.max())
            bins = np.zeros(resp.shape, np.int64) if top <= 0 else \
                np.minimum((resp / top * TEXTURE_BINS).astype(np.int64), TEXTURE_BINS - 1)
            start = c * width + o * TEXTURE_BINS
            out[:, start:start + TEXTURE_BINS] = np.bincount(
                flat * TEXTURE_BINS + bins, minlength=n * TEXTURE_BINS).reshape(n, TEXTURE_BINS)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)


def adjacent_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    """``(a, b)`` with ``a < b`` for every two segments that touch (4-connectivity)."""
    lab = np.asarray(labels, dtype=np.int64)
    pairs = []
    for a, b in ((lab[:, :-1], lab[:, 1:]), (lab[:-1, :], lab[1:, :])):
        diff = a != b
        lo = np.minimum(a[diff], b[diff])
        hi = np.maximum(a[diff], b[diff])
        pairs.append(np.stack([lo, hi], axis=1))
    both = np.unique(np.concatenate(pairs), axis=0) if pairs else np.zeros((0, 2), np.int64)
    return {(int(a), int(b)) for a, b in both}


def group(image: np.ndarray, labels: np.ndarray, weights: Weights = Weights()) -> Grouping:
    """The hierarchical grouping of ``labels`` (``(H, W)``, ids ``0 … n-1``) on ``image``
    (``(H, W, 3)`` uint8, any colour space): see the module docstring."""
    img = np.asarray(image)
    lab = np.asarray(labels)
    if img.ndim != 3 or img.shape[2] != 3 or lab.shape != img.shape[:2]:
        raise ValueError(f"labels {lab.shape} must match the image's (H, W) {img.shape[:2]}"
                         f" and the image must be (H, W, 3)")
    lab = lab.astype(np.int64)
    n = int(lab.max()) + 1 if lab.size else 0
    h, w = lab.shape
    im_size = float(h * w)
    total = max(2 * n - 1, n)
    sizes = np.zeros(total, np.int64)
    sizes[:n] = np.bincount(lab.ravel(), minlength=n)
    ys, xs = np.indices(lab.shape)
    boxes = np.zeros((total, 4))
    flat = lab.ravel()
    boxes[:n, 0] = np.full(n, np.inf)
    boxes[:n, 1] = np.full(n, np.inf)
    np.minimum.at(boxes[:, 0], flat, xs.ravel().astype(np.float64))
    np.minimum.at(boxes[:, 1], flat, ys.ravel().astype(np.float64))
    np.maximum.at(boxes[:, 2], flat, xs.ravel() + 1.0)
    np.maximum.at(boxes[:, 3], flat, ys.ravel() + 1.0)
    colour = np.zeros((total, 3 * COLOUR_BINS))
    texture = np.zeros((total, 3 * ORIENTATIONS * TEXTURE_BINS))
    if weights.colour:
        colour[:n] = colour_histograms(img, lab, n)
    if weights.texture:
        texture[:n] = texture_histograms(img, lab, n)
    neighbours: dict[int, set[int]] = {r: set() for r in range(n)}
    for a, b in adjacent_pairs(lab):
        neighbours[a].add(b)
        neighbours[b].add(a)

    def similarity(a: int, b: int) -> float:
        s = 0.0
        if weights.colour:
            s += weights.colour * float(np.minimum(colour[a], colour[b]).sum())
        if weights.texture:
            s += weights.texture * float(np.minimum(texture[a], texture[b]).sum())
        if weights.size:
            s += weights.size * (1.0 - (sizes[a] + sizes[b]) / im_size)
        if weights.fill:
            bb = ((max(boxes[a, 2], boxes[b, 2]) - min(boxes[a, 0], boxes[b, 0]))
                  * (max(boxes[a, 3], boxes[b, 3]) - min(boxes[a, 1], boxes[b, 1])))
            s += weights.fill * (1.0 - (bb - sizes[a] - sizes[b]) / im_size)
        return s

    heap = [(-similarity(a, b), a, b) for a in range(n) for b in neighbours[a] if a < b]
    heapq.heapify(heap)
    alive = np.zeros(total, bool)
    alive[:n] = True
    merges: list[tuple[int, int]] = []
    sims: list[float] = []
    new = n
    while heap:
        neg, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue  # a pair whose region was merged away: its similarity is gone
        sa, sb = sizes[a], sizes[b]
        sizes[new] = sa + sb
        boxes[new] = [min(boxes[a, 0], boxes[b, 0]), min(boxes[a, 1], boxes[b, 1]),
                      max(boxes[a, 2], boxes[b, 2]), max(boxes[a, 3], boxes[b, 3])]
        colour[new] = (sa * colour[a] + sb * colour[b]) / (sa + sb)
        texture[new] = (sa * texture[a] + sb * texture[b]) / (sa + sb)
        alive[a] = alive[b] = False
        alive[new] = True
        around = (neighbours.pop(a) | neighbours.pop(b)) - {a, b}
        neighbours[new] = around
        for r in around:
            neighbours[r] -= {a, b}
            neighbours[r].add(new)
            heapq.heappush(heap, (-similarity(r, new), r, new))
        merges.append((a, b))
        sims.append(-neg)
        new += 1
    count = n + len(merges)
    return Grouping(labels=lab.astype(np.int32), n_segments=n,
                    merges=np.asarray(merges, np.int64).reshape(-1, 2),
                    similarity=np.asarray(sims, np.float64), boxes=boxes[:count].copy(),
                    sizes=sizes[:count].copy())


def region_colours(count: int, seed: int = 0) -> np.ndarray:
    """``(count, 3)`` uint8 RGB colours, distinct-looking, deterministic (HSV golden-ratio
    hues with seeded saturation/value jitter)."""
    rng = np.random.default_rng(seed)
    hue = (np.arange(count) * 0.618033988749895) % 1.0
    sat = rng.uniform(0.55, 1.0, count)
    val = rng.uniform(0.7, 1.0, count)
    hsv = np.stack([hue * 179, sat * 255, val * 255], axis=1).astype(np.uint8)
    return cv2.cvtColor(hsv.reshape(-1, 1, 3), cv2.COLOR_HSV2RGB).reshape(-1, 3)
