"""Every setting of a training run, in one frozen record (stored in each checkpoint)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.core.models import DEFAULT_MODEL
from workbench.engine.events import ConfigError

#: ``TrainConfig.augmentation`` values: the family's own chain, SSD's chain, flips, nothing
#: (the chains are in :data:`workbench.engine.transforms.AUGMENTATIONS`).
AUGMENTATION_CHOICES: tuple[str, ...] = ("auto", "ssd", "flip", "none")

Schedule = Literal["cosine", "step", "constant"]
Optimizer = Literal["sgd", "adamw"]


def finetune_lr_scale(family: str, weights_kind: str) -> float:
    """Factor on the family's default learning rate for a model starting from pretrained weights.

    * "detector" (COCO weights, every layer trained already): 1/10 — for Faster R-CNN that is
      0.00025 for 2 images, the rate of Detectron2's and torchvision's fine-tuning tutorials.
    * "backbone" (ImageNet weights, fresh heads): Faster R-CNN keeps 0.02 for 16 images, the
      torchvision reference recipe, which itself starts from ImageNet backbones; SSD takes
      1/10 of its from-scratch rate (the SSD300 reference, 0.002 for 32 images, is 1/20).
    * "none": 1.

    The kind is recorded in the checkpoint's detector info, so a resumed run keeps the recipe.
    Frozen batch norm and torchvision's trainable-layer defaults come with the pretrained
    layout the detector is built with (see ``engine.detectors.build_detector``); the linear
    warm-up (``warmup_steps``) applies to every run.
    """
    if weights_kind == "detector":
        return 0.1
    if weights_kind == "backbone":
        return 1.0 if family == "fasterrcnn" else 0.1
    return 1.0


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one run. Paths are folders/files on disk; sizes are pixels.

    ``lr=None`` picks the model family's default for the batch size (SGD, linear scaling as in
    torchvision's reference recipes). ``image_size``: SSD's square input side, Faster R-CNN's
    shorter side. ``epochs`` is the total epoch count: a resumed run trains until it is reached.
    """

    images_dir: Path
    annotations_dir: Path | None = None
    model: str = DEFAULT_MODEL
    epochs: int = 10
    batch_size: int = 4
    lr: float | None = None
    optimizer: Optimizer = "sgd"
    momentum: float = 0.9
    weight_decay: float = 4e-5
    image_size: int | None = None
    device: str = "auto"
    #: None, "hub", "coco" / "imagenet" (the hub cache file, downloaded on request) or a file
    #: (see engine.weights)
    weights: str | None = None
    #: SSD prior boxes: "torchvision" (the model's own) or "voc_paper" (ssd300_vgg16 with the
    #: SSD paper's VOC priors; see engine.detectors.use_voc_paper_priors)
    priors: str = "torchvision"
    resume: Path | None = None
    out_dir: Path | None = None
    val_fraction: float = 0.2
    seed: int = 0
    schedule: Schedule = "cosine"
    warmup_steps: int = 100  # linear warm-up (capped at one epoch's steps)
    step_milestones: tuple[float, ...] = (2 / 3, 8 / 9)  # fractions of the run, for "step"
    step_gamma: float = 0.1
    grad_clip: float | None = 10.0  # max global gradient norm; None = off
    amp: bool = True  # CUDA only
    channels_last: bool = True  # CUDA only
    augment: bool = True  # False = no augmentation, whatever ``augmentation`` says
    #: "auto" (the family's own: SSD's photometric / zoom-out / IoU-crop / flip chain for SSD,
    #: flips for the rest), "ssd", "flip" or "none".
    augmentation: str = "auto"
    scale_jitter: bool = False  # Faster R-CNN multi-scale training
    cache_images: bool | None = None  # None = when it fits the memory budget
    cache_budget_mb: int = 1024
    num_workers: int = 0  # > 0 uses the "spawn" context, never fork
    sync_batchnorm: bool = False  # DDP only
    eval_every: int = 1
    #: Training images used to re-estimate batch-norm statistics before each evaluation /
    #: checkpoint ("precise BN", see engine.precise_bn); 0 = off.
    bn_recalibration_images: int = 64
    max_steps_per_epoch: int | None = None  # cap (quick runs, benchmarks)
    # display post-processing stored in the checkpoint (evaluation uses its own low floor)
    score_threshold: float = 0.5
    nms_iou: float = 0.45
    top_k: int = 100
    #: Label format of the folder (voc, yolo, coco, createml, labelme); None: detected.
    label_format: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "images_dir", Path(self.images_dir))
        for name in ("annotations_dir", "resume", "out_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad setting."""
        checks: list[tuple[bool, str]] = [
            (self.epochs >= 1, f"epochs must be >= 1 (got {self.epochs})"),
            (self.batch_size >= 1, f"batch size must be >= 1 (got {self.batch_size})"),
            (self.lr is None or (math.isfinite(self.lr) and self.lr > 0),
             f"learning rate must be a positive number (got {self.lr})"),
            (self.image_size is None or self.image_size >= 32,
             f"image size must be >= 32 px (got {self.image_size})"),
            (0.0 <= self.val_fraction < 1.0,
             f"val fraction must be in [0, 1) (got {self.val_fraction})"),
            (self.schedule in ("cosine", "step", "constant"),
             f"schedule must be cosine, step or constant (got {self.schedule!r})"),
            (self.optimizer in ("sgd", "adamw"),
             f"optimizer must be sgd or adamw (got {self.optimizer!r})"),
            (self.augmentation in AUGMENTATION_CHOICES,
             f"augmentation must be one of {', '.join(AUGMENTATION_CHOICES)} "
             f"(got {self.augmentation!r})"),
            (self.num_workers >= 0, f"workers must be >= 0 (got {self.num_workers})"),
            (self.grad_clip is None or self.grad_clip > 0,
             f"gradient clip must be > 0 (got {self.grad_clip})"),
            (self.eval_every >= 1, f"eval every must be >= 1 (got {self.eval_every})"),
            (self.label_format in (None, "voc", "yolo", "coco", "createml", "labelme"),
             f"label format must be voc, yolo, coco, createml or labelme "
             f"(got {self.label_format!r})"),
            (self.priors in ("torchvision", "voc_paper"),
             f"priors must be torchvision or voc_paper (got {self.priors!r})"),
            (self.warmup_steps >= 0, f"warm-up steps must be >= 0 (got {self.warmup_steps})"),
            (self.max_steps_per_epoch is None or self.max_steps_per_epoch >= 1,
             f"max steps per epoch must be >= 1 (got {self.max_steps_per_epoch})"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def effective_lr(self, family: str, world_size: int = 1, weights_kind: str = "none") -> float:
        """``lr`` or the family default scaled by the total batch (``batch_size`` per process ×
        ``world_size`` processes, the linear scaling rule) and by what the model starts from
        (``weights_kind``: "none", "backbone", "detector"; see :func:`finetune_lr_scale`).

        Faster R-CNN: 0.02 for 16 images (torchvision reference); SSD: 0.01 for 8 images
        (from-scratch friendly; the reference uses 0.002 × 32 images with pretrained VGG).
        """
        if self.lr is not None:
            return float(self.lr)
        images = self.batch_size * max(1, world_size)
        base = 0.02 * images / 16 if family == "fasterrcnn" else 0.01 * images / 8
        return base * finetune_lr_scale(family, weights_kind)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (paths as strings, tuples as lists) for JSON and checkpoints."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Path):
                v = str(v)
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (older/newer checkpoints)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        if "step_milestones" in kwargs:
            kwargs["step_milestones"] = tuple(kwargs["step_milestones"])
        return cls(**kwargs)
