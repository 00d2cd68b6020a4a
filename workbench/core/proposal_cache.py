"""Selective-search proposals computed once per image and kept on disk.

R-CNN and Fast R-CNN train on the same proposals every epoch, and the Proposals panel shows the
same image again and again; selective search costs 0.1–2 s an image, so its result is cached:

* **Key**: SHA-256 of the image's pixels (shape, dtype and bytes of the BGR array the search
  runs on — not its file name, so a renamed file hits and an edited one misses), of every
  :class:`~workbench.core.proposals.ProposalParams` field, and of :data:`ALGORITHM_VERSION`
  (bumped whenever :func:`~workbench.core.proposals.selective_search` changes its output).
* **Place**: ``$WORKBENCH_PROPOSAL_CACHE`` if set, else ``$XDG_CACHE_HOME/workbench/proposals``
  (``~/.cache/workbench/proposals``); one ``<key>.npz`` per entry (boxes, seconds the search
  took, the size it ran at), in 256 sub-folders by the key's first two hex digits.
* **Writes** are atomic (:mod:`workbench.core.atomic`): a crash leaves an entry whole or absent.
  An entry that cannot be read (truncated by a full disk, written by another version) is
  reported in the log with its path, removed, and computed again — never used.
* The cache only grows by what the user ran; :meth:`ProposalCache.clear` empties it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.atomic import atomic_write_bytes
from workbench.core.proposals import ProposalParams, ProposalResult, selective_search

log = logging.getLogger(__name__)

#: Part of every key: bump when selective_search's boxes change for the same input.
ALGORITHM_VERSION = 9


def default_cache_dir() -> Path:
    """``$WORKBENCH_PROPOSAL_CACHE``, else ``$XDG_CACHE_HOME/workbench/proposals``."""
    env = os.environ.get("WORKBENCH_PROPOSAL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench" / "proposals"


def proposal_key(image_bgr: np.ndarray, params: ProposalParams) -> str:
    """Hex SHA-256 of the pixels, the parameters and the algorithm version."""
    image = np.asarray(image_bgr)
    h = hashlib.sha256()
    h.update(json.dumps({"v": ALGORITHM_VERSION, "shape": list(image.shape),
                         "dtype": str(image.dtype),
                         "params": dataclasses.asdict(params)}, sort_keys=True).encode())
    h.update(image.tobytes())
    return h.hexdigest()


class ProposalCache:
    """Proposals by :func:`proposal_key` in ``root`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def path_of(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, Any] | None:
        """``{"boxes", "seconds", "work_size"}`` of a stored entry, or None."""
        path = self.path_of(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                boxes = np.asarray(data["boxes"], dtype=np.float64)
                seconds = float(data["seconds"])
                work = tuple(int(v) for v in data["work_size"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            log.warning("proposal cache entry %s is unreadable (%s); computing it again",
                        path, exc)
            path.unlink(missing_ok=True)
            return None
        if boxes.ndim != 2 or boxes.shape[1] != 4 or len(work) != 2:
            log.warning("proposal cache entry %s has boxes of shape %s; computing it again",
                        path, boxes.shape)
            path.unlink(missing_ok=True)
            return None
        return {"boxes": boxes, "seconds": seconds, "work_size": work}

    def put(self, key: str, result: ProposalResult) -> Path:
        """Store ``result`` atomically under ``key``; returns the entry's path."""
        buf = io.BytesIO()
        np.savez(buf, boxes=np.asarray(result.boxes, dtype=np.float32),
                 seconds=np.float64(result.seconds),
                 work_size=np.asarray(result.work_size, dtype=np.int64))
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def proposals(self, image_bgr: np.ndarray, params: ProposalParams = ProposalParams(),
                  **kwargs: Any) -> tuple[ProposalResult, bool]:
        """``(result, from_cache)``: the stored proposals, or run selective search and store.

        ``kwargs`` (``progress``, ``cancelled``) go to
        :func:`~workbench.core.proposals.selective_search`. A cached result's ``seconds`` is
        the time the original search took; its boxes went through float32 (sub-pixel
        rounding only: selective search's boxes are whole pixels times a scale).
        """
        key = proposal_key(image_bgr, params)
        entry = self.get(key)
        h, w = np.asarray(image_bgr).shape[:2]
        if entry is not None:
            self.hits += 1
            return ProposalResult(boxes=entry["boxes"], seconds=entry["seconds"], params=params,
                                  image_size=(h, w), work_size=entry["work_size"]), True
        self.misses += 1
        result = selective_search(image_bgr, params, **kwargs)
        try:
            self.put(key, result)
        except OSError as exc:  # a read-only or full cache folder must not stop the work
            log.warning("could not store proposals in %s: %s", self.path_of(key), exc)
        return result, False

    def clear(self) -> int:
        """Remove every entry; returns how many were removed."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for path in self.root.glob("??/*.npz"):
            path.unlink(missing_ok=True)
            removed += 1
        return removed
