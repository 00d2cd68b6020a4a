"""Re-post-processing the cached raw output equals the torchvision detector's own forward.

Random-weight detectors give many exactly tied scores (e.g. every prior 0.25), and with ties
torchvision's per-class ``topk`` picks an arbitrary member, so the heads here add a fixed,
seeded perturbation to their outputs: the models stay the real torchvision classes with their
real ``postprocess_detections``; only their scores become distinct.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models.detection import (
    fasterrcnn_mobilenet_v3_large_320_fpn,
    ssdlite320_mobilenet_v3_large,
)

from workbench.engine.inference import RawDetector
from workbench.engine.postprocess import PostprocessSettings, postprocess


class _Perturbed(nn.Module):
    """Adds the same seeded noise to every tensor a head returns (deterministic per shape)."""

    def __init__(self, inner: nn.Module, scale: float = 2.0) -> None:
        super().__init__()
        self.inner = inner
        self.scale = scale

    def _noise(self, t: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(1234)
        return t + self.scale * torch.randn(t.shape, generator=g)

    def forward(self, *args: object) -> object:
        out = self.inner(*args)
        if isinstance(out, dict):
            return {k: self._noise(v) for k, v in out.items()}
        return tuple(self._noise(v) for v in out)


def _image() -> np.ndarray:
    yy, xx = np.mgrid[0:200, 0:260]
    return np.stack([xx % 256, yy % 256, (xx * 3 + yy) % 256], -1).astype(np.uint8)


def _set(model: nn.Module, s: PostprocessSettings) -> None:
    target = model.roi_heads if hasattr(model, "roi_heads") else model
    target.score_thresh = s.score_threshold
    target.nms_thresh = s.nms_iou
    target.detections_per_img = s.top_k


SETTINGS = [
    PostprocessSettings(0.2, 0.45, 100),
    PostprocessSettings(0.05, 0.6, 200),
    PostprocessSettings(0.5, 0.3, 10),
    PostprocessSettings(0.01, 0.5, 300),
]


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    ssd = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=4)
    ssd.head = _Perturbed(ssd.head)
    frcnn = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None,
                                                  num_classes=4)
    frcnn.roi_heads.box_predictor = _Perturbed(frcnn.roi_heads.box_predictor, 1.0)
    return {"ssdlite": ssd.eval(), "frcnn": frcnn.eval()}


@pytest.mark.parametrize("name", ["ssdlite", "frcnn"])
def test_postprocess_equals_model_forward(models: dict[str, nn.Module], name: str) -> None:
    torch.set_num_threads(1)
    reference = models[name]
    detector = RawDetector(copy.deepcopy(reference), ["a", "b", "c"], device="cpu")
    image = _image()
    raw = detector.raw_for_array(image)
    assert len(raw) > 300  # nothing suppressed yet
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    compared = 0
    for s in SETTINGS:
        _set(reference, s)
        with torch.inference_mode():
            out = reference([tensor])[0]
        kept = postprocess(raw, s).kept
        assert len(kept) == len(out["scores"]), s
        torch.testing.assert_close(raw.scores[kept], out["scores"])
        torch.testing.assert_close(raw.labels[kept], out["labels"])
        torch.testing.assert_close(raw.boxes[kept], out["boxes"], atol=1e-3, rtol=1e-5)
        compared += len(kept)
    assert compared > 50
    assert detector.forward_images == 1


def test_ssd_keeps_its_per_class_candidate_cap(models: dict[str, nn.Module]) -> None:
    detector = RawDetector(copy.deepcopy(models["ssdlite"]), ["a", "b", "c"], device="cpu")
    assert detector.candidates_per_class == 300  # ssdlite320's topk_candidates
    raw = detector.raw_for_array(_image())
    assert raw.candidates_per_class == 300
    # 3 classes x 300 candidates go into NMS at the lowest threshold.
    res = postprocess(raw, PostprocessSettings(0.001, 1.0, 10_000))
    assert res.n_candidates == len(res.kept) == 900
