"""Very large photos on the canvas: a downsampled preview for the whole view, full-resolution
tiles where the user zooms in.

Qt refuses to read an image above 256 MB of pixels (``QImageReader``'s allocation limit: a
108 MP photo is 432 MB as ARGB32), and one huge pixmap would cost as much again and repaint
slowly. An image is *large* when it has more than :data:`LARGE_PIXELS` pixels (40 MP; env
``WORKBENCH_LARGE_IMAGE_PIXELS``) or a side longer than :data:`LARGE_SIDE` (8,192 px). Then:

* :class:`LargeImage` holds a preview decoded by :func:`workbench.core.images.decode_preview`
  (longest side :data:`PREVIEW_SIDE`; a JPEG is reduced by libjpeg while decoding, so opening
  costs a fraction of a full decode). The canvas scene stays in **full-resolution pixel
  coordinates** — the scene rect is ``(0, 0, W, H)`` and boxes are drawn, edited and saved in
  full-resolution pixels — and the preview item is scaled by ``W / preview_width`` to cover it.
* The full raster is decoded in the background by :func:`workbench.core.images.decode_image`
  (never on the GUI thread), starting 100 ms after the preview is shown, and dropped when
  another image is shown: one full raster in memory at a time.
* :class:`~workbench.gui.canvas.tiles.TiledImageLayer` shows full-resolution tiles over the
  preview once the view's zoom is above the preview's resolution: square tiles of :data:`TILE` px
  of pyramid level ``l``
  (level ``l`` is the image reduced ``2**l`` times; the level chosen is the coarsest one with at
  least one image pixel per screen pixel, so at most about 24 tiles cover any viewport), made in
  a worker thread for the visible region only, kept as pixmap items in an LRU of at most
  :data:`MAX_TILES` (40 × 4 MB = 160 MB at most).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage, QTransform

if TYPE_CHECKING:  # numpy is imported where used (start-up: none before the first paint)
    import numpy as np
    from workbench.gui.jobs import JobRunner

log = logging.getLogger(__name__)


def _env_int(name: str, default: int) -> int:
    try:
        value = int(float(os.environ.get(name, "").replace("_", "") or default))
    except ValueError:
        return default
    return value if value > 0 else default


#: Above this many pixels an image is shown as preview + tiles (a 40 MP photo is 160 MB as a
#: pixmap; Qt's reader refuses 64 MP and more).
LARGE_PIXELS = _env_int("WORKBENCH_LARGE_IMAGE_PIXELS", 40_000_000)
#: ... or when a side is longer than this (pixmaps and GPU textures beyond it are slow or fail).
LARGE_SIDE = 8192
#: Longest side of the preview shown for the whole image.
PREVIEW_SIDE = 2048
#: Tile side in pixels of its pyramid level.
TILE = 1024
#: Tile pixmaps kept at most (each TILE² × 4 bytes).
MAX_TILES = 40

TileKey = tuple[int, int, int]  # (level, column, row)


def is_large(width: int, height: int, max_pixels: int | None = None) -> bool:
    """True when a ``width`` × ``height`` image is shown as preview + tiles."""
    limit = LARGE_PIXELS if max_pixels is None else max_pixels
    return width * height > limit or max(width, height) > LARGE_SIDE


def _qimage(rgb: np.ndarray) -> QImage:
    import numpy as np
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


_POOL: JobRunner | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> JobRunner:
    """One worker for full decodes and tiles (both are bounded by memory, not by cores): a
    one-thread :class:`~workbench.gui.jobs.JobRunner` whose plain calls (futures) may be made
    from any thread (:meth:`LargeImage.full_rgb` is asked for by panels' jobs too)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from workbench.gui.jobs import JobRunner

            _POOL = JobRunner(max_threads=1)
            atexit.register(_POOL.wait)  # no decode left running while Python finalises
        return _POOL


class LargeImage:
    """A large image: its full size, a preview, and its full raster decoded on demand.

    Answers the few ``QImage`` questions the window asks of a loaded image (``width()``,
    ``height()``, ``isNull()``, ``isGrayscale()``, ``text()``: the source mode), so it travels
    through the image cache.
    """

    def __init__(self, path: Path, width: int, height: int, preview: QImage,
                 mode: str = "RGB") -> None:
        self.path = Path(path)
        self._width, self._height = int(width), int(height)
        self.preview = preview
        self.mode = mode  #: the source's Pillow mode (the VOC depth comes from it)
        self._lock = threading.Lock()
        self._raster: Future[np.ndarray] | None = None

    @classmethod
    def open(cls, path: Path, preview_side: int = PREVIEW_SIDE) -> LargeImage:
        """Decode the preview only (:func:`workbench.core.images.decode_preview`)."""
        from workbench.core.images import decode_preview

        decoded = decode_preview(path, preview_side)
        return cls(path, decoded.width, decoded.height, _qimage(decoded.rgb), decoded.mode)

    # -- the QImage questions -----------------------------------------------------------------
    def width(self) -> int:
        return self._width

    def height(self) -> int:
        return self._height

    def isNull(self) -> bool:  # noqa: N802 (QImage API)
        return False

    def isGrayscale(self) -> bool:  # noqa: N802 (QImage API)
        from workbench.core.images import mode_depth

        return mode_depth(self.mode) == 1

    def text(self, _key: str = "") -> str:
        """The source mode (what :func:`workbench.gui.images.image_depth` reads)."""
        return self.mode

    @property
    def size(self) -> tuple[int, int]:
        return (self._width, self._height)

    def preview_transform(self) -> QTransform:
        """Maps preview pixels onto full-resolution scene pixels (edges exactly)."""
        return QTransform.fromScale(self._width / self.preview.width(),
                                    self._height / self.preview.height())

    @property
    def preview_scale(self) -> float:
        """Preview pixels per full-resolution pixel (the smaller of the two axes)."""
        return min(self.preview.width() / self._width, self.preview.height() / self._height)

    # -- the full raster ----------------------------------------------------------------------
    def start_full_decode(self) -> Future[np.ndarray]:
        """Decode the full raster in the background (once; again after :meth:`release`)."""
        with self._lock:
            if self._raster is None:
                self._raster = _pool().call(self._decode_full)
            return self._raster

    def _decode_full(self) -> np.ndarray:
        from workbench.core.images import decode_image

        decoded = decode_image(self.path)
        if (decoded.width, decoded.height) != self.size:  # the file changed on disk
            log.warning("%s: now %d x %d px (was %d x %d)", self.path, decoded.width,
                        decoded.height, *self.size)
        return decoded.rgb

    def raster_ready(self) -> bool:
        with self._lock:
            f = self._raster
        return f is not None and f.done() and not f.cancelled() and f.exception() is None

    def full_rgb(self) -> np.ndarray:
        """The full-resolution ``(H, W, 3)`` uint8 RGB raster (waits for the decode)."""
        return self.start_full_decode().result()

    def decoded_raster(self) -> np.ndarray | None:
        """The full raster if its decode has finished, else None (never waits, never starts
        a decode: tile jobs run on the decode's own worker)."""
        with self._lock:
            f = self._raster
        if f is None or not f.done() or f.cancelled() or f.exception() is not None:
            return None
        return f.result()

    def release(self) -> None:
        """Forget the full raster (the preview stays): another image is shown."""
        with self._lock:
            if self._raster is not None:
                self._raster.cancel()
            self._raster = None

    # -- tiles --------------------------------------------------------------------------------
    def tile_rect(self, key: TileKey, tile: int = TILE) -> tuple[int, int, int, int]:
        """Full-resolution pixels ``(x0, y0, x1, y1)`` (half-open) covered by tile ``key``."""
        level, col, row = key
        span = tile << level
        x0, y0 = col * span, row * span
        return x0, y0, min(x0 + span, self._width), min(y0 + span, self._height)

    def make_tile(self, key: TileKey, tile: int = TILE) -> np.ndarray | None:
        """Tile ``key`` as ``(h, w, 3)`` uint8: full-resolution pixels at level 0, the region
        reduced ``2**level`` times (area average) above; None when the raster is not (or no
        longer) decoded."""
        import numpy as np
        rgb = self.decoded_raster()
        if rgb is None:
            return None
        x0, y0, x1, y1 = self.tile_rect(key, tile)
        region = rgb[y0:y1, x0:x1]
        level = key[0]
        if level == 0:
            return np.ascontiguousarray(region)
        import cv2

        size = (max(1, math.ceil((x1 - x0) / (1 << level))),
                max(1, math.ceil((y1 - y0) / (1 << level))))
        return cv2.resize(region, size, interpolation=cv2.INTER_AREA)


def load_canvas_image(path: Path, load_small=None) -> QImage | LargeImage:  # noqa: ANN001
    """What the canvas shows for ``path``: a :class:`LargeImage` when the header says it is
    large (:func:`is_large`), else ``load_small(path)`` (the window's ``QImage`` loader)."""
    from workbench.core.imageinfo import ImageReadError, image_info
    from workbench.gui import images

    load_small = load_small or images.load_image
    try:
        info = image_info(path)
    except ImageReadError:
        return load_small(path)  # raises the loader's own message
    if not is_large(info.width, info.height):
        return load_small(path)
    try:
        return LargeImage.open(Path(path))
    except OSError as exc:  # ImageReadError names the file
        raise images.ImageLoadError(str(exc)) from exc
