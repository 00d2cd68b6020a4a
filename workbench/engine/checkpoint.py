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


def read_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu", *,
                    for_resume: bool = False) -> dict[str, Any]:
    """Load the checkpoint dict with ``torch.load(weights_only=True)`` and validate it
    (:func:`check_checkpoint`); every problem is a :class:`CheckpointError` naming it."""
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
    check_checkpoint(ckpt, path, for_resume=for_resume)
    return ckpt


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _postprocess_problem(pp: Any) -> str | None:
    if pp is None:
        return None
    if not isinstance(pp, Mapping):
        return f"'postprocess' is a {type(pp).__name__}, not a dict"
    rules = {
        "score_threshold": (lambda v: _is_number(v) and 0.0 <= v <= 1.0, "a number in [0, 1]"),
        "nms_iou": (lambda v: _is_number(v) and 0.0 <= v <= 1.0, "a number in [0, 1]"),
        "top_k": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
        "class_agnostic": (lambda v: isinstance(v, bool), "true or false"),
    }
    unknown = sorted(set(pp) - set(rules))
    if unknown:
        return f"postprocess: unknown settings {unknown}"
    for key, (ok, what) in rules.items():
        if key in pp and not ok(pp[key]):
            return f"postprocess {key!r} is {pp[key]!r}, expected {what}"
    return None


def _resume_problem(ckpt: Mapping[str, Any]) -> str | None:
    """What a resumed run needs beyond what inference needs."""
    if not isinstance(ckpt.get("config"), Mapping):
        return "has no training 'config' (dict) to resume from"
    opt = ckpt.get("optimizer")
    if opt is not None:
        groups = opt.get("param_groups") if isinstance(opt, Mapping) else None
        if not isinstance(opt, Mapping) or not isinstance(opt.get("state"), Mapping) \
                or not isinstance(groups, list) or not groups:
            return "its 'optimizer' state is not an optimizer state_dict ('state', " \
                   "'param_groups')"
        for i, group in enumerate(groups):
            if not isinstance(group, Mapping) or not isinstance(group.get("params"), list):
                return f"optimizer param group {i} lacks its 'params' list"
    sched = ckpt.get("scheduler")
    if sched is not None:
        if not isinstance(sched, Mapping):
            return f"its 'scheduler' state is a {type(sched).__name__}, not a dict"
        for key, ok in (("lr_lambdas", lambda v: isinstance(v, list)),
                        ("base_lrs", lambda v: isinstance(v, list)),
                        ("last_epoch", _is_int)):
            if key not in sched:
                return f"its scheduler state lacks {key!r}"
            if not ok(sched[key]):
                return f"its scheduler state has a bad {key!r} ({sched[key]!r})"
    return None


def check_checkpoint(ckpt: Mapping[str, Any], path: str | os.PathLike[str] = "",
                     *, for_resume: bool = False) -> None:
    """Raise :class:`CheckpointError` naming the first missing or ill-typed value.

    Checked for every use (detect, eval, export-onnx, the GUI): ``model_name`` (a registered
    model), ``classes`` (non-empty list of distinct non-empty strings), ``image_size`` (int
    32..8192), ``model`` (non-empty state_dict of tensors), ``postprocess`` (score threshold
    in [0, 1], NMS IoU in [0, 1], top-k int >= 1, class_agnostic bool; absent keys take the
    defaults), ``epoch``/``global_step`` (int >= 0 when present), ``metrics``/``detector``
    (dicts when present). ``for_resume`` also needs ``epoch``, ``config`` and well-formed
    optimizer/scheduler states (``param_groups[].params``, ``lr_lambdas``, ``base_lrs``,
    ``last_epoch``).
    """
    def fail(message: str) -> None:
        raise CheckpointError(f"checkpoint {path} {message}; it cannot be used "
                              "(a damaged or hand-edited file?)")

    for key in ("model_name", "classes", "image_size", "model"):
        if key not in ckpt:
            fail(f"lacks {key!r}")
    name = ckpt["model_name"]
    if not isinstance(name, str) or not name:
        fail(f"has a bad 'model_name' ({name!r})")
    try:
        from workbench.engine.detectors import get_spec

        get_spec(name)
    except (ValueError, KeyError):
        fail(f"names a model this version does not know ({name!r})")
    classes = ckpt["classes"]
    if not isinstance(classes, list) or not classes or not all(
            isinstance(c, str) and c for c in classes):
        fail(f"has a bad 'classes' list ({str(classes)[:80]}): expected non-empty names")
    if len(set(classes)) != len(classes):
        fail("lists a class name twice in 'classes'")
    size = ckpt["image_size"]
    if not _is_int(size) or not 32 <= size <= 8192:
        fail(f"has a bad 'image_size' ({size!r}): expected a whole number of pixels, 32..8192")
    state = ckpt["model"]
    if not isinstance(state, Mapping) or not state:
        fail("holds no model weights ('model' is empty)")
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        fail("has a 'model' state_dict with values that are not tensors")
    problem = _postprocess_problem(ckpt.get("postprocess"))
    if problem:
        fail(f"has a bad {problem}")
    for key in ("epoch", "global_step"):
        if key in ckpt and (not _is_int(ckpt[key]) or ckpt[key] < 0):
            fail(f"has a bad {key!r} ({ckpt[key]!r}): expected a whole number >= 0")
    for key in ("metrics", "detector", "config"):
        if ckpt.get(key) is not None and not isinstance(ckpt[key], Mapping):
            fail(f"has a bad {key!r} (a {type(ckpt[key]).__name__}, not a dict)")
    if for_resume:
        if "epoch" not in ckpt:
            fail("lacks 'epoch' (the epochs completed), needed to resume")
        problem = _resume_problem(ckpt)
        if problem:
            fail(problem)


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
            priors=detector.get("priors"),
        )
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit {ckpt['model_name']}: {first}") \
            from exc
    except (TypeError, KeyError) as exc:  # shapes/dtypes a validator cannot foresee
        raise CheckpointError(f"checkpoint {path} does not fit {ckpt['model_name']}: "
                              f"{type(exc).__name__}: {exc}") from exc
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
