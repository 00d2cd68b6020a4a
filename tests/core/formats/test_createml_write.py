"""CreateML in-place writer: only the edited annotation changes, extra keys survive, new
records for new images, difficult told once."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path
from types import SimpleNamespace

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.formats.createml_write import merge_createml_record, save_createml
from workbench.core.formats.edit_write import take_warnings
from workbench.core.formats.model import Source

DOC = [
    {"image": "a.jpg", "annotations": [
        {"label": "cat", "coordinates": {"x": 20, "y": 20, "width": 20, "height": 20},
         "confidence": 0.9},
        {"label": "dog", "coordinates": {"x": 55.5, "y": 45, "width": 11, "height": 10}},
        {"label": "note", "comment": "no coordinates"},
    ], "extra": True},
    {"image": "b.jpg", "annotations": []},
]
SIZE = ImageSize(100, 80)


def _objects() -> list[VocObject]:
    return [VocObject("cat", (10.0, 10.0, 30.0, 30.0)), VocObject("dog", (50.0, 40.0, 61.0, 50.0))]


def test_unchanged_and_one_edit() -> None:
    doc = copy.deepcopy(DOC)
    assert not merge_createml_record(doc[0], _objects(), SIZE) and doc == DOC
    objs = _objects()
    objs[1] = dataclasses.replace(objs[1], name="cat", box=(50.0, 40.0, 62.0, 50.0))
    assert merge_createml_record(doc[0], objs, SIZE)
    expected = copy.deepcopy(DOC)
    expected[0]["annotations"][1] = {"label": "cat", "coordinates": {
        "x": 56, "y": 45, "width": 12, "height": 10}}
    assert doc == expected


def test_delete_and_add_keep_non_boxes() -> None:
    doc = copy.deepcopy(DOC)
    merge_createml_record(doc[0], [_objects()[1], VocObject("bird", (0.0, 0.0, 4.0, 2.0))], SIZE)
    assert doc[0]["annotations"] == [
        DOC[0]["annotations"][1],
        {"label": "bird", "coordinates": {"x": 2, "y": 1, "width": 4, "height": 2}},
        DOC[0]["annotations"][2],
    ]


def test_save_new_image_and_tell_once(tmp_path: Path) -> None:
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(DOC), encoding="utf-8")
    project = SimpleNamespace(root=tmp_path)
    entry_a = SimpleNamespace(image_path=tmp_path / "a.jpg",
                              source=Source("createml", path, True, index=0))
    os.utime(path, ns=(10**9, 10**9))
    save_createml(project, entry_a, Annotation("a.jpg", size=SIZE, objects=tuple(_objects())))
    assert path.stat().st_mtime_ns == 10**9  # nothing changed: not rewritten
    entry_c = SimpleNamespace(image_path=tmp_path / "c.jpg",
                              source=Source("createml", path, False))
    hard = VocObject("cat", (1.0, 1.0, 5.0, 5.0), difficult=True)
    save_createml(project, entry_c, Annotation("c.jpg", size=SIZE, objects=(hard,)))
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc[:2] == DOC and doc[2] == {"image": "c.jpg", "annotations": [
        {"label": "cat", "coordinates": {"x": 3, "y": 3, "width": 4, "height": 4}}]}
    assert [w.message.count("difficult") for w in take_warnings(project)] == [1]
    save_createml(project, entry_c, Annotation("c.jpg", size=SIZE, objects=(hard, hard)))
    assert take_warnings(project) == []
    assert len(json.loads(path.read_text(encoding="utf-8"))) == 3  # the same record again


def test_round_trip_through_project(tmp_path: Path) -> None:
    from PIL import Image

    from workbench.core.project import Project

    root = tmp_path / "cm"
    root.mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (100, 80)).save(root / name)
    path = root / "annotations.json"
    path.write_text(json.dumps(DOC, indent=2), encoding="utf-8")
    project = Project.open(root)
    assert project.format == "createml"
    entry = project.entry(root / "a.jpg")
    ann, _ = project.load(entry)
    assert [o.name for o in ann.objects] == ["cat", "dog"]
    moved = dataclasses.replace(ann.objects[0], box=(11.0, 10.0, 31.0, 30.0))
    project.save(entry, dataclasses.replace(ann, objects=(moved, ann.objects[1])))
    doc = json.loads(path.read_text(encoding="utf-8"))
    expected = copy.deepcopy(DOC)
    expected[0]["annotations"][0]["coordinates"]["x"] = 21
    assert doc == expected
    reopened = Project.open(root)
    again, _ = reopened.load(reopened.entry(root / "a.jpg"))
    assert again.objects[0].box == (11.0, 10.0, 31.0, 30.0)
