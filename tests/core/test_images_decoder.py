"""The one image decoder (``workbench.core.images``): one fixture of each kind, generated here,
decoded identically by every path that needs pixels — the core decoder, training's
``read_image_rgb``, inference's reader, the canvas's ``load_image`` → ``to_rgb_array`` and
export's conversion — with exact expectations per kind, and the same error everywhere for the
files it refuses (``validate``, training, detection, the canvas)."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from workbench.core import images
from workbench.core.imageinfo import ImageReadError, image_info
from workbench.core.images import (
    MAX_PIXELS,
    MIN_SIDE,
    TRUNCATED_MESSAGE,
    check_image,
    decode_image,
    decode_preview,
)

W, H = 64, 48
KEEP = 0.7  # a truncated file keeps the first 70 % of its bytes


def _noise(seed: int = 0, shape=(H, W, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _scene() -> np.ndarray:
    """Smooth colours (JPEG-friendly) with a marker in the top-left corner."""
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x * 255 // (W - 1), y * 255 // (H - 1), (x + y) * 255 // (W + H - 2)], -1)
    rgb = rgb.astype(np.uint8)
    rgb[:8, :8] = (255, 0, 0)
    return rgb


def _save_exif_jpeg(rgb: np.ndarray, path: Path, orientation: int) -> Path:
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, quality=95, exif=exif.tobytes())
    return path


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(
        ">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _bomb_png(path: Path, side: int = 30000) -> Path:
    """A ~100-byte 1-bit PNG whose header claims ``side``×``side`` pixels."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (1 + side // 8), 9)  # one row; the header is what counts
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
                     + _chunk(b"IEND", b""))
    return path


def _truncate(path: Path, keep: float = KEEP) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> dict[str, Path]:
    """One file of each kind; ``bad_*`` are the ones the decoder refuses."""
    d = tmp_path_factory.mktemp("kinds")
    out: dict[str, Path] = {}
    Image.fromarray(_scene()).save(d / "rgb.png")
    out["rgb_png"] = d / "rgb.png"
    Image.fromarray(_scene()).save(d / "rgb.jpg", quality=95)
    out["rgb_jpg"] = d / "rgb.jpg"
    Image.fromarray(_noise(1)).save(d / "trunc.jpg", quality=90)
    (d / "whole.jpeg").write_bytes((d / "trunc.jpg").read_bytes())
    out["whole_of_truncated_jpg"] = d / "whole.jpeg"
    out["truncated_jpg"] = _truncate(d / "trunc.jpg")
    Image.fromarray(_noise(2)).save(d / "trunc.png")
    out["truncated_png"] = _truncate(d / "trunc.png")
    ramp = np.linspace(0, 65535, W * H).round().astype("<u2").reshape(H, W)
    Image.fromarray(ramp).save(d / "sixteen.png")
    out["sixteen_png"] = d / "sixteen.png"
    Image.fromarray(_scene()[:, :, 1]).save(d / "grey.png")
    out["grey_png"] = d / "grey.png"
    Image.fromarray(_scene()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(
        d / "palette.png")
    out["palette_png"] = d / "palette.png"
    rgba = np.dstack([_scene(), np.tile(np.arange(W, dtype=np.uint8) * 4, (H, 1))])
    rgba[:, :W // 4, 3] = 0  # fully transparent left quarter: its colour is kept
    Image.fromarray(rgba, "RGBA").save(d / "rgba.png")
    out["rgba_png"] = d / "rgba.png"
    Image.fromarray(_scene()).convert("CMYK").save(d / "cmyk.jpg", quality=95)
    out["cmyk_jpg"] = d / "cmyk.jpg"
    out["exif6_jpg"] = _save_exif_jpeg(_scene(), d / "exif6.jpg", 6)
    out["exif3_jpg"] = _save_exif_jpeg(_scene(), d / "exif3.jpg", 3)
    Image.new("RGB", (1, 1), (9, 9, 9)).save(d / "one.png")
    out["bad_1x1"] = d / "one.png"
    out["bad_bomb"] = _bomb_png(d / "bomb.png")
    (d / "text.jpg").write_text("this is not an image\n")
    out["bad_text"] = d / "text.jpg"
    (d / "empty.png").write_bytes(b"")
    out["bad_empty"] = d / "empty.png"
    Image.fromarray(_noise(3)).save(d / "header.jpg", quality=90)
    out["bad_header_cut"] = _truncate(d / "header.jpg", 150 / (d / "header.jpg").stat().st_size)
    return out


GOOD = ["rgb_png", "rgb_jpg", "truncated_jpg", "truncated_png", "sixteen_png", "grey_png",
        "palette_png", "rgba_png", "cmyk_jpg", "exif6_jpg", "exif3_jpg"]
BAD = ["bad_1x1", "bad_bomb", "bad_text", "bad_empty", "bad_header_cut"]


def _paths_engine():
    pytest.importorskip("torch")
    from workbench.engine.dataset import read_image_rgb as training
    from workbench.engine.inference import read_image_rgb as inference

    return training, inference


def _canvas_rgb(path: Path) -> np.ndarray:
    pytest.importorskip("PySide6")
    from workbench.gui.images import load_image, to_rgb_array

    return to_rgb_array(load_image(path))


# -- exact expectations per kind ------------------------------------------------------------


def test_every_decoded_array_is_rgb_uint8_contiguous_and_writable(kinds) -> None:
    for name in GOOD:
        d = decode_image(kinds[name])
        assert d.rgb.dtype == np.uint8 and d.rgb.ndim == 3 and d.rgb.shape[2] == 3, name
        assert d.rgb.flags.c_contiguous and d.rgb.flags.writeable, name
        assert (d.rgb.shape[1], d.rgb.shape[0]) == (d.width, d.height), name
        assert d.scale == 1.0
        info = image_info(kinds[name])  # header sizes: the same orientation rule
        assert (info.width, info.height) == (d.width, d.height), name


def test_truncated_jpeg_keeps_the_readable_part_and_fills_the_rest_grey(kinds) -> None:
    d = decode_image(kinds["truncated_jpg"])
    assert d.truncated and d.mode == "RGB" and (d.width, d.height) == (W, H)
    assert any(TRUNCATED_MESSAGE in w and "trunc.jpg" in w for w in d.warnings)
    assert (d.rgb[-8:] == 128).all()  # the last MCU row: nothing of it was in the file
    assert d.rgb[:8].std() > 40  # the first rows are the noise, decoded
    whole = decode_image(kinds["whole_of_truncated_jpg"])
    assert not whole.truncated and whole.warnings == () and (whole.rgb[-8:] != 128).any()
    # the first MCU row as decoded whole (its last row blends chroma of the next MCU row)
    assert np.array_equal(d.rgb[:14], whole.rgb[:14])
    grey_rows = int((d.rgb == 128).all(axis=(1, 2)).sum())
    assert 0.15 * H <= grey_rows <= 0.5 * H, grey_rows  # about the 30 % cut off


def test_truncated_png_keeps_complete_rows_exactly_and_the_rest_is_128(kinds) -> None:
    d = decode_image(kinds["truncated_png"])
    assert d.truncated
    src = _noise(2)
    grey = (d.rgb == 128).all(axis=(1, 2))
    first_grey = int(np.argmax(grey))
    assert grey[first_grey:].all() and 0.5 * H <= first_grey < H
    assert np.array_equal(d.rgb[:first_grey], src[:first_grey])  # lossless rows unchanged


def test_sixteen_bit_png_is_scaled_not_clipped(kinds) -> None:
    d = decode_image(kinds["sixteen_png"])
    assert d.mode.startswith("I")
    assert abs(float(d.rgb.mean()) - 127.5) <= 1.0  # Pillow's convert("RGB") gives ~254
    assert d.rgb[0, 0].tolist() == [0, 0, 0] and d.rgb[-1, -1].tolist() == [255, 255, 255]
    ramp = np.linspace(0, 65535, W * H).round().reshape(H, W)
    assert np.array_equal(d.rgb[:, :, 0], np.rint(ramp * 255 / 65535).astype(np.uint8))
    assert (d.rgb[:, :, 0] == d.rgb[:, :, 2]).all()


def test_grey_palette_alpha_cmyk(kinds) -> None:
    grey = decode_image(kinds["grey_png"])
    assert grey.mode == "L" and (grey.rgb == _scene()[:, :, 1:2]).all()
    pal = decode_image(kinds["palette_png"])
    assert pal.mode == "P"
    assert np.array_equal(pal.rgb, np.asarray(Image.open(kinds["palette_png"]).convert("RGB")))
    rgba = decode_image(kinds["rgba_png"])
    assert rgba.mode == "RGBA" and np.array_equal(rgba.rgb, _scene())  # alpha dropped
    cmyk = decode_image(kinds["cmyk_jpg"])
    assert cmyk.mode == "CMYK"
    assert np.array_equal(cmyk.rgb, np.asarray(Image.open(kinds["cmyk_jpg"]).convert("RGB")))
    assert np.abs(cmyk.rgb.astype(int) - _scene()).mean() < 6


def test_exif_orientation_follows_exif_transpose(kinds, tmp_path) -> None:
    plain = decode_image(_save_exif_jpeg(_scene(), tmp_path / "one.jpg", 1)).rgb
    six = decode_image(kinds["exif6_jpg"])
    three = decode_image(kinds["exif3_jpg"])
    assert six.rgb.shape == (W, H, 3) and (six.width, six.height) == (H, W)
    assert three.rgb.shape == (H, W, 3)
    assert np.array_equal(six.rgb, np.rot90(plain, -1))  # 6: rotate 90° clockwise
    assert np.array_equal(three.rgb, plain[::-1, ::-1])
    assert six.rgb[:8, -8:, 0].mean() > 200 > six.rgb[:8, :8, 0].mean()  # red corner: top right
    for o in range(1, 9):
        path = _save_exif_jpeg(_scene(), tmp_path / f"o{o}.jpg", o)
        want = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        assert np.array_equal(decode_image(path).rgb, want), o


# -- errors ---------------------------------------------------------------------------------


def test_refused_files_raise_naming_the_file_and_the_reason(kinds) -> None:
    reasons = {"bad_1x1": "too small", "bad_bomb": "30000×30000", "bad_text": "unreadable image",
               "bad_empty": "empty file", "bad_header_cut": "ends inside its header"}
    for name, word in reasons.items():
        path = kinds[name]
        with pytest.raises(ImageReadError) as info:
            decode_image(path)
        assert str(path) in str(info.value) and word in info.value.reason, name
        with pytest.raises(ImageReadError, match=word):
            image_info(path)  # header-level sizes refuse it with the same words
        check = check_image(path)
        assert check.severity == "error" and check.message == info.value.reason
    with pytest.raises(ImageReadError, match="not found"):
        decode_image(kinds["rgb_png"].parent / "missing.png")


def test_the_pixel_bomb_is_refused_from_the_header_quickly(kinds) -> None:
    t = time.perf_counter()
    with pytest.raises(ImageReadError) as info:
        decode_image(kinds["bad_bomb"])
    assert time.perf_counter() - t < 1.0
    assert "900,000,000 pixels" in info.value.reason and f"{MAX_PIXELS:,}" in info.value.reason
    assert "WORKBENCH_MAX_PIXELS" in info.value.reason
    assert "DecompressionBomb" not in info.value.reason and "attack" not in info.value.reason


def test_the_limits(monkeypatch, kinds) -> None:
    assert MAX_PIXELS == 250_000_000 and MIN_SIDE == 2
    images.check_limits(Path("big.jpg"), 12000, 9000)  # 108 MP passes
    with pytest.raises(ImageReadError, match="too large"):
        images.check_limits(Path("big.png"), 30000, 30000)
    images.check_limits(Path("two.png"), 2, 2)
    monkeypatch.setenv("WORKBENCH_MAX_PIXELS", "1000")
    assert images._env_max_pixels() == 1000
    monkeypatch.setenv("WORKBENCH_MAX_PIXELS", "lots")
    assert images._env_max_pixels() == 250_000_000
    monkeypatch.setattr(images, "MAX_PIXELS", W * H - 1)
    with pytest.raises(ImageReadError, match="too large"):
        decode_image(kinds["rgb_png"])
    assert decode_image(kinds["rgb_png"], max_pixels=W * H).width == W


def test_preview_is_smaller_and_keeps_full_size(tmp_path) -> None:
    big = np.tile(_scene(), (20, 20, 1))  # 1280×960
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=90)
    p = decode_preview(tmp_path / "big.jpg", 200)
    assert (p.width, p.height) == (1280, 960) and max(p.rgb.shape[:2]) == 200
    assert p.rgb.shape == (150, 200, 3) and p.scale == pytest.approx(200 / 1280)
    assert abs(float(p.rgb.mean()) - float(big.mean())) < 3
    six = decode_preview(_save_exif_jpeg(big, tmp_path / "six.jpg", 6), 200)
    assert (six.width, six.height) == (960, 1280) and six.rgb.shape == (200, 150, 3)


# -- every path gives the same pixels ---------------------------------------------------------


def test_every_path_decodes_identically(kinds) -> None:
    training, inference = _paths_engine()
    for name in GOOD:
        path = kinds[name]
        want = decode_image(path).rgb
        assert np.array_equal(training(path), want), name
        assert np.array_equal(inference(path), want), name
        assert np.array_equal(_canvas_rgb(path), want), name


def test_every_path_refuses_identically(kinds) -> None:
    training, inference = _paths_engine()
    pytest.importorskip("PySide6")
    from workbench.gui.images import ImageLoadError, load_image

    for name in BAD:
        path = kinds[name]
        with pytest.raises(ImageReadError) as core:
            decode_image(path)
        for reader in (training, inference):
            with pytest.raises(ValueError) as info:
                reader(path)
            assert str(info.value) == str(core.value), name
        with pytest.raises(ImageLoadError) as canvas:
            load_image(path)
        assert str(canvas.value) == str(core.value), name


def _project(folder: Path, kinds: dict[str, Path], names: list[str]) -> Path:
    folder.mkdir()
    for name in names:
        src = kinds[name]
        dst = folder / f"{name}{src.suffix}"
        dst.write_bytes(src.read_bytes())
        try:
            w, h = image_info(dst).width, image_info(dst).height
        except ImageReadError:
            w, h = 50, 40
        (folder / f"{name}.xml").write_text(
            f"<annotation><filename>{dst.name}</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size><object><name>thing</name><bndbox>"
            "<xmin>2</xmin><ymin>2</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object>"
            "</annotation>")
    return folder


def test_export_writes_the_decoders_pixels(kinds, tmp_path) -> None:
    from workbench.core.export import export_project, pixel_mismatches
    from workbench.core.project import Project

    project = Project.open(_project(tmp_path / "p", kinds, GOOD + BAD))
    coco = export_project(project, tmp_path / "coco", "coco")
    assert coco.images == len(GOOD) and pixel_mismatches(coco) == []
    for name in GOOD:
        written = coco.pixels[name].written
        source = decode_image(tmp_path / "p" / f"{name}{kinds[name].suffix}").rgb
        got = decode_image(written).rgb
        if kinds[name].suffix == ".png" or name in ("rgb_jpg", "cmyk_jpg"):
            assert np.array_equal(got, source), name  # lossless: identical pixels
        else:  # rotated / truncated JPEG: re-encoded at quality 95
            assert got.shape == source.shape and np.abs(got.astype(int) - source).mean() < 8
    assert any("trunc" in p.file and "truncated" in p.message for p in coco.problems)
    voc = export_project(project, tmp_path / "voc", "voc")
    sixteen = decode_image(voc.pixels["sixteen_png"].written)
    assert voc.pixels["sixteen_png"].written.suffix == ".jpg"
    assert abs(float(sixteen.rgb.mean()) - 127.5) <= 1.0  # not near-white
    assert pixel_mismatches(voc) == []
    refused = {p.file for p in voc.problems if p.severity == "error" and p.object is None}
    assert len(refused) == len(BAD)


def test_pixel_read_back_catches_a_near_white_export(kinds, tmp_path) -> None:
    from workbench.core.export import export_project, pixel_mismatches
    from workbench.core.project import Project

    project = Project.open(_project(tmp_path / "p", kinds, ["sixteen_png"]))
    summary = export_project(project, tmp_path / "voc", "voc")
    written = summary.pixels["sixteen_png"].written
    Image.open(kinds["sixteen_png"]).convert("RGB").save(written)  # the old conversion
    (line,) = pixel_mismatches(summary)
    assert "sixteen_png" in line and "mean 2" in line


def test_validate_reports_what_training_leaves_out(kinds, tmp_path) -> None:
    from workbench.core.project import Project
    from workbench.core.validate import validate_project

    project = Project.open(_project(tmp_path / "p", kinds, GOOD + BAD))
    report = validate_project(project)
    warnings = {p.file: p.message for p in report.problems if p.severity == "warning"}
    assert warnings == {"truncated_jpg.jpg": TRUNCATED_MESSAGE,
                        "truncated_png.png": TRUNCATED_MESSAGE}
    errors = [p for p in report.problems if p.severity == "error"]
    assert len(errors) == len(BAD)  # one per refused image, not repeated
    for name in BAD:
        assert sum(f"{name}{kinds[name].suffix}" in f"{p.file} {p.message}" for p in errors) == 1

    pytest.importorskip("torch")
    from workbench.engine.dataset import ImageRecord
    from workbench.engine.snapshot import DataSnapshot
    from workbench.engine.trainer import _without_unreadable

    records = tuple(ImageRecord(e.image_path, e.image_id) for e in project.entries)
    kept, left_out = _without_unreadable(DataSnapshot(("thing",), records, ()))
    assert len(kept.train) == len(GOOD)
    assert sorted(Path(p).stem for p, _ in left_out) == sorted(BAD)
    for image, reason in left_out:
        with pytest.raises(ImageReadError) as info:
            decode_image(image)
        assert reason == str(info.value)  # training's message is the decoder's


def test_training_on_only_refused_images_is_an_error(kinds, tmp_path) -> None:
    pytest.importorskip("torch")
    from workbench.engine.config import TrainConfig
    from workbench.engine.dataset import ImageRecord
    from workbench.engine.events import EmptyDatasetError
    from workbench.engine.snapshot import DataSnapshot
    from workbench.engine.trainer import train

    boxes = np.asarray([[1, 1, 20, 20]], np.float32)
    records = tuple(ImageRecord(kinds[n], n, boxes=boxes, names=np.asarray(["thing"]),
                                difficult=np.zeros(1, bool)) for n in BAD)
    cfg = TrainConfig(images_dir=tmp_path, model="ssdlite320_mobilenet_v3_large",
                      image_size=96, epochs=1, batch_size=2, out_dir=tmp_path / "run")
    with pytest.raises(EmptyDatasetError,
                       match=f"none of the {len(BAD)} training images can be read"):
        list(train(cfg, DataSnapshot(("thing",), records, ())))
    assert not (tmp_path / "run" / "best.pt").exists()


def test_a_flipped_one_pixel_side_becomes_a_tensor() -> None:
    """Defence behind MIN_SIDE: a horizontally flipped 1-px-wide image has a negative stride
    that numpy still calls contiguous (torch refused it: "1×1 kills training")."""
    pytest.importorskip("torch")
    from workbench.engine.dataset import to_tensor

    flipped = np.arange(30 * 3, dtype=np.uint8).reshape(30, 1, 3)[:, ::-1]
    assert flipped.flags.c_contiguous and min(flipped.strides) < 0
    tensor = to_tensor(flipped)
    assert tuple(tensor.shape) == (3, 30, 1) and float(tensor[2, 29, 0]) == pytest.approx(89 / 255)


def test_truncated_files_decode_in_threads_without_touching_pillows_global_flag(kinds) -> None:
    """The grey fill needs no process-wide ``LOAD_TRUNCATED_IMAGES``: strict Pillow callers
    in other threads still get their error while truncated files decode here."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import ImageFile

    def strict(_: int) -> bool:
        try:
            with Image.open(kinds["truncated_png"]) as img:
                img.load()
        except OSError:
            return True
        return False

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    want = {n: decode_image(kinds[n]).rgb for n in ("truncated_jpg", "truncated_png")}
    with ThreadPoolExecutor(4) as pool:
        decoded = list(pool.map(lambda i: decode_image(kinds[list(want)[i % 2]]).rgb, range(16)))
        refused = list(pool.map(strict, range(16)))
    assert all(np.array_equal(a, want[list(want)[i % 2]]) for i, a in enumerate(decoded))
    assert all(refused) and ImageFile.LOAD_TRUNCATED_IMAGES is before is False


def test_training_a_folder_of_only_refused_images_says_why(kinds, tmp_path) -> None:
    pytest.importorskip("torch")
    from workbench.engine.config import TrainConfig
    from workbench.engine.events import EmptyDatasetError
    from workbench.engine.trainer import train

    folder = _project(tmp_path / "p", kinds, BAD)
    cfg = TrainConfig(images_dir=folder, model="ssdlite320_mobilenet_v3_large", image_size=96,
                      epochs=1, batch_size=2, out_dir=tmp_path / "run")
    with pytest.raises(EmptyDatasetError) as info:
        list(train(cfg))
    message = str(info.value)
    assert f"all {len(BAD)} labeled images are left out" in message
    assert "workbench validate" in message and "label some images" not in message
    assert not (tmp_path / "run" / "best.pt").exists()


def test_check_image_agrees_fast_and_thorough_for_every_kind(kinds) -> None:
    """The header-and-end-marker verdict equals the full decode's for every fixture."""
    for name, path in kinds.items():
        fast = images.check_image(path)
        full = images.check_image(path, thorough=True)
        assert (fast.severity, fast.message, fast.width, fast.height) == (
            full.severity, full.message, full.width, full.height), name


def test_complete_jpeg_and_png_are_judged_without_decoding(kinds, monkeypatch, tmp_path) -> None:
    def no_decode(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("decoded")

    monkeypatch.setattr(images, "decode_preview", no_decode)
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(kinds["exif6_jpg"].read_bytes() + b"\x00" * 37)  # camera padding
    for path in (kinds["rgb_jpg"], kinds["rgb_png"], kinds["exif6_jpg"], padded):
        check = images.check_image(path)
        assert check.severity == "ok"
    assert (images.check_image(kinds["exif6_jpg"]).width,
            images.check_image(kinds["exif6_jpg"]).height) == (H, W)  # orientation 6 swaps
    assert images.check_image(kinds["bad_1x1"]).severity == "error"  # limits from the header
    with pytest.raises(AssertionError, match="decoded"):  # no end marker: decoded
        images.check_image(kinds["truncated_jpg"])
