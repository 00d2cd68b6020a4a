"""core.tracking: OpenCV trackers and detector + IoU association on frames the test draws."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from workbench.core.boxes import iou
from workbench.core.tracking import (
    DEFAULT_TRACKER, FrameDetections, TrackedBox, appearance_confidence, associate,
    follow_detections, make_tracker, track_boxes, visible_fraction,
)

_spec = importlib.util.spec_from_file_location(
    "video_helpers", Path(__file__).resolve().parents[1] / "video_helpers.py")
vh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vh)

K = 12


def test_a_moving_box_is_kept_for_k_frames() -> None:
    tracker = DEFAULT_TRACKER
    first = vh.shapes_frame(0)
    boxes = [vh.true_box(0, 0), vh.true_box(1, 0)]
    steps = list(track_boxes(first, boxes, (vh.shapes_frame(i) for i in range(1, K + 1)),
                             tracker=tracker))
    assert len(steps) == K
    for i, step in enumerate(steps, start=1):
        assert len(step) == 2
        for k in (0, 1):
            got = step[k]
            assert isinstance(got, TrackedBox), (tracker, i, k)
            assert iou(got.box, vh.true_box(k, i)) >= 0.5, (tracker, i, k, got.box)
            assert 0.6 <= got.confidence <= 1.0


def test_a_box_that_leaves_the_frame_stops_there() -> None:
    # the red square (6 px/frame from x=20, 24 px wide, image 160 wide) is less than half
    # inside from frame 22 (x1 = 152): it must have stopped by then, and stays stopped
    first = vh.shapes_frame(0)
    steps = list(track_boxes(first, [vh.true_box(0, 0), vh.true_box(1, 0)],
                             (vh.shapes_frame(i) for i in range(1, 30))))
    red = [s[0] for s in steps]
    lost = next(i for i, b in enumerate(red, start=1) if b is None)
    assert 15 <= lost <= 22
    assert all(b is None for b in red[lost - 1:])
    for i, b in enumerate(red[:lost - 1], start=1):
        assert iou(b.box, vh.true_box(0, i)) >= 0.5
    assert all(s[1] is not None for s in steps)  # the blue one stays inside: still tracked
    assert len(steps) == 29


def test_every_box_lost_ends_the_iteration_and_cancel_stops() -> None:
    first = vh.shapes_frame(0)
    steps = list(track_boxes(first, [vh.true_box(0, 0)],
                             (vh.shapes_frame(i) for i in range(1, 40))))
    assert len(steps) < 39 and steps[-1] == [None]
    calls = []
    out = list(track_boxes(first, [vh.true_box(1, 0)],
                           (vh.shapes_frame(i) for i in range(1, 10)),
                           should_cancel=lambda: calls.append(1) or len(calls) > 3))
    assert len(out) == 3


@pytest.mark.parametrize("tracker", ["kcf", "mil"])
def test_the_other_trackers_follow_the_slow_box(tracker: str) -> None:
    # KCF and MIL lag a 6 px/frame box (their appearance confidence drops): the blue one
    # (2 px/frame) with no confidence floor stays within IoU 0.5
    steps = list(track_boxes(vh.shapes_frame(0), [vh.true_box(1, 0)],
                             (vh.shapes_frame(i) for i in range(1, 6)), tracker=tracker,
                             min_confidence=0.0))
    assert [iou(s[0].box, vh.true_box(1, i)) >= 0.5 for i, s in enumerate(steps, 1)] == [True] * 5


def test_a_box_outside_the_first_frame_is_never_tracked() -> None:
    steps = list(track_boxes(vh.shapes_frame(0), [(150.0, 10.0, 190.0, 40.0)],
                             [vh.shapes_frame(1)]))
    assert steps == []  # nothing live: no frames yielded


def test_unknown_tracker_is_named() -> None:
    with pytest.raises(ValueError, match="'boosting'.*csrt, kcf, mil"):
        make_tracker("boosting")
    with pytest.raises(ValueError, match="min_confidence"):
        next(track_boxes(vh.shapes_frame(0), [vh.true_box(0, 0)], [], min_confidence=2))


def test_appearance_confidence_and_visible_fraction() -> None:
    a = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    assert appearance_confidence(a, a) == pytest.approx(1.0)
    assert appearance_confidence(a, -a) == pytest.approx(0.0, abs=1e-6)
    assert appearance_confidence(a, None) == 0.0
    assert visible_fraction((90, 0, 110, 10), 100, 50) == pytest.approx(0.5)
    assert visible_fraction((0, 0, 10, 10), 100, 50) == 1.0
    assert visible_fraction((5, 5, 5, 9), 100, 50) == 0.0


def test_associate_is_greedy_by_iou() -> None:
    boxes = [(0, 0, 10, 10), None, (20, 0, 30, 10)]
    dets = np.array([[21, 0, 31, 10], [1, 0, 11, 10], [0, 0, 10, 9], [50, 50, 60, 60]])
    # box 0: det 2 (IoU .9) beats det 1 (.818); box 2: det 0 (.818)
    assert associate(boxes, dets, 0.5) == [2, None, 0]
    assert associate(boxes, dets, 0.95) == [None, None, None]
    allowed = np.array([[True, True, False, True]] * 3)
    assert associate(boxes, dets, 0.5, allowed) == [1, None, 0]
    # one detection for two boxes: the higher IoU takes it, the other gets nothing
    assert associate([(0, 0, 10, 10), (2, 0, 12, 10)], np.array([[2, 0, 12, 10]])) == [None, 0]
    assert associate([(0, 0, 10, 10)], np.zeros((0, 4))) == [None]


def test_follow_detections_moves_to_the_match_and_stops_without_one() -> None:
    frames = [
        FrameDetections(np.array([[2, 0, 12, 10], [40, 40, 50, 50]]), np.array([0.9, 0.8]),
                        ["cat", "dog"]),
        FrameDetections(np.array([[4, 0, 14, 10], [41, 40, 51, 50]]), np.array([0.7, 0.6]),
                        ["dog", "dog"]),  # the cat box's only overlap is a dog: it stops
        FrameDetections(np.array([[42, 40, 52, 50]]), np.array([0.5]), ["dog"]),
    ]
    out = list(follow_detections([(0, 0, 10, 10), (40, 40, 50, 50)], frames,
                                 labels=["cat", "dog"]))
    assert out == [
        [TrackedBox((2.0, 0.0, 12.0, 10.0), 0.9), TrackedBox((40.0, 40.0, 50.0, 50.0), 0.8)],
        [None, TrackedBox((41.0, 40.0, 51.0, 50.0), 0.6)],
        [None, TrackedBox((42.0, 40.0, 52.0, 50.0), 0.5)],
    ]
    anyclass = list(follow_detections([(0, 0, 10, 10)], frames[:2], same_class=False))
    assert anyclass[1] == [TrackedBox((4.0, 0.0, 14.0, 10.0), 0.7)]
