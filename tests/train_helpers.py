"""A tiny generated VOC folder for the training tests: coloured rectangles on grey noise.

Not a test module: ``tests/engine/conftest.py`` and the GUI / e2e training tests load this file
by path with :func:`load` (tests are not a package under ``--import-mode=importlib``).


Each image (96 × 80 px by default) holds one or two filled rectangles; the colour names the
class ("red", "blue"). One image has no object (a labeled negative). Annotations are written as
VOC XML through :mod:`workbench.core.voc`; :func:`records_of` gives the same labels as engine
records without reading XML.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from workbench.engine.dataset import ImageRecord
from workbench.engine.snapshot import DataSnapshot

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def make_scene(rng: np.random.Generator, width: int, height: int, n_objects: int,
               classes: tuple[str, ...]) -> tuple[np.ndarray, list[tuple[str, tuple]]]:
    image = rng.integers(100, 140, size=(height, width, 3), dtype=np.uint8)
    objects = []
    for _ in range(n_objects):
        w, h = int(rng.integers(20, width // 2)), int(rng.integers(20, height // 2))
        x1, y1 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        name = classes[int(rng.integers(len(classes)))]
        image[y1:y1 + h, x1:x1 + w] = COLOURS[name]
        objects.append((name, (float(x1), float(y1), float(x1 + w), float(y1 + h))))
    return image, objects


def write_tiny_voc(root: Path, n_images: int = 8, size: tuple[int, int] = (96, 80),
                   seed: int = 0, classes: tuple[str, ...] = ("red", "blue"),
                   write_xml: bool = True) -> list[ImageRecord]:
    """Write ``root/images/*.png`` (+ ``root/annotations/*.xml``); return the records."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n_images):
        n_obj = 0 if i == n_images - 1 else 1 + int(rng.integers(2))
        image, objects = make_scene(rng, size[0], size[1], n_obj, classes)
        path = root / "images" / f"img_{i:03d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        records.append(ImageRecord(
            path, path.stem, size[0], size[1],
            np.asarray([b for _, b in objects], np.float32).reshape(-1, 4),
            np.asarray([n for n, _ in objects], dtype=str).reshape(-1),
            np.zeros(len(objects), bool)))
        if write_xml:
            _write_xml(root / "annotations" / f"{path.stem}.xml", path, size, objects)
    return records


def _write_xml(xml_path: Path, image_path: Path, size: tuple[int, int],
               objects: list[tuple[str, tuple]]) -> None:
    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.voc import write_annotation

    ann = Annotation(filename=image_path.name, size=ImageSize(size[0], size[1]),
                     objects=tuple(VocObject(name=n, box=b) for n, b in objects),
                     folder="images")
    write_annotation(ann, xml_path)


def snapshot_of(records: list[ImageRecord], n_val: int = 2) -> DataSnapshot:
    classes = tuple(sorted({str(n) for r in records for n in r.names}))
    return DataSnapshot(classes, tuple(records[:-n_val]) if n_val else tuple(records),
                        tuple(records[-n_val:]) if n_val else ())


def load(name: str = "workbench_train_helpers"):  # noqa: ANN201 - returns this module
    """This file as a module, loaded by path (idempotent)."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, __file__)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
