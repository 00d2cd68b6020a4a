"""Training augmentation on numpy images and pixel-edge boxes (no torch; cv2 + numpy).

Every transform takes and returns ``(image, boxes, labels)``: ``image`` ``(H, W, 3)`` uint8 RGB,
``boxes`` ``(N, 4)`` float32 pixel-edge ``xyxy`` (see :mod:`workbench.core.boxes`), ``labels``
``(N,)`` int64; randomness comes from the ``numpy.random.Generator`` passed in, so a seeded run
is reproducible.

SSD recipe (Liu et al. 2016, §2.2 "Data augmentation", as in the reference implementation and
torchvision's detection references): photometric distortion, zoom-out ("expand") up to 4×,
a random crop whose IoU with some object is at least one of {0.1, 0.3, 0.5, 0.7, 0.9} (or the
whole image), horizontal flip, then resize to the network's square input.
Faster R-CNN recipe: horizontal flip only (multi-scale training is done by the model's own
transform; see :func:`workbench.engine.trainer`).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from workbench.engine.config import AUGMENTATION_CHOICES

Sample = tuple[np.ndarray, np.ndarray, np.ndarray]
Transform = Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator], Sample]

#: Fill colour of the zoom-out canvas: the ImageNet mean pixel, RGB.
MEAN_RGB = (124, 116, 104)
IOU_CROP_OPTIONS: tuple[float | None, ...] = (None, 0.1, 0.3, 0.5, 0.7, 0.9)


def hflip(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
          rng: np.random.Generator, p: float = 0.5) -> Sample:
    """Mirror left-right with probability ``p``: ``x1' = W - x2``, ``x2' = W - x1``."""
    if rng.random() >= p:
        return image, boxes, labels
    w = image.shape[1]
    out = boxes.copy()
    out[:, 0] = w - boxes[:, 2]
    out[:, 2] = w - boxes[:, 0]
    return np.ascontiguousarray(image[:, ::-1]), out, labels


def photometric_distort(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                        rng: np.random.Generator) -> Sample:
    """Random brightness (±32), contrast and saturation (×0.5–1.5), hue (±18°), each with
    probability 1/2, contrast before or after the HSV changes (as in SSD's reference code)."""
    img = image.astype(np.float32)
    if rng.random() < 0.5:
        img += rng.uniform(-32, 32)
    contrast_first = rng.random() < 0.5
    if contrast_first and rng.random() < 0.5:
        img *= rng.uniform(0.5, 1.5)
    do_sat, do_hue = rng.random() < 0.5, rng.random() < 0.5
    if do_sat or do_hue:
        hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8),
                           cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
        if do_sat:
            hsv[..., 1] *= rng.uniform(0.5, 1.5)
        if do_hue:
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(-18, 18) * 256 / 360) % 256
        hsv = np.clip(hsv, 0, 255).astype(np.uint8)
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL).astype(np.float32)
    if not contrast_first and rng.random() < 0.5:
        img *= rng.uniform(0.5, 1.5)
    return np.clip(img, 0, 255).astype(np.uint8), boxes, labels


def zoom_out(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
             rng: np.random.Generator, max_ratio: float = 4.0, p: float = 0.5) -> Sample:
    """With probability ``p`` place the image on a mean-coloured canvas up to ``max_ratio``×
    larger (small-object training, SSD §3.6).

    The canvas keeps the image's own size and the image is shrunk by the ratio instead — the
    same picture up to a global scale, which the final resize to the network input removes —
    so memory and time stay constant (a 4× canvas of a large photo would be 16× the pixels).
    """
    if rng.random() >= p:
        return image, boxes, labels
    h, w = image.shape[:2]
    ratio = rng.uniform(1.0, max_ratio)
    sw, sh = max(1, int(round(w / ratio))), max(1, int(round(h / ratio)))
    left, top = int(rng.uniform(0, w - sw)), int(rng.uniform(0, h - sh))
    canvas = np.empty_like(image)
    canvas[:] = MEAN_RGB
    canvas[top:top + sh, left:left + sw] = cv2.resize(image, (sw, sh),
                                                      interpolation=cv2.INTER_AREA)
    scale = np.array([sw / w, sh / h, sw / w, sh / h], np.float32)
    return canvas, boxes * scale + np.array([left, top, left, top], np.float32), labels


def _iou_with(crop: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lt = np.maximum(crop[:2], boxes[:, :2])
    rb = np.minimum(crop[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area_b = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    area_c = float(np.prod(crop[2:] - crop[:2]))
    return inter / np.maximum(area_c + area_b - inter, 1e-9)


def iou_crop(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
             rng: np.random.Generator, trials: int = 50) -> Sample:
    """SSD's random crop: pick a minimum IoU from :data:`IOU_CROP_OPTIONS` (None = keep the
    image), then try crops of 0.3–1× the sides with aspect ratio 0.5–2 until one overlaps some
    object by that IoU; keep the boxes whose centres fall inside, clipped to the crop."""
    if len(boxes) == 0:
        return image, boxes, labels
    h, w = image.shape[:2]
    while True:
        min_iou = IOU_CROP_OPTIONS[int(rng.integers(len(IOU_CROP_OPTIONS)))]
        if min_iou is None:
            return image, boxes, labels
        for _ in range(trials):
            cw, ch = rng.uniform(0.3 * w, w), rng.uniform(0.3 * h, h)
            if not 0.5 <= ch / cw <= 2.0:
                continue
            x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
            crop = np.array([int(x0), int(y0), int(x0 + cw), int(y0 + ch)], np.float32)
            if crop[2] - crop[0] < 2 or crop[3] - crop[1] < 2:
                continue
            if _iou_with(crop, boxes).max() < min_iou:
                continue
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            inside = np.all((centres > crop[:2]) & (centres < crop[2:]), axis=1)
            if not inside.any():
                continue
            kept = boxes[inside].copy()
            kept[:, :2] = np.maximum(kept[:, :2], crop[:2]) - crop[:2]
            kept[:, 2:] = np.minimum(kept[:, 2:], crop[2:]) - crop[:2]
            x1, y1, x2, y2 = (int(v) for v in crop)
            return np.ascontiguousarray(image[y1:y2, x1:x2]), kept, labels[inside]


def resize(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, size: int) -> Sample:
    """Resize to ``size`` × ``size`` (SSD's fixed square input), scaling the boxes."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image, boxes, labels
    out = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    scale = np.array([size / w, size / h, size / w, size / h], np.float32)
    return out, boxes * scale, labels


def drop_degenerate(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                    min_side: float = 1.0) -> Sample:
    """Remove boxes narrower or shorter than ``min_side`` px (torchvision rejects them)."""
    if len(boxes) == 0:
        return image, boxes, labels
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_side) & ((boxes[:, 3] - boxes[:, 1]) >= min_side)
    return image, boxes[keep], labels[keep]


#: Augmentation chains a run can ask for (``TrainConfig.augmentation``); "auto" is the model
#: family's own: SSD's chain for "ssd", flips for the rest.
AUGMENTATIONS: dict[str, tuple[str, ...]] = {
    "ssd": ("photometric", "zoom_out", "iou_crop", "hflip"),
    "flip": ("hflip",),
    "none": (),
}
_STEPS = {"photometric": photometric_distort, "zoom_out": zoom_out, "iou_crop": iou_crop,
          "hflip": hflip}


class TrainTransform:
    """An augmentation chain, then (for SSD models) a square resize to ``image_size``.

    A module-level class, not a closure, so DataLoader workers started with spawn can pickle it.
    """

    def __init__(self, steps: tuple[str, ...], image_size: int | None) -> None:
        unknown = [s for s in steps if s not in _STEPS]
        if unknown:
            raise ValueError(f"unknown augmentation step(s): {', '.join(unknown)}")
        self.steps = tuple(steps)
        self.image_size = image_size

    def __call__(self, image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                 rng: np.random.Generator) -> Sample:
        sample = (image, boxes, labels)
        for step in self.steps:
            sample = _STEPS[step](*sample, rng)
        if self.image_size is not None:
            sample = resize(*sample, self.image_size)
        return drop_degenerate(*sample)


def train_transform(family: str, image_size: int, augment: bool = True,
                    augmentation: str = "auto") -> Transform:
    """The training transform of a model family ("ssd" resizes to its square input; the other
    families' models resize by themselves) with ``augmentation`` ("auto" = the family's own:
    SSD's photometric / zoom-out / IoU-crop / flip chain for "ssd", flips otherwise; "ssd",
    "flip" or "none"). ``augment=False`` means "none"."""
    if augmentation not in AUGMENTATION_CHOICES:
        raise ValueError(f"augmentation must be one of {', '.join(AUGMENTATION_CHOICES)} "
                         f"(got {augmentation!r})")
    kind = augmentation if augmentation != "auto" else ("ssd" if family == "ssd" else "flip")
    steps = AUGMENTATIONS[kind] if augment else ()
    return TrainTransform(steps, image_size if family == "ssd" else None)
