"""Priors and anchors read from torchvision detectors' own anchor generators.

We do not re-derive torchvision's boxes from its formulas: we build the detector (random
weights, nothing downloaded), let its own ``transform`` resize an image the way it would at
inference, learn the feature-map shapes by running its backbone on the ``meta`` device (shapes
only, no arithmetic, so Faster R-CNN R50-FPN at 800 px costs milliseconds), and call its own
``anchor_generator`` (SSD's ``DefaultBoxGenerator``, the RPN's ``AnchorGenerator``) on those
shapes. The result is a :class:`workbench.core.priors.PriorSet` in the model-input pixel
coordinates, mapped onto the photo with :meth:`PriorSet.for_image` when a photo size is given.

The paper's VOC SSD300 (``ssd300_voc_paper``) is not a torchvision model; its priors come from
:func:`workbench.core.priors.ssd300_paper_priors`.
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

import torch
from torch import nn

from workbench.core import models as catalog
from workbench.core.priors import (
    SSD300_VOC_PAPER,
    FeatureMapPriors,
    PriorSet,
    feature_map_from_boxes,
    ssd300_paper_priors,
)

log = logging.getLogger(__name__)

#: Trainable detectors whose anchors can be extracted (built by ``workbench.engine.detectors``),
#: from the model catalog.
TORCHVISION_MODELS: tuple[str, ...] = tuple(
    m.name for m in catalog.prior_models() if m.trainable)
#: Every name :func:`extract_priors` accepts, in catalog order (the paper model first).
PRIOR_MODELS: tuple[str, ...] = catalog.prior_names()


class UnknownModelError(ValueError):
    """A model name that has no priors/anchors to show."""


def build_for_anchors(model_name: str, image_size: int | None = None) -> nn.Module:
    """Build ``model_name`` the way training would (random weights, 1 class + background)."""
    if model_name not in TORCHVISION_MODELS:
        raise UnknownModelError(
            f"unknown model {model_name!r}; choose one of: {', '.join(PRIOR_MODELS)}")
    from workbench.engine.detectors import build_detector

    # build_detector logs "no pretrained weights: training from scratch", which means nothing
    # here (anchors do not depend on weights): keep it out of the priors output.
    detectors_log = logging.getLogger("workbench.engine.detectors")
    level = detectors_log.level
    detectors_log.setLevel(logging.WARNING)
    try:
        model, _info = build_detector(model_name, 2, image_size=image_size, weights=None)
    finally:
        detectors_log.setLevel(level)
    return model.eval()


def _anchor_generator(model: nn.Module) -> tuple[Any, str]:  # torchvision duck types
    if hasattr(model, "anchor_generator"):  # torchvision SSD / SSDlite
        return model.anchor_generator, "ssd"
    rpn = getattr(model, "rpn", None)
    if rpn is not None and hasattr(rpn, "anchor_generator"):  # Faster R-CNN
        return rpn.anchor_generator, "rpn"
    raise UnknownModelError(f"{type(model).__name__} has no SSD or RPN anchor generator")


def _feature_shapes(model: nn.Module, tensors: torch.Tensor) -> list[tuple[str, torch.Size]]:
    """Names and shapes of the backbone's feature maps, computed on the meta device."""
    backbone: Any = copy.deepcopy(model.backbone).to("meta")
    with torch.no_grad():
        features = backbone(tensors.to("meta"))
    if isinstance(features, torch.Tensor):
        features = {"0": features}
    return [(str(k), v.shape) for k, v in features.items()]


def _describe(generator: Any, kind: str, k: int) -> tuple[tuple[float, ...],
                                                                 tuple[float, ...]]:
    """Scales and aspect ratios of map ``k`` as the generator stores them."""
    if kind == "ssd":
        s = generator.scales
        ratios = [1.0, 1.0]
        for a in generator.aspect_ratios[k]:
            ratios += [float(a), 1.0 / float(a)]
        return (float(s[k]), math.sqrt(float(s[k]) * float(s[k + 1]))), tuple(ratios)
    return (tuple(float(v) for v in generator.sizes[k]),
            tuple(float(v) for v in generator.aspect_ratios[k]))


def priors_from_model(model: nn.Module, model_name: str,
                      photo_size: tuple[int, int] | None = None) -> PriorSet:
    """The priors/anchors ``model`` uses on a photo of ``photo_size = (height, width)``.

    ``photo_size`` None → a square photo at the model's own input size (SSD: its fixed square;
    Faster R-CNN: ``min_size``). Boxes come back in photo pixels (pixel-edge ``xyxy``), mapped
    the way the model maps detections back (per-axis ratio input → photo).
    """
    generator, kind = _anchor_generator(model)
    transform: Any = model.transform
    if photo_size is None:
        side = int(transform.min_size[-1])
        photo_size = (side, side)
    h, w = int(photo_size[0]), int(photo_size[1])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            image_list, _ = transform([torch.zeros(3, h, w)])
        shapes = _feature_shapes(model, image_list.tensors)
        # Only each map's shape, dtype and device reach the generator; expand() costs no memory.
        features = [torch.zeros(1).expand(*shape) for _, shape in shapes]
        with torch.no_grad():
            anchors = generator(image_list, features)[0].detach().cpu().double().numpy()
    finally:
        model.train(was_training)
    counts = [int(s[-2] * s[-1] * n) for (_, s), n
              in zip(shapes, generator.num_anchors_per_location())]
    if sum(counts) != len(anchors):
        raise RuntimeError(f"{model_name}: generator returned {len(anchors)} boxes, "
                           f"feature maps imply {sum(counts)}")
    in_h, in_w = (int(v) for v in image_list.image_sizes[0])
    pad_h, pad_w = (int(v) for v in image_list.tensors.shape[-2:])
    maps: list[FeatureMapPriors] = []
    start = 0
    for k, ((name, shape), count) in enumerate(zip(shapes, counts)):
        scales, ratios = _describe(generator, kind, k)
        rows, cols = int(shape[-2]), int(shape[-1])
        if kind == "ssd" and getattr(generator, "steps", None) is not None:
            stride = (float(generator.steps[k]), float(generator.steps[k]))
        elif kind == "ssd":  # centres at (j + 0.5) / f_k of the input
            stride = (pad_h / rows, pad_w / cols)
        else:  # the RPN's integer strides: tensor size // grid (AnchorGenerator.forward)
            stride = (float(pad_h // rows), float(pad_w // cols))
        maps.append(feature_map_from_boxes(name, (rows, cols), anchors[start:start + count],
                                           stride, scales, ratios))
        start += count
    source = f"torchvision {type(generator).__name__} of {model_name}"
    priors = PriorSet(model=model_name, kind=kind, input_size=(in_h, in_w),  # type: ignore
                      image_size=(in_h, in_w), feature_maps=tuple(maps), source=source)
    log.debug("%s: %d priors on a %dx%d input", model_name, priors.total, in_w, in_h)
    return priors.for_image(w, h)


def extract_priors(model_name: str, *, image_size: int | None = None,
                   photo_size: tuple[int, int] | None = None,
                   model: nn.Module | None = None) -> PriorSet:
    """Priors of ``model_name`` (any of :data:`PRIOR_MODELS`).

    Args:
        model_name: detector name; ``ssd300_voc_paper`` gives the paper's priors.
        image_size: the detector's input size as :func:`workbench.engine.detectors.
            build_detector` takes it (SSD square side, Faster R-CNN ``min_size``).
        photo_size: ``(height, width)`` of the photo to express the boxes on; None → the
            model-input square.
        model: an already built/loaded detector (e.g. from a checkpoint) to ask instead.
    """
    if model_name == SSD300_VOC_PAPER and model is None:
        priors = ssd300_paper_priors()
        if image_size not in (None, 300):
            raise UnknownModelError(f"{SSD300_VOC_PAPER} is defined for a 300x300 input only "
                                    f"(got --image-size {image_size})")
        if photo_size is not None:
            priors = priors.for_image(int(photo_size[1]), int(photo_size[0]))
        return priors
    if model is None:
        model = build_for_anchors(model_name, image_size)
    return priors_from_model(model, model_name, photo_size)
