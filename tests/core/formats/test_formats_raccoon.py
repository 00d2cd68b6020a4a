"""The 200 raccoon photos (LabelImg VOC) converted to every format by converters written in
the test (``raccoon_converters.py``, no workbench code): ``workbench validate DIR --json``
reports 200 images, 200 annotated, 217 objects and no problems, and every box equals the VOC
original within 1 px. Skipped when the dataset is absent."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "raccoon_converters", Path(__file__).with_name("raccoon_converters.py"))
conv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conv)

pytestmark = pytest.mark.skipif(not conv.raccoon_available(),
                                reason=f"raccoon dataset not at {conv.RACCOON}")

CASES = {
    "yolo-ultralytics": (conv.to_yolo_ultralytics, "yolo", 1e-3),
    "yolo-labelimg": (conv.to_yolo_labelimg, "yolo", 1.01),  # LabelImg's own off-by-one
    "coco": (conv.to_coco, "coco", 1e-9),
    "coco-split": (lambda out: conv.to_coco(out, split_files=True), "coco", 1e-9),
    "createml": (conv.to_createml, "createml", 1e-9),
    "labelme": (conv.to_labelme, "labelme", 1e-9),
}


def _validate_json(folder: Path, capsys) -> dict:  # noqa: ANN001
    from workbench.cli import main

    code = main(["validate", str(folder), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["problems"]
    return report


@pytest.mark.parametrize("case", list(CASES))
def test_validate_reports_every_box(case: str, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    convert, fmt, tol = CASES[case]
    recs = convert(tmp_path)
    report = _validate_json(tmp_path, capsys)
    assert (report["images"], report["annotated"], report["objects"]) == (200, 200, 217)
    assert report["problems"] == []
    assert report["per_class"] == {"raccoon": 217}

    from workbench.core.project import Project

    project = Project.open(tmp_path)
    assert project.format == fmt
    by_stem = {r["stem"]: r for r in recs}
    compared = 0
    for entry in project.entries:
        ann, problems = project.load(entry)
        assert problems == [] and ann is not None
        rec = by_stem[entry.image_id]
        assert (ann.size.width, ann.size.height) == (rec["width"], rec["height"])
        assert len(ann.objects) == len(rec["objects"])
        for obj, (name, xmin, ymin, xmax, ymax) in zip(ann.objects, rec["objects"]):
            assert obj.name == name
            expected = (xmin - 1, ymin - 1, xmax, ymax)  # VOC → pixel edges
            assert max(abs(a - b) for a, b in zip(obj.box, expected)) <= tol, (obj.box, expected)
            compared += 1
    assert compared == 217


def test_labelimg_yolo_reads_back_like_labelimg(tmp_path: Path) -> None:
    """LabelImg reads its YOLO lines back as ``xmin = round(W * (xcen - w/2))`` and saves that
    as VOC ``xmin``; ours is the pixel edge: exactly one pixel left, the far corner equal."""
    recs = conv.to_yolo_labelimg(tmp_path)
    from workbench.core.project import Project

    project = Project.open(tmp_path)
    assert project.layout == "yolo side-by-side"
    by_stem = {r["stem"]: r for r in recs}
    for entry in project.entries:
        ann, _ = project.load(entry)
        for obj, (_, xmin, ymin, xmax, ymax) in zip(ann.objects, by_stem[entry.image_id]["objects"]):
            assert round(obj.box[0]) == xmin and round(obj.box[1]) == ymin
            assert round(obj.box[2]) == xmax and round(obj.box[3]) == ymax


def test_ultralytics_split_and_names(tmp_path: Path) -> None:
    conv.to_yolo_ultralytics(tmp_path)
    from workbench.core.project import Project

    project = Project.open(tmp_path / "images")  # opening images/ opens the dataset root
    assert project.root == tmp_path.resolve() and project.layout == "yolo ultralytics"
    splits = project.read_splits()
    assert sorted(splits) == ["train", "val"]
    assert (len(splits["train"]), len(splits["val"])) == (160, 40)
    assert project.predefined_classes() == ["raccoon"]
    assert project.class_file.name == "data.yaml"
    entry = project.entries[0]
    assert entry.source.path == tmp_path.resolve() / "labels" / entry.source.split / (
        entry.image_id + ".txt")


def test_coco_split_files_and_sources(tmp_path: Path) -> None:
    conv.to_coco(tmp_path, split_files=True)
    from workbench.core.project import Project

    project = Project.open(tmp_path)
    splits = project.read_splits()
    assert (len(splits["train"]), len(splits["val"])) == (160, 40)
    files = project.dataset.meta["files"]
    assert sorted(p.name for p in files) == ["instances_train.json", "instances_val.json"]
    entry = project.entries[0]
    assert isinstance(entry.source.record, int) and entry.source.record >= 1000
    native = project.load_native(entry)
    assert len(native.positions) == len(native.annotation.objects)
