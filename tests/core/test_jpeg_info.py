"""The metadata-aware JPEG header reader (``jpeg_header.jpeg_info``) against Pillow's reading
of the same bytes (imageinfo's ``_pillow_info``): EXIF, XMP, ICC, Adobe and Photoshop segments
are read without Pillow when Pillow could not fail on them, with the decoder's orientation;
whatever the fast path answers, Pillow answers the same — including failing, where the fast
path must leave the file to it (``None``)."""

from __future__ import annotations

import sys
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.imageinfo import image_info
from workbench.core.jpeg_header import HEADER_BYTES, jpeg_info, jpeg_size, parse_jpeg_info
from workbench.core.voc import read_clean
from workbench.core.voc_write import write_annotation

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from jpeg_helpers import jpeg, pillow_answer  # noqa: E402

RACCOON = Path("/work/shared/datasets/raccoon/images")


def _exif(**tags: int) -> bytes:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[int(tag[1:])] = value
    return exif.tobytes()


def _fast(path: Path):
    found = jpeg_info(path)
    if found is None:
        return None
    w, h, depth, orientation = found
    return (h, w, depth, orientation) if orientation in (5, 6, 7, 8) else (w, h, depth,
                                                                          orientation)


def _agree(tmp_path: Path, data: bytes, name: str = "x.jpg"):
    path = tmp_path / name
    path.write_bytes(data)
    fast = _fast(path)
    if fast is not None:
        assert fast == pillow_answer(path), data[:80]
    return fast


def _segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def _with(segment: bytes, base: bytes | None = None) -> bytes:
    """``base`` with ``segment`` inserted right after its APP0."""
    base = base or jpeg()
    at = 4 + struct.unpack(">H", base[4:6])[0]
    return base[:at] + segment + base[at:]


XMP = b"http://ns.adobe.com/xap/1.0/\x00"
PHOTOSHOP_RES = b"8BIM\x04\x04\x00\x00\x00\x00\x00\x04abcd"  # IPTC, empty name, 4 bytes


@pytest.mark.parametrize("orientation", range(0, 10))
def test_exif_orientation_as_the_decoder_reads_it(tmp_path, orientation):
    data = jpeg(exif=_exif(t274=orientation))
    fast = _agree(tmp_path, data)
    expected = orientation if 1 <= orientation <= 8 else 1
    size = (21, 37) if expected in (5, 6, 7, 8) else (37, 21)
    assert fast == (*size, 3, expected)
    assert jpeg_size(tmp_path / "x.jpg") is None  # not plain: Qt's own decoder must not take it


@pytest.mark.parametrize(("exif", "xmp", "expected"), [
    (None, b'<tiff:Orientation>8</tiff:Orientation>', 8),
    (None, b'tiff:Orientation="6"', 6),
    (None, b'<nothing/>', 1),
    ({"t305": 1}, b'tiff:Orientation="6"', 6),  # EXIF without tag 274: XMP's
    ({"t274": 3}, b'tiff:Orientation="6"', 3),  # EXIF's tag wins
    ({"t274": 0}, b'tiff:Orientation="6"', 1),  # present but 0: no XMP, then 1
    (None, b'tiff:Orientation="9"', 1),
])
def test_xmp_orientation_only_without_the_exif_tag(tmp_path, exif, xmp, expected):
    data = jpeg(xmp=xmp, **({"exif": _exif(**exif)} if exif else {}))
    assert _agree(tmp_path, data)[3] == expected


@pytest.mark.parametrize("name", ["icc", "cmyk_adobe", "photoshop", "other_app", "comment_exif",
                                  "grey_exif", "xmp_twice"])
def test_metadata_segments_read_withoutpillow_answer(tmp_path, name):
    data = {
        "icc": jpeg(icc_profile=b"\1" * 200),
        "cmyk_adobe": jpeg("CMYK", (64, 8)),
        "photoshop": _with(_segment(0xED, b"Photoshop 3.0\x00" + PHOTOSHOP_RES * 2)),
        "other_app": _with(_segment(0xE3, b"anything") + _segment(0xE1, b"not exif")),
        "comment_exif": jpeg(comment=b"x", exif=_exif(t274=6, t271=0)),
        "grey_exif": jpeg("L", (9, 4), exif=_exif(t274=8)),
        "xmp_twice": _with(_segment(0xE1, XMP + b'tiff:Orientation="5"')
                           + _segment(0xE1, XMP + b'tiff:Orientation="7"')),
    }[name]
    assert _agree(tmp_path, data) is not None


def test_exif_of_a_camera_form_with_resolution_tags(tmp_path):
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[274] = 6
    exif[282] = IFDRational(300, 1)
    exif[283] = IFDRational(300, 1)
    exif[296] = 2
    exif[271] = "Camera maker"
    exif[272] = "Model with a long name"
    data = jpeg(exif=exif.tobytes())
    assert _agree(tmp_path, data) == (21, 37, 3, 6)


@pytest.mark.parametrize("name", [
    "mpo", "icc_short", "adobe_short", "photoshop_cut", "exif_twice", "exif_bad_header",
    "exif_ifd_outside", "exif_entries_cut", "orientation_long", "orientation_two",
    "resolution_ascii", "unknown_type", "value_outside", "duplicate_tag", "fill_bytes",
])
def test_anything_else_is_left_topillow_answer(tmp_path, name):
    def tiff(entries: list[tuple[int, int, int, int]], ifd: int = 8, tail: int = 4,
             head: bytes = b"II*\x00") -> bytes:
        out = head + struct.pack("<L", ifd) + b"\0" * (ifd - 8) + struct.pack("<H", len(entries))
        out += b"".join(struct.pack("<HHLL", *e) for e in entries)
        return b"Exif\0\0" + out + b"\0" * tail

    good = [(274, 3, 1, 6)]
    data = {
        "mpo": _with(_segment(0xE2, b"MPF\0" + b"\0" * 20)),
        "icc_short": _with(_segment(0xE2, b"ICC_PROFILE\0\1")),
        "adobe_short": _with(_segment(0xEE, b"Adobe\0")),
        "photoshop_cut": _with(_segment(0xED, b"Photoshop 3.0\x00" + PHOTOSHOP_RES[:6])),
        "exif_twice": _with(_segment(0xE1, tiff(good)) + _segment(0xE1, tiff(good))),
        "exif_bad_header": _with(_segment(0xE1, tiff(good, head=b"MM*\x00"))),
        "exif_ifd_outside": _with(_segment(0xE1, tiff([], ifd=200)[:30])),
        "exif_entries_cut": _with(_segment(0xE1, tiff(good, tail=0))),
        "orientation_long": _with(_segment(0xE1, tiff([(274, 4, 1, 6)]))),
        "orientation_two": _with(_segment(0xE1, tiff([(274, 3, 2, 6)]))),
        "resolution_ascii": _with(_segment(0xE1, tiff(good + [(282, 2, 1, 0)]))),
        "unknown_type": _with(_segment(0xE1, tiff(good + [(305, 13, 1, 0)]))),
        "value_outside": _with(_segment(0xE1, tiff(good + [(305, 2, 40, 500)]))),
        "duplicate_tag": _with(_segment(0xE1, tiff(good + [(274, 3, 1, 3)]))),
        "fill_bytes": jpeg()[:2] + b"\xff\xff" + jpeg()[2:],
    }[name]
    assert _agree(tmp_path, data) is None


def test_a_header_past_the_first_read_is_read_on(tmp_path):
    exif = Image.Exif()
    exif[274] = 8
    exif[270] = "x" * (HEADER_BYTES + 5000)  # a description longer than the first read
    data = jpeg(exif=exif.tobytes())
    assert data.index(b"\xff\xda") > HEADER_BYTES
    assert parse_jpeg_info(data[:HEADER_BYTES]) is None
    assert _agree(tmp_path, data) == (21, 37, 3, 8)


def test_mutated_metadata_agrees_withpillow_answer(tmp_path):
    """Random byte edits inside EXIF / XMP / ICC / Photoshop segments: whenever the fast path
    answers, Pillow answers the same (and never fails on such a file)."""
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[274] = 6
    exif[282] = IFDRational(72, 1)
    exif[296] = 2
    exif[271] = "maker"
    base = _with(_segment(0xED, b"Photoshop 3.0\x00" + PHOTOSHOP_RES),
                 jpeg(exif=exif.tobytes(), icc_profile=b"\2" * 40,
                       xmp=b'tiff:Orientation="3"'))
    first = 20  # past SOI + APP0
    sos = base.index(b"\xff\xda")
    rng = np.random.default_rng(11)
    answered = 0
    for i in range(600):
        data = bytearray(base)
        for _ in range(int(rng.integers(1, 3))):
            at = int(rng.integers(first, sos))
            data[at] = int(rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 0xFF, 0x2A, 0x49, 0x4D,
                                       int(rng.integers(0, 256))]))
        answered += _agree(tmp_path, bytes(data), f"m{i}.jpg") is not None
    assert answered > 200  # the fast path was exercised, not only refused


def test_rotated_photo_labelled_as_shown_reads_clean(tmp_path):
    from workbench.core.annotation import Annotation, ImageSize, VocObject

    image = tmp_path / "photo.jpg"
    image.write_bytes(jpeg(size=(40, 30), exif=_exif(t274=6)))
    assert image_info(image).size == ImageSize(30, 40, 3)
    xml = tmp_path / "photo.xml"
    ann = Annotation("photo.jpg", ImageSize(30, 40, 3), (VocObject("cat", (2, 3, 20, 30)),))
    write_annotation(ann, xml)
    clean = read_clean(str(xml), str(image))
    assert clean is not None and clean[0].size == ImageSize(30, 40, 3)
    # the stored size (40 x 30) written as the size is not clean: the full reader says why
    write_annotation(Annotation("photo.jpg", ImageSize(40, 30, 3), ann.objects), xml)
    assert read_clean(str(xml), str(image)) is None


@pytest.mark.skipif(not RACCOON.is_dir(), reason="raccoon dataset not present")
def test_raccoon_photos_all_read_withoutpillow_answer(tmp_path):
    paths = sorted(RACCOON.glob("*.jpg"))
    for path in paths:
        fast = _fast(path)
        assert fast is not None, path.name  # EXIF, XMP, ICC and Photoshop blocks among them
        assert fast == pillow_answer(path), path.name
    assert sum(jpeg_size(p) is None for p in paths) == 45  # of which not plain
