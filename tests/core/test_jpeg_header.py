"""The plain-JPEG header reader (core/jpeg_header.py) against Pillow's reading of the same
bytes (imageinfo's ``_pillow_info``): whatever the fast path answers, Pillow answers the
same; everything unusual is left to Pillow (``None``)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.imageinfo import ImageReadError, image_info
from workbench.core.jpeg_header import jpeg_size, parse_jpeg_header

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from jpeg_helpers import jpeg, pillow_answer  # noqa: E402

RACCOON = Path("/work/shared/datasets/raccoon/images")


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[274] = orientation
    return exif.tobytes()


def _agree(tmp_path: Path, data: bytes, name: str = "x.jpg"):
    path = tmp_path / name
    path.write_bytes(data)
    fast = jpeg_size(path)
    if fast is not None:
        assert (*fast, 1) == pillow_answer(path), data[:64]
    return fast


PLAIN = {
    "rgb": jpeg(),
    "grey": jpeg("L", (5, 300)),
    "progressive": jpeg(progressive=True),
    "optimized": jpeg(optimize=True, quality=20),
    "comment": jpeg(comment=b"hello"),
    "subsampling": jpeg(size=(1000, 3), subsampling=0),
}
UNUSUAL = {  # Pillow reads these; the fast path must leave them to it
    "exif_rotated": jpeg(exif=_exif(6)),
    "exif_plain": jpeg(exif=_exif(1)),
    "cmyk_adobe": jpeg("CMYK", (64, 8)),  # Pillow writes an APP14 Adobe segment
    "icc": jpeg(icc_profile=b"\0" * 200),
    "fill_bytes": jpeg()[:2] + b"\xff\xff" + jpeg()[2:],
    "xmp": jpeg(xmp=b'<x:xmpmeta><tiff:Orientation>8</tiff:Orientation></x:xmpmeta>'),
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_jpegs_read_as_pillow_reads_them(tmp_path, name):
    fast = _agree(tmp_path, PLAIN[name])
    assert fast is not None
    with Image.open(io.BytesIO(PLAIN[name])) as img:
        assert fast[:2] == img.size


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_jpegs_are_left_topillow_answer(tmp_path, name):
    assert _agree(tmp_path, UNUSUAL[name]) is None


def test_rotated_jpeg_keeps_its_displayed_size(tmp_path):
    path = tmp_path / "r.jpg"
    path.write_bytes(UNUSUAL["exif_rotated"])
    info = image_info(path)
    assert (info.width, info.height, info.orientation, info.raw_width) == (21, 37, 6, 37)


def test_every_cut_of_a_header_agrees_withpillow_answer(tmp_path):
    data = PLAIN["rgb"]
    sos = data.index(b"\xff\xda")
    answers = [_agree(tmp_path, data[:n]) for n in range(0, sos + 20)]
    assert all(a is None for a in answers[:sos + 14])  # the SOS segment itself must be whole
    assert answers[-1] == (37, 21, 3)


def test_cut_header_keeps_the_decoders_message(tmp_path):
    data = PLAIN["rgb"]
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:data.index(b"\xff\xc4") + 6])  # inside the Huffman tables
    with pytest.raises(ImageReadError, match="ends inside its header"):
        image_info(path)


def test_limits_apply_to_the_fast_path(tmp_path):
    path = tmp_path / "thin.jpg"
    path.write_bytes(jpeg(size=(1, 50)))
    assert jpeg_size(path) == (1, 50, 3)
    with pytest.raises(ImageReadError, match="image too small: 1×50"):
        image_info(path)


def test_not_a_regular_file(tmp_path):
    (tmp_path / "dir.jpg").mkdir()
    assert jpeg_size(tmp_path / "dir.jpg") is None
    assert jpeg_size(tmp_path / "missing.jpg") is None
    with pytest.raises(ImageReadError, match="not found"):
        image_info(tmp_path / "missing.jpg")


def test_mutated_headers_agree_withpillow_answer(tmp_path):
    """Random byte edits in the header: whenever the fast path answers, Pillow agrees."""
    rng = np.random.default_rng(5)
    base = PLAIN["rgb"]
    sos = base.index(b"\xff\xda") + 14
    answered = 0
    for i in range(400):
        data = bytearray(base)
        for _ in range(int(rng.integers(1, 3))):
            at = int(rng.integers(2, sos))
            data[at] = int(rng.choice([0, 1, 2, 0xFF, 0xC0, 0xC2, 0xDA, 0xE1, 8, 16,
                                       int(rng.integers(0, 256))]))
        answered += _agree(tmp_path, bytes(data), f"m{i}.jpg") is not None
    assert answered > 50  # the fast path was exercised, not only refused


def test_dqt_tables_checked_as_pillow_checks_them():
    data = PLAIN["rgb"]
    at = data.index(b"\xff\xdb")
    length = (data[at + 2] << 8) | data[at + 3]
    short = data[:at + 2] + (length - 1).to_bytes(2, "big") + data[at + 4:at + 2 + length - 1] \
        + data[at + 2 + length:]
    assert parse_jpeg_header(short) is None


@pytest.mark.skipif(not RACCOON.is_dir(), reason="raccoon dataset not present")
def test_raccoon_photos(tmp_path):
    taken = 0
    for path in sorted(RACCOON.glob("*.jpg")):
        fast = jpeg_size(path)
        if fast is not None:
            taken += 1
            assert (*fast, 1) == pillow_answer(path), path.name
    assert taken > 100
