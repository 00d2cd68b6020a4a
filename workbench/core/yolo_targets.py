"""YOLO (v1) grid targets of an image's ground truth, as the chapter builds them.

The image is divided into an ``N x N`` grid; a cell is ``W / N`` wide and ``H / N`` high. Each
ground-truth box (internal pixel-edge ``xyxy``, :mod:`workbench.core.boxes`) is assigned to the
one cell that holds its centre ``cx = (x1 + x2) / 2``, ``cy = (y1 + y2) / 2``::

    col = floor(cx / (W / N)),  row = floor(cy / (H / N))

and that cell's target is ``[pc, bx, by, bw, bh, class]`` with ``pc = 1``, ``bx, by`` the centre's
offset inside the cell as a fraction of the cell (``cx / (W / N) - col``, in ``[0, 1)``) and
``bw, bh`` the box size **relative to the cell size** (``(x2 - x1) / (W / N)``; larger than 1 for
a box wider than a cell), as the chapter and the issue write it (YOLOv1 itself normalises
``w, h`` by the image; multiply ``bw`` by ``1 / N`` to get that).

Edges: a centre exactly on the right or bottom image edge (``cx == W``) belongs to the last
column/row (``col = N - 1``, ``bx = 1.0`` there, the one case outside ``[0, 1)``). A centre
outside the image (a box drawn past the border) is first clipped to the image.

Conflicts: YOLOv1 has one target per cell, so when two or more centres fall in the same cell
only one can be kept. Every claimant of such a cell is flagged ``conflict = True``; the one a
YOLOv1 target tensor keeps is the **last in annotation order** (``kept = True``), because the
usual target builder loops over the objects and writes ``target[row, col] = ...``, each write
overwriting the previous one. The others are lost to training.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CellTarget:
    """The target of one ground-truth box in its grid cell."""

    index: int          # the box's position in the annotation (0-based)
    row: int
    col: int
    class_name: str
    bx: float
    by: float
    bw: float
    bh: float
    conflict: bool      # the cell holds two or more centres
    kept: bool          # the one a YOLOv1 target keeps (the last claimant); True without conflict

    pc: int = 1

    def to_json(self) -> dict[str, Any]:
        """``{"row", "col", "class", "pc", "bx", "by", "bw", "bh", "conflict"}``."""
        return {"row": self.row, "col": self.col, "class": self.class_name, "pc": self.pc,
                "bx": self.bx, "by": self.by, "bw": self.bw, "bh": self.bh,
                "conflict": self.conflict}


@dataclass(frozen=True)
class GridTargets:
    grid: int
    width: int
    height: int
    cells: tuple[CellTarget, ...]   # sorted by (row, col), then annotation order

    @property
    def cell_width(self) -> float:
        return self.width / self.grid

    @property
    def cell_height(self) -> float:
        return self.height / self.grid

    @property
    def conflicts(self) -> list[CellTarget]:
        return [c for c in self.cells if c.conflict]

    def to_json(self) -> dict[str, Any]:
        """The ``workbench yolo-targets --json`` document."""
        return {"grid": self.grid, "width": self.width, "height": self.height,
                "cells": [c.to_json() for c in self.cells]}


def _cell(centre: float, side: float, grid: int) -> tuple[int, float]:
    """``(index, offset)`` of a centre coordinate on an axis of length ``side``."""
    g = min(max(centre, 0.0), side) * grid / side    # in cells
    index = min(int(math.floor(g)), grid - 1)
    return index, g - index


def yolo_targets(width: int, height: int, boxes: np.ndarray | list[Any],
                 class_names: list[str] | tuple[str, ...], grid: int) -> GridTargets:
    """YOLO targets of ``(B, 4)`` pixel-edge boxes with their class names on an ``N x N`` grid."""
    if grid < 1:
        raise ValueError(f"grid must be at least 1, got {grid}")
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(arr) != len(class_names):
        raise ValueError(f"{len(arr)} boxes but {len(class_names)} class names")
    raw = []
    for i, (x1, y1, x2, y2) in enumerate(arr.tolist()):
        col, bx = _cell((x1 + x2) / 2.0, float(width), grid)
        row, by = _cell((y1 + y2) / 2.0, float(height), grid)
        bw = (x2 - x1) * grid / width
        bh = (y2 - y1) * grid / height
        raw.append((i, row, col, bx, by, bw, bh))
    claims = Counter((r[1], r[2]) for r in raw)
    last = {(r[1], r[2]): r[0] for r in raw}          # later boxes overwrite: the last one wins
    cells = [CellTarget(index=i, row=row, col=col, class_name=str(class_names[i]),
                        bx=bx, by=by, bw=bw, bh=bh, conflict=claims[(row, col)] > 1,
                        kept=last[(row, col)] == i)
             for i, row, col, bx, by, bw, bh in raw]
    cells.sort(key=lambda c: (c.row, c.col, c.index))
    return GridTargets(grid=grid, width=int(width), height=int(height), cells=tuple(cells))


def format_table(targets: GridTargets) -> str:
    """A readable table of the targets (the ``workbench yolo-targets`` output without --json)."""
    lines = [f"{targets.width}x{targets.height} image, {targets.grid}x{targets.grid} grid "
             f"(cells {targets.cell_width:g}x{targets.cell_height:g} px): "
             f"{len(targets.cells)} box(es)"]
    if targets.cells:
        lines.append(f"{'row':>4} {'col':>4}  {'class':<16} {'pc':>2} {'bx':>7} {'by':>7} "
                     f"{'bw':>7} {'bh':>7}  note")
    for c in targets.cells:
        note = ""
        if c.conflict:
            note = "conflict: kept (last)" if c.kept else "conflict: overwritten"
        lines.append(f"{c.row:>4} {c.col:>4}  {c.class_name:<16} {c.pc:>2} {c.bx:>7.4f} "
                     f"{c.by:>7.4f} {c.bw:>7.4f} {c.bh:>7.4f}  {note}".rstrip())
    return "\n".join(lines)
