"""ONNX export: onnxruntime's boxes equal torch's; settings and class names travel in the file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _helpers():  # tests/detections_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "detections_helpers", Path(__file__).resolve().parents[1] / "detections_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _helpers()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    from workbench.engine.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("onnx")
    ckpt, images = H.make_checkpoint(root)
    result = export_onnx(ckpt, root / "out" / "tiny.onnx")
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-2
    return ckpt, result.path, images


def test_onnxruntime_boxes_equal_torch(exported: tuple[Path, Path, list[Path]]) -> None:
    from workbench.engine.checkpoint import load_checkpoint
    from workbench.engine.inference import read_image_rgb
    from workbench.engine.onnx_export import run_onnx

    ckpt, onnx_path, images = exported
    model, _ = load_checkpoint(ckpt)
    compared = 0
    for path in images:  # 128x96 images, another size than the export's example
        image = torch.from_numpy(read_image_rgb(path)).permute(2, 0, 1).float() / 255
        boxes, scores, labels = run_onnx(onnx_path, image)
        with torch.inference_mode():
            ref = model([image])[0]
        assert len(boxes) == len(ref["boxes"]) <= 7
        assert (scores > 0.2).all()
        order, ref_order = np.argsort(-scores, kind="stable"), np.arange(len(scores))
        np.testing.assert_allclose(scores[order], ref["scores"].numpy()[ref_order], atol=1e-4)
        np.testing.assert_allclose(boxes[order], ref["boxes"].numpy()[ref_order], atol=1e-2)
        np.testing.assert_array_equal(labels[order], ref["labels"].numpy()[ref_order])
        compared += len(boxes)
    assert compared >= 4


def test_metadata_names_classes_and_settings(exported: tuple[Path, Path, list[Path]]) -> None:
    from workbench.engine.onnx_export import read_metadata

    meta = read_metadata(exported[1])
    assert json.loads(meta["workbench.classes"]) == ["cat", "dog"]
    assert meta["workbench.model_name"] == "ssdlite320_mobilenet_v3_large"
    assert json.loads(meta["workbench.postprocess"]) == {
        "score_threshold": 0.2, "nms_iou": 0.5, "top_k": 7, "class_agnostic": False}


def test_cli_export_onnx_and_class_agnostic_refusal(exported: tuple[Path, Path, list[Path]],
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main
    from workbench.engine.inference import save_settings
    from workbench.engine.onnx_export import read_metadata
    from workbench.engine.postprocess import PostprocessSettings

    ckpt = tmp_path / "agnostic.pt"
    ckpt.write_bytes(exported[0].read_bytes())
    save_settings(ckpt, PostprocessSettings(0.2, 0.5, 7, class_agnostic=True))
    assert main(["export-onnx", str(ckpt), str(tmp_path / "a.onnx")]) == 2
    assert "class-agnostic" in capsys.readouterr().err
    assert not (tmp_path / "a.onnx").exists()
    code = main(["export-onnx", str(ckpt), str(tmp_path / "b.onnx"), "--per-class-nms",
                 "--top-k", "3", "--score", "0.25"])
    assert code == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "onnxruntime matches torch" in out
    assert json.loads(read_metadata(tmp_path / "b.onnx")["workbench.postprocess"]) == {
        "score_threshold": 0.25, "nms_iou": 0.5, "top_k": 3, "class_agnostic": False}
    assert main(["export-onnx", str(tmp_path / "missing.pt"), str(tmp_path / "c.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
