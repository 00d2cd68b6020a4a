"""SSD300 paper priors: counts, scales, literal boxes, cell lookup (numpy only)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.core.priors import (
    SSD300_VOC_PAPER,
    paper_scales,
    ssd300_paper_priors,
    ssd_default_boxes,
)


def test_paper_priors_counts_per_map_and_total() -> None:
    priors = ssd300_paper_priors()
    assert priors.model == SSD300_VOC_PAPER
    assert [fm.count for fm in priors.feature_maps] == [5776, 2166, 600, 150, 36, 4]
    assert [fm.per_cell for fm in priors.feature_maps] == [4, 6, 6, 6, 4, 4]
    assert [fm.size for fm in priors.feature_maps] == [(38, 38), (19, 19), (10, 10), (5, 5),
                                                         (3, 3), (1, 1)]
    assert priors.total == 8732
    assert priors.all_boxes().shape == (8732, 4)
    assert priors.offsets.tolist() == [0, 5776, 7942, 8542, 8692, 8728, 8732]


def test_paper_scales() -> None:
    assert paper_scales() == pytest.approx([0.1, 0.2, 0.375, 0.55, 0.725, 0.9, 1.075])
    fm = ssd300_paper_priors().feature_maps[0]
    assert fm.scales == pytest.approx((0.1, math.sqrt(0.1 * 0.2)))
    assert fm.aspect_ratios == pytest.approx((1, 1, 2, 0.5))


def test_paper_priors_literal_boxes() -> None:
    priors = ssd300_paper_priors()
    conv4 = priors.feature_maps[0]
    # Cell (0, 0) of the 38x38 map: centre 0.5/38*300 = 3.947; s=0.1 → 30 px square.
    c = 0.5 / 38 * 300
    np.testing.assert_allclose(conv4.cell_boxes(0, 0)[0], [c - 15, c - 15, c + 15, c + 15])
    # Second box: s' = sqrt(0.1*0.2)*300 = 42.43 px square.
    s2 = math.sqrt(0.02) * 300 / 2
    np.testing.assert_allclose(conv4.cell_boxes(0, 0)[1], [c - s2, c - s2, c + s2, c + s2])
    # Ratio 2: w = 30*sqrt2, h = 30/sqrt2 (wide first, then tall).
    w, h = 30 * math.sqrt(2) / 2, 30 / math.sqrt(2) / 2
    np.testing.assert_allclose(conv4.cell_boxes(0, 0)[2], [c - w, c - h, c + w, c + h])
    np.testing.assert_allclose(conv4.cell_boxes(0, 0)[3], [c - h, c - w, c + h, c + w])
    # The 1x1 map's first prior: 0.9 * 300 = 270 px centred at 150. Not clipped (paper).
    last = priors.feature_maps[-1]
    np.testing.assert_allclose(last.boxes[0], [15, 15, 285, 285])
    # Ratio 2 at s=0.9: 381.8 px wide, reaching past the image edge (unclipped).
    np.testing.assert_allclose(last.boxes[2, [0, 2]], [150 - 190.918831, 150 + 190.918831])


def test_cell_lookup_and_locate() -> None:
    priors = ssd300_paper_priors()
    fm = priors.feature_maps[2]  # 10x10, stride 30
    assert fm.stride == pytest.approx((30, 30))
    assert fm.cell_at(95, 31) == (1, 3)
    assert fm.cell_rect(1, 3) == pytest.approx((90, 30, 120, 60))
    xs, ys = fm.grid_lines()
    assert xs[0] == pytest.approx(0) and xs[-1] == pytest.approx(300) and len(xs) == 11
    index = int(priors.offsets[2]) + (1 * 10 + 3) * 6 + 4
    assert priors.locate(index) == (2, 1, 3, 4)
    with pytest.raises(IndexError, match="outside the 10x10 map"):
        fm.cell_slice(10, 0)


def test_for_image_scales_per_axis() -> None:
    priors = ssd300_paper_priors().for_image(600, 150)
    assert priors.image_size == (150, 600)
    fm = priors.feature_maps[-1]
    np.testing.assert_allclose(fm.boxes[0], [30, 7.5, 570, 142.5])
    assert fm.stride == pytest.approx((150, 600))
    assert fm.cell_at(10, 10) == (0, 0)


def test_default_boxes_with_steps_and_clip() -> None:
    boxes = ssd_default_boxes([(2, 2)], [[2]], [0.5, 2.0], (100, 100), steps=[50], clip=True)[0]
    assert boxes.shape == (2 * 2 * 4, 4)
    # s' = sqrt(0.5*2) = 1.0 → 100 px square at centre (25, 25).
    np.testing.assert_allclose(boxes[1], [-25, -25, 75, 75])
    # ratio 2: w = 0.5*sqrt2 = 0.707 (kept), clip only affects > 1.
    np.testing.assert_allclose(boxes[2, [0, 2]], [25 - 35.355339, 25 + 35.355339], rtol=1e-6)


def test_json_shape() -> None:
    doc = ssd300_paper_priors().to_json()
    assert set(doc) == {"model", "total", "feature_maps"}
    assert doc["total"] == 8732
    assert set(doc["feature_maps"][0]) == {"name", "size", "per_cell", "count", "scales",
                                           "aspect_ratios"}
    assert doc["feature_maps"][1]["size"] == [19, 19]
