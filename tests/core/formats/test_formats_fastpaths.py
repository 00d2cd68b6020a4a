"""The readers' fast paths agree with the slow, obvious code: JPEG/PNG header sizes with
``imageinfo.image_info``, ``new_object`` with the ``VocObject`` constructor, the YOLO fast
line path with ``conventions.yolo_to_xyxy``."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.annotation import VocObject
from workbench.core.formats.conventions import yolo_to_xyxy
from workbench.core.formats.model import new_object
from workbench.core.formats.sizes import _parse, image_size_fast
from workbench.core.formats.yolo import parse_lines
from workbench.core.imageinfo import ImageReadError, image_info


@pytest.mark.parametrize("name,mode,orientation", [
    ("rgb.jpg", "RGB", 1), ("grey.jpg", "L", 1), ("rot6.jpg", "RGB", 6), ("rot3.jpg", "RGB", 3),
    ("rgb.png", "RGB", 1), ("grey.png", "L", 1), ("rgba.png", "RGBA", 1), ("p.png", "P", 1),
    ("cmyk.jpg", "CMYK", 1), ("x.bmp", "RGB", 1), ("x.webp", "RGB", 1),
])
def test_header_sizes_match_image_info(tmp_path: Path, name: str, mode: str,
                                       orientation: int) -> None:
    img = Image.fromarray(np.zeros((30, 50, 3), np.uint8)).convert(mode)
    path = tmp_path / name
    if orientation != 1:
        exif = img.getexif()
        exif[0x0112] = orientation
        img.save(path, exif=exif)
    else:
        img.save(path)
    assert image_size_fast(path) == image_info(path)
    if name.endswith((".bmp", ".webp")) or mode == "CMYK":
        assert _parse(str(path)) is None  # left to Pillow


def test_header_size_cache_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGB", (10, 20)).save(path)
    assert (image_size_fast(path).width, image_size_fast(path).height) == (10, 20)
    Image.new("RGB", (40, 20)).save(path)
    assert image_size_fast(path).width == 40
    path.unlink()
    with pytest.raises(ImageReadError):
        image_size_fast(path)


def test_new_object_equals_constructor() -> None:
    a = new_object("cat", (1.0, 2.0, 3.0, 4.0), True)
    b = VocObject(name="cat", box=(1.0, 2.0, 3.0, 4.0), difficult=True)
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)


def test_yolo_fast_path_equals_conventions() -> None:
    rng = random.Random(0)
    lines, expected = [], []
    for _ in range(500):
        cx, cy = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8)
        w, h = rng.uniform(0.01, 0.3), rng.uniform(0.01, 0.3)
        lines.append(f"1 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        expected.append(yolo_to_xyxy(*(float(f"{v:.6f}") for v in (cx, cy, w, h)), 640, 480))
    objects, problems, numbers = parse_lines("\n".join(lines), (640, 480), {0: "a", 1: "b"},
                                             shown="x.txt")
    assert problems == [] and numbers == list(range(1, 501))
    assert [o.box for o in objects] == expected and {o.name for o in objects} == {"b"}


def test_header_past_the_first_read(tmp_path: Path) -> None:
    """A 20 KB EXIF block before the frame header: the second, longer read finds it."""
    img = Image.fromarray(np.zeros((30, 50, 3), np.uint8))
    exif = img.getexif()
    exif[0x010E] = "x" * 20000  # ImageDescription
    exif[0x0112] = 8
    path = tmp_path / "big_exif.jpg"
    img.save(path, exif=exif)
    info = _parse(str(path))
    assert info is not None and info == image_info(path)
    assert (info.width, info.height, info.orientation) == (30, 50, 8)
