"""Geometry: box coders and IoU, with literal values and parity with torchvision.

NMS is torchvision's own (``tests/engine/test_postprocess_ops.py`` checks the post-processing
that uses it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchvision.models.detection._utils import BoxCoder as TvBoxCoder
from torchvision.ops import box_iou

from workbench.core.boxes import iou_matrix
from workbench.core.geometry import (
    RPN_BOX_CODER,
    BoxCoder,
    cxcywh_to_xyxy,
    ssd_box_coder,
    xyxy_to_cxcywh,
)


def _random_boxes(rng: np.random.Generator, n: int, size: float = 100.0) -> np.ndarray:
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


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
    offsets = ssd_box_coder().encode(target, prior)
    expected = [(11 - 5) / 10 / 0.1, (7 - 5) / 10 / 0.1, math.log(20 / 10) / 0.2,
                math.log(10 / 10) / 0.2]
    np.testing.assert_allclose(offsets[0], expected)
    assert offsets[0].tolist() == pytest.approx([6.0, 2.0, 3.4657359, 0.0])


def test_ssd_encode_decode_round_trip_and_torchvision_parity() -> None:
    rng = np.random.default_rng(5)
    priors = _random_boxes(rng, 500)
    targets = _random_boxes(rng, 500)
    coder = ssd_box_coder()
    offsets = coder.encode(targets, priors)
    np.testing.assert_allclose(coder.decode(offsets, priors), targets, rtol=1e-9, atol=1e-9)
    tv = TvBoxCoder(weights=(10.0, 10.0, 5.0, 5.0))  # what torchvision's SSD uses
    ref = tv.encode_single(torch.from_numpy(targets), torch.from_numpy(priors)).numpy()
    np.testing.assert_allclose(offsets, ref, rtol=1e-9, atol=1e-9)
    ref_dec = tv.decode_single(torch.from_numpy(offsets), torch.from_numpy(priors)).numpy()
    np.testing.assert_allclose(coder.decode(offsets, priors), ref_dec, rtol=1e-9, atol=1e-9)


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
