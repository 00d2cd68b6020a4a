"""The raw post-processing checks torchvision's ``postprocess_detections`` before replacing it."""

from __future__ import annotations

from typing import Any

import pytest
import torchvision
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.ssd import SSD

from workbench.engine.inference import (
    TorchvisionMismatchError,
    check_postprocess_signature,
    configure_raw,
)


def test_installed_torchvision_matches() -> None:
    check_postprocess_signature(SSD)
    check_postprocess_signature(RoIHeads)


def test_changed_ssd_signature_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed(self: Any, head_outputs: Any, anchors: Any, image_sizes: Any) -> Any:
        raise AssertionError("never called")

    monkeypatch.setattr(SSD, "postprocess_detections", changed)
    with pytest.raises(TorchvisionMismatchError) as info:
        check_postprocess_signature(SSD)
    message = str(info.value)
    assert f"torchvision {torchvision.__version__}" in message
    assert "SSD.postprocess_detections takes (self, head_outputs, anchors, image_sizes)" in message
    assert "expected (self, head_outputs, image_anchors, image_shapes)" in message


def test_configure_raw_refuses_before_patching(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.engine.demo_model import build_demo_ssdlite

    model = build_demo_ssdlite(3, 128)

    def extra(self: Any, class_logits: Any, box_regression: Any, proposals: Any,
              image_shapes: Any, scale: float = 1.0) -> Any:
        raise AssertionError("never called")

    monkeypatch.setattr(RoIHeads, "postprocess_detections", extra)
    check_postprocess_signature(SSD)  # SSD itself is untouched
    with pytest.raises(TorchvisionMismatchError, match="RoIHeads.postprocess_detections"):
        check_postprocess_signature(RoIHeads)

    monkeypatch.setattr(SSD, "postprocess_detections", lambda self, outputs: outputs)
    with pytest.raises(TorchvisionMismatchError, match=r"takes \(self, outputs\)"):
        configure_raw(model)
    assert "postprocess_detections" not in vars(model)  # nothing was patched
