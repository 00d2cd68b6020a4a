"""Run a detector once per image and keep its *raw* output, for instant re-post-processing.

:class:`RawDetector` wraps a torchvision detector whose post-processing is replaced by a raw
variant: boxes are decoded and clipped exactly as torchvision does, scores above a very low floor
are kept for every class, and **no NMS, no top-k** is applied (torchvision's own
``postprocess_detections`` with ``nms_thresh=1.0`` would still run an O(n²) NMS over up to
8,732 × K SSD boxes). Everything threshold-dependent then happens in
:func:`workbench.engine.postprocess.postprocess`, on every slider move, without the network.

Raw outputs are cached per image (LRU, keyed by path + mtime + size), so returning to an image
or moving a slider never calls the model; :attr:`RawDetector.forward_images` counts the images
the network actually saw (tests use it).

Boxes are float32 pixel-edge ``xyxy`` in the original image's pixels.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
import torchvision
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.ssd import SSD
from torchvision.ops import boxes as box_ops

from workbench.core.detections import ImageDetections
from workbench.engine.postprocess import PostprocessSettings, RawDetections, apply

log = logging.getLogger(__name__)

#: Scores at or below this are dropped from the raw cache (a trained detector gives most of its
#: 8,732 × K SSD entries less than this; the score slider's minimum equals it).
DEFAULT_SCORE_FLOOR = 0.001

#: The parameters (after ``self``) of the torchvision methods whose job the raw variants below
#: take over; they are checked before a model is patched (:func:`check_postprocess_signature`).
EXPECTED_POSTPROCESS_PARAMETERS: dict[type, tuple[str, ...]] = {
    SSD: ("head_outputs", "image_anchors", "image_shapes"),
    RoIHeads: ("class_logits", "box_regression", "proposals", "image_shapes"),
}


class TorchvisionMismatchError(RuntimeError):
    """torchvision's post-processing is not the one the raw variants were written against."""


def check_postprocess_signature(cls: type) -> None:
    """Raise :class:`TorchvisionMismatchError` unless ``cls.postprocess_detections`` takes the
    parameters in :data:`EXPECTED_POSTPROCESS_PARAMETERS` (names and order) — a torchvision
    release that changed them would otherwise be called with the wrong arguments, or silently
    mis-decode boxes. The message names the installed torchvision version."""
    base = next(b for b in EXPECTED_POSTPROCESS_PARAMETERS if issubclass(cls, b))
    expected = EXPECTED_POSTPROCESS_PARAMETERS[base]
    method = getattr(cls, "postprocess_detections", None)
    try:
        params = tuple(inspect.signature(method).parameters) if callable(method) else None
    except (TypeError, ValueError):  # a builtin or a C extension without a signature
        params = None
    if params is None or params[1:] != expected:
        found = "no inspectable method" if params is None else f"({', '.join(params)})"
        raise TorchvisionMismatchError(
            f"torchvision {torchvision.__version__}: {base.__name__}.postprocess_detections "
            f"takes {found}, expected (self, {', '.join(expected)}); the raw detections of "
            f"Detection Workbench support the torchvision versions in its requirements "
            f"(pyproject.toml) — install one of those")


# -- raw post-processing per model family -----------------------------------------------------
def _ssd_raw(model: SSD, floor: float, head_outputs: dict[str, torch.Tensor],
             image_anchors: list[torch.Tensor], image_shapes: list[tuple[int, int]]
             ) -> list[dict[str, torch.Tensor]]:
    """``SSD.postprocess_detections`` up to (not including) per-class top-k and NMS."""
    pred_scores = F.softmax(head_outputs["cls_logits"], dim=-1)
    out = []
    for regression, scores, anchors, shape in zip(head_outputs["bbox_regression"], pred_scores,
                                                  image_anchors, image_shapes):
        boxes = box_ops.clip_boxes_to_image(model.box_coder.decode_single(regression, anchors),
                                            shape)
        prior, cls = torch.nonzero(scores[:, 1:] > floor, as_tuple=True)
        out.append({"boxes": boxes[prior], "scores": scores[prior, cls + 1], "labels": cls + 1})
    return out


def _roi_heads_raw(heads: Any, floor: float, class_logits: torch.Tensor,
                   box_regression: torch.Tensor, proposals: list[torch.Tensor],
                   image_shapes: list[tuple[int, int]]
                   ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """``RoIHeads.postprocess_detections`` without NMS and ``detections_per_img``."""
    num_classes = class_logits.shape[-1]
    pred_boxes = heads.box_coder.decode(box_regression, proposals)
    pred_scores = F.softmax(class_logits, -1)
    counts = [len(p) for p in proposals]
    all_boxes, all_scores, all_labels = [], [], []
    for boxes, scores, shape in zip(pred_boxes.split(counts, 0), pred_scores.split(counts, 0),
                                    image_shapes):
        boxes = box_ops.clip_boxes_to_image(boxes, shape)
        labels = torch.arange(num_classes, device=boxes.device).view(1, -1).expand_as(scores)
        boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1), \
            labels[:, 1:].reshape(-1)
        inds = torch.where(scores > floor)[0]
        boxes, scores, labels = boxes[inds], scores[inds], labels[inds]
        keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
        all_boxes.append(boxes[keep])
        all_scores.append(scores[keep])
        all_labels.append(labels[keep])
    return all_boxes, all_scores, all_labels


def configure_raw(model: nn.Module, score_floor: float = DEFAULT_SCORE_FLOOR) -> int | None:
    """Make ``model`` (in place) output raw, un-suppressed detections; returns its per-class
    pre-NMS cap to re-apply later (SSD's ``topk_candidates``), or None.

    SSD / SSDlite and Faster R-CNN (the catalog's families, :mod:`workbench.core.models`) get a
    raw post-processing (no NMS at all); torchvision's method is checked first
    (:func:`check_postprocess_signature`).
    """
    if isinstance(model, SSD):
        check_postprocess_signature(type(model))
        model.postprocess_detections = functools.partial(_ssd_raw, model, score_floor)
        return int(model.topk_candidates)
    if isinstance(model, FasterRCNN):
        heads = model.roi_heads
        check_postprocess_signature(type(heads))
        heads.postprocess_detections = functools.partial(_roi_heads_raw, heads, score_floor)
        return None
    own = getattr(model, "configure_raw", None)
    if callable(own):  # models of our own (engine.classic_models) switch themselves
        return own(score_floor)
    raise TypeError(f"cannot take raw outputs from a {type(model).__name__}")


def read_image_rgb(path: str | Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB with its EXIF orientation applied — the decoder
    training uses (:func:`workbench.engine.dataset.read_image_rgb`) and the orientation the
    canvas shows (:mod:`workbench.core.images`, its pixel limit checked from the header before
    decoding); ``ValueError`` naming the file and the reason ``validate`` gives."""
    from workbench.engine.dataset import read_image_rgb as decode

    return decode(Path(path))


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} "
                         f"{image.dtype}")
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)


class RawDetector:
    """A detector in raw mode with a per-image LRU cache of :class:`RawDetections`.

    ``classes`` names ids ``1..K``; ``settings`` are the default post-processing (usually the
    checkpoint's ``"postprocess"``). Thread-safe: one worker may fill the cache while the GUI
    thread post-processes cached entries (they are immutable).
    """

    def __init__(
        self,
        model: nn.Module,
        classes: Sequence[str],
        *,
        settings: PostprocessSettings | None = None,
        device: str | torch.device | None = None,
        score_floor: float = DEFAULT_SCORE_FLOOR,
        cache_size: int = 64,
        name: str = "",
    ) -> None:
        if isinstance(device, torch.device):
            self.device = device
        else:  # "auto", "cpu", "cuda:1", "mps"; an absent device raises ConfigError
            from workbench.engine.device import resolve_device

            self.device = resolve_device(device or "auto")
        self.model = model.to(self.device).eval()
        self.classes = tuple(classes)
        self.settings = settings or PostprocessSettings()
        self.score_floor = float(score_floor)
        self.candidates_per_class = configure_raw(self.model, self.score_floor)
        self.name = name or type(model).__name__
        self.cache_size = cache_size
        self.forward_images = 0  #: images the network has run on (cache misses)
        self._cache: OrderedDict[Any, RawDetections] = OrderedDict()
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: Any) -> RawDetector:
        """Load a ``workbench-checkpoint/1`` file; its ``"postprocess"`` becomes the default."""
        from workbench.engine.checkpoint import load_checkpoint

        model, info = load_checkpoint(path)
        settings = PostprocessSettings.from_dict(info.get("postprocess"))
        kwargs.setdefault("name", str(info.get("model_name", "")))
        return cls(model, info["classes"], settings=settings, **kwargs)

    def with_own_cache(self, cache_size: int) -> RawDetector:
        """Another detector on the same model (same weights in memory, device, settings and
        forward lock) with a raw-output cache of its own of ``cache_size`` entries: a panel
        whose keys would crowd out another's (video frames) shares the model, not the cache."""
        other = copy.copy(self)
        other.cache_size = cache_size
        other.forward_images = 0
        other._cache = OrderedDict()
        other._lock = threading.Lock()
        return other

    # -- raw outputs ------------------------------------------------------------------------
    @staticmethod
    def _path_key(path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)

    def cached(self, key: Any) -> RawDetections | None:
        with self._lock:
            raw = self._cache.get(key)
            if raw is not None:
                self._cache.move_to_end(key)
            return raw

    def _store(self, key: Any, raw: RawDetections) -> None:
        with self._lock:
            self._cache[key] = raw
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def is_cached(self, path: str | Path) -> bool:
        return self.cached(self._path_key(Path(path))) is not None

    def raw_for_array(self, image: np.ndarray, key: Any = None) -> RawDetections:
        """Raw output for an ``(H, W, 3)`` uint8 RGB image; cached under ``key`` when given."""
        if key is not None and (hit := self.cached(key)) is not None:
            return hit
        raw = self._forward([image])[0]
        if key is not None:
            self._store(key, raw)
        return raw

    def raw(self, path: str | Path) -> RawDetections:
        """Raw output for an image file (cached by path, mtime and size)."""
        path = Path(path)
        key = self._path_key(path)
        if (hit := self.cached(key)) is not None:
            return hit
        return self.raw_for_array(read_image_rgb(path), key)

    def raw_many(self, paths: Sequence[str | Path], batch_size: int = 1,
                 on_refused: Callable[[Path, str], None] | None = None,
                 ) -> Iterator[tuple[Path, RawDetections]]:
        """Raw outputs for many files, ``batch_size`` images per forward pass, in order.

        An image the decoder refuses raises ``ValueError`` (validate's message) — or, with
        ``on_refused``, is passed to it with that message and left out (the rest go on)."""
        paths = [Path(p) for p in paths]
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:start + batch_size]
            keys = [self._path_key(p) for p in chunk]
            hits = [self.cached(k) for k in keys]
            missing = [i for i, h in enumerate(hits) if h is None]
            decoded = []
            for i in missing:
                try:
                    decoded.append((i, read_image_rgb(chunk[i])))
                except ValueError as exc:
                    if on_refused is None:
                        raise
                    on_refused(chunk[i], str(exc))
            if decoded:
                raws = self._forward([image for _, image in decoded])
                for (i, _), raw in zip(decoded, raws):
                    hits[i] = raw
                    self._store(keys[i], raw)
            yield from ((p, h) for p, h in zip(chunk, hits) if h is not None)

    @torch.inference_mode()
    def _forward(self, images: list[np.ndarray]) -> list[RawDetections]:
        tensors = [_to_tensor(img).to(self.device) for img in images]
        with self._model_lock:
            outputs = self.model(tensors)
            self.forward_images += len(images)
        return [
            RawDetections.from_unsorted(
                out["boxes"], out["scores"], out["labels"], score_floor=self.score_floor,
                candidates_per_class=self.candidates_per_class,
                image_size=(img.shape[1], img.shape[0]))
            for out, img in zip(outputs, images)
        ]

    # -- final detections -------------------------------------------------------------------
    def detect(self, path: str | Path, settings: PostprocessSettings | None = None
               ) -> ImageDetections:
        """Post-processed detections for one image file (``image_id`` = file stem)."""
        path = Path(path)
        return apply(self.raw(path), settings or self.settings, self.classes, path.stem)

    def detect_many(self, paths: Sequence[str | Path], settings: PostprocessSettings | None = None,
                    *, batch_size: int = 1,
                    progress: Callable[[int, int], None] | None = None,
                    on_refused: Callable[[Path, str], None] | None = None,
                    ) -> Iterator[tuple[Path, ImageDetections]]:
        settings = settings or self.settings
        done = 0

        def refused(path: Path, message: str) -> None:
            nonlocal done
            done += 1
            on_refused(path, message)  # type: ignore[misc]

        for path, raw in self.raw_many(paths, batch_size,
                                       on_refused=refused if on_refused else None):
            done += 1
            if progress is not None:
                progress(done, len(paths))
            yield path, apply(raw, settings, self.classes, path.stem)


def save_settings(checkpoint_path: str | Path, settings: PostprocessSettings) -> None:
    """Store ``settings`` as the checkpoint's ``"postprocess"`` (atomic rewrite; the rest of the
    checkpoint is kept as it is). `workbench detect` and `workbench eval` use them by default."""
    from workbench.engine.checkpoint import read_checkpoint, save_checkpoint

    ckpt = read_checkpoint(checkpoint_path)
    ckpt["postprocess"] = settings.to_dict()
    save_checkpoint(ckpt, checkpoint_path)
    log.info("saved post-processing %s into %s", settings.to_dict(), checkpoint_path)


def predict_project(
    checkpoint_path: str | Path,
    project: Any,
    *,
    settings: PostprocessSettings | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 1,
    progress: Callable[[int, int], None] | None = None,
    image_paths: Iterable[str | Path] | None = None,
    on_refused: Callable[[Path, str], None] | None = None,
) -> list[ImageDetections]:
    """Detections for every image of a :class:`workbench.core.project.Project` (or for
    ``image_paths``), post-processed with ``settings`` or the checkpoint's own ``"postprocess"``.
    An image the decoder refuses raises ``ValueError``, or with ``on_refused`` is reported to
    it (validate's message) and left out.

    Returns one :class:`ImageDetections` per image, in the given order; ``image_id`` is the
    project entry's ``image_id`` (the file stem unless stems repeat across folders).
    """
    detector = RawDetector.from_checkpoint(checkpoint_path, device=device, cache_size=batch_size)
    entries = list(getattr(project, "entries", None) or [])
    if image_paths is None:
        image_paths = [entry.image_path for entry in entries]
    paths = [Path(p) for p in image_paths]
    # The project's image ids (stems, or folder-qualified where stems repeat) name the results.
    ids = {Path(e.image_path): getattr(e, "image_id", None) for e in entries}
    log.info("detecting on %d images with %s (%s)", len(paths), checkpoint_path, detector.name)
    out = []
    for path, det in detector.detect_many(paths, settings, batch_size=batch_size,
                                          progress=progress, on_refused=on_refused):
        image_id = ids.get(path)
        out.append(replace(det, image_id=image_id) if image_id and image_id != det.image_id
                   else det)
    return out
