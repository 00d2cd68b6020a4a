"""The segment pass of ours (ALGORITHM_VERSION 5): segment, pair and chain boxes of a label
image, the grid de-duplication, and the parameter checks — literal values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from workbench.core.proposals import (
    ProposalParams,
    _interleave,
    _segment_pass,
    best_overlaps,
    grid_dedup,
    rank_proposals,
    segment_boxes,
    segment_boxes_fill,
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


def test_bridges_are_chain_ends_without_a_middle_that_runs_out() -> None:
    boxes, levels = segment_boxes(_labels(), triples=True, bridges=True)
    assert boxes[:17].tolist() == segment_boxes(_labels(), triples=True)[0].tolist()
    assert levels.tolist() == [1] * 4 + [2] * 5 + [3] * 8 + [4] * 5
    # chains in the order above; a bridge only where the middle leaves the ends' box:
    # 1-0-2, 1-3-2 and 0-1-2 give [0, 0, 6, 4] with the middle inside: no bridge;
    # 0-1-3 → [0,0,4,3], 2-1-3 → [0,2,6,4], 0-2-1 → [0,0,6,2], 0-2-3 → [0,0,4,3],
    # 1-2-3 → [2,0,6,3]
    assert boxes[17:].tolist() == [[0, 0, 4, 3], [0, 2, 6, 4], [0, 0, 6, 2], [0, 0, 4, 3],
                                   [2, 0, 6, 3]]
    # without the chains, the bridges alone follow the pairs
    only, only_levels = segment_boxes(_labels(), bridges=True)
    assert only[9:].tolist() == boxes[17:].tolist()
    assert only_levels.tolist() == [1] * 4 + [2] * 5 + [4] * 5


def test_bridge_fill_drops_sparse_ends() -> None:
    # areas: 0: 4 px, 1: 8, 2: 11, 3: 1. Fill of the ends in their box: 0+3 in [0,0,4,3]:
    # 5/12; 2+3 in [0,2,6,4]: 12/12; 0+1 in [0,0,6,2]: 12/12; 1+3 in [2,0,6,3]: 9/12
    boxes, levels = segment_boxes(_labels(), bridges=True, min_fill=0.5)
    assert boxes[levels == 4].tolist() == [[0, 2, 6, 4], [0, 0, 6, 2], [2, 0, 6, 3]]
    boxes, levels = segment_boxes(_labels(), bridges=True, min_fill=0.8)
    assert boxes[levels == 4].tolist() == [[0, 2, 6, 4], [0, 0, 6, 2]]


def test_segment_pass_ranks_bridges_after_everything_else() -> None:
    img = np.full((60, 80, 3), (200, 160, 120), np.uint8)
    img[10:30, 10:40] = (20, 200, 20)
    img[18:22, :] = (0, 0, 255)            # a red wire across the green block
    params = ProposalParams(seg_bridges=False)
    plain, _ = _segment_pass(img, 150, "HSV", params, 1.0)
    bridged, places = _segment_pass(img, 150, "HSV",
                                    dataclasses.replace(params, seg_bridges=True), 1.0)
    # the same list, then the bridges (version 7's order: it picks which near repeat stays)
    assert len(bridged) > len(plain)
    assert bridged[:len(plain)].tolist() == plain.tolist()
    # the green block above and below the wire, without the wire: a bridge
    assert [10, 10, 40, 30] in bridged[len(plain):].tolist()
    assert [10, 10, 40, 30] not in plain.tolist()
    # version 8's final places: random / fill² — the bridge fills 80 % of its box, the two
    # halves all of theirs; with seg_rank "level" the list's own order
    assert bridged.tolist() == [[10, 10, 40, 18], [10, 22, 40, 30], [10, 10, 40, 30]]
    assert places.tolist() == [0, 2, 1]
    _, level = _segment_pass(img, 150, "HSV",
                             dataclasses.replace(params, seg_bridges=True, seg_rank="level"), 1.0)
    assert level.tolist() == [0, 1, 2]


def test_segment_pass_scale_and_min_size_per_segmentation() -> None:
    img = np.full((60, 80, 3), (200, 160, 120), np.uint8)
    img[10:30, 10:40] = (20, 200, 20)
    img[18:22, :] = (0, 0, 255)
    one = {"seg_ks": (150,), "seg_spaces": ("HSV",), "coarse_frac": 0.0, "fine_side": 0}
    base = selective_search(img, ProposalParams(**one, seg_scales=(), seg_min_sizes=()))
    # the i-th entry applies to the i-th segmentation; entries past seg_ks are unused
    same = selective_search(img, ProposalParams(**one, seg_scales=(1.0, 0.5),
                                                seg_min_sizes=(100, 50)))
    assert same.boxes.tolist() == base.boxes.tolist()
    half = selective_search(img, ProposalParams(**one, seg_scales=(0.5,)))
    assert half.boxes.tolist() != base.boxes.tolist()
    with pytest.raises(ValueError, match=r"seg_scales \(0.0,\): each must be in \(0, 1\]"):
        selective_search(img, ProposalParams(**one, seg_scales=(0.0,)))


def test_version_9_hsv_min_size_30_keeps_objects_of_30_to_49_pixels() -> None:
    """ALGORITHM_VERSION 9: the full-size HSV segmentation's ``min_size`` is 30 (was 50), so a
    6x7 (42 px) object on a noisy flat background is its own segment, and its box a proposal;
    at 50 it is merged into the background and nothing covers it (set F's tiny objects)."""
    rng = np.random.default_rng(3)
    img = np.full((240, 320, 3), (90, 140, 160), np.uint8)
    img = np.clip(img.astype(int) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
    gt = np.array([[100, 80, 106, 87], [200, 150, 205, 158], [40, 180, 47, 186]], float)
    for x0, y0, x1, y1 in gt.astype(int):
        img[y0:y1, x0:x1] = (60, 100, 200)
    assert ProposalParams().seg_min_sizes == (30, 100)
    new = selective_search(img, ProposalParams()).boxes
    old = selective_search(img, ProposalParams(seg_min_sizes=(50, 100))).boxes
    assert best_overlaps(gt, new)[0].tolist() == [1.0, 1.0, 1.0]
    assert best_overlaps(gt, old)[0].max() < 0.01
    assert (len(new), len(old)) == (7, 1)


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


def test_interleave_rates() -> None:
    a = np.array([[0, 0, 1, 1]] * 3, np.float64) + np.arange(3)[:, None] * 10   # 0, 10, 20
    b = np.array([[5, 5, 6, 6]] * 4, np.float64) + np.arange(4)[:, None] * 10   # 5 .. 35
    assert _interleave([a, b])[:, 0].tolist() == [0, 5, 10, 15, 20, 25, 35]
    # b at two boxes per round: its rank r sorts as r / 2
    assert _interleave([a, b], [1.0, 2.0])[:, 0].tolist() == [0, 5, 15, 10, 25, 35, 20]
    assert _interleave([a, b], [1.0, 0.5])[:, 0].tolist() == [0, 5, 10, 20, 15, 25, 35]


def test_segment_fill_is_their_pixels_over_the_box() -> None:
    boxes, levels, fill = segment_boxes_fill(_labels(), triples=True)
    assert boxes.tolist() == segment_boxes(_labels(), triples=True)[0].tolist()
    assert levels.tolist() == segment_boxes(_labels(), triples=True)[1].tolist()
    # segments: 2 is 11 of its 12 box pixels (3 is the notch); pairs 0-1, 0-2, 1-2, 1-3, 2-3
    assert fill[:9].tolist() == pytest.approx([1, 1, 11 / 12, 1, 1, 15 / 24, 19 / 24, 9 / 12, 1])
    # chains (order of test_triples_...; segments of 4, 8, 11 and 1 px): 1-0-2, 1-3-2, 0-1-2,
    # 0-1-3 (box 18 px), 2-1-3, 0-2-1, 0-2-3, 1-2-3
    assert fill[9:].tolist() == pytest.approx([23 / 24, 20 / 24, 23 / 24, 13 / 18, 20 / 24,
                                               23 / 24, 16 / 24, 20 / 24])


def test_rank_proposals_interleaves_then_moves_near_repeats_behind() -> None:
    # list 0 (a coarse unit) and list 1 (a segment pass): places in each list
    boxes = np.array([[0, 0, 100, 100],    # list 0, place 0
                      [1, 0, 101, 100],    # list 0, place 1: a near repeat of the first
                      [200, 0, 240, 40],   # list 0, place 2
                      [50, 50, 60, 60],    # list 1, place 1
                      [300, 0, 310, 10],   # list 1, place 0
                      [300, 0, 311, 10]],  # list 1, place 2: a near repeat of [300, 0, ...]
                     dtype=np.float64)
    source = np.array([0, 0, 0, 1, 1, 1])
    place = np.array([0, 1, 2, 1, 0, 2])
    # interleaved: (0,0) (1,0) (0,1) (1,1) (0,2) (1,2); no move at grid 0
    assert rank_proposals(boxes, source, place, [1.0, 1.0], 0.0).tolist() == [0, 4, 1, 3, 2, 5]
    # grid 0.3: boxes 1 and 5 fall in the cells of 0 and 4 and go behind, in order
    assert rank_proposals(boxes, source, place, [1.0, 1.0], 0.3).tolist() == [0, 4, 3, 2, 1, 5]
    # list 1 at rate 2: two of its boxes per round
    assert rank_proposals(boxes, source, place, [1.0, 2.0], 0.0).tolist() == [0, 4, 3, 1, 5, 2]
