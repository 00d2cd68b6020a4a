"""labelme in-place writer: non-rectangle shapes, imageData and flags kept; only the edited
shape changes; a new file for a newly labelled image; none for an image left empty."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.formats.edit_write import take_warnings
from workbench.core.formats.labelme_write import merge_labelme_shapes, save_labelme
from workbench.core.formats.model import Source

DOC = {
    "version": "5.2.1", "flags": {"night": True},
    "shapes": [
        {"label": "cat", "points": [[30, 30], [10, 10]], "group_id": 3, "description": "d",
         "shape_type": "rectangle", "flags": {"occluded": True}},
        {"label": "road", "points": [[0, 0], [5, 0], [5, 5]], "group_id": None,
         "shape_type": "polygon", "flags": {}},
        {"label": "dog", "points": [[50, 40], [60.5, 50]], "group_id": None,
         "shape_type": "rectangle", "flags": {}},
    ],
    "imagePath": "a.jpg", "imageData": "aGVsbG8=", "imageHeight": 80, "imageWidth": 100,
}
SIZE = ImageSize(100, 80)


def _objects() -> list[VocObject]:
    return [VocObject("cat", (10.0, 10.0, 30.0, 30.0)), VocObject("dog", (50.0, 40.0, 60.5, 50.0))]


def test_unchanged_and_one_edit() -> None:
    doc = copy.deepcopy(DOC)
    assert not merge_labelme_shapes(doc, _objects(), SIZE) and doc == DOC
    objs = _objects()
    objs[0] = dataclasses.replace(objs[0], box=(12.0, 10.0, 30.0, 30.0))
    merge_labelme_shapes(doc, objs, SIZE)
    expected = copy.deepcopy(DOC)
    expected["shapes"][0]["points"] = [[12, 10], [30, 30]]
    assert doc == expected


def test_delete_add_keep_polygon() -> None:
    doc = copy.deepcopy(DOC)
    merge_labelme_shapes(doc, [_objects()[1], VocObject("bird", (1.0, 2.0, 3.0, 4.0))], SIZE)
    assert [s["label"] for s in doc["shapes"]] == ["road", "dog", "bird"]
    assert doc["shapes"][2] == {"label": "bird", "points": [[1, 2], [3, 4]], "group_id": None,
                                "description": "", "shape_type": "rectangle", "flags": {}}
    assert doc["imageData"] == DOC["imageData"] and doc["flags"] == DOC["flags"]


def test_save_existing_new_and_empty(tmp_path: Path) -> None:
    project = SimpleNamespace(root=tmp_path)
    a = tmp_path / "a.json"
    a.write_text(json.dumps(DOC, indent=2, ensure_ascii=False), encoding="utf-8")
    entry = SimpleNamespace(image_path=tmp_path / "a.jpg", source=Source("labelme", a, True))
    objs = _objects()
    objs[1] = dataclasses.replace(objs[1], truncated=True, box=(50.0, 40.0, 61.0, 50.0))
    save_labelme(project, entry, Annotation("a.jpg", size=SIZE, objects=tuple(objs)))
    after = json.loads(a.read_text(encoding="utf-8"))
    assert after["shapes"][2]["points"] == [[50, 40], [61, 50]]
    assert [s for i, s in enumerate(after["shapes"]) if i != 2] == \
        [s for i, s in enumerate(DOC["shapes"]) if i != 2]
    assert len(take_warnings(project)) == 1
    b = tmp_path / "sub" / "b.json"
    b.parent.mkdir()
    entry_b = SimpleNamespace(image_path=tmp_path / "sub" / "b.jpg",
                              source=Source("labelme", b, False))
    save_labelme(project, entry_b, Annotation("b.jpg", size=SIZE, objects=()))
    assert not b.exists()
    save_labelme(project, entry_b, Annotation("b.jpg", size=SIZE, objects=tuple(_objects())))
    doc_b = json.loads(b.read_text(encoding="utf-8"))
    assert doc_b["imagePath"] == "b.jpg" and doc_b["imageData"] is None
    assert (doc_b["imageWidth"], doc_b["imageHeight"]) == (100, 80)
    assert [s["points"] for s in doc_b["shapes"]] == [[[10, 10], [30, 30]], [[50, 40], [60.5, 50]]]


def test_round_trip_through_project_touches_one_file(tmp_path: Path) -> None:
    import os

    from PIL import Image

    from workbench.core.project import Project

    root = tmp_path / "lm"
    root.mkdir()
    for stem in ("a", "b"):
        Image.new("RGB", (100, 80)).save(root / f"{stem}.jpg")
        doc = copy.deepcopy(DOC)
        doc["imagePath"], doc["imageData"] = f"{stem}.jpg", None
        (root / f"{stem}.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
        os.utime(root / f"{stem}.json", ns=(10**9, 10**9))
    Image.new("RGB", (100, 80)).save(root / "c.jpg")  # unlabeled
    project = Project.open(root)
    assert project.format == "labelme"
    entry = project.entry(root / "a.jpg")
    ann, _ = project.load(entry)
    objs = list(ann.objects)
    objs[1] = dataclasses.replace(objs[1], name="cat")
    project.save(entry, dataclasses.replace(ann, objects=tuple(objs)))
    a = json.loads((root / "a.json").read_text(encoding="utf-8"))
    assert [s["label"] for s in a["shapes"]] == ["cat", "road", "cat"]
    assert a["shapes"][2]["points"] == DOC["shapes"][2]["points"]  # only the label changed
    assert (root / "b.json").stat().st_mtime_ns == 10**9
    c = project.entry(root / "c.jpg")
    project.save(c, dataclasses.replace(project.new_annotation(c),
                                        objects=(VocObject("dog", (1.0, 2.0, 30.0, 40.0)),)))
    again = Project.open(root)
    ann_c, problems = again.load(again.entry(root / "c.jpg"))
    assert [(o.name, o.box) for o in ann_c.objects] == [("dog", (1.0, 2.0, 30.0, 40.0))]
    assert not [p for p in problems if p.severity == "error"]
