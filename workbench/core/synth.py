"""A generated sample project: photo-like scenes with VOC boxes, deterministic by seed.

``generate_project(out_dir, num_images=DEFAULT_IMAGES, seed=0)`` (800 images) writes::

    out_dir/images/sample_0000.jpg ...          the scenes (JPEG, several photo aspect ratios)
    out_dir/annotations/sample_0000.xml ...     PASCAL VOC XML (every image annotated)
    out_dir/classes.txt                         one class name a line
    out_dir/ImageSets/Main/{train,val,trainval}.txt   image ids (file stems), a seeded split
                                                (:meth:`workbench.core.project.Project.write_splits`)

A scene is a textured background (fractal-noise surfaces, walls and floors with wood or tiles,
grass) with clutter (flat discs, papers, sticks, blobs — some shaped like the objects but without
their texture), then 1–6 objects of five classes (:data:`CLASSES`) at many scales and aspect
ratios, with drop shadows, occluding each other by up to about half, some cut by the image
border, some behind a foreground occluder; then uneven lighting, a colour cast, sensor noise,
sometimes blur, and JPEG compression.

Boxes follow the VOC guideline "the bounding box of the *visible* area of the object": each box is
the extent of the object's pixels that remain visible (alpha > 0.5) after occlusion and
cropping, as float pixel-edge ``xyxy`` (:mod:`workbench.core.boxes`). ``truncated`` is set when
the object extends past the image border; ``difficult`` when less than 40 % of it is visible or
its visible box is under 10 pixels on a side (so evaluation ignores it, like VOC's).

Every image is drawn from its own ``numpy.random.Generator`` seeded with ``(seed, index)``, so
the same seed gives byte-identical files, and image *i* does not depend on how many are made.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from workbench.core import synth_render as R
from workbench.core.annotation import Annotation, ImageSize, VocObject

log = logging.getLogger(__name__)

CLASSES: tuple[str, ...] = tuple(R.OBJECTS)
#: (width, height) choices: 4:3, 3:2 and 3:4 photos and a square.
SIZES: tuple[tuple[int, int], ...] = ((320, 240), (336, 224), (288, 288), (240, 320))
DEFAULT_IMAGES = 800
VAL_FRACTION = 0.2


@dataclass(frozen=True)
class SampleProject:
    """Where :func:`generate_project` wrote things, and the split it chose."""

    root: Path
    images_dir: Path
    annotations_dir: Path
    classes_file: Path
    train_ids: tuple[str, ...]
    val_ids: tuple[str, ...]


# ------------------------------------------------------------------------------------------
# backgrounds and clutter
# ------------------------------------------------------------------------------------------
def _muted(rng: np.random.Generator) -> np.ndarray:
    return R.hsv(rng.uniform(0, 360), rng.uniform(0.05, 0.5), rng.uniform(0.25, 0.85))


def _surface(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    kind = int(rng.integers(4))
    if kind == 0:  # stone / plaster
        return R.colorize(R.fractal_noise(rng, h, w, base=int(rng.integers(2, 8))),
                          [_muted(rng) for _ in range(3)])
    if kind == 1:  # wooden floor or table
        return R.wood(rng, h, w, R.hsv(rng.uniform(15, 40), rng.uniform(0.3, 0.7),
                                       rng.uniform(0.4, 0.8)), vertical=bool(rng.random() < 0.5))
    if kind == 2:  # tiles with grout
        t = int(rng.integers(18, 60))
        base, out = _muted(rng), np.empty((h, w, 3), np.float32)
        jitter = rng.uniform(0.85, 1.15, (h // t + 1, w // t + 1)).astype(np.float32)
        out[:] = base * np.kron(jitter, np.ones((t, t), np.float32))[:h, :w, None]
        out[(np.arange(h) % t) < 2] = base * 0.6
        out[:, (np.arange(w) % t) < 2] = base * 0.6
        return out * (0.9 + 0.1 * R.fractal_noise(rng, h, w, base=8))[..., None]
    grass = R.fractal_noise(rng, h, w, base=24, octaves=2, persistence=0.8)  # grass / gravel
    return R.colorize(grass, [R.hsv(rng.uniform(60, 130), 0.6, 0.25), R.hsv(
        rng.uniform(60, 130), 0.5, 0.6), _muted(rng)])


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = _surface(rng, h, w)
    if rng.random() < 0.5:  # a wall above a floor
        horizon = int(h * rng.uniform(0.2, 0.6))
        img[:horizon] = _surface(rng, horizon, w)
        img[max(0, horizon - 2):horizon + 1] *= 0.5
    return img


def _clutter(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Distractors drawn in place: discs, papers, sticks, blobs, scribbles (no object texture)."""
    h, w = img.shape[:2]
    for _ in range(count):
        kind = int(rng.integers(5))
        color = tuple(float(c) for c in (R.hsv(rng.uniform(0, 360), rng.uniform(0, 0.9),
                                              rng.uniform(0.2, 1.0))))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        s = int(min(h, w) * math.exp(rng.uniform(math.log(0.04), math.log(0.35))))
        if kind == 0:  # flat disc / ellipse
            cv2.ellipse(img, (cx, cy), (s // 2 + 1, int(s * rng.uniform(0.3, 0.6)) + 1),
                        rng.uniform(0, 180), 0, 360, color, -1, cv2.LINE_AA)
        elif kind == 1:  # paper / book
            box = cv2.boxPoints(((cx, cy), (s, s * rng.uniform(0.4, 1.4)), rng.uniform(0, 90)))
            cv2.fillPoly(img, [np.round(box).astype(np.int32)], color, cv2.LINE_AA)
        elif kind == 2:  # stick / cable
            a = rng.uniform(0, math.pi)
            p = (int(cx + s * math.cos(a)), int(cy + s * math.sin(a)))
            cv2.line(img, (cx, cy), p, color, int(rng.integers(1, 5)), cv2.LINE_AA)
        elif kind == 3:  # irregular blob
            n = int(rng.integers(5, 9))
            ang = np.sort(rng.uniform(0, 2 * math.pi, n))
            rad = s / 2 * rng.uniform(0.5, 1.0, n)
            pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
            cv2.fillPoly(img, [np.round(pts).astype(np.int32)], color, cv2.LINE_AA)
        else:  # scribble
            pts = np.cumsum(rng.normal(0, s / 6, (8, 2)), 0) + (cx, cy)
            cv2.polylines(img, [np.round(pts).astype(np.int32)], False, color, 1, cv2.LINE_AA)


# ------------------------------------------------------------------------------------------
# one scene
# ------------------------------------------------------------------------------------------
def render_scene(rng: np.random.Generator, width: int, height: int,
                 classes: tuple[str, ...] = CLASSES) -> tuple[np.ndarray, list[VocObject]]:
    """One image ``(height, width, 3)`` uint8 **RGB** and its objects (pixel-edge boxes)."""
    img = _background(rng, height, width)
    _clutter(rng, img, int(rng.integers(6, 22)))
    if rng.random() < 0.5:  # shallow depth of field: the background is a little soft
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.6))
    owner = np.full((height, width), -1, np.int32)  # topmost object per pixel (-1: none)
    full_area: list[float] = []
    names: list[str] = []
    truncated: list[bool] = []
    light = (rng.uniform(-1, 1), rng.uniform(0.3, 1))
    for _ in range(int(rng.choice([1, 2, 2, 3, 3, 3, 4, 4, 5, 6]))):
        name = classes[int(rng.integers(len(classes)))]
        size = min(width, height) * math.exp(rng.uniform(math.log(0.11), math.log(0.72)))
        rgb, alpha = R.render_object(rng, name, size)
        placed = _place(rng, img, owner, rgb, alpha, full_area, light)
        if placed is not None:
            names.append(name)
            truncated.append(placed)
    if rng.random() < 0.25:  # a foreground occluder (branch, pole) crossing the scene
        m = np.zeros((height, width), np.uint8)
        y0, y1 = int(rng.integers(0, height)), int(rng.integers(0, height))
        cv2.line(m, (0, y0), (width - 1, y1), 255, int(rng.integers(3, 9)), cv2.LINE_AA)
        img[m > 127] = _muted(rng) * 0.6
        owner[m > 127] = -1
    img = _lighting(rng, img)
    objects: list[VocObject] = []
    for i, name in enumerate(names):
        ys, xs = np.nonzero(owner == i)
        if len(ys) == 0:
            continue
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        visible = len(ys) / full_area[i]
        small = min(box[2] - box[0], box[3] - box[1]) < 10
        objects.append(VocObject(name=name, box=box, difficult=bool(visible < 0.4 or small),
                                 truncated=truncated[i]))
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), objects


def _place(rng: np.random.Generator, img: np.ndarray, owner: np.ndarray, rgb: np.ndarray,
           alpha: np.ndarray, full_area: list[float], light: tuple[float, float]) -> bool | None:
    """Paste a sprite where it hides no earlier object by more than half; ``truncated`` or None."""
    H, W = owner.shape
    h, w = alpha.shape
    solid = alpha > 0.5
    area = float(solid.sum())
    if area < 4:
        return None
    allow_out = rng.random() < 0.2
    for _ in range(12):
        lo_x, lo_y = (-w // 2, -h // 2) if allow_out else (0, 0)
        hi_x, hi_y = (W - w // 2, H - h // 2) if allow_out else (max(1, W - w), max(1, H - h))
        x, y = int(rng.integers(lo_x, hi_x + 1)), int(rng.integers(lo_y, hi_y + 1))
        ix0, iy0, ix1, iy1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
        if ix1 - ix0 < 4 or iy1 - iy0 < 4:
            continue
        sub = solid[iy0 - y:iy1 - y, ix0 - x:ix1 - x]
        region = owner[iy0:iy1, ix0:ix1]
        covered = np.bincount(region[sub & (region >= 0)], minlength=len(full_area))
        now = np.bincount(owner[owner >= 0], minlength=len(full_area))
        if np.any((now - covered) < 0.5 * now):
            continue
        a = alpha[iy0 - y:iy1 - y, ix0 - x:ix1 - x, None]
        dx, dy = int(light[0] * w * 0.12), int(light[1] * h * 0.1)  # soft drop shadow
        shadow = np.zeros((H, W), np.float32)
        sx0, sy0 = ix0 + dx, iy0 + dy
        sx1, sy1 = min(max(sx0, 0) + (ix1 - ix0), W), min(max(sy0, 0) + (iy1 - iy0), H)
        if sx1 > max(sx0, 0) and sy1 > max(sy0, 0):
            shadow[max(sy0, 0):sy1, max(sx0, 0):sx1] = a[:sy1 - max(sy0, 0), :sx1 - max(sx0, 0), 0]
            k = max(3, (min(w, h) // 6) | 1)
            shadow = cv2.GaussianBlur(shadow, (k, k), 0)  # type: ignore[assignment]  # float32
            img *= (1 - 0.45 * shadow)[..., None]
        patch = img[iy0:iy1, ix0:ix1]
        patch[:] = patch * (1 - a) + rgb[iy0 - y:iy1 - y, ix0 - x:ix1 - x] * a
        region[sub] = len(full_area)
        full_area.append(area)
        return bool(ix0 > x or iy0 > y or ix1 < x + w or iy1 < y + h)
    return None


def _lighting(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Uneven illumination, vignette, colour cast, gamma, sensor noise, sometimes blur."""
    h, w = img.shape[:2]
    yy, xx = np.ogrid[0:h, 0:w]
    yy, xx = yy.astype(np.float32), xx.astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    grad = ((xx / w - 0.5) * math.cos(a) + (yy / h - 0.5) * math.sin(a)) * rng.uniform(0, 0.8)
    vig = 1 - rng.uniform(0, 0.5) * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2)
    gain = rng.uniform(0.6, 1.25) * (1 + grad) * vig
    cast = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    img = cv2.pow(np.clip(img * (gain[..., None] * cast), 0, 1).astype(np.float32),
                  rng.uniform(0.75, 1.3))
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(0.005, 0.035))
    if rng.random() < 0.2:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.0))
    return img


# ------------------------------------------------------------------------------------------
# a project on disk
# ------------------------------------------------------------------------------------------
def _replace(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename, without fsync.

    Generated files are not user work and can be made again (the GUI's first run writes a
    completion marker last), and an fsync per file made a 600-image project take a minute on
    a slow disk instead of a few seconds; the rename still means no half-written file is ever
    seen under its final name.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The generator image ``index`` of a project with ``seed`` is drawn from."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def generate_project(out_dir: str | Path, num_images: int = DEFAULT_IMAGES, seed: int = 0,
                     val_fraction: float = VAL_FRACTION,
                     progress: Callable[[int, int], None] | None = None) -> SampleProject:
    """Write a sample project (layout in the module docstring) and return where it is.

    ``progress(done, total)`` is called after each image.

    Existing files of the same names are replaced; other files are left alone. The XML is
    serialised by :func:`workbench.core.voc.annotation_to_bytes` (LabelImg's layout).
    Raises ``ValueError`` for ``num_images < 2`` or a ``val_fraction`` outside ``(0, 1)``.
    """
    from workbench.core.atomic import atomic_write_text
    from workbench.core.project import Project
    from workbench.core.voc import annotation_to_bytes

    if num_images < 2:
        raise ValueError(f"a sample project needs at least 2 images, got {num_images}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    root = Path(out_dir)
    images, annotations = root / "images", root / "annotations"
    for d in (images, annotations, root / "ImageSets" / "Main"):
        d.mkdir(parents=True, exist_ok=True)
    ids: list[str] = []
    for i in range(num_images):
        rng = scene_rng(seed, i)
        width, height = SIZES[int(rng.integers(len(SIZES)))]
        rgb, objects = render_scene(rng, width, height)
        stem = f"sample_{i:04d}"
        quality = int(rng.integers(80, 96))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise OSError(f"could not encode {stem}.jpg")
        _replace(images / f"{stem}.jpg", buf.tobytes())
        ann = Annotation(filename=f"{stem}.jpg", size=ImageSize(width, height, 3),
                         objects=tuple(objects), folder="images", path="",
                         database="Detection Workbench sample")
        _replace(annotations / f"{stem}.xml", annotation_to_bytes(ann))
        ids.append(stem)
        if progress is not None:
            progress(i + 1, num_images)
    classes_file = root / "classes.txt"
    atomic_write_text(classes_file, "".join(f"{c}\n" for c in CLASSES))
    splits = Project.open(root).write_splits(val_fraction=val_fraction, seed=seed)
    train, val = tuple(splits["train"]), tuple(splits["val"])
    log.info("wrote a sample project of %d images (%d train, %d val) to %s", num_images,
             len(train), len(val), root)
    return SampleProject(root, images, annotations, classes_file, train, val)
