"""Detections of a whole results file as flat columns, seen as a sequence of per-image runs.

A results file holds runs of detections per image (a devkit line per detection, a COCO entry
per detection); a detector's 100 detections per image over 20 classes make ~5 per run, so a
10^6-detection file is ~2·10^5 runs. Building an :class:`ImageDetections` (three arrays and an
object) per run costs more than reading the numbers, and the evaluators flatten them straight
back into columns. :class:`DetectionRuns` keeps the columns and makes an ``ImageDetections``
only when one is asked for: it *is* a ``Sequence[ImageDetections]`` (same runs, same order as
a list of them), and :func:`workbench.core.metrics_data.flatten_detections`,
:func:`~workbench.core.metrics_data.class_list` and ``workbench eval`` read its columns
directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import numpy as np

from workbench.core.detections import ImageDetections


def make_detections(image_id: str, boxes: np.ndarray, scores: np.ndarray,
                    labels: np.ndarray) -> ImageDetections:
    """An :class:`ImageDetections` from arrays already in its shapes and dtypes (``(N, 4)`` /
    ``(N,)`` float64, ``(N,)`` str), without ``__post_init__``'s conversions."""
    det = object.__new__(ImageDetections)
    det.__dict__.update(image_id=image_id, boxes=boxes, scores=scores, labels=labels)
    return det


class DetectionRuns(Sequence[ImageDetections]):
    """``R`` runs over ``N`` detection rows.

    ``ids`` ``R`` image ids (file stems); ``bounds`` ``(R + 1,)`` int64: run ``i`` is rows
    ``bounds[i]:bounds[i + 1]`` (never empty); ``boxes`` ``(N, 4)`` float64 pixel-edge
    ``xyxy``; ``scores`` ``(N,)`` float64; ``codes`` ``(N,)`` int64 indexing ``names`` (class
    names; a name may appear twice).
    """

    def __init__(self, ids: list[str], bounds: np.ndarray, boxes: np.ndarray,
                 scores: np.ndarray, codes: np.ndarray, names: Sequence[str]) -> None:
        self.ids = ids
        self.bounds = np.asarray(bounds, dtype=np.int64)
        self.boxes = boxes
        self.scores = scores
        self.codes = np.asarray(codes, dtype=np.int64)
        self.names = tuple(names)
        self._labels: np.ndarray | None = None

    # ---------------------------------------------------------------- Sequence

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> ImageDetections: ...

    @overload
    def __getitem__(self, index: slice) -> list[ImageDetections]: ...

    def __getitem__(self, index):  # noqa: ANN001, ANN204
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self.ids))[index]  # negative indices, IndexError
        s, e = int(self.bounds[i]), int(self.bounds[i + 1])
        return make_detections(self.ids[i], self.boxes[s:e], self.scores[s:e],
                               self.labels[s:e])

    def __iter__(self) -> Iterator[ImageDetections]:
        labels = self.labels
        edges = self.bounds.tolist()
        for image_id, s, e in zip(self.ids, edges[:-1], edges[1:]):
            yield make_detections(image_id, self.boxes[s:e], self.scores[s:e], labels[s:e])

    def __repr__(self) -> str:
        return f"DetectionRuns({len(self.ids)} runs, {self.rows} detections)"

    # ---------------------------------------------------------------- columns

    @property
    def rows(self) -> int:
        return len(self.scores)

    @property
    def labels(self) -> np.ndarray:
        """``(N,)`` numpy ``str`` class names of the rows (made once, on first use)."""
        if self._labels is None:
            names = np.asarray(self.names, dtype=str) if self.names else np.zeros(0, dtype=str)
            self._labels = names[self.codes] if len(self.codes) else np.zeros(0, dtype=str)
        return self._labels

    def run_lengths(self) -> np.ndarray:
        return np.diff(self.bounds)

    def label_counts(self) -> dict[str, int]:
        """Detections per class name."""
        counts: dict[str, int] = {}
        for code, n in enumerate(np.bincount(self.codes, minlength=len(self.names)).tolist()):
            if n:
                counts[self.names[code]] = counts.get(self.names[code], 0) + n
        return counts

    def select(self, keep: Iterable[bool]) -> DetectionRuns:
        """The runs where ``keep`` (one flag per run) is true, in order."""
        flags = np.fromiter(keep, dtype=bool, count=len(self.ids))
        lengths = self.run_lengths()
        rows = np.repeat(flags, lengths)
        ids = [i for i, k in zip(self.ids, flags.tolist()) if k]
        bounds = np.r_[0, np.cumsum(lengths[flags])]
        return DetectionRuns(ids, bounds, self.boxes[rows], self.scores[rows],
                             self.codes[rows], self.names)

    # ---------------------------------------------------------------- building

    @classmethod
    def empty(cls) -> DetectionRuns:
        return cls([], np.zeros(1, dtype=np.int64), np.zeros((0, 4)), np.zeros(0),
                   np.zeros(0, dtype=np.int64), ())

    @classmethod
    def from_detections(cls, detections: Iterable[ImageDetections]) -> DetectionRuns:
        """Columns of any sequence of :class:`ImageDetections` (empty ones are left out)."""
        if isinstance(detections, DetectionRuns):
            return detections
        present = [d for d in detections if len(d)]
        if not present:
            return cls.empty()
        lengths = np.fromiter((len(d) for d in present), dtype=np.int64, count=len(present))
        names, codes = np.unique(np.concatenate([d.labels for d in present]),
                                 return_inverse=True)
        return cls([d.image_id for d in present], np.r_[0, np.cumsum(lengths)],
                   np.concatenate([d.boxes for d in present]),
                   np.concatenate([d.scores for d in present]), codes.reshape(-1),
                   names.tolist())

    @classmethod
    def concat(cls, parts: Sequence[DetectionRuns]) -> DetectionRuns:
        """The runs of ``parts`` one after the other."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        names: list[str] = []
        ids: list[str] = []
        codes, bounds, offset = [], [np.zeros(1, dtype=np.int64)], 0
        for p in parts:
            codes.append(p.codes + len(names))
            names.extend(p.names)
            ids.extend(p.ids)  # (one C-level copy per part, not a Python step per id)
            bounds.append(p.bounds[1:] + offset)
            offset += p.rows
        return cls(ids, np.concatenate(bounds),
                   np.concatenate([p.boxes for p in parts]),
                   np.concatenate([p.scores for p in parts]), np.concatenate(codes), names)
