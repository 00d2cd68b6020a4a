"""A tiny real checkpoint for the detections tests (engine, GUI, CLI), built in seconds.

Not a test module: the detections tests load this file by path (tests are not a package under
``--import-mode=importlib``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

CLASSES = ["cat", "dog"]


def _scene(i: int) -> tuple[np.ndarray, list[float], int]:
    rng = np.random.default_rng(i)
    img = (rng.random((96, 128, 3)) * 70).astype(np.uint8)
    x1, y1 = 8 + 14 * i, 6 + 5 * i
    img[y1:y1 + 40, x1:x1 + 50] = (220, 60, 40) if i % 2 == 0 else (40, 90, 230)
    return img, [x1, y1, x1 + 50, y1 + 40], 1 + i % 2


def make_checkpoint(root: Path, steps: int = 12) -> tuple[Path, list[Path]]:
    """A tiny SSDlite (128 px) trained a few steps so that its scores vary, and 4 images."""
    from workbench.engine.checkpoint import make_checkpoint as make, save_checkpoint
    from workbench.engine.detectors import build_detector

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model, info = build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=128)
    images, targets, paths = [], [], []
    for i in range(4):
        img, box, label = _scene(i)
        paths.append(root / f"scene_{i}.png")
        Image.fromarray(img).save(paths[-1])
        images.append(torch.from_numpy(img).permute(2, 0, 1).float() / 255)
        targets.append({"boxes": torch.tensor([box], dtype=torch.float32),
                        "labels": torch.tensor([label])})
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    for _ in range(steps):
        loss = sum(model(images, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    ckpt = make(model.eval(), info=info, classes=CLASSES, config={}, epoch=1,
                postprocess={"score_threshold": 0.2, "nms_iou": 0.5, "top_k": 7})
    return save_checkpoint(ckpt, root / "tiny.pt"), paths
