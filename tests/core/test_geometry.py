"""Geometry: NMS and box coders, with literal values and parity with torchvision."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchvision.models.detection._utils import BoxCoder as TvBoxCoder
from torchvision.ops import batched_nms as tv_batched_nms
from torchvision.ops import box_iou
from torchvision.ops import nms as tv_nms

from workbench.core.boxes import iou_matrix
from workbench.core.geometry import (
    RPN_BOX_CODER,
    BoxCoder,
    batched_nms,
    cxcywh_to_xyxy,
    nms,
    ssd_decode,
    ssd_encode,
    xyxy_to_cxcywh,
)


def _random_boxes(rng: np.random.Generator, n: int, size: float = 100.0) -> np.ndarray:
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def test_nms_literal_case() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # box 3 (0.95) first; box 0 has IoU 100/105 with it, box 1 85.5/119.5: both > 0.5.
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    # IoU exactly equal to the threshold is kept (suppression needs IoU > threshold).
    two = np.array([[0, 0, 10, 10], [0, 0, 10, 20]])  # IoU 0.5
    assert nms(two, np.array([0.9, 0.8]), 0.5).tolist() == [0, 1]
    assert nms(two, np.array([0.9, 0.8]), 0.49).tolist() == [0]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_torchvision(threshold: float) -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        boxes = _random_boxes(rng, 300)
        scores = rng.permutation(300) / 300.0  # distinct scores: no tie ambiguity
        ours = nms(boxes, scores, threshold)
        ref = tv_nms(torch.from_numpy(boxes), torch.from_numpy(scores), threshold).numpy()
        np.testing.assert_array_equal(ours, ref)


def test_batched_nms_matches_torchvision() -> None:
    rng = np.random.default_rng(3)
    boxes = _random_boxes(rng, 200)
    scores = rng.permutation(200) / 200.0
    labels = rng.integers(0, 4, 200)
    ours = batched_nms(boxes, scores, labels, 0.5)
    ref = tv_batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                         torch.from_numpy(labels), 0.5).numpy()
    np.testing.assert_array_equal(ours, ref)


def test_iou_matrix_matches_torchvision() -> None:
    rng = np.random.default_rng(11)
    a, b = _random_boxes(rng, 40), _random_boxes(rng, 30)
    ref = box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(iou_matrix(a, b), ref, rtol=1e-12, atol=1e-12)


def test_cxcywh_round_trip_literal() -> None:
    assert xyxy_to_cxcywh(np.array([[10, 20, 30, 60]])).tolist() == [[20, 40, 20, 40]]
    assert cxcywh_to_xyxy(np.array([[20, 40, 20, 40]])).tolist() == [[10, 20, 30, 60]]


def test_ssd_encode_literal_values() -> None:
    prior = np.array([[0.0, 0.0, 10.0, 10.0]])        # centre (5, 5), size 10 x 10
    target = np.array([[1.0, 2.0, 21.0, 12.0]])       # centre (11, 7), size 20 x 10
    offsets = ssd_encode(target, prior)
    expected = [(11 - 5) / 10 / 0.1, (7 - 5) / 10 / 0.1, math.log(20 / 10) / 0.2,
                math.log(10 / 10) / 0.2]
    np.testing.assert_allclose(offsets[0], expected)
    assert offsets[0].tolist() == pytest.approx([6.0, 2.0, 3.4657359, 0.0])


def test_ssd_encode_decode_round_trip_and_torchvision_parity() -> None:
    rng = np.random.default_rng(5)
    priors = _random_boxes(rng, 500)
    targets = _random_boxes(rng, 500)
    offsets = ssd_encode(targets, priors)
    np.testing.assert_allclose(ssd_decode(offsets, priors), targets, rtol=1e-9, atol=1e-9)
    tv = TvBoxCoder(weights=(10.0, 10.0, 5.0, 5.0))  # what torchvision's SSD uses
    ref = tv.encode_single(torch.from_numpy(targets), torch.from_numpy(priors)).numpy()
    np.testing.assert_allclose(offsets, ref, rtol=1e-9, atol=1e-9)
    ref_dec = tv.decode_single(torch.from_numpy(offsets), torch.from_numpy(priors)).numpy()
    np.testing.assert_allclose(ssd_decode(offsets, priors), ref_dec, rtol=1e-9, atol=1e-9)


def test_rpn_coder_matches_torchvision_including_clamp() -> None:
    rng = np.random.default_rng(9)
    anchors = _random_boxes(rng, 200)
    offsets = rng.normal(0, 2, (200, 4))
    offsets[:5, 2:] = 9.0  # beyond log(1000/16): torchvision clamps before exp
    tv = TvBoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    ref = tv.decode_single(torch.from_numpy(offsets), torch.from_numpy(anchors)).numpy()
    np.testing.assert_allclose(RPN_BOX_CODER.decode(offsets, anchors), ref, rtol=1e-9)
    targets = _random_boxes(rng, 200)
    ref_enc = tv.encode_single(torch.from_numpy(targets), torch.from_numpy(anchors)).numpy()
    np.testing.assert_allclose(RPN_BOX_CODER.encode(targets, anchors), ref_enc, rtol=1e-9)


def test_box_coder_rejects_length_mismatch() -> None:
    with pytest.raises(ValueError, match="2 targets for 1 reference"):
        BoxCoder().encode(np.zeros((2, 4)) + [0, 0, 1, 1], np.array([[0, 0, 1, 1.0]]))
