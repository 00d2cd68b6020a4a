"""YOLO in-place writer: unchanged lines byte-identical, edits in place, names appended."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.core.annotation import VocObject
from workbench.core.formats.conventions import yolo_to_xyxy
from workbench.core.formats.yolo_write import (
    add_names_to_classes_txt, add_names_to_yaml, yolo_label_text,
)

W, H = 200, 100
NAMES = ["cat", "dog"]
NAMES_D = {0: "cat", 1: "dog"}


def _objects(text: str) -> list[VocObject]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[0].isdigit():
            out.append(VocObject(NAMES[int(parts[0])],
                                 yolo_to_xyxy(*map(float, parts[1:]), W, H)))
    return out


OLD = "0 0.5 0.5 0.25 0.5\n# a comment\n1 0.250000 0.25000 0.1 0.1\n0 0.1 0.1 0.1 0.1 0.9\n"
# line 4 has 6 values: not a box the reader loads (an error it reports), so it is kept as is


def test_unchanged_annotation_gives_identical_text() -> None:
    text, names = yolo_label_text(OLD, _objects(OLD), NAMES_D, W, H)
    assert text == OLD and names == NAMES_D


def test_edit_one_box_changes_only_its_line() -> None:
    objs = _objects(OLD)
    objs[1] = dataclasses.replace(objs[1], box=(50.0, 20.0, 70.0, 30.0))
    text, _ = yolo_label_text(OLD, objs, NAMES_D, W, H)
    old_lines, new_lines = OLD.splitlines(), text.splitlines()
    assert len(new_lines) == 4
    assert [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b] == [2]
    assert new_lines[2] == "1 0.300000 0.250000 0.100000 0.100000"


def test_delete_and_add_keep_order_and_other_lines() -> None:
    objs = _objects(OLD)
    text, names = yolo_label_text(OLD, [objs[1], VocObject("bird", (0.0, 0.0, 20.0, 10.0))],
                                  NAMES_D, W, H)
    assert names == {0: "cat", 1: "dog", 2: "bird"}
    assert text == ("# a comment\n1 0.250000 0.25000 0.1 0.1\n2 0.050000 0.050000 0.100000 "
                    "0.100000\n0 0.1 0.1 0.1 0.1 0.9\n")


def test_crlf_and_missing_final_newline_kept() -> None:
    old = "0 0.5 0.5 0.25 0.5\r\n1 0.25 0.25 0.1 0.1"
    objs = _objects(old)
    assert yolo_label_text(old, objs, NAMES_D, W, H)[0] == old
    text, _ = yolo_label_text(old, objs + [VocObject("cat", (0.0, 0.0, 20.0, 10.0))],
                              NAMES_D, W, H)
    assert text == old + "\r\n0 0.050000 0.050000 0.100000 0.100000\r\n"


def test_new_file() -> None:
    text, _ = yolo_label_text(None, [VocObject("dog", (50.0, 25.0, 150.0, 75.0))], NAMES_D, W, H)
    assert text == "1 0.500000 0.500000 0.500000 0.500000\n"
    assert yolo_label_text(None, [], NAMES_D, W, H)[0] == ""


def test_classes_txt_append() -> None:
    assert add_names_to_classes_txt("cat\ndog", ["bird"]) == "cat\ndog\nbird\n"
    assert add_names_to_classes_txt("cat\r\n", ["bird"]) == "cat\r\nbird\r\n"


@pytest.mark.parametrize("text, expected", [
    ("path: .\nnc: 2\nnames: [cat, dog]\n", "path: .\nnc: 3\nnames: [cat, dog, bird]\n"),
    ("nc: 2\nnames: ['cat', 'dog']  # ids 0..1\n",
     "nc: 3\nnames: ['cat', 'dog', bird]  # ids 0..1\n"),
    ("names:\n  - cat\n  - dog\nnc: 2\n", "names:\n  - cat\n  - dog\n  - bird\nnc: 3\n"),
    ("names:\n  0: cat\n  1: dog\n\ntrain: images/train\n",
     "names:\n  0: cat\n  1: dog\n  2: bird\n\ntrain: images/train\n"),
    ("names: {0: cat, 1: dog}\n", "names: {0: cat, 1: dog, 2: bird}\n"),
])
def test_yaml_names_append(text: str, expected: str) -> None:
    import yaml

    out = add_names_to_yaml(text, NAMES, ["bird"])
    assert out == expected
    names = yaml.safe_load(out)["names"]
    assert (list(names.values()) if isinstance(names, dict) else names) == NAMES + ["bird"]


def test_yaml_quotes_names_that_need_it() -> None:
    import yaml

    out = add_names_to_yaml("names:\n- cat\n", ["cat"], ["yes", "a: b", "traffic light"])
    assert yaml.safe_load(out)["names"] == ["cat", "yes", "a: b", "traffic light"]
