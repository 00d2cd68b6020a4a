"""A detector's feature maps on one photo, and which map an RoI is pooled from.

The RoI-pooling view (Classics panel) needs the real maps a detector computes, as numpy, so that
:mod:`workbench.core.roi_pooling` can pool them bin by bin and the canvas can draw exactly what
was computed. :func:`compute_features` runs the detector's own ``transform`` (resize +
normalise, as at inference) and its ``backbone`` (FPN included for Faster R-CNN) once, and
returns every map with its ``spatial_scale``:

* Faster R-CNN: the scale torchvision's ``MultiScaleRoIAlign`` infers (``2 ** round(log2(map /
  input))`` per map, ``_infer_scale``), and the level an RoI goes to is chosen as its
  ``LevelMapper`` does (FPN paper eq. 1: ``k = floor(4 + log2(sqrt(area) / 224) + 1e-6)``
  clamped to the pooled levels): :func:`fpn_level`.
* SSD / other backbones: ``map height / input height`` (SSD inputs are square).

Boxes: pixel-edge ``xyxy``; the photo → detector-input ratio is ``FeatureMaps.ratio``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class FeatureMap:
    name: str
    values: np.ndarray           #: ``(C, H, W)`` float32
    spatial_scale: float         #: map units per detector-input pixel
    pooled: bool                 #: one of the levels the detector's RoI pooler reads

    @property
    def size(self) -> tuple[int, int]:
        return int(self.values.shape[1]), int(self.values.shape[2])


@dataclass(frozen=True)
class FeatureMaps:
    model: str
    maps: tuple[FeatureMap, ...]
    input_size: tuple[int, int]  #: ``(h, w)`` of the resized image the backbone saw (no pad)
    photo_size: tuple[int, int]  #: ``(h, w)`` of the photo
    fpn: bool                    #: a Faster R-CNN whose pooler maps RoIs to levels

    @property
    def ratio(self) -> tuple[float, float]:
        """``(rx, ry)``: detector-input pixels per photo pixel."""
        return (self.input_size[1] / self.photo_size[1], self.input_size[0] / self.photo_size[0])

    def to_input(self, box: Any) -> tuple[float, float, float, float]:
        rx, ry = self.ratio
        x1, y1, x2, y2 = (float(v) for v in box)
        return (x1 * rx, y1 * ry, x2 * rx, y2 * ry)

    def pooled_indices(self) -> list[int]:
        return [i for i, m in enumerate(self.maps) if m.pooled]

    def level_for(self, box_photo: Any) -> int:
        """Index in :attr:`maps` of the map the detector pools ``box_photo`` from (Faster
        R-CNN: its LevelMapper; one pooled map: that one; SSD: the first map)."""
        pooled = self.pooled_indices()
        if not pooled:
            return 0
        if not self.fpn or len(pooled) == 1:
            return pooled[0]
        scales = [self.maps[i].spatial_scale for i in pooled]
        return pooled[fpn_level(self.to_input(box_photo), scales)]


def fpn_level(box_input: Any, scales: list[float], canonical_scale: int = 224,
              canonical_level: int = 4, eps: float = 1e-6) -> int:
    """Position in ``scales`` of the level torchvision's ``LevelMapper`` gives ``box_input``."""
    k_min = int(-math.log2(scales[0]))
    k_max = int(-math.log2(scales[-1]))
    x1, y1, x2, y2 = (float(v) for v in box_input)
    s = np.sqrt(np.float32((x2 - x1) * (y2 - y1)))
    if s <= 0:
        target = float(k_min)
    else:
        target = math.floor(canonical_level + float(np.log2(np.float32(s / canonical_scale)))
                            + eps)
    return int(min(max(target, k_min), k_max)) - k_min


def infer_scale(map_size: tuple[int, int], input_size: tuple[int, int]) -> float:
    """torchvision's ``_infer_scale``: ``2 ** round(log2(map_h / input_h))``."""
    return float(2 ** round(math.log2(map_size[0] / input_size[0])))


def _pooled_names(model: Any) -> list[str] | None:
    pooler = getattr(getattr(model, "roi_heads", None), "box_roi_pool", None)
    names = getattr(pooler, "featmap_names", None)
    return [str(n) for n in names] if names is not None else None


@contextmanager
def backbone_pass(model: Any, rgb: np.ndarray) -> Iterator[tuple[Any, dict[str, torch.Tensor]]]:
    """``(images, features)`` of the ``(H, W, 3)`` uint8 photo through ``model``'s own
    transform and backbone, in eval mode and without gradients (both restored after the
    ``with`` block, which may run more of the model on them); a single-map backbone's tensor
    is named ``"0"``, as torchvision's detectors name it."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255.0)
    try:
        with torch.no_grad():
            images, _ = model.transform([image.to(device)])
            features = model.backbone(images.tensors)
            if isinstance(features, torch.Tensor):
                features = {"0": features}
            yield images, features
    finally:
        model.train(was_training)


def compute_features(model: Any, rgb: np.ndarray, model_name: str = "") -> FeatureMaps:
    """Every backbone map of ``model`` on the ``(H, W, 3)`` uint8 photo ``rgb``."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    if not hasattr(model, "backbone") or not hasattr(model, "transform"):
        raise ValueError(f"{type(model).__name__} has no torchvision backbone/transform to "
                         "read feature maps from")
    with backbone_pass(model, rgb) as (images, features):
        pass
    in_h, in_w = (int(v) for v in images.image_sizes[0])
    pooled_names = _pooled_names(model)
    fpn = pooled_names is not None
    maps = []
    for name, tensor in features.items():
        values = tensor[0].detach().float().cpu().numpy()
        size = (int(values.shape[1]), int(values.shape[2]))
        if fpn:
            scale = infer_scale(size, (in_h, in_w))
            pooled = str(name) in (pooled_names or [])
        else:
            scale = size[0] / float(images.tensors.shape[-2])
            pooled = True
        maps.append(FeatureMap(str(name), values, scale, pooled))
    return FeatureMaps(model=model_name or type(model).__name__, maps=tuple(maps),
                       input_size=(in_h, in_w), photo_size=(int(rgb.shape[0]),
                                                            int(rgb.shape[1])), fpn=fpn)
