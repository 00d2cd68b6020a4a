"""What the two JPEG header reader tests share (``test_jpeg_header``, ``test_jpeg_info``): a
small JPEG made by Pillow, and what ``image_info`` answered before the fast paths."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from workbench.core import imageinfo


def jpeg(mode: str = "RGB", size=(37, 21), **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 90).save(buf, "JPEG", **save)
    return buf.getvalue()


def pillow_answer(path: Path):
    """What image_info answered before the fast path: Pillow, then its checks."""
    try:
        info = imageinfo._pillow_info(path)
    except Exception as exc:  # noqa: BLE001 - any failure counts as "not this"
        return type(exc).__name__
    return None if info is None else (info.width, info.height, info.depth, info.orientation)
