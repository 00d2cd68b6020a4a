"""The CPU demo detector: registered, shaped as documented, and it learns on the sample project."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest
import torch

from workbench.core import synth
from workbench.engine import demo_model
from workbench.engine.config import TrainConfig
from workbench.engine.detectors import build_detector, detector_names, get_spec
from workbench.engine.evaluate import evaluate_detector
from workbench.engine.events import EpochEvaluated, Finished
from workbench.engine.snapshot import take_snapshot
from workbench.engine.trainer import train


def test_registered_with_its_recipe() -> None:
    assert demo_model.NAME in detector_names()
    spec = get_spec(demo_model.NAME)
    assert spec.family == "ssd-demo" and spec.default_image_size == 320
    assert spec.recipe == demo_model.RECIPE
    assert demo_model.RECIPE["model"] == demo_model.NAME
    TrainConfig(images_dir=Path("."), **{k: v for k, v in demo_model.RECIPE.items()})


def test_build_feature_maps_and_default_boxes() -> None:
    torch.manual_seed(0)
    model, info = build_detector(demo_model.NAME, 6)
    assert info["weights_kind"] == "none" and info["image_size"] == 320
    feats = model.backbone(torch.zeros(1, 3, 320, 320))
    assert [tuple(f.shape[1:]) for f in feats.values()] == [
        (64, 40, 40), (96, 20, 20), (128, 10, 10), (128, 5, 5), (128, 3, 3), (128, 2, 2)]
    # 6 boxes per cell (1, 1', 2, 1/2, 3, 1/3): 6 * (1600 + 400 + 100 + 25 + 9 + 4)
    assert model.anchor_generator.num_anchors_per_location() == [6] * 6
    priors = model.anchor_generator(
        __import__("torchvision").models.detection.image_list.ImageList(
            torch.zeros(1, 3, 320, 320), [(320, 320)]), list(feats.values()))
    assert priors[0].shape == (6 * 2138, 4)
    # the smallest square prior is 6 % of the side, the first map's stride is 8 px
    w = priors[0][:, 2] - priors[0][:, 0]
    assert math.isclose(float(w.min()), 0.06 * 320 / math.sqrt(3), rel_tol=1e-4)


def test_eval_outputs_follow_torchvision_api() -> None:
    torch.manual_seed(0)
    model, _ = build_detector(demo_model.NAME, 4, image_size=192)
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 240, 320), torch.rand(3, 200, 150)])
    assert len(out) == 2
    for o, (h, w) in zip(out, [(240, 320), (200, 150)]):
        assert set(o) == {"boxes", "scores", "labels"}
        if len(o["boxes"]):
            assert float(o["boxes"][:, 2].max()) <= w and float(o["boxes"][:, 3].max()) <= h
            assert int(o["labels"].min()) >= 1 and int(o["labels"].max()) <= 3


def test_pretrained_weights_are_refused_with_a_message() -> None:
    with pytest.raises(ValueError, match="from scratch"):
        demo_model.build_demo_ssdlite(3, 320, weights_backbone=object())


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_short_training_beats_an_untrained_model(tmp_path: Path) -> None:
    """About a minute of CPU training on 48 small scenes: val mAP clearly above the untrained
    net. One thread: two OpenMP threads on a machine with one free core ran 10x slower."""
    torch.set_num_threads(1)
    sample = synth.generate_project(tmp_path / "sample", num_images=60, seed=1,
                                    val_fraction=0.2)
    config = TrainConfig(images_dir=sample.root, **{**demo_model.RECIPE, "epochs": 12,
                                                      "image_size": 256, "lr": 5e-3},
                         out_dir=tmp_path / "run", device="cpu", seed=0)
    data = take_snapshot(sample.root, val_fraction=0.2, seed=0)
    torch.manual_seed(0)
    untrained, _ = build_detector(demo_model.NAME, len(data.classes) + 1, image_size=256)
    base = evaluate_detector(untrained, data.val, data.classes, torch.device("cpu"))
    stop = threading.Event()
    maps = []
    for event in train(config, data, stop):
        if isinstance(event, EpochEvaluated):
            maps.append(event.map_voc)
        elif isinstance(event, Finished):
            assert not event.stopped and event.best_checkpoint is not None
    assert len(maps) == 12
    assert base.map_voc < 0.02
    assert max(maps[-3:]) > base.map_voc + 0.05
