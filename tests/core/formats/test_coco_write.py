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
