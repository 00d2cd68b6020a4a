"""Photo sets for measuring selective search that are not the raccoons, and pooled scores.

The raccoon photos hold one or two large animals each: every method finds them (recall 1.000),
so they cannot tell a good proposal method from a bad one, and anything tuned on them is tuned
on an easy case. :func:`mosaic_set` makes harder, reproducible photos from
:func:`workbench.core.synth.render_scene`: ``cols × rows`` synthetic scenes side by side in one
photo, so each photo holds many objects, most of them small relative to the photo (a scene's
objects are 11–72 % of *its* shorter side). Boxes marked difficult (under 40 % visible or under
10 px) are left out, as VOC's evaluation does. Different seeds give different photos; which set
a method was tuned on is the caller's to say (``bench/bench_proposals.py`` names them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from workbench.core.proposals import mabo, recall_at
from workbench.core.synth import render_scene, scene_rng


@dataclass(frozen=True)
class EvalPhoto:
    name: str
    image: np.ndarray   # (H, W, 3) uint8 BGR
    boxes: np.ndarray   # (N, 4) float pixel-edge xyxy, the non-difficult objects


def mosaic(seed: int, index: int, cols: int, rows: int, tile_w: int,
           tile_h: int, jpeg_quality: int | None = None) -> EvalPhoto:
    """One ``(rows·tile_h) × (cols·tile_w)`` BGR photo of ``cols × rows`` synthetic scenes;
    with ``jpeg_quality`` (1–100) the photo is JPEG-encoded and decoded again, so it carries
    the block and ringing artefacts of a real camera's file."""
    image = np.zeros((rows * tile_h, cols * tile_w, 3), np.uint8)
    boxes: list[tuple[float, float, float, float]] = []
    for r in range(rows):
        for c in range(cols):
            rgb, objects = render_scene(scene_rng(seed, index * 100 + r * cols + c),
                                        tile_w, tile_h)
            image[r * tile_h:(r + 1) * tile_h, c * tile_w:(c + 1) * tile_w] = rgb[:, :, ::-1]
            for o in objects:
                if o.difficult:
                    continue
                x0, y0, x1, y1 = o.box
                boxes.append((x0 + c * tile_w, y0 + r * tile_h, x1 + c * tile_w,
                              y1 + r * tile_h))
    name = f"s{seed}-{index}-{cols}x{rows}"
    if jpeg_quality is not None:
        if not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {jpeg_quality}")
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        if not ok:
            raise RuntimeError(f"cannot JPEG-encode mosaic {name}")
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if decoded is None:
            raise RuntimeError(f"cannot decode the JPEG of mosaic {name}")
        image = np.asarray(decoded, np.uint8)
        name += f"-q{jpeg_quality}"
    return EvalPhoto(name, image,
                     np.asarray(boxes, np.float64).reshape(-1, 4))


def mosaic_set(seed: int, count: int, cols: int, rows: int, tile_w: int,
               tile_h: int, jpeg_quality: int | None = None) -> list[EvalPhoto]:
    return [mosaic(seed, i, cols, rows, tile_w, tile_h, jpeg_quality) for i in range(count)]


@dataclass(frozen=True)
class Scores:
    boxes: int
    recall_50: float
    recall_70: float
    mabo: float


def pooled_scores(gts: Sequence[np.ndarray], proposals: Iterable[np.ndarray]) -> Scores:
    """Recall@0.5, recall@0.7 and MABO over all ground-truth boxes of all photos (each box
    counts once, not each photo)."""
    n = 0
    r5 = r7 = m = 0.0
    for gt, p in zip(gts, proposals, strict=True):
        k = len(gt)
        if k == 0:
            continue
        n += k
        r5 += recall_at(gt, p, 0.5) * k
        r7 += recall_at(gt, p, 0.7) * k
        m += mabo(gt, p) * k
    if n == 0:
        return Scores(0, 1.0, 1.0, 1.0)
    return Scores(n, r5 / n, r7 / n, m / n)
