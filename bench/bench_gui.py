"""Labeling-window benchmark: start-up, canvas repaint with many boxes, image switching.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py [--images DIR --annotations DIR]

Prints one table. Baselines are measured in the same run:
* start-up vs a bare PySide6 "hello world" window (same interpreter, same machine);
* repaint vs the naive design (one QGraphicsRectItem + QGraphicsSimpleTextItem per box, what
  LabelImg-style editors do) in the same view at the same zoom;
* image switch vs decoding the same JPEG alone with QImageReader.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"

STARTUP_CHILD = r"""
import sys, time, os
t0 = float(sys.argv[1])
from workbench.gui.app import build_window, create_app
from workbench.gui.settings import Settings
app = create_app()
images = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
ann = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
w = build_window(images, ann, Settings(os.environ["WORKBENCH_SETTINGS"]))
w.resize(1440, 900); w.show(); app.processEvents()
w.canvas.viewport().repaint()
print(time.time() - t0, "torch" in sys.modules)
"""

HELLO_CHILD = r"""
import sys, time
t0 = float(sys.argv[1])
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([]); l = QLabel("hello"); l.resize(1440, 900); l.show(); app.processEvents()
l.repaint()
print(time.time() - t0, "torch" in sys.modules)
"""


def _child(code: str, *args: str) -> tuple[float, bool]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        env["WORKBENCH_SETTINGS"] = str(Path(tmp) / "s.ini")
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", code, str(t0), *args], env=env,
                             capture_output=True, text=True, check=True, cwd=ROOT)
    seconds, torch = out.stdout.split()[-2:]
    return float(seconds), torch == "True"


def bench_startup(images: Path, annotations: Path, rounds: int = 5) -> list[tuple]:
    """Median of ``rounds``; the variants are interleaved within each round so that the load
    of a shared machine affects them alike."""
    cases = [("bare PySide6 window (baseline)", HELLO_CHILD, ()),
             ("empty state", STARTUP_CHILD, ("", "")),
             ("raccoon project, first image", STARTUP_CHILD, (str(images), str(annotations)))]
    times: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    torch: dict[str, bool] = {label: False for label, _, _ in cases}
    for _ in range(rounds):
        for label, code, args in cases:
            seconds, imported = _child(code, *args)
            times[label].append(seconds)
            torch[label] |= imported
    hello = statistics.median(times[cases[0][0]])
    rows = []
    for label, _, _ in cases:
        t = statistics.median(times[label])
        note = "" if label.startswith("bare") else ("torch imported!" if torch[label]
                                                    else "no torch")
        rows.append(("start → window shown", label, t * 1e3, t / hello, note))
    return rows


def _median_ms(fn, repeat: int) -> float:  # noqa: ANN001
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def bench_repaint(images: Path, annotations: Path) -> list[tuple]:
    import numpy as np
    from PySide6.QtGui import QColor, QPen
    from PySide6.QtWidgets import QApplication, QGraphicsRectItem, QGraphicsSimpleTextItem

    from workbench.core.annotation import VocObject
    from workbench.gui.app import build_window
    from workbench.gui.canvas.palette import class_color
    from workbench.gui.settings import Settings

    tmp = tempfile.TemporaryDirectory()
    window = build_window(images, annotations, Settings(Path(tmp.name) / "s.ini"))
    window.resize(1440, 900)
    window.show()
    QApplication.processEvents()
    scene = window.canvas.canvas_scene()
    w, h = window.canvas.image_size()
    rng = np.random.default_rng(0)
    rows = []
    names = ["raccoon", "dog", "cat", "person", "car"]
    for n in (100, 1000, 10000):
        xy = rng.uniform(0, 1, size=(n, 2)) * [w * 0.9, h * 0.9]
        wh = rng.uniform(8, 60, size=(n, 2))
        boxes = np.concatenate([xy, np.minimum(xy + wh, [w, h])], axis=1)
        objects = [VocObject(names[i % 5], tuple(map(float, b))) for i, b in enumerate(boxes)]
        for zoom_label in ("fit", "400 %"):
            scene.set_objects(objects)
            if zoom_label == "fit":
                window.canvas.fit()
            else:
                window.canvas.set_zoom(4.0)
                window.canvas.centerOn(w / 2, h / 2)
            QApplication.processEvents()
            ours = _median_ms(window.canvas.viewport().repaint, 15)
            # naive baseline: one item per box (+ its label) in the same scene and view
            scene.set_objects([])
            items = []
            for obj in objects:
                rect = QGraphicsRectItem(obj.box[0], obj.box[1], obj.box[2] - obj.box[0],
                                         obj.box[3] - obj.box[1])
                pen = QPen(class_color(obj.name), 2)
                pen.setCosmetic(True)
                rect.setPen(pen)
                rect.setZValue(20)
                label = QGraphicsSimpleTextItem(obj.name, rect)
                label.setBrush(QColor("white"))
                label.setPos(obj.box[0], obj.box[1] - 14)
                label.setFlag(QGraphicsSimpleTextItem.GraphicsItemFlag.ItemIgnoresTransformations)
                scene.addItem(rect)
                items.append(rect)
            QApplication.processEvents()
            naive = _median_ms(window.canvas.viewport().repaint, 5 if n >= 10000 else 15)
            for item in items:
                scene.removeItem(item)
            del items
            rows.append((f"repaint, {n:,} boxes", zoom_label, ours, ours / naive,
                         f"naive item-per-box: {naive:.1f} ms"))
    scene.set_objects(window.current_annotation().objects)
    window.close()
    tmp.cleanup()
    return rows


def bench_switch(images: Path, annotations: Path) -> list[tuple]:
    from PySide6.QtGui import QImageReader
    from PySide6.QtWidgets import QApplication

    from workbench.gui.app import build_window
    from workbench.gui.settings import Settings

    tmp = tempfile.TemporaryDirectory()
    window = build_window(images, annotations, Settings(Path(tmp.name) / "s.ini"))
    window.resize(1440, 900)
    window.show()
    window.scanner.run_to_end()
    QApplication.processEvents()
    n = len(window.entries())

    def switch(row: int) -> float:
        t = time.perf_counter()
        window.show_row(row)
        window.canvas.viewport().repaint()
        return time.perf_counter() - t

    paced, decode = [], []
    for row in range(1, n // 2):  # a person looks at each image before pressing D
        until = time.perf_counter() + 0.05
        while time.perf_counter() < until:  # the event loop runs while the person looks
            QApplication.processEvents()
            time.sleep(0.002)
        paced.append(switch(row))
        t = time.perf_counter()
        reader = QImageReader(str(window.current_image_path()))
        reader.setAutoTransform(True)
        reader.read()
        decode.append(time.perf_counter() - t)
    rapid = [switch(row) for row in range(n // 2, n)]  # D held down: no time to prefetch
    back = [switch(row) for row in range(n - 2, n - 12, -1)]  # A: images seen a moment ago
    window.close()
    tmp.cleanup()
    dec = statistics.median(decode)

    def row(label: str, times: list[float], note: str) -> tuple:
        med = statistics.median(times)
        p95 = sorted(times)[int(0.95 * len(times))]
        return ("image switch, raccoon", f"{label} (median of {len(times)})", med * 1e3,
                med / dec, f"p95 {p95 * 1e3:.1f} ms; {note}")

    return [
        row("D, 50 ms apart", paced, f"next image decoded in the background; JPEG decode "
            f"alone: {dec * 1e3:.1f} ms (baseline)"),
        row("D back-to-back", rapid, "decode on the spot"),
        row("A, recent image", back, "decoded image cached"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=RACCOON / "images")
    parser.add_argument("--annotations", type=Path, default=RACCOON / "annotations")
    args = parser.parse_args()
    from workbench.gui.app import create_app

    create_app()
    rows = bench_startup(args.images, args.annotations)
    rows += bench_repaint(args.images, args.annotations)
    rows += bench_switch(args.images, args.annotations)
    print(f"Labeling window benchmark ({os.cpu_count()} CPUs, "
          f"QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM')}, window 1440x900)")
    print()
    print("| measurement | case | time (ms) | ratio vs baseline | notes |")
    print("| --- | --- | ---: | ---: | --- |")
    for what, case, ms, ratio, note in rows:
        print(f"| {what} | {case} | {ms:.1f} | {ratio:.2f}x | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
