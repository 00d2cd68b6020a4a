"""R-CNN / Fast R-CNN proposal labelling, sampling and regression targets (literal values)."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.proposal_labels import (
    IGNORE,
    SamplingParams,
    decode_offsets,
    encode_offsets,
    label_proposals,
    sample_rois,
    training_rois,
)

GT = np.array([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 120.0, 140.0]])
GT_LABELS = np.array([1, 2])


def test_labels_at_the_chapter_thresholds() -> None:
    proposals = np.array([
        [0, 0, 10, 10],      # IoU 1.0 with box 0 -> class 1
        [0, 0, 10, 5],       # IoU 0.5 exactly -> foreground (>= 0.5)
        [0, 0, 10, 4.9],     # IoU 0.49 -> background
        [0, 0, 10, 1],       # IoU 0.1 exactly -> background ([0.1, 0.5))
        [0, 0, 10, 0.9],     # IoU 0.09 -> ignored
        [50, 50, 60, 60],    # IoU 0 -> ignored
        [100, 100, 120, 130],  # IoU 0.75 with box 1 -> class 2
        [100, 100, 120, 110],  # IoU 0.25 with box 1 -> background
    ], dtype=float)
    lab = label_proposals(proposals, GT, GT_LABELS)
    assert lab.labels.tolist() == [1, 1, 0, 0, IGNORE, IGNORE, 2, 0]
    assert lab.matched.tolist() == [0, 0, 0, 0, 0, 0, 1, 1]
    assert lab.best_iou == pytest.approx([1.0, 0.5, 0.49, 0.1, 0.09, 0.0, 0.75, 0.25])


def test_other_thresholds_move_the_bands() -> None:
    proposals = np.array([[0, 0, 10, 6], [0, 0, 10, 4], [0, 0, 10, 2]], dtype=float)
    lab = label_proposals(proposals, GT[:1], GT_LABELS[:1],
                          SamplingParams(fg_iou=0.6, bg_iou_lo=0.3))
    assert lab.labels.tolist() == [1, 0, IGNORE]


def test_image_without_objects_is_all_background() -> None:
    lab = label_proposals(np.array([[0, 0, 5, 5], [1, 1, 9, 9]], float), np.zeros((0, 4)),
                          np.zeros(0, int))
    assert lab.labels.tolist() == [0, 0] and lab.matched.tolist() == [-1, -1]


def test_sampler_counts() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([1] * 30 + [0] * 100 + [IGNORE] * 7)
    idx = sample_rois(labels, rng)
    assert len(idx) == 64 and len(set(idx.tolist())) == 64
    assert (labels[idx] > 0).sum() == 16 and (labels[idx] == 0).sum() == 48
    assert (labels[idx[:16]] > 0).all()  # foreground first
    few_fg = np.array([2] * 3 + [0] * 100)
    idx = sample_rois(few_fg, rng)
    assert (few_fg[idx] > 0).sum() == 3 and (few_fg[idx] == 0).sum() == 61
    few_bg = np.array([1] * 30 + [0] * 10)
    idx = sample_rois(few_bg, rng)
    assert (few_bg[idx] > 0).sum() == 16 and (few_bg[idx] == 0).sum() == 10
    many = np.array([1] * 30 + [0] * 100)
    idx = sample_rois(many, rng, SamplingParams(rois_per_image=128, fg_fraction=0.5))
    # 64 foreground allowed, 30 exist: background fills the other 98 places
    assert (many[idx] > 0).sum() == 30 and (many[idx] == 0).sum() == 98
    assert SamplingParams().max_fg == 16


def test_sampler_uses_every_ignored_free_index_once() -> None:
    labels = np.array([IGNORE, 0, 1, IGNORE, 0])
    idx = sample_rois(labels, np.random.default_rng(3))
    assert sorted(idx.tolist()) == [1, 2, 4] and idx[0] == 2


def test_regression_targets_of_a_known_pair() -> None:
    # proposal centre (5, 5) size 10x10; box centre (7, 14) size 10x20
    t = encode_offsets(np.array([[0.0, 0.0, 10.0, 10.0]]), np.array([[2.0, 4.0, 12.0, 24.0]]))
    assert t[0] == pytest.approx([2.0, 9.0, 0.0, 5 * np.log(2.0)])
    assert t[0, 3] == pytest.approx(3.4657359)
    back = decode_offsets(np.array([[0.0, 0.0, 10.0, 10.0]]), t)
    assert back[0] == pytest.approx([2.0, 4.0, 12.0, 24.0])
    with pytest.raises(ValueError, match="zero width or height"):
        encode_offsets(np.array([[0.0, 0.0, 0.0, 10.0]]), np.array([[0.0, 0.0, 5.0, 5.0]]))


def test_training_rois_add_the_ground_truth() -> None:
    rng = np.random.default_rng(0)
    # no proposal at all: each ground-truth box is its own perfect foreground RoI
    rois = training_rois(np.zeros((0, 4)), GT, GT_LABELS, rng)
    order = np.argsort(rois.labels)
    assert rois.labels[order].tolist() == [1, 2]
    assert rois.boxes[order].tolist() == GT.tolist()
    assert rois.targets.tolist() == [[0.0] * 4] * 2
    # one shifted proposal: foreground towards box 0, one background, one ignored
    props = np.array([[1.0, 0.0, 11.0, 10.0], [0.0, 0.0, 10.0, 3.0], [60, 60, 70, 70]])
    rois = training_rois(props, GT[:1], GT_LABELS[:1], rng)
    got = {tuple(b): (int(lab), tuple(np.round(t, 6))) for b, lab, t in
           zip(rois.boxes.tolist(), rois.labels, rois.targets)}
    assert got == {(1.0, 0.0, 11.0, 10.0): (1, (-1.0, 0.0, 0.0, 0.0)),
                   (0.0, 0.0, 10.0, 3.0): (0, (0.0, 0.0, 0.0, 0.0)),
                   (0.0, 0.0, 10.0, 10.0): (1, (0.0, 0.0, 0.0, 0.0))}


def test_bad_params_are_refused() -> None:
    with pytest.raises(ValueError, match="bg_iou_lo <= fg_iou"):
        SamplingParams(fg_iou=0.3, bg_iou_lo=0.5)
    with pytest.raises(ValueError, match="rois_per_image"):
        SamplingParams(rois_per_image=0)
    with pytest.raises(ValueError, match="2 ground-truth boxes but 1 labels"):
        label_proposals(np.zeros((1, 4)), GT, np.array([1]))
