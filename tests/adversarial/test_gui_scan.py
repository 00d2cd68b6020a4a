"""The window opens a folder with a symlink loop (issue 12: ``RuntimeError: Symlink loop``
stopped the window from opening; the loop is now reported by the scan and left out)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PIL import Image


def _helpers():  # tests/gui/labeling_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "adversarial_labeling_helpers",
        Path(__file__).resolve().parents[1] / "gui" / "labeling_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_window_opens_a_folder_with_a_symlink_loop(qtbot, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "aaa_loop.jpg").symlink_to("aaa_loop.jpg")  # sorts first: the image shown first
    (images / "a").symlink_to("b")
    (images / "b").symlink_to("a")
    Image.new("RGB", (64, 48), (90, 20, 20)).save(images / "photo.jpg")
    w = _helpers().shown_window(qtbot, tmp_path / "settings.ini")
    assert w.open_project(images)
    assert [Path(e.image_path).name for e in w.entries()] == ["photo.jpg"]
    assert w.current_image_path() == images / "photo.jpg"
