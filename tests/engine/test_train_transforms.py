"""Augmentation, LR schedule and sampler: small inputs, literal expectations."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine import transforms as T
from workbench.engine.config import TrainConfig
from workbench.engine.events import ConfigError
from workbench.engine.schedule import EpochSampler, lr_factor


class _Always:
    """A generator stand-in whose ``random()`` is always 0 (every p-gate passes)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def random(self) -> float:
        return 0.0

    def __getattr__(self, name: str):
        return getattr(self._rng, name)


def _image(h: int = 40, w: int = 60) -> np.ndarray:
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)


def test_hflip_mirrors_pixel_edge_boxes() -> None:
    img = _image()
    boxes = np.array([[0, 5, 10, 20], [50, 0, 60, 40]], np.float32)
    out, b, labels = T.hflip(img, boxes, np.array([1, 2]), _Always(np.random.default_rng(0)))
    np.testing.assert_array_equal(b, [[50, 5, 60, 20], [0, 0, 10, 40]])
    np.testing.assert_array_equal(out[:, 0], img[:, -1])
    np.testing.assert_array_equal(labels, [1, 2])


def test_zoom_out_shrinks_into_a_same_size_mean_canvas() -> None:
    img = np.full((40, 80, 3), 255, np.uint8)
    boxes = np.array([[8, 12, 32, 36]], np.float32)
    out, b, _ = T.zoom_out(img, boxes, np.array([1]), _Always(np.random.default_rng(3)))
    assert out.shape == img.shape  # constant memory: the picture shrinks instead
    ys, xs = np.nonzero((out == 255).all(axis=2))
    left, top, sw, sh = xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
    assert sw < 80 and sh < 40
    assert (out == T.MEAN_RGB).all(axis=2).sum() == 80 * 40 - sw * sh
    np.testing.assert_allclose(
        b, [[left + 8 * sw / 80, top + 12 * sh / 40, left + 32 * sw / 80, top + 36 * sh / 40]],
        atol=1e-4)


def test_large_images_are_shrunk_on_decode(tmp_path) -> None:
    import cv2

    from workbench.engine.dataset import DetectionDataset, ImageRecord

    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.zeros((300, 600, 3), np.uint8))
    rec = ImageRecord(path, "big", 600, 300, np.array([[60, 30, 300, 150]], np.float32),
                      np.array(["a"]), np.array([False]))
    ds = DetectionDataset([rec], ["a"], max_side=200, cache=True)
    _, image, target = ds[0]
    assert tuple(image.shape) == (3, 100, 200)
    np.testing.assert_allclose(target["boxes"].numpy(), [[20, 10, 100, 50]])
    assert ds._cache[0][1] == pytest.approx(1 / 3)


def test_iou_crop_keeps_centred_boxes_inside_the_crop() -> None:
    rng = np.random.default_rng(5)
    img = _image(100, 100)
    boxes = np.array([[10, 10, 40, 40], [60, 60, 95, 90]], np.float32)
    for _ in range(30):
        out, b, labels = T.iou_crop(img, boxes, np.array([1, 2]), rng)
        h, w = out.shape[:2]
        assert len(b) == len(labels) >= 1
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all()
        assert (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()


def test_resize_scales_boxes_to_the_square() -> None:
    out, b, _ = T.resize(_image(40, 60), np.array([[6, 4, 30, 20]], np.float32),
                         np.array([1]), 30)
    assert out.shape == (30, 30, 3)
    np.testing.assert_allclose(b, [[3, 3, 15, 15]])


def test_ssd_transform_outputs_square_and_valid_boxes() -> None:
    t = T.train_transform("ssd", 64)
    rng = np.random.default_rng(0)
    img = _image(48, 80)
    for _ in range(20):
        out, b, labels = t(img, np.array([[10, 10, 50, 40]], np.float32), np.array([1]), rng)
        assert out.shape == (64, 64, 3) and out.dtype == np.uint8
        assert len(b) == len(labels)
        if len(b):
            assert (b >= 0).all() and (b <= 64).all()
    flip = T.train_transform("fasterrcnn", 64)
    out, _, _ = flip(img, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), rng)
    assert out.shape == img.shape


def test_augmentation_choice_pickles_and_keeps_the_familys_resize() -> None:
    import pickle

    img = _image(48, 80)
    box = np.array([[10, 10, 50, 40]], np.float32)
    rng = np.random.default_rng(0)
    # Spawned DataLoader workers receive the transform pickled.
    ssd_on_other = pickle.loads(pickle.dumps(T.train_transform("ssd-demo", 64, augmentation="ssd")))
    assert ssd_on_other.steps == ("photometric", "zoom_out", "iou_crop", "hflip")
    assert ssd_on_other.image_size is None  # the model resizes by itself
    assert T.train_transform("ssd", 64).steps == T.AUGMENTATIONS["ssd"]
    assert T.train_transform("fasterrcnn", 64).steps == ("hflip",)
    none = T.train_transform("ssd", 64, augmentation="none")
    out, b, labels = none(img, box, np.array([1]), rng)
    ref, rb, _ = T.resize(img, box, np.array([1]), 64)
    np.testing.assert_array_equal(out, ref)  # only the resize: deterministic
    np.testing.assert_allclose(b, rb)
    assert T.train_transform("ssd", 64, augment=False, augmentation="ssd").steps == ()
    with pytest.raises(ValueError, match="augmentation must be one of auto, ssd, flip, none"):
        T.train_transform("ssd", 64, augmentation="mosaic")
    with pytest.raises(ConfigError, match="augmentation must be"):
        TrainConfig(images_dir=".", augmentation="mosaic")


def test_warmup_then_cosine_and_step() -> None:
    cfg = TrainConfig(images_dir=".", warmup_steps=4, schedule="cosine")
    f = [lr_factor(s, cfg, total_steps=20, steps_per_epoch=10) for s in range(21)]
    assert f[0] == pytest.approx(0.001) and f[2] == pytest.approx(0.5005)
    assert f[4] == pytest.approx(1.0) and f[12] == pytest.approx(0.5) and f[20] == 0.0
    step = cfg.replace(schedule="step", step_milestones=(0.5, 0.75))
    assert [lr_factor(s, step, 20, 10) for s in (4, 9, 10, 14, 15)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.1, 0.01])


def test_epoch_sampler_is_seeded_per_epoch() -> None:
    s = EpochSampler(10, seed=1)
    s.set_epoch(0)
    a = list(s)
    s.set_epoch(1)
    b = list(s)
    s.set_epoch(0)
    assert list(s) == a and a != b and sorted(b) == list(range(10))


def test_config_validation_names_the_setting() -> None:
    from workbench.engine.events import ConfigError

    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        TrainConfig(images_dir=".", epochs=0)
    with pytest.raises(ConfigError, match="learning rate must be a positive number"):
        TrainConfig(images_dir=".", lr=float("nan"))
    cfg = TrainConfig(images_dir="x", out_dir="y", step_milestones=(0.5,))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    four = TrainConfig(images_dir=".", batch_size=4)
    assert four.effective_lr("fasterrcnn") == pytest.approx(0.005)
    assert four.effective_lr("fasterrcnn", world_size=4) == pytest.approx(0.02)  # 16 images
    assert four.effective_lr("ssd") == pytest.approx(0.005)
    assert four.replace(lr=0.1).effective_lr("ssd", world_size=8) == 0.1


def test_precise_bn_sets_running_stats_to_the_data_mean() -> None:
    import torch
    from torch import nn

    from workbench.engine.precise_bn import recalibrate_batchnorm

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm2d(3, momentum=0.03)
            self.frozen = nn.BatchNorm2d(3, track_running_stats=False)

        def forward(self, images, targets=None):
            return {"x": self.bn(torch.stack(images)).sum()}

    images = [torch.full((3, 2, 2), float(v)) for v in (1, 2, 3, 4, 5)]
    data = [(i, img, {"boxes": torch.zeros(0, 4)}) for i, img in enumerate(images)]
    model = Model().eval()
    used = recalibrate_batchnorm(model, data, [0, 1, 2, 3, 4], 2, torch.device("cpu"))
    assert used == 5 and not model.training and model.bn.momentum == 0.03
    # chunks [0, 1], [2, 3, 4] (a lone last image joins the previous batch): mean of means
    assert torch.allclose(model.bn.running_mean, torch.full((3,), (1.5 + 4.0) / 2))
    before = model.bn.running_mean.clone()
    assert recalibrate_batchnorm(model, [(0, None, "bad")], [0], 2, torch.device("cpu")) == 0
    assert torch.equal(model.bn.running_mean, before)
