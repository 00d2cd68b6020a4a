"""Error analysis (issue 15): hand-computed counts and matrices, and agreement with the AP code."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.core.annotation import Annotation, VocObject
from workbench.core.boxes import iou_matrix
from workbench.core.detections import ImageDetections
from workbench.core.error_analysis import (
    ErrorIndex,
    ScoreSweep,
    analyse,
    image_marks,
)
from workbench.core.metrics import evaluate_coco, evaluate_voc, match_image
from workbench.core.metrics_voc import match_detections


def _ann(name: str, *objects: tuple[str, tuple[float, float, float, float], bool]) -> Annotation:
    return Annotation(filename=name, objects=tuple(VocObject(n, b, difficult=d)
                                                    for n, b, d in objects))


def _dets(image: str, *rows: tuple[str, float, tuple[float, float, float, float]]
          ) -> ImageDetections:
    return ImageDetections(image, np.array([r[2] for r in rows], dtype=float).reshape(-1, 4),
                           np.array([r[1] for r in rows], dtype=float),
                           np.array([r[0] for r in rows], dtype=str))


def hand_data() -> tuple[dict[str, Annotation], list[ImageDetections]]:
    """Image a: a found cat, a duplicate, a cat box on a dog (confused), a cat on a difficult
    cat, a found dog. b: empty. c: no objects, one dog detection. d: a missed cat."""
    gt = {
        "a": _ann("a.jpg", ("cat", (0, 0, 10, 10), False), ("dog", (20, 0, 30, 10), False),
                  ("cat", (40, 0, 50, 10), True), ("dog", (60, 0, 70, 10), False)),
        "b": _ann("b.jpg"),
        "c": _ann("c.jpg"),
        "d": _ann("d.jpg", ("cat", (0, 0, 10, 10), False)),
    }
    dets = [
        _dets("a", ("cat", 0.9, (0, 0, 10, 10)), ("cat", 0.8, (0, 0, 10, 10)),
              ("cat", 0.7, (20, 0, 30, 10)), ("cat", 0.6, (40, 0, 50, 10)),
              ("dog", 0.3, (60, 0, 70, 10))),
        _dets("c", ("dog", 0.5, (0, 0, 5, 5))),
    ]
    return gt, dets


def test_operating_point_confusion_and_per_image_by_hand() -> None:
    gt, dets = hand_data()
    result = analyse(gt, dets, score=0.0, per_size=False)
    op = result.operating_point
    assert (op.tp, op.fp, op.fn) == (2, 3, 2)
    assert op.precision == pytest.approx(0.4) and op.recall == pytest.approx(0.5)
    assert op.f1 == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert op.chosen == "score" and op.iou == 0.5
    assert result.confusion.labels == ("cat", "dog", "background")
    assert result.confusion.matrix.tolist() == [[1, 0, 1], [1, 1, 0], [1, 1, 0]]
    assert result.confusion.images("dog", "cat") == ["a"]
    assert result.confusion.images("cat", "background") == ["d"]
    assert result.confusion.images("background", "dog") == ["c"]
    assert result.confusion.images("background", "cat") == ["a"]
    assert result.confusion.images("dog", "background") == []
    by_image = {e.image: e for e in result.per_image}
    assert [e.image for e in result.per_image] == ["a", "b", "c", "d"]
    a = by_image["a"]
    assert (a.tp, a.fp, a.fn, a.confused, a.ignored, a.worst_score) == (2, 2, 1, 1, 1, 0.8)
    assert a.classes == ("cat", "dog") and a.sizes == ("small",)
    assert (by_image["b"].tp, by_image["b"].fp, by_image["b"].fn) == (0, 0, 0)
    assert by_image["b"].classes == () and by_image["b"].worst_score == 0.0
    assert (by_image["c"].fp, by_image["c"].worst_score) == (1, 0.5)
    assert (by_image["d"].fn, by_image["d"].classes) == (1, ("cat",))


def test_higher_threshold_drops_the_low_scored_detections() -> None:
    gt, dets = hand_data()
    result = analyse(gt, dets, score=0.5, per_size=False)
    op = result.operating_point
    assert (op.tp, op.fp, op.fn, op.score) == (1, 3, 3, 0.5)
    assert result.confusion.matrix.tolist() == [[1, 0, 1], [1, 0, 1], [1, 1, 0]]
    assert result.confusion.images("dog", "background") == ["a"]
    # the index answers any threshold without matching again
    index = result.index
    assert index.confusion(0.95).matrix.tolist() == [[0, 0, 2], [0, 0, 2], [0, 0, 0]]
    assert index.operating_point(0.95).to_json() == {
        "score": 0.95, "iou": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0,
        "fp": 0, "fn": 4, "chosen": "score"}


def test_best_f1_and_pr_curve_by_hand() -> None:
    gt, dets = hand_data()
    sweep = ScoreSweep.from_data(gt, dets)
    recall, precision, scores = sweep.pr_curve()
    assert scores.tolist() == [0.9, 0.8, 0.7, 0.6, 0.5, 0.3]
    assert recall.tolist() == [0.25, 0.25, 0.25, 0.25, 0.25, 0.5]
    assert precision.tolist() == pytest.approx([1.0, 0.5, 1 / 3, 1 / 3, 0.25, 0.4])
    best = sweep.best_f1()
    assert (best.score, best.tp, best.fp, best.fn, best.chosen) == (0.3, 2, 3, 2, "best_f1")
    assert analyse(gt, dets, per_size=False).operating_point == best
    assert sweep.at(0.9).f1 == pytest.approx(0.4)


def test_best_f1_ties_go_to_the_highest_score_and_no_detections_is_score_zero() -> None:
    gt = {"a": _ann("a.jpg", ("cat", (0, 0, 10, 10), False), ("cat", (20, 0, 30, 10), False))}
    # 0.9 finds one (P 1, R .5, F1 2/3); 0.4 adds a FP and a TP (P 2/3, R 1, F1 .8)
    dets = [_dets("a", ("cat", 0.9, (0, 0, 10, 10)), ("cat", 0.5, (80, 0, 90, 10)),
                  ("cat", 0.4, (20, 0, 30, 10)))]
    assert ScoreSweep.from_data(gt, dets).best_f1().score == 0.4
    tie = [_dets("a", ("cat", 0.9, (0, 0, 10, 10)), ("cat", 0.8, (0, 0, 10, 10)))]
    assert ScoreSweep.from_data(gt, tie).best_f1().score == 0.9  # F1 2/3 vs 1/2
    empty = ScoreSweep.from_data(gt, []).best_f1()
    assert (empty.score, empty.tp, empty.fn, empty.f1) == (0.0, 0, 2, 0.0)


def test_tied_scores_are_kept_or_dropped_together() -> None:
    gt = {"a": _ann("a.jpg", ("cat", (0, 0, 10, 10), False))}
    dets = [_dets("a", ("cat", 0.5, (0, 0, 10, 10)), ("cat", 0.5, (0, 0, 10, 10)))]
    sweep = ScoreSweep.from_data(gt, dets)
    assert (sweep.at(0.5).tp, sweep.at(0.5).fp) == (1, 1)
    assert (sweep.at(0.51).tp, sweep.at(0.51).fp) == (0, 0)
    assert len(sweep.pr_curve()[2]) == 1


def test_image_marks_statuses() -> None:
    gt, dets = hand_data()
    marks = image_marks(gt["a"], dets[0], score=0.0)
    got = [(m.kind, m.status, m.label, m.other, m.score) for m in marks]
    assert got == [
        ("object", "tp", "cat", None, None),
        ("object", "confused", "dog", "cat", None),
        ("object", "ignored", "cat", None, None),
        ("object", "tp", "dog", None, None),
        ("detection", "tp", "cat", None, 0.9),
        ("detection", "fp", "cat", None, 0.8),
        ("detection", "confused", "cat", "dog", 0.7),
        ("detection", "ignored", "cat", None, 0.6),
        ("detection", "tp", "dog", None, 0.3),
    ]
    assert marks[1].box == (20.0, 0.0, 30.0, 10.0)
    high = image_marks(gt["a"], dets[0], score=0.65)
    assert [(m.kind, m.status) for m in high] == [
        ("object", "tp"), ("object", "confused"), ("object", "ignored"), ("object", "fn"),
        ("detection", "tp"), ("detection", "fp"), ("detection", "confused")]
    none = image_marks(None, _dets("z", ("cat", 0.2, (0, 0, 4, 4))), score=0.1)
    assert [(m.kind, m.status) for m in none] == [("detection", "fp")]
    # the data-set index gives the same marks as the one-image call
    index = ErrorIndex(gt, dets)
    assert index.marks("a", 0.65) == high


def test_to_json_keys() -> None:
    gt, dets = hand_data()
    doc = analyse(gt, dets, score=0.5).to_json()
    assert set(doc) == {"operating_point", "confusion", "per_image", "per_size"}
    assert doc["per_image"][0] == {"image": "a", "tp": 1, "fp": 2, "fn": 2}
    assert doc["confusion"] == {"labels": ["cat", "dog", "background"],
                                "matrix": [[1, 0, 1], [1, 0, 1], [1, 1, 0]]}
    assert set(doc["per_size"]) == {"small", "medium", "large"}
    assert doc["per_size"]["medium"] == {"ap": None, "per_class": {}}


def test_per_size_matches_coco() -> None:
    rng = np.random.default_rng(3)
    gt, dets = random_data(rng, 30)
    coco = evaluate_coco(gt, dets)
    sizes = analyse(gt, dets, per_size=True).per_size
    assert sizes is not None
    for label, ref in (("small", coco.map_small), ("medium", coco.map_medium),
                       ("large", coco.map_large)):
        assert sizes[label].ap == pytest.approx(ref) or (math.isnan(ref)
                                                         and math.isnan(sizes[label].ap))
        assert sizes[label].per_class
    one = {k: Annotation(filename=k, objects=tuple(o for o in a.objects if o.name == "c0"))
           for k, a in gt.items()}
    one_dets = [ImageDetections(d.image_id, d.boxes[d.labels == "c0"], d.scores[d.labels == "c0"],
                                d.labels[d.labels == "c0"]) for d in dets]
    single = analyse(one, one_dets, per_size=True).per_size
    assert single is not None
    assert single["small"].per_class["c0"] == pytest.approx(evaluate_coco(one, one_dets).map_small)


def random_data(rng: np.random.Generator, images: int, classes: int = 3
                ) -> tuple[dict[str, Annotation], list[ImageDetections]]:
    gt: dict[str, Annotation] = {}
    dets: list[ImageDetections] = []
    for i in range(images):
        n = int(rng.integers(0, 6))
        xy = rng.uniform(0, 200, (n, 2))
        wh = rng.uniform(5, 150, (n, 2))
        boxes = np.c_[xy, xy + wh]
        names = [f"c{int(c)}" for c in rng.integers(0, classes, n)]
        difficult = rng.random(n) < 0.15
        gt[f"im{i}"] = Annotation(filename=f"im{i}.jpg", objects=tuple(
            VocObject(nm, tuple(b), difficult=bool(d)) for nm, b, d in zip(names, boxes.tolist(),
                                                                        difficult)))
        m = int(rng.integers(0, 12))
        src = boxes[rng.integers(0, n, m)] if n else rng.uniform(0, 200, (m, 4))
        jitter = src + rng.normal(0, 6, (m, 4))
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 2)
        scores = np.round(rng.random(m), 2)  # ties on purpose
        labels = np.array([f"c{int(c)}" for c in rng.integers(0, classes, m)], dtype=str)
        dets.append(ImageDetections(f"im{i}", jitter, scores, labels))
    return gt, dets


def brute_confusion(gt: dict[str, Annotation], dets: list[ImageDetections], names: list[str],
                    score: float, iou: float, strict: bool = False) -> np.ndarray:
    """The issue's definition, literally, one image and one detection at a time."""
    k = len(names)
    matrix = np.zeros((k + 1, k + 1), dtype=np.int64)
    by_id = {d.image_id: d for d in dets}
    for image_id, ann in gt.items():
        d = by_id.get(image_id, ImageDetections(image_id))
        order = [i for i in np.argsort(-d.scores, kind="stable") if d.scores[i] >= score]
        objs = list(ann.objects)
        ious = iou_matrix(d.boxes, np.array([o.box for o in objs]).reshape(-1, 4))
        taken = [False] * len(objs)
        for i in order:
            best, best_j = -1.0, -1
            for j in range(len(objs)):
                reached = ious[i, j] > iou if strict else ious[i, j] >= iou
                if not taken[j] and reached and ious[i, j] > best:
                    best, best_j = ious[i, j], j
            pred = names.index(str(d.labels[i]))
            if best_j < 0:
                matrix[k, pred] += 1
                continue
            taken[best_j] = True
            if not objs[best_j].difficult:
                matrix[names.index(objs[best_j].name), pred] += 1
        for j, o in enumerate(objs):
            if not taken[j] and not o.difficult:
                matrix[names.index(o.name), k] += 1
    return matrix


@pytest.mark.parametrize(("seed", "iou", "strict"), [(0, 0.5, False), (1, 0.5, False),
                                                     (2, 0.3, False), (3, 0.5, True),
                                                     (4, 0.75, False)])
def test_agrees_with_the_ap_code_and_the_literal_definitions(seed: int, iou: float,
                                                             strict: bool) -> None:
    rng = np.random.default_rng(seed)
    gt, dets = random_data(rng, 40)
    index = ErrorIndex(gt, dets, iou=iou, strict=strict)
    voc = evaluate_voc(gt, dets, iou_threshold=iou, strict=strict)
    # the per-detection flags are those of the AP code's matching
    m = match_detections(index.gt, index.det, iou_threshold=iou, strict=strict)
    assert (index.aware.tp == m.tp).all() and (index.aware.fp == m.fp).all()
    assert (index.aware.ignored == m.ignored).all()
    names = list(index.classes)
    for score in (0.0, 0.25, 0.5, 0.73, 0.99):
        op = index.operating_point(score)
        per_image = index.per_image(score)
        counts = index.per_image_counts(score)
        for key in ("tp", "fp", "fn", "confused", "ignored", "worst_score"):
            assert counts[key].tolist() == [getattr(e, key) for e in per_image]
        # per-image sums = the operating point
        assert sum(e.tp for e in per_image) == op.tp
        assert sum(e.fp for e in per_image) == op.fp
        assert sum(e.fn for e in per_image) == op.fn
        # the AP code's TP/FP flags at the same threshold
        tp = sum(int(c.tp[c.scores >= score].sum()) for c in voc.curves.values())
        fp = sum(int(c.fp[c.scores >= score].sum()) for c in voc.curves.values())
        assert (op.tp, op.fp) == (tp, fp)
        assert op.tp + op.fn == sum(voc.num_positives.values())
        # the canvas's per-image judge (match_image) agrees image by image
        by_id = {d.image_id: d for d in dets}
        for e in per_image:
            counts = match_image(gt[e.image], by_id[e.image], score_threshold=score,
                                 iou_threshold=iou, strict=strict).counts
            assert (e.tp, e.fp, e.fn, e.ignored) == (counts["tp"], counts["fp"], counts["fn"],
                                                     counts["ignored"])
        # the confusion matrix = the definition applied literally
        conf = index.confusion(score)
        assert conf.matrix.tolist() == brute_confusion(gt, dets, names, score, iou,
                                                       strict).tolist()
        # the same with each image's detections best first (rows already in matching order)
        ranked = [ImageDetections(d.image_id, d.boxes[o], d.scores[o], d.labels[o])
                  for d in dets for o in [np.argsort(-d.scores, kind="stable")]]
        assert ErrorIndex(gt, ranked, iou=iou, strict=strict).confusion(score).matrix.tolist() \
            == conf.matrix.tolist()
        # confused per image = the off-diagonal, non-background cells
        k = len(names)
        off = conf.matrix[:k, :k].sum() - np.trace(conf.matrix[:k, :k])
        assert sum(e.confused for e in per_image) == off
        # every cell's image list holds exactly the images with counts there
        for r in range(k + 1):
            for c in range(k + 1):
                assert bool(conf.images(r, c)) == bool(conf.matrix[r, c])


def test_unknown_image_and_bad_iou_are_clear_errors() -> None:
    gt, dets = hand_data()
    with pytest.raises(ValueError, match="'zz'"):
        analyse(gt, [*dets, _dets("zz", ("cat", 0.5, (0, 0, 5, 5)))])
    with pytest.raises(ValueError, match="IoU threshold"):
        analyse(gt, dets, iou=1.5)
    with pytest.raises(KeyError, match="'zz' is not in the evaluated set"):
        ErrorIndex(gt, dets).marks("zz", 0.5)
    with pytest.raises(KeyError, match="horse"):
        analyse(gt, dets, score=0.5, per_size=False).confusion.images("horse", "cat")


def test_iou_exactly_at_the_threshold() -> None:
    gt = {"a": _ann("a.jpg", ("cat", (0, 0, 10, 10), False))}
    dets = [_dets("a", ("cat", 0.9, (0, 0, 10, 5)), ("dog", 0.8, (0, 5, 10, 10)))]  # IoU 0.5
    reach = analyse(gt, dets, score=0.0, per_size=False)
    assert (reach.operating_point.tp, reach.operating_point.fp) == (1, 1)
    assert reach.confusion.matrix.tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]
    strict = analyse(gt, dets, score=0.0, strict=True, per_size=False)
    assert (strict.operating_point.tp, strict.operating_point.fp) == (0, 2)
    assert strict.confusion.matrix.tolist() == [[0, 0, 1], [0, 0, 0], [1, 1, 0]]
