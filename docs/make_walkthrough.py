"""Render the README's "First five minutes" screenshots from the real app, offscreen.

    .venv/bin/python docs/make_walkthrough.py [--out docs/walkthrough] [--images 800]
                                              [--epochs 8] [--threads N] [--quick] [--keep]

Everything happens as a user would do it, in a 1440x900 window (``workbench gui --screenshot``'s
size), on a fresh sample project generated into a temporary folder (the app's data folder is
pointed there with ``XDG_DATA_HOME``: the first-run path, sample project and hint, is the real
one):

1. ``01-sample.png``  the sample project as opened on first run, "First five minutes" hint shown;
2. ``02-draw.png``    a box deleted (Del) and drawn again: **W**, a mouse drag on the canvas, its
   class picked (the class dialog is answered in code, as the tests do); the new box selected;
3. ``03-train.png``   Panels → Train, model ``demo_ssdlite_cpu`` (its recipe fills the form),
   ``--epochs`` epochs, **Start** clicked: a real training run, shot live a few steps into the
   last epoch (mAP tab, the loss in the progress bar, the last checkpoint's detections dashed
   on the canvas);
4. ``04-tune.png``    Panels → Detections: the run's best.pt (loaded by itself, the panel follows
   training), the next image (**D**), score and NMS sliders moved, TP/FP/FN marks;
5. ``05-export.png``  File → Export dataset… filled for PASCAL VOC (then really exported).

The numbers of the run (mAP per epoch, minutes) and the export's report are printed, for the
README text. ``--quick`` checks the script in seconds: 24 images, 1 epoch of 3 steps. The right
dock column is widened to 520 px for the panels (as a user drags the splitter).
PNGs are written as 8-bit palette images (Pillow) when that keeps them readable and smaller.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
SIZE = (1440, 900)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "walkthrough",
                   help="folder for the PNGs (default docs/walkthrough)")
    p.add_argument("--images", type=int, default=None,
                   help="sample project size (default: the first run's, "
                   "workbench.core.synth.DEFAULT_IMAGES; --quick: 24)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 8)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quick", action="store_true",
                   help="a fast check of the script: tiny sample, 1 epoch of 3 steps")
    p.add_argument("--keep", action="store_true", help="keep the temporary project folder")
    args = p.parse_args(argv)
    if args.images is None:
        from workbench.core.synth import DEFAULT_IMAGES

        args.images = 24 if args.quick else DEFAULT_IMAGES
    args.epochs = args.epochs or (1 if args.quick else 8)
    return args


class Walkthrough:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.epochs: list[tuple[int, float, float, float]] = []  # epoch, mAP07, mAP, minutes
        self.notes: dict[str, str] = {}

    # -- helpers ------------------------------------------------------------------------------
    def wait(self, condition, timeout: float, what: str) -> None:  # noqa: ANN001
        """Run the event loop until ``condition()``. A ``QEventLoop`` (not ``QTest.qWait``,
        which keeps the GIL while it sleeps and starves the training thread)."""
        from PySide6.QtCore import QEventLoop, QTimer

        if condition():
            return
        loop = QEventLoop()
        deadline = time.monotonic() + timeout
        poll = QTimer()
        poll.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
        poll.start(50)
        loop.exec()
        poll.stop()
        if not condition():
            raise TimeoutError(f"timed out waiting for {what}")

    def settle(self, ms: int = 150) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def save(self, image, name: str) -> Path:  # noqa: ANN001 (QImage / QPixmap)
        """Write ``image`` as ``name``: an 8-bit palette PNG when it is smaller."""
        from PIL import Image

        path = self.out / name
        raw = self.work / name
        if not image.save(str(raw), "PNG"):
            raise OSError(f"cannot write {raw}")
        with Image.open(raw) as im:
            rgb = im.convert("RGB")
        palette = rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                               dither=Image.Dither.NONE)
        palette.save(path, optimize=True)
        if path.stat().st_size > raw.stat().st_size:
            rgb.save(path, optimize=True)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
        return path

    def shot(self, name: str) -> Path:
        w = self.window
        w.resize(*SIZE)
        self.settle()
        if (w.width(), w.height()) != SIZE:
            print(f"warning: {name}: the window is {w.width()}x{w.height()}, not "
                  f"{SIZE[0]}x{SIZE[1]} (its minimum size is {w.minimumSizeHint().toTuple()})")
        return self.save(w.grab(), name)

    # -- the five steps -----------------------------------------------------------------------
    def open_sample(self) -> None:
        from workbench.gui.app import build_window, create_app
        from workbench.gui.first_run import sample_project, sample_project_dir

        self.app = create_app()
        root = sample_project(num_images=self.args.images)  # what the first start does
        assert root == sample_project_dir(), (root, sample_project_dir())
        self.window = w = build_window(sample=True)
        w.resize(*SIZE)
        w.show()
        w.activateWindow()
        self.wait(w.isActiveWindow, 10, "the window to be active")
        w.scanner.run_to_end()
        w.files.refresh_counts()
        w.canvas.fit()
        hint = [d for d in w.findChildren(type(w.boxes_dock))
                if d.objectName() == "dock:first five minutes"]
        assert hint and hint[0].isVisible(), "the first-run hint is not shown"
        self.shot("01-sample.png")

    def draw_box(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        from workbench.gui import dialogs

        w = self.window
        objects = w.current_annotation().objects
        # The largest clearly visible object: delete its box (Del), then draw it again.
        i = max((k for k, o in enumerate(objects) if not o.difficult),
                key=lambda k: (objects[k].box[2] - objects[k].box[0])
                * (objects[k].box[3] - objects[k].box[1]))
        obj = objects[i]
        w.canvas.setFocus()
        w.canvas.select(i)
        QTest.keyClick(w.canvas, Qt.Key.Key_Delete)
        assert len(w.current_annotation().objects) == len(objects) - 1
        original = dialogs.choose_class
        dialogs.choose_class = lambda *a, **k: obj.name  # the class dialog, answered
        try:
            QTest.keyClick(w.canvas, Qt.Key.Key_W)
            x1, y1, x2, y2 = obj.box
            _drag(w.canvas, (x1, y1), (x2, y2))
        finally:
            dialogs.choose_class = original
        new = w.current_annotation().objects
        assert len(new) == len(objects) and new[-1].name == obj.name, "no box drawn"
        assert w.document.selection == len(new) - 1, "the new box is not selected"
        self.notes["drawn"] = f"{obj.name} {x2 - x1:.0f}x{y2 - y1:.0f}"
        w.boxes_dock.raise_()  # the Boxes tab (beside the hint) lists the new box, selected
        self.shot("02-draw.png")

    def train(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        w = self.window
        w.canvas.setFocus()
        QTest.keyClick(w.canvas, Qt.Key.Key_Escape)  # deselect: the preview boxes stand out
        panel = w.panel_host.show_panel("Train")
        assert panel is not None, w.panel_host.errors
        self.train_panel = panel
        self._widen(w.panel_host.docks[w.panel_host.find("Train")])  # drag the splitter
        panel.model_box.setCurrentIndex(panel.model_box.findData("demo_ssdlite_cpu"))
        panel.epochs.setValue(self.args.epochs)
        if self.args.quick:  # a few steps only
            config = panel.config
            panel.config = lambda resume=None: dataclasses.replace(config(resume),
                                                                   max_steps_per_epoch=3)
        bridge = panel.bridge
        failures: list[str] = []
        finished: list[object] = []
        start = time.monotonic()
        bridge.failed.connect(failures.append)
        bridge.training_finished.connect(finished.append)
        bridge.epoch_evaluated.connect(lambda e: self._on_epoch(e, start))
        QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert not panel.start_button.isEnabled(), panel.status.text()
        panel.plots.setCurrentIndex(2)  # the mAP tab (the progress bar shows the live loss)
        last = self.args.epochs
        if last >= 2:  # the shot is taken live, a few steps into the last epoch
            def live() -> bool:
                m = re.search(r"epoch (\d+)/\d+  ·  step (\d+)/", panel.progress.format())
                return bool(m) and int(m[1]) == last and int(m[2]) >= 3

            self.wait(lambda: failures or (len(self.epochs) >= last - 1
                                           and panel.preview.isVisible() and live()),
                      3 * 3600, "the last epoch")
            if failures:
                raise RuntimeError(f"training failed: {failures[0]}")
            self.shot("03-train.png")
        self.wait(lambda: finished or failures, 3 * 3600, "training to finish")
        if failures:
            raise RuntimeError(f"training failed: {failures[0]}")
        self.wait(lambda: panel.start_button.isEnabled(), 60, "the run to end")
        self.wait(panel.preview.isVisible, 120, "the preview detections")
        event = finished[0]
        self.notes["train"] = (f"{event.epochs_completed} epochs in "
                               f"{event.elapsed_s / 60:.1f} min, best mAP VOC07 "
                               f"{event.best_metric:.3f}, best {event.best_checkpoint}")
        if last < 2:
            self.shot("03-train.png")

    def _on_epoch(self, event, start: float) -> None:  # noqa: ANN001
        minutes = (time.monotonic() - start) / 60
        self.epochs.append((event.epoch + 1, event.map_voc07, event.map_voc, minutes))
        print(f"epoch {event.epoch + 1}: mAP VOC07 {event.map_voc07:.3f}, all-point "
              f"{event.map_voc:.3f}, {minutes:.2f} min", flush=True)

    def _widen(self, dock, width: int = 520) -> None:  # noqa: ANN001
        from PySide6.QtCore import Qt

        for _ in range(3):  # the dock area settles over a few layout passes
            self.settle()
            self.window.resizeDocks([dock], [width], Qt.Orientation.Horizontal)

    def tune(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        w = self.window
        panel = w.panel_host.show_panel("Detections")
        assert panel is not None, w.panel_host.errors
        self._widen(w.panel_host.docks[w.panel_host.find("Detections")])
        self.wait(lambda: panel.detector is not None, 120, "the best checkpoint to load")
        assert panel.checkpoint_path is not None and panel.checkpoint_path.name == "best.pt"
        w.canvas.setFocus()
        QTest.keyClick(w.canvas, Qt.Key.Key_D)  # the next image: detected on arrival
        self.wait(lambda: panel.detections is not None
                  and panel.detections.image_id == w.current_image_path().stem, 120,
                  "detections on the next image")
        panel.score_slider.setValue(250)  # score > 0.25 (the checkpoint says 0.5)
        panel.iou_slider.setValue(60)     # NMS IoU 0.60 (0.45)
        self.settle()
        c = panel.marks.counts if panel.marks is not None else {}
        self.notes["tune"] = (f"{w.current_image_path().name}: {len(panel.detections)} kept, "
                              f"TP {c.get('TP')} FP {c.get('FP')} FN {c.get('FN')}, "
                              f"postprocess {panel.last_postprocess_ms:.1f} ms")
        self.shot("04-tune.png")

    def export(self) -> None:
        from PySide6.QtCore import QTimer
        from PySide6.QtGui import QColor, QPainter
        from PySide6.QtWidgets import QApplication, QMessageBox

        from workbench.gui.export_dialog import ExportDialog

        w = self.window
        done: list[str] = []

        def report() -> None:  # the message box that follows the export
            box = QApplication.activeModalWidget()
            if isinstance(box, QMessageBox):
                done.append(box.text())
                box.accept()
            else:
                QTimer.singleShot(100, report)

        def fill() -> None:
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, ExportDialog):
                QTimer.singleShot(100, fill)
                return
            dialog.format.setCurrentIndex(dialog.format.findData("voc"))
            picture = w.grab()
            painter = QPainter(picture)
            painter.fillRect(picture.rect(), QColor(0, 0, 0, 110))
            shot = dialog.grab()
            x = (picture.width() - shot.width()) // 2
            y = (picture.height() - shot.height()) // 3
            painter.fillRect(x - 1, y - 1, shot.width() + 2, shot.height() + 2, QColor("#4d8dff"))
            painter.drawPixmap(x, y, shot)
            painter.end()
            self.save(picture, "05-export.png")
            QTimer.singleShot(200, report)
            dialog.export_button.click()

        QTimer.singleShot(200, fill)
        w.actions.export.trigger()  # File → Export dataset… (modal until Export is clicked)
        self.wait(lambda: bool(done), 300, "the export report")
        self.notes["export"] = done[0]


def _drag(view, start: tuple[float, float], end: tuple[float, float],  # noqa: ANN001
          steps: int = 8) -> None:
    """Press, move and release the left button on the canvas viewport (image px)."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    vp = view.viewport()
    a, b = view.mapFromScene(QPointF(*start)), view.mapFromScene(QPointF(*end))
    QTest.mouseMove(vp, a)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, a + (b - a) * (i / steps))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    work = Path(tempfile.mkdtemp(prefix="workbench-walkthrough-"))
    os.environ["XDG_DATA_HOME"] = str(work / "share")        # the app's data folder
    os.environ["WORKBENCH_SETTINGS"] = str(work / "settings.ini")  # a first start
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    walk = Walkthrough(args, work)
    try:
        walk.open_sample()
        walk.draw_box()
        walk.train()
        walk.tune()
        walk.export()
    finally:
        window = getattr(walk, "window", None)
        if window is not None:
            window.close()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print(f"sample: {args.images} images; drawn: {walk.notes.get('drawn')}")
    for epoch, m07, m, minutes in walk.epochs:
        print(f"  epoch {epoch}: mAP VOC07 {m07:.3f}, all-point {m:.3f} at {minutes:.2f} min")
    for key in ("train", "tune", "export"):
        print(f"{key}: {walk.notes.get(key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
