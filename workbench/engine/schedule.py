"""Optimizer, per-step learning-rate schedule and a seeded per-epoch sampler."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from workbench.engine.config import TrainConfig

#: The warm-up starts at this fraction of the base learning rate (torchvision reference: 0.001).
WARMUP_FACTOR = 0.001


def make_optimizer(model: nn.Module, cfg: TrainConfig, family: str,
                   world_size: int = 1, weights_kind: str = "none") -> torch.optim.Optimizer:
    """SGD with momentum (the papers' choice) or AdamW over the trainable parameters.

    ``weights_kind`` (what the model starts from: "none", "backbone", "detector") picks the
    fine-tuning learning rate when ``cfg.lr`` is None (``config.finetune_lr_scale``).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    lr = cfg.effective_lr(family, world_size, weights_kind)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def lr_factor(step: int, cfg: TrainConfig, total_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of the base LR after ``step`` optimizer steps.

    Linear warm-up from :data:`WARMUP_FACTOR` over ``min(cfg.warmup_steps, steps_per_epoch)``
    steps, then cosine decay to 0 at ``total_steps``, step decay by ``cfg.step_gamma`` at each
    fraction in ``cfg.step_milestones`` of ``total_steps``, or constant.
    """
    warm = min(cfg.warmup_steps, steps_per_epoch)
    if step < warm:
        alpha = step / warm
        return WARMUP_FACTOR * (1 - alpha) + alpha
    if cfg.schedule == "cosine":
        span = max(1, total_steps - warm)
        t = min(1.0, (step - warm) / span)
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if cfg.schedule == "step":
        passed = sum(1 for m in cfg.step_milestones if step >= m * total_steps)
        return cfg.step_gamma ** passed
    return 1.0


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A :class:`LambdaLR` stepped once per optimizer step (its state is in checkpoints)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, cfg, total_steps, steps_per_epoch))


class EpochSampler(torch.utils.data.Sampler[int]):
    """Shuffles ``0..n-1`` with a generator seeded by ``(seed, epoch)``: a resumed run sees the
    same order its uninterrupted twin would have."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        return iter(order.tolist())
