"""``build_detector(priors="voc_paper")``: ssd300_vgg16 trains with the SSD paper's VOC priors.

The Priors panel's "SSD300 (paper, VOC)" set and the priors of a model trained with
``--priors voc_paper`` must be the same boxes; torchvision's own ssd300_vgg16 priors (COCO
configuration) must differ from them, and a checkpoint must rebuild with the priors it trained
with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.core.priors import ssd300_paper_priors
from workbench.engine import checkpoint as ck
from workbench.engine.anchor_extract import priors_from_model
from workbench.engine.config import TrainConfig
from workbench.engine.detectors import build_detector
from workbench.engine.events import ConfigError


@pytest.fixture(scope="module")
def paper_model():
    return build_detector("ssd300_vgg16", 3, image_size=300, priors="voc_paper")


def test_trained_priors_are_the_papers(paper_model) -> None:
    model, info = paper_model
    assert info["priors"] == "voc_paper"
    ours = priors_from_model(model, "ssd300_vgg16")
    paper = ssd300_paper_priors()
    assert ours.total == paper.total == 8732
    assert [fm.size for fm in ours.feature_maps] == [fm.size for fm in paper.feature_maps]
    np.testing.assert_allclose(ours.all_boxes(), paper.all_boxes(), atol=1e-3)
    # conv4_3's first prior: scale 0.1 of 300 px = a 30 px square centred on (300/38)/2.
    c = 300 / 38 / 2
    np.testing.assert_allclose(ours.all_boxes()[0], [c - 15, c - 15, c + 15, c + 15], atol=1e-3)


def test_default_stays_torchvision_coco_priors() -> None:
    model, info = build_detector("ssd300_vgg16", 3, image_size=300)
    assert info["priors"] == "torchvision"
    boxes = priors_from_model(model, "ssd300_vgg16").all_boxes()
    # COCO configuration: conv4_3 scale 0.07 = 21 px square at centre 4 (step 8).
    np.testing.assert_allclose(boxes[0], [4 - 10.5, 4 - 10.5, 4 + 10.5, 4 + 10.5], atol=1e-3)
    assert not np.allclose(boxes, ssd300_paper_priors().all_boxes(), atol=1.0)


def test_checkpoint_rebuilds_with_its_priors(paper_model, tmp_path: Path) -> None:
    model, info = paper_model
    ckpt = ck.make_checkpoint(model, info=info, classes=["cat", "dog"], config={}, epoch=1)
    path = ck.save_checkpoint(ckpt, tmp_path / "best.pt")
    loaded, saved = ck.load_checkpoint(path)
    assert saved["detector"]["priors"] == "voc_paper"
    np.testing.assert_allclose(priors_from_model(loaded, "ssd300_vgg16").all_boxes(),
                               ssd300_paper_priors().all_boxes(), atol=1e-3)


def test_voc_paper_priors_refused_for_other_models(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ssd300_vgg16 only"):
        build_detector("ssdlite320_mobilenet_v3_large", 3, priors="voc_paper")
    with pytest.raises(ConfigError, match="priors must be one of"):
        build_detector("ssd300_vgg16", 3, priors="coco")
    with pytest.raises(ConfigError, match="priors must be torchvision or voc_paper"):
        TrainConfig(images_dir=tmp_path, priors="paper")


def test_train_cli_option(tmp_path: Path) -> None:
    from workbench.cli import build_parser
    from workbench.cli.train import _config

    def config(*extra: str):  # noqa: ANN202
        return _config(build_parser().parse_args(
            ["train", str(tmp_path), "--out", str(tmp_path / "r"), *extra]))

    assert config("--model", "ssd300_vgg16").priors == "torchvision"
    assert config("--model", "ssd300_vgg16", "--priors", "voc_paper").priors == "voc_paper"
    with pytest.raises(SystemExit):
        config("--priors", "coco")
