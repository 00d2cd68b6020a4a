"""R-CNN and Fast R-CNN on selective-search proposals: ``rcnn_ss`` and ``fast_rcnn_ss``.

Both share :class:`workbench.engine.classic_base.ClassicDetector` (cached proposals, RoI
labelling and sampling, losses, post-processing) and differ where the chapter says they do:

* :class:`RCNN` (Girshick et al. 2014): every RoI is cut out of the normalised image and
  **warped** to ``crop_size`` × ``crop_size`` pixels (anisotropic, ``torchvision.ops.roi_align``
  on the image itself), after widening it by ``context_pad`` pixels of the warped frame on every
  side (the paper's context padding, p = 16 at 227 px; here 8 at 64 px; outside the image is
  zero = the mean colour after normalisation, as the paper pads with the mean). Each crop goes
  through its own small CNN (:func:`~workbench.engine.classic_base.small_backbone`, random
  init), one FC layer, then a softmax classifier and class-specific box regression. (The paper
  trains per-class SVMs and a separate regressor on the features; here the fine-tuning
  stage's softmax and the regressor train together, end to end.) Cost grows with the number of
  RoIs: a CNN pass per proposal, so inference keeps only the first 300 proposals on a CPU.
* :class:`FastRCNN` (Girshick 2015): the backbone runs **once per image** (stride 16) and each
  RoI is pooled from its feature map to 7 × 7 with ``torchvision.ops.roi_pool`` (max pooling,
  the paper's RoI pooling; ``pool="align"`` uses ``roi_align`` instead), then two FC layers and
  the classifier / box regressor. Inference keeps up to 2000 proposals.

The backbones train from scratch (no pretrained weights exist for them; nothing is
downloaded). Registered into :mod:`workbench.engine.detectors` when that module loads this one
as a plugin; names, sizes and recipes come from the catalog (:mod:`workbench.core.models`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align, roi_pool

from workbench.core import models as catalog
from workbench.engine.classic_base import ClassicDetector, init_heads, small_backbone
from workbench.engine.detectors import DetectorSpec, register_detector

RCNN_NAME = "rcnn_ss"
FAST_RCNN_NAME = "fast_rcnn_ss"

#: R-CNN: the warped crop's side, context padding (pixels of the warped crop), proposals kept
#: per image in training (only the sampled RoIs run) and at inference (each one a CNN pass).
RCNN_CROP = 64
RCNN_CONTEXT_PAD = 8
RCNN_TRAIN_PROPOSALS = 2000
RCNN_TEST_PROPOSALS = 300
#: RoIs per CNN pass at inference (bounds memory: 256 crops of 64 px ≈ a 1024² image).
RCNN_CHUNK = 256
#: Fast R-CNN: pooled grid, feature stride, proposals kept per image (train and inference).
FAST_POOL = 7
FAST_STRIDE = 16
FAST_PROPOSALS = 2000


class RCNN(ClassicDetector):
    """R-CNN: warp each RoI to ``crop`` px (with context), a small CNN per crop."""

    def __init__(self, num_classes: int, image_size: int, crop: int = RCNN_CROP,
                 context_pad: int = RCNN_CONTEXT_PAD, hidden: int = 256) -> None:
        super().__init__(num_classes, image_size, train_proposals=RCNN_TRAIN_PROPOSALS,
                         test_proposals=RCNN_TEST_PROPOSALS)
        if crop < 2 * context_pad + 8:
            raise ValueError(f"crop size {crop} leaves no room inside context padding "
                             f"{context_pad}")
        self.crop = int(crop)
        self.context_pad = int(context_pad)
        self.backbone = small_backbone()
        side = crop // FAST_STRIDE
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(128 * side * side, hidden),
                                nn.ReLU(inplace=True))
        self.cls_score = nn.Linear(hidden, num_classes)
        self.bbox_pred = nn.Linear(hidden, 4 * num_classes)
        init_heads(self.cls_score, self.bbox_pred)

    def with_context(self, boxes: Tensor) -> Tensor:
        """``boxes`` widened about their centres by ``crop / (crop - 2 pad)``, so that the box
        itself fills the warped crop minus ``pad`` pixels on each side."""
        factor = self.crop / (self.crop - 2 * self.context_pad)
        c = (boxes[:, :2] + boxes[:, 2:]) / 2
        half = (boxes[:, 2:] - boxes[:, :2]) / 2 * factor
        return torch.cat([c - half, c + half], dim=1)

    def warp(self, images: Tensor, rois: list[Tensor]) -> Tensor:
        """``(R, 3, crop, crop)`` warped crops of all images' RoIs (context included)."""
        padded = [self.with_context(r) for r in rois]
        return roi_align(images, padded, (self.crop, self.crop), spatial_scale=1.0,
                         sampling_ratio=2, aligned=True)

    def score_rois(self, images: Tensor, rois: list[Tensor]) -> tuple[Tensor, Tensor]:
        crops = self.warp(images, rois)
        logits, regression = [], []
        chunk = len(crops) if self.training else RCNN_CHUNK
        for start in range(0, len(crops), max(1, chunk)):
            x = self.fc(self.backbone(crops[start:start + chunk]))
            logits.append(self.cls_score(x))
            regression.append(self.bbox_pred(x))
        if not logits:
            return (images.new_zeros((0, self.num_classes)),
                    images.new_zeros((0, 4 * self.num_classes)))
        return torch.cat(logits), torch.cat(regression)


class FastRCNN(ClassicDetector):
    """Fast R-CNN: one backbone pass per image, RoI pooling, two FC layers."""

    def __init__(self, num_classes: int, image_size: int, pool: str = "max",
                 hidden: int = 512) -> None:
        super().__init__(num_classes, image_size, train_proposals=FAST_PROPOSALS,
                         test_proposals=FAST_PROPOSALS)
        if pool not in ("max", "align"):
            raise ValueError(f"pool must be 'max' (roi_pool) or 'align' (roi_align), "
                             f"got {pool!r}")
        self.pool = pool
        self.backbone = small_backbone()
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(128 * FAST_POOL * FAST_POOL, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.cls_score = nn.Linear(hidden, num_classes)
        self.bbox_pred = nn.Linear(hidden, 4 * num_classes)
        init_heads(self.cls_score, self.bbox_pred)

    def pooled(self, features: Tensor, rois: list[Tensor]) -> Tensor:
        """``(R, C, 7, 7)`` RoI features from the stride-16 map."""
        if self.pool == "align":
            return roi_align(features, rois, FAST_POOL, spatial_scale=1.0 / FAST_STRIDE,
                             sampling_ratio=2, aligned=True)
        return roi_pool(features, rois, FAST_POOL, spatial_scale=1.0 / FAST_STRIDE)

    def score_rois(self, images: Tensor, rois: list[Tensor]) -> tuple[Tensor, Tensor]:
        features = self.backbone(images)
        x = self.fc(self.pooled(features, rois))
        return self.cls_score(x), self.bbox_pred(x)


def build_rcnn(num_classes: int, size: int, weights_backbone: Any = None) -> nn.Module:
    """``rcnn_ss`` for ``num_classes`` (background included), shorter side ``size``."""
    if weights_backbone is not None:
        raise ValueError(f"{RCNN_NAME} has no pretrained backbone weights; it trains from "
                         "scratch")
    return RCNN(num_classes, size)


def build_fast_rcnn(num_classes: int, size: int, weights_backbone: Any = None) -> nn.Module:
    """``fast_rcnn_ss`` for ``num_classes`` (background included), shorter side ``size``."""
    if weights_backbone is not None:
        raise ValueError(f"{FAST_RCNN_NAME} has no pretrained backbone weights; it trains from "
                         "scratch")
    return FastRCNN(num_classes, size)


def _spec(name: str, build: Any) -> DetectorSpec:
    entry = catalog.get_model(name)
    return DetectorSpec(
        name=name, family=entry.family, default_image_size=entry.default_image_size,
        min_image_size=entry.min_image_size, build=build, description=entry.description,
        cpu_step_s=entry.cpu_step_s, gpu_step_s=entry.gpu_step_s,
        coco_uses_pretrained_layout=False, recipe={"model": name, **entry.recipe})


register_detector(_spec(RCNN_NAME, build_rcnn))
register_detector(_spec(FAST_RCNN_NAME, build_fast_rcnn))
