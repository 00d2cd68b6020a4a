"""Screenshot for docs/insight-panels.md: the Proposals panel's Felzenszwalb segments view.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_felzenszwalb_screenshot.py
        [--image raccoon-1.jpg] [--k 300] [--regions 30]

Opens the raccoon photos (``../shared/datasets/raccoon``) at 1280x800 (offscreen), shows
Panels → Proposals on ``--image``, ticks "Show segments" with ``k`` = ``--k``, moves the
grouping step slider to the step that leaves ``--regions`` regions and saves
docs/screenshots/felzenszwalb.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from docs.shots import wait  # noqa: E402
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="raccoon-1.jpg")
    parser.add_argument("--k", type=int, default=300)
    parser.add_argument("--regions", type=int, default=30)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication, QScrollArea

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    out = ROOT / "docs" / "screenshots" / "felzenszwalb.png"
    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(Settings(Path(tmp) / "s.ini"))
        w.resize(1280, 800)
        w.show()
        w.open_project(RACCOON / "images", RACCOON / "annotations")
        wait(app, lambda: w.current_image_path() is not None)
        w.show_row(w.session.row_of(RACCOON / "images" / args.image))
        wait(app, lambda: w.current_image_path().name == args.image)
        panel = w.panel_host.show_panel("Proposals")
        assert panel is not None, w.panel_host.errors
        seg = panel.segments
        seg.k_spin.setValue(args.k)
        seg.show_check.setChecked(True)
        wait(app, lambda: seg.grouping is not None)
        seg.step_slider.setValue(max(0, seg.grouping.n_segments - args.regions))
        w.classes_dock.hide()
        area = seg.parentWidget()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parentWidget()
        if area is not None:
            area.ensureWidgetVisible(seg)
        seg.step_slider.setFocus()
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        w.grab().save(str(out))
        print(f"wrote {out} ({seg.grouping.n_segments} segments, step "
              f"{seg.step_slider.value()}: {len(seg.layer)} regions)")
        w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
