"""Training data: a frozen snapshot of the project's labels, and a torch Dataset over it.

A run trains on a **snapshot** taken when it starts (:class:`ImageRecord` holds plain numpy
arrays), so the user can keep labeling while it trains. Only images that have an annotation
file take part (an XML with no objects is a valid negative image; an image never labeled is
left out). ``difficult`` objects are dropped from training targets and kept, flagged, for
evaluation (VOC devkit convention).

Boxes are float32 pixel-edge ``xyxy`` (see :mod:`workbench.core.boxes`); class ids are 1..K in
the order of the class list (0 is background).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from workbench.engine.transforms import Transform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageRecord:
    """One image's labels, frozen at the start of a run.

    ``boxes`` ``(N, 4)`` float32 pixel-edge ``xyxy``; ``names`` ``(N,)`` class names;
    ``difficult`` ``(N,)`` bool. ``width``/``height`` from the XML (0 when it had no size).
    """

    image_path: Path
    image_id: str
    width: int = 0
    height: int = 0
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    names: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=str))
    difficult: np.ndarray = field(default_factory=lambda: np.zeros((0,), bool))

    @classmethod
    def from_annotation(cls, image_path: Path, annotation: Any) -> ImageRecord:
        """Snapshot a :class:`workbench.core.annotation.Annotation`."""
        objs = tuple(annotation.objects)
        size = annotation.size
        return cls(
            image_path=Path(image_path),
            image_id=Path(image_path).stem,
            width=int(size.width) if size is not None else 0,
            height=int(size.height) if size is not None else 0,
            boxes=np.asarray([o.box for o in objs], np.float32).reshape(-1, 4),
            names=np.asarray([o.name for o in objs], dtype=str).reshape(-1),
            difficult=np.asarray([bool(o.difficult) for o in objs], bool).reshape(-1),
        )

    def to_annotation(self) -> Any:
        """The record as a core ``Annotation`` (for the metrics code)."""
        from workbench.core.annotation import Annotation, ImageSize, VocObject

        objs = tuple(
            VocObject(name=str(n), box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                      difficult=bool(d))
            for b, n, d in zip(self.boxes, self.names, self.difficult)
        )
        size = ImageSize(self.width, self.height) if self.width and self.height else None
        return Annotation(filename=self.image_path.name, size=size, objects=objs)

    def targets(self, class_to_id: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """Training targets: non-difficult boxes of known classes → ``(boxes, labels)``."""
        keep = ~self.difficult & np.isin(self.names, list(class_to_id))
        labels = np.asarray([class_to_id[n] for n in self.names[keep]], np.int64)
        return self.boxes[keep].copy(), labels


def read_image_rgb(path: Path) -> np.ndarray:
    """Decode an image file → ``(H, W, 3)`` uint8 RGB through the one decoder
    (:func:`workbench.core.images.decode_image`: EXIF orientation, truncated files grey-filled,
    the pixel limit); raise ``ValueError`` naming the file, with the reason ``validate`` gives."""
    from workbench.core.images import ImageReadError, decode_image

    try:
        return decode_image(path).rgb
    except ImageReadError as exc:
        raise ValueError(str(exc)) from exc


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 → ``(3, H, W)`` float32 in [0, 1]."""
    image = np.ascontiguousarray(image)
    if any(s < 0 for s in image.strides):  # a flipped 1-px side counts as contiguous
        image = image.copy()
    return torch.from_numpy(image).permute(2, 0, 1).float().div_(255.0)


def available_memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def should_cache(records: Sequence[ImageRecord], budget_mb: int, requested: bool | None,
                 max_side: int | None = None) -> bool:
    """Cache decoded images when asked, or (``requested=None``) when their estimated size
    (after shrinking to ``max_side``) fits ``budget_mb`` and a quarter of the free memory.
    Unknown sizes count as 1 megapixel."""
    if requested is not None:
        return requested

    def pixels(r: ImageRecord) -> float:
        if not (r.width and r.height):
            return 1_000_000
        shrink = min(1.0, max_side / max(r.width, r.height)) if max_side else 1.0
        return r.width * r.height * shrink * shrink

    need = sum(pixels(r) * 3 for r in records)
    free = available_memory_bytes()
    limit = budget_mb * 1024 * 1024
    if free is not None:
        limit = min(limit, free // 4)
    return need <= limit


class DetectionDataset(Dataset):
    """Images and targets for torchvision detectors.

    Item ``i`` is ``(i, image, target)`` with ``image`` ``(3, H, W)`` float32 in [0, 1] and
    ``target = {"boxes": (N, 4) float32, "labels": (N,) int64}``, after ``transform``; an image
    that cannot be read yields ``(i, None, reason)`` so the batch can skip it and training goes
    on (the trainer reports it).
    """

    def __init__(self, records: Sequence[ImageRecord], classes: Sequence[str],
                 transform: Transform | None = None, *, seed: int = 0,
                 cache: bool = False, max_side: int | None = None) -> None:
        self.records = list(records)
        self.max_side = max_side
        self.classes = list(classes)
        self.class_to_id = {c: i + 1 for i, c in enumerate(self.classes)}
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.cache_enabled = cache
        self._cache: dict[int, tuple[np.ndarray, float]] = {}
        self._rng: np.random.Generator | None = None

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Re-seed augmentation so epoch ``e`` of a resumed run sees the same randomness."""
        self.epoch = epoch
        self._rng = None

    def _generator(self, index: int) -> np.random.Generator:
        if self._rng is None:
            info = torch.utils.data.get_worker_info()
            worker = info.id if info is not None else 0
            self._rng = np.random.default_rng([self.seed, self.epoch, worker])
        return self._rng

    def image(self, index: int) -> tuple[np.ndarray, float]:
        """The decoded RGB image of record ``index`` and the factor it was scaled by.

        Images with a side longer than ``max_side`` are shrunk on decode (area interpolation)
        — the network sees at most that resolution anyway, and augmenting a 12-megapixel photo
        costs far more than training on it. From the cache when enabled.
        """
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        image = read_image_rgb(self.records[index].image_path)
        scale = 1.0
        h, w = image.shape[:2]
        if self.max_side is not None and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            scale = image.shape[1] / w
        if self.cache_enabled:
            self._cache[index] = (image, scale)
        return image, scale

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None, Any]:
        record = self.records[index]
        try:
            image, scale = self.image(index)
        except (ValueError, OSError, cv2.error) as exc:
            return index, None, str(exc)
        boxes, labels = record.targets(self.class_to_id)
        boxes *= np.float32(scale)
        h, w = image.shape[:2]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        if self.transform is not None:
            image, boxes, labels = self.transform(image, boxes, labels, self._generator(index))
        target = {
            "boxes": torch.from_numpy(np.asarray(boxes, np.float32).reshape(-1, 4)),
            "labels": torch.from_numpy(np.asarray(labels, np.int64).reshape(-1)),
        }
        return index, to_tensor(image), target


def collate(batch: list[tuple[int, Any, Any]]) -> tuple[
    list[int], list[torch.Tensor], list[dict[str, torch.Tensor]], list[tuple[int, str]]
]:
    """Batch of items → ``(indices, images, targets, skipped)``; ``skipped`` lists
    ``(index, reason)`` for the images that could not be read."""
    indices, images, targets, skipped = [], [], [], []
    for index, image, target in batch:
        if image is None:
            skipped.append((index, str(target)))
            continue
        indices.append(index)
        images.append(image)
        targets.append(target)
    return indices, images, targets, skipped


def class_box_counts(records: Sequence[ImageRecord], classes: Sequence[str],
                     include_difficult: bool = False) -> dict[str, int]:
    """Boxes per class (non-difficult only unless ``include_difficult``)."""
    counts = dict.fromkeys(classes, 0)
    for r in records:
        names = r.names if include_difficult else r.names[~r.difficult]
        for n in names:
            if n in counts:
                counts[str(n)] += 1
    return counts


def loader_context(num_workers: int) -> str | None:
    """DataLoader ``multiprocessing_context``: "spawn" for workers (never fork: Qt/threads)."""
    return "spawn" if num_workers > 0 else None
