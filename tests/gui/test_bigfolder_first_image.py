"""Issue 14: the image painted first at start-up is the one the project shows first.

``opening.first_image`` picks the natural-order first image without a key per name; these
tests hold it to ``min(images, key=natural_key)`` (and to ``Project.open``) on the cases its
shortcuts treat differently: case, leading zeros, numbers of different lengths, names without
a number, non-images that sort first, newlines and non-ASCII digits in names.
"""

from __future__ import annotations

import random

import pytest

from workbench.core.project_scan import natural_key
from workbench.gui.opening import PREVIEW_EXTENSIONS, first_image, preview_image


def _images(names):
    return [n for n in names
            if n.rfind(".") > 0 and n[n.rfind("."):].lower() in PREVIEW_EXTENSIONS]


def _expected(names):
    images = _images(names)
    return min(images, key=natural_key) if images else None


@pytest.mark.parametrize("names, first", [
    (["img10.jpg", "img2.jpg", "IMG1.jpg"], "IMG1.jpg"),
    (["img10.jpg", "img2.jpg", "img01.png"], "img01.png"),  # 01 == 1 < 2
    (["img1.xml", "img2.jpg", "img10.jpg"], "img2.jpg"),  # a non-image with the least number
    (["a.xml", "b.txt", "img3.jpg"], "img3.jpg"),  # non-images that sort first
    (["img.jpg", "img0.jpg", "img1.jpg"], "img0.jpg"),  # ("img", 0, …) < ("img.jpg",)
    (["img_1.jpg", "img.jpg", "img_0.png"], "img.jpg"),  # no number, the least text
    (["img007.jpg", "img10.jpg", "img8.jpg"], "img007.jpg"),  # leading zeros, 3 digits = 7
    (["img0.jpg", "img00.jpg", "img1.jpg"], "img0.jpg"),  # equal keys but for the zeros
    (["x9.jpg", "x10a.jpg", "x9a.jpg", "X9.PNG"], "x9.jpg"),
    (["10.jpg", "9.jpg", "a.jpg"], "9.jpg"),  # no leading text
    (["b1.jpg", "a10.jpg", "a9.jpg", "A9b.jpg", "a09.png", "a.jpg"], "a9.jpg"),
    (["img\n1.jpg", "img2.jpg", "img\n.jpg"], "img2.jpg"),  # newlines in names
    (["img\u0663.jpg", "img4.jpg"], "img\u0663.jpg"),  # Arabic-Indic 3: int() reads it
    ([".jpg", "notes.txt"], None),  # no stem, no image
    ([], None),
])
def test_first_image_is_the_natural_first(names, first):
    assert first_image(names) == first == _expected(names)
    for i in range(1, len(names)):  # listing order decides between equal keys, as min()
        rotated = names[i:] + names[:i]
        assert first_image(rotated) == _expected(rotated)


def test_first_image_random_names():
    rng = random.Random(14)
    parts = ["img", "IMG", "a", "b", "", ".", "-", " ", "é", "ß", "0", "x.jpg"]
    for _ in range(3000):
        names = list(dict.fromkeys(
            "".join(rng.choice(parts) + (str(rng.choice([0, 1, 2, 9, 10, 100])).zfill(
                rng.choice([0, 1, 3])) if rng.random() < 0.7 else "")
                for _ in range(rng.randint(1, 3)))
            + rng.choice([".jpg", ".JPG", ".png", ".xml", "", ".Tiff"])
            for _ in range(rng.randint(1, 10))))
        assert first_image(names) == _expected(names), names
        assert first_image(names, images_only=False) == min(names, key=natural_key), names


def test_first_image_many_names():
    names = [f"frame_{i:06d}.JPG" for i in range(20000, 0, -1)] + ["a.txt", "frame_.xml"]
    assert first_image(names) == "frame_000001.JPG"
    names = [f"img{i}.jpg" for i in range(20000, 0, -1)] + ["img0.xml"]  # least: no image
    assert first_image(names) == "img1.jpg"


def test_preview_is_the_first_entry_of_the_project(tmp_path):
    from workbench.core.project import Project

    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("img10.jpg", "img2.jpg", "IMG1.jpg", "img1.xml", "img01b.png", "a.txt"):
        (folder / name).write_bytes(b"")
    shown = preview_image(folder)
    assert shown == folder / "IMG1.jpg"
    assert Project.open(folder).entries[0].image_path == shown
