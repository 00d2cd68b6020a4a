"""postprocess re-uses the last NMS of a raw output when only the score threshold or top-k moved
(engine.postprocess._nms_of_prefix): the outcome is exactly that of a fresh computation, for a
sequence of slider moves in any order, per-class and class-agnostic, with a per-class cap."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.engine import postprocess as pp


def _raw(cap: int | None) -> pp.RawDetections:
    rng = np.random.default_rng(7)
    n = 3000
    xy = rng.uniform(0, 500, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 120, (n, 2))], 1)
    scores = rng.uniform(0.001, 1.0, n)
    labels = rng.integers(1, 6, n)
    return pp.RawDetections.from_unsorted(boxes, scores, labels, score_floor=0.001,
                                          candidates_per_class=cap)


def _fresh(raw: pp.RawDetections) -> pp.RawDetections:
    """The same raw output as a new object (nothing cached for it)."""
    return pp.RawDetections.from_unsorted(raw.boxes, raw.scores, raw.labels,
                                          score_floor=raw.score_floor,
                                          candidates_per_class=raw.candidates_per_class)


@pytest.mark.parametrize(("cap", "agnostic"), [(None, False), (None, True), (200, False)])
def test_cached_nms_gives_the_fresh_outcome(cap: int | None, agnostic: bool) -> None:
    raw = _raw(cap)
    moves = [(0.001, 0.3, 500), (0.002, 0.3, 500), (0.5, 0.3, 500), (0.001, 0.3, 50),
             (0.001, 0.3, 900), (0.3, 0.5, 100), (0.001, 0.5, 10), (0.9, 0.5, 100),
             (0.001, 0.3, 500)]
    computed = 0
    for score, iou, top_k in moves:
        settings = pp.PostprocessSettings(score, iou, top_k, agnostic)
        got = pp.postprocess(raw, settings, with_suppressed=True, max_suppressed=200)
        want = pp.postprocess(_fresh(raw), settings, with_suppressed=True, max_suppressed=200)
        for name in ("kept", "suppressed", "suppressors", "dropped_by_top_k"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), (name, score, iou)
        assert (got.n_candidates, got.n_examined) == (want.n_candidates, want.n_examined)
        computed += len(got.kept) > 0
    assert computed >= 6
    # one cache entry per NMS setting used
    assert set(pp._NMS_CACHE[raw]) == {(0.3, agnostic), (0.5, agnostic)}
