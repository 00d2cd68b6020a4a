"""COCO AP/AR: hand-computed literal cases, and equality with pycocotools on random data."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest

from workbench.core.annotation import Annotation, VocObject
from workbench.core.detections import ImageDetections
from workbench.core.metrics import IOU_THRESHOLDS, evaluate_coco, to_coco

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402


def ann(*objects: VocObject) -> Annotation:
    return Annotation(filename="x.jpg", objects=tuple(objects))


def obj(name, box, difficult=False):
    return VocObject(name, tuple(float(v) for v in box), difficult=difficult)


def dets(image_id, *rows):
    if not rows:
        return ImageDetections(image_id)
    return ImageDetections(image_id, np.array([r[2] for r in rows], float),
                           np.array([r[1] for r in rows]), np.array([r[0] for r in rows]))


def run_pycocotools(gt, det, classes=None) -> COCOeval:
    dataset, results = to_coco(gt, det, classes=classes)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def test_iou_thresholds_are_pycocotools_values():
    np.testing.assert_array_equal(IOU_THRESHOLDS, COCOeval(iouType="bbox").params.iouThrs)


def test_hand_computed_two_detections_one_object():
    # det1 (score .9) IoU .64 with the object, det2 (.8) exact.
    # t in {.5, .55, .6}: det1 TP, det2 FP → AP 1; t >= .65: FP then TP → precision .5 → AP .5
    gt = {"a": ann(obj("cat", (0, 0, 10, 10)))}
    det = [dets("a", ("cat", 0.9, (0, 0, 8, 8)), ("cat", 0.8, (0, 0, 10, 10)))]
    r = evaluate_coco(gt, det)
    assert r.map == pytest.approx((3 * 1.0 + 7 * 0.5) / 10)
    # (precision is tp / (tp + fp + eps) as pycocotools: 1 - 1e-16, not 1)
    assert r.map50 == pytest.approx(1.0, abs=1e-12) and r.map75 == pytest.approx(0.5)
    assert r.map_small == pytest.approx(0.65)  # area 100 < 32²
    assert math.isnan(r.map_medium) and math.isnan(r.map_large)
    assert r.stats[4] == -1 and r.stats[5] == -1
    assert r.ar100 == 1.0 and r.ar10 == 1.0  # recall has no eps
    assert r.ar1 == pytest.approx(0.3)  # with 1 detection only det1: recall 1 at 3 of 10 IoUs
    assert r.per_class == {"cat": pytest.approx(0.65)}
    assert r.per_class_ap50 == {"cat": pytest.approx(1.0, abs=1e-12)}
    recall, precision = r.pr_curve("cat", 0.75)
    assert recall.shape == (101,)
    np.testing.assert_allclose(precision, np.full(101, 0.5))


def test_crowd_region_swallows_detections_and_is_not_a_positive():
    # 'difficult' → iscrowd: IoU = intersection / detection area; several detections may hit it
    gt = {"a": ann(obj("cat", (0, 0, 100, 100), difficult=True), obj("cat", (200, 0, 210, 10)))}
    det = [dets("a", ("cat", 0.9, (10, 10, 20, 20)), ("cat", 0.8, (30, 30, 40, 40)),
                ("cat", 0.7, (200, 0, 210, 10)))]
    r = evaluate_coco(gt, det)
    assert r.map == pytest.approx(1.0, abs=1e-12)  # both crowd hits ignored, the last one a TP
    assert r.num_positives == {"cat": 1}
    no_crowd = {"a": ann(obj("cat", (0, 0, 100, 100)), obj("cat", (200, 0, 210, 10)))}
    # without the flag the two small boxes are FPs ranked first: precision 1/3 up to recall .5
    # (51 of the 101 recall points), 0 beyond
    plain = evaluate_coco(no_crowd, det)
    assert plain.map50 == pytest.approx(51 / 101 / 3, abs=1e-12)
    assert plain.map == pytest.approx(51 / 101 / 3, abs=1e-12)


def test_class_without_detections_and_crowd_only_class():
    gt = {"a": ann(obj("cat", (0, 0, 10, 10)), obj("dog", (20, 20, 30, 30)),
                   obj("bird", (40, 40, 50, 50), difficult=True))}
    det = [dets("a", ("cat", 0.9, (0, 0, 10, 10)), ("bird", 0.8, (40, 40, 50, 50)))]
    r = evaluate_coco(gt, det)
    assert r.per_class == {"cat": pytest.approx(1.0, abs=1e-12), "dog": 0.0}
    assert r.map == pytest.approx(0.5, abs=1e-12)
    assert r.num_positives == {"bird": 0, "cat": 1, "dog": 1}


def test_image_without_objects_and_ties_follow_image_order():
    box = (0, 0, 10, 10)
    gt = {"a": ann(obj("cat", box)), "empty": ann()}
    # FP (.95) on the empty image ranked first: precision 0 then .5, recall 0 then 1
    r = evaluate_coco(gt, [dets("empty", ("cat", 0.95, box)), dets("a", ("cat", 0.9, box))])
    assert r.map == pytest.approx(0.5, abs=1e-12)
    # equal scores: pycocotools concatenates images in id order, so the ground truth's order
    # breaks the tie (not the order of the detections)
    first, fp, tp = (dets("a", ("cat", 0.9, box)), dets("c", ("cat", 0.5, box)),
                     dets("b", ("cat", 0.5, box)))
    b_first = {"a": ann(obj("cat", box)), "b": ann(obj("cat", box)), "c": ann()}
    c_first = {"a": ann(obj("cat", box)), "c": ann(), "b": ann(obj("cat", box))}
    # TP TP FP: precision 1 up to recall 1
    assert evaluate_coco(b_first, [first, fp, tp]).map == pytest.approx(1.0, abs=1e-12)
    # TP FP TP: precision 1 up to recall .5 (51 points), then 2/3 (50 points)
    assert evaluate_coco(c_first, [first, tp, fp]).map == pytest.approx(
        (51 + 50 * 2 / 3) / 101, abs=1e-12)


def test_empty_and_absent():
    gt = {"a": ann(obj("cat", (0, 0, 10, 10))), "b": ann()}
    r = evaluate_coco(gt, [])
    assert r.map == 0.0 and r.ar100 == 0.0
    nothing = evaluate_coco({"a": ann()}, [])
    assert math.isnan(nothing.map) and nothing.per_class == {}
    with pytest.raises(ValueError, match="'q'"):
        evaluate_coco(gt, [dets("q", ("cat", 0.5, (0, 0, 1, 1)))])


def random_case(seed, n_img=40, classes=("a", "b", "c", "d"), max_objects=6, crowd=0.15,
                extra=5, dup=3):
    rng = np.random.default_rng(seed)
    gt, det = {}, []
    for i in range(n_img):
        objs = []
        for _ in range(rng.integers(0, max_objects + 1)):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(2, 160, 2)
            # the last class never appears in the ground truth
            objs.append(obj(str(rng.choice(classes[:-1])), (x, y, x + w, y + h),
                            difficult=bool(rng.random() < crowd)))
        gt[f"img{i:03d}"] = ann(*objs)
        rows = []
        for o in objs:
            for _ in range(rng.integers(0, dup + 1)):
                rows.append((o.name if rng.random() < 0.9 else str(rng.choice(classes)),
                             float(np.round(rng.random(), 2)),  # rounded → many score ties
                             np.array(o.box) + rng.normal(0, 6, 4)))
        for _ in range(rng.integers(0, extra + 1)):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(1, 160, 2)
            rows.append((str(rng.choice(classes)), float(rng.random()), (x, y, x + w, y + h)))
        if rows or rng.random() < 0.5:
            det.append(dets(f"img{i:03d}", *rows))
    return gt, det


def assert_same_as_pycocotools(gt, det, classes=None):
    ours = evaluate_coco(gt, det, classes=classes)
    ref = run_pycocotools(gt, det, classes=classes)
    np.testing.assert_allclose(ours.stats, ref.stats, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.precision, ref.eval["precision"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.recall, ref.eval["recall"], rtol=0, atol=1e-6)
    return ours, ref


@pytest.mark.parametrize("seed", range(8))
def test_equals_pycocotools_on_random_data(seed):
    gt, det = random_case(seed)
    ours, _ = assert_same_as_pycocotools(gt, det)
    assert "d" not in ours.per_class  # class only among detections: undefined, left out


def test_equals_pycocotools_with_more_than_100_detections_per_image_and_class():
    gt, det = random_case(11, n_img=6, classes=("a", "b"), max_objects=30, dup=8, extra=150)
    assert max(int((d.labels == "a").sum()) for d in det) > 100
    assert_same_as_pycocotools(gt, det)


def test_equals_pycocotools_with_integer_boxes_and_exact_iou_ties():
    rng = np.random.default_rng(5)
    gt, det = {}, []
    for i in range(30):
        objs = [obj("a", (x, y, x + w, y + h), difficult=bool(rng.random() < 0.2))
                for x, y, w, h in rng.integers(0, 12, (rng.integers(0, 6), 4)) + [0, 0, 2, 2]]
        gt[f"i{i}"] = ann(*objs)
        boxes = rng.integers(0, 12, (8, 4)) + [0, 0, 2, 2]
        boxes[:, 2:] += boxes[:, :2]
        det.append(dets(f"i{i}", *(("a", float(rng.integers(0, 4)), b) for b in boxes)))
    assert_same_as_pycocotools(gt, det)


def test_equals_pycocotools_with_explicit_class_list():
    gt, det = random_case(3)
    ours, _ = assert_same_as_pycocotools(gt, det, classes=["c", "a", "zzz"])
    assert ours.classes == ("c", "a", "zzz")
    assert set(ours.per_class) <= {"a", "c"}


def test_equals_pycocotools_with_degenerate_boxes():
    # zero-width, zero-area and inverted detections / objects: pycocotools computes their
    # area as w * h (negative for inverted boxes, so they fall outside every area range)
    gt, det = random_case(21, n_img=25)
    rng = np.random.default_rng(21)
    odd = []
    for d in det:
        boxes = d.boxes.copy()
        pick = rng.random(len(boxes)) < 0.3
        boxes[pick, 2] = boxes[pick, 0] - rng.uniform(0, 5, int(pick.sum()))
        odd.append(ImageDetections(d.image_id, boxes, d.scores, d.labels))
    gt["flat"] = ann(obj("a", (5, 5, 5, 40)), obj("a", (10, 10, 60, 60)))
    odd.append(dets("flat", ("a", 0.9, (5, 5, 5, 40)), ("a", 0.8, (10, 10, 60, 60))))
    gt["inverted"] = ann(obj("z", (30, 30, 20, 40)))  # negative area: outside every range
    ours, _ = assert_same_as_pycocotools(gt, odd)
    assert "z" not in ours.per_class and ours.num_positives["z"] == 1
    assert all(0 <= v <= 1 for v in ours.per_class.values())
