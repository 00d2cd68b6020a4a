"""Each prior's confidence loss on one image, through a trained SSD's own head (issue 16).

SSD's hard-negative mining (:mod:`workbench.core.hard_negatives`) ranks the negative priors by
their confidence loss. This module computes that loss the way torchvision's
``SSD.compute_loss`` does, for one image and without training: the model's ``transform``
resizes the photo (and the ground truth), its backbone and head give each prior's class logits,
its ``anchor_generator`` the priors, and ``SSDMatcher(iou_threshold)`` (torchvision's; by
default the threshold of the model's own ``proposal_matcher``: 0.5 for torchvision's SSDs, 0.4
for ``demo_ssdlite_cpu``) labels them. A prior's loss is the cross entropy
of its logits against its target class: background (0) for a negative, the matched object's
class for a positive. The mining itself stays in core (numpy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (torch convention)
from torch import nn


@dataclass(frozen=True)
class PriorLosses:
    """One image's priors (photo pixels, pixel-edge ``xyxy``) with their confidence losses.

    ``matched`` ``(P,)``: the ground-truth index each prior is matched to, ``-1`` for a
    negative (SSD ignores no prior); ``conf_loss`` ``(P,)``: cross entropy against the target
    class (background for negatives; NaN for a positive whose object's class the checkpoint
    does not know); ``background_loss`` ``(P,)``: every prior's loss against background.
    """

    priors: np.ndarray
    matched: np.ndarray
    conf_loss: np.ndarray
    background_loss: np.ndarray
    iou_threshold: float
    input_size: tuple[int, int]       # (height, width) of the detector input
    model_threshold: float            # the IoU threshold the model trains with

    @property
    def positive(self) -> np.ndarray:
        return self.matched >= 0

    @property
    def num_positive(self) -> int:
        return int(self.positive.sum())


def is_ssd(model: nn.Module) -> bool:
    """Whether ``model`` is a torchvision SSD / SSDlite (head, anchor generator, matcher)."""
    return all(hasattr(model, a) for a in ("head", "anchor_generator", "proposal_matcher",
                                           "transform", "backbone"))


def prior_confidence_losses(model: nn.Module, image_rgb: np.ndarray, gt_boxes: np.ndarray,
                            gt_labels: Sequence[int],
                            iou_threshold: float | None = None) -> PriorLosses:
    """Confidence loss of every prior of ``model`` on one photo.

    Args:
        model: a torchvision SSD / SSDlite (e.g. from ``load_checkpoint``); left in eval mode.
        image_rgb: ``(H, W, 3)`` uint8 photo.
        gt_boxes: ``(G, 4)`` ground truth in photo pixels (``xyxy``).
        gt_labels: ``(G,)`` class indices of the model (1-based; 0 = unknown class: the
            positive's loss is NaN, its label still counts for matching).
        iou_threshold: SSD's matching threshold; None: the model's own (the paper's and
            torchvision's 0.5).
    """
    from torchvision.models.detection._utils import SSDMatcher
    from torchvision.ops import box_iou

    if not is_ssd(model):
        raise ValueError(f"{type(model).__name__} is not an SSD-family detector: hard-negative "
                         "mining needs an SSD's class head and priors")
    model_threshold = float(getattr(model.proposal_matcher, "high_threshold", 0.5))
    if iou_threshold is None:
        iou_threshold = model_threshold
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"IoU threshold must be in [0, 1], got {iou_threshold:g}")
    rgb = np.asarray(image_rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    h, w = int(rgb.shape[0]), int(rgb.shape[1])
    boxes = np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 4)
    labels = np.asarray(list(gt_labels), dtype=np.int64).reshape(-1)
    if len(labels) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(labels)} labels")
    m: Any = model
    was_training = m.training
    m.eval()
    try:
        with torch.no_grad():
            image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
            target = {"boxes": torch.from_numpy(boxes), "labels": torch.from_numpy(labels)}
            image_list, targets = m.transform([image], [target])
            features = m.backbone(image_list.tensors)
            if isinstance(features, torch.Tensor):
                features = {"0": features}
            feature_list = list(features.values())
            head = m.head(feature_list)
            anchors = m.anchor_generator(image_list, feature_list)[0]
            logits = head["cls_logits"][0]                                    # (P, C)
            gt_in = targets[0]["boxes"]
            if len(gt_in):
                matched = SSDMatcher(iou_threshold)(box_iou(gt_in, anchors))
            else:
                matched = torch.full((len(anchors),), -1, dtype=torch.int64)
            cls_target = torch.zeros(len(anchors), dtype=torch.int64)
            fg = matched >= 0
            cls_target[fg] = targets[0]["labels"][matched[fg]]
            conf = F.cross_entropy(logits, cls_target, reduction="none")
            background = F.cross_entropy(logits, torch.zeros_like(cls_target), reduction="none")
            conf[fg & (cls_target == 0)] = float("nan")   # a class the checkpoint lacks
    finally:
        m.train(was_training)
    in_h, in_w = (int(v) for v in image_list.image_sizes[0])
    scale = np.array([w / in_w, h / in_h, w / in_w, h / in_h])
    return PriorLosses(
        priors=anchors.detach().cpu().double().numpy() * scale,
        matched=matched.cpu().numpy().astype(np.int64),
        conf_loss=conf.cpu().double().numpy(),
        background_loss=background.cpu().double().numpy(),
        iou_threshold=float(iou_threshold), input_size=(in_h, in_w),
        model_threshold=model_threshold)
