"""Image loading for the canvas through the one decoder (:mod:`workbench.core.images`), a
small LRU cache so A/D back and forth is instant, and the RGB array panels ask for.

A *plain* JPEG (:func:`read_plain_jpeg`: what :mod:`workbench.core.jpeg_header` reads — no
EXIF / XMP / Adobe block, 8-bit — with one or three components, complete, within the limits)
is read by Qt's own JPEG reader instead: the same libjpeg(-turbo) decode with the same
settings (accurate integer IDCT, fancy upsampling) gives the decoder's pixels exactly
(``tests/gui/test_images_plain_jpeg.py`` compares them over the encoder settings that occur),
without importing Pillow and NumPy (~0.14 s of CPU: a labeling session of such photos needs
neither; start-up, issue 14). Everything else goes through the one decoder.
"""

from __future__ import annotations

import os
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
    exactly the pixels training sees — a plain JPEG through Qt's reader, which gives the same
    pixels (:func:`read_plain_jpeg`). Raises ImageLoadError naming the file and the reason."""
    plain = read_plain_jpeg(path)
    if plain is not None:
        return plain
    from workbench.core.images import ImageReadError, decode_image

    try:
        decoded = decode_image(path)
    except ImageReadError as exc:
        raise ImageLoadError(str(exc)) from exc  # "<file>: <reason>", as validate says
    image = qimage_from_rgb(decoded.rgb)
    image.setText(_MODE_KEY, decoded.mode)
    return image


#: Bytes read for a JPEG's header (= :data:`workbench.core.jpeg_header.HEADER_BYTES`).
_HEADER_BYTES = 16384
_SOF = (0xC0, 0xC1, 0xC2)
_EOI = b"\xff\xd9"


def read_plain_jpeg(path: Path) -> QImage | None:
    """``path`` read by Qt's JPEG reader when it is a plain JPEG, else None (the one decoder
    reads it). Plain: :func:`~workbench.core.jpeg_header.parse_jpeg_header` reads its header
    (no APP1-APP15 block, so no orientation to apply and no Adobe colour transform; 8-bit;
    Huffman baseline, extended or progressive), one (grey) or three (YCbCr) components, not a
    large image (:func:`~workbench.gui.canvas.bigimage.is_large`), within the pixel limit and
    minimum side, and ending with its end-of-image marker (a truncated file is grey-filled by
    the decoder's rule). ``image_depth`` of the result is the decoder's (``L`` or ``RGB``)."""
    from workbench.core.jpeg_header import parse_jpeg_header

    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
            if head[:3] != b"\xff\xd8\xff":
                return None
            f.seek(-2, os.SEEK_END)
            tail = f.read(2)
    except (OSError, ValueError):
        return None
    size = parse_jpeg_header(head)
    if size is None or tail != _EOI:
        return None
    width, height, _depth = size
    components = _components(head)
    if components not in (1, 3):
        return None
    from workbench.core import image_limits
    from workbench.gui.canvas.bigimage import is_large

    if (is_large(width, height) or width * height > image_limits.MAX_PIXELS
            or min(width, height) < image_limits.MIN_SIDE):
        return None
    from PySide6.QtGui import QImageReader

    reader = QImageReader(os.fspath(path), b"jpeg")
    reader.setAutoTransform(False)  # (a plain JPEG has no EXIF block)
    image = reader.read()
    if image.isNull() or (image.width(), image.height()) != (width, height):
        return None
    image.setText(_MODE_KEY, "L" if components == 1 else "RGB")
    return image


def _components(head: bytes) -> int:
    """The component count of the frame header of ``head`` (a header that
    ``parse_jpeg_header`` read: its segments are well formed up to the start of scan)."""
    pos = 2
    while pos + 4 <= len(head):
        marker = head[pos + 1]
        if marker == 0xDA:
            return 0
        if marker in _SOF:
            return head[pos + 9] if pos + 9 < len(head) else 0
        pos += 2 + ((head[pos + 2] << 8) | head[pos + 3])
    return 0


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

    def put(self, path: Path, image: QImage) -> None:
        """Keep ``image``, decoded elsewhere by :func:`load_image`'s rules, as ``path``'s."""
        self._store(Path(path), image)

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
