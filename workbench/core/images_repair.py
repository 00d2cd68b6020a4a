"""Repairs for image files that end early, used by :mod:`workbench.core.images` (no global
Pillow flag: thread-safe).

``is_truncation(exc) -> bool``: whether a Pillow/zlib error means "the data ended early".
``repair_png(path, data) -> (png_bytes, complete_rows)``: a complete PNG holding the readable
    rows of a truncated non-interlaced one (the rest zero, for the caller to paint grey) and
    how many rows were complete; :class:`ImageReadError` when it cannot be repaired.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from workbench.core.imageinfo import ImageReadError



def is_truncation(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, (EOFError, struct.error, IndexError)) or "truncat" in text \
        or "incomplete" in text or "broken data stream" in text or "premature" in text


def _png_chunks(data: bytes):
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        yield ctype, data[pos + 8:pos + 8 + length]
        if ctype == b"IEND":
            return
        pos += 12 + length


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(
        ">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def repair_png(path: Path, data: bytes) -> tuple[bytes, int]:
    """A complete PNG holding the readable rows of a truncated one (the rest zero) and the
    number of complete rows. Raises :class:`ImageReadError` when it cannot be repaired."""
    head: list[bytes] = []
    idat: list[bytes] = []
    ihdr = b""
    for ctype, body in _png_chunks(data):
        if ctype == b"IHDR":
            ihdr = body
        if ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
        elif not idat:
            head.append(_chunk(ctype, body))
    if len(ihdr) < 13:
        raise ImageReadError(path, "unreadable image (truncated PNG header)")
    w, h, bits, ctype_, _c, _f, interlace = struct.unpack(">IIBBBBB", ihdr[:13])
    if interlace:
        raise ImageReadError(path, "unreadable image (truncated interlaced PNG)")
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(ctype_, 0)
    if not channels:
        raise ImageReadError(path, "unreadable image (bad PNG colour type)")
    row_bytes = 1 + (w * channels * bits + 7) // 8
    want = row_bytes * h
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(b"".join(idat), want)
    except zlib.error:
        raw = b""
        inflater = zlib.decompressobj()
        for piece in idat:  # keep what decodes before the corrupt piece
            try:
                raw += inflater.decompress(piece, want - len(raw))
            except zlib.error:
                break
    rows = len(raw) // row_bytes
    raw = raw[: rows * row_bytes].ljust(want, b"\0")  # filter 0, zero samples
    rebuilt = (data[:8] + b"".join(head) + _chunk(b"IDAT", zlib.compress(raw, 1))
               + _chunk(b"IEND", b""))
    return rebuilt, rows
