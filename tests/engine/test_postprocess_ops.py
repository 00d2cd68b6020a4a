"""Threshold / NMS / top-k on synthetic raw outputs: literal cases and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.engine.postprocess import (
    PostprocessSettings,
    RawDetections,
    apply,
    postprocess,
)

# Three overlapping boxes of class 1, one far box of class 1, one box of class 2 on top of the
# first cluster. IoU(A, B) = 81/119 = 0.68, IoU(A, C) = 0.0, IoU(B, C) = 0.
A = [0, 0, 10, 10]
B = [1, 1, 11, 11]
C = [1, 0, 11, 10]   # IoU(A, C) = 90/110 = 0.818, IoU(B, C) = 81/119 = 0.68
FAR = [50, 50, 60, 60]
D = [0, 0, 10, 10]   # class 2, identical to A


def _raw(**kw: object) -> RawDetections:
    boxes = [B, FAR, A, D, C]
    scores = [0.8, 0.3, 0.9, 0.7, 0.6]
    labels = [1, 1, 1, 2, 1]
    return RawDetections.from_unsorted(boxes, scores, labels, **kw)  # type: ignore[arg-type]


def test_raw_is_sorted_and_ranked_within_class() -> None:
    raw = _raw()
    assert raw.scores.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.3])
    assert raw.labels.tolist() == [1, 1, 2, 1, 1]
    assert raw.class_rank.tolist() == [0, 1, 0, 2, 3]
    assert raw.count_above(0.7) == 2  # strict: 0.7 itself is not above 0.7
    assert raw.count_above(0.0) == 5
    assert raw.count_above(0.95) == 0


def test_per_class_nms_threshold_and_top_k() -> None:
    raw = _raw()
    result = postprocess(raw, PostprocessSettings(score_threshold=0.05, nms_iou=0.5, top_k=100))
    # class 1: A kept, B (0.68) and C (0.82) suppressed by A, FAR kept; class 2: D kept.
    assert raw.scores[result.kept].tolist() == pytest.approx([0.9, 0.7, 0.3])
    assert result.n_candidates == 5
    det = apply(raw, PostprocessSettings(0.05, 0.5, 2), ["cat", "dog"], "img1")
    assert det.image_id == "img1"
    assert det.labels.tolist() == ["cat", "dog"]
    assert det.boxes.tolist() == [[0, 0, 10, 10], [0, 0, 10, 10]]
    # IoU threshold above 0.68 keeps B but still removes C (0.82 with A).
    result = postprocess(raw, PostprocessSettings(0.05, 0.7, 100))
    assert raw.scores[result.kept].tolist() == pytest.approx([0.9, 0.8, 0.7, 0.3])
    # NMS off.
    assert len(postprocess(raw, PostprocessSettings(0.05, 1.0, 100)).kept) == 5
    # Threshold 0.65 leaves A, B, D; NMS drops B.
    result = postprocess(raw, PostprocessSettings(0.65, 0.5, 100))
    assert raw.scores[result.kept].tolist() == pytest.approx([0.9, 0.7])
    assert result.n_candidates == 3


def test_class_agnostic_suppresses_across_classes() -> None:
    raw = _raw()
    result = postprocess(raw, PostprocessSettings(0.05, 0.5, 100, class_agnostic=True))
    assert raw.scores[result.kept].tolist() == pytest.approx([0.9, 0.3])


def test_top_k_drops_lowest_survivors() -> None:
    raw = _raw()
    result = postprocess(raw, PostprocessSettings(0.05, 0.5, top_k=1))
    assert raw.scores[result.kept].tolist() == pytest.approx([0.9])
    assert raw.scores[result.dropped_by_top_k].tolist() == pytest.approx([0.7, 0.3])


def test_suppressors_name_the_kept_box_that_removed_each_box() -> None:
    raw = _raw()
    result = postprocess(raw, PostprocessSettings(0.05, 0.5, 100), with_suppressed=True)
    # raw order: 0=A(.9) 1=B(.8) 2=D(.7) 3=C(.6) 4=FAR(.3)
    assert result.suppressed.tolist() == [1, 3]
    assert result.suppressors.tolist() == [0, 0]
    agnostic = postprocess(raw, PostprocessSettings(0.05, 0.5, 100, class_agnostic=True),
                           with_suppressed=True)
    assert agnostic.suppressed.tolist() == [1, 2, 3]
    assert agnostic.suppressors.tolist() == [0, 0, 0]
    assert postprocess(raw, PostprocessSettings(0.05, 0.5, 100)).suppressed.tolist() == []


def test_suppressor_is_first_kept_box_in_score_order() -> None:
    # K1 (0.9) and K2 (0.8) do not overlap each other; R (0.5) overlaps both > 0.3.
    boxes = [[0, 0, 10, 10], [8, 0, 18, 10], [4, 0, 14, 10]]
    raw = RawDetections.from_unsorted(boxes, [0.9, 0.8, 0.5], [1, 1, 1])
    result = postprocess(raw, PostprocessSettings(0.0, 0.3, 10), with_suppressed=True)
    assert result.kept.tolist() == [0, 1]
    assert result.suppressed.tolist() == [2]
    assert result.suppressors.tolist() == [0]


def test_candidates_per_class_cap_applies_before_nms() -> None:
    raw = _raw(candidates_per_class=2)
    result = postprocess(raw, PostprocessSettings(0.05, 1.0, 100))
    # class 1 keeps its 2 best (A, B), class 2 its only box.
    assert raw.scores[result.kept].tolist() == pytest.approx([0.9, 0.8, 0.7])


def test_empty_inputs() -> None:
    raw = RawDetections.from_unsorted(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
    result = postprocess(raw, PostprocessSettings(), with_suppressed=True)
    assert result.kept.shape == (0,) and result.n_candidates == 0
    assert len(apply(raw, PostprocessSettings(), ["a"], "x")) == 0
    assert len(postprocess(_raw(), PostprocessSettings(score_threshold=0.95)).kept) == 0


def _reference(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, s: PostprocessSettings,
               cap: int | None) -> list[int]:
    """Greedy NMS written out plainly, over the original (unsorted) indices."""
    from workbench.core.boxes import iou_matrix

    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > s.score_threshold]
    if cap is not None:
        seen: dict[int, int] = {}
        capped = []
        for i in order:
            seen[labels[i]] = seen.get(labels[i], 0) + 1
            if seen[labels[i]] <= cap:
                capped.append(i)
        order = capped
    ious = iou_matrix(boxes, boxes)
    kept: list[int] = []
    for i in order:
        if all(ious[i, j] <= s.nms_iou or (labels[i] != labels[j] and not s.class_agnostic)
               for j in kept):
            kept.append(i)
    return kept[: s.top_k]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("agnostic", [False, True])
def test_matches_plain_greedy_nms_on_random_boxes(seed: int, agnostic: bool) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    xy = rng.uniform(0, 80, (n, 2))
    wh = rng.uniform(5, 30, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.permutation(n).astype(np.float32) / n + 1e-3  # distinct
    labels = rng.integers(1, 4, n)
    for cap in (None, 20):
        raw = RawDetections.from_unsorted(boxes, scores, labels, candidates_per_class=cap)
        for s in (PostprocessSettings(0.2, 0.45, 50, agnostic),
                  PostprocessSettings(0.6, 0.3, 7, agnostic)):
            got = postprocess(raw, s)
            expected = _reference(boxes.astype(np.float64), scores, labels, s, cap)
            got_scores = raw.scores[got.kept].numpy()
            np.testing.assert_array_equal(got_scores, scores[expected])


def test_suppressors_on_random_boxes_are_overlapping_earlier_kept_boxes() -> None:
    from workbench.core.boxes import iou_matrix

    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 50, (200, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 30, (200, 2))], 1)
    scores = rng.permutation(200) / 200 + 0.001
    labels = rng.integers(1, 3, 200)
    raw = RawDetections.from_unsorted(boxes, scores, labels)
    s = PostprocessSettings(0.1, 0.5, 1000)
    res = postprocess(raw, s, with_suppressed=True)
    kept = set(res.kept.tolist())
    assert len(res.suppressed) == res.n_candidates - len(kept)
    b = raw.boxes.numpy().astype(np.float64)
    ious = iou_matrix(b, b)
    for r, k in zip(res.suppressed.tolist(), res.suppressors.tolist()):
        assert k in kept and k < r and raw.labels[k] == raw.labels[r]
        assert ious[r, k] > 0.5
        # no better-scoring kept box of the class overlaps it more than the threshold
        assert not any(ious[r, j] > 0.5 and raw.labels[j] == raw.labels[r]
                       for j in kept if j < k)


def test_settings_round_trip_and_validation() -> None:
    s = PostprocessSettings(0.25, 0.6, 17, True)
    assert s.to_dict() == {"score_threshold": 0.25, "nms_iou": 0.6, "top_k": 17,
                           "class_agnostic": True}
    assert PostprocessSettings.from_dict(s.to_dict()) == s
    assert PostprocessSettings.from_dict(None) == PostprocessSettings()
    assert PostprocessSettings.from_dict({"top_k": 5}).top_k == 5
    assert s.replace(top_k=3).top_k == 3
    with pytest.raises(ValueError, match="score_threshold"):
        PostprocessSettings(score_threshold=1.5)
    with pytest.raises(ValueError, match="nms_iou"):
        PostprocessSettings(nms_iou=-0.1)
    with pytest.raises(ValueError, match="top_k"):
        PostprocessSettings(top_k=0)
    with pytest.raises(ValueError, match="unknown"):
        PostprocessSettings.from_dict({"threshold": 0.3})


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="2 boxes, 1 scores"):
        RawDetections.from_unsorted(torch.zeros(2, 4), torch.zeros(1), torch.zeros(2))


def test_only_boxes_removed_by_shown_boxes_are_listed_as_suppressed() -> None:
    # K1 (0.9) and K2 (0.8) apart; R (0.5) overlaps K2 only. With top-k 1 only K1 is shown:
    # R was removed by K2, which is not shown, so R is not listed.
    boxes = [[0, 0, 10, 10], [50, 0, 60, 10], [51, 0, 61, 10]]
    raw = RawDetections.from_unsorted(boxes, [0.9, 0.8, 0.5], [1, 1, 1])
    one = postprocess(raw, PostprocessSettings(0.0, 0.5, 1), with_suppressed=True)
    assert one.kept.tolist() == [0] and one.dropped_by_top_k.tolist() == [1]
    assert one.suppressed.tolist() == []
    two = postprocess(raw, PostprocessSettings(0.0, 0.5, 2), with_suppressed=True)
    assert two.suppressed.tolist() == [2] and two.suppressors.tolist() == [1]


def test_nms_examines_only_a_prefix_when_top_k_is_small() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    xy = rng.uniform(0, 1000, (n, 2))
    boxes = np.concatenate([xy, xy + 20], 1)  # mostly disjoint: nearly all survive NMS
    scores = rng.permutation(n) / n + 1e-4
    raw = RawDetections.from_unsorted(boxes, scores, np.ones(n, dtype=np.int64))
    small = postprocess(raw, PostprocessSettings(0.0, 0.5, 10), with_suppressed=True)
    assert small.n_candidates == n and small.n_examined == 256
    full = postprocess(raw, PostprocessSettings(0.0, 0.5, n))
    assert full.n_examined == n
    np.testing.assert_array_equal(small.kept, full.kept[:10])


def _suppressed_reference(raw: RawDetections, kept: np.ndarray, thr: float,
                          agnostic: bool) -> list[tuple[int, int]]:
    """(row, first kept box of its group, in score order, with IoU > thr) for every candidate
    above nothing-but-the-cap that is not kept: the definition, pair by pair."""
    from torchvision.ops import box_iou

    boxes, labels = raw.boxes, raw.labels.tolist()
    kept_sorted = sorted(kept.tolist())
    is_kept = set(kept_sorted)
    out = []
    for row in range(len(raw)):
        if row in is_kept:
            continue
        for k in kept_sorted:
            if k > row:
                break
            if (agnostic or labels[k] == labels[row]) and \
                    float(box_iou(boxes[row:row + 1], boxes[k:k + 1])) > thr:
                out.append((row, k))
                break
    return out


@pytest.mark.parametrize("agnostic", [False, True])
def test_suppressors_equal_the_definition_on_many_boxes(agnostic: bool) -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 120, size=(600, 2))
    wh = rng.uniform(10, 60, size=(600, 2))
    raw = RawDetections.from_unsorted(np.concatenate([xy, xy + wh], 1).tolist(),
                                      rng.uniform(0.01, 1, 600).tolist(),
                                      rng.integers(1, 6, 600).tolist())
    settings = PostprocessSettings(0.0, 0.3, 60, class_agnostic=agnostic)
    full = postprocess(raw, settings, with_suppressed=True, max_suppressed=10_000)
    expected = _suppressed_reference(raw, full.kept, 0.3, agnostic)
    assert len(expected) > 100
    assert list(zip(full.suppressed.tolist(), full.suppressors.tolist())) == expected
    capped = postprocess(raw, settings, with_suppressed=True, max_suppressed=25)
    assert list(zip(capped.suppressed.tolist(), capped.suppressors.tolist())) == expected[:25]


def test_iou_equal_to_the_threshold_is_kept() -> None:
    # torchvision's NMS suppresses only IoU *strictly greater* than the threshold.
    raw = RawDetections.from_unsorted([[0, 0, 10, 10], [0, 0, 10, 20]], [0.9, 0.8], [1, 1])
    assert len(postprocess(raw, PostprocessSettings(0.05, 0.5, 100)).kept) == 2  # IoU 0.5
    assert len(postprocess(raw, PostprocessSettings(0.05, 0.49, 100)).kept) == 1


@pytest.fixture(scope="module")
def one_class_dominates() -> tuple[RawDetections, PostprocessSettings, torch.Tensor, list]:
    """An untrained SSD's kind of output: one class holds most kept boxes; with the
    definition's answer (computed once: it takes seconds)."""
    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 200, size=(900, 2))
    wh = rng.uniform(10, 80, size=(900, 2))
    labels = np.where(rng.random(900) < 0.7, 1, rng.integers(2, 8, 900))
    raw = RawDetections.from_unsorted(np.concatenate([xy, xy + wh], 1).tolist(),
                                      rng.uniform(0.01, 1, 900).tolist(), labels.tolist())
    settings = PostprocessSettings(0.0, 0.4, 120)
    kept = torch.from_numpy(postprocess(raw, settings).kept)
    return raw, settings, kept, _suppressed_reference(raw, kept.numpy(), 0.4, False)


@pytest.mark.parametrize(("first_rows", "pairs_per_chunk"), [(16, 64), (100, 1000), (1024, 262_144)])
def test_suppressor_search_in_rounds_and_chunks_equals_the_definition(
        one_class_dominates: tuple, first_rows: int, pairs_per_chunk: int) -> None:
    # Rounds of candidates in score order and chunks inside each class's IoU table must not
    # change the answer.
    from workbench.engine import postprocess as pp

    raw, settings, kept, expected = one_class_dominates
    assert len(expected) == 261
    candidates = torch.arange(len(raw))
    for cap in (10_000, 37):
        rows, by = pp._find_suppressors(raw, candidates, kept, settings, cap,
                                        first_rows=first_rows, pairs_per_chunk=pairs_per_chunk)
        assert list(zip(rows.tolist(), by.tolist())) == expected[:cap]
