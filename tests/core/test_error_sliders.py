"""SliderSweep: the operating point for any (score, NMS IoU) equals post-processing and then a
fresh error analysis."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from workbench.core.annotation import Annotation, VocObject
from workbench.core.detections import ImageDetections
from workbench.core.error_analysis import ErrorIndex
from workbench.core.error_nms import NmsCache
from workbench.core.error_sliders import SliderSweep, slider_score


def _raw_images():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(
        "error_nms_tests", Path(__file__).with_name("test_error_nms.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.raw_images


def ground_truth(raw: list[ImageDetections], seed: int) -> dict[str, Annotation]:
    """A few objects per image near the raw clusters (some difficult), plus one image with
    objects and no candidates at all."""
    rng = np.random.default_rng(seed)
    gt = {}
    for det in raw:
        pick = rng.choice(len(det), size=min(len(det), 4), replace=False) if len(det) else []
        gt[det.image_id] = Annotation(filename=det.image_id, objects=tuple(
            VocObject(str(det.labels[i]), tuple((det.boxes[i] + rng.normal(0, 2, 4)).tolist()),
                      difficult=bool(rng.random() < 0.2)) for i in pick))
    gt["extra"] = Annotation(filename="extra", objects=(VocObject("a", (0, 0, 30, 30)),))
    return gt


@pytest.mark.parametrize(("agnostic", "cap", "top_k"), [(False, None, 100), (True, None, 10),
                                                        (False, 20, 30)])
def test_equals_postprocess_then_analysis(agnostic: bool, cap: int | None,
                                          top_k: int) -> None:
    raw = _raw_images()(2)
    gt = ground_truth(raw, 3)
    sweep = SliderSweep(gt, raw, class_agnostic=agnostic, candidates_per_class=cap,
                        top_k=top_k)
    cache = NmsCache(raw, class_agnostic=agnostic, candidates_per_class=cap)
    for nms in (0.3, 0.5, 0.7, 1.0):
        ref = ErrorIndex(gt, cache.detections(nms, top_k), sweep.classes)
        got = sweep.index(nms)
        for score in (0.0, 0.2, 0.5, 0.9):
            assert got.operating_point(score) == ref.operating_point(score)
            assert got.confusion(score).matrix.tolist() == ref.confusion(score).matrix.tolist()
            a, b = got.per_image_counts(score), ref.per_image_counts(score)
            assert all(a[k].tolist() == b[k].tolist() for k in a)
            assert sweep.at(score, nms) == ref.sweep.at(slider_score(score))
        assert got.operating_point(None) == ref.operating_point(None)
        assert got.marks("im0", 0.3) == ref.marks("im0", 0.3)
    assert sweep.is_cached(0.5) and not sweep.is_cached(0.55)
    assert list(sweep.precompute([0.55, 0.6], stop=lambda: sweep.is_cached(0.55))) == [0.55]


def test_slider_score_is_strict_and_bad_input_is_named() -> None:
    gt = {"a": Annotation(filename="a", objects=(VocObject("a", (0, 0, 10, 10)),))}
    raw = [ImageDetections("a", [[0, 0, 10, 10]], [0.5], ["a"])]
    sweep = SliderSweep(gt, raw)
    assert sweep.at(0.5, 0.5).tp == 0  # the slider keeps score > 0.5
    assert sweep.at(0.49, 0.5).tp == 1
    with pytest.raises(ValueError, match="'zz'"):
        SliderSweep(gt, [*raw, ImageDetections("zz", [[0, 0, 5, 5]], [0.5], ["a"])])
    # a class outside the list suppresses in NMS but is not evaluated
    both = [ImageDetections("a", [[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.5], ["x", "a"])]
    only_a = SliderSweep(gt, both, classes=["a"], class_agnostic=True)
    assert only_a.at(0.0, 0.5).tp == 0 and only_a.at(0.0, 1.0).tp == 1
