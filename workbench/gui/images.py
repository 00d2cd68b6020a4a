"""Image loading for the canvas through the one decoder (:mod:`workbench.core.images`), a
small LRU cache so A/D back and forth is instant, and the RGB array panels ask for."""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

if TYPE_CHECKING:
    import numpy as np

    from workbench.gui.jobs import JobRunner


class ImageLoadError(OSError):
    pass


_MODE_KEY = "workbench-source-mode"


def load_image(path: Path) -> QImage:
    """Read ``path`` through the one decoder (:mod:`workbench.core.images`: EXIF orientation,
    16-bit/alpha/CMYK rules, truncated files grey-filled, the pixel limit), so the canvas shows
    exactly the pixels training sees. Raises ImageLoadError naming the file and the reason."""
    from workbench.core.images import ImageReadError, decode_image

    try:
        decoded = decode_image(path)
    except ImageReadError as exc:
        raise ImageLoadError(str(exc)) from exc  # "<file>: <reason>", as validate says
    image = qimage_from_rgb(decoded.rgb)
    image.setText(_MODE_KEY, decoded.mode)
    return image


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    """An ``(H, W, 3)`` uint8 RGB array as a QImage (Format_RGB888, its own copy of the data)."""
    import numpy as np  # not at module level: the first paint needs no numpy (issue 14)
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def image_depth(image: QImage) -> int:
    """VOC depth of an image from :func:`load_image` (the source file's mode, as
    ``imageinfo`` reports it); grey-ness of the pixels for other QImages."""
    mode = image.text(_MODE_KEY)
    if mode:
        from workbench.core.images import mode_depth

        return mode_depth(mode)
    return 1 if image.isGrayscale() else 3


def to_rgb_array(image: QImage) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB copy of ``image`` (row padding removed)."""
    full_rgb = getattr(image, "full_rgb", None)
    if full_rgb is not None:  # a LargeImage: its full-resolution raster, not the preview
        return full_rgb()
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = rgb.height(), rgb.width()
    import numpy as np
    buf = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=rgb.bytesPerLine() * h)
    return buf.reshape(h, rgb.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()


def _load_for_canvas(path: Path) -> QImage:
    """A ``QImage``, or a preview-and-tiles :class:`~workbench.gui.canvas.bigimage.LargeImage`
    for a very large photo (which Qt's reader refuses and one pixmap would not show well)."""
    from workbench.gui.canvas.bigimage import load_canvas_image

    return load_canvas_image(path)


class ImageCache:
    """The last few decoded images, by path, and a one-thread prefetch of the next one.

    QImage (unlike QPixmap) may be created outside the GUI thread, so the next image of the
    list is decoded in the background while the user looks at the current one, by a one-thread
    :class:`~workbench.gui.jobs.JobRunner` (:meth:`~workbench.gui.jobs.JobRunner.call`: the
    image asked for may be the one being decoded, and :meth:`get` waits for it).
    """

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._images: OrderedDict[Path, QImage] = OrderedDict()
        self._pending: dict[Path, Future[QImage]] = {}
        self._runner: JobRunner | None = None

    def get(self, path: Path) -> QImage:
        path = Path(path)
        if path in self._images:
            self._images.move_to_end(path)
            return self._images[path]
        future = self._pending.pop(path, None)
        image = None
        if future is not None:
            try:
                image = future.result()
            except ImageLoadError:
                image = None  # decode again below: raise with the reader's message
        if image is None:
            image = _load_for_canvas(path)
        self._store(path, image)
        return image

    def prefetch(self, path: Path) -> None:
        """Start decoding ``path`` in the background (no-op if cached or pending)."""
        path = Path(path)
        if path in self._images or path in self._pending:
            return
        if self._runner is None:
            from workbench.gui.jobs import JobRunner

            self._runner = JobRunner(max_threads=1)
        while len(self._pending) >= 2:  # only the latest guesses are worth their memory
            self._pending.pop(next(iter(self._pending))).cancel()
        self._pending[path] = self._runner.call(_load_for_canvas, path)

    def _store(self, path: Path, image: QImage) -> None:
        self._images[path] = image
        while len(self._images) > self._size:
            self._images.popitem(last=False)

    def clear(self) -> None:
        self._images.clear()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    def close(self) -> None:
        self.clear()
        if self._runner is not None:
            self._runner.wait()
            self._runner = None
