"""Render the Classics panel's three views from the real app, offscreen, on raccoon photos.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_classics_views_screenshots.py
        [--dataset ../shared/datasets/raccoon] [--out docs/screenshots]

A 1280x800 window on a temporary copy of three raccoon photos (VOC XML), Panels → Classics:

1. ``roi_pooling.png``: raccoon-117, Faster R-CNN R50-FPN (random weights: the bins and sample
   points do not depend on the weights; the heat maps show what a random network computes),
   the first raccoon picked by a click on the image, 7x7 bins, 4 channel groups, zoomed.
2. ``yolo_grid.png``: raccoon-119 (three raccoons) on a 3x3 grid: two centres share a cell.
3. ``rpn_proposals.png``: raccoon-117, Faster R-CNN MobileNetV3-FPN 320 with random weights
   (no trained Faster R-CNN is at hand on a CPU machine; the page says the proposals are
   meaningless), top 20 proposals, the best one whose anchor differs visibly (IoU < 0.9)
   selected with its anchor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from docs.shots import settle, wait  # noqa: E402
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"
PHOTOS = ("raccoon-117", "raccoon-119", "raccoon-130")


def click_image(window, x: float, y: float) -> None:  # noqa: ANN001
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    vp = window.canvas.viewport()
    p = window.canvas.mapFromScene(QPointF(x, y))
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)


def shoot(project: Path, out: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(Settings(Path(tmp) / "s.ini"))
        w.resize(1280, 800)
        w.show()
        w.open_project(project / "images", project / "annotations")
        wait(app, lambda: w.current_image_path() is not None)
        w.classes_dock.hide()

        def go(stem: str) -> None:
            w.show_row(w.session.row_of(project / "images" / f"{stem}.jpg"))
            settle(app, 0.2)

        go("raccoon-117")
        panel = w.panel_host.show_panel("Classics")
        assert panel is not None, w.panel_host.errors
        settle(app)
        # 1. RoI pooling
        roi = panel.roi_page
        roi.model_combo.setCurrentIndex(roi.model_combo.findData("fasterrcnn_resnet50_fpn"))
        wait(app, lambda: roi.features is not None and roi.features.model.startswith(
            "fasterrcnn_resnet50_fpn"))
        roi.pick_button.click()
        box = roi.boxes_of("ground truth")[0]
        click_image(w, box[0] + 10, (box[1] + box[3]) / 2)
        wait(app, lambda: roi.pool_out is not None)
        w.canvas.actual_size()                   # leaves fit mode
        w.canvas.set_zoom(2.2)                   # the box fills the canvas
        w.canvas.centerOn((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        settle(app)
        w.grab().save(str(out / "roi_pooling.png"))
        print("roi_pooling.png:", roi.status.text())
        # 2. YOLO grid
        w.canvas.fit()
        go("raccoon-119")
        panel.show_page("yolo")
        panel.yolo_page.grid_spin.setValue(3)
        settle(app)
        w.grab().save(str(out / "yolo_grid.png"))
        print("yolo_grid.png:", panel.yolo_page.summary.text())
        # 3. RPN proposals
        go("raccoon-117")
        panel.show_page("rpn")
        rpn = panel.rpn_page
        wait(app, lambda: rpn.trace is not None)
        moved = [k for k, v in enumerate(rpn.trace.anchor_iou()[:20]) if v < 0.9]
        rpn.select(moved[0] if moved else 0)  # one whose anchor differs from it
        settle(app)
        w.grab().save(str(out / "rpn_proposals.png"))
        print("rpn_proposals.png:", rpn.status.text(), "|", rpn.selected_label.text())
        panel.shutdown()
        w.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=RACCOON)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "raccoon"
        for sub in ("images", "annotations"):
            (project / sub).mkdir(parents=True)
        for stem in PHOTOS:
            shutil.copy2(args.dataset / "images" / f"{stem}.jpg", project / "images")
            shutil.copy2(args.dataset / "annotations" / f"{stem}.xml", project / "annotations")
        shoot(project, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
