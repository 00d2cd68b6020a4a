"""Re-estimate batch-norm statistics before evaluating and saving ("precise BN").

A detector trained from scratch with small batches learns with *batch* statistics, while its
running averages (momentum 0.03–0.1) trail weights that change fast; in ``eval()`` mode those
stale averages can wash the features out — on a tiny set we measured val mAP 0.05 with the
running averages and 0.51 after re-estimation, same weights. Following Wu & Johnson,
"Rethinking 'Batch' in BatchNorm" (2021, §3 "precise BN"), the statistics are recomputed as
plain averages over a fixed set of training images with the current weights, without gradients.
Frozen batch norm (pretrained backbones) is untouched; a model without trainable batch norm
costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import Dataset

log = logging.getLogger(__name__)


def trainable_batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The model's ``nn.BatchNorm*`` / ``SyncBatchNorm`` layers that track running stats."""
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, dataset: Dataset, indices: Sequence[int],
                          batch_size: int, device: torch.device) -> int:
    """Recompute running mean/var of every batch-norm layer over ``dataset[indices]``.

    ``dataset`` items are ``(index, image, target)`` (see
    :class:`workbench.engine.dataset.DetectionDataset`); the model runs in train mode on
    batches of at least 2 images (a batch of one breaks batch norm on 1x1 maps). Returns the
    number of images used (0 when the model has no trainable batch norm).
    """
    layers = trainable_batchnorms(model)
    if not layers or not indices:
        return 0
    was_training = model.training
    momenta = [m.momentum for m in layers]
    # trainable_batchnorms keeps only layers that track running statistics (never None here)
    saved = [(m.running_mean.clone(), m.running_var.clone())  # type: ignore[union-attr]
             for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average = plain mean over the batches
    size = max(2, batch_size)
    chunks = [list(indices[i:i + size]) for i in range(0, len(indices), size)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2].extend(chunks.pop())
    used = 0
    model.train()
    try:
        for chunk in chunks:
            items = [dataset[i] for i in chunk]
            items = [it for it in items if it[1] is not None]
            if len(items) < 2:
                continue
            images = [it[1].to(device) for it in items]
            targets = [{k: v.to(device) for k, v in it[2].items()} for it in items]
            model(images, targets)
            used += len(items)
    finally:
        for m, momentum, (mean, var) in zip(layers, momenta, saved):
            m.momentum = momentum
            if used == 0:  # nothing was seen: keep the old statistics
                m.running_mean.copy_(mean)  # type: ignore[union-attr]
                m.running_var.copy_(var)  # type: ignore[union-attr]
        model.train(was_training)
    log.debug("re-estimated %d batch-norm layers on %d images", len(layers), used)
    return used
