"""The detectors Detection Workbench trains: torchvision's SSD and Faster R-CNN, sized to a project.

:func:`build_detector` makes a model for ``K`` classes + background (id 0) at a chosen input size,
optionally starting from pretrained weights (see :mod:`workbench.engine.weights`; building
never downloads — :mod:`workbench.engine.weights_download` fetches the COCO / ImageNet files
the ``DetectorSpec`` enums name, when the user asks). Every model follows torchvision's detection
API: in ``train()`` mode
``model(images, targets)`` returns a dict of loss tensors; in ``eval()`` mode ``model(images)``
returns one dict per image with ``boxes`` ``(N, 4)`` float pixel-edge ``xyxy`` in the input
image's pixels, ``scores`` ``(N,)`` and ``labels`` ``(N,)`` int64 ids 1..K. Images are float
``(3, H, W)`` tensors in [0, 1]; the model resizes and normalises them itself.

Other modules add models with :func:`register_detector` (e.g. a CPU demo model).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from workbench.core import models as catalog
from workbench.engine.events import ConfigError
from workbench.engine.weights import load_matching, resolve_weights, serve_backbone

log = logging.getLogger(__name__)

#: ``build(num_classes_incl_background, image_size, weights_backbone)`` → model.
Builder = Callable[[int, int, Any], nn.Module]


@dataclass(frozen=True)
class DetectorSpec:
    """One trainable detector recipe.

    ``family`` is "ssd" or "fasterrcnn" (it picks the augmentation and the post-processing
    knobs) or any other name for a custom model; ``cpu_step_s`` / ``gpu_step_s`` are measured
    seconds for one training step on 2 images at the default size (random weights), shown to
    the user as the expected speed.
    """

    name: str
    family: str
    default_image_size: int
    min_image_size: int
    build: Builder
    description: str
    cpu_step_s: float | None = None
    gpu_step_s: float | None = None
    #: torchvision WeightsEnum members, used only to find files in the torch hub cache.
    detector_weights: Any | None = None
    backbone_weights: Any | None = None
    #: Classifier whose state_dict the backbone weights are (builds the pretrained layout).
    classifier: Callable[[], nn.Module] | None = None
    #: Whether torchvision builds the model for its COCO weights with the pretrained-backbone
    #: layout (frozen batch norm...). True for Faster R-CNN and SSD300; SSDlite builds its COCO
    #: model with the scratch layout (reduced tail).
    coco_uses_pretrained_layout: bool = True
    #: Training settings recommended with this model (``TrainConfig`` field names, e.g. the CPU
    #: demo's optimizer, learning rate and epochs); the Train panel fills them in.
    recipe: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, DetectorSpec] = {}


def register_detector(spec: DetectorSpec) -> None:
    """Add (or replace) a detector recipe under ``spec.name``."""
    _REGISTRY[spec.name] = spec


def detector_names() -> list[str]:
    """Registered model names: the catalog's in its order, then any others as registered."""
    _ensure_builtin()
    order = {name: i for i, name in enumerate(catalog.trainable_names())}
    return sorted(_REGISTRY, key=lambda name: order.get(name, len(order)))


def get_spec(name: str) -> DetectorSpec:
    _ensure_builtin()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def expected_step_s(name: str, device_type: str) -> float | None:
    """Rough seconds per training step of 2 images on ``device_type`` ("cpu", "cuda", "mps")."""
    spec = get_spec(name)
    return spec.cpu_step_s if device_type == "cpu" else spec.gpu_step_s


# --------------------------------------------------------------------------------------------
# torchvision recipes
# --------------------------------------------------------------------------------------------
def _ssd300(num_classes: int, size: int, weights_backbone: Any) -> nn.Module:
    from torchvision.models.detection import ssd300_vgg16

    model = ssd300_vgg16(weights=None, weights_backbone=weights_backbone, num_classes=num_classes)
    _resize_ssd(model, size)
    # The SSD300 prior grid is laid out with pixel steps for a 300 px input (8, 16, 32, 64,
    # 100, 300); scale them so the priors stay centred on the cells at other sizes.
    gen = model.anchor_generator
    if gen.steps is not None:
        gen.steps = [s * size / 300.0 for s in gen.steps]
    return model


def _ssdlite(num_classes: int, size: int, weights_backbone: Any) -> nn.Module:
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    model = ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=weights_backbone, num_classes=num_classes
    )
    _resize_ssd(model, size)
    return model


def _resize_ssd(model: nn.Module, size: int) -> None:
    """SSD resizes every image to a fixed square; change that square to ``size``."""
    t: Any = model.transform
    t.min_size = (size,)
    t.max_size = size
    t.fixed_size = (size, size)


def _frcnn(builder_name: str, default_min: int, default_max: int) -> Builder:
    def build(num_classes: int, size: int, weights_backbone: Any) -> nn.Module:
        from torchvision.models import detection

        builder = getattr(detection, builder_name)
        max_size = max(size, round(size * default_max / default_min))
        return builder(
            weights=None, weights_backbone=weights_backbone, num_classes=num_classes,
            min_size=size, max_size=max_size,
        )

    build.__name__ = f"build_{builder_name}"
    return build


def _spec_from_catalog(entry: catalog.ModelEntry, build: Builder, detector_weights: Any,
                       backbone_weights: Any, classifier: Callable[[], nn.Module] | None,
                       coco_uses_pretrained_layout: bool = True) -> DetectorSpec:
    """A :class:`DetectorSpec` for catalog ``entry`` with its torch side (builder, weights)."""
    return DetectorSpec(
        entry.name, entry.family, entry.default_image_size, entry.min_image_size, build,
        entry.description, entry.cpu_step_s, entry.gpu_step_s, detector_weights,
        backbone_weights, classifier, coco_uses_pretrained_layout, dict(entry.recipe),
    )


_LOADED = False
#: Modules that register extra detectors when imported (kept optional: absent is fine).
PLUGIN_MODULES = ("workbench.engine.demo_model", "workbench.engine.classic_models")


_LOAD_LOCK = threading.RLock()
_LOADING = False


def _ensure_builtin() -> None:
    # Two threads (panels' workers, the GUI) may ask at once: the second waits until the
    # registry is full; a failed load (e.g. an import racing another thread's) is retried on
    # the next call, not left as an empty registry ("unknown model ...; choose one of: ").
    global _LOADED, _LOADING
    if _LOADED:
        return
    with _LOAD_LOCK:
        if _LOADED or _LOADING:  # _LOADING: a plugin module asking while it is imported
            return
        _LOADING = True
        try:
            _load_builtin()
            _LOADED = True
        finally:
            _LOADING = False


def _load_builtin() -> None:
    from torchvision.models import mobilenet_v3_large, resnet50, vgg16
    from torchvision.models import detection as d

    mnv3 = d.faster_rcnn.MobileNet_V3_Large_Weights.IMAGENET1K_V1
    r50 = d.faster_rcnn.ResNet50_Weights.IMAGENET1K_V1
    # The torch side of the catalog (workbench.core.models holds names, sizes, recipes):
    # name -> (builder, COCO detector weights, backbone weights, classifier[, coco layout]).
    torch_side: dict[str, tuple[Any, ...]] = {
        "ssd300_vgg16": (_ssd300, d.SSD300_VGG16_Weights.COCO_V1,
                         d.ssd.VGG16_Weights.IMAGENET1K_FEATURES, vgg16),
        "ssdlite320_mobilenet_v3_large": (
            _ssdlite, d.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1, mnv3,
            mobilenet_v3_large, False),
        "fasterrcnn_resnet50_fpn": (_frcnn("fasterrcnn_resnet50_fpn", 800, 1333),
                                    d.FasterRCNN_ResNet50_FPN_Weights.COCO_V1, r50, resnet50),
        "fasterrcnn_resnet50_fpn_v2": (_frcnn("fasterrcnn_resnet50_fpn_v2", 800, 1333),
                                       d.FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1, r50,
                                       resnet50),
        "fasterrcnn_mobilenet_v3_large_fpn": (
            _frcnn("fasterrcnn_mobilenet_v3_large_fpn", 800, 1333),
            d.FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1, mnv3, mobilenet_v3_large),
        "fasterrcnn_mobilenet_v3_large_320_fpn": (
            _frcnn("fasterrcnn_mobilenet_v3_large_320_fpn", 320, 640),
            d.FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1, mnv3,
            mobilenet_v3_large),
    }
    builtin = [
        _spec_from_catalog(catalog.get_model(name), *parts) for name, parts in torch_side.items()
    ]
    for spec in builtin:
        _REGISTRY.setdefault(spec.name, spec)
    for module in PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


# --------------------------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------------------------
def build_detector(
    name: str,
    num_classes_incl_background: int,
    *,
    image_size: int | None = None,
    weights: str | os.PathLike[str] | None = None,
    pretrained_layout: bool | None = None,
    priors: str | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Build detector ``name`` for ``num_classes_incl_background`` classes (background = 0).

    ``image_size``: SSD's square input side, or Faster R-CNN's ``min_size`` (its ``max_size``
    keeps torchvision's ratio); None → the model's default. ``weights``: None (random), "hub"
    (torch hub cache, else random with a message), "coco" / "imagenet" (that torchvision file,
    which must be in the torch hub cache already) or a local file path (see
    :func:`workbench.engine.weights.resolve_weights`). ``pretrained_layout``: build with the
    structure torchvision uses for pretrained backbones (frozen batch norm, some frozen layers)
    even without weights — used when re-building a model saved from such a run; None → follow
    ``weights``. ``priors``: ``None`` / ``"torchvision"`` keeps the model's own prior
    generator; ``"voc_paper"`` (``ssd300_vgg16`` only) gives it the SSD paper's VOC priors
    (:func:`use_voc_paper_priors`).

    Returns ``(model, info)`` where ``info`` is a plain dict (stored in checkpoints):
    ``model_name, family, num_classes, image_size, pretrained_layout, weights_kind,
    weights_source, weights_message, reinitialised, priors`` (keys left at fresh init when
    detector weights were loaded for a different class count).
    """
    spec = get_spec(name)
    priors = priors or PRIORS_TORCHVISION
    if priors not in PRIOR_CHOICES:
        raise ConfigError(f"priors must be one of {', '.join(PRIOR_CHOICES)} (got {priors!r})")
    if priors == PRIORS_VOC_PAPER and name != "ssd300_vgg16":
        raise ConfigError(f"the SSD paper's VOC priors are defined for ssd300_vgg16 only "
                          f"(got --model {name})")
    if num_classes_incl_background < 2:
        raise ConfigError(
            f"{name} needs at least one class besides background "
            f"(got num_classes_incl_background={num_classes_incl_background})"
        )
    size = int(image_size or spec.default_image_size)
    if size < spec.min_image_size:
        raise ConfigError(f"{name} needs an image size of at least {spec.min_image_size} px "
                          f"(got {size})")
    plan = resolve_weights(
        weights, detector_weights=spec.detector_weights, backbone_weights=spec.backbone_weights
    )
    if pretrained_layout is not None:
        layout = bool(pretrained_layout)
    elif plan.kind == "detector":
        layout = plan.layout_hint if plan.layout_hint is not None \
            else spec.coco_uses_pretrained_layout
    else:
        layout = plan.kind == "backbone"
    backbone_sd = plan.state_dict if plan.kind == "backbone" else None
    with serve_backbone(
        spec.backbone_weights if layout else None, spec.classifier, backbone_sd
    ) as weights_backbone:
        model = spec.build(num_classes_incl_background, size, weights_backbone)
    reinitialised: list[str] = []
    if priors == PRIORS_VOC_PAPER:
        use_voc_paper_priors(model, size)
    if plan.kind == "detector" and plan.state_dict is not None:
        _, reinitialised = load_matching(model, plan.state_dict, plan.source)
    message = plan.message
    if reinitialised:
        message += f" ({len(reinitialised)} class-dependent tensors re-initialised for " \
                   f"{num_classes_incl_background - 1} classes)"
    log.info("%s: %s", name, message)
    info = {
        "model_name": name,
        "family": spec.family,
        "num_classes": int(num_classes_incl_background),
        "image_size": size,
        "pretrained_layout": layout,
        "weights_kind": plan.kind,
        "weights_source": plan.source,
        "weights_message": message,
        "reinitialised": reinitialised,
        "priors": priors,
    }
    return model, info


#: ``build_detector(priors=...)``: the model's own generator, or the SSD paper's VOC priors.
PRIORS_TORCHVISION = "torchvision"
PRIORS_VOC_PAPER = "voc_paper"
PRIOR_CHOICES = (PRIORS_TORCHVISION, PRIORS_VOC_PAPER)


def use_voc_paper_priors(model: nn.Module, size: int) -> None:
    """Give an ``ssd300_vgg16`` the SSD paper's VOC priors instead of torchvision's COCO ones.

    torchvision's ``ssd300_vgg16`` tiles the COCO configuration (scales 0.07, 0.15 … 0.87,
    centres at pixel steps 8 … 300). The paper's VOC model (sec. 3, "PASCAL VOC2007") uses
    conv4_3 at scale 0.1 and 0.2 … 0.9 over the other five maps, centres ``(j + 0.5) / f_k``
    — :func:`workbench.core.priors.ssd300_paper_priors`, the set the Priors panel shows under
    "SSD300 (paper, VOC)". The boxes per cell (4, 6, 6, 6, 4, 4) are the same, so the heads
    are unchanged; only the matching targets and decoding change. The centres are relative
    to the map, so the priors stay on the cells at any input ``size``.
    """
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator

    from workbench.core.priors import SSD300_RATIOS, paper_scales

    del size  # relative centres: no per-size steps to scale
    old: Any = model.anchor_generator
    # clip=False: the paper's boxes keep their widths (s_k sqrt 2 > 1 on the last maps), as
    # its Caffe prior-box layer (clip: false) and core.priors.ssd300_paper_priors do.
    new = DefaultBoxGenerator([list(r) for r in SSD300_RATIOS], scales=paper_scales(),
                              steps=None, clip=False)
    if new.num_anchors_per_location() != old.num_anchors_per_location():
        raise ConfigError("the paper's VOC priors do not fit this SSD's heads "
                          f"({new.num_anchors_per_location()} vs "
                          f"{old.num_anchors_per_location()} boxes per cell)")
    model.anchor_generator = new


def set_postprocess(
    model: nn.Module, *, score_threshold: float, nms_iou: float, top_k: int
) -> None:
    """Set a torchvision SSD / Faster R-CNN's own score floor, NMS IoU and detections per image."""
    target: Any = model.roi_heads if hasattr(model, "roi_heads") else model
    if target is model and not hasattr(model, "score_thresh"):
        return
    target.score_thresh = score_threshold
    target.nms_thresh = nms_iou
    target.detections_per_img = top_k
