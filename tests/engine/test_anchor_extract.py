"""Priors/anchors read from torchvision's own generators; paper priors vs DefaultBoxGenerator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList

from workbench.cli import main as cli_main
from workbench.core.priors import (
    SSD300_GRIDS,
    SSD300_RATIOS,
    paper_scales,
    ssd300_paper_priors,
    ssd_default_boxes,
)
from workbench.engine.anchor_extract import UnknownModelError, extract_priors

torch.set_num_threads(1)


def _generator_boxes(gen: torch.nn.Module, grids: list[tuple[int, int]], size: int) -> np.ndarray:
    images = ImageList(torch.zeros(1, 3, size, size), [(size, size)])
    feats = [torch.zeros(1, 1, h, w) for h, w in grids]
    return gen(images, feats)[0].double().numpy()


def test_paper_priors_equal_torchvision_default_box_generator() -> None:
    # The paper's priors are torchvision's DefaultBoxGenerator with the paper's scales,
    # centres at (j + 0.5)/f_k (steps=None) and no clipping.
    gen = DefaultBoxGenerator(SSD300_RATIOS, scales=paper_scales(), steps=None, clip=False)
    ref = _generator_boxes(gen, SSD300_GRIDS, 300)
    np.testing.assert_allclose(ssd300_paper_priors().all_boxes(), ref, atol=1e-4)


def test_ssd300_vgg16_counts_and_generator_equality() -> None:
    priors = extract_priors("ssd300_vgg16")
    assert priors.total == 8732
    assert [fm.count for fm in priors.feature_maps] == [5776, 2166, 600, 150, 36, 4]
    assert priors.input_size == (300, 300)
    assert priors.feature_maps[0].scales[0] == pytest.approx(0.07)   # COCO scales, not 0.1
    # Same boxes as a DefaultBoxGenerator configured like torchvision's ssd300_vgg16 ...
    gen = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                              scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
                              steps=[8, 16, 32, 64, 100, 300])
    ref = _generator_boxes(gen, SSD300_GRIDS, 300)
    np.testing.assert_allclose(priors.all_boxes(), ref, atol=1e-4)
    # ... and as our numpy formula with those settings (clip=True like torchvision).
    ours = np.concatenate(ssd_default_boxes(
        SSD300_GRIDS, SSD300_RATIOS, [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05], (300, 300),
        steps=[8, 16, 32, 64, 100, 300], clip=True))
    np.testing.assert_allclose(priors.all_boxes(), ours, atol=1e-4)
    assert priors.feature_maps[0].stride == (8.0, 8.0)


def test_fasterrcnn_anchors_from_the_rpn_generator() -> None:
    from workbench.engine.anchor_extract import build_for_anchors

    model = build_for_anchors("fasterrcnn_mobilenet_v3_large_320_fpn")
    priors = extract_priors("fasterrcnn_mobilenet_v3_large_320_fpn", model=model)
    assert priors.kind == "rpn" and priors.input_size == (320, 320)
    assert [(fm.size, fm.per_cell) for fm in priors.feature_maps] == [
        ((10, 10), 15), ((10, 10), 15), ((5, 5), 15)]
    assert priors.total == 3375
    # Equal to the model's own anchors from a real forward of its transform + backbone.
    with torch.no_grad():
        images, _ = model.transform([torch.zeros(3, 320, 320)])
        feats = list(model.backbone(images.tensors).values())
        ref = model.rpn.anchor_generator(images, feats)[0].double().numpy()
    np.testing.assert_array_equal(priors.all_boxes(), ref)
    fm = priors.feature_maps[0]
    # torchvision puts anchors at j * stride (not cell centres): first centre is 0.
    assert fm.centers_x[:3].tolist() == [0.0, 32.0, 64.0]
    assert fm.scales == (32.0, 64.0, 128.0, 256.0, 512.0)
    # 32 px anchor, ratio 0.5 (h/w): w = 32/sqrt(.5) = 45.25, h = 22.6, rounded by torchvision.
    np.testing.assert_array_equal(fm.boxes[0], [-23.0, -11.0, 23.0, 11.0])


def test_fasterrcnn_on_a_photo_maps_back_per_axis() -> None:
    priors = extract_priors("fasterrcnn_resnet50_fpn", photo_size=(417, 650))
    assert priors.image_size == (417, 650)
    assert priors.input_size == (800, 1247)           # torchvision's resize of 417x650
    assert [fm.size for fm in priors.feature_maps] == [(200, 312), (100, 156), (50, 78),
                                                       (25, 39), (13, 20)]
    assert priors.total == 3 * (200 * 312 + 100 * 156 + 50 * 78 + 25 * 39 + 13 * 20)
    fm = priors.feature_maps[0]
    assert fm.stride[1] == pytest.approx(4 * 650 / 1247)


def test_unknown_model_and_paper_size_errors() -> None:
    with pytest.raises(UnknownModelError, match="unknown model 'yolo'"):
        extract_priors("yolo")
    with pytest.raises(UnknownModelError, match="300x300 input only"):
        extract_priors("ssd300_voc_paper", image_size=512)


def test_cli_priors_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["priors", "--model", "ssd300_vgg16", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "ssd300_vgg16" and doc["total"] == 8732
    assert [m["count"] for m in doc["feature_maps"]] == [5776, 2166, 600, 150, 36, 4]
    assert doc["feature_maps"][0]["size"] == [38, 38]
    assert doc["feature_maps"][0]["aspect_ratios"] == [1.0, 1.0, 2.0, 0.5]
    assert cli_main(["priors", "--model", "ssd300_voc_paper"]) == 0
    out = capsys.readouterr().out
    assert "8,732 priors" in out and "conv4_3" in out and "0.375" in out


def test_ssd_models_equal_their_real_forward_anchors() -> None:
    # The meta-device shapes give the same boxes as running the real backbone.
    from workbench.engine.anchor_extract import build_for_anchors, priors_from_model

    model = build_for_anchors("ssdlite320_mobilenet_v3_large")
    with torch.no_grad():
        images, _ = model.transform([torch.rand(3, 240, 360)])
        feats = list(model.backbone(images.tensors).values())
        ref = model.anchor_generator(images, feats)[0].double().numpy()
    priors = priors_from_model(model, "ssdlite320_mobilenet_v3_large")
    assert priors.total == 3234 and [fm.per_cell for fm in priors.feature_maps] == [6] * 6
    np.testing.assert_allclose(priors.all_boxes(), ref, atol=1e-4)
    # On a 240x360 photo the 320x320 boxes are scaled per axis back to the photo.
    on_photo = priors_from_model(model, "ssdlite320_mobilenet_v3_large", (240, 360))
    np.testing.assert_allclose(on_photo.all_boxes(), ref * np.array([360, 240, 360, 240]) / 320,
                               atol=1e-3)


def test_cli_priors_from_a_checkpoint(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from workbench.engine.checkpoint import make_checkpoint, save_checkpoint
    from workbench.engine.detectors import build_detector

    model, info = build_detector("fasterrcnn_mobilenet_v3_large_320_fpn", 3, image_size=256)
    path = save_checkpoint(make_checkpoint(model, info=info, classes=["a", "b"], config={},
                                           epoch=1), tmp_path / "m.pt")
    assert cli_main(["priors", "--checkpoint", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "fasterrcnn_mobilenet_v3_large_320_fpn"
    # min_size 256 from the checkpoint: 256 → padded 256, maps 8x8, 8x8, 4x4 at 15 per cell.
    assert [m["size"] for m in doc["feature_maps"]] == [[8, 8], [8, 8], [4, 4]]
    assert doc["total"] == 15 * (64 + 64 + 16)
    assert cli_main(["priors"]) == 2
    assert "exactly one of --model" in capsys.readouterr().err
