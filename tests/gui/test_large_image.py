"""A very large photo on the canvas: preview in full-resolution scene coordinates, boxes drawn
with real mouse events saved in full-resolution pixels, full-resolution tiles when zoomed in,
a bounded tile cache. The "large" threshold is lowered so a 12 MP JPEG stands in for 108 MP."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from workbench.gui import dialogs
from workbench.gui.canvas import bigimage
from workbench.gui.canvas.bigimage import LargeImage
from workbench.gui.canvas.tiles import TiledImageLayer

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from labeling_helpers import drag, exact_view_point, shown_window  # noqa: E402

W, H = 4000, 3000


def _source() -> np.ndarray:
    """Smooth gradients plus a fine checker (so a shifted or scaled tile would not match)."""
    y, x = np.mgrid[0:H, 0:W]
    checker = ((x // 16 + y // 16) % 2) * 100  # luminance detail (JPEG keeps it)
    rgb = np.empty((H, W, 3), np.int32)
    rgb[..., 0] = x * 150 // W + checker
    rgb[..., 1] = y * 150 // H + checker
    rgb[..., 2] = 60 + checker
    return rgb.astype(np.uint8)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, np.ndarray]:
    images = tmp_path / "images"
    images.mkdir()
    rgb = _source()
    assert cv2.imwrite(str(images / "a_big.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, 95])
    small = np.full((120, 160, 3), 90, np.uint8)
    assert cv2.imwrite(str(images / "b_small.png"), small)
    return images, rgb


@pytest.fixture
def window(qtbot, project, tmp_path, monkeypatch):  # noqa: ANN001,ANN201
    monkeypatch.setattr(bigimage, "LARGE_PIXELS", 5_000_000)
    for name in ("ask_yes_no", "ask_save_discard_cancel", "ask_text", "choose_reassignment"):
        monkeypatch.setattr(dialogs, name, lambda *a, **k: pytest.fail(f"dialog {a[1:3]}"))
    monkeypatch.setattr(dialogs, "choose_class", lambda *a, **k: "tree")
    w = shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(project[0])
    w.canvas.setFocus()
    return w


def _zoom(window, zoom: float, x: float | None = None, y: float | None = None) -> None:  # noqa: ANN001
    window.canvas.actual_size()  # leaves "fit" mode, so a relayout does not re-fit
    window.canvas.set_zoom(zoom)
    if x is not None:
        window.canvas.centerOn(x, y)


def _pixels(item) -> np.ndarray:  # noqa: ANN001 - QGraphicsPixmapItem
    image = item.pixmap().toImage().convertToFormat(QImage.Format.Format_RGB888)
    h, w = image.height(), image.width()
    buf = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h)
    return buf.reshape(h, image.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()


def test_large_photo_preview_tiles_and_full_resolution_boxes(window, project, qtbot) -> None:
    from workbench.core.images import decode_image
    from workbench.core.voc import read_annotation

    images, source = project
    scene = window.canvas.canvas_scene()
    layer = scene.tiles
    image = layer.image
    assert isinstance(image, LargeImage)
    # the scene is the full-resolution image; the preview item covers it exactly
    assert scene.sceneRect().getRect() == (0, 0, W, H)
    assert window.canvas.image_size() == (W, H)
    assert image.preview.width() == bigimage.PREVIEW_SIDE
    assert scene.image_item.sceneBoundingRect().getRect() == (0, 0, W, H)
    assert window.size_label.text() == f"{W} × {H} px"
    assert window.position_label.text() == "Image 1 of 2 · a_big.jpg"
    assert window.statusBar().currentMessage() == ""
    # the full raster arrives from the background decode; at "fit" no tile is needed
    qtbot.waitUntil(image.raster_ready, timeout=20000)
    qtbot.wait(20)
    assert window.canvas.zoom() < image.preview_scale
    assert layer.items == {} and layer.tiles_made == 0

    # -- a box drawn with the mouse at 40 % lands in full-resolution pixels -------------------
    _zoom(window, 0.4, 1500, 1200)  # the image overflows the view: scroll bars stay
    qtbot.wait(50)
    QTest.keyClick(window.canvas, Qt.Key.Key_W)
    assert window.canvas.mode == "draw"
    start, end = (1000.0, 800.0), (1800.0, 1500.0)
    x1, y1 = exact_view_point(window.canvas, *start)
    x2, y2 = exact_view_point(window.canvas, *end)
    drag(window.canvas, start, end)
    assert window.canvas.zoom() == pytest.approx(0.4)
    QTest.keyClick(window.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    ann = read_annotation(images / "a_big.xml")[0]
    assert (ann.size.width, ann.size.height) == (W, H)
    assert len(ann.objects) == 1 and ann.objects[0].name == "tree"
    box = ann.objects[0].box
    assert box == pytest.approx((x1, y1, x2, y2), abs=1.0)
    assert box == pytest.approx((*start, *end), abs=2.5)  # one screen pixel = 2.5 image px
    # 40 % is below the preview's resolution (0.512): the preview alone
    assert window.canvas.zoom() < image.preview_scale and not layer.visible_tiles()

    # -- zoomed in: full-resolution tiles appear, pixel for pixel the decoder's ------------
    decoded = decode_image(images / "a_big.jpg").rgb
    _zoom(window, 1.0, 2100, 1300)
    qtbot.waitUntil(lambda: len(layer.visible_tiles()) >= 1, timeout=10000)
    qtbot.waitUntil(lambda: not layer._pending, timeout=10000)
    visible = window.canvas.mapToScene(window.canvas.viewport().rect()).boundingRect()
    keys = {item.data(0) for item in layer.visible_tiles()}
    assert keys == set(layer.needed(1.0, visible))
    assert all(level == 0 for level, _c, _r in keys)
    for item in layer.visible_tiles():
        x0, y0, x1_, y1_ = image.tile_rect(item.data(0))
        assert item.sceneBoundingRect().getRect() == (x0, y0, x1_ - x0, y1_ - y0)
        pixels = _pixels(item)
        assert np.array_equal(pixels, decoded[y0:y1_, x0:x1_])
        # and close to what was encoded (JPEG, 4:2:0 chroma), much closer than one pixel off
        err = np.abs(pixels.astype(int) - source[y0:y1_, x0:x1_]).mean()
        off = np.abs(pixels[:, 1:].astype(int) - source[y0:y1_, x0:x1_ - 1]).mean()
        assert err < 3.0 and err < 0.3 * off, (err, off)
    assert (2, 1, 1) not in keys and (0, 2, 1) in keys  # (2100, 1300) lies in column 2, row 1

    # below the preview's resolution no tile is needed; a coarser level (each tile pixel =
    # 2 image pixels) is the area average of the full-resolution region
    assert layer.needed(0.5, visible) == []
    assert {k[0] for k in layer.needed(0.6, visible)} == {0}
    assert image.tile_rect((1, 1, 1)) == (2048, 2048, 4000, 3000)
    coarse = image.make_tile((1, 1, 1))
    assert coarse.shape == (476, 976, 3)
    assert np.array_equal(coarse, cv2.resize(decoded[2048:3000, 2048:4000], (976, 476),
                                             interpolation=cv2.INTER_AREA))

    # -- memory: panning over the whole image at 100 % keeps at most max_tiles pixmaps ------
    layer.max_tiles = 6
    _zoom(window, 1.0)
    most = 0
    for cx, cy in ((300, 300), (3700, 300), (3700, 2700), (300, 2700), (2000, 1500)):
        window.canvas.centerOn(cx, cy)
        needed = layer.needed(1.0, window.canvas.mapToScene(
            window.canvas.viewport().rect()).boundingRect())
        qtbot.waitUntil(lambda n=needed: all(k in layer.items and layer.items[k].isVisible()
                                             for k in n), timeout=10000)
        assert len(layer.items) <= max(layer.max_tiles, len(needed))
        most = max(most, len(layer.items))
    assert layer.tiles_made > layer.max_tiles  # tiles were evicted and made again
    assert layer.tile_bytes() <= most * bigimage.TILE * bigimage.TILE * 4

    # panels asking for the image's pixels get the full-resolution raster, not the preview
    assert window.current_image_rgb().shape == (H, W, 3)

    # -- another image: the raster and the tiles are let go ----------------------------------
    QTest.keyClick(window.canvas, Qt.Key.Key_D)
    assert window.current_image_path() == images / "b_small.png"
    assert layer.image is None and layer.items == {}
    assert not image.raster_ready()
    assert image.make_tile((0, 0, 0)) is None  # a late tile job neither waits nor decodes
    assert scene.sceneRect().getRect() == (0, 0, 160, 120)
    assert scene.image_item.sceneBoundingRect().getRect() == (0, 0, 160, 120)


def test_threshold() -> None:
    assert bigimage.is_large(12000, 9000)          # 108 MP
    assert not bigimage.is_large(6000, 4000)       # 24 MP: an ordinary photo
    assert bigimage.is_large(9000, 200)            # a long side past 8192 px
    assert TiledImageLayer.level_for(1.0) == 0
    assert TiledImageLayer.level_for(0.6) == 0
    assert TiledImageLayer.level_for(0.5) == 1
    assert TiledImageLayer.level_for(0.3) == 1
    assert TiledImageLayer.level_for(0.2) == 2
    assert TiledImageLayer.level_for(4.0) == 0


def test_unreadable_image_is_reported_once(qtbot, tmp_path, monkeypatch) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    w = shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(images)
    text = w.position_label.text()
    assert text.startswith("Image 1 of 1 · broken.jpg · ") and str(images) not in text
    assert w.statusBar().currentMessage() == ""


def test_detections_panel_tiled_box(qtbot, tmp_path) -> None:  # noqa: ANN001
    """The Detections panel's "Tiled" box: a tiled raw output (one pass per tile + the whole
    image) in full-image pixels; both outputs stay cached, so toggling back runs nothing."""
    import importlib.util

    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QDockWidget

    from workbench.engine.tiling import overlap_px, tile_grid
    from workbench.gui.panels.detections import DetectionsPanel

    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    ckpt, scenes = helpers.make_checkpoint(tmp_path, steps=2)
    images = tmp_path / "images"
    images.mkdir()
    big = cv2.resize(cv2.imread(str(scenes[0])), (500, 380), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(images / "wide.png"), big)
    window = shown_window(qtbot, tmp_path / "settings.ini")
    assert window.open_project(images)
    panel = DetectionsPanel(window)
    dock = QDockWidget("Detections", window)
    dock.setObjectName("test-detections-dock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    try:
        with qtbot.waitSignal(panel.raw_ready, timeout=30_000):
            panel.set_checkpoint(ckpt)
        assert panel.detector.forward_images == 1
        assert not panel.tile_size.isEnabled()
        panel.tile_size.setValue(256)

        def click(box) -> None:  # noqa: ANN001 - on the check box's indicator
            box.ensurePolished()
            QTest.mouseClick(box, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                             QPoint(8, box.height() // 2))

        with qtbot.waitSignal(panel.raw_ready, timeout=30_000):
            click(panel.tiled)
        assert panel.tiled.isChecked() and panel.tile_size.isEnabled()
        n_tiles = len(tile_grid(500, 380, 256, overlap_px(256, 0.2)))
        assert n_tiles == 6  # 3 columns (x 0, 205, 244) x 2 rows (y 0, 124)
        assert panel.detector.forward_images == 1 + n_tiles + 1  # tiles + the whole image
        raw = panel._raw
        assert raw.image_size == (500, 380)
        assert float(raw.boxes[:, 2].max()) <= 500 and float(raw.boxes[:, 3].max()) <= 380
        click(panel.tiled)  # back to whole-image detection: cached, no network pass
        assert not panel.tiled.isChecked()
        assert panel._raw is not raw and panel.detector.forward_images == 8
        click(panel.tiled)
        assert panel._raw is raw and panel.detector.forward_images == 8
    finally:
        panel.shutdown()
