"""NmsCache: the whole-set vectorised NMS equals the engine's per-image post-processing."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.detections import ImageDetections
from workbench.core.error_nms import NmsCache

CLASSES = ["a", "b", "c"]


def raw_images(seed: int, images: int = 12, per_image: int = 150) -> list[ImageDetections]:
    """Clusters of jittered boxes around a few centres (as a detector's raw output), several
    classes per cluster, distinct scores; one image without candidates."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(images):
        n = 0 if i == 3 else per_image
        centres = rng.uniform(20, 180, (4, 2))
        c = centres[rng.integers(0, 4, n)]
        wh = rng.uniform(10, 60, (n, 2))
        xy = c + rng.normal(0, 8, (n, 2)) - wh / 2
        boxes = np.c_[xy, xy + wh].astype(np.float32).astype(np.float64)
        scores = rng.permutation(np.linspace(0.02, 0.99, n)) if n else np.zeros(0)
        labels = np.array(CLASSES, dtype=str)[rng.integers(0, 3, n)]
        out.append(ImageDetections(f"im{i}", boxes, scores, labels))
    return out


def reference(raw: list[ImageDetections], nms_iou: float, top_k: int, agnostic: bool,
              cap: int | None) -> dict[str, list[tuple[float, str]]]:
    """The engine's post-processing (threshold 0, per-class cap, batched_nms, top-k)."""
    pytest.importorskip("torchvision")
    from workbench.engine.postprocess import PostprocessSettings, RawDetections, postprocess

    settings = PostprocessSettings(score_threshold=0.0, nms_iou=nms_iou, top_k=top_k,
                                   class_agnostic=agnostic)
    out = {}
    for det in raw:
        codes = np.array([CLASSES.index(x) + 1 for x in det.labels.tolist()], dtype=np.int64)
        r = RawDetections.from_unsorted(det.boxes, det.scores, codes, candidates_per_class=cap)
        kept = postprocess(r, settings).kept
        out[det.image_id] = [(round(float(r.scores[k]), 5), CLASSES[int(r.labels[k]) - 1])
                             for k in kept.tolist()]
    return out


@pytest.mark.parametrize(("nms_iou", "top_k", "agnostic", "cap"), [
    (0.45, 100, False, None), (0.3, 20, False, None), (0.7, 1000, True, None),
    (0.5, 30, False, 25), (1.0, 50, False, None), (0.0, 100, False, None)])
def test_matches_the_engine_postprocess(nms_iou: float, top_k: int, agnostic: bool,
                                        cap: int | None) -> None:
    raw = raw_images(0)
    cache = NmsCache(raw, class_agnostic=agnostic, candidates_per_class=cap)
    runs = cache.detections(nms_iou, top_k)
    got = {i: [] for i in (d.image_id for d in raw)}
    for det in runs:
        got[det.image_id] = [(round(float(s), 5), str(lab))
                             for s, lab in zip(det.scores, det.labels)]
    assert got == reference(raw, nms_iou, top_k, agnostic, cap)


def test_one_cache_answers_every_threshold() -> None:
    raw = raw_images(1)
    cache = NmsCache(raw)
    assert cache.num_pairs > 0 and len(cache) == 11 * 150
    counts = [int(cache.keep(t).sum()) for t in (0.0, 0.3, 0.5, 0.8, 1.0)]
    assert counts[-1] == len(cache)  # 1.0 suppresses nothing
    assert counts == sorted(counts) and counts[0] < counts[2]
    assert len(cache.selected(0.5, top_k=5)) == 11 * 5
    empty = NmsCache([])
    assert len(empty.detections(0.5, 10)) == 0
