"""Pretrained weights: a local file, the torch hub cache, or an explicit download.

torchvision's detection builders download COCO detector weights (``weights=``) or ImageNet
backbone weights (``weights_backbone=``) from the internet whenever they are built with them.
Detection Workbench never lets a builder download: weights come from

* a **local file** the user picks: a torchvision detector ``state_dict`` (e.g. the COCO file),
  a torchvision classifier ``state_dict`` for the backbone (ImageNet), a torchvision reference
  script checkpoint (``{"model": state_dict, ...}``) or a Workbench checkpoint; or
* the **torch hub cache** (``$TORCH_HOME/hub/checkpoints``) when the user already has the file
  torchvision would have downloaded (``weights="hub"``); or
* the torch hub cache file of the model's **COCO detector** (``weights="coco"``) or **ImageNet
  backbone** (``weights="imagenet"``) weights, which the user asked to download first
  (:mod:`workbench.engine.weights_download`: size shown first, progress, hash checked). This
  module only reads the file; a missing one is a :class:`WeightsError` saying how to get it.

Detector weights for a different number of classes are loaded with **head re-sizing**: every
tensor whose shape fits is copied, the class-dependent head tensors (classification layers, box
predictor) keep their fresh initialisation, and the keys left out are reported.

While a detector is built, torchvision's weight loader is replaced (under a lock) by one that
serves the backbone weights we resolved and refuses every URL — so nothing is ever fetched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import torch
from torch import nn

from workbench.engine.events import WeightsError

log = logging.getLogger(__name__)

WeightsKind = Literal["none", "detector", "backbone"]

#: ``weights=`` values that mean "look in the torch hub cache, else train from scratch".
HUB_REQUESTS = ("hub", "auto")
#: ``weights=`` values naming torchvision's official files (downloaded only when asked).
DOWNLOAD_REQUESTS = ("coco", "imagenet")
#: ``weights=`` values that mean "random initialisation".
NONE_REQUESTS = ("", "none", "scratch")

_DETECTOR_KEY_PREFIXES = ("backbone.", "head.", "rpn.", "roi_heads.", "anchor_generator.")
_LOADER_LOCK = threading.Lock()


@dataclass
class PretrainedPlan:
    """The weights resolved for one build: what they are, where from, and the tensors."""

    kind: WeightsKind
    source: str  # "scratch", "file:/path", "hub:/path"
    message: str  # one sentence for the user
    state_dict: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    #: For a Workbench checkpoint: whether its model had the pretrained layout.
    layout_hint: bool | None = None


def hub_file(weights_enum: Any) -> Path:
    """Where torch hub keeps the file for a torchvision ``WeightsEnum`` member."""
    name = os.path.basename(urlparse(weights_enum.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], bool | None]:
    """Tensors of a weights file, loaded with ``weights_only=True`` (no code runs).

    Also returns the layout hint of a Workbench checkpoint (None for other files).
    """
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the user's file at fault
        raise WeightsError(f"cannot read weights file {path}: {exc}") from exc
    hint: bool | None = None
    if isinstance(obj, dict) and "format" in obj and "model" in obj:  # Workbench checkpoint
        hint = bool((obj.get("detector") or {}).get("pretrained_layout", False))
        obj = obj["model"]
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict):  # reference scripts
        obj = obj["model"]
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(
        isinstance(v, torch.Tensor) for v in obj.values()
    ):
        raise WeightsError(f"weights file {path} does not hold a state_dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}, hint


def check_request(request: str | os.PathLike[str] | None) -> None:
    """Fail fast (before any data is read) when ``request`` names a file that is absent."""
    if request is None or str(request).strip().lower() in (
            *NONE_REQUESTS, *HUB_REQUESTS, *DOWNLOAD_REQUESTS):
        return
    path = Path(request).expanduser()
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")


def _kind_of(state_dict: dict[str, torch.Tensor]) -> WeightsKind:
    detector = sum(k.startswith(_DETECTOR_KEY_PREFIXES) for k in state_dict)
    return "detector" if detector > len(state_dict) // 2 else "backbone"


def resolve_weights(
    request: str | os.PathLike[str] | None,
    *,
    detector_weights: Any | None,
    backbone_weights: Any | None,
) -> PretrainedPlan:
    """Turn the user's ``weights`` request into a :class:`PretrainedPlan`.

    ``request``: None/"none"/"scratch" → random init; "hub"/"auto" → the torch hub cache file of
    ``detector_weights`` (COCO) if present, else of ``backbone_weights`` (ImageNet), else random
    init with a message saying what was looked for; "coco"/"imagenet" → that file in the torch
    hub cache, which must be there (downloaded on request by
    :mod:`workbench.engine.weights_download`); any other string → a local file (an absent or
    unreadable file raises :class:`WeightsError`).
    """
    if request is None or str(request).strip().lower() in NONE_REQUESTS:
        return PretrainedPlan("none", "scratch", "no pretrained weights: training from scratch")
    if str(request).strip().lower() in DOWNLOAD_REQUESTS:
        return _cached_download(str(request).strip().lower(), detector_weights, backbone_weights)
    if str(request).strip().lower() in HUB_REQUESTS:
        looked: list[str] = []
        hub: tuple[tuple[WeightsKind, Any], ...] = (("detector", detector_weights),
                                                    ("backbone", backbone_weights))
        for kind, enum in hub:
            if enum is None:
                continue
            path = hub_file(enum)
            looked.append(str(path))
            if path.is_file():
                sd, _ = _read_state_dict(path)
                what = "COCO detector" if kind == "detector" else "ImageNet backbone"
                return PretrainedPlan(
                    kind, f"hub:{path}", f"loaded {what} weights from the torch hub cache {path}",
                    sd,
                )
        where = ", ".join(looked) if looked else "(this model has no torchvision weights)"
        return PretrainedPlan(
            "none", "scratch",
            f"no pretrained weights found in the torch hub cache (looked for {where}); "
            "training from scratch — ask for --weights coco or imagenet (a download, size "
            "shown first) or pick a weights file to start from pretrained weights",
        )
    path = Path(request).expanduser()
    sd, hint = _read_state_dict(path)
    kind = _kind_of(sd)
    what = "detector" if kind == "detector" else "backbone (classifier)"
    return PretrainedPlan(kind, f"file:{path}", f"loaded {what} weights from {path}", sd, hint)


def _cached_download(
    which: str, detector_weights: Any | None, backbone_weights: Any | None
) -> PretrainedPlan:
    kind: WeightsKind = "detector" if which == "coco" else "backbone"
    enum = detector_weights if which == "coco" else backbone_weights
    what = "COCO detector" if which == "coco" else "ImageNet backbone"
    if enum is None:
        raise WeightsError(f"this model has no {what} weights (torchvision publishes none for "
                           "it); train it from scratch")
    path = hub_file(enum)
    if not path.is_file():
        raise WeightsError(
            f"the {what} weights {path.name} are not in the torch hub cache ({path.parent}); "
            f"`workbench train --weights {which}` or the Train panel's download choice fetches "
            "them (after showing their size)")
    sd, _ = _read_state_dict(path)
    label = f"{type(enum).__name__}.{getattr(enum, 'name', enum)}"
    return PretrainedPlan(kind, f"{which}:{path}",
                          f"loaded {what} weights {label} from the torch hub cache {path}", sd)


@contextlib.contextmanager
def serve_backbone(
    backbone_weights: Any | None,
    classifier: Callable[[], nn.Module] | None,
    state_dict: dict[str, torch.Tensor] | None,
) -> Iterator[Any | None]:
    """Let a torchvision builder "load" backbone weights without touching the network.

    Yields the enum member to pass as ``weights_backbone`` (None when there is nothing to
    serve). While inside, torchvision's ``load_state_dict_from_url`` returns ``state_dict`` for
    that member's URL — or, when ``state_dict`` is None, the fresh weights of ``classifier()``
    (this builds the *pretrained layout*: frozen batch norm, torchvision's trainable-layer
    defaults, without pretrained values; used to rebuild a model saved from such a run).
    Any other URL raises :class:`WeightsError`.
    """
    if backbone_weights is None or classifier is None:
        yield None
        return
    import torchvision.models._api as tv_api

    def load(url: str, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        if url != backbone_weights.url:
            raise WeightsError(f"refusing to download {url}: models are never built with a "
                               "download; ask for it with --weights coco|imagenet")
        return dict(state_dict) if state_dict is not None else classifier().state_dict()

    with _LOADER_LOCK:
        original = tv_api.load_state_dict_from_url
        tv_api.load_state_dict_from_url = load
        try:
            yield backbone_weights
        except RuntimeError as exc:
            if state_dict is None:
                raise
            first = str(exc).strip().splitlines()[0]
            raise WeightsError(
                f"the backbone weights do not fit {classifier.__name__}: {first}"
            ) from exc
        finally:
            tv_api.load_state_dict_from_url = original


def load_matching(
    model: nn.Module, state_dict: dict[str, torch.Tensor], source: str
) -> tuple[int, list[str]]:
    """Copy every tensor of ``state_dict`` whose name and shape fit ``model`` (head re-sizing).

    Returns ``(loaded, reinitialised)``: the number of tensors copied and the model keys left at
    their fresh initialisation (class-dependent heads when the class count differs). Raises
    :class:`WeightsError` when less than half of the model fits (a different architecture).
    """
    own = model.state_dict()
    fitting = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    if len(fitting) < len(own) // 2:
        raise WeightsError(
            f"weights from {source} do not fit this model: only {len(fitting)} of {len(own)} "
            "tensors match by name and shape (is the file for a different architecture?)"
        )
    model.load_state_dict(fitting, strict=False)
    skipped = sorted(k for k in own if k not in fitting and not k.endswith("num_batches_tracked"))
    if skipped:
        log.info("re-initialised %d tensors not in %s: %s", len(skipped), source, skipped[:6])
    return len(fitting), skipped
