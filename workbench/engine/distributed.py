"""Many processes, one run: DistributedDataParallel under ``torchrun``.

``torchrun --nproc-per-node N -m workbench train ...`` starts N processes with ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` in their environment. :func:`init_from_env` joins them into
one process group (NCCL on CUDA, gloo on CPU); every rank trains on its shard of the data
(``DistributedSampler`` with ``set_epoch``), and rank 0 alone logs, evaluates and saves.
Without those variables (or with ``WORLD_SIZE=1``) everything is a plain single-process run.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False
    owns_group: bool = False  # True when init_from_env created the process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(backend: str | None = None) -> DistInfo:
    """Join the torchrun process group described by the environment (no-op without one)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    owns = False
    if not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
        owns = True
        log.info("rank %d/%d joined the %s process group", rank, world, backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, True, owns)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_flag(info: DistInfo, flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (e.g. "stop requested")."""
    if not info.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.broadcast(t, src=0)
    return bool(t.item())


def cleanup(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, device: torch.device, info: DistInfo,
               sync_batchnorm: bool = False) -> nn.Module:
    """DDP-wrap ``model`` (already on ``device``) when distributed; optional SyncBatchNorm
    (converts ``nn.BatchNorm*``; torchvision's frozen batch norm stays frozen)."""
    if not info.enabled:
        return model
    if sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
