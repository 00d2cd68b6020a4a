"""The size and orientation of a JPEG from its markers, without Pillow: the fast path of
:func:`workbench.core.imageinfo.image_info` and of the clean VOC reader.

Reading a header through ``PIL.Image.open`` costs ~100 µs (plugin lookup, a Python call per
byte of the marker loop, the ``JpegImageFile`` object) and, the first time, the import of
Pillow and NumPy; ``eval``, ``validate``, the readers and the file dock's state scan ask for
thousands. Most files are what cameras, phones, Pillow, OpenCV and libjpeg write: ``SOI``,
``APP0`` (JFIF), EXIF / XMP / ICC / Photoshop metadata, comments, tables, one frame header,
``SOS``. Two readers:

* :func:`jpeg_size` / :func:`parse_jpeg_header` — a *plain* JPEG: no ``APP1``–``APP15``
  segment at all (what the window may hand to Qt's own decoder: no orientation, no colour
  profile to honour);
* :func:`jpeg_info` / :func:`parse_jpeg_info` — also metadata segments, as long as Pillow's
  reader of them cannot fail and the orientation is read by the decoder's rule
  (``images.exif_orientation``: EXIF tag 274 of the first directory, else XMP's
  ``tiff:Orientation``, 1 when absent or outside 1..8). The EXIF block must be a well-formed
  first directory (header, entries, out-of-line values inside the block, each tag once, of
  a type Pillow loads; Orientation one SHORT, the resolution tags Pillow reads at open of
  their usual form) and the only EXIF segment; ICC segments at least 14 bytes (Pillow reads
  byte 13), an Adobe segment at least 7, a Photoshop block's resources inside it.

Both return ``None`` for everything else, so that Pillow — with every one of its rules and
messages — handles it:

* an MPO (``APP2`` ``MPF``), fill bytes, junk between segments, an unknown or unusual marker
  (``DNL``, ``DHP``, ``EXP``, restart markers, a second ``SOI``, arithmetic or lossless
  frames), a second frame header;
* an ``APP0`` that starts with ``JFIF`` but is shorter than Pillow's reader of it needs, a
  quantisation table Pillow would call bad, a frame header that is short, not 8-bit, not 1,
  3 or 4 components, or of zero width or height;
* a file that ends before the start of scan, or whose header exceeds :data:`HEADER_BYTES`
  (:data:`MAX_HEADER_BYTES` for :func:`jpeg_info`); a path that is not a regular file, or
  cannot be opened.

What they return equals what ``image_info`` gets from Pillow for such a file: the stored
size, depth 1 for one component (Pillow's ``L``) else 3, and the orientation.
``image_info`` applies the pixel limit and minimum side to it as to Pillow's.
"""

from __future__ import annotations

import os
import re
import stat
import struct

#: Bytes read from the start of a file; a header not finished by then goes to Pillow.
HEADER_BYTES = 16384
#: :func:`jpeg_info` reads on up to this when the header goes past :data:`HEADER_BYTES` (EXIF
#: thumbnails and ICC profiles take up to 64 KiB a segment).
MAX_HEADER_BYTES = 262_144

_SOF = frozenset((0xC0, 0xC1, 0xC2))  # baseline, extended sequential, progressive (Huffman)
_PASS = frozenset((0xC4, 0xDD, 0xFE))  # DHT, DRI, COM: passed over unread
#: ``(0xFF, marker, length)`` of a segment's first four bytes, one C call.
_SEGMENT = struct.Struct(">BBH").unpack_from


def jpeg_size(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """``(width, height, depth)`` of a plain JPEG (see the module doc), else ``None``."""
    found = _read_and_parse(path, HEADER_BYTES, plain=True)
    return None if found is None else found[:3]


def jpeg_info(path: str | os.PathLike[str]) -> tuple[int, int, int, int] | None:
    """``(stored width, stored height, depth, orientation)`` of a plain JPEG or of one whose
    metadata segments are as Pillow reads them without fail (see the module doc), else
    ``None``. A header longer than :data:`HEADER_BYTES` (an EXIF thumbnail, an ICC profile)
    is read on, from the same open file, up to :data:`MAX_HEADER_BYTES`."""
    return _read_and_parse(path, HEADER_BYTES, more=MAX_HEADER_BYTES)


def shown_size(info: tuple[int, int, int, int]) -> tuple[int, int]:
    """The displayed ``(width, height)`` of a :func:`jpeg_info` answer (EXIF orientations
    5–8 swap the stored sides)."""
    width, height, _depth, orientation = info
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def parse_jpeg_header(data: bytes) -> tuple[int, int, int] | None:
    """:func:`jpeg_size` of the first bytes of a file."""
    found = _parse(data, plain=True)
    return found[:3] if isinstance(found, tuple) else None


def parse_jpeg_info(data: bytes) -> tuple[int, int, int, int] | None:
    """:func:`jpeg_info` of the first bytes of a file (no second read)."""
    found = _parse(data, plain=False)
    return found if isinstance(found, tuple) else None


def _read_and_parse(path: str | os.PathLike[str], count: int, plain: bool = False,
                    more: int = 0) -> tuple[int, int, int, int] | None:
    """:func:`_parse` of the first ``count`` bytes of a regular file — read on up to ``more``
    bytes when the header goes past them — else ``None``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, count)
        found = _parse(data, plain)
        if found is _SHORT and len(data) == count < more:
            data += os.read(fd, more - count)
            found = _parse(data, plain)
    except OSError:
        return None
    finally:
        os.close(fd)
    return found if isinstance(found, tuple) else None


#: :func:`_parse`: the data ended inside the header (a longer read may finish it).
_SHORT = "short"


def _parse(data: bytes, plain: bool) -> tuple[int, int, int, int] | str | None:
    if data[:3] != b"\xff\xd8\xff":
        return None
    pos, end = 2, len(data)
    frame: tuple[int, int, int] | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    segment = _SEGMENT
    while True:
        if pos + 4 > end:
            return _SHORT  # the header ends here: Pillow decides
        ff, marker, length = segment(data, pos)
        if ff != 0xFF or length < 2:
            return None  # junk / fill bytes: Pillow decides
        nxt = pos + 2 + length
        if nxt > end:
            return _SHORT
        if marker in _PASS:  # (most segments: Huffman tables)
            pos = nxt
            continue
        body = pos + 4
        if marker == 0xDA:  # start of scan: the header is complete
            if frame is None:
                return None
            width, height, layers = frame
            orientation = 1 if exif is None and xmp is None else _orientation(exif, xmp)
            if orientation is None:
                return None
            return width, height, 1 if layers == 1 else 3, orientation
        if marker in _SOF:
            s = data[body:nxt]
            if frame is not None or len(s) < 6 or s[0] != 8 or s[5] not in (1, 3, 4):
                return None
            height, width = (s[1] << 8) | s[2], (s[3] << 8) | s[4]
            if width <= 0 or height <= 0:
                return None
            frame = (width, height, s[5])
        elif marker == 0xE0:
            # Pillow reads the JFIF version (bytes 5-6) without a guard
            if data[body:body + 4] == b"JFIF" and length - 2 < 7:
                return None
        elif marker == 0xDB:
            if not _tables_ok(data[body:nxt]):
                return None
        elif plain or not 0xE1 <= marker <= 0xEF:
            return None
        else:  # APP1-APP15 (not in a plain JPEG): what Pillow's APP reader may trip on
            s = data[body:nxt]
            if marker == 0xE1 and s.startswith(b"Exif\0\0"):
                if exif is not None:
                    return None  # Pillow joins them
                exif = s[6:]
            elif marker == 0xE1 and s.startswith(_XMP):
                xmp = s.split(b"\x00", 1)[1]  # (Pillow keeps the last)
            elif marker == 0xE2 and (s.startswith(b"MPF\0")  # an MPO: Pillow's other class
                                     or s.startswith(b"ICC_PROFILE\0") and len(s) < 14):
                return None  # (Pillow indexes byte 13 of an ICC segment)
            elif marker == 0xED and s.startswith(b"Photoshop 3.0\x00") and not _photoshop_ok(s):
                return None
            elif marker == 0xEE and s.startswith(b"Adobe") and len(s) < 7:
                return None  # (Pillow reads bytes 5-6 without a guard)
        pos = nxt


_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')  # Pillow's getexif's pattern
#: TIFF field types Pillow loads, and the bytes of one value.
_TIFF_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
#: tag → (type, count) it must have when present: Orientation, and the two that Pillow's
#: ``_read_dpi_from_exif`` reads at open (other types can raise there).
_TAG_FORM = {274: (3, 1), 282: (5, 1), 296: (3, 1)}


def _orientation(exif: bytes | None, xmp: bytes | None) -> int | None:
    """The decoder's orientation (``images.exif_orientation``: Pillow's ``getexif()`` tag 274,
    from XMP when EXIF has none; 1 when absent or out of 1..8) — or ``None`` when the EXIF
    block is anything but a well-formed first directory (Pillow then decides)."""
    value = -1  # no tag 274
    if exif is not None:
        found = _ifd0_orientation(exif)
        if found is None:
            return None
        value = found
    if value < 0 and xmp is not None:
        match = _XMP_ORIENTATION.search(xmp)
        if match:
            value = int(match[2])
    return value if 1 <= value <= 8 else 1


def _ifd0_orientation(d: bytes) -> int | None:
    """Tag 274 of the first directory of an EXIF block (the bytes after ``Exif\\0\\0``), -1 when
    absent; ``None`` unless the header, every entry and every value lie inside the block,
    each tag once, each of a type Pillow loads, and the tags in :data:`_TAG_FORM` of their
    form."""
    if d[:4] == b"II*\x00":
        order = "<"
    elif d[:4] == b"MM\x00*":
        order = ">"
    else:
        return None
    end = len(d)
    (ifd,) = struct.unpack_from(order + "L", d, 4)
    if ifd < 8 or ifd + 2 > end:
        return None
    (count,) = struct.unpack_from(order + "H", d, ifd)
    if ifd + 2 + 12 * count + 4 > end:  # (Pillow reads the next directory's offset too)
        return None
    entry = struct.Struct(order + "HHLL").unpack_from
    short = struct.Struct(order + "H").unpack_from
    seen: set[int] = set()
    orientation, out_of_line = -1, 0
    for at in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, typ, n, value = entry(d, at)
        unit = _TIFF_UNIT.get(typ)
        if unit is None or tag in seen:
            return None
        seen.add(tag)
        form = _TAG_FORM.get(tag)
        if form is not None and form != (typ, n):
            return None
        size = unit * n
        if size > 4:
            out_of_line += size
            if value + size > end or out_of_line > end:
                return None
        if tag == 274:
            orientation = short(d, at + 8)[0]
    return orientation


def _photoshop_ok(s: bytes) -> bool:
    """Pillow's walk over a Photoshop block's ``8BIM`` resources meets only ends it catches
    (``struct.error``), or none: here any end of the data is refused."""
    offset, end = 14, len(s)
    while s[offset:offset + 4] == b"8BIM":
        offset += 4
        if offset + 3 > end:
            return False
        code, name_len = (s[offset] << 8) | s[offset + 1], s[offset + 2]
        offset += 3 + name_len
        offset += offset & 1
        if offset + 4 > end:
            return False
        size = int.from_bytes(s[offset:offset + 4], "big")
        offset += 4
        if code == 0x03ED and size < 14 or offset + size > end:
            return False
        offset += size
        offset += offset & 1
    return True


def _tables_ok(s: bytes) -> bool:
    """Pillow's ``DQT`` reader accepts these tables (else it raises)."""
    at = 0
    while at < len(s):
        at += 1 + (64 if s[at] < 16 else 128)
        if at > len(s):
            return False
    return True
