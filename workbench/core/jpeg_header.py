"""The size of a plain JPEG from its markers, without Pillow: the fast path of
:func:`workbench.core.imageinfo.image_info`.

Reading a header through ``PIL.Image.open`` costs ~100 µs (plugin lookup, a Python call per
byte of the marker loop, the ``JpegImageFile`` object); ``eval``, ``validate`` and the
readers ask for thousands. Most files are what cameras-without-EXIF, Pillow, OpenCV and
libjpeg write: ``SOI``, ``APP0`` (JFIF), comments, tables, one frame header, ``SOS``.
:func:`jpeg_size` reads exactly those and returns ``None`` for everything else, so that
Pillow — with every one of its rules and messages — handles it:

* any ``APP1``–``APP15`` segment (EXIF and XMP give the orientation, ``APP2`` makes an MPO,
  Adobe/Photoshop blocks have parsers that can fail), fill bytes, junk between segments,
  an unknown or unusual marker (``DNL``, ``DHP``, ``EXP``, restart markers, a second
  ``SOI``, arithmetic or lossless frames), a second frame header;
* an ``APP0`` that starts with ``JFIF`` but is shorter than Pillow's reader of it needs, a
  quantisation table Pillow would call bad, a frame header that is short, not 8-bit, not 1,
  3 or 4 components, or of zero width or height;
* a file that ends, or exceeds :data:`HEADER_BYTES`, before the start of scan; a path that
  is not a regular file, or cannot be opened.

What it returns equals what ``image_info`` gets from Pillow for such a file: the stored size,
depth 1 for one component (Pillow's ``L``) else 3; the orientation is 1 (no EXIF/XMP block
exists). ``image_info`` applies the pixel limit and minimum side to it as to Pillow's.
"""

from __future__ import annotations

import os
import stat
import struct

#: Bytes read from the start of a file; a header not finished by then goes to Pillow.
HEADER_BYTES = 16384

_SOF = frozenset((0xC0, 0xC1, 0xC2))  # baseline, extended sequential, progressive (Huffman)
_SKIP = frozenset((0xC4, 0xDB, 0xDD, 0xFE, 0xE0))  # DHT, DQT, DRI, COM, APP0 (checked below)
_PASS = frozenset((0xC4, 0xDD, 0xFE))  # those of them passed over unread
#: ``(0xFF, marker, length)`` of a segment's first four bytes, one C call.
_SEGMENT = struct.Struct(">BBH").unpack_from


def jpeg_size(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """``(width, height, depth)`` of a plain JPEG (see the module doc), else ``None``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, HEADER_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    return parse_jpeg_header(data)


def parse_jpeg_header(data: bytes) -> tuple[int, int, int] | None:
    """:func:`jpeg_size` of the first bytes of a file."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    pos, end = 2, len(data)
    frame: tuple[int, int, int] | None = None
    segment = _SEGMENT
    while True:
        if pos + 4 > end:
            return None  # the header ends here: Pillow decides
        ff, marker, length = segment(data, pos)
        if ff != 0xFF:
            return None  # junk / fill bytes: Pillow decides
        nxt = pos + 2 + length
        if length < 2 or nxt > end:
            return None
        if marker in _PASS:  # (most segments: Huffman tables)
            pos = nxt
            continue
        body = pos + 4
        if marker == 0xDA:  # start of scan: the header is complete
            if frame is None:
                return None
            width, height, layers = frame
            return width, height, 1 if layers == 1 else 3
        if marker in _SOF:
            s = data[body:nxt]
            if frame is not None or len(s) < 6 or s[0] != 8 or s[5] not in (1, 3, 4):
                return None
            height, width = (s[1] << 8) | s[2], (s[3] << 8) | s[4]
            if width <= 0 or height <= 0:
                return None
            frame = (width, height, s[5])
        elif marker not in _SKIP:
            return None
        elif marker == 0xE0:
            # Pillow reads the JFIF version (bytes 5-6) without a guard
            if data[body:body + 4] == b"JFIF" and length - 2 < 7:
                return None
        elif marker == 0xDB and not _tables_ok(data[body:nxt]):
            return None
        pos = nxt


def _tables_ok(s: bytes) -> bool:
    """Pillow's ``DQT`` reader accepts these tables (else it raises)."""
    at = 0
    while at < len(s):
        at += 1 + (64 if s[at] < 16 else 128)
        if at > len(s):
            return False
    return True
