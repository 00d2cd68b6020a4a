"""R-CNN and Fast R-CNN on selective-search proposals (engine.classic_models / classic_base)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.core import models as catalog
from workbench.core import proposal_cache
from workbench.core.proposal_labels import encode_offsets
from workbench.engine.detectors import build_detector, detector_names, get_spec, set_postprocess
from workbench.engine.postprocess import PostprocessSettings, postprocess

torch.set_num_threads(1)
CLASSICS = ("rcnn_ss", "fast_rcnn_ss")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A fresh proposal cache per test, and a count of the selective-search runs."""
    monkeypatch.setenv("WORKBENCH_PROPOSAL_CACHE", str(tmp_path / "proposals"))
    runs: list[int] = []
    real = proposal_cache.selective_search

    def counting(*args, **kwargs):  # noqa: ANN202
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(proposal_cache, "selective_search", counting)
    return runs


def _scene() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    img = torch.randint(100, 140, (3, 80, 96), generator=g).float()
    img[:, 20:50, 30:70] = torch.tensor([220.0, 30.0, 30.0])[:, None, None]
    img[:, 55:75, 5:25] = torch.tensor([30.0, 30.0, 220.0])[:, None, None]
    return img / 255.0


TARGET = {"boxes": torch.tensor([[30.0, 20.0, 70.0, 50.0], [5.0, 55.0, 25.0, 75.0]]),
          "labels": torch.tensor([1, 2])}


def test_catalog_and_registry_list_both() -> None:
    for name, family in zip(CLASSICS, ("rcnn", "fast_rcnn")):
        entry = catalog.get_model(name)
        assert entry.trainable and not entry.has_priors and entry.family == family
        assert name in catalog.trainable_names() and name not in catalog.prior_names()
        assert name in detector_names()
        spec = get_spec(name)
        assert spec.family == family and spec.default_image_size == 320
        assert spec.recipe["augmentation"] == "flip" and spec.recipe["optimizer"] == "adamw"
        assert spec.recipe["extra"] == {"fg_iou": 0.5, "bg_iou_lo": 0.1, "rois_per_image": 64,
                                        "fg_fraction": 0.25}
    from workbench.cli.train import MODEL_NAMES

    assert set(CLASSICS) <= set(MODEL_NAMES)


def test_regression_targets_are_torchvisions() -> None:
    from torchvision.models.detection._utils import BoxCoder

    props = np.array([[0.0, 0.0, 10.0, 10.0], [3.0, 4.0, 30.0, 44.0]])
    gt = np.array([[2.0, 4.0, 12.0, 24.0], [1.0, 1.0, 33.0, 40.0]])
    ours = encode_offsets(props, gt)
    theirs = BoxCoder((10.0, 10.0, 5.0, 5.0)).encode_single(
        torch.tensor(gt, dtype=torch.float64), torch.tensor(props, dtype=torch.float64))
    assert ours == pytest.approx(theirs.numpy())


def test_rcnn_warps_with_context_padding() -> None:
    model, _ = build_detector("rcnn_ss", 3, image_size=128)
    padded = model.with_context(torch.tensor([[10.0, 10.0, 58.0, 58.0]]))
    assert padded.tolist() == [[2.0, 2.0, 66.0, 66.0]]  # 48 px box -> 64 px: 8 px each side
    image = torch.zeros(1, 3, 100, 100)
    image[:, 0, 10:58, 10:58] = 1.0
    crop = model.warp(image, [torch.tensor([[10.0, 10.0, 58.0, 58.0]])])
    assert crop.shape == (1, 3, 64, 64)
    assert float(crop[0, 0, 12:52, 12:52].min()) == 1.0  # the box fills the middle 48 px
    assert float(crop[0, 0, :6, :].max()) == 0.0 and float(crop[0, 1:].abs().max()) == 0.0


def test_fast_rcnn_pools_7x7_from_stride_16() -> None:
    model, _ = build_detector("fast_rcnn_ss", 3, image_size=128)
    features = torch.arange(2 * 8 * 8, dtype=torch.float32).reshape(1, 2, 8, 8)
    pooled = model.pooled(features, [torch.tensor([[0.0, 0.0, 127.0, 127.0]])])
    assert pooled.shape == (1, 2, 7, 7)
    assert float(pooled[0, 0].max()) == 63.0 and float(pooled[0, 1, 6, 6]) == 127.0


@pytest.mark.parametrize("name", CLASSICS)
def test_proposals_come_from_the_cache_after_the_first_pass(name: str, _own_cache) -> None:
    model, _ = build_detector(name, 3, image_size=128)
    model.train()
    image = _scene()
    batch = [image, image.flip(-1)]  # the "flip" recipe: two versions of an image
    losses = model(batch, [TARGET, TARGET])
    assert set(losses) == {"loss_classifier", "loss_box_reg"}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert len(_own_cache) == 2 and model.proposals.cache.misses == 2
    model(batch, [TARGET, TARGET])  # the next epoch: no selective search at all
    model.eval()
    with torch.no_grad():
        model([image])
    assert len(_own_cache) == 2
    assert (model.proposals.cache.hits, model.proposals.cache.misses) == (3, 2)
    entries = list((Path(model.proposals.cache.root)).glob("??/*.npz"))
    assert len(entries) == 2


def test_sampling_settings_come_from_the_recipe() -> None:
    model, _ = build_detector("fast_rcnn_ss", 3, image_size=128)
    model.configure_training({"rois_per_image": 8, "fg_fraction": 0.5, "train_proposals": 50,
                              "other": 1})
    assert (model.sampling.rois_per_image, model.sampling.fg_fraction) == (8, 0.5)
    assert model.sampling.fg_iou == 0.5 and model.train_proposals == 50
    seen: list[int] = []
    real = model.score_rois
    model.score_rois = lambda images, rois: (seen.extend(len(r) for r in rois),  # type: ignore
                                             real(images, rois))[1]
    model.train()
    model([_scene()], [TARGET])
    assert seen == [8]


@pytest.mark.parametrize("name", CLASSICS)
def test_raw_candidates_give_the_models_own_detections(name: str) -> None:
    from workbench.engine.inference import RawDetector

    torch.manual_seed(0)
    model, _ = build_detector(name, 3, image_size=128)
    model.eval()
    image = (_scene() * 255).round().byte().permute(1, 2, 0).numpy()
    settings = PostprocessSettings(score_threshold=0.3, nms_iou=0.5, top_k=7)
    set_postprocess(model, score_threshold=0.3, nms_iou=0.5, top_k=7)
    with torch.no_grad():
        own = model([torch.from_numpy(image).permute(2, 0, 1).float() / 255.0])[0]
    assert 0 < len(own["boxes"]) <= 7
    detector = RawDetector(model, ("red", "blue"), settings=settings, device="cpu")
    raw = detector.raw_for_array(image)
    assert len(raw) > len(own["boxes"]) and float(raw.scores.min()) > 0.001
    kept = torch.as_tensor(postprocess(raw, settings).kept)
    assert torch.equal(raw.labels[kept], own["labels"])
    assert torch.allclose(raw.boxes[kept], own["boxes"])
    assert torch.allclose(raw.scores[kept], own["scores"])


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSICS)
def test_cli_training_checkpoint_eval_and_raw(name: str, tmp_path: Path, write_tiny_voc,
                                              _own_cache) -> None:
    from workbench.cli import main
    from workbench.engine.checkpoint import load_checkpoint
    from workbench.engine.evaluate import evaluate_detector
    from workbench.engine.inference import RawDetector
    from workbench.engine.snapshot import take_snapshot

    root = tmp_path / "tiny"
    write_tiny_voc(root, n_images=6)
    out = tmp_path / "run"
    rc = main(["train", str(root / "images"), "--annotations", str(root / "annotations"),
               "--model", name, "--epochs", "2", "--batch-size", "2", "--image-size", "128",
               "--max-steps-per-epoch", "2", "--augment", "none", "--device", "cpu",
               "--out", str(out)])
    assert rc == 0
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    kinds = [e.get("type") for e in events]
    assert kinds.count("epoch") == 2 and kinds.count("checkpoint") == 2
    steps = [e for e in events if e.get("type") == "step"]
    assert len(steps) == 4 and set(steps[0]["losses"]) == {"loss_classifier", "loss_box_reg"}
    # every image searched once (epoch 1 + its evaluation); epoch 2 read them all from the cache
    assert len(_own_cache) == 6
    model, ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["model_name"] == name and ckpt["detector"]["family"] == get_spec(name).family
    assert ckpt["config"]["extra"]["rois_per_image"] == 64
    data = take_snapshot(root / "images", root / "annotations")
    result = evaluate_detector(model, list(data.train) + list(data.val), data.classes,
                               torch.device("cpu"))
    assert result.num_images == 6 and 0.0 <= result.map_voc07 <= 1.0
    assert len(_own_cache) == 6
    detector = RawDetector.from_checkpoint(out / "last.pt", device="cpu")
    image = next((root / "images").glob("*.png"))
    raw = detector.raw(image)
    assert detector.forward_images == 1 and raw.image_size == (96, 80)
    assert len(detector.detect(image).boxes) <= ckpt["postprocess"]["top_k"]


# tracing is how an export starts (torch.onnx.export with dynamo=False); torch >= 2.9 calls it
# deprecated, which is not what this test is about
@pytest.mark.filterwarnings("ignore:`torch.jit.trace` is deprecated:FutureWarning")
def test_export_is_refused_with_the_reason() -> None:
    model, _ = build_detector("fast_rcnn_ss", 3, image_size=128)
    model.eval()
    with pytest.raises(RuntimeError, match="selective search .* cannot be exported"):
        torch.jit.trace(lambda x: model([x])[0]["boxes"], (_scene(),))
