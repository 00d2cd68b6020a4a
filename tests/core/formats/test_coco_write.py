"""COCO in-place writer: only the edited annotation changes; every other field, id and key
order survives; new annotations and categories get the next ids; untouched files stay."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path
from types import SimpleNamespace

from workbench.core.annotation import Annotation, VocObject
from workbench.core.formats.coco_write import merge_coco_image, save_coco
from workbench.core.formats.edit_write import take_warnings
from workbench.core.formats.model import Source

DOC = {
    "info": {"description": "hand made", "year": 2024},
    "licenses": [{"id": 1, "name": "CC"}],
    "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80, "extra": [1]},
               {"id": 9, "file_name": "b.jpg", "width": 100, "height": 80}],
    "annotations": [
        {"id": 3, "image_id": 7, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400,
         "iscrowd": 0, "segmentation": [[10, 10, 30, 10, 30, 30]], "custom": "x"},
        {"id": 4, "image_id": 9, "category_id": 2, "bbox": [1.5, 2, 3, 4], "area": 12,
         "iscrowd": 0},
        {"id": 5, "image_id": 7, "category_id": 2, "keypoints": [1, 2, 2], "num_keypoints": 1},
        {"id": 8, "image_id": 7, "category_id": 2, "bbox": [50, 40, 10, 10], "area": 100,
         "iscrowd": 0},
    ],
    "categories": [{"id": 1, "name": "cat", "supercategory": "animal"},
                   {"id": 2, "name": "dog", "supercategory": "animal"}],
    "z_extra": {"kept": True},
}


def _objects() -> list[VocObject]:
    return [VocObject("cat", (10.0, 10.0, 30.0, 30.0)), VocObject("dog", (50.0, 40.0, 60.0, 50.0))]


def test_unchanged_is_no_change() -> None:
    doc = copy.deepcopy(DOC)
    assert not merge_coco_image(doc, doc["images"][0], _objects())
    assert doc == DOC


def test_edit_one_box_changes_only_its_bbox_and_area() -> None:
    doc = copy.deepcopy(DOC)
    objs = _objects()
    objs[1] = dataclasses.replace(objs[1], box=(52.0, 40.0, 62.5, 50.0))
    assert merge_coco_image(doc, doc["images"][0], objs)
    expected = copy.deepcopy(DOC)
    expected["annotations"][3]["bbox"] = [52, 40, 10.5, 10]
    expected["annotations"][3]["area"] = 105
    assert doc == expected
    assert list(doc) == list(DOC)  # key order


def test_segmented_annotation_keeps_its_mask_area() -> None:
    doc = copy.deepcopy(DOC)
    objs = _objects()
    objs[0] = dataclasses.replace(objs[0], box=(11.0, 10.0, 31.0, 30.0))
    merge_coco_image(doc, doc["images"][0], objs)
    a = doc["annotations"][0]
    assert a["bbox"] == [11, 10, 20, 20] and a["area"] == 400 and a["custom"] == "x"


def test_add_delete_and_new_category() -> None:
    doc = copy.deepcopy(DOC)
    objs = [_objects()[1], VocObject("bird", (0.0, 0.0, 5.0, 5.0), difficult=True)]
    assert merge_coco_image(doc, doc["images"][0], objs)
    assert [a["id"] for a in doc["annotations"]] == [4, 5, 8, 9]  # 3 deleted, 9 new
    assert doc["annotations"][3] == {"id": 9, "image_id": 7, "category_id": 3,
                                     "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0,
                                     "difficult": 1}
    assert doc["categories"][-1] == {"id": 3, "name": "bird", "supercategory": "none"}
    assert doc["annotations"][1]["keypoints"] == [1, 2, 2]  # not a box: never touched


def _setup(tmp_path: Path, doc: dict, indent: int | None = 2) -> tuple[Path, SimpleNamespace]:
    (tmp_path / "images").mkdir()
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(doc, indent=indent), encoding="utf-8")
    entry = SimpleNamespace(image_path=tmp_path / "images" / "a.jpg",
                            source=Source("coco", path, True, record=7, index=0))
    return path, entry


def test_save_keeps_style_and_skips_unchanged(tmp_path: Path) -> None:
    path, entry = _setup(tmp_path, DOC)
    project = SimpleNamespace(root=tmp_path)
    before = path.read_bytes()
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    save_coco(project, entry, Annotation("a.jpg", objects=tuple(_objects())))
    assert path.read_bytes() == before and path.stat().st_mtime_ns == 1_000_000_000
    objs = _objects()
    objs[0] = dataclasses.replace(objs[0], box=(10.0, 10.0, 30.0, 31.0))
    save_coco(project, entry, Annotation("a.jpg", objects=tuple(objs)))
    after = path.read_text(encoding="utf-8")
    assert after == json.dumps(json.loads(after), indent=2)  # still indent 2
    changed = [ln for ln in after.splitlines() if ln not in before.decode().splitlines()]
    assert changed == ["        21"]  # the bbox height, one line of the file


def test_truncated_is_told_once(tmp_path: Path) -> None:
    path, entry = _setup(tmp_path, DOC, indent=None)
    project = SimpleNamespace(root=tmp_path)
    objs = _objects()
    objs[0] = dataclasses.replace(objs[0], truncated=True, difficult=True)
    save_coco(project, entry, Annotation("a.jpg", objects=tuple(objs)))
    warnings = take_warnings(project)
    assert len(warnings) == 1 and "truncated" in warnings[0].message
    assert "difficult" not in warnings[0].message  # COCO holds it
    assert json.loads(path.read_text())["annotations"][0]["difficult"] == 1
    objs[1] = dataclasses.replace(objs[1], truncated=True)
    save_coco(project, entry, Annotation("a.jpg", objects=tuple(objs)))
    assert take_warnings(project) == []


# ------------------------------------------------------------------ through Project (round trip)

def _voc_project(folder: Path) -> Path:
    from PIL import Image

    from workbench.core.annotation import ImageSize
    from workbench.core.voc import write_annotation

    folder.mkdir()
    boxes = {"a": [("cat", (10.0, 10.0, 50.0, 40.0)), ("dog", (60.0, 20.0, 90.0, 70.0))],
             "b": [("dog", (0.0, 0.0, 120.0, 80.0))],
             "c": [("cat", (5.0, 5.0, 25.0, 35.0)), ("cat", (30.0, 30.0, 70.0, 60.0))]}
    for stem, objs in boxes.items():
        Image.new("RGB", (120, 80), (90, 90, 90)).save(folder / f"{stem}.jpg")
        objects = tuple(VocObject(n, b, difficult=(stem == "b")) for n, b in objs)
        write_annotation(Annotation(f"{stem}.jpg", ImageSize(120, 80), objects),
                         folder / f"{stem}.xml")
    return folder


def _json_diff(a, b, path="") -> list[str]:  # noqa: ANN001
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}" for k in a.keys() ^ b.keys()]
        return out + [d for k in a.keys() & b.keys() for d in _json_diff(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and \
            any(isinstance(x, (dict, list)) for x in a):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _json_diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def test_round_trip_export_open_edit_save_changes_one_annotation(tmp_path: Path) -> None:
    from workbench.core.export import export_project
    from workbench.core.project import Project

    out = tmp_path / "coco"
    export_project(Project.open(_voc_project(tmp_path / "voc")), out, "coco")
    path = out / "instances.json"
    before_text = path.read_text(encoding="utf-8")
    before = json.loads(before_text)
    project = Project.open(out)
    assert project.format == "coco"
    entry = next(e for e in project.entries if e.image_id == "c")
    ann, _ = project.load(entry)
    moved = dataclasses.replace(ann.objects[1], box=(31.0, 30.0, 72.0, 60.0))
    project.save(entry, dataclasses.replace(ann, objects=(ann.objects[0], moved)))
    after = json.loads(path.read_text(encoding="utf-8"))
    index = next(i for i, a in enumerate(before["annotations"])
                 if a["bbox"] == [30.0, 30.0, 40.0, 30.0])
    assert sorted(_json_diff(before, after)) == [f".annotations[{index}].area",
                                                 f".annotations[{index}].bbox"]
    assert after["annotations"][index]["bbox"] == [31, 30, 41, 30]
    assert after["annotations"][index]["area"] == 41 * 30
    # a new class and box: appended with the next ids, nothing else changes
    again = Project.open(out)
    e = again.entry(entry.image_path)
    ann, _ = again.load(e)
    bird = VocObject("bird", (1.0, 1.0, 11.0, 6.0))
    again.save(e, dataclasses.replace(ann, objects=(*ann.objects, bird)))
    final = json.loads(path.read_text(encoding="utf-8"))
    assert final["categories"][-1] == {"id": 3, "name": "bird", "supercategory": "none"}
    assert final["annotations"][:len(after["annotations"])] == after["annotations"]
    new = final["annotations"][len(after["annotations"])]
    assert new["id"] == max(a["id"] for a in after["annotations"]) + 1
    assert (new["category_id"], new["bbox"]) == (3, [1, 1, 10, 5])
    assert final["info"] == before["info"] and final["images"] == before["images"]
    reopened = Project.open(out)
    ann, _ = reopened.load(reopened.entry(entry.image_path))
    assert [o.name for o in ann.objects] == ["cat", "cat", "bird"]
    assert ann.objects[1].box == (31.0, 30.0, 72.0, 60.0)


def test_spliced_dump_equals_a_plain_dump_in_every_style() -> None:
    from workbench.core.formats.edit_write import JsonStyle, SplicedDump

    doc = copy.deepcopy(DOC)
    doc["annotations"][0]["note"] = "é \u2603 \"quoted\"\nline"
    for text in (json.dumps(DOC), json.dumps(DOC, indent=2), json.dumps(DOC, indent="\t"),
                 json.dumps(DOC, separators=(",", ":")), json.dumps(DOC, indent=4) + "\n",
                 json.dumps({"x": "\u2603", **DOC}, ensure_ascii=True)):
        style = JsonStyle.of(text)
        assert style.dumps(json.loads(text)) == text  # the file's own style, byte for byte
        splicer = SplicedDump(style)
        assert splicer.dumps(doc) == style.dumps(doc)
        doc["annotations"][1]["bbox"] = [1, 2, 3, 4]  # edited in place: forgotten
        splicer.forget([doc["annotations"][1]])
        doc["annotations"].append({"id": 99, "image_id": 9, "bbox": [0, 0, 1, 1]})
        del doc["annotations"][0]
        assert splicer.dumps(doc) == style.dumps(doc)
        assert json.loads(splicer.dumps(doc)) == doc
        doc = copy.deepcopy(DOC)
        doc["annotations"][0]["note"] = "é"
    assert SplicedDump(JsonStyle()).dumps({"images": [], "annotations": []}) == \
        '{"images":[],"annotations":[]}'


def test_new_image_gets_a_record_the_reader_finds(tmp_path: Path) -> None:
    from PIL import Image

    from workbench.core.project import Project

    root = tmp_path / "ds"
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    for name in ("a.jpg", "b.jpg", "new one.jpg"):
        Image.new("RGB", (100, 80)).save(root / "images" / name)
    path = root / "annotations" / "instances.json"
    path.write_text(json.dumps({k: DOC[k] for k in ("images", "annotations", "categories")}))
    project = Project.open(root)
    assert project.format == "coco"
    entry = project.entry(root / "images" / "new one.jpg")
    assert not entry.has_xml
    ann = project.new_annotation(entry)
    project.save(entry, dataclasses.replace(ann, objects=(VocObject("dog", (1.0, 2.0, 3.0, 4.0)),)))
    doc = json.loads(path.read_text())
    assert doc["images"][-1] == {"id": 10, "file_name": "new one.jpg", "width": 100, "height": 80}
    assert doc["annotations"][-1]["image_id"] == 10 and doc["annotations"][-1]["id"] == 9
    project.save(project.entry(entry.image_path),
                 dataclasses.replace(ann, objects=(VocObject("dog", (1.0, 2.0, 5.0, 4.0)),)))
    doc = json.loads(path.read_text())
    assert len(doc["images"]) == 3 and doc["annotations"][-1]["bbox"] == [1, 2, 4, 2]
    reopened = Project.open(root)
    again, problems = reopened.load(reopened.entry(entry.image_path))
    assert [(o.name, o.box) for o in again.objects] == [("dog", (1.0, 2.0, 5.0, 4.0))]
    assert not [p for p in problems if p.severity == "error"]


def test_a_file_broken_since_it_was_opened_is_not_overwritten(tmp_path: Path) -> None:
    import pytest

    from workbench.core.formats import NotWritableError

    path, entry = _setup(tmp_path, DOC)
    path.write_text('{"images": [', encoding="utf-8")  # someone else truncated it
    with pytest.raises(NotWritableError, match="not valid JSON"):
        save_coco(SimpleNamespace(root=tmp_path), entry,
                  Annotation("a.jpg", objects=tuple(_objects())))
    assert path.read_text(encoding="utf-8") == '{"images": ['
    assert isinstance(NotWritableError("x"), OSError)  # the window reports it as a failed save
