"""SSD priors (default boxes) and Faster R-CNN anchors, organised per feature map (numpy).

A :class:`PriorSet` is what a detector tiles over its input: for every feature map a grid of
``rows x cols`` cells with ``per_cell`` boxes each, stored cell-major (row by row, then the boxes
of one cell), which is the order torchvision's ``DefaultBoxGenerator`` and ``AnchorGenerator``
emit. Boxes are float pixel-edge ``xyxy`` in the coordinates of :attr:`PriorSet.image_size`
(first the detector's input, e.g. 300x300; :meth:`PriorSet.for_image` maps them onto the user's
photo the way the detector maps its boxes back).

This module computes only the SSD300 priors of the paper (Liu et al., "SSD: Single Shot MultiBox
Detector", ECCV 2016, sec. 2.2 and 3 "PASCAL VOC2007"). The priors of torchvision detectors are
read from the detectors' own anchor generators by :mod:`workbench.engine.anchor_extract`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

Kind = Literal["ssd", "rpn"]

#: Name under which the paper's VOC SSD300 priors are offered (CLI and GUI).
SSD300_VOC_PAPER = "ssd300_voc_paper"


@dataclass(frozen=True)
class FeatureMapPriors:
    """The priors of one feature map.

    Attributes:
        name: the feature map's name (the model's key, or the paper's layer name).
        size: ``(rows, cols)`` of the map.
        per_cell: boxes per cell.
        boxes: ``(rows * cols * per_cell, 4)`` pixel-edge ``xyxy``, cell-major.
        centers_x: ``(cols,)`` x of each column's box centre, same coordinates as ``boxes``.
        centers_y: ``(rows,)`` y of each row's box centre.
        stride: ``(stride_y, stride_x)``: the cell's footprint (distance between centres).
        scales: SSD: ``(s_k, s'_k)`` relative to the input side; RPN: anchor sizes in input px.
        aspect_ratios: SSD: width/height of the boxes of a cell (1 first); RPN: torchvision's
            height/width ratios.
    """

    name: str
    size: tuple[int, int]
    per_cell: int
    boxes: np.ndarray = field(repr=False)
    centers_x: np.ndarray = field(repr=False)
    centers_y: np.ndarray = field(repr=False)
    stride: tuple[float, float] = (1.0, 1.0)
    scales: tuple[float, ...] = ()
    aspect_ratios: tuple[float, ...] = ()

    @property
    def count(self) -> int:
        return self.size[0] * self.size[1] * self.per_cell

    def cell_slice(self, row: int, col: int) -> slice:
        """Index range (within this map) of cell ``(row, col)``'s boxes."""
        rows, cols = self.size
        if not (0 <= row < rows and 0 <= col < cols):
            raise IndexError(f"cell ({row}, {col}) outside the {rows}x{cols} map {self.name}")
        start = (row * cols + col) * self.per_cell
        return slice(start, start + self.per_cell)

    def cell_boxes(self, row: int, col: int) -> np.ndarray:
        """``(per_cell, 4)`` boxes of one cell."""
        return self.boxes[self.cell_slice(row, col)]

    def cell_at(self, x: float, y: float) -> tuple[int, int]:
        """The cell whose centre is nearest to point ``(x, y)`` → ``(row, col)``."""
        col = int(np.argmin(np.abs(self.centers_x - x)))
        row = int(np.argmin(np.abs(self.centers_y - y)))
        return row, col

    def cell_rect(self, row: int, col: int) -> tuple[float, float, float, float]:
        """The cell's footprint ``xyxy``: its centre ± half a stride."""
        sy, sx = self.stride
        cx, cy = float(self.centers_x[col]), float(self.centers_y[row])
        return cx - sx / 2, cy - sy / 2, cx + sx / 2, cy + sy / 2

    def grid_lines(self) -> tuple[np.ndarray, np.ndarray]:
        """x positions of vertical and y positions of horizontal cell borders."""
        sy, sx = self.stride
        xs = np.concatenate([self.centers_x - sx / 2, self.centers_x[-1:] + sx / 2])
        ys = np.concatenate([self.centers_y - sy / 2, self.centers_y[-1:] + sy / 2])
        return xs, ys

    def scaled(self, fx: float, fy: float) -> FeatureMapPriors:
        """The same priors with x multiplied by ``fx`` and y by ``fy``."""
        return replace(self, boxes=self.boxes * np.array([fx, fy, fx, fy]),
                       centers_x=self.centers_x * fx, centers_y=self.centers_y * fy,
                       stride=(self.stride[0] * fy, self.stride[1] * fx))

    def to_json(self) -> dict:
        return {"name": self.name, "size": [int(self.size[0]), int(self.size[1])],
                "per_cell": int(self.per_cell), "count": int(self.count),
                "scales": [round(float(s), 6) for s in self.scales],
                "aspect_ratios": [round(float(a), 6) for a in self.aspect_ratios]}


@dataclass(frozen=True)
class PriorSet:
    """All priors/anchors of one detector.

    Attributes:
        model: detector name (``ssd300_vgg16``, ``ssd300_voc_paper``, ...).
        kind: ``"ssd"`` (SSD matching, IoU >= 0.5) or ``"rpn"`` (Faster R-CNN RPN matching).
        input_size: ``(height, width)`` of the image the detector sees, after its own resize.
        image_size: ``(height, width)`` of the coordinates ``boxes`` are in (``input_size``
            until :meth:`for_image` maps them onto a photo).
        feature_maps: per map, in the detector's order.
        source: where the boxes come from, in words (shown in the UI).
    """

    model: str
    kind: Kind
    input_size: tuple[int, int]
    image_size: tuple[int, int]
    feature_maps: tuple[FeatureMapPriors, ...]
    source: str = ""

    @property
    def total(self) -> int:
        return sum(fm.count for fm in self.feature_maps)

    @property
    def offsets(self) -> np.ndarray:
        """``(len(maps) + 1,)`` start index of each map in :meth:`all_boxes`, then the total."""
        return np.concatenate([[0], np.cumsum([fm.count for fm in self.feature_maps])])

    def all_boxes(self) -> np.ndarray:
        """``(total, 4)`` every prior, maps in order."""
        if not self.feature_maps:
            return np.zeros((0, 4))
        return np.concatenate([fm.boxes for fm in self.feature_maps], axis=0)

    def map_of(self, indices: np.ndarray) -> np.ndarray:
        """Feature-map index of each global prior index."""
        return np.searchsorted(self.offsets, np.asarray(indices), side="right") - 1

    def locate(self, index: int) -> tuple[int, int, int, int]:
        """Global prior index → ``(map, row, col, k)``."""
        m = int(self.map_of(np.array([index]))[0])
        fm = self.feature_maps[m]
        local = index - int(self.offsets[m])
        cell, k = divmod(local, fm.per_cell)
        row, col = divmod(cell, fm.size[1])
        return m, row, col, k

    def for_image(self, width: int, height: int) -> PriorSet:
        """Map the boxes from the detector input onto a ``width x height`` photo.

        SSD warps the photo to its square input and torchvision's detectors scale boxes back
        per axis (``GeneralizedRCNNTransform.postprocess``), so x and y scale separately.
        """
        in_h, in_w = self.image_size
        fx, fy = width / in_w, height / in_h
        return replace(self, image_size=(int(height), int(width)),
                       feature_maps=tuple(fm.scaled(fx, fy) for fm in self.feature_maps))

    def to_json(self) -> dict:
        """``{"model", "total", "feature_maps": [...]}`` (the ``workbench priors`` JSON)."""
        return {"model": self.model, "total": int(self.total),
                "feature_maps": [fm.to_json() for fm in self.feature_maps]}


def paper_scales(num_maps: int = 6, s_min: float = 0.2, s_max: float = 0.9,
                 first: float | None = 0.1) -> list[float]:
    """SSD scales ``s_k = s_min + (s_max - s_min)(k - 1)/(m - 1)`` plus one more step.

    For VOC the paper gives conv4_3 its own scale 0.1 (sec. 3, "PASCAL VOC2007") and spreads
    0.2 … 0.9 over the other five maps. ``s'_k = sqrt(s_k s_{k+1})`` needs an ``s_{m+1}`` for
    the last map, which the paper leaves open; we continue the linear rule one step (as the
    authors' Caffe code does with its 315 px box), giving ``[0.1, 0.2, 0.375, 0.55, 0.725,
    0.9, 1.075]``.
    """
    m = num_maps - (1 if first is not None else 0)
    step = (s_max - s_min) / (m - 1)
    scales = [s_min + step * k for k in range(m + 1)]
    return ([first] if first is not None else []) + scales


def ssd_default_boxes(
    grid_sizes: list[tuple[int, int]],
    aspect_ratios: list[list[float]],
    scales: list[float],
    input_size: tuple[int, int] = (300, 300),
    steps: list[float] | None = None,
    clip: bool = False,
) -> list[np.ndarray]:
    """SSD default boxes per map, ``(rows * cols * per_cell, 4)`` pixel-edge ``xyxy`` each.

    Per cell: ``s_k`` square, ``s'_k`` square, then for each ratio ``a`` a ``(s_k sqrt a,
    s_k / sqrt a)`` and a ``(s_k / sqrt a, s_k sqrt a)`` box. Centres are ``(j + 0.5) / f_k``
    of the input (paper) or ``(j + 0.5) * step`` when ``steps`` is given (Caffe/torchvision).
    ``clip`` clamps normalised widths/heights to [0, 1] as torchvision does.
    """
    in_h, in_w = input_size
    out = []
    for k, (rows, cols) in enumerate(grid_sizes):
        s_k = scales[k]
        s_prime = math.sqrt(scales[k] * scales[k + 1])
        wh = [(s_k, s_k), (s_prime, s_prime)]
        for a in aspect_ratios[k]:
            r = math.sqrt(a)
            wh += [(s_k * r, s_k / r), (s_k / r, s_k * r)]
        wh_arr = np.asarray(wh, dtype=np.float64)
        if clip:
            wh_arr = np.clip(wh_arr, 0.0, 1.0)
        fx, fy = (in_w / steps[k], in_h / steps[k]) if steps is not None else (cols, rows)
        cx = (np.arange(cols) + 0.5) / fx
        cy = (np.arange(rows) + 0.5) / fy
        gy, gx = np.meshgrid(cy, cx, indexing="ij")
        centers = np.stack([gx.ravel(), gy.ravel()], axis=1)           # (cells, 2)
        c = np.repeat(centers, len(wh_arr), axis=0)
        s = np.tile(wh_arr, (rows * cols, 1))
        boxes = np.concatenate([c - s / 2, c + s / 2], axis=1) * np.array([in_w, in_h] * 2)
        out.append(boxes)
    return out


def feature_map_from_boxes(name: str, size: tuple[int, int], boxes: np.ndarray,
                           stride: tuple[float, float],
                           scales: tuple[float, ...] = (),
                           aspect_ratios: tuple[float, ...] = ()) -> FeatureMapPriors:
    """Build a :class:`FeatureMapPriors` from cell-major boxes (cell centres read off them).

    ``stride`` ``(stride_y, stride_x)`` is used for the cell footprint; the centres are the
    mean centre of each cell's boxes, so the grid drawn is where the boxes really sit.
    """
    rows, cols = size
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if rows * cols == 0 or len(boxes) % (rows * cols):
        raise ValueError(f"{len(boxes)} boxes do not tile a {rows}x{cols} map ({name})")
    per_cell = len(boxes) // (rows * cols)
    grid = ((boxes[:, :2] + boxes[:, 2:]) / 2).reshape(rows, cols, per_cell, 2)
    return FeatureMapPriors(name=name, size=(rows, cols), per_cell=per_cell, boxes=boxes,
                            centers_x=grid[0, :, :, 0].mean(axis=1),
                            centers_y=grid[:, 0, :, 1].mean(axis=1),
                            stride=(float(stride[0]), float(stride[1])),
                            scales=scales, aspect_ratios=aspect_ratios)


#: SSD300 (VGG16) layers, map sizes and ratios (paper Fig. 2, sec. 3 "PASCAL VOC2007").
SSD300_LAYERS = ("conv4_3", "fc7", "conv8_2", "conv9_2", "conv10_2", "conv11_2")
SSD300_GRIDS = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
SSD300_RATIOS: list[list[float]] = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]


def ssd300_paper_priors() -> PriorSet:
    """The 8,732 SSD300 priors of the paper's VOC model, on the 300x300 input (no clipping)."""
    scales = paper_scales()
    boxes = ssd_default_boxes(SSD300_GRIDS, SSD300_RATIOS, scales, (300, 300))
    maps = []
    for k, (name, (rows, cols)) in enumerate(zip(SSD300_LAYERS, SSD300_GRIDS)):
        ratios = [1.0, 1.0]
        for a in SSD300_RATIOS[k]:
            ratios += [float(a), 1.0 / a]
        maps.append(feature_map_from_boxes(
            name, (rows, cols), boxes[k], stride=(300 / rows, 300 / cols),
            scales=(scales[k], math.sqrt(scales[k] * scales[k + 1])),
            aspect_ratios=tuple(ratios)))
    return PriorSet(model=SSD300_VOC_PAPER, kind="ssd", input_size=(300, 300),
                    image_size=(300, 300), feature_maps=tuple(maps),
                    source="SSD paper, VOC: scales 0.1, 0.2 … 0.9, centres (j+0.5)/f_k")
