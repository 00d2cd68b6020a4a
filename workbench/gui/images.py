"""Image loading for the canvas: EXIF orientation applied (as the core's size reader does), a
small LRU cache so A/D back and forth is instant, and the RGB array panels ask for."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage, QImageReader


class ImageLoadError(OSError):
    pass


def load_image(path: Path) -> QImage:
    """Read ``path`` with its EXIF orientation applied. Raises ImageLoadError naming the file."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        raise ImageLoadError(f"{path}: cannot read image ({reader.errorString()})")
    return image


def image_depth(image: QImage) -> int:
    return 1 if image.isGrayscale() else 3


def to_rgb_array(image: QImage) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB copy of ``image`` (row padding removed)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = rgb.height(), rgb.width()
    buf = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=rgb.bytesPerLine() * h)
    return buf.reshape(h, rgb.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()


class ImageCache:
    """The last few decoded images, by path."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._images: OrderedDict[Path, QImage] = OrderedDict()

    def get(self, path: Path) -> QImage:
        path = Path(path)
        if path in self._images:
            self._images.move_to_end(path)
            return self._images[path]
        image = load_image(path)
        self._images[path] = image
        while len(self._images) > self._size:
            self._images.popitem(last=False)
        return image

    def clear(self) -> None:
        self._images.clear()
