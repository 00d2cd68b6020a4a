"""The canvas scene: the image at the origin, the annotation boxes and the draw guides.

Scene coordinates are image pixel-edge coordinates: one scene unit is one image pixel, the image's
top-left corner is ``(0, 0)`` and its bottom-right corner is ``(width, height)``. Panels add their
own :class:`~workbench.gui.canvas.layers.BoxLayer` items to this scene.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene

from workbench.core.annotation import VocObject
from workbench.gui.canvas.bigimage import LargeImage
from workbench.gui.canvas.items import AnnotationItem, GuideItem
from workbench.gui.canvas.layer_list import LAYER_Z
from workbench.gui.canvas.palette import class_color
from workbench.gui.canvas.tiles import TiledImageLayer


class CanvasScene(QGraphicsScene):
    """Holds the pixmap item, one :class:`AnnotationItem` and one :class:`GuideItem`."""

    def __init__(self, parent=None) -> None:  # noqa: ANN001 (QObject parent)
        super().__init__(parent)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)  # few items, big ones
        self.image_item = QGraphicsPixmapItem()
        self.image_item.setZValue(LAYER_Z["image"])
        self.image_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.addItem(self.image_item)
        self.annotation_item = AnnotationItem()
        self.addItem(self.annotation_item)
        self.guide_item = GuideItem()
        self.addItem(self.guide_item)
        #: full-resolution tiles over a large image's preview (see :mod:`.bigimage`, :mod:`.tiles`)
        self.tiles = TiledImageLayer(self)
        self._size = (0, 0)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` of the shown image in pixels; ``(0, 0)`` when none."""
        return self._size

    def set_image(self, image: QImage | LargeImage | None) -> None:
        """Show ``image``; a :class:`LargeImage` shows its preview scaled to full-resolution
        scene coordinates, and full-resolution tiles where the view zooms in."""
        large = image if isinstance(image, LargeImage) else None
        self.tiles.set_image(large)
        self.image_item.setTransform(QTransform())
        if large is not None:
            self.image_item.setPixmap(QPixmap.fromImage(large.preview))
            self.image_item.setTransform(large.preview_transform())
            self._size = large.size
            rect = QRectF(0, 0, *large.size)
        elif image is None or image.isNull():
            self.image_item.setPixmap(QPixmap())
            self._size = (0, 0)
            rect = QRectF(0, 0, 1, 1)
        else:
            self.image_item.setPixmap(QPixmap.fromImage(image))
            self._size = (image.width(), image.height())
            rect = QRectF(0, 0, image.width(), image.height())
        self.setSceneRect(rect)
        self.annotation_item.set_image_rect(rect)
        self.guide_item.set_image_rect(rect)

    def set_objects(self, objects: Sequence[VocObject]) -> None:
        """Draw ``objects`` (pixel-edge boxes) with their class colours and labels."""
        boxes = [o.box for o in objects]
        by_name: dict[str, QColor] = {}  # one colour per class, shared by its boxes
        colors = [by_name.get(o.name) or by_name.setdefault(o.name, class_color(o.name))
                  for o in objects]
        labels = [_label(o) for o in objects]
        dashed = [o.model_made for o in objects]
        self.annotation_item.set_boxes(boxes if boxes else [[0, 0, 0, 0]][:0], colors, labels,
                                       dashed)

    def set_smooth(self, smooth: bool) -> None:
        """Smooth scaling when zoomed out; nearest pixels when zoomed in (crisp pixels)."""
        mode = (Qt.TransformationMode.SmoothTransformation if smooth
                else Qt.TransformationMode.FastTransformation)
        if self.image_item.transformationMode() != mode:
            self.image_item.setTransformationMode(mode)


def _label(obj: VocObject) -> str:
    text = obj.name
    if obj.difficult:
        text += " · difficult"
    if obj.model_made:
        text += f" · {obj.score:.2f}?" if obj.score is not None else " ?"
    return text


def background_color() -> QColor:
    return QColor(24, 25, 28)
