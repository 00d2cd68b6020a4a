"""What R-CNN and Fast R-CNN share: cached selective-search proposals, the chapter's RoI
labelling and sampling, the classification + box-regression losses, and the post-processing.

:class:`ClassicDetector` follows torchvision's detection API like every other model of
:mod:`workbench.engine.detectors`: in ``train()`` mode ``model(images, targets)`` returns
``{"loss_classifier", "loss_box_reg"}``; in ``eval()`` mode ``model(images)`` returns one
``{"boxes", "scores", "labels"}`` per image (float pixel-edge ``xyxy`` in the input image's
pixels). Images are float ``(3, H, W)`` RGB tensors in [0, 1].

The pipeline of one forward pass:

1. **Proposals** for each input image from :class:`ProposalSource`: selective search
   (:func:`workbench.core.proposals.selective_search`, default :class:`ProposalParams`)
   through the on-disk :class:`~workbench.core.proposal_cache.ProposalCache`, keyed by the
   pixels the model is given — so an image is searched once, a flipped copy (the "flip"
   augmentation) once more, and every later epoch, evaluation and the Proposals panel read the
   cache. Boxes thinner than :data:`MIN_PROPOSAL_SIDE` px are dropped and the first
   ``train_proposals`` / ``test_proposals`` (selective search's rank order) are kept.
2. **Resize and normalise** with torchvision's ``GeneralizedRCNNTransform`` (shorter side =
   the model's image size, ImageNet mean/std), proposals and ground truth scaled alike.
3. **Training**: ground-truth boxes join the proposals, each proposal is labelled and the
   mini-batch sampled by :func:`workbench.core.proposal_labels.training_rois` (IoU >= 0.5
   foreground, [0.1, 0.5) background, the rest ignored; 64 RoIs an image, 25 % foreground —
   :class:`~workbench.core.proposal_labels.SamplingParams`, set from the run's recipe via
   :meth:`ClassicDetector.configure_training`); the subclass scores the RoIs
   (:meth:`ClassicDetector.score_rois`); cross-entropy over K + 1 classes and smooth-L1 on the
   class-specific offsets of the foreground RoIs (torchvision's ``fastrcnn_loss``).
4. **Inference**: every kept proposal is scored; each class's offsets are decoded
   (``BoxCoder`` weights (10, 10, 5, 5)) and clipped, background dropped, then score floor
   (``score_thresh``), boxes under 0.01 px dropped, per-class NMS (``nms_thresh``) and the best
   ``detections_per_img`` — the knobs :func:`workbench.engine.detectors.set_postprocess` sets.
   After :meth:`ClassicDetector.configure_raw` (what
   :func:`workbench.engine.inference.configure_raw` calls) the same candidates come out above a
   low floor without NMS or top-k, for the Detections sliders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.roi_heads import fastrcnn_loss
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import boxes as box_ops

from workbench.core.proposal_cache import ProposalCache
from workbench.core.proposal_labels import BBOX_WEIGHTS, SamplingParams, training_rois
from workbench.core.proposals import ProposalParams

#: Proposals thinner or shorter than this (input image pixels) are dropped.
MIN_PROPOSAL_SIDE = 4.0
#: ImageNet statistics (as torchvision's detectors normalise).
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)
#: Recipe / ``TrainConfig.extra`` keys :meth:`ClassicDetector.configure_training` reads.
TRAINING_KEYS = ("fg_iou", "bg_iou_lo", "rois_per_image", "fg_fraction", "train_proposals")


def to_bgr_uint8(image: Tensor) -> np.ndarray:
    """A ``(3, H, W)`` float RGB tensor in [0, 1] as the ``(H, W, 3)`` uint8 BGR array
    selective search runs on (exactly the decoded pixels: they were ``uint8 / 255``)."""
    rgb = image.detach().mul(255.0).round_().clamp_(0, 255).to(torch.uint8).cpu()
    return np.ascontiguousarray(rgb.permute(1, 2, 0).numpy()[:, :, ::-1])


class ProposalSource:
    """Selective-search proposals per image tensor, through the on-disk cache.

    ``cache_dir`` None → :func:`workbench.core.proposal_cache.default_cache_dir`.
    ``cache.hits`` / ``cache.misses`` count the look-ups (a miss ran selective search).
    """

    def __init__(self, params: ProposalParams = ProposalParams(),
                 cache_dir: str | None = None) -> None:
        self.params = params
        self.cache = ProposalCache(cache_dir)

    def boxes(self, image: Tensor, limit: int) -> np.ndarray:
        """``(N, 4)`` float64 proposals in ``image``'s pixels, rank order, at most ``limit``."""
        result, _ = self.cache.proposals(to_bgr_uint8(image), self.params)
        b = np.asarray(result.boxes, dtype=np.float64).reshape(-1, 4)
        ok = ((b[:, 2] - b[:, 0]) >= MIN_PROPOSAL_SIDE) & \
            ((b[:, 3] - b[:, 1]) >= MIN_PROPOSAL_SIDE)
        return b[ok][:limit]


class ClassicDetector(nn.Module):
    """Base of the proposal-based classics (see the module docstring); subclasses implement
    :meth:`score_rois`."""

    def __init__(self, num_classes: int, image_size: int, *, train_proposals: int,
                 test_proposals: int, sampling: SamplingParams = SamplingParams(),
                 proposal_params: ProposalParams = ProposalParams()) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.transform = GeneralizedRCNNTransform(image_size, 2 * image_size,
                                                  list(IMAGE_MEAN), list(IMAGE_STD))
        self.box_coder = BoxCoder(BBOX_WEIGHTS)
        self.proposals = ProposalSource(proposal_params)
        self.sampling = sampling
        self.train_proposals = int(train_proposals)
        self.test_proposals = int(test_proposals)
        # post-processing knobs (engine.detectors.set_postprocess sets them)
        self.score_thresh = 0.05
        self.nms_thresh = 0.5
        self.detections_per_img = 100
        self.raw_floor: float | None = None

    # -- hooks for the engine ---------------------------------------------------------------
    def configure_training(self, settings: Mapping[str, Any]) -> None:
        """Take the sampling settings of :data:`TRAINING_KEYS` present in ``settings`` (a
        run's ``TrainConfig.extra``, filled from the model's recipe)."""
        changes = {k: settings[k] for k in ("fg_iou", "bg_iou_lo", "rois_per_image",
                                            "fg_fraction") if k in settings}
        if changes:
            self.sampling = dataclasses.replace(self.sampling, **changes)
        if "train_proposals" in settings:
            self.train_proposals = int(settings["train_proposals"])

    def configure_raw(self, score_floor: float) -> None:
        """Output every candidate above ``score_floor``, no NMS, no top-k (raw mode for the
        sliders); returns None: no per-class pre-NMS cap to re-apply."""
        self.raw_floor = float(score_floor)

    def score_rois(self, images: Tensor, rois: list[Tensor]) -> tuple[Tensor, Tensor]:
        """``(class_logits (R, K+1), box_regression (R, 4 (K+1)))`` for the RoIs of each
        image (``rois[i]`` ``(R_i, 4)`` in the normalised batch's pixels), concatenated."""
        raise NotImplementedError

    # -- forward ----------------------------------------------------------------------------
    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
                ) -> Any:
        if self.training and targets is None:
            raise ValueError("in training mode the model needs targets")
        if torch.jit.is_tracing() or torch.jit.is_scripting():
            # a trace would freeze the example image's proposals into the graph
            raise RuntimeError("selective search (OpenCV, on the CPU) is not part of the "
                               "network, so R-CNN / Fast R-CNN cannot be exported; use "
                               "workbench detect")
        limit = self.train_proposals if self.training else self.test_proposals
        proposals = [self.proposals.boxes(img, limit) for img in images]
        original_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        image_list, targets = self.transform(images, targets)
        device = image_list.tensors.device
        rois = []
        for boxes, (oh, ow), (nh, nw) in zip(proposals, original_sizes, image_list.image_sizes):
            scale = np.array([nw / ow, nh / oh, nw / ow, nh / oh])
            rois.append(boxes * scale)
        if self.training:
            assert targets is not None
            return self._losses(image_list.tensors, rois, targets)
        roi_tensors = [torch.as_tensor(r, dtype=torch.float32, device=device) for r in rois]
        logits, regression = self.score_rois(image_list.tensors, roi_tensors)
        detections = self._detections(logits, regression, roi_tensors, image_list.image_sizes)
        return self.transform.postprocess(detections, image_list.image_sizes, original_sizes)

    def _losses(self, batch: Tensor, proposals: list[np.ndarray],
                targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
        rois, labels, offsets = [], [], []
        for boxes, target in zip(proposals, targets):
            sample = training_rois(boxes, target["boxes"].detach().cpu().double().numpy(),
                                   target["labels"].detach().cpu().numpy(), rng, self.sampling)
            rois.append(torch.as_tensor(sample.boxes, dtype=torch.float32, device=batch.device))
            labels.append(torch.as_tensor(sample.labels, dtype=torch.int64, device=batch.device))
            offsets.append(torch.as_tensor(sample.targets, dtype=torch.float32,
                                           device=batch.device))
        logits, regression = self.score_rois(batch, rois)
        if logits.shape[0] == 0:  # no RoI at all in this batch: zero losses, gradients kept
            zero = logits.sum() * 0.0 + regression.sum() * 0.0
            return {"loss_classifier": zero, "loss_box_reg": zero}
        loss_cls, loss_box = fastrcnn_loss(logits, regression, labels, offsets)
        return {"loss_classifier": loss_cls, "loss_box_reg": loss_box}

    def _detections(self, logits: Tensor, regression: Tensor, rois: list[Tensor],
                    image_sizes: list[tuple[int, int]]) -> list[dict[str, Tensor]]:
        counts = [len(r) for r in rois]
        if sum(counts):
            pred_boxes = self.box_coder.decode(regression, rois)  # (R, K+1, 4)
        else:
            pred_boxes = regression.new_zeros((0, self.num_classes, 4))
        pred_scores = F.softmax(logits, -1)
        raw = self.raw_floor is not None
        floor = self.raw_floor if raw else self.score_thresh
        out = []
        for boxes, scores, shape in zip(pred_boxes.split(counts, 0),
                                        pred_scores.split(counts, 0), image_sizes):
            boxes = box_ops.clip_boxes_to_image(boxes, shape)
            labels = torch.arange(self.num_classes, device=boxes.device).view(1, -1)
            labels = labels.expand_as(scores)
            boxes, scores, labels = (boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1),
                                     labels[:, 1:].reshape(-1))
            inds = torch.where(scores > floor)[0]
            boxes, scores, labels = boxes[inds], scores[inds], labels[inds]
            keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            if not raw:
                keep = box_ops.batched_nms(boxes, scores, labels, self.nms_thresh)
                keep = keep[: self.detections_per_img]
                boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            out.append({"boxes": boxes, "scores": scores, "labels": labels})
        return out


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3×3 convolution, batch norm, ReLU (the demo model's block)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def small_backbone(channels: tuple[int, ...] = (16, 32, 64, 128)) -> nn.Sequential:
    """Plain conv backbone of stride 16 (random init, He normal): a stride-2 block per entry
    of ``channels``, each after the first followed by a stride-1 block."""
    layers: list[nn.Module] = []
    prev = 3
    for i, c in enumerate(channels):
        layers.append(conv_bn(prev, c, 2))
        if i:
            layers.append(conv_bn(c, c))
        prev = c
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def init_heads(cls_score: nn.Linear, bbox_pred: nn.Linear) -> None:
    """Fast R-CNN's initialisation of the two output layers (std 0.01 and 0.001, zero bias)."""
    nn.init.normal_(cls_score.weight, std=0.01)
    nn.init.normal_(bbox_pred.weight, std=0.001)
    nn.init.zeros_(cls_score.bias)
    nn.init.zeros_(bbox_pred.bias)
