"""``workbench eval``: devkit / COCO results and a checkpoint, table and --json output."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.core.annotation import Annotation, VocObject
from workbench.core.metrics import evaluate_coco, evaluate_voc, to_coco

ROOT = Path(__file__).resolve().parents[2]
A, B, C = (0, 0, 10, 10), (20, 20, 30, 30), (50, 50, 60, 60)


def _eval(args: list[str]) -> int:
    from workbench.cli import main

    return main(["eval", *args])


def _devkit_line(image_id: str, score: float, box) -> str:
    x1, y1, x2, y2 = box
    return f"{image_id} {score} {x1 + 1:g} {y1 + 1:g} {x2:g} {y2:g}\n"


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """Two 64x64 images with VOC XML: a: cat A, cat B, dog C (difficult); b: cat A; c: no XML."""
    import cv2

    from workbench.core.voc import write_annotation

    images = tmp_path / "images"
    images.mkdir()
    for stem in ("a", "b", "c"):
        cv2.imwrite(str(images / f"{stem}.png"), np.zeros((64, 64, 3), np.uint8))
    write_annotation(Annotation("a.png", objects=(
        VocObject("cat", A), VocObject("cat", B), VocObject("dog", C, difficult=True))),
        images / "a.xml")
    write_annotation(Annotation("b.png", objects=(VocObject("cat", A),)), images / "b.xml")
    return images


def _basic_devkit(folder: Path) -> Path:
    # the hand-computed case of tests/core/test_metrics_voc.py: VOC07 0.745454…, VOC 0.733333…
    folder.mkdir()
    (folder / "comp4_det_test_cat.txt").write_text(
        _devkit_line("a", 0.9, A) + _devkit_line("a", 0.8, A) + _devkit_line("b", 0.7, C)
        + _devkit_line("b", 0.6, A) + _devkit_line("a", 0.5, B)
        + _devkit_line("c", 0.99, A))  # image without XML: not evaluated
    (folder / "comp4_det_test_dog.txt").write_text(_devkit_line("a", 0.4, C))
    return folder


def test_table_with_devkit_results(small_project: Path, tmp_path: Path, capsys) -> None:
    results = _basic_devkit(tmp_path / "res")
    assert _eval([str(small_project), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["cat"] == ["cat", "3", "5", "0.7455", "0.7333", rows["cat"][-1]]
    assert rows["dog"] == ["dog", "0", "1", "n/a", "n/a", "n/a"]
    assert "VOC2007 11-point AP@IoU0.5: mAP 0.7455" in out
    assert "VOC2010+ all-point AP@IoU0.5: mAP 0.7333" in out
    assert "COCO AP@[.5:.95] (101-point, maxDets 100): mAP " in out
    assert "APm n/a  APl n/a" in out  # every object is small (10 x 10 px)
    assert "2 images" in out


def test_json_in_a_subprocess(small_project: Path, tmp_path: Path) -> None:
    results = _basic_devkit(tmp_path / "res")
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "eval", str(small_project), "--results",
         str(results), "--metric", "all", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert sorted(doc) == ["coco", "voc", "voc07"]
    assert doc["voc07"]["map"] == pytest.approx(8.2 / 11)
    assert doc["voc07"]["per_class"] == {"cat": pytest.approx(8.2 / 11)}
    assert doc["voc"]["per_class"] == {"cat": pytest.approx(1 / 3 + 0.4)}
    assert sorted(doc["coco"]) == ["map", "map50", "map75", "map_large", "map_medium",
                                   "map_small"]
    assert doc["coco"]["map_medium"] is None and doc["coco"]["map_large"] is None
    # the COCO numbers are those of the same detections evaluated directly
    gt = {"a": Annotation("a.png", objects=(VocObject("cat", A), VocObject("cat", B),
                                             VocObject("dog", C, difficult=True))),
          "b": Annotation("b.png", objects=(VocObject("cat", A),))}
    from workbench.core.results import read_results

    dets = [d for d in read_results(results) if d.image_id != "c"]
    assert doc["coco"]["map"] == pytest.approx(evaluate_coco(gt, dets).map, abs=1e-12)


def test_single_metric_strict_and_iou(small_project: Path, tmp_path: Path, capsys) -> None:
    results = tmp_path / "res"
    results.mkdir()
    (results / "comp4_det_test_cat.txt").write_text(_devkit_line("b", 0.9, (0, 0, 10, 5)))
    assert _eval([str(small_project), "--results", str(results), "--metric", "voc",
                  "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["voc"]
    assert doc["voc"]["per_class"] == {"cat": pytest.approx(1 / 3)}  # IoU exactly 0.5
    assert _eval([str(small_project), "--results", str(results), "--metric", "voc",
                  "--strict", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["voc"]["per_class"] == {"cat": 0.0}
    assert _eval([str(small_project), "--results", str(results), "--metric", "voc07",
                  "--iou", "0.4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["voc07"]["map"] == pytest.approx(
        (4 * 1.0) / 11)  # recall 1/3 at precision 1


def test_coco_results_json(small_project: Path, tmp_path: Path, capsys) -> None:
    gt = {"a": Annotation("a.png", objects=(VocObject("cat", A), VocObject("cat", B),
                                             VocObject("dog", C, difficult=True))),
          "b": Annotation("b.png", objects=(VocObject("cat", A),))}
    from workbench.core.detections import ImageDetections

    dets = [ImageDetections("a", [[0, 0, 10, 9], [20, 20, 31, 30]], [0.8, 0.7], ["cat", "cat"]),
            ImageDetections("b", [[1, 0, 10, 10]], [0.9], ["cat"])]
    coco_results = to_coco(gt, dets)[1]  # ids: images a=1, b=2; classes cat=1, dog=2
    (tmp_path / "res.json").write_text(json.dumps(coco_results))
    assert _eval([str(small_project), "--results", str(tmp_path / "res.json"), "--metric",
                  "coco", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = evaluate_coco(gt, dets)
    assert doc["coco"]["map"] == pytest.approx(expected.map, abs=1e-12)
    assert doc["coco"]["map50"] == pytest.approx(1.0, abs=1e-12)


def test_write_coco_ground_truth_and_use_its_ids(small_project: Path, tmp_path: Path,
                                                  capsys) -> None:
    gt_json = tmp_path / "gt.json"
    assert _eval([str(small_project), "--write-coco-gt", str(gt_json)]) == 0
    assert "COCO ground truth of 2 images written" in capsys.readouterr().out
    doc = json.loads(gt_json.read_text())
    assert [(im["id"], im["file_name"]) for im in doc["images"]] == [(1, "a"), (2, "b")]
    assert [(c["id"], c["name"]) for c in doc["categories"]] == [(1, "cat"), (2, "dog")]
    assert [a["iscrowd"] for a in doc["annotations"]] == [0, 0, 1, 0]
    assert doc["annotations"][1]["bbox"] == [20.0, 20.0, 10.0, 10.0]
    # results in those ids, renumbered through --coco-gt: image 2 → 7, cat 1 → 5
    doc["images"][1]["id"], doc["categories"][0]["id"] = 7, 5
    gt_json.write_text(json.dumps(doc))
    (tmp_path / "res.json").write_text(json.dumps([
        {"image_id": 7, "category_id": 5, "bbox": [0, 0, 10, 10], "score": 0.9}]))
    assert _eval([str(small_project), "--results", str(tmp_path / "res.json"), "--coco-gt",
                  str(gt_json), "--metric", "voc", "--json"]) == 0
    # one TP on b's cat of 3 cats: all-point AP 1/3
    assert json.loads(capsys.readouterr().out)["voc"]["per_class"] == {
        "cat": pytest.approx(1 / 3)}


def test_errors_exit_2(small_project: Path, tmp_path: Path, capsys) -> None:
    assert _eval([str(small_project), "--results", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "comp4_det_test_cat.txt").write_text("a 0.5 1 2\n")
    assert _eval([str(small_project), "--results", str(bad)]) == 2
    assert "comp4_det_test_cat.txt:1" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _eval([str(empty), "--results", str(bad)]) == 2
    assert "no image has a readable VOC XML" in capsys.readouterr().err
    assert _eval([str(small_project)]) == 2
    assert "one of --checkpoint, --results" in capsys.readouterr().err


def test_raccoon_perfect_and_perturbed(raccoon_dir: Path, tmp_path: Path, capsys) -> None:
    from workbench.cli.eval import load_ground_truth

    _, gt = load_ground_truth(str(raccoon_dir), None)
    assert len(gt) == 200 and sum(len(a.objects) for a in gt.values()) == 217
    rng = np.random.default_rng(0)
    perfect, noisy = tmp_path / "perfect", tmp_path / "noisy"
    perfect.mkdir()
    noisy.mkdir()
    p_lines, n_lines = [], []
    for stem, ann in gt.items():
        for o in ann.objects:
            p_lines.append(_devkit_line(stem, 0.9, o.box))
            shift = rng.integers(-25, 26, 4)
            n_lines.append(_devkit_line(stem, round(float(rng.random()), 3),
                                        np.asarray(o.box) + shift))
    (perfect / "comp4_det_test_raccoon.txt").write_text("".join(p_lines))
    (noisy / "comp4_det_test_raccoon.txt").write_text("".join(n_lines))
    assert _eval([str(raccoon_dir), "--results", str(perfect), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["voc07"]["map"] == 1.0 and doc["voc"]["map"] == 1.0
    assert doc["coco"]["map"] == pytest.approx(1.0, abs=1e-12)
    assert _eval([str(raccoon_dir), "--results", str(noisy), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    from workbench.core.results import read_results

    dets = read_results(noisy)
    assert doc["voc07"]["map"] == pytest.approx(evaluate_voc(gt, dets).map, abs=1e-12)
    assert doc["voc"]["map"] == pytest.approx(
        evaluate_voc(gt, dets, use_07_metric=False).map, abs=1e-12)
    assert doc["coco"]["map"] == pytest.approx(evaluate_coco(gt, dets).map, abs=1e-12)
    assert 0.2 < doc["voc07"]["map"] < 0.99 and not math.isnan(doc["coco"]["map"])


def _detections_helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", ROOT / "tests" / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_checkpoint_equals_its_detections_evaluated(tmp_path: Path, capsys) -> None:
    from workbench.core.project import Project
    from workbench.core.voc import write_annotation
    from workbench.engine.inference import predict_project
    from workbench.engine.postprocess import PostprocessSettings

    helpers = _detections_helpers()
    images = tmp_path / "images"
    images.mkdir()
    ckpt, paths = helpers.make_checkpoint(images)  # saved postprocess: score .2, top-k 7
    for i, path in enumerate(paths):
        _, box, label = helpers._scene(i)
        write_annotation(Annotation(path.name, objects=(VocObject(
            helpers.CLASSES[label - 1], tuple(float(v) for v in box)),)), path.with_suffix(".xml"))
    project = Project.open(images)
    gt = {e.image_id: project.load(e)[0] for e in project.entries}
    saved = PostprocessSettings(score_threshold=0.2, nms_iou=0.5, top_k=7)

    # default: the evaluation setting (score > 0.01, top 100) with the checkpoint's NMS IoU
    assert _eval([str(images), "--checkpoint", str(ckpt), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    dets = predict_project(ckpt, project, settings=saved.replace(score_threshold=0.01,
                                                                 top_k=100))
    assert sum(len(d) for d in dets) > sum(min(len(d), 7) for d in dets)  # more than top-7
    assert doc["voc07"]["map"] == pytest.approx(evaluate_voc(gt, dets).map, abs=1e-12)
    assert doc["voc"]["map"] == pytest.approx(
        evaluate_voc(gt, dets, use_07_metric=False).map, abs=1e-12)
    assert doc["coco"]["map"] == pytest.approx(evaluate_coco(gt, dets).map, abs=1e-12)

    # --checkpoint-settings: exactly what `workbench detect` shows
    assert _eval([str(images), "--checkpoint", str(ckpt), "--checkpoint-settings",
                  "--metric", "voc07", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    shown = predict_project(ckpt, project)
    assert doc["voc07"]["map"] == pytest.approx(evaluate_voc(gt, shown).map, abs=1e-12)

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert _eval([str(images), "--checkpoint", str(broken)]) == 2
    assert "broken.pt" in capsys.readouterr().err
