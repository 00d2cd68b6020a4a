"""Self-describing checkpoints, saved atomically and loaded without running code.

A checkpoint is a plain dict (loadable with ``torch.load(weights_only=True)``)::

    {"format": "workbench-checkpoint/1",
     "model_name": str,                 # a name from workbench.engine.detectors
     "classes": [str, ...],             # names of class ids 1..K (0 is background)
     "image_size": int,
     "model": state_dict,
     "config": {...},                   # the TrainConfig as plain values
     "epoch": int,                      # epochs completed (a resumed run starts here)
     "global_step": int,
     "optimizer": state_dict | None, "scheduler": state_dict | None,
     "postprocess": {"score_threshold", "nms_iou", "top_k", "class_agnostic"},
     "weights_source": str,             # "scratch", "file:...", "hub:..."
     "detector": {...},                 # build_detector's info (layout, weights message)
     "metrics": {...}}                  # last epoch's map_voc07, map_voc, per-class AP, loss

Saving writes a temporary file next to the target, fsyncs it and renames it over the target,
so a crash or a full disk never leaves a half-written ``last.pt``: the previous one stays.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.engine.detectors import build_detector, set_postprocess
from workbench.engine.events import CheckpointError

log = logging.getLogger(__name__)

FORMAT = "workbench-checkpoint/1"
DEFAULT_POSTPROCESS = {
    "score_threshold": 0.05,
    "nms_iou": 0.45,
    "top_k": 100,
    "class_agnostic": False,
}


def plain(value: Any) -> Any:
    """Convert a value to what ``weights_only=True`` accepts: dict/list/str/int/float/bool/None."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return plain(value.item())
    return str(value)


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DistributedDataParallel / DataParallel wrappers."""
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) \
        else model


def make_checkpoint(
    model: nn.Module,
    *,
    info: Mapping[str, Any],
    classes: list[str] | tuple[str, ...],
    config: Mapping[str, Any],
    epoch: int,
    global_step: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    postprocess: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the checkpoint dict (tensors moved to CPU, contiguous)."""
    state = {k: v.detach().to("cpu").contiguous() for k, v in unwrap(model).state_dict().items()}
    return {
        "format": FORMAT,
        "model_name": str(info["model_name"]),
        "classes": [str(c) for c in classes],
        "image_size": int(info["image_size"]),
        "model": state,
        "config": plain(config),
        "epoch": int(epoch),
        "global_step": int(global_step),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": plain(scheduler.state_dict()) if scheduler is not None else None,
        "postprocess": plain({**DEFAULT_POSTPROCESS, **(postprocess or {})}),
        "weights_source": str(info.get("weights_source", "scratch")),
        "detector": plain(info),
        "metrics": plain(metrics or {}),
    }


def save_checkpoint(checkpoint: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``checkpoint`` to ``path`` atomically; raise :class:`CheckpointError` on failure.

    On any failure (disk full, permission denied) the temporary file is removed and an existing
    file at ``path`` is left untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(dict(checkpoint), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise CheckpointError(
                f"disk full while saving checkpoint {path}; the previous checkpoint is kept — "
                "free some space and resume"
            ) from exc
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Load and validate the checkpoint dict with ``torch.load(weights_only=True)``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt/hostile file is the user's file at fault
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"{path} is not a Detection Workbench checkpoint (format {found!r}, "
            f"expected {FORMAT!r}); to start from plain torchvision weights use --weights"
        )
    for key in ("model_name", "classes", "image_size", "model"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path} lacks {key!r}")
    return ckpt


def load_checkpoint(
    path: str | os.PathLike[str], map_location: Any = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the detector of a checkpoint, in ``eval()`` mode on ``map_location``.

    The model's own post-processing (score floor, NMS IoU, top-k) is set from
    ``ckpt["postprocess"]``. Returns ``(model, ckpt)``.
    """
    ckpt = read_checkpoint(path, map_location)
    detector = ckpt.get("detector") or {}
    try:
        model, _ = build_detector(
            ckpt["model_name"], len(ckpt["classes"]) + 1, image_size=int(ckpt["image_size"]),
            weights=None, pretrained_layout=bool(detector.get("pretrained_layout", False)),
        )
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit {ckpt['model_name']}: {first}") \
            from exc
    pp = {**DEFAULT_POSTPROCESS, **(ckpt.get("postprocess") or {})}
    set_postprocess(model, score_threshold=float(pp["score_threshold"]),
                    nms_iou=float(pp["nms_iou"]), top_k=int(pp["top_k"]))
    if map_location is not None and not callable(map_location) and not isinstance(
        map_location, dict
    ):
        model.to(map_location)
    model.eval()
    return model, ckpt


def finite_metric(value: Any, default: float = -math.inf) -> float:
    """A metric value as a float usable for comparison (NaN → ``default``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(v) else v
