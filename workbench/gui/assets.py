"""Icons and other files from ``workbench/resources`` (no compile step, no Qt resource file).

Icons are 24x24 stroke SVGs drawn with ``stroke="currentColor"``; :func:`icon` recolours them
for the active theme and renders them with QtSvg at the sizes a toolbar asks for. The folder is
package data (``pyproject.toml``: ``workbench = ["resources/**/*"]``), so the same lookup works from
a source checkout, an editable install (``pip install -e .``) and a wheel. The top-level
``resources/`` folder of the repository holds the desktop-integration files (``.desktop``,
AppStream metadata) that an installer copies next to the system's icon themes.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

log = logging.getLogger(__name__)

#: Foreground colour of icons in the normal and the disabled state (matches the theme).
ICON_COLOR = "#d5d9e0"
ICON_DISABLED_COLOR = "#5d636e"
_SIZES = (16, 20, 24, 32, 48)


def resources_dir() -> Path:
    """The folder holding ``icons/`` (package data next to this package)."""
    packaged = Path(__file__).resolve().parents[1] / "resources"
    if (packaged / "icons").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "resources"  # source tree fallback
    return checkout


def icon_path(name: str) -> Path:
    """Path of ``icons/<name>.svg``; raises FileNotFoundError naming the file when absent."""
    path = resources_dir() / "icons" / f"{name}.svg"
    if not path.is_file():
        raise FileNotFoundError(f"icon {name!r} not found: {path}")
    return path


def _render(svg: bytes, size: int, dpr: float = 2.0) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
    pixmap = QPixmap(int(size * dpr), int(size * dpr))
    pixmap.setDevicePixelRatio(dpr)  # crisp on high-DPI screens
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


@functools.lru_cache(maxsize=256)
def icon(name: str, color: str = ICON_COLOR) -> QIcon:
    """A themed QIcon for ``icons/<name>.svg``; an empty icon (and a log line) if missing."""
    try:
        text = icon_path(name).read_text(encoding="utf-8")
    except (OSError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return QIcon()
    result = QIcon()
    normal = text.replace("currentColor", color).encode()
    disabled = text.replace("currentColor", ICON_DISABLED_COLOR).encode()
    for size in _SIZES:
        result.addPixmap(_render(normal, size), QIcon.Mode.Normal, QIcon.State.Off)
        result.addPixmap(_render(disabled, size), QIcon.Mode.Disabled, QIcon.State.Off)
    return result


@functools.lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """The application icon (``icons/app.svg``) at the usual launcher sizes."""
    svg = icon_path("app").read_bytes()
    result = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        result.addPixmap(_render(svg, size, dpr=1.0))
    return result


def icon_size() -> QSize:
    return QSize(20, 20)
