"""YOLO in-place writer: unchanged lines byte-identical, edits in place, names appended."""

from __future__ import annotations

import dataclasses
from pathlib import Path

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


# ------------------------------------------------------------------ through Project (round trip)

def _voc_project(folder: Path) -> Path:
    """Four small images with VOC boxes (one difficult), written here, not by the code tested."""
    from PIL import Image

    from workbench.core.annotation import Annotation, ImageSize
    from workbench.core.voc import write_annotation

    folder.mkdir()
    boxes = {"a": [("cat", (10.0, 10.0, 50.0, 40.0)), ("dog", (60.0, 20.0, 90.0, 70.0))],
             "b": [("dog", (0.0, 0.0, 120.0, 80.0))],
             "c": [("cat", (5.0, 5.0, 25.0, 35.0))],
             "d": [("cat", (30.0, 30.0, 70.0, 60.0)), ("cat", (1.0, 2.0, 11.0, 12.0))]}
    for stem, objs in boxes.items():
        Image.new("RGB", (120, 80), (90, 90, 90)).save(folder / f"{stem}.jpg")
        objects = tuple(VocObject(n, b, difficult=(stem == "c")) for n, b in objs)
        write_annotation(Annotation(f"{stem}.jpg", ImageSize(120, 80), objects),
                         folder / f"{stem}.xml")
    return folder


def _snapshot(root: Path) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture()
def yolo_export(tmp_path: Path) -> Path:
    from workbench.core.export import export_project
    from workbench.core.project import Project

    src = _voc_project(tmp_path / "voc")
    out = tmp_path / "yolo"
    export_project(Project.open(src), out, "yolo", val_fraction=0.5)
    return out


def test_round_trip_edit_one_box_changes_only_that_file(yolo_export: Path) -> None:
    import os

    from workbench.core.project import Project

    for p in yolo_export.rglob("*"):  # old mtimes, so an unwanted rewrite would show
        if p.is_file():
            os.utime(p, ns=(10**9, 10**9))
    project = Project.open(yolo_export)
    assert project.format == "yolo" and len(project.annotated) == 4
    entry = next(e for e in project.entries if e.image_id == "d")
    ann, problems = project.load(entry)
    assert not [p for p in problems if p.severity == "error"]
    before = _snapshot(yolo_export)
    label = entry.source.path
    moved = dataclasses.replace(ann.objects[1], box=(2.0, 2.0, 12.0, 12.0))
    project.save(entry, dataclasses.replace(ann, objects=(ann.objects[0], moved)))
    after = _snapshot(yolo_export)
    assert [p for p in after if after[p] != before[p]] == [label]
    old_lines = before[label][0].decode().splitlines()
    new_lines = after[label][0].decode().splitlines()
    assert new_lines[0] == old_lines[0] and new_lines[1] != old_lines[1]
    again, _ = Project.open(yolo_export).load(entry)
    assert [o.box for o in again.objects][1] == pytest.approx((2.0, 2.0, 12.0, 12.0), abs=1e-3)
    # saving the same annotation again writes nothing
    project.save(entry, again)
    assert _snapshot(yolo_export)[label] == after[label]


def test_round_trip_new_class_gets_next_id_in_both_names_files(yolo_export: Path) -> None:
    import yaml

    from workbench.core.project import Project

    project = Project.open(yolo_export)
    entry = next(e for e in project.entries if e.image_id == "b")
    ann, _ = project.load(entry)
    bird = VocObject("bird", (10.0, 10.0, 20.0, 20.0))
    project.save(entry, dataclasses.replace(ann, objects=(*ann.objects, bird)))
    assert (yolo_export / "classes.txt").read_text() == "cat\ndog\nbird\n"
    data = yaml.safe_load((yolo_export / "data.yaml").read_text())
    assert data["nc"] == 3 and list(data["names"].values()) == ["cat", "dog", "bird"]
    assert entry.source.path.read_text().splitlines()[-1].startswith("2 ")
    reopened = Project.open(yolo_export)
    again, _ = reopened.load(reopened.entry(entry.image_path))
    assert [o.name for o in again.objects] == ["dog", "bird"]


def test_round_trip_difficult_lost_is_told_once(yolo_export: Path) -> None:
    from workbench.core.formats.edit_write import take_warnings
    from workbench.core.project import Project

    project = Project.open(yolo_export)
    entries = [e for e in project.entries if e.image_id in ("a", "d")]
    for entry in entries:  # two saves that both drop a difficult flag
        ann, _ = project.load(entry)
        hard = dataclasses.replace(ann.objects[0], difficult=True)
        project.save(entry, dataclasses.replace(ann, objects=(hard, *ann.objects[1:])))
    warnings = take_warnings(project)
    assert len(warnings) == 1
    assert "difficult" in warnings[0].message and warnings[0].severity == "warning"


def test_unlabeled_image_gets_its_label_file_where_the_reader_looks(yolo_export: Path) -> None:
    from PIL import Image

    from workbench.core.project import Project

    Image.new("RGB", (120, 80)).save(yolo_export / "images" / "train" / "new photo.jpg")
    project = Project.open(yolo_export)
    entry = project.entry(yolo_export / "images" / "train" / "new photo.jpg")
    assert not entry.has_xml
    ann = project.new_annotation(entry)
    dog = VocObject("dog", (12.0, 8.0, 36.0, 40.0))
    project.save(entry, dataclasses.replace(ann, objects=(dog,)))
    label = yolo_export / "labels" / "train" / "new photo.txt"
    assert label.read_text() == "1 0.200000 0.300000 0.200000 0.400000\n"
    again = Project.open(yolo_export)
    loaded, _ = again.load(again.entry(entry.image_path))
    assert [(o.name, o.box) for o in loaded.objects] == [("dog", pytest.approx((12, 8, 36, 40)))]
