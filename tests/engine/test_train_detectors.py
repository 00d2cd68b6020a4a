"""Detector registry, pretrained-weights resolution (no downloads) and checkpoint round trips."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from workbench.engine import checkpoint as ck
from workbench.engine.detectors import build_detector, detector_names, get_spec
from workbench.engine.events import CheckpointError, ConfigError, WeightsError

torch.set_num_threads(1)


def test_registry_lists_the_six_torchvision_detectors() -> None:
    names = detector_names()
    for n in ("ssd300_vgg16", "ssdlite320_mobilenet_v3_large", "fasterrcnn_resnet50_fpn",
              "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
              "fasterrcnn_mobilenet_v3_large_320_fpn"):
        assert n in names
    assert get_spec("ssd300_vgg16").family == "ssd"
    with pytest.raises(ConfigError, match="unknown model 'yolo'"):
        get_spec("yolo")


def test_ssdlite_sized_to_classes_and_image_size() -> None:
    model, info = build_detector("ssdlite320_mobilenet_v3_large", 4, image_size=128)
    assert info["image_size"] == 128 and info["weights_kind"] == "none"
    assert model.transform.fixed_size == (128, 128)
    model.eval()
    with torch.no_grad():
        out = model([torch.rand(3, 90, 110)])[0]
    assert out["boxes"].shape[1] == 4
    # the classification head predicts 4 classes (3 + background) per prior
    assert model.head.classification_head.num_columns == 4


def test_image_size_below_minimum_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least 268 px"):
        build_detector("ssd300_vgg16", 3, image_size=200)


def test_hub_request_without_cache_trains_from_scratch(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    _, info = build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=96, weights="hub")
    assert info["weights_kind"] == "none"
    assert "no pretrained weights found in the torch hub cache" in info["weights_message"]
    assert "ssdlite320_mobilenet_v3_large_coco" in info["weights_message"]


def test_detector_weights_file_with_other_class_count_resizes_head(tmp_path: Path) -> None:
    src, _ = build_detector("ssdlite320_mobilenet_v3_large", 6, image_size=96)
    path = tmp_path / "coco_like.pth"
    torch.save(src.state_dict(), path)
    model, info = build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=96,
                                 weights=str(path))
    assert info["weights_kind"] == "detector" and info["weights_source"] == f"file:{path}"
    assert info["reinitialised"], "class-dependent head tensors must be re-initialised"
    assert info["reinitialised"] == [
        f"head.classification_head.module_list.{i}.1.{p}" for i in range(6) for p in ("bias", "weight")
    ]
    key = "backbone.features.0.0.0.weight"
    assert torch.equal(model.state_dict()[key], src.state_dict()[key])


def test_backbone_weights_file_is_served_without_download(tmp_path: Path) -> None:
    from torchvision.models import mobilenet_v3_large

    clf = mobilenet_v3_large()
    path = tmp_path / "mnv3.pth"
    torch.save(clf.state_dict(), path)
    model, info = build_detector("fasterrcnn_mobilenet_v3_large_320_fpn", 3, weights=path)
    assert info["weights_kind"] == "backbone" and info["pretrained_layout"] is True
    assert torch.equal(model.backbone.body["0"][0].weight, clf.features[0][0].weight)


def test_wrong_file_is_a_weights_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="cannot read weights file"):
        build_detector("ssdlite320_mobilenet_v3_large", 3, weights=path)
    with pytest.raises(WeightsError, match="does not exist"):
        build_detector("ssdlite320_mobilenet_v3_large", 3, weights=tmp_path / "absent.pth")


def _checkpoint(model, info, epoch: int = 3) -> dict:
    return ck.make_checkpoint(
        model, info=info, classes=["cat", "dog"], config={"lr": 0.01, "out": Path("/tmp/x")},
        epoch=epoch, global_step=30, postprocess={"score_threshold": 0.3},
        metrics={"map_voc07": 0.5},
    )


def test_checkpoint_round_trip_weights_only(tmp_path: Path) -> None:
    model, info = build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=96)
    path = ck.save_checkpoint(_checkpoint(model, info), tmp_path / "run" / "last.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "workbench-checkpoint/1" and raw["classes"] == ["cat", "dog"]
    assert raw["config"] == {"lr": 0.01, "out": "/tmp/x"} and raw["epoch"] == 3
    loaded, ckpt = ck.load_checkpoint(path)
    assert not loaded.training and ckpt["postprocess"]["score_threshold"] == 0.3
    assert loaded.score_thresh == 0.3 and loaded.transform.fixed_size == (96, 96)
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    assert list(tmp_path.joinpath("run").iterdir()) == [path]  # no temp files left


def test_pretrained_layout_survives_round_trip(tmp_path: Path) -> None:
    model, info = build_detector("fasterrcnn_mobilenet_v3_large_320_fpn", 3,
                                 pretrained_layout=True)
    path = ck.save_checkpoint(_checkpoint(model, info), tmp_path / "a.pt")
    loaded, _ = ck.load_checkpoint(path)
    assert type(loaded.backbone.body["1"].block[0][1]).__name__ == "FrozenBatchNorm2d"


def test_disk_full_keeps_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    model, info = build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=96)
    path = ck.save_checkpoint(_checkpoint(model, info, epoch=1), tmp_path / "last.pt")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match="disk full while saving checkpoint"):
        ck.save_checkpoint(_checkpoint(model, info, epoch=2), path)
    monkeypatch.undo()
    assert ck.read_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_foreign_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    torch.save({"model": {}}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="not a Detection Workbench checkpoint"):
        ck.load_checkpoint(tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        ck.load_checkpoint(tmp_path / "nope.pt")
