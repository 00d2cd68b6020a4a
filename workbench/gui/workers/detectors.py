"""One loaded detector per checkpoint file, shared by the panels that run it.

A checkpoint loaded in the Detections panel is followed by the Errors and Video panels (the
hub's ``CheckpointLoaded``). Each used to load it again: the unpickling and model building ran
two or three times at once on worker threads (GIL and CPU the GUI thread waited for), and a
Faster R-CNN R50 (~160 MB) was held once per panel. :func:`shared_detector` loads each file
once — a second panel asking while the first load is under way waits for it instead of
loading again — and keeps the last :data:`KEEP` checkpoints' detectors; a panel that needs a
raw-output cache of its own takes :meth:`~workbench.engine.inference.RawDetector.
with_own_cache` of it (same model and weights in memory, same forward lock).

No Qt, no torch at import time (the engine is imported by the first load): call
:func:`shared_detector` on a worker.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

#: detectors of this many checkpoints are kept (the panels hold theirs as long as they use it)
KEEP = 2

_lock = threading.Lock()
_detectors: OrderedDict[tuple, Any] = OrderedDict()
#: a lock per checkpoint being loaded: a second caller waits on it instead of loading again
_loading: dict[tuple, threading.Lock] = {}


def checkpoint_key(path: str | Path) -> tuple[str, int, int]:
    """``(resolved path, mtime_ns, size)``: a rewritten checkpoint is another one."""
    path = Path(path)
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _kept(key: tuple) -> Any:
    """The kept detector of ``key`` (now the most recent) or None; call with ``_lock`` held."""
    found = _detectors.get(key)
    if found is not None:
        _detectors.move_to_end(key)
    return found


def _keep(key: tuple, detector: Any) -> None:
    """Keep ``detector`` as the most recent; call with ``_lock`` held."""
    _detectors[key] = detector
    _detectors.move_to_end(key)
    while len(_detectors) > KEEP:
        _detectors.popitem(last=False)


def shared_detector(path: str | Path) -> Any:
    """The :class:`~workbench.engine.inference.RawDetector` of checkpoint ``path``, loaded once
    per file version (:func:`checkpoint_key`); a load that fails raises its
    :class:`~workbench.engine.checkpoint.CheckpointError` to every caller that waited for it
    (each tries once more itself: the file may have been fixed meanwhile)."""
    key = checkpoint_key(path)
    with _lock:
        found = _kept(key)
        if found is not None:
            return found
        gate = _loading.setdefault(key, threading.Lock())
    with gate:
        with _lock:
            found = _kept(key)
        if found is not None:
            return found
        try:
            from workbench.engine.inference import RawDetector

            detector = RawDetector.from_checkpoint(path)
            with _lock:
                _keep(key, detector)
            return detector
        finally:
            with _lock:
                if _loading.get(key) is gate:
                    del _loading[key]


def forget_detectors() -> None:
    """Drop the kept detectors (tests; the panels keep the ones they hold)."""
    with _lock:
        _detectors.clear()
