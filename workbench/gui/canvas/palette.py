"""Stable class colours: the same class name gets the same colour in every session and project.

The hue comes from a hash of the name (not from its position in the class list, which changes when
classes are added), spread with the golden ratio so that similar names land far apart; saturation
and value are fixed for legibility on photos.
"""

from __future__ import annotations

import functools
import zlib

from PySide6.QtGui import QColor

_GOLDEN = 0.618033988749895

#: Colour of boxes a model suggested and no person has reviewed (drawn dashed as well).
SUGGESTION_COLOR = QColor(255, 255, 255)
SELECTION_COLOR = QColor(255, 255, 255)


def class_color(name: str) -> QColor:
    """The colour for class ``name`` (deterministic across runs and machines)."""
    return QColor.fromRgba(_class_rgba(name))  # a new QColor: callers may change theirs


@functools.lru_cache(maxsize=4096)  # asked once per box on every redraw of the box list
def _class_rgba(name: str) -> int:
    h = zlib.crc32(name.encode("utf-8", "surrogatepass"))
    hue = ((h & 0xFFFF) * _GOLDEN) % 1.0
    sat = 0.70 + 0.2 * (((h >> 16) & 0xFF) / 255.0)
    return QColor.fromHsvF(hue, sat, 1.0).toRgb().rgba()


def text_color_for(background: QColor) -> QColor:
    """Black or white, whichever reads better on ``background``."""
    r, g, b = background.redF(), background.greenF(), background.blueF()
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return QColor(20, 20, 20) if luminance > 0.55 else QColor(255, 255, 255)
