"""Random access to the frames of a video (the Video panel's player; no Qt, no torch).

Frame numbers are 0-based positions in the decoded stream, as in :mod:`workbench.core.video`.
Reading the next frame is a plain ``read``; any other frame is a seek
(``CAP_PROP_POS_FRAMES``) whose landing is checked: containers where OpenCV's seek is not exact
(some MP4s seek to a key frame) fall back to grabbing forward from the nearest known position,
so ``read(n)`` always returns frame ``n`` as a straight decode from the start would.

Not thread-safe: use one reader from one thread at a time (the panel's job runner runs one job
at a time).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from workbench.core.video import VideoError, VideoInfo, open_video


class FrameReader:
    """``read(n)`` → frame ``n`` (BGR uint8) of ``path``; :class:`VideoError` when it cannot."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        cap, info = open_video(self.path)
        self._cap: Any = cap
        self.info: VideoInfo = info
        self._next = 0  #: the frame a plain read() returns now
        #: frames that exist (the container's count may be approximate); grows as we read
        self.frame_count = info.frame_count
        #: whether the container states its length (else frames are counted as they are read)
        self.length_known = info.frame_count > 0
        self.exact_seek: bool | None = None  #: found out at the first seek

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _reopen(self) -> None:
        self.close()
        self._cap, _ = open_video(self.path)
        self._next = 0

    def _seek(self, n: int) -> None:
        if n == self._next:
            return
        if self.exact_seek is not False:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, float(n))
            landed = int(round(self._cap.get(cv2.CAP_PROP_POS_FRAMES)))
            if self.exact_seek is None:
                self.exact_seek = landed == n
            if landed == n:
                self._next = n
                return
            self.exact_seek = False
            self._reopen()
        if n < self._next:
            self._reopen()
        while self._next < n:
            if not self._cap.grab():
                raise VideoError(f"{self.path}: frame {n} is past the end "
                                 f"({self._next} frames)")
            self._next += 1

    def read(self, n: int) -> np.ndarray:
        """Frame ``n``; :class:`VideoError` naming the file when it does not exist."""
        if self._cap is None:
            raise VideoError(f"{self.path}: the reader is closed")
        if n < 0:
            raise VideoError(f"{self.path}: no frame {n}")
        self._seek(n)
        ok, image = self._cap.read()
        if not ok or image is None:
            if self.frame_count > n or not self.length_known:
                self.frame_count = n  # the header promised more than the stream holds
                self.length_known = True
            raise VideoError(f"{self.path}: cannot decode frame {n}")
        self._next = n + 1
        self.frame_count = max(self.frame_count, n + 1)
        return image
