"""The redraw path of box layers (issue 14, "Redraw at scale"): what is drawn stays what it was
at normal zoom — class colours, dashed false positives, labels under a model box's bottom-left
corner — while labels of boxes smaller on screen than their text are left out, boxes outside
the viewport are skipped, and every overlay stays one batched item however many boxes it has.
Timing lives in ``bench/bench_redraw.py``, not here."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from workbench.core.detections import ImageDetections
from workbench.gui.canvas.layers import LABEL_PX, BoxLayer
from workbench.gui.panels.detections_overlay import DetectionsOverlay

RED, BLUE = QColor(230, 30, 30), QColor(30, 60, 230)
WHITE = (255, 255, 255)


def _render(scene: QGraphicsScene, source: QRectF, scale: float = 1.0) -> np.ndarray:
    """``source`` (scene coordinates) rendered at ``scale`` onto white, as ``(H, W, 3)`` RGB."""
    w, h = round(source.width() * scale), round(source.height() * scale)
    image = QImage(w, h, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, w, h), source)
    painter.end()
    bgra = np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine() // 4, 4)
    return bgra[:, :w, 2::-1].astype(int)


def _layer(boxes, colors, labels=None, **kw) -> tuple[QGraphicsScene, BoxLayer]:  # noqa: ANN001
    scene = QGraphicsScene(QRectF(0, 0, 400, 300))
    layer = BoxLayer("detections")
    scene.addItem(layer)
    layer.set_boxes(np.asarray(boxes, dtype=np.float64), colors, labels, **kw)
    return scene, layer


def _close(pixel: np.ndarray, color: QColor, tol: int = 0) -> bool:
    return bool(np.abs(pixel - (color.red(), color.green(), color.blue())).max() <= tol)


def test_outlines_in_their_class_colours_at_known_pixels(qtbot) -> None:  # noqa: ANN001
    scene, _ = _layer([[20, 20, 120, 100], [200, 50, 300, 250]], [RED, BLUE], width=2.0)
    img = _render(scene, QRectF(0, 0, 400, 300))
    for x, y in ((70, 20), (20, 60), (120, 60), (70, 100)):  # the red box's four sides
        assert _close(img[y, x], RED), (x, y, img[y, x])
    for x, y in ((250, 50), (200, 150), (300, 150), (250, 250)):
        assert _close(img[y, x], BLUE), (x, y, img[y, x])
    assert tuple(img[60, 70]) == WHITE and tuple(img[150, 250]) == WHITE  # outlines only
    # a 2 px pen: two rows of the top side, not three
    column = img[15:26, 70]
    assert sum(_close(p, RED) for p in column) == 2


def test_false_positives_are_dashed(qtbot) -> None:  # noqa: ANN001
    scene, _ = _layer([[20, 40, 380, 200]], RED, width=1.0, style=Qt.PenStyle.DashLine)
    img = _render(scene, QRectF(0, 0, 400, 300))
    row = next(y for y in (39, 40, 41) if any(_close(p, RED) for p in img[y, 30:370]))
    on = np.asarray([_close(p, RED) for p in img[row, 30:370]])
    runs = np.flatnonzero(np.diff(on.astype(int)) != 0)
    assert 0.4 < on.mean() < 0.9  # dashes and gaps
    assert len(runs) >= 20  # many of them along 340 px


def _label_rows(img: np.ndarray, x: int, color: QColor, skip: tuple[int, ...]) -> list[int]:
    """Rows at column ``x`` showing the label background (``color`` at alpha 200 over white)."""
    bg = np.asarray([color.red(), color.green(), color.blue()]) * 200 / 255 + 255 * 55 / 255
    return [y for y in range(img.shape[0])
            if all(abs(y - s) > 1 for s in skip) and np.abs(img[y, x] - bg).max() <= 3]


def test_label_under_the_bottom_left_corner_when_the_box_is_taller_than_the_text(qtbot) -> None:  # noqa: ANN001, E501
    scene, _ = _layer([[40, 60, 200, 140]], RED, ["cat 0.93"], width=2.0, labels_below=True)
    img = _render(scene, QRectF(0, 0, 400, 300))
    rows = _label_rows(img, 43, RED, skip=(60, 140))
    assert len(rows) >= 8
    assert min(rows) >= 140 and max(rows) <= 140 + 22
    # text drawn on it (white on this red): pixels far from the background inside the label
    label = img[min(rows):max(rows) + 1, 40:90]
    assert (np.abs(label - img[rows[0], 43]).max(-1) > 60).sum() >= 20


def test_no_label_when_the_box_is_smaller_than_the_text_on_screen(qtbot) -> None:  # noqa: ANN001
    line = QFontMetrics(_font()).height()
    flat = [60.0, 60.0, 200.0, 60.0 + line - 3]  # shorter than the text at 100 %
    scene, _ = _layer([flat], RED, ["cat 0.93"], width=1.0, labels_below=True)
    img = _render(scene, QRectF(0, 0, 400, 300))
    assert _label_rows(img, 63, RED, skip=(60, round(flat[3]))) == []
    # the same box zoomed in 4x is tall enough: its label is drawn
    img = _render(scene, QRectF(0, 0, 400, 300), scale=4.0)
    assert len(_label_rows(img, 4 * 60 + 3, RED, skip=(240, round(4 * flat[3])))) >= 8


def test_label_hidden_when_zoomed_out_and_shown_at_normal_zoom(qtbot) -> None:  # noqa: ANN001
    scene, _ = _layer([[40, 60, 200, 140]], BLUE, ["dog 0.50"], width=2.0, labels_below=True)
    assert len(_label_rows(_render(scene, QRectF(0, 0, 400, 300)), 43, BLUE,
                           skip=(60, 140))) >= 8
    small = _render(scene, QRectF(0, 0, 400, 300), scale=0.125)  # the box is 10 px tall
    assert _label_rows(small, 6, BLUE, skip=(7, 8, 17, 18)) == []


def _font() -> QFont:
    font = QFont()
    font.setPixelSize(LABEL_PX)
    return font


def test_label_pixmap_matches_text_drawn_directly(qtbot) -> None:  # noqa: ANN001
    """The cached label equals a label drawn the direct way (background, then text) over the
    same image, up to 8-bit rounding of the translucent background."""
    text = "person 0.87 TP"
    scene, _ = _layer([[50, 50, 250, 200]], RED, [text], width=1.0, labels_below=True)
    got = _render(scene, QRectF(0, 0, 400, 300))
    image = QImage(400, 300, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    painter.setFont(_font())
    rect = painter.fontMetrics().boundingRect(text).adjusted(-3, -1, 3, 1)
    rect = QRect(50, 200, rect.width(), rect.height())
    bg = QColor(RED)
    bg.setAlpha(200)
    painter.fillRect(rect, bg)
    painter.setPen(Qt.GlobalColor.black if bg.lightness() > 140 else Qt.GlobalColor.white)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    bgra = np.frombuffer(image.constBits(), np.uint8).reshape(300, -1, 4)[:, :400]
    want = bgra[..., 2::-1].astype(int)
    # (the label's top row lies over the box's bottom side, which the reference lacks)
    inside = (slice(rect.top() + 1, rect.bottom() + 1), slice(rect.left(), rect.right() + 1))
    assert np.abs(got[inside] - want[inside]).max() <= 8


def test_boxes_outside_the_view_are_skipped_without_changing_the_pixels(qtbot) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 360, (80, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 80, (80, 2))], 1)
    colors = [RED if i % 2 else BLUE for i in range(80)]
    labels = [f"c {i}" for i in range(80)]
    scene, _ = _layer(boxes, colors, labels, width=2.0, labels_below=True)
    whole = _render(scene, QRectF(0, 0, 400, 300), scale=2.0)
    part = _render(scene, QRectF(100, 80, 120, 90), scale=2.0)  # most boxes outside
    assert np.array_equal(part, whole[160:340, 200:440])


def _detections(n: int) -> ImageDetections:
    rng = np.random.default_rng(n)
    xy = rng.uniform(0, 300, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 90, (n, 2))], 1)
    names = np.asarray(["cat", "dog", "person"])[np.arange(n) % 3]
    return ImageDetections("img", boxes, np.sort(rng.uniform(0, 1, n))[::-1], names)


@pytest.mark.parametrize("n", [3, 500])
def test_one_batched_item_per_overlay_layer_at_any_count(qtbot, n: int) -> None:  # noqa: ANN001
    scene = QGraphicsScene(QRectF(0, 0, 400, 400))
    before = len(scene.items())
    overlay = DetectionsOverlay(scene)
    det = _detections(n)
    suppressed = (det.boxes[: n // 2] + 3, det.labels[: n // 2], det.boxes[: n // 2])
    overlay.show(det, None, None, suppressed)
    assert len(scene.items()) - before == len(overlay.layers) == 6
    assert len(overlay.kept) == n and len(overlay.fp) == 0
    assert len(overlay.suppressed) == len(overlay.links) == n // 2
    # labels for the best MAX_LABELS only, empty strings after
    from workbench.gui.panels.detections_overlay import MAX_LABELS

    texts = overlay.kept._labels
    assert sum(bool(t) for t in texts) == min(n, MAX_LABELS)
    assert texts[0].startswith(str(det.labels[0]))
