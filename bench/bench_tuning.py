"""Detections tuning benchmark: slider move → redraw vs re-running the network; detect throughput.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_tuning.py [--quick] [--threads N]

Table 1, on an SSD300 (VGG16, 21 VOC classes, 300 px) output: every one of its 8,732 priors ×
20 classes above the 0.001 score floor is kept raw (149,511 of the 174,640 with random weights,
seed 0). Each
slider move goes through the real Detections panel: the slider's ``valueChanged`` →
post-processing (threshold, SSD's 400-per-class candidate cap, ``batched_nms``, top-k) → canvas
layers + detections table → a synchronous repaint of the canvas viewport. Two raw outputs:

* ``random weights``: the network's own raw output (near-uniform scores ≈ 1/21: the worst case,
  every entry passes a low threshold);
* ``trained-like``: the same 8,732 decoded boxes with scores shaped like a trained detector's
  (background dominant, 6 objects whose overlapping priors score high).

The baseline, measured in the same run, is what tuning costs without the cache: the SSD300
forward pass with its own post-processing at the new settings (``model([image])``).

Table 2: ``workbench detect`` throughput per model on CPU (read image → forward → post-process
→ JSON), random weights, raccoon photos (or generated images when absent).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon" / "images"

import numpy as np  # noqa: E402
import torch  # noqa: E402

VOC = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
       "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
       "train", "tvmonitor"]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _images(n: int) -> list[Path]:
    if RACCOON.is_dir():
        return sorted(RACCOON.glob("*.jpg"))[:n]
    from PIL import Image

    tmp = Path(tempfile.mkdtemp(prefix="bench_tuning_"))
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        path = tmp / f"img_{i}.jpg"
        Image.fromarray((rng.random((480, 640, 3)) * 255).astype(np.uint8)).save(path)
        out.append(path)
    return out


def trained_like(raw, image_size: tuple[int, int], seed: int = 0):  # noqa: ANN001, ANN201
    """The raw output's 8,732 boxes with scores shaped like a trained SSD's."""
    from workbench.core.boxes import iou_matrix
    from workbench.engine.postprocess import RawDetections

    priors = raw.boxes[raw.labels == 1].numpy()  # one decoded box per prior
    rng = np.random.default_rng(seed)
    w, h = image_size
    xy = rng.uniform(0, 0.6, (6, 2)) * (w, h)
    objects = np.concatenate([xy, xy + rng.uniform(0.15, 0.4, (6, 2)) * (w, h)], 1)
    classes = rng.integers(0, 20, 6)
    logits = rng.normal(0, 1, (len(priors), 21))
    logits[:, 0] += 6.0  # background dominates
    ious = iou_matrix(priors, objects)
    for k in range(6):
        logits[:, classes[k] + 1] += 12.0 * ious[:, k]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    prior, cls = np.nonzero(probs[:, 1:] > 0.001)
    return RawDetections.from_unsorted(priors[prior], probs[prior, cls + 1], cls + 1,
                                       score_floor=0.001, candidates_per_class=400,
                                       image_size=image_size)


def slider_table(moves: int, net_runs: int) -> list[tuple[str, ...]]:
    import shutil

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QDockWidget

    from workbench.engine.detectors import build_detector, set_postprocess
    from workbench.engine.inference import RawDetector, read_image_rgb
    from workbench.gui.main_window import MainWindow
    from workbench.gui.panels.detections import DetectionsPanel
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="bench_tuning_"))
    folder = tmp / "images"
    folder.mkdir()
    path = folder / _images(1)[0].name  # the photo alone in a folder the real window opens
    shutil.copyfile(_images(1)[0], path)
    rgb = read_image_rgb(path)

    torch.manual_seed(0)
    model, _ = build_detector("ssd300_vgg16", 21, image_size=300)
    reference, _ = build_detector("ssd300_vgg16", 21, image_size=300)
    reference.load_state_dict(model.state_dict())
    reference.eval()
    detector = RawDetector(model, VOC, device="cpu")
    tensor = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    net_ms = []
    settings = [(0.3, 0.45, 100), (0.5, 0.5, 50), (0.1, 0.6, 200)]
    with torch.inference_mode():
        reference([tensor])  # warm-up
        for i in range(net_runs):
            s, iou, k = settings[i % len(settings)]
            set_postprocess(reference, score_threshold=s, nms_iou=iou, top_k=k)
            t0 = time.perf_counter()
            reference([tensor])
            net_ms.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    raw_random = detector.raw_for_array(rgb)
    raw_ms = (time.perf_counter() - t0) * 1000
    raws = {"random weights": raw_random,
            "trained-like": trained_like(raw_random, (rgb.shape[1], rgb.shape[0]))}

    # the real labeling window with the project open and the panel docked (a stand-in window
    # fell behind the panel API: PanelWindow in gui/panel_api.py)
    window = MainWindow(Settings(tmp / "settings.ini"), panels=[])
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    assert window.open_project(folder)
    panel = DetectionsPanel(window)
    dock = QDockWidget("Detections", window)
    dock.setObjectName("bench-detections-dock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    panel.auto_run.setChecked(False)
    panel.set_detector(detector)
    for _ in range(5):
        app.processEvents()
    rng = np.random.default_rng(1)
    rows = []
    net_p50 = statistics.median(net_ms)
    for name, raw in raws.items():
        for suppressed in (False, True):
            panel.show_suppressed.setChecked(suppressed)
            panel._show_raw(path, raw)
            app.processEvents()
            total, post = [], []
            for m in range(moves):
                which = m % 3
                t0 = time.perf_counter()
                if which == 0:
                    panel.score_slider.setValue(int(rng.integers(10, 900)))
                elif which == 1:
                    panel.iou_slider.setValue(int(rng.integers(20, 90)))
                else:
                    panel.topk_slider.setValue(int(rng.integers(5, 300)))
                window.canvas.viewport().repaint()
                total.append((time.perf_counter() - t0) * 1000)
                post.append(panel.last_postprocess_ms)
            p95 = _pct(total, 95)
            rows.append((name + (" + suppressed" if suppressed else ""), f"{len(raw):,}",
                         f"{_pct(post, 50):.2f}", f"{_pct(total, 50):.2f}", f"{p95:.2f}",
                         f"{net_p50:.0f}", f"{net_p50 / p95:.0f}x"))
    assert detector.forward_images == 1, "a slider move ran the network"
    window.close()
    print(f"# raw forward (SSD300 + raw extraction, once per image): {raw_ms:.0f} ms; "
          f"network with its own post-processing: p50 {net_p50:.0f} ms over {net_runs} runs; "
          f"{moves} slider moves per row; network calls during all moves: 0")
    return rows


def throughput_table(models: list[str], images: int) -> list[tuple[str, ...]]:
    from workbench.engine.detectors import build_detector
    from workbench.engine.inference import RawDetector
    from workbench.engine.postprocess import PostprocessSettings, apply

    paths = _images(images)
    rows = []
    for name in models:
        torch.manual_seed(0)
        model, info = build_detector(name, 21)
        detector = RawDetector(model, VOC, device="cpu", cache_size=1)
        settings = PostprocessSettings(0.05, 0.45, 100)
        detector.raw(paths[-1])  # warm-up (not counted)
        detector.clear_cache()
        n = len(paths) if "resnet50" not in name else min(len(paths), 3)
        post_s = 0.0
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            for path, raw in detector.raw_many(paths[:n]):
                p0 = time.perf_counter()
                det = apply(raw, settings, detector.classes, path.stem)
                post_s += time.perf_counter() - p0
                payload = [{"class": str(c), "score": float(s), "box": [float(v) for v in b]}
                           for b, s, c in zip(det.boxes, det.scores, det.labels)]
                Path(out, f"{path.stem}.json").write_text(json.dumps(payload))
            wall = time.perf_counter() - t0
        rows.append((name, str(info["image_size"]), str(n), f"{n / wall:.2f}",
                     f"{wall / n * 1000:.0f}", f"{post_s / n * 1000:.1f}"))
    return rows


def _print(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer moves, runs and models")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    moves, net_runs = (60, 3) if args.quick else (300, 6)
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), "
          f"{'raccoon photos' if RACCOON.is_dir() else 'generated images'}")
    rows = slider_table(moves, net_runs)
    _print("Slider move -> redraw, SSD300 raw output (ms; goal p95 < 16 ms and >= 25x faster "
           "than re-running the network)",
           ("raw output", "raw entries", "post-proc p50", "redraw p50", "redraw p95",
            "network p50", "network / redraw p95"), rows)
    models = ["ssdlite320_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn",
              "ssd300_vgg16"]
    if not args.quick:
        models.append("fasterrcnn_resnet50_fpn")
    rows = throughput_table(models, 4 if args.quick else 8)
    _print("workbench detect throughput on CPU (random weights, 21 classes, score > 0.05, "
           "NMS 0.45, top-k 100, JSON out)",
           ("model", "input px", "images", "images/s", "ms/image", "post-proc ms/image"), rows)


if __name__ == "__main__":
    main()
