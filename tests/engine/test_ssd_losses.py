"""engine.ssd_losses (issue 16): per-prior confidence losses of an SSD on one image, mined with
core.hard_negatives, give torchvision's own SSD classification loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.core.hard_negatives import mine_hard_negatives
from workbench.engine.detectors import build_detector
from workbench.engine.ssd_losses import prior_confidence_losses


def test_losses_mined_3_to_1_equal_torchvision_compute_loss() -> None:
    torch.manual_seed(0)
    model, _info = build_detector("demo_ssdlite_cpu", 3, image_size=320, weights=None)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    gt = np.array([[50, 60, 150, 200], [200, 20, 300, 120]], dtype=np.float64)
    labels = [1, 2]
    r = prior_confidence_losses(model, rgb, gt, labels)
    keep = mine_hard_negatives(r.background_loss, r.positive, 3.0)
    pos = r.positive
    assert r.num_positive >= 2 and int(keep.sum()) == 3 * r.num_positive
    ours = (r.conf_loss[pos].sum() + r.background_loss[keep].sum()) / r.num_positive
    # torchvision's training loss on the same image (batch norm kept in eval: same logits)
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    image = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0
    with torch.no_grad():
        losses = model([image], [{"boxes": torch.tensor(gt, dtype=torch.float32),
                                  "labels": torch.tensor(labels)}])
    assert ours == pytest.approx(float(losses["classification"]), rel=1e-4)
    # negatives' loss is their loss against background; positives' against their class
    np.testing.assert_array_equal(r.conf_loss[~pos], r.background_loss[~pos])
    assert not np.allclose(r.conf_loss[pos], r.background_loss[pos])


def test_not_an_ssd_is_refused() -> None:
    with pytest.raises(ValueError, match="not an SSD-family detector"):
        prior_confidence_losses(torch.nn.Linear(2, 2), np.zeros((8, 8, 3), np.uint8),
                                np.zeros((0, 4)), [])
