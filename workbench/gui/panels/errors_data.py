"""The data behind the Errors panel and the Detections panel's operating point (no Qt, no torch
at import time; the functions that need the engine import it when called, on a worker).

The data path, once per checkpoint and image set::

    checkpoint ──shared_detector──► RawDetector (one per checkpoint file, shared by the panels:
                                    workbench.gui.workers.detectors)
    images ──raw_outputs──► RawDetections per image (network once per image, kept in memory)
           ──detections_at_floor(NMS, top-k)──► ImageDetections with every score
           ──core.error_analysis──► operating point, confusion matrix, per-image errors

A score threshold is a prefix of the post-processed detections: greedy NMS keeps a box or not
from the higher-scoring boxes only, and top-k keeps the first ``k`` survivors, so the
detections of ``score > s`` equal post-processing with threshold ``s`` (what the sliders do).
That is why one post-processing at the floor serves every score, and only an NMS / top-k
change re-runs it.

Image sets (:func:`scope_images`): the project's validation split (``ImageSets/Main/val.txt``,
as training uses it) or every labelled image of the folder; images without a label file are
never evaluated (unlabelled is not "empty").
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.detections import ImageDetections

log = logging.getLogger(__name__)

SCOPES = {"val": "Validation split", "all": "Whole folder"}


# -- image sets -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageSet:
    """The labelled images one evaluation covers (in project order)."""

    ids: tuple[str, ...]               #: image ids (file stems)
    paths: tuple[Path, ...]            #: their image files
    ground_truth: dict[str, Any]       #: ``{image id: Annotation}``
    description: str                   #: "val split: 40 images", said beside the numbers

    def __len__(self) -> int:
        return len(self.ids)


def scope_images(project: Any, scope: str) -> ImageSet:
    """The labelled images of ``scope`` ("val": the validation split; "all": every labelled
    image) with their ground truth (:func:`workbench.core.results.project_ground_truth`: what
    ``validate`` calls an error is left out). Without a val split "val" falls back to the
    whole folder and says so in ``description``. Reads every label file: call it on a worker."""
    from workbench.core.results import project_ground_truth

    if scope not in SCOPES:
        raise ValueError(f"unknown image set {scope!r} (expected one of {sorted(SCOPES)})")
    truth = project_ground_truth(project)
    paths = {e.image_id or Path(e.image_path).stem: Path(e.image_path)
             for e in project.entries if e.has_xml}
    ids = [i for i in truth if i in paths]
    description = f"whole folder: {len(ids)} labelled images"
    if scope == "val":
        val = project.read_splits().get("val")
        if val:
            wanted = set(val)
            ids = [i for i in ids if i in wanted]
            description = f"val split: {len(ids)} images"
        else:
            description = f"no val split — {description}"
    return ImageSet(tuple(ids), tuple(paths[i] for i in ids), {i: truth[i] for i in ids},
                    description)


_lock = threading.Lock()  # guards _raws (the detectors themselves: gui/workers/detectors)


# -- raw outputs of many images, kept per detector ------------------------------------------
_raws: weakref.WeakKeyDictionary[Any, dict[tuple, Any]] = weakref.WeakKeyDictionary()


def _image_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size)


def cached_raw(detector: Any, path: Path) -> Any:
    """The kept raw output of ``path`` (unchanged since) or None."""
    with _lock:
        store = _raws.get(detector)
    try:
        return store.get(_image_key(path)) if store is not None else None
    except OSError:
        return None


def raw_outputs(detector: Any, paths: Sequence[Path], *,
                stop: threading.Event | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[Any]:
    """The raw output (``RawDetections``) of every image of ``paths``, in order: the network
    runs once per image and detector; later calls (another panel, another NMS) use the kept
    ones. ``stop`` set: raises ``JobCancelled``-like ``InterruptedError`` between images.
    An image the decoder refuses gets ``None`` (logged once, left out of the numbers)."""
    with _lock:
        store = _raws.setdefault(detector, {})
    out: list[Any] = []
    for i, path in enumerate(paths):
        if stop is not None and stop.is_set():
            raise InterruptedError("cancelled")
        key = _image_key(path)
        raw = store.get(key)
        if raw is None:
            try:
                raw = detector.raw(path)
            except ValueError as exc:  # validate's message: refused by the decoder
                log.warning("not evaluated: %s", exc)
            else:
                with _lock:
                    store[key] = raw
        out.append(raw)
        if progress is not None:
            progress(i + 1, len(paths))
    return out


def floor_settings(settings: Any) -> Any:
    """``settings`` with the score threshold at 0: every score, the same NMS and top-k."""
    return settings.replace(score_threshold=0.0)


def detections_at_floor(raws: Sequence[Any], ids: Sequence[str], classes: Sequence[str],
                        settings: Any, stop: threading.Event | None = None
                        ) -> dict[str, ImageDetections]:
    """Post-process every raw output with ``settings``' NMS / top-k at score 0 (see the module
    doc: any score threshold is then a prefix). Images without a raw output (refused) are
    left out. Imports the engine: call it on a worker."""
    from workbench.engine.postprocess import postprocess, to_image_detections

    floor = floor_settings(settings)
    out: dict[str, ImageDetections] = {}
    for raw, image_id in zip(raws, ids):
        if stop is not None and stop.is_set():
            raise InterruptedError("cancelled")
        if raw is None:
            continue
        kept = postprocess(raw, floor).kept
        out[image_id] = to_image_detections(raw, kept, classes, image_id)
    return out


def slider_sweep(raws: Sequence[Any], image_set: ImageSet, classes: Sequence[str], *,
                 iou: float, class_agnostic: bool, top_k: int) -> Any:
    """A :class:`workbench.core.error_sliders.SliderSweep` over every raw candidate of the
    images (refused ones left out): the operating point at any NMS IoU without post-processing
    each image again (one vectorised NMS over the set, the matching's hit pairs computed once).
    Imports the engine: call it on a worker."""
    from workbench.core.error_sliders import SliderSweep
    from workbench.engine.postprocess import to_image_detections

    candidates, cap = [], None
    for raw, image_id in zip(raws, image_set.ids):
        if raw is None:
            continue
        cap = raw.candidates_per_class
        candidates.append(to_image_detections(raw, np.arange(len(raw)), classes, image_id))
    truth = {c.image_id: image_set.ground_truth[c.image_id] for c in candidates}
    return SliderSweep(truth, candidates, classes, iou=iou, class_agnostic=class_agnostic,
                       candidates_per_class=cap, top_k=top_k)


def restrict(ground_truth: dict[str, Any], detections: dict[str, ImageDetections]
             ) -> dict[str, Any]:
    """The ground truth of the images that have detections (refused images left out)."""
    return {k: v for k, v in ground_truth.items() if k in detections}


# -- on-disk cache of post-processed detections ----------------------------------------------
CACHE_DIR = Path("runs") / ".errors-cache"


def cache_file(project_root: Path, checkpoint: tuple, scope_paths: Sequence[Path],
               settings: dict[str, Any]) -> Path:
    """Where the detections of (checkpoint, images with their mtimes, NMS / top-k) are kept:
    ``<project>/runs/.errors-cache/<sha1>.npz``. Another checkpoint file, a changed image or
    other settings give another name, so a stale file is never read."""
    h = hashlib.sha1(repr((checkpoint, sorted(settings.items()))).encode())
    for path in scope_paths:
        try:
            h.update(repr(_image_key(path)).encode())
        except OSError:
            h.update(str(path).encode())
    return Path(project_root) / CACHE_DIR / f"{h.hexdigest()}.npz"


def save_detections(path: Path, detections: dict[str, ImageDetections]) -> None:
    """Write ``detections`` to ``path`` (atomic; one npz of concatenated arrays)."""
    from workbench.core.atomic import atomic_write_bytes

    ids = list(detections)
    dets = [detections[i] for i in ids]
    buf = io.BytesIO()
    np.savez_compressed(
        buf, ids=np.asarray(ids, dtype=str),
        counts=np.asarray([len(d) for d in dets], dtype=np.int64),
        boxes=np.concatenate([d.boxes for d in dets]) if dets else np.zeros((0, 4)),
        scores=np.concatenate([d.scores for d in dets]) if dets else np.zeros(0),
        labels=np.concatenate([d.labels for d in dets]) if dets else np.zeros(0, dtype=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def load_detections(path: Path) -> dict[str, ImageDetections] | None:
    """Read what :func:`save_detections` wrote; None when absent or unreadable (logged)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, counts = data["ids"].tolist(), data["counts"]
            boxes, scores, labels = data["boxes"], data["scores"], data["labels"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s: unreadable detections cache (%s); evaluating again", path, exc)
        return None
    ends = np.cumsum(counts)
    starts = ends - counts
    return {i: ImageDetections(i, boxes[a:b], scores[a:b], labels[a:b])
            for i, a, b in zip(ids, starts.tolist(), ends.tolist())}
