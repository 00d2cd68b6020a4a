"""Screenshot for docs/classic-detectors.md: a trained classic in the Detections panel.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_classics_screenshot.py
        [--model rcnn_ss] [--epochs 2] [--steps 20] [--checkpoint CKPT]

Copies the raccoon photos (``../shared/datasets/raccoon``) into a temporary project, trains
``--model`` there from scratch with ``workbench train`` (its recipe; ``--epochs`` x ``--steps``
steps; the proposal cache of ``bench/bench_classics.py`` is used when it is there), then opens the
project at 1280x800 (offscreen), loads the run's last.pt into Panels → Detections, goes to the
first validation photo, lowers the score slider (0.5, 0.3, 0.2, 0.1, 0.05) until a box shows
and saves docs/screenshots/classic_detections.png. ``--checkpoint``
skips the training and shows that checkpoint instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from docs.shots import wait  # noqa: E402
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"
BENCH_CACHE = Path(tempfile.gettempdir()) / "workbench-bench-proposals"


def train(project: Path, model: str, epochs: int, steps: int) -> Path:
    for sub in ("images", "annotations"):
        shutil.copytree(RACCOON / sub, project / sub)
    out = project / "images" / "runs" / f"{model}-docs"
    env = dict(os.environ)
    if BENCH_CACHE.is_dir():
        env.setdefault("WORKBENCH_PROPOSAL_CACHE", str(BENCH_CACHE))
    subprocess.run([sys.executable, "-m", "workbench", "train", str(project / "images"),
                    "--annotations", str(project / "annotations"), "--model", model,
                    "--epochs", str(epochs), "--max-steps-per-epoch", str(steps),
                    "--device", "cpu", "--out", str(out)], check=True, cwd=ROOT, env=env)
    return out / "last.pt"


def shoot(project: Path, checkpoint: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    val = next(project.rglob("ImageSets/Main/val.txt"), None)  # written by the training run
    first_val = val.read_text().split()[0] if val is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(Settings(Path(tmp) / "s.ini"))
        w.resize(1280, 800)
        w.show()
        w.open_project(project / "images", project / "annotations")
        wait(app, lambda: w.current_image_path() is not None)
        panel = w.panel_host.show_panel("Detections")
        assert panel is not None, w.panel_host.errors
        w.classes_dock.hide()
        panel.set_checkpoint(checkpoint)
        wait(app, lambda: panel.detector is not None)
        if first_val is not None:
            row = w.session.row_of(project / "images" / f"{first_val}.jpg")
            w.show_row(row)
        wait(app, lambda: panel.detections is not None
             and panel.detections.image_id == w.current_image_path().stem)
        for value in (500, 300, 200, 100, 50):  # the highest score floor that shows a box
            panel.score_slider.setValue(value)
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                app.processEvents()
                time.sleep(0.01)
            if len(panel.detections):
                break
        w.grab().save(str(out / "classic_detections.png"))
        print(f"classic_detections.png: {w.current_image_path().name}, "
              f"{len(panel.detections)} detections shown, checkpoint {checkpoint}")
        w.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rcnn_ss")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--keep", type=Path, help="copy the trained last.pt here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "raccoon"
        if args.checkpoint is not None:
            for sub in ("images", "annotations"):
                shutil.copytree(RACCOON / sub, project / sub)
            checkpoint = args.checkpoint
        else:
            checkpoint = train(project, args.model, args.epochs, args.steps)
            if args.keep is not None:
                shutil.copy(checkpoint, args.keep)
        shoot(project, checkpoint)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
