"""Screenshots for docs/errors.md (Compare runs, Label next), rendered offscreen at 1280x800.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_runs_screenshots.py [--project DIR]

Without ``--project`` it writes a tiny generated project (tests/train_helpers.py: red and blue
rectangles on noise, 40 labeled 128x96 images and 10 unlabeled ones) into a temporary folder
and trains two real runs of ``demo_ssdlite_cpu`` on the CPU with ``workbench train`` (128 px,
batch 8, 20 epochs at lr 0.003 and 12 epochs at lr 0.001; about a minute on 2 cores). With
``--project DIR`` it uses the runs already in ``DIR/runs``.

Writes docs/screenshots/compare_runs.png and docs/screenshots/label_next.png.
"""

from __future__ import annotations

import argparse
import importlib.util
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

RUNS = (("demo_ssdlite_cpu-lr0.003", 0.003, 20), ("demo_ssdlite_cpu-lr0.001", 0.001, 12))


def make_project(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("train_helpers",
                                                  ROOT / "tests" / "train_helpers.py")
    helpers = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(helpers)  # type: ignore[union-attr]
    helpers.write_tiny_voc(folder, n_images=40, size=(128, 96), seed=1)
    images = folder / "images"
    for xml in sorted((folder / "annotations").glob("*.xml")):
        shutil.move(xml, images / xml.name)  # labels beside the images (LabelImg's layout)
    extra = folder / "extra"
    helpers.write_tiny_voc(extra, n_images=10, size=(128, 96), seed=7, write_xml=False)
    for png in sorted((extra / "images").glob("*.png")):
        shutil.copy(png, images / f"new_{png.stem}.png")
    for name, lr, epochs in RUNS:
        subprocess.run([sys.executable, "-m", "workbench", "train", str(images), "--model",
                        "demo_ssdlite_cpu", "--epochs", str(epochs), "--batch-size", "8",
                        "--lr", str(lr), "--image-size", "128", "--device", "cpu",
                        "--val-fraction", "0.25", "--out", str(images / "runs" / name)],
                       check=True, cwd=ROOT)
    return images


def shoot(project: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(Settings(Path(tmp) / "s.ini"))
        w.resize(1280, 800)
        w.show()
        w.open_project(project)
        settle(app, 0.3)
        runs = w.panel_host.show_panel("Runs")
        assert runs is not None, w.panel_host.errors
        w.classes_dock.hide()  # the whole right column for the panel (View menu toggles)
        wait(app, lambda: runs.list.count() == len(RUNS))
        for i in range(runs.list.count()):
            runs.list.item(i).setCheckState(Qt.CheckState.Checked)
        settle(app, 0.3)
        w.grab().save(str(out / "compare_runs.png"))
        print("compare_runs.png:", runs.table.text())

        label = w.panel_host.show_panel("Label next")
        assert label is not None, w.panel_host.errors
        label.set_checkpoint(project / "runs" / RUNS[0][0] / "best.pt")
        assert label.start()
        wait(app, lambda: label.task is not None and label.task.done)
        label.next()  # opens the first (most uncertain) image
        settle(app, 0.6)
        w.grab().save(str(out / "label_next.png"))
        print("label_next.png:", [(label.table.item(r, 0).text(), label.table.item(r, 1).text())
                                  for r in range(label.table.rowCount())])
        w.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="images folder with runs/ already trained")
    args = parser.parse_args()
    if args.project is not None:
        shoot(args.project)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        shoot(make_project(Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
