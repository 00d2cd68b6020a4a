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

from PySide6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QIconEngine, QPainter, QPixmap, QTransform
from PySide6.QtSvg import QSvgRenderer

log = logging.getLogger(__name__)

#: Foreground colour of icons in the normal and the disabled state (matches the theme).
ICON_COLOR = "#d5d9e0"
ICON_DISABLED_COLOR = "#5d636e"
_SIZES = (16, 20, 24, 32, 48)


@functools.lru_cache(maxsize=1)
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


_UNSCALED = (QTransform.TransformationType.TxNone, QTransform.TransformationType.TxTranslate)


class _SvgIconEngine(QIconEngine):
    """Renders an SVG at the size and mode asked, when asked, and keeps what it rendered.

    Start-up (issue 14): rendering every icon at five sizes in two modes up front was ~300
    renders before the first paint; most icons sit in menus nobody has opened yet."""

    def __init__(self, normal: bytes, disabled: bytes | None = None, dpr: float = 2.0) -> None:
        super().__init__()
        self._svg = {QIcon.Mode.Disabled: disabled or normal}
        self._normal = normal
        self._dpr = dpr
        self._cache: dict[tuple[int, int, int, float], QPixmap] = {}

    def _source(self, mode: QIcon.Mode) -> bytes:
        return self._svg.get(mode, self._normal)

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State,  # noqa: N802
                     scale: float) -> QPixmap:
        side = max(1, min(size.width(), size.height()))
        key = (side, int(mode == QIcon.Mode.Disabled), 0, float(scale))
        found = self._cache.get(key)
        if found is None:
            found = _render(self._source(mode), side, max(1.0, float(scale)))
            self._cache[key] = found
        return found

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, self._dpr)

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode,
              state: QIcon.State) -> None:
        # The device's pixel ratio is the device transform's scale while the painter draws
        # unscaled (no view transform, world at most translated): ``painter.device()`` is
        # often a device of a class PySide does not know, and looking for it created every
        # QtWidgets and QtGui class with ~60 enums at the first paint (start-up, issue 14).
        if painter.worldTransform().type() in _UNSCALED and not painter.viewTransformEnabled():
            dpr = painter.deviceTransform().m11()
        else:
            dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        painter.drawPixmap(rect, self.scaledPixmap(rect.size(), mode, state, dpr))

    def availableSizes(self, mode: QIcon.Mode = QIcon.Mode.Normal,  # noqa: N802
                       state: QIcon.State = QIcon.State.Off) -> list[QSize]:
        return [QSize(s, s) for s in _SIZES]

    def clone(self) -> QIconEngine:
        twin = _SvgIconEngine(self._normal, self._svg[QIcon.Mode.Disabled], self._dpr)
        twin._cache = dict(self._cache)
        return twin


@functools.lru_cache(maxsize=256)
def icon(name: str, color: str = ICON_COLOR) -> QIcon:
    """A themed QIcon for ``icons/<name>.svg``; an empty icon (and a log line) if missing.
    Rendered lazily, at the sizes asked for (:class:`_SvgIconEngine`)."""
    try:
        text = icon_path(name).read_text(encoding="utf-8")
    except (OSError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return QIcon()
    normal = text.replace("currentColor", color).encode()
    disabled = text.replace("currentColor", ICON_DISABLED_COLOR).encode()
    return QIcon(_SvgIconEngine(normal, disabled))


@functools.lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """The application icon (``icons/app.svg``), rendered at the sizes asked for."""
    return QIcon(_SvgIconEngine(icon_path("app").read_bytes(), dpr=1.0))


def icon_size() -> QSize:
    return QSize(20, 20)
