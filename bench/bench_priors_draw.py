"""Frame time of the canvas with every SSD300 prior drawn (8,732 boxes), panning and zooming.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_priors_draw.py [--frames N] [--rpn]

A frame is one full repaint of the 1200x800 canvas viewport (``viewport().grab()``), each at a
new zoom/pan, on a raccoon photo. Rows, all measured in this run:

* image only (the floor);
* all 8,732 paper-VOC priors in one :class:`workbench.gui.canvas.layers.BoxLayer` (what the
  Priors panel draws with "All priors of the map" for every map);
* the same boxes as 8,732 ``QGraphicsRectItem`` (one item per box, the naive way);
* the same BoxLayer with its large-layer fast path switched off (``LARGE`` raised), i.e.
  translucent cosmetic lines redrawn every frame;
* ``--rpn``: Faster R-CNN R50-FPN's finest map on that photo (anchors from torchvision's
  generator) in one BoxLayer.

``build ms`` is the time to hand the boxes to the scene (``set_boxes`` / adding the items).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPen  # noqa: E402
from PySide6.QtWidgets import QApplication, QGraphicsRectItem  # noqa: E402

from workbench.core.priors import ssd300_paper_priors  # noqa: E402
from workbench.gui.canvas.layers import BoxLayer  # noqa: E402
from workbench.gui.canvas.view import CanvasView  # noqa: E402

PHOTO = ROOT.parent / "shared" / "datasets" / "raccoon" / "images" / "raccoon-1.jpg"


def frames(view: CanvasView, n: int) -> tuple[float, float, float, float]:
    """Mean ms per repaint: ``n`` frames panning at 2x zoom, then ``n`` frames zooming
    between 0.6x and 3x (a new scale every frame); wall ms then CPU ms (this process) of each."""
    app = QApplication.instance()
    view.fit()
    app.processEvents()
    view.set_zoom(2.0)
    view.viewport().grab()  # warm-up (fills a device cache where there is one)
    pan, zoom, pan_cpu, zoom_cpu = [], [], [], []
    for i in range(n):
        view.centerOn(325 + 150 * np.cos(i / 7), 208 + 90 * np.sin(i / 9))
        start, cpu = time.perf_counter(), time.process_time()
        view.viewport().grab()
        pan.append(time.perf_counter() - start)
        pan_cpu.append(time.process_time() - cpu)
    for i in range(n):
        view.set_zoom(0.6 + 2.4 * (0.5 + 0.5 * np.sin(i / 5)))
        start, cpu = time.perf_counter(), time.process_time()
        view.viewport().grab()
        zoom.append(time.perf_counter() - start)
        zoom_cpu.append(time.process_time() - cpu)
    return tuple(1000 * float(np.mean(v)) for v in (pan, zoom, pan_cpu, zoom_cpu))  # type: ignore


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rpn", action="store_true", help="also R50-FPN's finest anchor map")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    image = QImage(str(PHOTO))
    if image.isNull():
        print(f"cannot read {PHOTO}", file=sys.stderr)
        return 2
    view = CanvasView()
    view.resize(1200, 800)
    view.show()
    view.canvas_scene().set_image(image)
    scene = view.scene()
    boxes = ssd300_paper_priors().for_image(image.width(), image.height()).all_boxes()
    rows: list[tuple[str, int, float, tuple[float, float, float, float]]] = []

    rows.append(("image only", 0, 0.0, frames(view, args.frames)))

    layer = BoxLayer("bench", z=20)
    scene.addItem(layer)
    start = time.perf_counter()
    layer.set_boxes(boxes, QColor(80, 200, 255, 120), width=1.0)
    build = 1000 * (time.perf_counter() - start)
    rows.append(("BoxLayer, 8,732 priors", len(boxes), build, frames(view, args.frames)))
    scene.removeItem(layer)

    BoxLayer.LARGE = 10**9  # the same layer without the cache / opaque-lines path
    layer = BoxLayer("bench-slow", z=20)
    scene.addItem(layer)
    start = time.perf_counter()
    layer.set_boxes(boxes, QColor(80, 200, 255, 120), width=1.0)
    build = 1000 * (time.perf_counter() - start)
    rows.append(("BoxLayer, fast path off", len(boxes), build, frames(view, args.frames)))
    scene.removeItem(layer)
    BoxLayer.LARGE = 2000

    pen = QPen(QColor(80, 200, 255, 120), 1.0)
    pen.setCosmetic(True)
    start = time.perf_counter()
    items = []
    for x1, y1, x2, y2 in boxes.tolist():
        item = QGraphicsRectItem(x1, y1, x2 - x1, y2 - y1)
        item.setPen(pen)
        item.setZValue(20)
        scene.addItem(item)
        items.append(item)
    build = 1000 * (time.perf_counter() - start)
    rows.append(("QGraphicsRectItem each", len(boxes), build, frames(view, args.frames)))
    for item in items:
        scene.removeItem(item)

    if args.rpn:
        from workbench.engine.anchor_extract import extract_priors

        fm = extract_priors("fasterrcnn_resnet50_fpn",
                            photo_size=(image.height(), image.width())).feature_maps[0]
        layer = BoxLayer("bench-rpn", z=20)
        scene.addItem(layer)
        start = time.perf_counter()
        layer.set_boxes(fm.boxes, QColor(80, 200, 255, 120), width=1.0)
        build = 1000 * (time.perf_counter() - start)
        rows.append((f"BoxLayer, R50-FPN map {fm.name}", fm.count, build,
                     frames(view, max(5, args.frames // 6))))
        scene.removeItem(layer)

    print(f"canvas 1200x800 on {PHOTO.name} ({image.width()}x{image.height()}), "
          f"{args.frames} pan + {args.frames} zoom frames, offscreen raster")
    print("ms = wall per frame; cpu = CPU ms of this process per frame (robust to other load)")
    print(f"{'what':<34} {'boxes':>8} {'build ms':>9} | {'pan ms':>7} {'cpu':>6} {'fps':>5} | "
          f"{'zoom ms':>7} {'cpu':>6} {'fps':>5}")
    for name, n, build, (pan, zoom, pan_cpu, zoom_cpu) in rows:
        print(f"{name:<34} {n:>8,} {build:>9.1f} | {pan:>7.2f} {pan_cpu:>6.2f} "
              f"{1000 / pan:>5.0f} | {zoom:>7.2f} {zoom_cpu:>6.2f} {1000 / zoom:>5.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
