"""Large-photo benchmark: opening a 108-megapixel JPEG (12000 × 9000) on the canvas.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_large_image.py [--repeat 3]

Generates the JPEG (photo-like: smooth shading, texture and edges; quality 90), then measures,
each in a fresh process so that peak memory (``ru_maxrss`` from ``wait4``) is that step's own:

* **canvas, first paint**: the canvas's loader (:class:`workbench.gui.images.ImageCache`)
  returns a :class:`~workbench.gui.canvas.bigimage.LargeImage` (a libjpeg-reduced preview) and
  the view paints it — what the user waits for after pressing D;
* **canvas, 100 % tiles**: the same, then the background full decode, then a zoom to 100 %
  until the visible full-resolution tiles are painted (the whole session's peak memory);
  then a pan over the whole image at 100 % (every tile made once; the LRU keeps at most
  ``MAX_TILES``);
* the baselines in the same run: decoding the whole image with Pillow (``Image.open().load()``
  + ``numpy.asarray``), with OpenCV (``cv2.imread``), with the one decoder
  (``workbench.core.images.decode_image``), and Qt's ``QImageReader`` (which refuses it);
* a bare interpreter with the same imports (the memory every row starts from).

Prints one table (median time of ``--repeat`` runs; peak RSS — ``VmHWM``, the process's
high-water mark since it started — of the last).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
W, H = 12000, 9000

PRELUDE = r"""
import json, os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
path = sys.argv[1]
import numpy as np, cv2
from PIL import Image
from PySide6.QtWidgets import QApplication
from PySide6.QtGui import QImageReader
import workbench.core.images, workbench.gui.images, workbench.gui.canvas.view
app = QApplication([])
def done(**kw):
    # peak RSS of this process since exec (VmHWM; ru_maxrss would count the parent's pages)
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    kw["peak_mib"] = int(hwm) / 1024
    print(json.dumps(kw)); sys.stdout.flush()
t0 = time.perf_counter()
"""

CHILDREN = {
    "bare (same imports)": "done(seconds=0.0)",
    "canvas: first paint (preview)": r"""
from workbench.gui.canvas.view import CanvasView
from workbench.gui.images import ImageCache
view = CanvasView(); view.resize(1440, 900); view.show(); app.processEvents()
t0 = time.perf_counter()
image = ImageCache().get(path)
view.canvas_scene().set_image(image); view.fit()
view.viewport().repaint()
first = time.perf_counter() - t0
done(seconds=first, note=f"preview {image.preview.width()}x{image.preview.height()}")
image.release()
""",
    "canvas: + full decode, zoom 100 %, tiles": r"""
from workbench.gui.canvas.view import CanvasView
from workbench.gui.images import ImageCache
view = CanvasView(); view.resize(1440, 900); view.show(); app.processEvents()
t0 = time.perf_counter()
image = ImageCache().get(path)
scene = view.canvas_scene(); scene.set_image(image); view.fit()
view.viewport().repaint()
first = time.perf_counter() - t0
while not image.raster_ready():
    app.processEvents(); time.sleep(0.005)
raster = time.perf_counter() - t0
view.actual_size(); view.centerOn(6000, 4500)
layer = scene.tiles
def settled():
    rect = view.mapToScene(view.viewport().rect()).boundingRect()
    need = layer.needed(view.zoom(), rect)
    return need and all(k in layer.items for k in need)
while not settled():
    app.processEvents(); time.sleep(0.002)
view.viewport().repaint()
tiles = time.perf_counter() - t0
shown = len(layer.items)
most = 0
for cy in range(450, 9000, 900):  # pan row by row over the whole image at 100 %
    for cx in range(700, 12000, 1400):
        view.centerOn(cx, cy)
        while not settled():
            app.processEvents(); time.sleep(0.002)
        view.viewport().repaint()
        most = max(most, len(layer.items))
done(seconds=tiles, note=f"preview {first:.2f} s, raster {raster:.2f} s; {shown} tiles; "
     f"pan: {layer.tiles_made} made, at most {most} kept "
     f"({most * 4 * 1024 * 1024 / 2**20:.0f} MiB)")
""",
    "Pillow: open + load + numpy": r"""
im = Image.open(path); im.load(); a = np.asarray(im)
done(seconds=time.perf_counter() - t0, note=f"{a.shape[1]}x{a.shape[0]}")
""",
    "OpenCV: cv2.imread": r"""
a = cv2.imread(path)
done(seconds=time.perf_counter() - t0, note=f"{a.shape[1]}x{a.shape[0]}")
""",
    "workbench.core.images.decode_image": r"""
d = workbench.core.images.decode_image(path)
done(seconds=time.perf_counter() - t0, note=f"{d.width}x{d.height}")
""",
    "Qt: QImageReader.read()": r"""
r = QImageReader(path); img = r.read()
done(seconds=time.perf_counter() - t0,
     note="refused: " + r.errorString() if img.isNull() else f"{img.width()}x{img.height()}")
""",
}


def make_jpeg(path: Path) -> None:
    """A photo-like 12000 × 9000 JPEG: smooth low-frequency shading, mid-frequency texture,
    sharp edges, quality 90 (about 20 MB, like a phone's 108 MP photo)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    low = cv2.resize(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8), (W, H),
                     interpolation=cv2.INTER_CUBIC)
    mid = cv2.resize(rng.integers(0, 64, (900, 1200, 3), dtype=np.uint8), (W, H),
                     interpolation=cv2.INTER_LINEAR)
    img = cv2.add(low, mid)
    for _ in range(400):  # objects with sharp edges
        x, y = int(rng.integers(0, W - 200)), int(rng.integers(0, H - 200))
        s = int(rng.integers(20, 200))
        cv2.rectangle(img, (x, y), (x + s, y + s), tuple(int(v) for v in rng.integers(0, 256, 3)),
                      -1)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def run_child(code: str, path: Path) -> tuple[dict, float]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", PRELUDE + code, str(path)], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, float(result["peak_mib"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo_108mp.jpg"
        t = time.perf_counter()
        # in a child process: the parent stays small (and its pages out of the children)
        subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                        "import bench_large_image as b; b.make_jpeg(__import__('pathlib')"
                        ".Path(sys.argv[2]))", str(Path(__file__).parent), str(path)],
                       check=True)
        print(f"{path.name}: {W} x {H} = {W * H / 1e6:.0f} MP, "
              f"{path.stat().st_size / 2**20:.1f} MiB JPEG (made in {time.perf_counter() - t:.1f} s)")
        print(f"{'step':44s} {'seconds':>8s} {'peak RSS':>9s}  note")
        for name, code in CHILDREN.items():
            times, last, rss = [], {}, 0.0
            for _ in range(max(1, args.repeat)):
                last, rss = run_child(code, path)
                times.append(float(last["seconds"]))
            print(f"{name:44s} {statistics.median(times):8.2f} {rss:7.0f} MiB  "
                  f"{last.get('note', '')}")
    import platform

    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"median of {args.repeat} runs; each step in a fresh process (peak RSS includes the "
          "interpreter with numpy, OpenCV, Pillow and PySide6 loaded: see the 'bare' row)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
