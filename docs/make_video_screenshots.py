"""Screenshots for docs/video.md, rendered offscreen at 1280x800.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_video_screenshots.py

Needs ../shared/datasets/raccoon. The video is made from one raccoon photo (raccoon-114, a
porch seen from above): a camera pan to the raccoon and back, 60 frames at 10 fps, 640x360.
No trained checkpoint ships with the repository, so the Video panel's detector is a
**stand-in** that reports the photo's annotated raccoon box (moved with the pan, clipped to
the frame) whenever at least three quarters of it are in view, with a fixed score of 0.93 — it shows
what the panel draws, not what a model finds. The propagation screenshot uses the real
OpenCV CSRT tracker from ``workbench.core.tracking``.

Writes docs/screenshots/video.png and docs/screenshots/video-propagate.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from docs.shots import settle, wait  # noqa: E402
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SIZE = (640, 360)
SCALE = 1.7
FRAMES = 60
Y0 = 80


def offsets(n: int, max_x: int) -> list[int]:
    """The pan: right to ``max_x`` and back (a triangle over ``n`` frames)."""
    half = (n - 1) / 2
    return [int(round(max_x * (1 - abs(i - half) / half))) for i in range(n)]


def make_video(folder: Path) -> tuple[Path, list[tuple[float, float, float, float] | None]]:
    from workbench.core.tracking import visible_fraction
    from workbench.core.voc import read_annotation

    image = cv2.imread(str(RACCOON / "images" / "raccoon-114.jpg"))
    box = read_annotation(RACCOON / "annotations" / "raccoon-114.xml")[0].objects[0].box
    big = cv2.resize(image, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    w, h = SIZE
    xs = offsets(FRAMES, big.shape[1] - w)
    path = folder / "porch.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, SIZE)
    truth: list[tuple[float, float, float, float] | None] = []
    for x in xs:
        writer.write(big[Y0:Y0 + h, x:x + w])
        b = (box[0] * SCALE - x, box[1] * SCALE - Y0, box[2] * SCALE - x, box[3] * SCALE - Y0)
        truth.append((max(0.0, b[0]), max(0.0, b[1]), min(w, b[2]), min(h, b[3]))
                     if visible_fraction(b, w, h) >= 0.75 else None)
    writer.release()
    return path, truth


class StandInDetector:
    """Finds which frame it is shown (nearest small grey image) and reports that frame's
    annotated raccoon box (see the module docstring)."""

    classes = ("raccoon",)
    name = "stand-in (annotated box)"

    def __init__(self, video: Path, truth: list) -> None:  # noqa: ANN001
        from workbench.core.video import Selection, iter_frames, small_grey
        from workbench.engine.postprocess import PostprocessSettings

        self.settings = PostprocessSettings(score_threshold=0.5, nms_iou=0.45, top_k=100)
        self.small = [small_grey(f.image) for f in iter_frames(video, Selection())]
        self.truth = truth

    def raw_for_array(self, rgb: np.ndarray):  # noqa: ANN201
        from workbench.core.video import small_grey
        from workbench.engine.postprocess import RawDetections

        s = small_grey(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        n = int(np.argmin([np.abs(s - t).mean() for t in self.small]))
        box = self.truth[n]
        if box is None:
            return RawDetections.from_unsorted(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
        return RawDetections.from_unsorted(np.array([box]), np.array([0.93]), np.array([1]))


def main() -> int:
    if not (RACCOON / "images").is_dir():
        print("needs ../shared/datasets/raccoon", file=sys.stderr)
        return 2
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QApplication

    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        video, truth = make_video(tmp_path)
        from workbench.core.video import Selection, extract_frames

        frames_dir = tmp_path / "porch_frames"
        extract_frames(video, frames_dir, Selection(every=2))
        w = MainWindow(Settings(tmp_path / "s.ini"))
        w.resize(1280, 800)
        w.show()
        w.open_project(frames_dir)
        settle(app, 0.3)

        # -- 1: the Video panel ------------------------------------------------------------
        panel = w.panel_host.show_panel("Video")
        assert panel is not None, w.panel_host.errors
        dock = w.panel_host.docks[w.panel_host.find("Video")]
        w.classes_dock.hide()  # the whole right column for the panel (View menu toggles)
        for _ in range(3):
            settle(app, 0.1)
            w.resizeDocks([dock], [520], Qt.Orientation.Horizontal)
        panel.open_video(video)
        wait(app, lambda: panel.frame == 0)
        panel.set_detector(StandInDetector(video, truth))
        panel.watch.setText("raccoon")
        panel.every.setValue(1)
        job = panel.scan()
        wait(app, lambda: job.done)
        panel.event_list.setCurrentRow(0)
        panel._on_event_clicked(panel.event_list.item(0))  # as a click does
        wait(app, lambda: panel.frame == panel.events[0]["frame"])
        panel.seek(24)
        wait(app, lambda: panel.frame == 24)
        settle(app, 0.3)
        w.grab().save(str(out / "video.png"))
        print("video.png: frame", panel.frame, "events", [
            (e["event"], e["frame"]) for e in panel.events])

        # -- 2: propagated suggestions -----------------------------------------------------
        w.panel_host.docks[w.panel_host.find("Video")].hide()
        from workbench.core.annotation import VocObject
        from workbench.gui.video_propagate import PropagateOptions, start_propagation

        w.classes_dock.show()
        start_row = w.session.rows[frames_dir / "porch_000040.jpg"]
        w.show_row(start_row)
        w.add_objects([VocObject("raccoon", truth[40])])
        w.saver.save_current()
        run = start_propagation(w, PropagateOptions(frames=9))
        wait(app, lambda: run.view is not None, 120)
        w.show_row(start_row + 4)
        settle(app, 0.3)
        image = w.grab()
        view = run.view
        view.resize(430, 330)
        settle(app, 0.3)
        dialog = view.grab()
        painter = QPainter(image)
        painter.drawPixmap(QPoint(image.width() - dialog.width() - 12,
                                  image.height() - dialog.height() - 40), dialog)
        painter.end()
        image.save(str(out / "video-propagate.png"))
        print("video-propagate.png:", [(r.index, None if r.boxes[0] is None else
                                        r.boxes[0].confidence) for r in run.results])
        for p in w.findChildren(type(panel)):
            p.shutdown()
        w.saver.flush()
        w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
