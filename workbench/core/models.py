"""The model catalog: every detector the workbench knows, in one torch-free table.

The CLI (``workbench train --model``, ``workbench priors --model``), the Train and Priors
panels, :mod:`workbench.engine.detectors` (which adds the torch builders) and
:mod:`workbench.engine.anchor_extract` all read their model lists from here, so a model added
once shows up everywhere. Importing this module costs nothing (no torch, no Qt): the CLI builds
its ``--help`` from it and the GUI its combo boxes before torch is loaded.

Fields of an entry (:class:`ModelEntry`):

* ``family`` picks the augmentation, learning rate and post-processing knobs in the engine:
  ``"ssd"`` (SSD300 and SSDlite: torchvision's SSD meta-architecture with a square input),
  ``"fasterrcnn"`` (two-stage, shorter side = ``default_image_size``) or ``"ssd-demo"`` (the
  CPU demo: an SSD that trains with flips only, see :mod:`workbench.engine.demo_model`), or
  ``"rcnn"`` / ``"fast_rcnn"`` (the classics on cached selective-search proposals, see
  :mod:`workbench.engine.classic_models`).
* ``default_image_size``: SSD's square input side, Faster R-CNN's ``min_size``, in pixels.
* ``recipe``: the model's own recommended training settings (``TrainConfig`` field names);
  :meth:`ModelEntry.full_recipe` adds :data:`DEFAULT_RECIPE` for the rest.
* ``has_priors``: it tiles SSD default boxes / RPN anchors the Priors panel can show;
  ``trainable``: :func:`workbench.engine.detectors.build_detector` builds it (the SSD paper's
  VOC prior layout, ``ssd300_voc_paper``, is priors only).
* ``cpu_step_s`` / ``gpu_step_s``: measured seconds for one training step on 2 images at the
  default size (random weights, 2 CPU cores / one GPU), shown as the expected speed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: The model a new run starts with (fast on a CPU, pretrained weights exist for it).
DEFAULT_MODEL = "ssdlite320_mobilenet_v3_large"
#: The SSD paper's VOC SSD300 prior layout (scales 0.1 … 0.9); shown, not trained.
SSD300_VOC_PAPER = "ssd300_voc_paper"

#: Training settings a model's ``recipe`` may override (``TrainConfig`` field names). ``lr``
#: None = the family's default scaled by the batch size (``TrainConfig.effective_lr``).
DEFAULT_RECIPE: Mapping[str, Any] = MappingProxyType({
    "epochs": 10, "batch_size": 4, "lr": None, "image_size": None, "schedule": "cosine",
    "warmup_steps": 100, "optimizer": "sgd", "grad_clip": 10.0,
})


#: The classics' training settings (see docs/classic-detectors.md): AdamW from scratch, flips
#: only (so selective search runs on at most two versions of an image: it and its mirror), and
#: the chapter's RoI sampling in ``extra`` (read by the model, engine.classic_base):
#: IoU >= 0.5 foreground, [0.1, 0.5) background, 64 RoIs per image, 25 % foreground.
CLASSIC_RECIPE: Mapping[str, Any] = MappingProxyType({
    "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "batch_size": 4, "epochs": 30,
    "schedule": "cosine", "warmup_steps": 50, "image_size": 320, "augmentation": "flip",
    "extra": {"fg_iou": 0.5, "bg_iou_lo": 0.1, "rois_per_image": 64, "fg_fraction": 0.25},
})
#: Seconds per training step of 2 images: CPU seconds of one thread, two raccoon photos at
#: 320 px, proposals cached (measured 0.23 / 0.16 s; SSDlite 0.36 s the same way, which the
#: catalog lists as 0.2 s on 2 cores). A photo whose proposals are not cached yet adds its
#: selective search, about a second.
CLASSIC_STEP_S: Mapping[str, float] = MappingProxyType({"rcnn_ss": 0.2, "fast_rcnn_ss": 0.15})


@dataclass(frozen=True)
class ModelEntry:
    """One detector of the catalog (see the module docstring for the fields)."""

    name: str
    family: str
    default_image_size: int
    min_image_size: int
    label: str
    description: str
    has_priors: bool = True
    trainable: bool = True
    cpu_step_s: float | None = None
    gpu_step_s: float | None = None
    recipe: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def full_recipe(self) -> dict[str, Any]:
        """:data:`DEFAULT_RECIPE` with this model's own settings on top."""
        return {**DEFAULT_RECIPE, **self.recipe}


#: Every model, in the order the user sees them (trainable ones in the Train panel and
#: ``workbench train``; those with priors in the Priors panel and ``workbench priors``).
CATALOG: tuple[ModelEntry, ...] = (
    ModelEntry(
        SSD300_VOC_PAPER, "ssd", 300, 300, "SSD300 VGG16 — paper / VOC (0.1 … 0.9)",
        "the SSD paper's VOC prior boxes (Liu et al. 2016, §2.2); ssd300_vgg16 trains with "
        "them when asked (train --priors voc_paper), otherwise with torchvision's COCO scales",
        trainable=False,
    ),
    ModelEntry(
        "ssd300_vgg16", "ssd", 300, 268, "SSD300 VGG16 — torchvision (COCO scales)",
        "SSD300, VGG16 backbone (Liu et al. 2016); for the GPU", cpu_step_s=2.1,
        gpu_step_s=0.05,
    ),
    ModelEntry(
        "ssdlite320_mobilenet_v3_large", "ssd", 320, 64, "SSDlite320 MobileNetV3 — torchvision",
        "SSDlite 320, MobileNetV3-Large; fast on CPU", cpu_step_s=0.2, gpu_step_s=0.03,
    ),
    ModelEntry(
        "fasterrcnn_resnet50_fpn", "fasterrcnn", 800, 128,
        "Faster R-CNN R50-FPN — RPN anchors",
        "Faster R-CNN, ResNet-50 FPN (Ren et al. 2015); for the GPU", cpu_step_s=21.0,
        gpu_step_s=0.15,
    ),
    ModelEntry(
        "fasterrcnn_resnet50_fpn_v2", "fasterrcnn", 800, 128,
        "Faster R-CNN v2 R50-FPN — RPN anchors",
        "Faster R-CNN v2, ResNet-50 FPN (Li et al. 2021); for the GPU", cpu_step_s=26.0,
        gpu_step_s=0.2,
    ),
    ModelEntry(
        "fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn", 800, 128,
        "Faster R-CNN MobileNetV3-FPN — RPN anchors",
        "Faster R-CNN, MobileNetV3-Large FPN, high resolution", cpu_step_s=2.5,
        gpu_step_s=0.06,
    ),
    ModelEntry(
        "fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn", 320, 128,
        "Faster R-CNN MobileNetV3-FPN 320 — RPN anchors",
        "Faster R-CNN, MobileNetV3-Large FPN at 320 px; usable on CPU", cpu_step_s=0.5,
        gpu_step_s=0.04,
    ),
    ModelEntry(
        "demo_ssdlite_cpu", "ssd-demo", 320, 128, "CPU demo SSDlite — small conv backbone",
        "CPU demo: SSDlite head on a small conv backbone, from scratch "
        "(~10 min on 2 cores for the sample project)", cpu_step_s=0.05, gpu_step_s=0.02,
        # Chosen with bench/bench_demo.py on the sample project, 2 CPU cores.
        recipe=MappingProxyType({
            "optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4, "batch_size": 8,
            "epochs": 60, "schedule": "cosine", "warmup_steps": 50, "image_size": 320,
            "augment": True,
        }),
    ),
    ModelEntry(
        "rcnn_ss", "rcnn", 320, 128, "R-CNN — selective search, warped crops",
        "R-CNN (Girshick et al. 2014): selective-search proposals (cached on disk), each warped "
        "to 64 px through a small CNN, from scratch; 300 proposals per image at inference",
        has_priors=False, cpu_step_s=CLASSIC_STEP_S["rcnn_ss"],
        recipe=CLASSIC_RECIPE,
    ),
    ModelEntry(
        "fast_rcnn_ss", "fast_rcnn", 320, 128, "Fast R-CNN — selective search, RoI pooling",
        "Fast R-CNN (Girshick 2015): selective-search proposals (cached on disk), one backbone "
        "pass per image, 7x7 RoI pooling, from scratch; up to 2000 proposals per image",
        has_priors=False, cpu_step_s=CLASSIC_STEP_S["fast_rcnn_ss"],
        recipe=CLASSIC_RECIPE,
    ),
)

_BY_NAME: dict[str, ModelEntry] = {m.name: m for m in CATALOG}


def get_model(name: str) -> ModelEntry:
    """The entry named ``name``; ``KeyError`` naming the choices when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; choose one of: {', '.join(_BY_NAME)}") from None


def trainable_models() -> tuple[ModelEntry, ...]:
    """Models ``workbench train`` and the Train panel offer, in catalog order."""
    return tuple(m for m in CATALOG if m.trainable)


def prior_models() -> tuple[ModelEntry, ...]:
    """Models whose priors / anchors ``workbench priors`` and the Priors panel show."""
    return tuple(m for m in CATALOG if m.has_priors)


def trainable_names() -> tuple[str, ...]:
    return tuple(m.name for m in trainable_models())


def prior_names() -> tuple[str, ...]:
    return tuple(m.name for m in prior_models())
