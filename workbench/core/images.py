"""The one image decoder: every path that needs pixels (canvas, validate, training, detection,
proposals, export) decodes through here, so they all see the same RGB array.

API
---
``MAX_PIXELS``: the one pixel limit (default 250,000,000 — a 12000×9000 = 108 MP photo passes,
    a 30000×30000 PNG bomb is refused). Override with the environment variable
    ``WORKBENCH_MAX_PIXELS`` (an integer). Checked from the header, *before* any pixel is
    decoded, with this module's message (Pillow's own limit, a process-wide setting, is
    switched off when this module first opens an image, so its ``DecompressionBombError`` is
    never what the user sees).
``MIN_SIDE``: 2 — an image whose width or height is below it (a 1×1 image) holds nothing to
    detect (and a flipped 1-px side once killed training); it is an error in ``validate``,
    every decoder call and ``imageinfo`` raise the same :class:`ImageReadError`, and training
    leaves it out with that message. 2×2 images train (checked with both model families).
``DecodedImage``: ``rgb`` ``(H, W, 3)`` uint8 C-contiguous and writable (the caller owns
    it), EXIF orientation applied;
    ``width``/``height`` of the full-resolution image after orientation; ``scale`` (rgb pixels
    per full-resolution pixel: 1.0 unless a preview); ``truncated``; ``mode`` (the source's
    Pillow mode, ``"cv2"`` for the OpenCV fallback); ``warnings``.
``decode_image(path, *, max_pixels=None) -> DecodedImage``: the full-resolution image.
``decode_preview(path, max_side) -> DecodedImage``: longest side at most ``max_side``; JPEGs
    are decoded at 1/2, 1/4 or 1/8 scale by libjpeg (Pillow's ``draft``), so the full raster
    is never allocated; other formats are decoded then reduced.
``mode_depth(mode) -> int``: the VOC depth (1 grey, else 3) of ``DecodedImage.mode``.
``check_limits(path, width, height, max_pixels=None)``: the limit and minimum-side rule alone
    (``imageinfo`` applies it to header sizes); ``header_error(path, exc, size)``: the one
    wording for a header Pillow recognised but could not read (a JPEG cut inside its header).
``check_image(path) -> ImageCheck``: what ``validate`` reports — ``severity`` ``"ok"``,
    ``"warning"`` (truncated: decoded as viewers do, the rest grey) or ``"error"`` (what every
    decoder call raises), with the ``message``.
All raise :class:`~workbench.core.imageinfo.ImageReadError` naming the file and the reason.

The rules, identical for every caller
-------------------------------------
- **Orientation**: EXIF tag 274 as ``PIL.ImageOps.exif_transpose`` applies it (Pillow's
  ``getexif()``, which also reads an XMP orientation) — the rule ``imageinfo`` uses for sizes.
- **Truncated JPEG/PNG**: decoded as image viewers do, the readable part and the rest grey
  (128). For JPEG an end-of-image marker is appended and libjpeg fills the missing blocks
  grey; for PNG the readable rows are re-wrapped into a complete stream and the rows after
  the last complete one are set to 128. No process-wide flag is touched
  (``ImageFile.LOAD_TRUNCATED_IMAGES`` stays as it is), so this is thread-safe. Interlaced
  PNGs and other formats that end early are errors.
- **Modes**: 16-bit grey (``I;16*``, and ``I`` holding 0..65535) is scaled ``v·255/65535``
  rounded (not clipped); 16-bit colour PNG/TIFF arrive from Pillow as 8-bit ``RGB`` (their
  high byte); ``F`` is clipped to 0..255; grey, palette, CMYK (Pillow's
  conversion), YCbCr, LAB… use Pillow's ``convert("RGB")``. **Alpha is dropped** (the colour
  under a transparent pixel is kept), as Qt's RGB888 conversion and OpenCV's ``IMREAD_COLOR``
  do — the same everywhere. Multi-frame files give their first frame.
- **Fallback**: files Pillow cannot identify are decoded by OpenCV (``IMREAD_COLOR``, which
  applies the same EXIF orientation itself); the pixel limit is checked on its result
  (OpenCV's own 2³⁰-pixel decode cap bounds the memory of that one decode).
- **Memory**: the file's bytes are read once; Pillow's raster is freed before the array is
  copied, so a full decode peaks at about the file size + 7 bytes a pixel.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from workbench.core import image_limits as _limits
from workbench.core.image_limits import (  # noqa: F401 (re-exported: the module doc)
    DEFAULT_MAX_PIXELS, MAX_PIXELS, MIN_SIDE, _env_max_pixels)
from workbench.core.imageinfo import _GREY_MODES, ImageReadError
from workbench.core.images_repair import is_truncation as _is_truncation
from workbench.core.images_repair import repair_png as _repair_png

log = logging.getLogger(__name__)

_GREY = 128
_EXIF_ORIENTATION = 0x0112

Severity = Literal["ok", "warning", "error"]
TRUNCATED_MESSAGE = "truncated image: decoded as viewers do, the rest grey"


@dataclass(frozen=True)
class DecodedImage:
    """One decoded image (see the module doc)."""

    rgb: np.ndarray
    width: int
    height: int
    scale: float = 1.0
    truncated: bool = False
    mode: str = ""
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageCheck:
    """What ``validate`` says about one image file."""

    path: Path
    severity: Severity
    message: str = ""
    width: int = 0
    height: int = 0

    @property
    def ok(self) -> bool:
        return self.severity != "error"


def mode_depth(mode: str) -> int:
    """VOC ``<depth>`` of a source mode: 1 for grey modes (``L``, ``I;16`` …), else 3 — the
    depth ``imageinfo`` reports."""
    return 1 if mode in _GREY_MODES else 3


# --------------------------------------------------------------------------------------------
# limits and header


def _limit(max_pixels: int | None) -> int:
    return MAX_PIXELS if max_pixels is None else int(max_pixels)


def check_limits(path: Path, width: int, height: int, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageReadError` when ``width``×``height`` breaks the pixel limit or the
    minimum side (the one rule ``imageinfo``, the decoder and ``validate`` share:
    :mod:`workbench.core.image_limits`)."""
    _limits.check_limits(path, width, height, _limit(max_pixels))


def _pillow():
    from PIL import Image

    # Our own limit is checked from the header before decoding, with our message; Pillow's
    # (a process-wide setting whose error would otherwise be what the user sees, and whose
    # 179 MP default refuses a 200 MP photo we accept) is switched off once.
    if Image.MAX_IMAGE_PIXELS is not None:
        Image.MAX_IMAGE_PIXELS = None
    return Image


def exif_orientation(img) -> int:
    """EXIF orientation 1..8 of an open Pillow image (1 when absent or broken)."""
    try:
        value = int(img.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not hide the image
        return 1
    return value if 1 <= value <= 8 else 1


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise ImageReadError(path, "image file not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    return data


def header_error(path: Path, exc: BaseException, size: int) -> ImageReadError:
    """The error for a file whose header Pillow recognised but could not read (the one wording
    ``imageinfo`` and the decoder share)."""
    if _is_truncation(exc):
        return ImageReadError(path, f"unreadable image (the file ends inside its header: "
                                    f"{size} bytes)")
    return ImageReadError(path, f"unreadable image ({exc})")


def _open(path: Path, data: bytes, max_pixels: int | None):
    """The lazily opened Pillow image, limits checked; ``None`` when Pillow cannot identify."""
    Image = _pillow()
    from PIL import UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise header_error(path, exc, len(data)) from exc
    w, h = img.size
    check_limits(path, w, h, max_pixels)
    return img


# --------------------------------------------------------------------------------------------
# conversion


def _to_rgb(img) -> np.ndarray:
    """``(H, W, 3)`` uint8 of a loaded Pillow image, in stored orientation (module doc rules)."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(img)
        a = np.clip(a.astype(np.int64), 0, 65535)
        grey = ((a * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(img, dtype=np.float32)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return _rgb_in_strips(img, None if mode in ("RGB", "RGBA", "RGBX", "RGBa") else "RGB")


_STRIP_BYTES = 16 << 20


def _rgb_in_strips(img, convert: str | None) -> np.ndarray:
    """Copy (and convert) a loaded Pillow image into one writable ``(H, W, 3)`` array, a strip
    of rows at a time: ``np.asarray(img)`` goes through a full-size ``bytes`` copy and a
    whole-image ``convert`` through a second 4-byte-per-pixel raster, which put a 108 MP photo's
    peak at 3.4x its RGB size; strips keep it at Pillow's raster + the result + ~16 MB."""
    w, h = img.size
    out = np.empty((h, w, 3), dtype=np.uint8)
    step = max(1, _STRIP_BYTES // max(1, w * 4))
    for y in range(0, h, step):
        y2 = min(h, y + step)
        strip = img.crop((0, y, w, y2))
        if convert is not None:
            strip = strip.convert(convert)
        out[y:y2] = np.asarray(strip, dtype=np.uint8)[:, :, :3]
    return out


def _orient(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF ``orientation`` exactly as ``ImageOps.exif_transpose`` does."""
    if orientation == 2:
        rgb = rgb[:, ::-1]
    elif orientation == 3:
        rgb = rgb[::-1, ::-1]
    elif orientation == 4:
        rgb = rgb[::-1]
    elif orientation == 5:
        rgb = rgb.transpose(1, 0, 2)
    elif orientation == 6:
        rgb = np.rot90(rgb, -1)
    elif orientation == 7:
        rgb = rgb.transpose(1, 0, 2)[::-1, ::-1]
    elif orientation == 8:
        rgb = np.rot90(rgb, 1)
    rgb = np.ascontiguousarray(rgb)
    return rgb if rgb.flags.writeable else rgb.copy()  # Pillow's arrays are read-only


# --------------------------------------------------------------------------------------------
# decoding


def _load(path: Path, data: bytes, img, draft: int | None):
    """Load ``img``'s pixels (at a libjpeg draft size when asked). Returns ``(loaded image,
    complete rows of the stored image or None, truncated)``."""
    def attempt(source_img):
        if draft is not None and source_img.format == "JPEG":
            source_img.draft("RGB", (draft, draft))
        source_img.load()
        return source_img

    try:
        return attempt(img), None, False
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - decide below: truncated or unreadable
        if not _is_truncation(exc) or img.format not in ("JPEG", "MPO", "PNG"):
            raise ImageReadError(path, f"unreadable image ({exc})") from exc
        first = exc
    Image = _pillow()
    try:
        if img.format in ("JPEG", "MPO"):
            fixed = Image.open(io.BytesIO(data + b"\xff\xd9"))
            return attempt(fixed), None, True
        rebuilt, rows = _repair_png(path, data)
        fixed = Image.open(io.BytesIO(rebuilt))
        return attempt(fixed), rows, True
    except ImageReadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ImageReadError(path, f"unreadable image ({first})") from exc


def _decode(path: str | os.PathLike[str], max_pixels: int | None,
            max_side: int | None) -> DecodedImage:
    p = Path(path)
    data = _read_bytes(p)
    img = _open(p, data, max_pixels)
    if img is None:
        return _decode_cv2(p, data, max_pixels, max_side)
    raw_w, raw_h = img.size
    orientation = exif_orientation(img)
    mode = img.mode
    draft = None
    if max_side is not None and max(raw_w, raw_h) > max_side:
        draft = max_side
    loaded, rows, truncated = _load(p, data, img, draft)
    try:
        rgb = _to_rgb(loaded)
    except Exception as exc:  # noqa: BLE001
        raise ImageReadError(p, f"unreadable image ({exc})") from exc
    finally:  # free Pillow's raster (4 bytes a pixel) before the array is copied or rotated
        loaded.close()
        img.close()
    if rows is not None and rows < raw_h:
        start = rows * rgb.shape[0] // raw_h  # rows scale with a (PNG: no) draft
        rgb = np.array(rgb)  # writable
        rgb[start:] = _GREY
    if max_side is not None and max(rgb.shape[:2]) > max_side:
        rgb = _shrink(rgb, max_side)
    rgb = _orient(rgb, orientation)
    w, h = (raw_h, raw_w) if orientation in (5, 6, 7, 8) else (raw_w, raw_h)
    scale = rgb.shape[1] / w
    notes = (f"{p}: {TRUNCATED_MESSAGE}",) if truncated else ()
    return DecodedImage(rgb, w, h, scale, truncated, mode, notes)


def _shrink(rgb: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    f = max_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def _decode_cv2(path: Path, data: bytes, max_pixels: int | None,
                max_side: int | None) -> DecodedImage:
    import cv2

    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageReadError(path, f"unreadable image ({exc})") from exc
    if bgr is None:
        raise ImageReadError(path, "unreadable image (not a recognised image format)")
    h, w = bgr.shape[:2]
    check_limits(path, w, h, max_pixels)
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))  # a new, writable array
    if max_side is not None and max(h, w) > max_side:
        rgb = _shrink(rgb, max_side)
    return DecodedImage(rgb, w, h, rgb.shape[1] / w, False, "cv2")


def decode_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> DecodedImage:
    """Decode ``path`` at full resolution (module doc rules). Raises :class:`ImageReadError`."""
    return _decode(path, max_pixels, None)


def decode_preview(path: str | os.PathLike[str], max_side: int) -> DecodedImage:
    """Decode ``path`` with its longest side at most ``max_side`` (``scale`` < 1 when reduced;
    ``width``/``height`` stay the full-resolution size). JPEGs are reduced by libjpeg while
    decoding, so a 108 MP photo never allocates its full raster."""
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1 (got {max_side})")
    return _decode(path, None, max_side)


_JPEG_EOI = b"\xff\xd9"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _ends_complete(path: Path) -> bool:
    """True when ``path`` is a JPEG that ends with its end-of-image marker (trailing NUL
    padding allowed, as some cameras write) or a PNG that ends with its ``IEND`` chunk — the
    two things a cut-off download or copy loses. Reads the first and last few bytes only."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256))
            tail = f.read()
    except OSError:
        return False
    if head.startswith(b"\xff\xd8"):
        return tail.rstrip(b"\x00").endswith(_JPEG_EOI)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return tail.endswith(_PNG_IEND)
    return False


def _check_from_header(p: Path) -> ImageCheck | None:
    """The fast verdict for a structurally complete JPEG/PNG: header size, orientation and the
    limits, without decoding pixels (validate reads 20,000 photos in seconds, not minutes).
    ``None`` when the file needs the full check (other formats, a missing end marker, any
    header trouble — the decoder then words the error)."""
    if not _ends_complete(p):
        return None
    Image = _pillow()
    try:
        with Image.open(p) as img:
            raw_w, raw_h = img.size
            orientation = exif_orientation(img)
    except Exception:  # noqa: BLE001 - the full decode below reports it in the one wording
        return None
    try:
        check_limits(p, raw_w, raw_h)
    except ImageReadError as exc:
        return ImageCheck(p, "error", exc.reason)
    w, h = (raw_h, raw_w) if orientation in (5, 6, 7, 8) else (raw_w, raw_h)
    return ImageCheck(p, "ok", "", w, h)


def check_image(path: str | os.PathLike[str], *, thorough: bool = False) -> ImageCheck:
    """What ``validate`` reports for ``path``.

    A JPEG that ends with its end-of-image marker, or a PNG that ends with ``IEND``, is judged
    from its header (size, orientation, :data:`MAX_PIXELS`, :data:`MIN_SIDE`): truncation —
    the defect real photo sets have — always loses the end marker. Every other file, and every
    file when ``thorough``, is decoded (a small preview for JPEG, which still reads every
    compressed byte), so what validate calls fine is what training decodes."""
    p = Path(path)
    if not thorough:
        fast = _check_from_header(p)
        if fast is not None:
            return fast
    try:
        decoded = decode_preview(p, 64)
    except ImageReadError as exc:
        return ImageCheck(p, "error", exc.reason)
    if decoded.truncated:
        return ImageCheck(p, "warning", TRUNCATED_MESSAGE, decoded.width, decoded.height)
    return ImageCheck(p, "ok", "", decoded.width, decoded.height)
