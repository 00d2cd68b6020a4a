"""``workbench eval --score`` (operating point, confusion matrix, per image, per size) and
``--compare`` of checkpoints (issue 15), through the CLI's main function on real tiny files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.core.annotation import Annotation, VocObject

CAT_A, DOG_B, CAT_DIFF, DOG_D = (0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10), (60, 0, 70, 10)


def _eval(args: list[str]) -> int:
    from workbench.cli import main

    return main(["eval", *args])


def _line(image_id: str, score: float, box: tuple[int, int, int, int]) -> str:
    x1, y1, x2, y2 = box
    return f"{image_id} {score} {x1 + 1} {y1 + 1} {x2} {y2}\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The hand case of tests/core/test_error_analysis.py as files: a (found cat, duplicate,
    cat box on a dog, cat on a difficult cat, found dog), b empty, c no objects + one dog
    detection, d a missed cat."""
    import cv2

    from workbench.core.voc import write_annotation

    images = tmp_path / "images"
    images.mkdir()
    objects = {
        "a": (VocObject("cat", CAT_A), VocObject("dog", DOG_B),
              VocObject("cat", CAT_DIFF, difficult=True), VocObject("dog", DOG_D)),
        "b": (), "c": (), "d": (VocObject("cat", CAT_A),)}
    for stem, objs in objects.items():
        cv2.imwrite(str(images / f"{stem}.png"), np.full((32, 96, 3), 90, np.uint8))
        write_annotation(Annotation(f"{stem}.png", objects=objs), images / f"{stem}.xml")
    return images


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / "comp4_det_test_cat.txt").write_text(
        _line("a", 0.9, CAT_A) + _line("a", 0.8, CAT_A) + _line("a", 0.7, DOG_B)
        + _line("a", 0.6, CAT_DIFF))
    (folder / "comp4_det_test_dog.txt").write_text(_line("a", 0.3, DOG_D)
                                                   + _line("c", 0.5, (0, 0, 5, 5)))
    return folder


def test_score_adds_the_issue_keys(project: Path, results: Path, capsys) -> None:
    assert _eval([str(project), "--results", str(results), "--score", "0.5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(doc) == ["coco", "confusion", "operating_point", "per_image", "per_size",
                           "voc", "voc07"]
    assert doc["operating_point"] == {"score": 0.5, "iou": 0.5, "precision": 0.25,
                                      "recall": 0.25, "f1": 0.25, "tp": 1, "fp": 3, "fn": 3,
                                      "chosen": "score"}
    assert doc["confusion"] == {"labels": ["cat", "dog", "background"],
                                "matrix": [[1, 0, 1], [1, 0, 1], [1, 1, 0]]}
    assert doc["per_image"] == [{"image": "a", "tp": 1, "fp": 2, "fn": 2},
                                {"image": "b", "tp": 0, "fp": 0, "fn": 0},
                                {"image": "c", "tp": 0, "fp": 1, "fn": 0},
                                {"image": "d", "tp": 0, "fp": 0, "fn": 1}]
    assert sorted(doc["per_size"]) == ["large", "medium", "small"]
    assert doc["per_size"]["small"]["ap"] == pytest.approx(doc["coco"]["map_small"])
    assert doc["per_size"]["large"] == {"ap": None, "per_class": {}}
    assert set(doc["per_size"]["small"]["per_class"]) == {"cat", "dog"}


def test_bare_score_is_the_best_f1_point_and_metric_voc_still_gets_per_size(
        project: Path, results: Path, capsys) -> None:
    assert _eval([str(project), "--results", str(results), "--metric", "voc", "--iou", "0.5",
                  "--json", "--score"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["voc", "operating_point", "confusion", "per_image", "per_size"]
    point = doc["operating_point"]
    assert (point["chosen"], point["score"], point["tp"], point["fp"], point["fn"]) == \
        ("best_f1", 0.3, 2, 3, 2)
    assert point["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert doc["confusion"]["matrix"] == [[1, 0, 1], [1, 1, 0], [1, 1, 0]]
    assert _eval([str(project), "--results", str(results), "--json", "--score", "best"]) == 0
    assert json.loads(capsys.readouterr().out)["operating_point"] == point


def test_json_without_score_is_unchanged(project: Path, results: Path, capsys) -> None:
    assert _eval([str(project), "--results", str(results), "--metric", "voc07", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["voc07"]


def test_table_prints_the_operating_point_and_the_matrix(project: Path, results: Path,
                                                         capsys) -> None:
    assert _eval([str(project), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert ("operating point (best F1; VOC class-aware, IoU >= 0.5): score >= 0.3  "
            "precision 0.4000  recall 0.5000  F1 0.4444  TP 2  FP 3  FN 2") in out
    assert "| truth \\ predicted | cat | dog | background |" in out
    assert "| cat               |   1 |   0 |          1 |" in out
    assert "| dog               |   1 |   1 |          0 |" in out
    assert "| background        |   1 |   1 |          0 |" in out
    assert "COCO AP@[.5:.95] by object size" in out and "medium n/a" in out
    worst = [line.split()[1] for line in out.splitlines() if line.startswith("- ")]
    assert worst == ["a", "c", "d"]  # FP + FN 3, then 1 with worst score .5, then 1
    # d has a miss and no FP: no "worst FP score 0.000"
    (d_line,) = [line for line in out.splitlines() if line.startswith("- d ")]
    assert d_line.endswith("worst FP score -"), d_line
    assert _eval([str(project), "--results", str(results), "--score", "0.95"]) == 0
    out = capsys.readouterr().out
    assert "operating point (--score; VOC class-aware, IoU >= 0.5): score >= 0.95" in out
    assert "| cat               |   0 |   0 |          2 |" in out


def test_bad_score_and_compare_with_one_checkpoint(project: Path, results: Path, tmp_path: Path,
                                                   capsys) -> None:
    with pytest.raises(SystemExit) as info:
        _eval([str(project), "--results", str(results), "--score", "high"])
    assert info.value.code == 2
    assert "not a number or 'best': 'high'" in capsys.readouterr().err
    assert _eval([str(project), "--compare", str(tmp_path / "one.pt")]) == 2
    assert "--compare needs at least two checkpoints" in capsys.readouterr().err
    # a missing checkpoint is named before any run starts (the first one is not run)
    first = tmp_path / "first.pt"
    first.write_bytes(b"not a checkpoint either, and never read")
    assert _eval([str(project), "--compare", str(first), str(tmp_path / "typo.pt")]) == 2
    captured = capsys.readouterr()
    assert f"checkpoint {tmp_path / 'typo.pt'} does not exist" in captured.err
    assert str(first) not in captured.err and captured.out == ""
    assert _eval([str(project), "--results", str(results), "--iou", "1.5"]) == 2
    assert "--iou must be in [0, 1], got 1.5" in capsys.readouterr().err


def _checkpoint(path: Path, seed: int) -> Path:
    """An untrained SSDlite (128 px) whose class head is perturbed by ``seed`` (an untrained
    head scores every class alike), so that two seeds give different detections; ~1 s."""
    import torch

    from workbench.engine.checkpoint import make_checkpoint, save_checkpoint
    from workbench.engine.detectors import build_detector

    torch.manual_seed(seed)
    model, info = build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=128)
    with torch.no_grad():
        for p in model.head.classification_head.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    ckpt = make_checkpoint(model.eval(), info=info, classes=["cat", "dog"], config={},
                           epoch=1, postprocess={"score_threshold": 0.2, "nms_iou": 0.5,
                                                 "top_k": 20})
    return save_checkpoint(ckpt, path)


def test_compare_two_checkpoints(project: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("torchvision")
    a = _checkpoint(tmp_path / "run_a" / "best.pt", 0)
    b = _checkpoint(tmp_path / "run_b" / "best.pt", 1)
    single = []
    for ckpt in (a, b):
        assert _eval([str(project), "--checkpoint", str(ckpt), "--json", "--score"]) == 0
        single.append(json.loads(capsys.readouterr().out))
    assert _eval([str(project), "--compare", str(a), str(b), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["checkpoint"] for r in doc["runs"]] == [str(a), str(b)]
    for run, ref in zip(doc["runs"], single):
        for metric in ("voc07", "voc"):
            assert run[metric] == ref[metric]
        assert run["coco"]["map"] == ref["coco"]["map"]
        assert run["operating_point"] == ref["operating_point"]
    (diff,) = doc["differences"]
    assert diff["checkpoint"] == str(b)
    assert single[0]["voc07"] != single[1]["voc07"]  # the two runs differ
    assert diff["voc07"]["map"] == pytest.approx(single[1]["voc07"]["map"]
                                                 - single[0]["voc07"]["map"])
    assert diff["voc"]["per_class"]["cat"] == pytest.approx(
        single[1]["voc"]["per_class"]["cat"] - single[0]["voc"]["per_class"]["cat"])
    assert diff["f1"] == pytest.approx(single[1]["operating_point"]["f1"]
                                       - single[0]["operating_point"]["f1"])

    assert _eval([str(project), "--compare", str(a), str(b), "--metric", "voc07"]) == 0
    out = capsys.readouterr().out
    assert f"[1] {a}" in out and f"[2] {b}" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["metric"] == ["metric", "[1]", "[2]", "[2]-[1]"]
    m1, m2 = single[0]["voc07"]["map"], single[1]["voc07"]["map"]
    assert rows["VOC07"] == ["VOC07", "mAP", f"{m1:.4f}", f"{m2:.4f}", f"{m2 - m1:+.4f}"]
    c1, c2 = single[0]["voc07"]["per_class"]["cat"], single[1]["voc07"]["per_class"]["cat"]
    assert rows["cat"] == ["cat", f"{c1:.4f}", f"{c2:.4f}", f"{c2 - c1:+.4f}"]
    assert "per-class VOC07 AP" in out
