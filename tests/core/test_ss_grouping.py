"""Hierarchical grouping (workbench.core.ss_grouping) on hand-made tiny segmentations."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.ss_grouping import (
    Weights, adjacent_pairs, colour_histograms, felzenszwalb, group, region_colours,
)


def three_stripes() -> tuple[np.ndarray, np.ndarray]:
    """4x6 image: segment 0 = columns 0-1 (0, 0, 255), 1 = columns 2-3 (0, 0, 200),
    2 = columns 4-5 (255, 0, 0)."""
    labels = np.repeat(np.array([[0, 0, 1, 1, 2, 2]]), 4, axis=0)
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, 0:2] = (0, 0, 255)
    image[:, 2:4] = (0, 0, 200)
    image[:, 4:6] = (255, 0, 0)
    return image, labels


def test_colour_histograms_literal() -> None:
    image, labels = three_stripes()
    hist = colour_histograms(image, labels, 3)
    assert hist.shape == (3, 75)
    # segment 0: channel 0 bin 0, channel 1 bin 0, channel 2 bin 255*25//256 = 24
    assert np.flatnonzero(hist[0]).tolist() == [0, 25, 50 + 24]
    assert np.flatnonzero(hist[1]).tolist() == [0, 25, 50 + 19]   # 200*25//256 = 19
    assert hist[0, 0] == pytest.approx(1 / 3)


def test_adjacency_literal() -> None:
    _, labels = three_stripes()
    assert adjacent_pairs(labels) == {(0, 1), (1, 2)}


def test_first_merges_colour_only() -> None:
    image, labels = three_stripes()
    g = group(image, labels, Weights(colour=1, texture=0, size=0, fill=0))
    assert g.n_segments == 3 and g.steps == 2
    assert g.merges.tolist() == [[0, 1], [2, 3]]
    # step 1: 0 and 1 share channel-0 bin 0 and channel-1 bin 0: 1/3 + 1/3
    assert g.similarity[0] == pytest.approx(2 / 3)
    # step 2: region 3 = mean of 0 and 1 (1/3, 1/3, 1/6, 1/6) against 2 (1/3 at ch0 bin 24,
    # ch1 bin 0, ch2 bin 0): only ch1 bin 0 is shared
    assert g.similarity[1] == pytest.approx(1 / 3)
    assert g.boxes[3].tolist() == [0.0, 0.0, 4.0, 4.0]
    assert g.boxes[4].tolist() == [0.0, 0.0, 6.0, 4.0]
    assert g.sizes.tolist() == [8, 8, 8, 16, 24]


def test_size_and_fill_literal() -> None:
    image, labels = three_stripes()
    g = group(image, labels, Weights(colour=0, texture=0, size=1, fill=1))
    # both pairs tie at size 1 - 16/24 and fill 1 - (16 - 16)/24: the smaller ids go first
    assert g.merges.tolist() == [[0, 1], [2, 3]]
    assert g.similarity[0] == pytest.approx(1 - 16 / 24 + 1.0)
    assert g.similarity[1] == pytest.approx(1 - 24 / 24 + 1.0)


def test_size_prefers_small_regions() -> None:
    # segments 0 (1 column), 1 (1 column), 2 (4 columns): 0+1 is the smaller union
    labels = np.repeat(np.array([[0, 1, 2, 2, 2, 2]]), 2, axis=0)
    image = np.zeros((2, 6, 3), np.uint8)
    g = group(image, labels, Weights(colour=0, texture=0, size=1, fill=0))
    assert g.merges[0].tolist() == [0, 1]
    assert g.similarity[0] == pytest.approx(1 - 4 / 12)


def test_regions_after_and_label_image() -> None:
    image, labels = three_stripes()
    g = group(image, labels, Weights(colour=1, texture=0, size=0, fill=0))
    assert g.regions_after(0).tolist() == [0, 1, 2]
    assert g.regions_after(1).tolist() == [3, 3, 2]
    assert g.regions_after(2).tolist() == [4, 4, 4]
    assert [g.region_count(t) for t in range(3)] == [3, 2, 1]
    assert g.label_image(1)[0].tolist() == [3, 3, 3, 3, 2, 2]
    assert len(g.proposals()) == 5 and len(g.proposals(1)) == 4
    with pytest.raises(ValueError, match="step must lie in 0..2"):
        g.regions_after(3)


def test_texture_term_in_range_and_full_hierarchy() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    labels = (np.arange(24)[:, None] // 8) * 4 + np.arange(32)[None, :] // 8   # 3x4 blocks
    g = group(image, labels)
    assert g.n_segments == 12 and g.steps == 11
    assert g.region_count(11) == 1
    assert np.all((g.similarity >= 0) & (g.similarity <= 4))
    assert g.boxes[-1].tolist() == [0.0, 0.0, 32.0, 24.0]


def test_felzenszwalb_k_controls_count() -> None:
    image = np.zeros((40, 40, 3), np.uint8)
    image[:, 20:] = 200
    image[10:20, 5:15] = (0, 200, 0)
    labels = felzenszwalb(image, k=100, sigma=0.5, min_size=50)
    assert labels.shape == (40, 40) and labels.dtype == np.int32
    assert len(np.unique(labels)) == 3
    # smaller k, smaller min_size: more segments (OpenCV's counts on this image)
    assert len(np.unique(felzenszwalb(image, k=10, sigma=0.5, min_size=5))) == 19
    assert len(np.unique(felzenszwalb(image, k=1000, sigma=0.5, min_size=5))) == 7
    assert labels[0, 0] != labels[0, 39] and labels[15, 10] not in (labels[0, 0], labels[0, 39])
    with pytest.raises(ValueError, match="need k > 0"):
        felzenszwalb(image, k=0)


def test_region_colours_deterministic() -> None:
    a = region_colours(5)
    assert a.shape == (5, 3) and a.dtype == np.uint8
    assert np.array_equal(a, region_colours(5))
    assert len({tuple(c) for c in a}) == 5
