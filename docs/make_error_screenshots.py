"""Render docs/screenshots/errors.png and operating_point.png from the real app, offscreen.

    .venv/bin/python docs/make_error_screenshots.py [--dataset /work/shared/datasets/raccoon]
                                                    [--images 80] [--out docs/screenshots]

A 1280x800 window on a copy of the first ``--images`` raccoon photos (VOC XML), half of them in
a val split (``Project.write_splits(0.5)``). The detections are **simulated**, not a trained
model's: no model trained on these photos is at hand on a CPU machine, so a deterministic
stand-in detector (:class:`SimulatedDetector`, seeded by the file name) derives raw outputs
from the ground truth — most objects found with a jittered box (score .55–.98), some found
badly placed (IoU < .5) or missed, some duplicates, a few background boxes and low-score
clutter — and hands them to the panels through the same ``set_detector`` a loaded checkpoint
uses. Everything after that is the real panels' code path (post-processing, matching, the
table, the confusion matrix, the canvas layer, the sliders).

1. ``errors.png``: Panels → Errors, evaluated over the val split; **N** in the table went to
   the first image with an error; its TP / FP / FN marks are on the canvas.
2. ``operating_point.png``: Panels → Detections, "P/R/F1 on the val split" ticked, the score
   slider moved, then **Best F1** clicked.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
from docs.shots import settle, wait  # noqa: E402


class SimulatedDetector:
    """Raw outputs derived from the ground truth (see the module doc); one class."""

    def __init__(self, truth: dict[str, list[tuple[float, float, float, float]]],
                 sizes: dict[str, tuple[int, int]]) -> None:
        from workbench.engine.postprocess import PostprocessSettings

        self.truth, self.sizes = truth, sizes
        self.classes = ("raccoon",)
        self.settings = PostprocessSettings(score_threshold=0.3, nms_iou=0.45, top_k=100)
        self.name, self.device = "simulated", "cpu"

    def raw(self, path: str | Path):  # noqa: ANN201 - RawDetections
        from workbench.engine.postprocess import RawDetections

        stem = Path(path).stem
        rng = np.random.default_rng(zlib.crc32(stem.encode()))
        width, height = self.sizes[stem]
        boxes, scores = [], []

        def jitter(box: tuple[float, ...], amount: float) -> list[float]:
            x1, y1, x2, y2 = box
            w, h = x2 - x1, y2 - y1
            d = rng.normal(0, amount, 4) * [w, h, w, h]
            return [x1 + d[0], y1 + d[1], x2 + d[2], y2 + d[3]]

        for box in self.truth.get(stem, []):
            u = rng.random()
            if u < 0.72:  # found
                boxes.append(jitter(box, 0.04))
                scores.append(0.55 + 0.43 * rng.random())
                if rng.random() < 0.15:  # a duplicate, a little off
                    boxes.append(jitter(box, 0.15))
                    scores.append(0.3 + 0.4 * rng.random())
            elif u < 0.86:  # badly placed: IoU well under .5
                x1, y1, x2, y2 = box
                w = x2 - x1
                boxes.append([x1 + 0.55 * w, y1, x2 + 0.55 * w, y2])
                scores.append(0.35 + 0.45 * rng.random())
            else:  # missed: at most a faint guess
                boxes.append(jitter(box, 0.05))
                scores.append(0.02 + 0.2 * rng.random())
        for _ in range(int(rng.poisson(0.6))):  # background mistaken for a raccoon
            w, h = width * (0.15 + 0.3 * rng.random()), height * (0.15 + 0.3 * rng.random())
            x, y = (width - w) * rng.random(), (height - h) * rng.random()
            boxes.append([x, y, x + w, y + h])
            scores.append(float(rng.beta(2, 3)) * 0.9)
        for _ in range(15):  # low-score clutter
            w, h = width * (0.05 + 0.3 * rng.random()), height * (0.05 + 0.3 * rng.random())
            x, y = (width - w) * rng.random(), (height - h) * rng.random()
            boxes.append([x, y, x + w, y + h])
            scores.append(0.001 + 0.09 * rng.random())
        b = np.clip(np.asarray(boxes, dtype=np.float32).reshape(-1, 4), 0,
                    [width, height, width, height])
        return RawDetections.from_unsorted(b, np.asarray(scores, dtype=np.float32),
                                           np.ones(len(scores), dtype=np.int64),
                                           score_floor=0.001, image_size=(width, height))

    def is_cached(self, _path: str | Path) -> bool:
        return False


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", type=Path, default=Path("/work/shared/datasets/raccoon"))
    p.add_argument("--images", type=int, default=80)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = p.parse_args()
    if not (args.dataset / "images").is_dir():
        print(f"{args.dataset}: no images/ folder (the raccoon dataset)", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="error_shots_"))
    os.environ["WORKBENCH_SETTINGS"] = str(work / "settings.ini")
    os.environ["XDG_DATA_HOME"] = str(work / "data")
    from workbench.core.project import natural_key

    images, annotations = work / "raccoon" / "images", work / "raccoon" / "annotations"
    images.mkdir(parents=True)
    annotations.mkdir()
    photos = sorted((args.dataset / "images").glob("*.jpg"), key=lambda q: natural_key(q.name))
    for photo in photos[:args.images]:
        shutil.copy2(photo, images / photo.name)
        shutil.copy2(args.dataset / "annotations" / f"{photo.stem}.xml",
                     annotations / f"{photo.stem}.xml")

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from workbench.gui.app import create_app

    app = create_app()
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    window = MainWindow(Settings(work / "settings.ini"))
    window.resize(1280, 800)
    window.show()
    assert window.open_project(images, annotations)
    project = window.project
    splits = project.write_splits(val_fraction=0.5, seed=0)
    truth, sizes = {}, {}
    for entry in project.entries:
        annotation, _problems = project.load(entry)[:2]
        stem = Path(entry.image_path).stem
        truth[stem] = [o.box for o in annotation.objects]
        sizes[stem] = (annotation.size.width, annotation.size.height)
    detector = SimulatedDetector(truth, sizes)
    settle(app, 0.5)

    # 1. Errors (the Classes dock closed, as a user makes room for the panel: one class here)
    window.classes_dock.close()
    panel = window.panel_host.show_panel("Errors")
    assert panel is not None, window.panel_host.errors
    panel.set_detector(detector)
    wait(app, lambda: panel.index is not None, what="the evaluation")
    panel.table.setFocus()
    QTest.keyClick(panel.table, Qt.Key.Key_N)
    settle(app, 0.6)
    args.out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out / "errors.png"))
    point = panel.point
    print(f"errors.png: {len(splits['val'])} val images, P {point.precision:.3f} "
          f"R {point.recall:.3f} F1 {point.f1:.3f} (TP {point.tp} FP {point.fp} FN {point.fn}) "
          f"at score >= {point.score:.2f}; shown {window.current_image_path().name}")

    # 2. Operating point
    det = window.panel_host.show_panel("Detections")
    assert det is not None, window.panel_host.errors
    det.set_detector(detector)
    box = det.op_box
    box.enabled_box.setChecked(True)
    wait(app, lambda: box.point is not None, what="the operating point")
    det.score_slider.setValue(200)
    settle(app, 0.3)
    box.best_button.click()
    settle(app, 0.8)
    window.grab().save(str(args.out / "operating_point.png"))
    p = box.point
    print(f"operating_point.png: best F1 slider {det.score_slider.value() / 1000:.3f}: "
          f"P {p.precision:.3f} R {p.recall:.3f} F1 {p.f1:.3f}")
    panel.shutdown()
    det.shutdown()
    window.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
