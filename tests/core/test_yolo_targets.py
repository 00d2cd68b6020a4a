"""YOLO grid targets (issue 16): literal values on exact binary fractions, conflicts, edges, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main as cli_main
from workbench.core.yolo_targets import format_table, yolo_targets

# 448x448, N = 7: cells of 64x64 px. dog centre (96, 160) -> col 1, row 2, offset (0.5, 0.5),
# size 128x128 = 2x2 cells; cat centre (248, 48) -> col 3 (3.875), row 0 (0.75), 96x64 px.
DOG = (32.0, 96.0, 160.0, 224.0)
CAT = (200.0, 16.0, 296.0, 80.0)


def test_two_box_image_literal_targets() -> None:
    t = yolo_targets(448, 448, [DOG, CAT], ["dog", "cat"], 7)
    assert t.to_json() == {"grid": 7, "width": 448, "height": 448, "cells": [
        {"row": 0, "col": 3, "class": "cat", "pc": 1, "bx": 0.875, "by": 0.75,
         "bw": 1.5, "bh": 1.0, "conflict": False},
        {"row": 2, "col": 1, "class": "dog", "pc": 1, "bx": 0.5, "by": 0.5,
         "bw": 2.0, "bh": 2.0, "conflict": False},
    ]}
    assert [c.index for c in t.cells] == [1, 0] and all(c.kept for c in t.cells)
    assert t.cell_width == 64.0 and t.conflicts == []


def test_non_square_image_uses_cell_width_and_height() -> None:
    # 640x320, N = 4: cells 160x80. Centre (40, 20) -> offsets 0.25; size 80x40 = half a cell.
    (c,) = yolo_targets(640, 320, np.array([[0, 0, 80, 40]]), ["a"], 4).cells
    assert (c.row, c.col, c.bx, c.by, c.bw, c.bh) == (0, 0, 0.25, 0.25, 0.5, 0.5)


def test_two_centres_in_one_cell_are_flagged_and_the_last_is_kept() -> None:
    boxes = [(64, 64, 128, 128),   # centre (96, 96): cell (1, 1), offset (0.5, 0.5), 1x1 cell
             (72, 80, 88, 112),    # centre (80, 96): cell (1, 1), offset (0.25, 0.5)
             (0, 0, 32, 32)]       # centre (16, 16): cell (0, 0), alone
    t = yolo_targets(448, 448, boxes, ["a", "b", "c"], 7)
    rows = [(c.row, c.col, c.class_name, c.bx, c.by, c.bw, c.bh, c.conflict, c.kept)
            for c in t.cells]
    assert rows == [(0, 0, "c", 0.25, 0.25, 0.5, 0.5, False, True),
                    (1, 1, "a", 0.5, 0.5, 1.0, 1.0, True, False),
                    (1, 1, "b", 0.25, 0.5, 0.25, 0.5, True, True)]
    assert [c.class_name for c in t.conflicts] == ["a", "b"]
    table = format_table(t)
    assert "conflict: kept (last)" in table and "conflict: overwritten" in table


def test_centre_on_the_right_and_bottom_edge_goes_to_the_last_cell() -> None:
    # Centre exactly at x = 448 (box half outside): last column, bx = 1.0 (the documented case).
    # A centre beyond the image (x = 480) is clipped to the edge first; its size is unchanged.
    t = yolo_targets(448, 448, [(416, 0, 480, 64), (440, 416, 520, 480), (0, 0, 448, 448)],
                     ["edge", "outside", "whole"], 7)
    got = {c.class_name: (c.row, c.col, c.bx, c.by, c.bw, c.bh) for c in t.cells}
    assert got["edge"] == (0, 6, 1.0, 0.5, 1.0, 1.0)
    assert got["outside"] == (6, 6, 1.0, 1.0, 1.25, 1.0)
    # The whole image: centre (224, 224) = 3.5 cells -> cell (3, 3) at its middle, 7x7 cells.
    assert got["whole"] == (3, 3, 0.5, 0.5, 7.0, 7.0)
    # A centre exactly on an inner grid line belongs to the cell right/below it.
    (c,) = yolo_targets(448, 448, [(0, 0, 128, 128)], ["x"], 7).cells
    assert (c.row, c.col, c.bx, c.by) == (1, 1, 0.0, 0.0)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="grid"):
        yolo_targets(448, 448, [DOG], ["dog"], 0)
    with pytest.raises(ValueError, match="class names"):
        yolo_targets(448, 448, [DOG, CAT], ["dog"], 7)
    assert yolo_targets(448, 448, [], [], 7).cells == ()


def _voc(path: Path, objects: list[tuple[str, tuple[int, int, int, int]]]) -> None:
    objs = "".join(f"<object><name>{n}</name><pose>Unspecified</pose><truncated>0</truncated>"
                   f"<difficult>0</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
                   f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
                   for n, b in objects)
    path.write_text(f"<annotation><folder>images</folder><filename>pic.png</filename>"
                    f"<size><width>448</width><height>448</height><depth>3</depth></size>"
                    f"<segmented>0</segmented>{objs}</annotation>", encoding="utf-8")


def _image(path: Path) -> None:
    import cv2

    cv2.imwrite(str(path), np.full((448, 448, 3), 90, np.uint8))


def test_cli_json_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations").mkdir()
    image = tmp_path / "images" / "pic.png"
    _image(image)
    # VOC 1-based inclusive: xmin = x1 + 1, xmax = x2 (core/boxes.py).
    _voc(tmp_path / "annotations" / "pic.xml", [("dog", (33, 97, 160, 224)),
                                                ("cat", (201, 17, 296, 80))])
    expected = {"grid": 7, "width": 448, "height": 448, "cells": [
        {"row": 0, "col": 3, "class": "cat", "pc": 1, "bx": 0.875, "by": 0.75,
         "bw": 1.5, "bh": 1.0, "conflict": False},
        {"row": 2, "col": 1, "class": "dog", "pc": 1, "bx": 0.5, "by": 0.5,
         "bw": 2.0, "bh": 2.0, "conflict": False}]}
    xml = tmp_path / "annotations" / "pic.xml"
    assert cli_main(["yolo-targets", str(image), "--annotations", str(xml), "--grid", "7",
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected
    # Without --annotations: found in the annotations folder beside images/.
    assert cli_main(["yolo-targets", str(image), "--grid", "7", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected
    assert cli_main(["yolo-targets", str(image), "--grid", "7"]) == 0
    out = capsys.readouterr().out
    assert "448x448 image, 7x7 grid (cells 64x64 px): 2 box(es)" in out
    assert "0.8750" in out and "dog" in out


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "pic.png"
    _image(image)
    assert cli_main(["yolo-targets", str(image), "--grid", "7"]) == 2
    assert "no VOC annotation found" in capsys.readouterr().err
    _voc(tmp_path / "pic.xml", [("dog", (33, 97, 160, 224))])   # beside the image
    assert cli_main(["yolo-targets", str(image), "--grid", "0"]) == 2
    assert cli_main(["yolo-targets", str(image), "--grid", "2", "--json"]) == 0
    (c,) = json.loads(capsys.readouterr().out)["cells"]
    assert (c["row"], c["col"], c["bx"], c["by"]) == (0, 0, 96 / 224, 160 / 224)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert cli_main(["yolo-targets", str(bad), "--grid", "7"]) == 2
