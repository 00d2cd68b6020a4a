"""Slider → pixels: the whole redraw path of the Detections panel, Faster R-CNN R50-FPN-sized.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_redraw.py [--moves N] [--repeats R]

What one slider move costs until the canvas shows it, in the real labeling window
(:class:`MainWindow`, its :class:`CanvasView`, a 1600×1200 photo, the Detections panel docked):
the slider's ``valueChanged`` → post-processing (threshold, ``batched_nms``, top-k, suppressors)
→ overlay layers, the detections table and the panel's labels → the event loop, as the
application runs it, until the canvas has painted (offscreen raster): whatever else that loop
turn lays out and repaints (the table, the stats line) is part of the time, as it is before the
user sees the pixels. ``post`` is the panel's own post-processing time, ``paint`` the canvas's
paint event alone, ``CPU`` the GUI thread's CPU time for the whole move (``time.thread_time``:
what the move costs when the machine is not shared — on a loaded machine wall time waits for
the CPU too).

The raw output is synthesised with the shape of a Faster R-CNN R50-FPN's (torchvision's
``box_detections_per_img`` is bypassed in raw mode): 1,000 proposals clustered around 8 objects
plus background clutter, each with a class-specific box and a softmax score for 20 VOC classes,
kept above the 0.001 floor — the network is not part of the slider path.

Settings (the issue's four): ``moves`` = random moves of the three sliders (as
``bench_tuning.py``), with and without "Show suppressed"; ``worst`` = score 0.001, NMS 0.3,
top-k 500 (the score slider stepping 0.001↔0.002), with and without the 200 suppressed boxes and
their links. Each at fit zoom and zoomed in 3× on the image centre. ``--repeats`` runs every row
that many times (interleaved) and prints the median of the per-run p50/p95/max and their spread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

VOC = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
       "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
       "train", "tvmonitor"]
IMAGE_SIZE = (1600, 1200)


def fasterrcnn_like_raw(size: tuple[int, int] = IMAGE_SIZE, proposals: int = 1000,
                        objects: int = 8, seed: int = 0):  # noqa: ANN201
    """A Faster R-CNN R50-FPN-shaped raw output: ``proposals`` × 20 class-specific boxes with
    softmax scores over 21 classes (background dominant, high on proposals that cover one of
    ``objects`` objects), entries above 0.001 kept — what ``_roi_heads_raw`` returns."""
    from workbench.engine.postprocess import RawDetections

    rng = np.random.default_rng(seed)
    w, h = size
    wh = rng.uniform(0.08, 0.35, (objects, 2)) * (w, h)
    xy = rng.uniform(0, 1, (objects, 2)) * ((w, h) - wh)
    gt = np.concatenate([xy, xy + wh], 1)
    cls = rng.integers(0, 20, objects)
    n_near = int(proposals * 0.7)  # RPN proposals crowd around objects
    which = rng.integers(0, objects, n_near)
    g = gt[which]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    jitter = rng.normal(0, 0.15, (n_near, 4)) * np.stack([gw, gh, gw, gh], 1)
    near = g + jitter
    cw, ch = rng.uniform(20, 500, (2, proposals - n_near))
    cx, cy = rng.uniform(0, w, proposals - n_near), rng.uniform(0, h, proposals - n_near)
    clutter = np.stack([cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2], 1)
    props = np.concatenate([near, clutter])
    props[:, [0, 2]] = np.clip(np.sort(props[:, [0, 2]], 1), 0, w)
    props[:, [1, 3]] = np.clip(np.sort(props[:, [1, 3]], 1), 0, h)
    # class-specific regression: each class nudges the proposal its own way
    pw, ph = props[:, 2] - props[:, 0] + 1, props[:, 3] - props[:, 1] + 1
    deltas = rng.normal(0, 0.05, (proposals, 20, 4)) * np.stack([pw, ph, pw, ph], 1)[:, None]
    boxes = props[:, None, :] + deltas
    boxes[..., [0, 2]] = np.clip(np.sort(boxes[..., [0, 2]], -1), 0, w)
    boxes[..., [1, 3]] = np.clip(np.sort(boxes[..., [1, 3]], -1), 0, h)
    from workbench.core.boxes import iou_matrix

    ious = iou_matrix(props, gt)
    logits = rng.normal(0, 1.5, (proposals, 21))
    logits[:, 0] += 2.5  # background dominates
    for k in range(objects):
        logits[:, cls[k] + 1] += 14.0 * ious[:, k]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    p, c = np.nonzero(probs[:, 1:] > 0.001)
    return RawDetections.from_unsorted(boxes[p, c], probs[p, c + 1], c + 1, score_floor=0.001,
                                       image_size=size)


class StubDetector:
    """What the panel asks of a :class:`RawDetector`, serving one cached raw output."""

    name = "fasterrcnn_resnet50_fpn (synthetic raw output)"
    device = "cpu"
    classes = VOC

    def __init__(self, raw) -> None:  # noqa: ANN001
        from workbench.engine.postprocess import PostprocessSettings

        self._raw = raw
        self.settings = PostprocessSettings(0.5, 0.5, 100)
        self.forward_images = 0

    def is_cached(self, _path: Path) -> bool:
        return True

    def raw(self, _path: Path):  # noqa: ANN201
        return self._raw


def _photo(path: Path, size: tuple[int, int]) -> None:
    """A smooth photo-like JPEG (gradients and blobs; noise would make the JPEG huge)."""
    from PIL import Image

    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w * 200 + 30, y / h * 180 + 40,
                    120 + 80 * np.sin(x / 90) * np.cos(y / 70)], -1)
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path, quality=90)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _time_canvas_paints() -> list[float]:
    """Record the duration (ms) of every canvas paint event from now on."""
    from workbench.gui.canvas.view import CanvasView

    paints: list[float] = []
    paint_event = CanvasView.paintEvent

    def timed(self, event):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        paint_event(self, event)
        paints.append((time.perf_counter() - start) * 1000)

    CanvasView.paintEvent = timed  # type: ignore[method-assign]
    return paints


def run(moves: int, repeats: int) -> list[tuple[str, ...]]:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QDockWidget

    from workbench.gui.main_window import MainWindow
    from workbench.gui.panels.detections import DetectionsPanel
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    paints = _time_canvas_paints()
    tmp = Path(tempfile.mkdtemp(prefix="bench_redraw_"))
    folder = tmp / "images"
    folder.mkdir()
    _photo(folder / "photo.jpg", IMAGE_SIZE)
    raw = fasterrcnn_like_raw()
    window = MainWindow(Settings(tmp / "settings.ini"), panels=[])
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    assert window.open_project(folder)
    panel = DetectionsPanel(window)
    dock = QDockWidget("Detections", window)
    dock.setObjectName("bench-detections-dock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    panel.auto_run.setChecked(False)
    detector = StubDetector(raw)
    panel.set_detector(detector)
    panel.run_current()
    for _ in range(5):
        app.processEvents()
    view = window.canvas
    view.fit()
    app.processEvents()
    fit_zoom = view.zoom()
    print(f"# raw output: {len(raw):,} entries (1,000 proposals x 20 classes above 0.001); "
          f"image {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}; canvas viewport "
          f"{view.viewport().width()}x{view.viewport().height()}, fit zoom {fit_zoom:.3f}; "
          f"{moves} moves per row, {repeats} repeat(s)")

    rows_spec = [(setting, suppressed, zoom) for zoom in ("fit", "3x")
                 for setting in ("moves", "worst") for suppressed in (False, True)]
    samples: dict[tuple, list[tuple[float, float, float, float]]] = {r: [] for r in rows_spec}
    drawn: dict[tuple, str] = {}
    zooms: dict[tuple, float] = {}
    for rep in range(repeats):
        for spec in rows_spec:
            setting, suppressed, zoom = spec
            if zoom == "fit":
                view.fit()
            else:
                view.actual_size()  # leaves fit mode (a relayout would fit the image again)
                view.set_zoom(fit_zoom * 3)
                view.centerOn(IMAGE_SIZE[0] / 2, IMAGE_SIZE[1] / 2)
            panel.show_suppressed.setChecked(suppressed)
            if setting == "worst":
                panel.set_settings_values(0.001, 0.3, 500, False)
            app.processEvents()
            rng = np.random.default_rng(rep * 100 + rows_spec.index(spec))
            total, post, paint, cpu = [], [], [], []
            for m in range(moves):
                app.processEvents()  # nothing left over from the last move
                if setting != "worst":  # a new value (the same one would not move the slider)
                    slider, low, high = ((panel.score_slider, 10, 900),
                                         (panel.iou_slider, 20, 90),
                                         (panel.topk_slider, 5, 300))[m % 3]
                    value = slider.value()
                    while value == slider.value():
                        value = int(rng.integers(low, high))
                painted = len(paints)
                c0 = time.thread_time()
                t0 = time.perf_counter()
                if setting == "worst":
                    panel.score_slider.setValue(2 if panel.score_slider.value() == 1 else 1)
                else:
                    slider.setValue(value)
                deadline = t0 + 5.0
                while len(paints) == painted and time.perf_counter() < deadline:
                    app.processEvents()  # the loop turn that lays out and paints
                t2 = time.perf_counter()
                if len(paints) == painted:
                    raise RuntimeError("the canvas did not repaint after a slider move")
                cpu.append((time.thread_time() - c0) * 1000)
                total.append((t2 - t0) * 1000)
                paint.append(sum(paints[painted:]))
                post.append(panel.last_postprocess_ms)
            samples[spec].append((_pct(post, 50), _pct(paint, 50), _pct(total, 50),
                                  _pct(total, 95), max(total), _pct(cpu, 50), _pct(cpu, 95)))
            zooms[spec] = view.zoom()
            if setting == "worst":
                ov = panel.overlay
                drawn[spec] = (f"{len(ov.kept) + len(ov.fp)} kept, "
                               f"{len(ov.suppressed)} suppressed")
            if setting == "moves":
                panel.set_settings_values(0.5, 0.5, 100, False)
    assert detector.forward_images == 0
    window.close()
    out = []
    for spec in rows_spec:
        setting, suppressed, zoom = spec
        runs = samples[spec]

        def col(i: int, runs=runs) -> str:
            values = [r[i] for r in runs]
            med = statistics.median(values)
            if len(values) == 1:
                return f"{med:.1f}"
            return f"{med:.1f} ({min(values):.1f}–{max(values):.1f})"

        name = {"moves": "random slider moves", "worst": "score 0.001, NMS 0.3, top-k 500"}
        out.append((name[setting] + (" + suppressed" if suppressed else ""),
                    drawn.get(spec, "5–300 kept" + (", ≤200 suppressed" if suppressed else "")),
                    f"{zoom} ({zooms[spec]:.2f})", col(0), col(1), col(2), col(3), col(4), col(5), col(6)))
    return out


def _print(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=200, help="slider moves per row")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every row")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rows = run(args.moves, args.repeats)
    _print("Slider -> pixels on the canvas, Faster R-CNN R50-FPN-shaped raw output (ms; goal "
           "p95 < 16 ms; median of the runs, (min–max) over runs)",
           ("setting", "drawn", "zoom", "post p50", "paint p50", "total p50", "total p95",
            "total max", "CPU p50", "CPU p95"), rows)


if __name__ == "__main__":
    main()
