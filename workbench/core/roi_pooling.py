"""RoI pooling and RoI Align in numpy, bin by bin — the two operations of Fast / Faster R-CNN.

Fast R-CNN (Girshick 2015, sec. 2.1) runs the backbone once per image and turns every
proposal into a fixed ``H x W`` (7 x 7) feature by max-pooling its projection on the feature
map over an ``H x W`` grid of bins. Mask R-CNN's RoI Align (He et al. 2017, sec. 3) drops the
two roundings of that projection and averages bilinear samples instead. This module computes
both exactly as ``torchvision.ops.roi_pool`` / ``torchvision.ops.roi_align`` do (their CPU
kernels, checked value by value in ``tests/core/test_roi_pooling.py``), and returns the bins
and sample points as well, so the RoI-pooling view can draw what each output cell came from.

Coordinates: a box is pixel-edge ``xyxy`` in the detector's *input* pixels (the resized image
the backbone saw); ``spatial_scale`` is ``1 / stride`` of the feature map (1/16 for VGG16's
conv5_3, 1/4 … 1/32 for the FPN levels). On the map, cell ``(i, j)`` covers ``[j, j+1) x
[i, i+1)``.

RoI pooling (``roi_pool``):
  1. the box is projected and rounded to map cells: ``x1' = round(x1 * s)``, ``x2' =
     round(x2 * s)`` (C ``round``: halves away from zero), likewise y; the RoI covers cells
     ``x1' … x2'`` inclusive, so its width is ``max(x2' - x1' + 1, 1)``;
  2. bin ``(ph, pw)`` covers rows ``floor(ph * h / H) … ceil((ph + 1) * h / H) - 1`` of it
     (offset by ``y1'``, clipped to the map), likewise columns — neighbouring bins may share a
     row when ``h / H`` is not whole;
  3. the output is the maximum over the bin's cells, 0 for a bin that falls outside the map.

RoI Align (``roi_align``):
  1. the box is projected without rounding: ``x1' = x1 * s - o`` with ``o = 0.5`` when
     ``aligned`` (pixel centres line up; torchvision's detectors use ``aligned=False``), else 0;
     without ``aligned`` the RoI is at least 1 x 1;
  2. each bin is ``h / H`` by ``w / W`` map units; it is sampled on a regular
     ``gh x gw`` grid (``sampling_ratio``, or ``ceil(h / H)`` x ``ceil(w / W)`` when it is <= 0)
     at the centres of the grid's sub-cells;
  3. each sample is bilinearly interpolated between the four nearest cell values (samples
     more than one cell outside the map count as 0; those less than one outside are clamped
     to the border), and the bin's output is the mean of its samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def c_round(value: float) -> int:
    """C's ``round``: halves away from zero (numpy's ``round`` takes halves to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


@dataclass(frozen=True)
class PoolBins:
    """Where each output cell of one RoI came from.

    Attributes:
        roi: the RoI on the map, ``(x1, y1, x2, y2)`` in map units (pool: whole cells,
            ``x2``/``y2`` exclusive; align: continuous).
        bins: ``(H, W, 4)`` each bin's ``(x1, y1, x2, y2)`` on the map (pool: the cells it
            takes, end exclusive, empty when ``x2 <= x1``; align: its continuous extent).
        samples: align only — ``(H, W, gh * gw, 2)`` the ``(x, y)`` sample points; pool: None.
    """

    roi: tuple[float, float, float, float]
    bins: np.ndarray
    samples: np.ndarray | None = None


def _check(features: np.ndarray, output_size: tuple[int, int], spatial_scale: float) -> None:
    if features.ndim != 3:
        raise ValueError(f"features must be (C, H, W), got shape {features.shape}")
    if output_size[0] < 1 or output_size[1] < 1:
        raise ValueError(f"output size must be at least 1 x 1, got {output_size}")
    if not (spatial_scale > 0 and math.isfinite(spatial_scale)):
        raise ValueError(f"spatial scale must be a positive number, got {spatial_scale}")


def roi_pool_bins(box: tuple[float, float, float, float], map_size: tuple[int, int],
                  output_size: tuple[int, int] = (7, 7),
                  spatial_scale: float = 1.0) -> PoolBins:
    """The cells each bin of RoI pooling takes (``torchvision.ops.roi_pool``'s arithmetic)."""
    height, width = map_size
    out_h, out_w = output_size
    x1, y1, x2, y2 = (c_round(v * spatial_scale) for v in box)
    roi_w, roi_h = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
    bin_h, bin_w = roi_h / out_h, roi_w / out_w
    bins = np.zeros((out_h, out_w, 4), dtype=np.int64)
    for ph in range(out_h):
        hs = min(max(math.floor(ph * bin_h) + y1, 0), height)
        he = min(max(math.ceil((ph + 1) * bin_h) + y1, 0), height)
        for pw in range(out_w):
            ws = min(max(math.floor(pw * bin_w) + x1, 0), width)
            we = min(max(math.ceil((pw + 1) * bin_w) + x1, 0), width)
            bins[ph, pw] = (ws, hs, we, he)
    return PoolBins(roi=(float(x1), float(y1), float(x1 + roi_w), float(y1 + roi_h)), bins=bins)


def roi_pool(features: np.ndarray, box: tuple[float, float, float, float],
             output_size: tuple[int, int] = (7, 7),
             spatial_scale: float = 1.0) -> tuple[np.ndarray, PoolBins]:
    """Max-pool one RoI: ``(C, H, W)`` output (as ``torchvision.ops.roi_pool``) and its bins."""
    _check(features, output_size, spatial_scale)
    pb = roi_pool_bins(box, features.shape[1:], output_size, spatial_scale)
    out = np.zeros((features.shape[0], *output_size), dtype=np.float64)
    for ph in range(output_size[0]):
        for pw in range(output_size[1]):
            ws, hs, we, he = pb.bins[ph, pw]
            if he > hs and we > ws:
                out[:, ph, pw] = features[:, hs:he, ws:we].reshape(features.shape[0], -1).max(1)
    return out, pb


def roi_align_bins(box: tuple[float, float, float, float], output_size: tuple[int, int] = (7, 7),
                   spatial_scale: float = 1.0, sampling_ratio: int = 2,
                   aligned: bool = False) -> PoolBins:
    """Bins and sample points of RoI Align (``torchvision.ops.roi_align``'s arithmetic)."""
    out_h, out_w = output_size
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (v * spatial_scale - offset for v in box)
    roi_w, roi_h = x2 - x1, y2 - y1
    if not aligned:
        roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
    bin_h, bin_w = roi_h / out_h, roi_w / out_w
    grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out_h)
    grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out_w)
    bins = np.zeros((out_h, out_w, 4), dtype=np.float64)
    samples = np.zeros((out_h, out_w, max(grid_h * grid_w, 0), 2), dtype=np.float64)
    for ph in range(out_h):
        for pw in range(out_w):
            bx, by = x1 + pw * bin_w, y1 + ph * bin_h
            bins[ph, pw] = (bx, by, bx + bin_w, by + bin_h)
            k = 0
            for iy in range(grid_h):
                y = by + (iy + 0.5) * bin_h / grid_h
                for ix in range(grid_w):
                    samples[ph, pw, k] = (bx + (ix + 0.5) * bin_w / grid_w, y)
                    k += 1
    return PoolBins(roi=(x1, y1, x1 + roi_w, y1 + roi_h), bins=bins, samples=samples)


def bilinear(features: np.ndarray, x: float, y: float) -> np.ndarray:
    """``(C,)`` value at map point ``(x, y)`` as RoI Align interpolates it."""
    height, width = features.shape[1:]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(features.shape[0], dtype=np.float64)
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    def f(y: int, x: int) -> np.ndarray:  # one column, not the whole map, to float64
        return features[:, y, x].astype(np.float64)

    return (hy * hx * f(y_low, x_low) + hy * lx * f(y_low, x_high)
            + ly * hx * f(y_high, x_low) + ly * lx * f(y_high, x_high))


def roi_align(features: np.ndarray, box: tuple[float, float, float, float],
              output_size: tuple[int, int] = (7, 7), spatial_scale: float = 1.0,
              sampling_ratio: int = 2, aligned: bool = False) -> tuple[np.ndarray, PoolBins]:
    """Average bilinear samples per bin: ``(C, H, W)`` output (as ``torchvision.ops.roi_align``)."""
    _check(features, output_size, spatial_scale)
    pb = roi_align_bins(box, output_size, spatial_scale, sampling_ratio, aligned)
    assert pb.samples is not None
    out = np.zeros((features.shape[0], *output_size), dtype=np.float64)
    count = max(pb.samples.shape[2], 1)
    for ph in range(output_size[0]):
        for pw in range(output_size[1]):
            acc = np.zeros(features.shape[0], dtype=np.float64)
            for x, y in pb.samples[ph, pw]:
                acc += bilinear(features, float(x), float(y))
            out[:, ph, pw] = acc / count
    return out, pb
