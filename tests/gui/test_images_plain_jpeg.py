"""A plain JPEG is read by Qt's reader for the canvas (no Pillow / NumPy import: start-up,
issue 14); its pixels must be the one decoder's, exactly, for the encoder settings that occur
— else the canvas would show other pixels than training sees."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.images import decode_image
from workbench.gui.images import ImageLoadError, image_depth, load_image, read_plain_jpeg, \
    to_rgb_array


def _scene(w: int, h: int, seed: int = 0) -> np.ndarray:
    """Noise over gradients and edges: every DCT frequency and chroma block is exercised."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)),
                     ((x // 5 + y // 3) % 2) * 200], axis=2)
    noise = rng.integers(-40, 40, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _same(path: Path) -> None:
    image = read_plain_jpeg(path)
    assert image is not None, f"{path.name}: not read as a plain JPEG"
    decoded = decode_image(path)
    assert np.array_equal(to_rgb_array(image), decoded.rgb), path.name
    assert image_depth(image) == (1 if decoded.mode == "L" else 3)
    assert image_depth(load_image(path)) == image_depth(image)


@pytest.mark.parametrize("size", [(2, 2), (33, 17), (257, 131)])
def test_pillow_encodings_decode_identically(qapp, tmp_path: Path, size) -> None:
    rgb = _scene(*size)
    n = 0
    for subsampling in (0, 1, 2):  # 4:4:4, 4:2:2, 4:2:0
        for progressive in (False, True):
            for quality in (40, 95):
                path = tmp_path / f"s{subsampling}p{int(progressive)}q{quality}.jpg"
                Image.fromarray(rgb).save(path, quality=quality, subsampling=subsampling,
                                          progressive=progressive, optimize=progressive)
                _same(path)
                n += 1
    grey = tmp_path / "grey.jpg"
    Image.fromarray(rgb[:, :, 1]).save(grey, quality=90)
    _same(grey)
    assert n == 12


def test_qt_and_opencv_encodings_decode_identically(qapp, tmp_path: Path) -> None:
    import cv2
    from PySide6.QtGui import QImage

    rgb = np.ascontiguousarray(_scene(97, 61, seed=3))
    assert cv2.imwrite(str(tmp_path / "cv.jpg"), rgb[:, :, ::-1].copy())
    assert cv2.imwrite(str(tmp_path / "cv_prog.jpg"), rgb[:, :, ::-1].copy(),
                       [cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_QUALITY, 70])
    assert cv2.imwrite(str(tmp_path / "cv_rst.jpg"), rgb[:, :, ::-1].copy(),
                       [cv2.IMWRITE_JPEG_RST_INTERVAL, 2])  # restart markers (DRI)
    q = QImage(rgb.data, 97, 61, 97 * 3, QImage.Format.Format_RGB888).copy()
    assert q.save(str(tmp_path / "qt.jpg"), "JPEG", 85)
    for name in ("cv.jpg", "cv_prog.jpg", "cv_rst.jpg", "qt.jpg"):
        _same(tmp_path / name)


def test_raccoon_photos_decode_identically(qapp) -> None:
    folder = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "raccoon"
    if not (folder / "images").is_dir():
        pytest.skip("no raccoon data set")
    plain = 0
    for path in sorted((folder / "images").glob("*.jpg"))[:40]:
        if read_plain_jpeg(path) is not None:
            _same(path)
            plain += 1
    assert plain >= 20


def test_other_files_go_through_the_decoder(qapp, tmp_path: Path) -> None:
    rgb = _scene(40, 30)
    # EXIF orientation 6: the decoder turns it (Qt would too, but by its own reading)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(tmp_path / "six.jpg", exif=exif.tobytes())
    # CMYK (four components): Pillow's conversion
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    # cut short: the decoder's grey fill
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) * 2 // 3])
    Image.fromarray(rgb).save(tmp_path / "image.png")
    for name in ("six.jpg", "cmyk.jpg", "cut.jpg", "image.png"):
        path = tmp_path / name
        assert read_plain_jpeg(path) is None, name
        assert np.array_equal(to_rgb_array(load_image(path)), decode_image(path).rgb), name
    assert to_rgb_array(load_image(tmp_path / "six.jpg")).shape == (40, 30, 3)


def test_refused_files_keep_the_decoders_message(qapp, tmp_path: Path) -> None:
    Image.fromarray(_scene(1, 5)).save(tmp_path / "thin.jpg")  # plain, but under MIN_SIDE
    assert read_plain_jpeg(tmp_path / "thin.jpg") is None
    with pytest.raises(ImageLoadError, match="too small"):
        load_image(tmp_path / "thin.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert read_plain_jpeg(tmp_path / "empty.jpg") is None
    assert read_plain_jpeg(tmp_path / "missing.jpg") is None
    with pytest.raises(ImageLoadError, match="missing.jpg"):
        load_image(tmp_path / "missing.jpg")
