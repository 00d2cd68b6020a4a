"""Prior matching (SSD / RPN) on constructed cases, parity with torchvision's matchers; k-means."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.models.detection._utils import Matcher, SSDMatcher
from torchvision.ops import box_iou

from workbench.core.anchors import (
    default_shapes,
    kmeans_iou,
    mean_best_iou,
    resize_input_shapes,
    shape_iou,
    ssd_input_shapes,
    suggest_anchors,
)
from workbench.core.matching import IGNORED, NEGATIVE, encode_prior, match_priors
from workbench.core.priors import ssd300_paper_priors

# Five priors on a 100x100 image, two objects.
PRIORS = np.array([
    [0, 0, 50, 50],      # 0: IoU with A = 1.0
    [0, 0, 50, 40],      # 1: IoU with A = 0.8
    [0, 0, 50, 25],      # 2: IoU with A = 0.5 exactly
    [0, 0, 50, 20],      # 3: IoU with A = 0.4
    [60, 60, 100, 100],  # 4: IoU with B (small, 10x10 at 70..80) = 100/1600 = 0.0625
], dtype=np.float64)
GT = np.array([[0, 0, 50, 50], [70, 70, 80, 80]], dtype=np.float64)


def test_ssd_matching_known_positives() -> None:
    r = match_priors(PRIORS, GT, "ssd", map_offsets=np.array([0, 4, 5]))
    assert r.matched_gt.tolist() == [0, 0, 0, NEGATIVE, 1]
    assert r.positive.tolist() == [True, True, True, False, True]
    assert r.forced.tolist() == [False, False, False, False, True]
    a, b = r.objects
    assert (a.positives, a.above_threshold, a.flagged) == (3, 3, False)
    assert (b.positives, b.above_threshold, b.flagged, b.best_prior) == (1, 0, True, 4)
    assert b.best_iou == pytest.approx(0.0625)
    assert "too small" in b.reason
    assert r.map_positives == (3, 1) and r.map_negatives == (1, 0)
    assert r.num_positive == 4 and r.num_negative == 1
    assert r.hard_negative_budget == 1  # min(3 * 4, 1)


def test_rpn_matching_thresholds_and_low_quality() -> None:
    r = match_priors(PRIORS, GT, "rpn")
    # 0 (1.0) and 1 (0.8) >= 0.7; 2 (0.5) and 3 (0.4) ignored; 4 only by the best-anchor rule.
    assert r.matched_gt.tolist() == [0, 0, IGNORED, IGNORED, 1]
    assert r.ignored.sum() == 2 and r.num_negative == 0
    assert [o.flagged for o in r.objects] == [False, True]
    assert r.rpn_sample() == (3, 0)


def test_object_losing_its_best_prior_has_no_positive() -> None:
    priors = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], dtype=np.float64)
    gt = np.array([[0, 0, 9, 9], [0, 0, 8, 8]], dtype=np.float64)  # both best with prior 0
    r = match_priors(priors, gt, "ssd")
    assert r.matched_gt.tolist() == [1, NEGATIVE]  # the later object wins, like torchvision
    assert r.objects[0].positives == 0 and r.objects[0].flagged
    assert "taken by another object" in r.objects[0].reason


def test_no_objects_all_negative() -> None:
    r = match_priors(PRIORS, np.zeros((0, 4)), "ssd")
    assert r.num_positive == 0 and r.num_negative == 5 and r.objects == ()
    assert r.hard_negative_budget == 0


@pytest.mark.parametrize("kind", ["ssd", "rpn"])
def test_parity_with_torchvision_matchers(kind: str) -> None:
    rng = np.random.default_rng(1)
    priors = ssd300_paper_priors().all_boxes()
    for _ in range(5):
        xy = rng.uniform(0, 250, (4, 2))
        gt = np.concatenate([xy, xy + rng.uniform(8, 120, (4, 2))], axis=1)
        ours = match_priors(priors, gt, kind).matched_gt  # type: ignore[arg-type]
        quality = box_iou(torch.from_numpy(gt), torch.from_numpy(priors))
        matcher = SSDMatcher(0.5) if kind == "ssd" else Matcher(0.7, 0.3, True)
        np.testing.assert_array_equal(ours, matcher(quality).numpy())


def test_matching_on_paper_priors_small_object_flagged() -> None:
    priors = ssd300_paper_priors()
    gt = np.array([[100, 100, 160, 160],   # 60 px: scale 0.2 priors fit
                   [10, 10, 14, 30]])       # 4x20 sliver: nothing reaches 0.5
    r = match_priors(priors.all_boxes(), gt, "ssd", map_offsets=priors.offsets)
    assert not r.objects[0].flagged and r.objects[0].above_threshold >= 1
    assert r.objects[1].flagged and r.objects[1].positives == 1
    assert sum(r.map_positives) == r.num_positive
    assert r.hard_negative_budget == 3 * r.num_positive


def test_encode_prior_ssd_and_rpn() -> None:
    prior = np.array([0.0, 0.0, 10.0, 10.0])
    gt = np.array([1.0, 2.0, 21.0, 12.0])
    assert encode_prior("ssd", prior, gt) == pytest.approx([6.0, 2.0, 3.4657359, 0.0])
    assert encode_prior("rpn", prior, gt) == pytest.approx([0.6, 0.2, 0.6931472, 0.0])


# --- anchors from the data -------------------------------------------------------------------
def test_shape_iou_literal() -> None:
    assert shape_iou(np.array([[10, 10]]), np.array([[10, 10], [20, 5], [5, 5]])).tolist() == [
        [1.0, pytest.approx(50 / 150), 0.25]]


def test_kmeans_recovers_two_clusters() -> None:
    rng = np.random.default_rng(0)
    small = rng.normal([20, 40], 1.0, (50, 2))
    large = rng.normal([200, 100], 5.0, (50, 2))
    centroids, assign = kmeans_iou(np.concatenate([small, large]), 2, seed=3)
    np.testing.assert_allclose(centroids, [[20, 40], [200, 100]], rtol=0.05)
    assert assign[:50].tolist() == [0] * 50 and assign[50:].tolist() == [1] * 50
    assert mean_best_iou(np.concatenate([small, large]), centroids) > 0.9


def test_suggest_anchors_beats_defaults_on_skewed_data() -> None:
    priors = ssd300_paper_priors()
    assert len(default_shapes(priors)) == 30  # 4+6+6+6+4+4 shapes, all distinct
    rng = np.random.default_rng(2)
    shapes = np.abs(rng.normal([30, 120], [3, 10], (200, 2)))  # tall thin objects
    s = suggest_anchors(shapes, priors, k=4)
    assert s.shapes.shape == (4, 2)
    assert s.mean_best_iou_suggested > s.mean_best_iou_default
    assert s.to_json()["num_boxes"] == 200


def test_input_shape_projection() -> None:
    boxes = np.array([[0, 0, 100, 50]])
    assert ssd_input_shapes(boxes, np.array([[600, 300]]), (300, 300)).tolist() == [[50, 50]]
    # 400x300 photo → short side 800: scale 8/3.
    assert resize_input_shapes(boxes, np.array([[400, 300]]), 800, 1333).tolist() == [
        [pytest.approx(266.6667, rel=1e-5), pytest.approx(133.3333, rel=1e-5)]]
