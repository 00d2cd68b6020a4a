"""RawDetector: checkpoint loading, the per-image raw cache, settings stored in the checkpoint."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from workbench.core.boxes import iou_matrix
from workbench.engine.postprocess import PostprocessSettings


def _helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _helpers()
CLASSES = H.CLASSES


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    return H.make_checkpoint(tmp_path_factory.mktemp("tiny"))


def test_from_checkpoint_takes_classes_and_saved_settings(tiny: tuple[Path, list[Path]]) -> None:
    from workbench.engine.inference import RawDetector

    detector = RawDetector.from_checkpoint(tiny[0], device="cpu")
    assert detector.classes == ("cat", "dog")
    assert detector.settings == PostprocessSettings(0.2, 0.5, 7, False)
    assert detector.name == "ssdlite320_mobilenet_v3_large"
    assert detector.candidates_per_class == 300


def test_raw_output_is_cached_per_image(tiny: tuple[Path, list[Path]], tmp_path: Path) -> None:
    from workbench.engine.inference import RawDetector

    detector = RawDetector.from_checkpoint(tiny[0], device="cpu", cache_size=2)
    a, b, c = tiny[1][:3]
    raw = detector.raw(a)
    assert raw.image_size == (128, 96)
    assert len(raw) > 100 and float(raw.scores.min()) > detector.score_floor
    assert detector.forward_images == 1
    assert detector.raw(a) is raw
    for s in (0.1, 0.3, 0.5):
        detector.detect(a, PostprocessSettings(s, 0.5, 10))
    assert detector.forward_images == 1
    detector.raw(b)
    detector.raw(c)  # evicts a (cache of 2)
    assert detector.forward_images == 3
    assert not detector.is_cached(a) and detector.is_cached(c)
    detector.raw(a)
    assert detector.forward_images == 4
    # an edited file is a different image
    copy = tmp_path / "copy.png"
    copy.write_bytes(a.read_bytes())
    detector.raw(copy)
    detector.raw(copy)
    assert detector.forward_images == 5
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    detector.raw(copy)
    assert detector.forward_images == 6


def test_with_own_cache_shares_the_model_not_the_cache(tiny: tuple[Path, list[Path]]) -> None:
    from workbench.engine.inference import RawDetector

    shared = RawDetector.from_checkpoint(tiny[0], device="cpu")
    a, b = tiny[1][:2]
    raw_a = shared.raw(a)
    own = shared.with_own_cache(1)
    assert own.model is shared.model and own._model_lock is shared._model_lock
    assert (own.classes, own.settings, own.name, own.device) == \
        (shared.classes, shared.settings, shared.name, shared.device)
    assert own.cache_size == 1 and shared.cache_size == 64
    assert not own.is_cached(a) and own.forward_images == 0
    mine = own.raw(a)  # its own forward, the same numbers
    assert mine is not raw_a and np.array_equal(mine.scores, raw_a.scores)
    own.raw(b)  # a cache of one: a goes, in its cache only
    assert not own.is_cached(a) and own.is_cached(b)
    assert shared.is_cached(a) and not shared.is_cached(b)
    assert (own.forward_images, shared.forward_images) == (2, 1)


def test_detect_uses_checkpoint_settings(tiny: tuple[Path, list[Path]]) -> None:
    from workbench.engine.inference import RawDetector

    detector = RawDetector.from_checkpoint(tiny[0], device="cpu")
    det = detector.detect(tiny[1][0])
    assert det.image_id == "scene_0"
    assert 1 <= len(det) <= 7
    assert (det.scores > 0.2).all()
    assert set(det.labels.tolist()) <= {"cat", "dog"}
    for name in CLASSES:
        same = det.boxes[det.labels == name]
        ious = iou_matrix(same, same)
        assert (ious[np.triu_indices(len(same), 1)] <= 0.5 + 1e-6).all()
    loose = detector.detect(tiny[1][0], PostprocessSettings(0.01, 1.0, 300))
    assert len(loose) > len(det)


def test_batched_raw_many_equals_single(tiny: tuple[Path, list[Path]]) -> None:
    from workbench.engine.inference import RawDetector

    one = RawDetector.from_checkpoint(tiny[0], device="cpu")
    many = RawDetector.from_checkpoint(tiny[0], device="cpu")
    got = list(many.raw_many(tiny[1], batch_size=3))
    assert [p for p, _ in got] == tiny[1]
    assert many.forward_images == 4
    for path, raw in got:
        ref = one.raw(path)
        torch.testing.assert_close(raw.scores, ref.scores, atol=1e-5, rtol=1e-4)


def test_predict_project_in_project_order(tiny: tuple[Path, list[Path]]) -> None:
    from workbench.engine.inference import predict_project

    project = SimpleNamespace(entries=[SimpleNamespace(image_path=p) for p in tiny[1][::-1]])
    results = predict_project(tiny[0], project, device="cpu")
    assert [r.image_id for r in results] == ["scene_3", "scene_2", "scene_1", "scene_0"]
    assert all(len(r) <= 7 and (r.scores > 0.2).all() for r in results)
    strict = predict_project(tiny[0], project, device="cpu",
                             settings=PostprocessSettings(0.2, 0.5, 1))
    assert [len(r) for r in strict] == [min(1, len(r)) for r in results]
    # the project's image ids name the results (folder-qualified where stems repeat)
    named = SimpleNamespace(entries=[SimpleNamespace(image_path=p, image_id=f"a/{p.stem}")
                                     for p in tiny[1][:2]])
    assert [r.image_id for r in predict_project(tiny[0], named, device="cpu")] == \
        ["a/scene_0", "a/scene_1"]


def test_save_settings_rewrites_only_postprocess(tiny: tuple[Path, list[Path]],
                                                 tmp_path: Path) -> None:
    from workbench.engine.checkpoint import read_checkpoint
    from workbench.engine.inference import RawDetector, save_settings

    path = tmp_path / "c.pt"
    path.write_bytes(tiny[0].read_bytes())
    save_settings(path, PostprocessSettings(0.35, 0.6, 12, True))
    ckpt = read_checkpoint(path)
    assert ckpt["postprocess"] == {"score_threshold": 0.35, "nms_iou": 0.6, "top_k": 12,
                                   "class_agnostic": True}
    assert ckpt["classes"] == CLASSES and ckpt["epoch"] == 1
    assert RawDetector.from_checkpoint(path, device="cpu").settings.top_k == 12
    assert not list(tmp_path.glob(".c.pt.*"))  # no temporary left behind


def test_bad_image_is_named(tiny: tuple[Path, list[Path]], tmp_path: Path) -> None:
    from workbench.engine.inference import RawDetector

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    detector = RawDetector.from_checkpoint(tiny[0], device="cpu")
    with pytest.raises(ValueError, match="broken.jpg"):
        detector.raw(bad)


def test_exif_orientation_is_applied_like_training_and_the_canvas(
        tiny: tuple[Path, list[Path]], tmp_path: Path) -> None:
    from PIL import Image

    from workbench.core.imageinfo import image_info
    from workbench.engine.inference import RawDetector

    img = Image.fromarray(np.zeros((40, 80, 3), np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° on display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif.tobytes())
    raw = RawDetector.from_checkpoint(tiny[0], device="cpu").raw(path)
    info = image_info(path)
    assert raw.image_size == (info.width, info.height) == (40, 80)
    assert float(raw.boxes[:, 2].max()) <= 40 and float(raw.boxes[:, 3].max()) <= 80
