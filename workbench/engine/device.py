"""Pick the torch device: CUDA, then Apple MPS, then CPU, unless the user says otherwise."""

from __future__ import annotations

import logging

import torch

from workbench.engine.events import ConfigError

log = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(request: str = "auto", local_rank: int | None = None) -> torch.device:
    """``"auto"`` → ``cuda`` (``cuda:<local_rank>`` under torchrun) if present, else ``mps``,
    else ``cpu``. An explicit device that is absent raises :class:`ConfigError`."""
    req = (request or "auto").strip().lower()
    kind = req.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise ConfigError(f"unknown device {request!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if kind == "auto":
        if torch.cuda.is_available():
            kind = "cuda"
        elif mps_available():
            kind = "mps"
        else:
            kind = "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available")
        if ":" in req:
            return torch.device(req)
        return torch.device("cuda", local_rank if local_rank is not None else 0)
    if kind == "mps":
        if not mps_available():
            raise ConfigError("device 'mps' was asked for but Apple MPS is not available")
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """A short human name, e.g. ``"cuda:0 (NVIDIA H100)"`` or ``"cpu (2 threads)"``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)
