"""Results readers: devkit folder, VOC XML with scores, per-image JSON, COCO results JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.core.annotation import Annotation, VocObject
from workbench.core.detections import ImageDetections
from workbench.core.metrics import evaluate_coco, evaluate_voc, to_coco
from workbench.core.results import ResultsError, by_image, read_results


def test_devkit_folder_one_based_pixels_and_line_order(tmp_path):
    (tmp_path / "comp4_det_test_cat.txt").write_text(
        "img1 0.9 1 1 10 10\nimg1 0.5 21 21 30 30\nimg2 0.7 1.5 2 10 10.5\n\nimg1 0.2 5 5 6 6\n")
    (tmp_path / "comp4_det_test_potted_plant.txt").write_text("img2 0.3 1 1 2 2\n")
    (tmp_path / "notes.txt").write_text("not results")
    dets = read_results(tmp_path)
    # runs of consecutive lines per image, in file order (files sorted by name)
    assert [(d.image_id, d.labels.tolist()) for d in dets] == [
        ("img1", ["cat", "cat"]), ("img2", ["cat"]), ("img1", ["cat"]),
        ("img2", ["potted_plant"])]
    np.testing.assert_array_equal(dets[0].boxes, [[0, 0, 10, 10], [20, 20, 30, 30]])
    np.testing.assert_array_equal(dets[1].boxes, [[0.5, 1, 10, 10.5]])
    assert dets[0].scores.tolist() == [0.9, 0.5]
    merged = by_image(dets)
    assert merged["img1"].scores.tolist() == [0.9, 0.5, 0.2]
    assert merged["img2"].labels.tolist() == ["cat", "potted_plant"]


def test_devkit_errors_name_file_and_line(tmp_path):
    (tmp_path / "comp4_det_test_cat.txt").write_text("img1 0.9 1 1 10 10\nimg2 0.5 1 1 10\n")
    with pytest.raises(ResultsError, match=r"comp4_det_test_cat.txt:2: expected"):
        read_results(tmp_path)
    (tmp_path / "comp4_det_test_cat.txt").write_text("img1 high 1 1 10 10\n")
    with pytest.raises(ResultsError, match=r":1: not a number"):
        read_results(tmp_path)
    with pytest.raises(ResultsError, match="no such file"):
        read_results(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ResultsError, match="no \\*_det_"):
        read_results(empty)


def test_json_folder_as_workbench_detect_writes(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(
        [{"class": "cat", "score": 0.8, "box": [0.5, 1, 10, 20]}]))
    (tmp_path / "b.json").write_text("[]")
    dets = read_results(tmp_path)
    assert [d.image_id for d in dets] == ["a", "b"]
    np.testing.assert_array_equal(dets[0].boxes, [[0.5, 1, 10, 20]])
    assert len(dets[1]) == 0
    (tmp_path / "c.json").write_text(json.dumps({"class": "cat"}))
    with pytest.raises(ResultsError, match="c.json"):
        read_results(tmp_path)


def test_voc_xml_with_scores(tmp_path):
    from workbench.core.voc import write_annotation

    write_annotation(Annotation("a.jpg", objects=(
        VocObject("cat", (0, 0, 10, 10), score=0.75, model_made=True),
        VocObject("dog", (4, 4, 8, 9), score=0.5))), tmp_path / "a.xml")
    dets = read_results(tmp_path)
    assert dets[0].image_id == "a"
    assert dets[0].labels.tolist() == ["cat", "dog"]
    assert dets[0].scores.tolist() == [0.75, 0.5]
    np.testing.assert_array_equal(dets[0].boxes, [[0, 0, 10, 10], [4, 4, 8, 9]])
    write_annotation(Annotation("b.jpg", objects=(VocObject("cat", (0, 0, 10, 10)),)),
                     tmp_path / "b.xml")
    with pytest.raises(ResultsError, match=r"b.xml: object 0 has no <score>"):
        read_results(tmp_path)


def _case():
    gt = {"x": Annotation("x.jpg", objects=(VocObject("cat", (0, 0, 10, 10)),
                                            VocObject("dog", (20, 20, 40, 40)))),
          "y": Annotation("y.jpg", objects=(VocObject("cat", (5, 5, 25, 25), difficult=True),))}
    det = [ImageDetections("x", [[0, 0, 10, 9], [20, 21, 40, 40], [0, 0, 5, 5]], [0.9, 0.8, 0.4],
                           ["cat", "dog", "cat"]),
           ImageDetections("y", [[5, 5, 25, 26]], [0.6], ["cat"])]
    return gt, det


def test_coco_results_default_mapping_round_trip(tmp_path):
    gt, det = _case()
    _, results = to_coco(gt, det)
    (tmp_path / "res.json").write_text(json.dumps(results))
    back = read_results(tmp_path / "res.json", image_ids=list(gt), classes=["cat", "dog"])
    assert [d.image_id for d in back] == ["x", "y"]
    assert back[0].labels.tolist() == ["cat", "dog", "cat"]
    np.testing.assert_allclose(back[0].boxes, det[0].boxes)
    np.testing.assert_array_equal(evaluate_coco(gt, back).stats, evaluate_coco(gt, det).stats)
    assert evaluate_voc(gt, back).per_class == evaluate_voc(gt, det).per_class


def test_coco_results_with_ground_truth_mapping_and_string_ids(tmp_path):
    gt_doc = {"images": [{"id": 7, "file_name": "sub/x.jpg"}], "categories": [{"id": 3,
                                                                            "name": "cat"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt_doc))
    (tmp_path / "res.json").write_text(json.dumps([
        {"image_id": 7, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5},
        {"image_id": "y", "category_id": "dog", "bbox": [0, 0, 1, 1], "score": 0.25}]))
    dets = read_results(tmp_path / "res.json", coco_gt=tmp_path / "gt.json")
    assert [(d.image_id, d.labels.tolist()) for d in dets] == [("x", ["cat"]), ("y", ["dog"])]
    np.testing.assert_array_equal(dets[0].boxes, [[1, 2, 4, 6]])
    (tmp_path / "bad.json").write_text(json.dumps(
        [{"image_id": 8, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    with pytest.raises(ResultsError, match="entry 0: image_id 8"):
        read_results(tmp_path / "bad.json", coco_gt=tmp_path / "gt.json")
    (tmp_path / "worse.json").write_text(json.dumps([{"image_id": 8}]))
    with pytest.raises(ResultsError, match="entry 0 is not"):
        read_results(tmp_path / "worse.json")
    (tmp_path / "res.txt").write_text("")
    with pytest.raises(ResultsError, match="COCO results JSON"):
        read_results(tmp_path / "res.txt")


def test_project_ground_truth_skips_unlabelled_and_rejects_shared_stems(tmp_path):
    import cv2

    from workbench.core.project import Project
    from workbench.core.results import project_ground_truth
    from workbench.core.voc import write_annotation

    for sub in ("p", "q"):
        (tmp_path / sub).mkdir()
    for rel in ("p/x.png", "p/y.png", "q/z.png"):
        cv2.imwrite(str(tmp_path / rel), np.zeros((8, 8, 3), np.uint8))
    write_annotation(Annotation("x.png", objects=(VocObject("cat", (0, 0, 4, 4)),)),
                     tmp_path / "p" / "x.xml")
    write_annotation(Annotation("z.png"), tmp_path / "q" / "z.xml")
    gt = project_ground_truth(Project.open(tmp_path))
    assert list(gt) == ["x", "z"]  # y has no XML: unlabelled, not evaluated
    assert gt["x"].objects[0].box == (0, 0, 4, 4) and gt["z"].objects == ()
    cv2.imwrite(str(tmp_path / "q" / "x.png"), np.zeros((8, 8, 3), np.uint8))
    write_annotation(Annotation("x.png"), tmp_path / "q" / "x.xml")
    with pytest.raises(ValueError, match="share the id 'x'"):
        project_ground_truth(Project.open(tmp_path))
