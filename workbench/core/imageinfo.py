"""Image size from the file header, honouring EXIF orientation (no full decode).

API
---
``IMAGE_EXTENSIONS``: ``{".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}`` (compare
    lower-cased suffixes: ``is_image_file(path)``).
``image_info(path) -> ImageInfo``: ``width``/``height`` as displayed (EXIF orientations 5–8
    swap the stored width and height), ``depth`` (1 for grey images, else 3 — what LabelImg
    writes), ``orientation`` (EXIF tag 274, 1 when absent) and the stored ``raw_width`` /
    ``raw_height``. Raises :class:`ImageReadError` naming the file when it cannot be read.
``image_size(path) -> ImageSize``: the displayed size as an
    :class:`~workbench.core.annotation.ImageSize`.

Pillow reads only the header (lazy ``Image.open``); files Pillow cannot identify go through
the decoder's OpenCV fallback (:mod:`workbench.core.images`). The orientation rule, the pixel
limit (``MAX_PIXELS``) and the minimum side (``MIN_SIDE``) are the decoder's: an image the
decoder refuses raises :class:`ImageReadError` here with the same message.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from workbench.core.annotation import ImageSize
from workbench.core.jpeg_header import jpeg_info, shown_size

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
)

_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "La"}


class ImageReadError(OSError):
    """An image file is missing or cannot be decoded; the message names the file.

    ``path`` is the image, ``reason`` the message without it (for reports that name the
    file elsewhere).
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class ImageInfo:
    """Header facts of one image. ``width``/``height`` are after EXIF orientation."""

    width: int
    height: int
    depth: int
    orientation: int = 1
    raw_width: int = 0
    raw_height: int = 0

    @property
    def size(self) -> ImageSize:
        return ImageSize(self.width, self.height, self.depth)

    @property
    def rotated(self) -> bool:
        """True when EXIF orientation swaps width and height (orientations 5–8)."""
        return self.orientation in (5, 6, 7, 8)


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True for the supported image suffixes, in any letter case."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _pillow_info(path: Path) -> ImageInfo | None:
    try:
        from PIL import UnidentifiedImageError
    except ImportError:  # pragma: no cover - pillow is a runtime dependency
        return None
    from workbench.core.images import _pillow, exif_orientation

    Image = _pillow()  # our pixel limit, not Pillow's, decides (checked by image_info)
    try:
        with Image.open(path) as img:
            raw_w, raw_h = img.size
            mode = img.mode
            orientation = exif_orientation(img)  # the decoder's rule
    except UnidentifiedImageError:
        return None
    depth = 1 if mode in _GREY_MODES else 3
    w, h = (raw_h, raw_w) if orientation in (5, 6, 7, 8) else (raw_w, raw_h)
    return ImageInfo(w, h, depth, orientation, raw_w, raw_h)


def _cv2_info(path: Path) -> ImageInfo | None:
    """Files Pillow cannot identify: the decoder's OpenCV fallback (its orientation rule)."""
    from workbench.core.images import decode_image

    decoded = decode_image(path)
    w, h = decoded.width, decoded.height
    return ImageInfo(w, h, 3, 1, w, h)


def image_info(path: str | os.PathLike[str]) -> ImageInfo:
    """Header facts of ``path`` (see module doc). Raises :class:`ImageReadError`."""
    p = path if isinstance(path, Path) else Path(path)  # (Path(Path) re-parses it)
    fast = jpeg_info(p)  # a JPEG's markers, without Pillow (core/jpeg_header.py)
    if fast is not None:
        from workbench.core.image_limits import check_limits  # (no decoder, no NumPy)

        w, h = shown_size(fast)
        check_limits(p, w, h)
        return ImageInfo(w, h, fast[2], fast[3], fast[0], fast[1])
    if not p.is_file():
        raise ImageReadError(p, "image file not found")
    try:
        info = _pillow_info(p)
        if info is None:
            info = _cv2_info(p)
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure is "unreadable"
        from workbench.core.images import header_error

        raise header_error(p, exc, p.stat().st_size) from exc
    if info is None or info.width <= 0 or info.height <= 0:
        raise ImageReadError(p, "unreadable image (not a recognised image format)")
    from workbench.core.images import check_limits

    check_limits(p, info.width, info.height)  # the one pixel limit and minimum side
    return info


def image_size(path: str | os.PathLike[str]) -> ImageSize:
    """Displayed size of ``path`` (EXIF orientation applied). Raises :class:`ImageReadError`."""
    return image_info(path).size
