"""The pixel limit and minimum side of every image reader, without NumPy or Pillow.

:mod:`workbench.core.images` (the one decoder) and :mod:`workbench.core.imageinfo` (header
sizes) apply the same rule with the same words; it lives here so that reading a plain JPEG's
header (``imageinfo``'s fast path, which every annotation read with an image check takes)
does not import the decoder and NumPy (~0.1 s of a start-up: issue 14). The values and
``check_limits`` are re-exported by :mod:`workbench.core.images`, whose docstring describes
them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from workbench.core.imageinfo import ImageReadError

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 250_000_000
MIN_SIDE = 2


def _env_max_pixels() -> int:
    raw = os.environ.get("WORKBENCH_MAX_PIXELS", "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw))
    except ValueError:
        log.warning("WORKBENCH_MAX_PIXELS=%r is not a number; using %d", raw, DEFAULT_MAX_PIXELS)
        return DEFAULT_MAX_PIXELS
    return value if value > 0 else DEFAULT_MAX_PIXELS


MAX_PIXELS: int = _env_max_pixels()


def check_limits(path: Path, width: int, height: int, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageReadError` when ``width``×``height`` breaks the pixel limit
    (``max_pixels``, default :data:`MAX_PIXELS`) or the minimum side."""
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if width * height > limit:
        raise ImageReadError(path, f"image too large: {width}×{height} = "
                                   f"{width * height:,} pixels, more than the limit of "
                                   f"{limit:,} (set WORKBENCH_MAX_PIXELS to change it)")
    if min(width, height) < MIN_SIDE:
        raise ImageReadError(path, f"image too small: {width}×{height} px (each side must be "
                                   f"at least {MIN_SIDE} px)")
