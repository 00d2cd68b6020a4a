"""engine.feature_maps and engine.rpn_trace against torchvision's own pieces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import boxes as box_ops
from torchvision.ops.poolers import LevelMapper

from workbench.engine.anchor_extract import build_for_anchors
from workbench.engine.feature_maps import compute_features, fpn_level
from workbench.engine.rpn_trace import trace_rpn


@pytest.fixture(scope="module")
def frcnn():  # noqa: ANN201
    torch.manual_seed(0)
    return build_for_anchors("fasterrcnn_mobilenet_v3_large_320_fpn")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return (np.random.default_rng(0).random((240, 320, 3)) * 255).astype(np.uint8)


def test_fpn_level_is_torchvisions_level_mapper() -> None:
    scales = [1 / 4, 1 / 8, 1 / 16, 1 / 32]
    mapper = LevelMapper(2, 5)
    rng = np.random.default_rng(1)
    for _ in range(300):
        x1, y1 = rng.uniform(0, 700, 2)
        w, h = rng.uniform(1, 800, 2)
        box = (x1, y1, x1 + w, y1 + h)
        ref = int(mapper([torch.tensor([box], dtype=torch.float32)])[0])
        assert fpn_level(box, scales) == ref, box
    # the canonical 224 x 224 box goes to level 4 (index 2 of P2..P5)
    assert fpn_level((0, 0, 224, 224), scales) == 2


def test_feature_maps_are_the_backbones(frcnn, photo) -> None:  # noqa: ANN001
    f = compute_features(frcnn, photo, "m")
    assert f.input_size == (320, 426) and f.photo_size == (240, 320) and f.fpn
    assert [m.name for m in f.maps] == ["0", "1", "pool"]
    assert [m.pooled for m in f.maps] == [True, True, False]
    assert [m.spatial_scale for m in f.maps] == [1 / 32, 1 / 32, 1 / 64]
    image = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    with torch.no_grad():
        images, _ = frcnn.transform([image])
        ref = frcnn.backbone(images.tensors)
    np.testing.assert_array_equal(f.maps[0].values, ref["0"][0].numpy())
    assert f.level_for((0, 0, 50, 50)) == 0


def test_rpn_trace_keeps_each_proposals_anchor(frcnn, photo) -> None:  # noqa: ANN001
    t = trace_rpn(frcnn, photo)
    assert t.matches_torchvision
    assert len(t.boxes) > 0 and np.all(np.diff(t.scores) <= 0)
    # the anchor index is right: decoding that anchor with the head's deltas gives the proposal
    from torchvision.models.detection.rpn import concat_box_prediction_layers

    image = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    with torch.no_grad():
        images, _ = frcnn.transform([image])
        maps = list(frcnn.backbone(images.tensors).values())
        obj, deltas = frcnn.rpn.head(maps)
        anchors = frcnn.rpn.anchor_generator(images, maps)[0]
        obj, deltas = concat_box_prediction_layers(obj, deltas)
    idx = torch.from_numpy(t.anchor_index)
    decoded = frcnn.rpn.box_coder.decode(deltas[idx], [anchors[idx]]).reshape(-1, 4)
    decoded = box_ops.clip_boxes_to_image(decoded, images.image_sizes[0])
    ry, rx = 240 / 320, 320 / 426
    np.testing.assert_allclose(t.boxes, decoded.double().numpy() * [rx, ry, rx, ry], rtol=1e-6)
    np.testing.assert_allclose(t.scores, torch.sigmoid(obj[idx, 0]).double().numpy(), rtol=1e-6)
    np.testing.assert_allclose(t.anchors, anchors[idx].double().numpy() * [rx, ry, rx, ry])
    assert t.num_anchors == len(anchors)
    ref = box_ops.box_iou(torch.from_numpy(t.boxes), torch.from_numpy(t.anchors)).diagonal()
    np.testing.assert_allclose(t.anchor_iou(), ref.numpy(), rtol=1e-9)
    assert np.all(t.anchor_iou() > 0)


def test_rpn_trace_refuses_a_model_without_rpn() -> None:
    model = build_for_anchors("ssdlite320_mobilenet_v3_large")
    with pytest.raises(ValueError, match="no region proposal network"):
        trace_rpn(model, np.zeros((64, 64, 3), dtype=np.uint8))
