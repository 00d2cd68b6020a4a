"""The state scan imports the decoder (Pillow + NumPy) only when the project has an image the
JPEG header reader leaves to it (``navigation.import_decoder_if_needed``; start-up, issue 14):
camera / phone JPEGs with EXIF, XMP and ICC blocks are read without it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from workbench.gui.navigation import import_decoder_if_needed
before = "PIL.Image" in sys.modules
imported = import_decoder_if_needed(sys.argv[1:])
print(json.dumps([before, imported, "PIL.Image" in sys.modules, "numpy" in sys.modules]))
"""


def _camera_jpeg(path: Path, orientation: int) -> None:
    exif = Image.Exif()
    exif[274] = orientation
    exif[271] = "maker"
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), 90).save(buf, "JPEG", exif=exif.tobytes(),
                                        icc_profile=b"\1" * 100,
                                        xmp=b'<tiff:Orientation>6</tiff:Orientation>')
    path.write_bytes(buf.getvalue())


def _probe(paths: list[Path]) -> list[bool]:
    out = subprocess.run([sys.executable, "-c", PROBE, *map(str, paths)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture()
def camera_folder(tmp_path: Path) -> list[Path]:
    paths = []
    for i in range(1, 9):
        path = tmp_path / f"IMG_{i:04d}.JPG"
        _camera_jpeg(path, i)
        paths.append(path)
    return paths


def test_camera_jpegs_need_no_decoder(camera_folder: list[Path]) -> None:
    assert _probe(camera_folder) == [False, False, False, False]


def test_a_png_among_them_imports_it(camera_folder: list[Path], tmp_path: Path) -> None:
    png = tmp_path / "scan.png"
    Image.new("RGB", (8, 8)).save(png)
    assert _probe([*camera_folder, png]) == [False, True, True, True]


def test_a_jpeg_left_to_pillow_imports_it(camera_folder: list[Path], tmp_path: Path) -> None:
    odd = tmp_path / "odd.jpg"
    data = camera_folder[0].read_bytes()
    odd.write_bytes(data[:2] + b"\xff\xff" + data[2:])  # fill bytes: Pillow's to read
    assert _probe([odd, *camera_folder]) == [False, True, True, True]
