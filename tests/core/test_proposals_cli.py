"""``workbench proposals`` JSON shape and values on a real photo and its XML."""

from __future__ import annotations

import json

import pytest

from workbench.cli import main as cli_main


def test_proposals_cli_json(raccoon_dir, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    image = raccoon_dir / "images" / "raccoon-1.jpg"
    xml = raccoon_dir / "annotations" / "raccoon-1.xml"
    assert cli_main(["proposals", str(image), "--annotations", str(xml), "--json",
                     "--top", "50", "--min-area", "0.05"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"count", "seconds", "recall", "mabo"}
    assert set(doc["recall"]) == {"0.5", "0.7"}
    assert doc["count"] == 50
    assert doc["recall"]["0.5"] == 1.0
    assert 0.5 < doc["mabo"] <= 1.0
    assert 0 < doc["seconds"] < 30


def test_proposals_cli_without_xml_and_bad_input(tmp_path, capsys) -> None:  # noqa: ANN001
    import cv2
    import numpy as np

    img = np.full((60, 80, 3), 120, np.uint8)
    img[10:40, 10:50] = (0, 0, 255)
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), img)
    assert cli_main(["proposals", str(path), "--json", "--mode", "single"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["recall"] == {"0.5": None, "0.7": None} and doc["mabo"] is None
    assert doc["count"] >= 1
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert cli_main(["proposals", str(bad)]) == 2
    assert "bad.jpg: unreadable image" in capsys.readouterr().err
