"""A hand-made project and a fake detector for the Errors panel and operating-point tests.

Not a test module: the GUI tests load this file by path (tests are not a package under
``--import-mode=importlib``).

Images a..f (100x80 px), classes cat and dog; ``ImageSets/Main/val.txt`` lists b, c, d, e
(train: a); f has no label file (never evaluated). The fake detector's raw outputs per image
(score, class, box) and what they are at IoU 0.5:

* a: cat object; cat .9 on it (TP).
* b: dog object D and cat object C; cat .8 on D (a FP of cat, confused with dog: D is a FN),
  cat .7 on C (TP).
* c: cat object; dog .6 far from it (FP, background), the cat is a FN.
* d: dog object; dog .95 on it (TP), dog .3 far from it (FP below .3 only).
* e: no objects (empty label file); cat .55 (FP).

Detections are far apart or on distinct objects, so NMS (IoU .45) keeps all of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("cat", "dog")
LEFT, RIGHT = (10.0, 10.0, 50.0, 50.0), (60.0, 10.0, 95.0, 50.0)
FAR = (60.0, 45.0, 90.0, 75.0)

#: stem -> ground truth [(class, box)] (None: no label file)
TRUTH = {
    "a": [("cat", LEFT)],
    "b": [("dog", LEFT), ("cat", RIGHT)],
    "c": [("cat", LEFT)],
    "d": [("dog", LEFT)],
    "e": [],
    "f": None,
}
#: stem -> raw detections [(score, class, box)]
PREDICTIONS = {
    "a": [(0.9, "cat", LEFT)],
    "b": [(0.8, "cat", LEFT), (0.7, "cat", RIGHT)],
    "c": [(0.6, "dog", FAR)],
    "d": [(0.95, "dog", LEFT), (0.3, "dog", FAR)],
    "e": [(0.55, "cat", (5.0, 5.0, 30.0, 30.0))],
    "f": [(0.5, "dog", LEFT)],
}


def make_project(root: Path) -> Path:
    """Write the images, labels and split under ``root``; returns the images folder."""
    import cv2

    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.voc import write_annotation

    images = root / "images"
    images.mkdir(parents=True)
    for i, (stem, truth) in enumerate(TRUTH.items()):
        cv2.imwrite(str(images / f"{stem}.png"), np.full((80, 100, 3), 30 + 20 * i, np.uint8))
        if truth is not None:
            write_annotation(Annotation(f"{stem}.png", ImageSize(100, 80, 3), tuple(
                VocObject(name, box) for name, box in truth)), images / f"{stem}.xml")
    return images


def write_split(project_root: Path) -> None:
    sets = project_root / "ImageSets" / "Main"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "train.txt").write_text("a\n")
    (sets / "val.txt").write_text("b\nc\nd\ne\n")


class FakeDetector:
    """What the panels use of a ``RawDetector``: ``classes``, ``settings``, ``name``,
    ``device``, ``raw(path)`` / ``is_cached(path)``; counts its network runs."""

    def __init__(self, score: float = 0.5) -> None:
        from workbench.engine.postprocess import PostprocessSettings

        self.classes = CLASSES
        self.settings = PostprocessSettings(score_threshold=score, nms_iou=0.45, top_k=100)
        self.name = "fake"
        self.device = "cpu"
        self.forward_images = 0
        self.calls: list[str] = []

    def raw(self, path: str | Path):  # noqa: ANN201
        from workbench.engine.postprocess import RawDetections

        stem = Path(path).stem
        self.forward_images += 1
        self.calls.append(stem)
        preds = PREDICTIONS[stem]
        return RawDetections.from_unsorted(
            np.asarray([p[2] for p in preds], dtype=np.float32).reshape(-1, 4),
            np.asarray([p[0] for p in preds], dtype=np.float32),
            np.asarray([CLASSES.index(p[1]) + 1 for p in preds], dtype=np.int64),
            score_floor=0.001, image_size=(100, 80))

    def is_cached(self, _path: str | Path) -> bool:
        return False


def open_window(qtbot, tmp_path: Path):  # noqa: ANN001, ANN201 - a MainWindow
    """The labeling window at 1280x800 on :func:`make_project` with its split, no panels."""
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    images = make_project(tmp_path)
    write_split(images)  # the project's root is the images folder (labels beside them)
    w = MainWindow(Settings(tmp_path / "settings.ini"), panels=[])
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    assert w.open_project(images)
    assert Path(w.project.root) == images
    return w
