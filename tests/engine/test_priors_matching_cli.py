"""``workbench priors --image``: matching counts at editable thresholds (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main as cli_main
from workbench.core.matching import match_priors


def _photo(tmp_path: Path) -> tuple[Path, Path]:
    import cv2

    image = tmp_path / "pic.png"
    cv2.imwrite(str(image), np.full((300, 400, 3), 90, np.uint8))
    xml = tmp_path / "pic.xml"   # beside the image: found without --annotations
    xml.write_text("<annotation><filename>pic.png</filename><size><width>400</width>"
                   "<height>300</height><depth>3</depth></size>"
                   "<object><name>a</name><bndbox><xmin>41</xmin><ymin>31</ymin><xmax>200</xmax>"
                   "<ymax>180</ymax></bndbox></object>"
                   "<object><name>b</name><bndbox><xmin>301</xmin><ymin>201</ymin>"
                   "<xmax>330</xmax><ymax>240</ymax></bndbox></object></annotation>",
                   encoding="utf-8")
    return image, xml


def _expected(model: str, kind: str, high: float, low: float) -> dict:
    from workbench.engine.anchor_extract import extract_priors

    # the priors the detector tiles on a 400x300 photo (Faster R-CNN keeps its aspect ratio)
    priors = extract_priors(model, photo_size=(300, 400))
    gt = np.array([[40, 30, 200, 180], [300, 200, 330, 240]], dtype=np.float64)
    r = match_priors(priors.all_boxes(), gt, kind, positive_threshold=high,
                     negative_threshold=low)
    return {"objects": 2, **r.counts()}


def test_ssd_iou_threshold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, _xml = _photo(tmp_path)
    assert cli_main(["priors", "--model", "ssd300_vgg16", "--image", str(image), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)["matching"]
    assert default == _expected("ssd300_vgg16", "ssd", 0.5, 0.5)
    assert default["ignored"] == 0 and default["positives"] + default["negatives"] == 8732
    assert cli_main(["priors", "--model", "ssd300_vgg16", "--image", str(image), "--json",
                     "--iou-threshold", "0.3"]) == 0
    loose = json.loads(capsys.readouterr().out)["matching"]
    assert loose == _expected("ssd300_vgg16", "ssd", 0.3, 0.3)
    assert loose["positives"] > default["positives"] >= 2
    assert cli_main(["priors", "--model", "ssd300_vgg16", "--image", str(image)]) == 0
    out = capsys.readouterr().out
    assert (f"matching pic.png (2 objects; IoU >= 0.5 positive, < 0.5 negative): "
            f"{default['positives']:,} positives, {default['negatives']:,} negatives") in out


def test_rpn_fg_bg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, xml = _photo(tmp_path)
    model = "fasterrcnn_mobilenet_v3_large_320_fpn"
    assert cli_main(["priors", "--model", model, "--image", str(image), "--annotations",
                     str(xml), "--fg-iou", "0.6", "--bg-iou", "0.2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["matching"]
    assert got == _expected(model, "rpn", 0.6, 0.2)
    assert got["ignored"] > 0
    assert cli_main(["priors", "--model", model, "--image", str(image)]) == 0
    assert "IoU >= 0.7 positive, < 0.3 negative" in capsys.readouterr().out


def test_option_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, _xml = _photo(tmp_path)
    assert cli_main(["priors", "--model", "ssd300_vgg16", "--iou-threshold", "0.4"]) == 2
    assert "need --image" in capsys.readouterr().err
    assert cli_main(["priors", "--model", "ssd300_vgg16", "--image", str(image),
                     "--fg-iou", "0.6"]) == 2
    assert "--iou-threshold" in capsys.readouterr().err
    assert cli_main(["priors", "--model", "fasterrcnn_mobilenet_v3_large_320_fpn", "--image",
                     str(image), "--fg-iou", "0.2", "--bg-iou", "0.5"]) == 2
    assert "thresholds" in capsys.readouterr().err
    lone = tmp_path / "lone.png"
    lone.write_bytes(image.read_bytes())
    assert cli_main(["priors", "--model", "ssd300_vgg16", "--image", str(lone)]) == 2
    assert "no VOC annotation" in capsys.readouterr().err
