"""The segment pass of ours (ALGORITHM_VERSION 5): segment, pair and chain boxes of a label
image, the grid de-duplication, and the parameter checks — literal values."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.proposals import (
    ProposalParams,
    grid_dedup,
    segment_boxes,
    selective_search,
)


def _labels() -> np.ndarray:
    """Four segments in a 4x6 image: 0 | 1 on top, 2 along the bottom, 3 a notch in 2.

        0 0 1 1 1 1
        0 0 1 1 1 1
        2 2 2 3 2 2
        2 2 2 2 2 2
    """
    lab = np.array([[0, 0, 1, 1, 1, 1],
                    [0, 0, 1, 1, 1, 1],
                    [2, 2, 2, 3, 2, 2],
                    [2, 2, 2, 2, 2, 2]])
    return lab


def test_segments_then_pairs() -> None:
    boxes, levels = segment_boxes(_labels())
    assert levels.tolist() == [1] * 4 + [2] * 5
    segments = [[0, 0, 2, 2], [2, 0, 6, 2], [0, 2, 6, 4], [3, 2, 4, 3]]
    # touching pairs (4-connectivity): 0-1, 0-2, 1-2, 1-3, 2-3 (0 and 3 only touch diagonally)
    pairs = [[0, 0, 6, 2], [0, 0, 6, 4], [0, 0, 6, 4], [2, 0, 6, 3], [0, 2, 6, 4]]
    assert boxes.tolist() == segments + pairs


def test_triples_are_chains_through_a_shared_segment() -> None:
    boxes, levels = segment_boxes(_labels(), triples=True)
    assert levels.tolist() == [1] * 4 + [2] * 5 + [3] * 8
    chains = boxes[9:].tolist()
    # by the middle segment's neighbour count, then middle, then neighbour pairs:
    # 0: (1, 2); 3: (1, 2); 1: (0, 2), (0, 3), (2, 3); 2: (0, 1), (0, 3), (1, 3).
    # Only 0-1-3 (middle 1) leaves out the bottom row.
    assert chains == [[0, 0, 6, 4]] * 3 + [[0, 0, 6, 3]] + [[0, 0, 6, 4]] * 4
    assert segment_boxes(_labels(), triples=False)[0].tolist() == boxes[:9].tolist()


def test_segment_boxes_rejects_an_empty_image() -> None:
    with pytest.raises(ValueError, match=r"\(H, W\) label image"):
        segment_boxes(np.zeros((0, 3), np.int64))


def test_grid_dedup_keeps_the_first_of_near_repeats() -> None:
    boxes = np.array([[100, 100, 200, 200],     # 100 px: step 0.1 * 100 = 10 → 8 px
                      [98, 99, 199, 201],       # the same cells (/8 rounds alike): a repeat
                      [108, 100, 208, 200],     # one cell to the right: kept
                      [10, 10, 13, 13],         # 3 px: step 1 px
                      [10, 10, 14, 13]],        # one pixel wider: kept
                     dtype=np.float64)
    assert grid_dedup(boxes, 0.1).tolist() == [0, 2, 3, 4]
    assert grid_dedup(boxes, 0.0).tolist() == [0, 1, 2, 3, 4]


def test_one_colour_space_per_k() -> None:
    img = np.zeros((40, 50, 3), np.uint8)
    with pytest.raises(ValueError, match="one colour space per k"):
        selective_search(img, ProposalParams(seg_ks=(150,), seg_spaces=("HSV", "Lab")))
    with pytest.raises(ValueError, match="colour space 'RGB'"):
        selective_search(img, ProposalParams(seg_ks=(150,), seg_spaces=("RGB",)))
