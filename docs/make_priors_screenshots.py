"""Screenshots for docs/insight-panels.md: the Priors panel's thresholds and hard negatives.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_priors_screenshots.py
        [--epochs 4] [--steps 40] [--checkpoint CKPT]

Copies the raccoon photos (``../shared/datasets/raccoon``) into a temporary project, trains
``demo_ssdlite_cpu`` there (``--epochs`` x ``--steps`` steps, CPU) unless ``--checkpoint`` is
given, opens the project at 1280x800 (offscreen) with the Priors panel and saves:

* docs/screenshots/priors_thresholds.png — Faster R-CNN MobileNetV3-FPN 320 anchors, fg 0.6 /
  bg 0.2, the live counts and the positives on the photo;
* docs/screenshots/hard_negatives.png — the checkpoint (published on the hub as if loaded in
  the Detections panel), the Mining tab, 3:1: kept negatives red, the others grey.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from docs.shots import settle, wait  # noqa: E402
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"
PHOTO = "raccoon-12.jpg"


def train(project: Path, epochs: int, steps: int) -> Path:
    out = project / "images" / "runs" / "demo-docs"
    subprocess.run([sys.executable, "-m", "workbench", "train", str(project / "images"),
                    "--annotations", str(project / "annotations"), "--model",
                    "demo_ssdlite_cpu", "--epochs", str(epochs), "--max-steps-per-epoch",
                    str(steps), "--device", "cpu", "--out", str(out)], check=True, cwd=ROOT)
    return out / "last.pt"


def shoot(project: Path, checkpoint: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from workbench.gui.hub import CheckpointLoaded
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(Settings(Path(tmp) / "s.ini"))
        w.resize(1280, 800)
        w.show()
        w.open_project(project / "images", project / "annotations")
        wait(app, lambda: w.current_image_path() is not None)
        w.show_row(w.session.row_of(project / "images" / PHOTO))
        panel = w.panel_host.show_panel("Priors & anchors")
        assert panel is not None, w.panel_host.errors
        w.classes_dock.hide()
        # thresholds: RPN anchors at fg 0.6 / bg 0.2
        done = []
        panel.priors_changed.connect(lambda: done.append(1))
        panel.set_model("fasterrcnn_mobilenet_v3_large_320_fpn")
        wait(app, lambda: done and panel.priors is not None and panel.priors.kind == "rpn")
        panel.set_thresholds(0.6, 0.2)
        panel.tabs.setCurrentIndex(2)          # Matching
        settle(app)
        w.grab().save(str(out / "priors_thresholds.png"))
        print(f"priors_thresholds.png: {PHOTO}, {panel.counts()}")
        # hard negatives with the checkpoint
        offered = []
        panel.checkpoint_offered.connect(lambda path, sel: offered.append((path, sel)))
        w.hub.publish(CheckpointLoaded(checkpoint))
        wait(app, lambda: offered)
        panel.set_model(f"ckpt:{checkpoint}")
        wait(app, lambda: panel.priors is not None and panel.priors.kind == "ssd")
        mined = []
        panel.mining_ready.connect(lambda: mined.append(1))
        panel.tabs.setCurrentIndex(panel.tabs.count() - 1)
        wait(app, lambda: mined)
        panel.show_match.setChecked(False)     # the mining layer draws the positives itself
        panel.show_grid.setChecked(False)
        settle(app)
        w.grab().save(str(out / "hard_negatives.png"))
        print(f"hard_negatives.png: {PHOTO}, positives {panel.losses.num_positive}, kept "
              f"{int(panel.kept.sum())}; {panel.mining_label.text()}")
        w.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--checkpoint", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "raccoon"
        for sub in ("images", "annotations"):
            shutil.copytree(RACCOON / sub, project / sub)
        checkpoint = args.checkpoint or train(project, args.epochs, args.steps)
        shoot(project, checkpoint)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
