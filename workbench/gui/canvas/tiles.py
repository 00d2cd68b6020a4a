"""Full-resolution tiles of a :class:`~workbench.gui.canvas.bigimage.LargeImage` over its
preview, for the region the views show (see :mod:`workbench.gui.canvas.bigimage`).

Tiles of :data:`~workbench.gui.canvas.bigimage.TILE` px of pyramid level ``l`` (the image
reduced ``2**l`` times; the coarsest level with at least one image pixel per screen pixel) are
made on the large-image worker (a one-thread :class:`~workbench.gui.jobs.JobRunner`'s plain
calls: futures, cancelled when no longer in view) for the visible region only, shown as pixmap items in
full-resolution scene coordinates, and kept in an LRU of at most
:data:`~workbench.gui.canvas.bigimage.MAX_TILES`.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from concurrent.futures import Future

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from workbench.gui.canvas.bigimage import MAX_TILES, TILE, LargeImage, TileKey, _pool, _qimage
from workbench.gui.canvas.layer_list import LAYER_Z

log = logging.getLogger(__name__)

#: The full decode starts this long after the preview is shown (after its first paint).
DECODE_DELAY_MS = 100
#: Tile z between the preview (0) and the overlays; finer levels above coarser ones
#: (the canvas's stacking order is one table: layer_list.LAYER_Z).
_TILE_Z = LAYER_Z["image:tiles"]


class _Relay(QObject):
    """Carries finished tiles from the worker thread to the GUI thread (queued signal)."""

    tile_ready = Signal(int, object, object)  # generation, key, QImage
    raster_ready = Signal(int)


class TiledImageLayer:
    """Full-resolution tiles over a :class:`LargeImage`'s preview, for the visible region.

    Owned by the canvas scene; it follows every view of the scene (zoom, scroll, resize) and
    asks the worker for the tiles that a view needs, latest request first.
    """

    def __init__(self, scene: QGraphicsScene, *, tile: int = TILE,
                 max_tiles: int = MAX_TILES) -> None:
        self.scene = scene
        self.tile = tile
        self.max_tiles = max_tiles
        self.image: LargeImage | None = None
        self.items: OrderedDict[TileKey, QGraphicsPixmapItem] = OrderedDict()
        self.tiles_made = 0  #: tiles built for the current image (tests, logging)
        self._pending: dict[TileKey, Future[None]] = {}
        self._generation = 0
        self._level = -1
        self._smooth = True
        self._relay = _Relay()
        self._relay.tile_ready.connect(self._on_tile_ready)
        self._relay.raster_ready.connect(self._on_raster_ready)
        self._views: list[QGraphicsView] = []
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.update_tiles)
        self._decode_timer = QTimer()
        self._decode_timer.setSingleShot(True)
        self._decode_timer.setInterval(DECODE_DELAY_MS)
        self._decode_timer.timeout.connect(self._start_decode)

    # -- image ------------------------------------------------------------------------------
    def set_image(self, image: LargeImage | None) -> None:
        """Show ``image``'s tiles (None: none). The previous image's raster is released."""
        if image is self.image:
            return
        self._decode_timer.stop()
        self._drop_all()
        if self.image is not None:
            self.image.release()
        self.image = image
        self._generation += 1
        self.tiles_made = 0
        if image is None:
            return
        self._follow_views()
        self._decode_timer.start()
        self.schedule()

    def _start_decode(self) -> None:
        """Start the full decode once the preview had time to be painted (a decode running
        meanwhile would compete with the first paint for the CPU)."""
        image, generation = self.image, self._generation
        if image is None:
            return
        future = image.start_full_decode()
        future.add_done_callback(lambda f, g=generation: self._raster_done(f, g))

    def _raster_done(self, future: Future, generation: int) -> None:  # worker thread
        if future.cancelled():
            return
        if future.exception() is not None:
            log.error("cannot decode the full image: %s", future.exception())
            return
        self._relay.raster_ready.emit(generation)

    def _on_raster_ready(self, generation: int) -> None:
        if generation == self._generation:
            self.update_tiles()

    # -- views ------------------------------------------------------------------------------
    def _follow_views(self) -> None:
        for view in self.scene.views():
            if any(view is v for v in self._views):
                continue
            self._views.append(view)
            for bar in (view.horizontalScrollBar(), view.verticalScrollBar()):
                bar.valueChanged.connect(self.schedule)
                bar.rangeChanged.connect(self.schedule)
            zoom_changed = getattr(view, "zoom_changed", None)
            if zoom_changed is not None:
                zoom_changed.connect(self.schedule)

    def schedule(self, *_args: object) -> None:
        """Update the tiles once the event loop is idle (coalesces zoom + scroll)."""
        if self.image is not None:
            self._timer.start()

    @staticmethod
    def level_for(zoom: float) -> int:
        """The coarsest pyramid level with at least one image pixel per screen pixel."""
        if zoom <= 0:
            return 0
        return max(0, math.floor(math.log2(1.0 / zoom) + 1e-9))

    def _visible(self) -> tuple[float, QRectF] | None:
        """The largest zoom among the views and the union of their visible scene rects."""
        zoom, rect = 0.0, QRectF()
        for view in self._views:
            if not view.isVisible():
                continue
            zoom = max(zoom, view.transform().m11())
            rect = rect.united(view.mapToScene(view.viewport().rect()).boundingRect())
        return (zoom, rect) if zoom > 0 and not rect.isEmpty() else None

    def needed(self, zoom: float, rect: QRectF) -> list[TileKey]:
        """Tiles of the level for ``zoom`` meeting scene ``rect``; none while the preview is
        sharp enough (zoom at most the preview's resolution)."""
        image = self.image
        if image is None or zoom <= image.preview_scale * 1.001:
            return []
        level = self.level_for(zoom)
        span = self.tile << level
        w, h = image.size
        x0, y0 = max(0.0, rect.left()), max(0.0, rect.top())
        x1, y1 = min(float(w), rect.right()), min(float(h), rect.bottom())
        if x1 <= x0 or y1 <= y0:
            return []
        cols = range(int(x0 // span), int(math.ceil(x1 / span)))
        rows = range(int(y0 // span), int(math.ceil(y1 / span)))
        return [(level, c, r) for r in rows for c in cols]

    # -- tiles ------------------------------------------------------------------------------
    def update_tiles(self) -> None:
        """Show / request the tiles the views need now; cancel requests no longer needed."""
        image = self.image
        if image is None:
            return
        self._follow_views()
        visible = self._visible()
        needed = self.needed(*visible) if visible is not None else []
        level = needed[0][0] if needed else -1
        zoom = visible[0] if visible is not None else 1.0
        self._set_level(level, zoom)
        wanted = set(needed)
        for key, future in list(self._pending.items()):
            if key not in wanted and future.cancel():
                del self._pending[key]
        if not needed or not image.raster_ready():
            return
        for key in needed:
            if key in self.items:
                self.items.move_to_end(key)
            elif key not in self._pending:
                generation = self._generation
                self._pending[key] = _pool().call(self._build, image, key, generation)
        self._evict(wanted)

    def _build(self, image: LargeImage, key: TileKey, generation: int) -> None:  # worker
        if generation != self._generation:
            return
        rgb = image.make_tile(key, self.tile)
        if rgb is None:  # released meanwhile (another image is shown)
            return
        self._relay.tile_ready.emit(generation, key, _qimage(rgb))

    def _on_tile_ready(self, generation: int, key: TileKey, qimage: QImage) -> None:
        self._pending.pop(key, None)
        image = self.image
        if generation != self._generation or image is None or key in self.items:
            return
        x0, y0, x1, y1 = image.tile_rect(key, self.tile)
        item = QGraphicsPixmapItem(QPixmap.fromImage(qimage))
        item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        item.setTransform(QTransform.fromScale((x1 - x0) / qimage.width(),
                                               (y1 - y0) / qimage.height()))
        item.setPos(x0, y0)
        item.setZValue(_TILE_Z - 0.01 * key[0])
        item.setData(0, key)
        item.setVisible(key[0] == self._level)
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation if self._smooth
                                   else Qt.TransformationMode.FastTransformation)
        self.scene.addItem(item)
        self.items[key] = item
        self.tiles_made += 1
        self._evict({key})

    def _set_level(self, level: int, zoom: float) -> None:
        smooth = zoom * (1 << max(level, 0)) < 2.0  # crisp pixels when zoomed far in
        if level == self._level and smooth == self._smooth:
            return
        self._level, self._smooth = level, smooth
        mode = (Qt.TransformationMode.SmoothTransformation if smooth
                else Qt.TransformationMode.FastTransformation)
        for key, item in self.items.items():
            item.setVisible(key[0] == level)
            item.setTransformationMode(mode)

    def _evict(self, keep: set[TileKey]) -> None:
        """Drop least recently used tiles beyond :attr:`max_tiles` (never one in ``keep``)."""
        for key in list(self.items):
            if len(self.items) <= self.max_tiles:
                break
            if key in keep:
                continue
            self.scene.removeItem(self.items.pop(key))

    def _drop_all(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        for item in self.items.values():
            self.scene.removeItem(item)
        self.items.clear()
        self._level = -1

    def visible_tiles(self) -> list[QGraphicsPixmapItem]:
        return [item for item in self.items.values() if item.isVisible()]

    def tile_bytes(self) -> int:
        """Memory held by the tile pixmaps (bytes)."""
        return sum(i.pixmap().width() * i.pixmap().height() * max(i.pixmap().depth(), 8) // 8
                   for i in self.items.values())
