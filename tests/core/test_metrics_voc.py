"""VOC AP: hand-computed literal cases, and a loop transcription of the devkit on random data."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.annotation import Annotation, VocObject
from workbench.core.detections import ImageDetections
from workbench.core.metrics import evaluate_voc, match_image, voc_ap


def ann(*objects: VocObject) -> Annotation:
    return Annotation(filename="x.jpg", objects=tuple(objects))


def obj(name: str, box, difficult: bool = False) -> VocObject:
    return VocObject(name, tuple(float(v) for v in box), difficult=difficult)


def dets(image_id: str, *rows) -> ImageDetections:
    """rows: (label, score, box)."""
    if not rows:
        return ImageDetections(image_id)
    return ImageDetections(image_id, np.array([r[2] for r in rows], float),
                           np.array([r[1] for r in rows]), np.array([r[0] for r in rows]))


A, B, C = (0, 0, 10, 10), (20, 20, 30, 30), (50, 50, 60, 60)


def basic_case():
    gt = {"a": ann(obj("cat", A), obj("cat", B)), "b": ann(obj("cat", A))}
    det = [dets("a", ("cat", 0.9, A), ("cat", 0.8, A), ("cat", 0.5, B)),
           dets("b", ("cat", 0.7, C), ("cat", 0.6, A))]
    return gt, det


def test_basic_case_both_variants_differ():
    # ranked: TP, FP (duplicate), FP, TP, TP; npos 3
    # recall 1/3 1/3 1/3 2/3 1, precision 1 .5 1/3 .5 .6
    gt, det = basic_case()
    r07 = evaluate_voc(gt, det, use_07_metric=True)
    r12 = evaluate_voc(gt, det, use_07_metric=False)
    assert r07.per_class["cat"] == pytest.approx((4 * 1.0 + 7 * 0.6) / 11)  # 0.74545…
    assert r12.per_class["cat"] == pytest.approx(1 / 3 + 0.6 / 3 + 0.6 / 3)  # 0.73333…
    assert r07.map == r07.per_class["cat"]
    curve = r07.curves["cat"]
    assert curve.tp.tolist() == [True, False, False, True, True]
    assert curve.fp.tolist() == [False, True, True, False, False]
    np.testing.assert_allclose(curve.recall, [1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(curve.precision, [1, 0.5, 1 / 3, 0.5, 0.6])
    np.testing.assert_allclose(curve.scores, [0.9, 0.8, 0.7, 0.6, 0.5])
    assert r07.num_positives == {"cat": 3}
    assert r07.description == "VOC2007 11-point AP@IoU0.5"
    assert r12.description == "VOC2010+ all-point AP@IoU0.5"


def test_difficult_detections_are_ignored_not_false_positives():
    # detection on the difficult object (and a duplicate on it) is ignored; npos = 1
    gt = {"a": ann(obj("cat", A, difficult=True), obj("cat", B))}
    det = [dets("a", ("cat", 0.9, A), ("cat", 0.85, A), ("cat", 0.8, C), ("cat", 0.7, B))]
    r = evaluate_voc(gt, det)
    # ranked: ignored, ignored, FP, TP → precision 0 0 0 .5, recall 0 0 0 1
    assert r.per_class["cat"] == pytest.approx(0.5)
    assert evaluate_voc(gt, det, use_07_metric=False).per_class["cat"] == pytest.approx(0.5)
    assert r.curves["cat"].ignored.tolist() == [True, True, False, False]
    assert r.num_positives == {"cat": 1}
    # the same objects without the flag: npos 2, TP FP FP TP
    plain = {"a": ann(obj("cat", A), obj("cat", B))}
    assert evaluate_voc(plain, det).per_class["cat"] == pytest.approx((6 * 1 + 5 * 0.5) / 11)


def test_class_without_detections_counts_zero_and_only_difficult_class_is_excluded():
    gt = {"a": ann(obj("cat", A), obj("dog", B), obj("bird", C, difficult=True))}
    det = [dets("a", ("cat", 0.9, A), ("bird", 0.8, C))]
    r = evaluate_voc(gt, det)
    assert r.per_class == {"cat": 1.0, "dog": 0.0}
    assert r.map == pytest.approx(0.5)
    assert r.num_positives == {"bird": 0, "cat": 1, "dog": 1}
    assert r.curves["bird"].ignored.tolist() == [True]
    assert r.curves["dog"].scores.shape == (0,)


def test_images_without_objects_make_false_positives():
    gt = {"a": ann(obj("cat", A)), "empty": ann()}
    det = [dets("empty", ("cat", 0.95, A)), dets("a", ("cat", 0.9, A))]
    # FP then TP: precision 0, .5; recall 0, 1
    assert evaluate_voc(gt, det).per_class["cat"] == pytest.approx(0.5)
    assert evaluate_voc(gt, det, use_07_metric=False).per_class["cat"] == pytest.approx(0.5)


def test_score_ties_keep_the_given_order():
    gt = {"a": ann(obj("cat", A)), "b": ann(obj("cat", A)), "c": ann()}
    first = dets("a", ("cat", 0.9, A))
    fp = dets("c", ("cat", 0.5, A))
    tp = dets("b", ("cat", 0.5, A))
    # FP before the tied TP: recall .5 .5 1, precision 1 .5 2/3
    r1 = evaluate_voc(gt, [first, fp, tp], use_07_metric=False)
    assert r1.per_class["cat"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert evaluate_voc(gt, [first, fp, tp]).per_class["cat"] == pytest.approx(
        (6 + 5 * 2 / 3) / 11)
    # TP before the tied FP: recall .5 1 1, precision 1 1 2/3
    assert evaluate_voc(gt, [first, tp, fp], use_07_metric=False).per_class["cat"] == 1.0


def test_strict_threshold_as_py_faster_rcnn():
    gt = {"a": ann(obj("cat", A))}
    det = [dets("a", ("cat", 0.9, (0, 0, 10, 5)))]  # IoU exactly 50/100
    assert evaluate_voc(gt, det).per_class["cat"] == 1.0
    assert evaluate_voc(gt, det, strict=True).per_class["cat"] == 0.0
    assert evaluate_voc(gt, det, iou_threshold=0.6).per_class["cat"] == 0.0


def test_devkit_plus_one_iou_on_voc_integers():
    # VOC (1,1,10,10) vs (1,1,10,5): devkit inter 10*5 = 50, union 100 + 50 - 50 → 0.5
    gt = {"a": ann(obj("cat", (0, 0, 10, 10)))}  # edges of VOC (1,1,10,10)
    det = [dets("a", ("cat", 0.9, (0, 0, 10, 5)))]  # edges of VOC (1,1,10,5)
    m = match_image(gt["a"], det[0])
    assert m.iou.tolist() == [0.5]


def test_eleven_point_recall_of_exactly_three_tenths_reaches_the_point():
    boxes = [(20 * i, 0, 20 * i + 10, 10) for i in range(10)]
    gt = {"a": ann(*(obj("cat", b) for b in boxes))}
    det = [dets("a", *(("cat", 0.9 - 0.1 * i, boxes[i]) for i in range(3)))]
    assert evaluate_voc(gt, det).per_class["cat"] == pytest.approx(4 / 11)
    assert evaluate_voc(gt, det, use_07_metric=False).per_class["cat"] == pytest.approx(0.3)


def test_unknown_image_and_class_filter():
    gt = {"a": ann(obj("cat", A), obj("dog", B))}
    with pytest.raises(ValueError, match="'zzz'"):
        evaluate_voc(gt, [dets("zzz", ("cat", 0.9, A))])
    r = evaluate_voc(gt, [dets("a", ("cat", 0.9, A), ("dog", 0.9, B))], classes=["dog"])
    assert r.per_class == {"dog": 1.0}
    assert np.isnan(evaluate_voc({"a": ann()}, []).map)
    nan_score = ImageDetections("a", [[0, 0, 1, 1], [0, 0, 2, 2]], [0.5, np.nan], ["cat", "cat"])
    with pytest.raises(ValueError, match="a: NaN detection score"):
        evaluate_voc(gt, [dets("a", ("cat", 0.9, A)), nan_score])


def test_voc_ap_direct():
    assert voc_ap(np.array([]), np.array([]), use_07_metric=True) == 0.0
    assert voc_ap(np.array([]), np.array([]), use_07_metric=False) == 0.0
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5]), use_07_metric=False) == 0.75


def test_match_image_tp_fp_ignored_fn():
    a = ann(obj("cat", A), obj("cat", B, difficult=True), obj("dog", C))
    d = dets("x", ("cat", 0.9, A), ("cat", 0.8, A), ("cat", 0.7, B), ("dog", 0.6, A),
             ("dog", 0.05, C))
    m = match_image(a, d, score_threshold=0.1)
    assert m.kept.tolist() == [True, True, True, True, False]
    assert m.tp.tolist() == [True, False, False, False, False]
    assert m.fp.tolist() == [False, True, False, True, False]
    assert m.ignored.tolist() == [False, False, True, False, False]
    assert m.matched.tolist() == [0, 0, 1, -1, -1]
    assert m.fn.tolist() == [2]
    assert m.counts == {"tp": 1, "fp": 2, "fn": 1, "ignored": 1}
    low = match_image(a, d, score_threshold=0.0)
    assert low.tp.tolist() == [True, False, False, False, True] and low.fn.tolist() == []
    none = match_image(None, d, score_threshold=0.5)
    assert none.fp.tolist() == [True, True, True, True, False] and none.fn.tolist() == []


# -- reference: a loop transcription of py-faster-rcnn's voc_eval (stable sort, exact points) ----
def reference_voc(gt, det_list, cls, thr=0.5, use_07=True):
    recs = {k: [o for o in v.objects if o.name == cls] for k, v in gt.items()}
    npos = sum(not o.difficult for objs in recs.values() for o in objs)
    flags = {k: [False] * len(v) for k, v in recs.items()}
    rows = [(d.image_id, s, b) for d in det_list for b, s, lab in
            zip(d.boxes, d.scores, d.labels) if lab == cls]
    rows = [rows[i] for i in np.argsort([-r[1] for r in rows], kind="stable")]
    tp, fp = np.zeros(len(rows)), np.zeros(len(rows))
    for i, (img, _, bb) in enumerate(rows):
        ovmax, jmax = -np.inf, -1
        for j, o in enumerate(recs[img]):
            g = np.array(o.box)
            iw = min(bb[2], g[2]) - max(bb[0], g[0])
            ih = min(bb[3], g[3]) - max(bb[1], g[1])
            if iw > 0 and ih > 0:
                inter = iw * ih
                ov = inter / ((bb[2] - bb[0]) * (bb[3] - bb[1])
                              + (g[2] - g[0]) * (g[3] - g[1]) - inter)
                if ov > ovmax:
                    ovmax, jmax = ov, j
        if ovmax >= thr:
            if not recs[img][jmax].difficult:
                if not flags[img][jmax]:
                    tp[i] = 1
                    flags[img][jmax] = True
                else:
                    fp[i] = 1
        else:
            fp[i] = 1
    fp, tp = np.cumsum(fp), np.cumsum(tp)
    rec = tp / npos
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    if use_07:
        ap = 0.0
        for t in [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]:
            ap += (np.max(prec[rec >= t]) if np.sum(rec >= t) else 0) / 11
        return ap
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c"]
    gt, det = {}, []
    for i in range(30):
        objs = []
        for _ in range(rng.integers(0, 5)):
            x, y = rng.integers(0, 100, 2)
            w, h = rng.integers(3, 40, 2)
            objs.append(obj(str(rng.choice(classes)), (x, y, x + w, y + h),
                            difficult=bool(rng.random() < 0.2)))
        gt[f"i{i}"] = ann(*objs)
        rows = []
        for o in objs:
            for _ in range(rng.integers(0, 3)):
                rows.append((o.name, float(rng.integers(0, 10) / 10),
                             np.array(o.box) + rng.integers(-4, 5, 4)))
        for _ in range(rng.integers(0, 3)):
            x, y = rng.integers(0, 100, 2)
            rows.append((str(rng.choice(classes)), float(rng.random()), (x, y, x + 20, y + 20)))
        det.append(dets(f"i{i}", *rows))
    return gt, det


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("use_07", [True, False])
def test_equals_devkit_loop_on_random_data(seed, use_07):
    gt, det = random_case(seed)
    r = evaluate_voc(gt, det, use_07_metric=use_07)
    for cls, ap in r.per_class.items():
        assert ap == pytest.approx(reference_voc(gt, det, cls, use_07=use_07), abs=1e-12)
    assert set(r.per_class) == {c for c, n in r.num_positives.items() if n > 0}
