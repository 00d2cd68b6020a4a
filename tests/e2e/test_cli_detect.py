"""``workbench detect``: formats, and that --score / --nms / --top-k are honoured."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.core.boxes import iou_matrix


def _helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _helpers()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("detect")
    images = root / "images"
    images.mkdir()
    ckpt, paths = H.make_checkpoint(images)
    moved = root / "tiny.pt"
    ckpt.rename(moved)
    return moved, images


def _detect(args: list[str]) -> int:
    from workbench.cli import main

    return main(["detect", *args])


def _load(out: Path) -> dict[str, list[dict]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


def test_json_uses_checkpoint_settings_by_default(tiny: tuple[Path, Path], tmp_path: Path
                                                  ) -> None:
    ckpt, images = tiny
    assert _detect([str(ckpt), str(images), "--out", str(tmp_path)]) == 0
    results = _load(tmp_path)
    assert sorted(results) == ["scene_0", "scene_1", "scene_2", "scene_3"]
    for dets in results.values():
        assert 1 <= len(dets) <= 7  # checkpoint: top_k 7, score > 0.2
        assert all(d["score"] > 0.2 and d["class"] in {"cat", "dog"} for d in dets)
        assert [d["score"] for d in dets] == sorted((d["score"] for d in dets), reverse=True)
        for d in dets:
            x1, y1, x2, y2 = d["box"]
            assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 96
            assert set(d) == {"class", "score", "box"}


def _max_same_class_iou(dets: list[dict]) -> float:
    worst = 0.0
    for name in {d["class"] for d in dets}:
        boxes = np.asarray([d["box"] for d in dets if d["class"] == name])
        ious = iou_matrix(boxes, boxes)
        upper = ious[np.triu_indices(len(boxes), 1)]
        worst = max(worst, float(upper.max()) if upper.size else 0.0)
    return worst


def test_score_nms_top_k_are_honoured(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, images = tiny
    image = images / "scene_0.png"
    loose = tmp_path / "loose"
    assert _detect([str(ckpt), str(image), "--out", str(loose), "--score", "0.01",
                    "--nms", "1.0", "--top-k", "300"]) == 0
    everything = _load(loose)["scene_0"]
    assert len(everything) == 300  # NMS off: the top-k cap is what stops it
    assert _max_same_class_iou(everything) > 0.6

    nms = tmp_path / "nms"
    assert _detect([str(ckpt), str(image), "--out", str(nms), "--score", "0.01",
                    "--nms", "0.3", "--top-k", "300"]) == 0
    suppressed = _load(nms)["scene_0"]
    assert 0 < len(suppressed) < 300
    assert _max_same_class_iou(suppressed) <= 0.3 + 1e-6

    top = tmp_path / "top"
    assert _detect([str(ckpt), str(image), "--out", str(top), "--score", "0.01",
                    "--nms", "0.3", "--top-k", "3"]) == 0
    assert _load(top)["scene_0"] == suppressed[:3]

    strict = tmp_path / "strict"
    distinct = sorted({d["score"] for d in suppressed})
    mid = len(distinct) // 2
    cut = round((distinct[mid] + distinct[mid + 1]) / 2, 7)  # between two scores
    assert _detect([str(ckpt), str(image), "--out", str(strict), "--score", str(cut),
                    "--nms", "0.3", "--top-k", "300"]) == 0
    assert _load(strict)["scene_0"] == [d for d in suppressed if d["score"] > cut]

    agnostic = tmp_path / "agnostic"
    assert _detect([str(ckpt), str(image), "--out", str(agnostic), "--score", "0.01",
                    "--nms", "0.3", "--top-k", "300", "--class-agnostic"]) == 0
    got = _load(agnostic)["scene_0"]
    boxes = np.asarray([d["box"] for d in got])
    ious = iou_matrix(boxes, boxes)
    assert (ious[np.triu_indices(len(boxes), 1)] <= 0.3 + 1e-6).all()
    assert len(got) < len(suppressed)


def test_devkit_format_is_one_based(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, images = tiny
    assert _detect([str(ckpt), str(images / "scene_1.png"), "--format", "json",
                    "--out", str(tmp_path / "j")]) == 0
    assert _detect([str(ckpt), str(images / "scene_1.png"), "--format", "devkit",
                    "--out", str(tmp_path / "d")]) == 0
    dets = _load(tmp_path / "j")["scene_1"]
    files = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert files == ["comp4_det_test_cat.txt", "comp4_det_test_dog.txt"]
    rows = []
    for name in ("cat", "dog"):
        for line in (tmp_path / "d" / f"comp4_det_test_{name}.txt").read_text().splitlines():
            stem, score, x1, y1, x2, y2 = line.split()
            assert stem == "scene_1"
            rows.append((name, float(score), float(x1), float(y1), float(x2), float(y2)))
    assert len(rows) == len(dets)
    for d in dets:
        x1, y1, x2, y2 = d["box"]
        assert any(r[0] == d["class"] and abs(r[1] - d["score"]) < 1e-5
                   and abs(r[2] - (x1 + 1)) < 0.01 and abs(r[3] - (y1 + 1)) < 0.01
                   and abs(r[4] - x2) < 0.01 and abs(r[5] - y2) < 0.01 for r in rows)


def test_voc_format_writes_scores_and_model_made(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("workbench.core.voc")
    from workbench.core.voc import read_annotation

    ckpt, images = tiny
    assert _detect([str(ckpt), str(images / "scene_2.png"), "--format", "voc",
                    "--out", str(tmp_path)]) == 0
    xml = tmp_path / "scene_2.xml"
    text = xml.read_text()
    assert "<score>" in text
    annotation, problems = read_annotation(xml)
    assert not [p for p in problems if p.severity == "error"]
    assert annotation.filename == "scene_2.png"
    assert (annotation.size.width, annotation.size.height) == (128, 96)
    assert 1 <= len(annotation.objects) <= 7
    assert all(o.model_made and o.score is not None and o.score > 0.2
               for o in annotation.objects)


def test_errors_name_the_problem(tiny: tuple[Path, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    ckpt, images = tiny
    assert _detect([str(ckpt), str(tmp_path / "nope.jpg"), "--out", str(tmp_path)]) == 2
    assert "nope.jpg: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    assert _detect([str(bad), str(images), "--out", str(tmp_path / "o")]) == 2
    assert "bad.pt" in capsys.readouterr().err
    assert _detect([str(ckpt), str(images), "--out", str(tmp_path / "o"), "--nms", "2"]) == 2
    assert "nms_iou" in capsys.readouterr().err


def test_subprocess_help_and_run(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, images = tiny
    proc = subprocess.run([sys.executable, "-m", "workbench", "detect", str(ckpt),
                           str(images / "scene_3.png"), "--out", str(tmp_path), "--top-k", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "[1/1] scene_3.png" in proc.stderr
    assert len(json.loads((tmp_path / "scene_3.json").read_text())) <= 2


def test_absent_device_is_a_clear_error(tiny: tuple[Path, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    ckpt, images = tiny
    assert _detect([str(ckpt), str(images), "--out", str(tmp_path), "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_devkit_results_evaluate_like_the_checkpoint_itself(
        tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """detect --format devkit → eval --results gives the numbers eval --checkpoint
    --checkpoint-settings gives (same saved settings, same boxes, one-based round trip)."""
    from workbench.cli import main
    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.voc import write_annotation

    ckpt, images = tiny
    project = tmp_path / "project"
    project.mkdir()
    for i in range(4):
        (project / f"scene_{i}.png").write_bytes((images / f"scene_{i}.png").read_bytes())
        _img, box, label = H._scene(i)
        write_annotation(Annotation(f"scene_{i}.png", ImageSize(128, 96, 3), (
            VocObject(H.CLASSES[label - 1], tuple(float(v) for v in box)),)),
            project / f"scene_{i}.xml")
    out = tmp_path / "devkit"
    assert _detect([str(ckpt), str(project), "--format", "devkit", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", str(project), "--results", str(out), "--json"]) == 0
    from_files = json.loads(capsys.readouterr().out)
    assert main(["eval", str(project), "--checkpoint", str(ckpt), "--checkpoint-settings",
                 "--device", "cpu", "--json"]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert from_files == direct
    assert direct["voc07"]["per_class"]["cat"] > 0  # a real, non-empty comparison
