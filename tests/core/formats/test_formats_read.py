"""Format readers on tiny literal cases: exact conversions, problems with file and line, hostile
inputs (malformed JSON, NaN, negative, ``..`` paths, 10^5 annotations), format detection."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.formats import FormatError, NotWritableError, conventions, detect_format
from workbench.core.project import Project
from workbench.core.validate import validate_project


def _image(path: Path, w: int = 200, h: int = 100, fmt: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(path, fmt)
    return path


def _messages(problems) -> list[str]:  # noqa: ANN001
    return [f"{p.severity}: {p.file}: {p.message}" for p in problems]


# ---------------------------------------------------------------- conventions, literal values

def test_conventions_literal_values() -> None:
    assert conventions.yolo_to_xyxy(0.5, 0.5, 0.5, 0.25, 200, 100) == (50.0, 37.5, 150.0, 62.5)
    assert conventions.xyxy_to_yolo((50.0, 37.5, 150.0, 62.5), 200, 100) == (0.5, 0.5, 0.5, 0.25)
    assert conventions.coco_to_xyxy(10, 20, 30, 40) == (10.0, 20.0, 40.0, 60.0)
    assert conventions.xyxy_to_coco((10.0, 20.0, 40.0, 60.0)) == (10.0, 20.0, 30.0, 40.0)
    assert conventions.createml_to_xyxy(100, 50, 20, 10) == (90.0, 45.0, 110.0, 55.0)
    assert conventions.xyxy_to_createml((90.0, 45.0, 110.0, 55.0)) == (100.0, 50.0, 20.0, 10.0)
    assert conventions.labelme_to_xyxy([[40, 60], [10, 20]]) == (10, 20, 40, 60)
    assert conventions.voc_to_xyxy(1, 1, 10, 10) == (0.0, 0.0, 10.0, 10.0)
    assert conventions.xyxy_to_voc((0.0, 0.0, 10.0, 10.0)) == (1, 1, 10, 10)


# ---------------------------------------------------------------- YOLO

def test_yolo_line_to_exact_xyxy(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg", 200, 100)
    (tmp_path / "a.txt").write_text("1 0.5 0.5 0.5 0.25\n")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    project = Project.open(tmp_path)
    assert project.format == "yolo" and project.layout == "yolo side-by-side"
    native = project.load_native(project.entries[0])
    assert native.problems == ()
    (obj,) = native.annotation.objects
    assert (obj.name, obj.box) == ("dog", (50.0, 37.5, 150.0, 62.5))
    assert native.positions == (1,)
    assert project.classes == ["cat", "dog"]


def test_yolo_problems_name_file_and_line(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "train" / "a.jpg", 200, 100)
    _image(tmp_path / "images" / "train" / "unlabeled.jpg")
    label = tmp_path / "labels" / "train" / "a.txt"
    label.parent.mkdir(parents=True)
    label.write_text("0 0.5 0.5 0.2 0.2\n"
                     "7 0.5 0.5 0.2 0.2\n"          # class id out of range
                     "0 abc 0.5 0.2 0.2\n"          # non-numeric
                     "0 nan 0.5 0.2 0.2\n"          # NaN
                     "0 0.5 0.5 -0.2 0.2\n"         # negative size
                     "0 0.5 0.5 0.2\n"              # wrong count
                     "0 1.5 1.5 0.2 0.2\n"          # wholly outside
                     "0 0.95 0.5 0.2 0.2\n"         # partly outside
                     "\n")
    (tmp_path / "labels" / "train" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "data.yaml").write_text("names: [cat, dog]\n")
    project = Project.open(tmp_path)
    report = validate_project(project)
    text = "\n".join(_messages(report.problems))
    shown = "labels/train/a.txt"
    assert f"error: {shown}: line 2: class id 7 is out of range (0..1)" in text
    assert f"error: {shown}: line 3: non-numeric value" in text
    assert f"error: {shown}: line 4: NaN or infinite value" in text
    assert f"error: {shown}: line 5: negative width or height" in text
    assert f"error: {shown}: line 6: expected 'class cx cy w h' (5 values), got 4" in text
    assert f"error: {shown}: line 7: box" in text and "lies outside the 200x100 image" in text
    assert f"warning: {shown}: line 8: box" in text and "extends outside" in text
    assert "error: labels/train/ghost.txt: label file names no image" in text
    assert report.images == 2 and report.annotated == 1  # unlabeled.jpg is not a problem
    assert "unlabeled" not in text


def test_yolo_names_dict_and_no_names(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg")
    (tmp_path / "a.txt").write_text("3 0.5 0.5 0.2 0.2\n")
    project = Project.open(tmp_path)
    assert project.format == "yolo"
    ann, problems = project.load(project.entries[0])
    assert ann.objects[0].name == "3" and problems == []
    assert any("class ids are used as class names" in p.message for p in project.scan_problems)
    (tmp_path / "dataset.yaml").write_text("names:\n  0: person\n  3: bicycle\n")
    project = Project.open(tmp_path)
    ann, problems = project.load(project.entries[0])
    assert ann.objects[0].name == "bicycle" and problems == []


def test_yolo_polygon_lines_read_as_boxes(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg", 200, 100)
    (tmp_path / "a.txt").write_text("0 0.1 0.2 0.5 0.2 0.3 0.9\n")
    (tmp_path / "classes.txt").write_text("cat\n")
    ann, problems = Project.open(tmp_path).load(Project.open(tmp_path).entries[0])
    assert ann.objects[0].box == pytest.approx((20.0, 20.0, 100.0, 90.0))
    assert [p.message for p in problems] == ["1 polygon line(s) read as their bounding boxes"]


# ---------------------------------------------------------------- COCO

def _coco(tmp_path: Path, doc: dict, name: str = "instances.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_coco_bbox_to_exact_xyxy(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg", 200, 100)
    _coco(tmp_path, {"info": {}, "images": [{"id": 7, "file_name": "a.jpg", "width": 200,
                                             "height": 100}],
                     "annotations": [{"id": 1, "image_id": 7, "category_id": 3,
                                      "bbox": [10.5, 20, 30, 40], "difficult": 1},
                                     {"id": 2, "image_id": 7, "category_id": 3,
                                      "segmentation": [[1, 2, 3, 4, 5, 6]]}],
                     "categories": [{"id": 3, "name": "cat"}]})
    project = Project.open(tmp_path)
    assert project.format == "coco"
    entry = project.entries[0]
    assert (entry.source.record, entry.source.index) == (7, 0)
    native = project.load_native(entry)
    (obj,) = native.annotation.objects
    assert obj.box == (10.5, 20.0, 40.5, 60.0) and obj.difficult and obj.name == "cat"
    assert native.positions == (0,)
    assert [p.message for p in project.scan_problems] == [
        "1 annotation(s) without a bbox (segmentation or keypoints only) are kept in the file, "
        "not loaded"]


def test_coco_hostile_records(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg", 200, 100)
    _image(tmp_path / "images" / "b.jpg", 200, 100)
    _image(tmp_path.parent / f"{tmp_path.name}-outside.jpg")
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100},
                      {"id": 1, "file_name": "b.jpg", "width": 200, "height": 100},
                      {"id": 2, "file_name": f"../../{tmp_path.name}-outside.jpg"},
                      {"id": 3, "file_name": "missing.jpg"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]},
                           {"id": 2, "image_id": 1, "category_id": 9, "bbox": [0, 0, 10, 10]},
                           {"id": 3, "image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1]},
                           {"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, -5, 10]},
                           {"id": 5, "image_id": 1, "category_id": 1,
                            "bbox": [0, "x", 1, 1]}],
           "categories": [{"id": 1, "name": "cat"}]}
    (tmp_path / "instances.json").write_text(json.dumps(doc).replace('"x"', "NaN"))
    report = validate_project(Project.open(tmp_path))
    text = "\n".join(_messages(report.problems))
    f = "error: instances.json: "
    assert f + "images[1]: duplicate image id 1 (also images[0]); left out" in text
    assert f + f"images[2]: file_name '../../{tmp_path.name}-outside.jpg' points outside" in text
    assert f + "images[3]: image 'missing.jpg' not found (listed, no image file)" in text
    assert f + "annotations[1]: category_id 9 is not in \"categories\"" in text
    assert f + "annotations[2]: image_id 99 is not in \"images\"" in text
    assert f + "annotations[3]: negative width or height" in text
    assert f + "annotations[4]: bbox [0, nan, 1, 1] is not 4 finite numbers" in text
    assert f + "annotations[3]: inverted box" in text
    assert report.images == 2 and report.annotated == 1  # b.jpg: its record was left out


def test_coco_ids_of_the_wrong_type_are_problems_not_crashes(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg", 200, 100)
    _coco(tmp_path, {"images": [{"id": [1], "file_name": "a.jpg"},
                                {"id": 2, "file_name": "a.jpg", "width": 200, "height": 100}],
                     "annotations": [{"id": {"x": 1}, "image_id": [2], "category_id": 1,
                                      "bbox": [0, 0, 1, 1]},
                                     {"id": 2, "image_id": 2, "category_id": [1],
                                      "bbox": [0, 0, 1, 1]},
                                     {"id": 3, "category_id": 1, "bbox": [0, 0, 1, 1]}, 7],
                     "categories": [{"id": {}, "name": "x"}, {"id": 1, "name": "cat"}]})
    text = "\n".join(_messages(validate_project(Project.open(tmp_path)).problems))
    assert "images[0]: id [1] is not a number or a string; left out" in text
    assert "annotations[0]: image_id [2] is not in \"images\"" in text
    assert "annotations[1]: category_id [1] is not in \"categories\"" in text
    assert "annotations[2]: not an annotation" in text
    assert "annotations[3]: not an annotation" in text
    assert "categories[0]: id {} is not a number or a string" in text


def test_malformed_json_is_one_problem(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg")
    (tmp_path / "instances.json").write_text('{"images": [{"id": 1, "file_name": "a.jpg"},')
    project = Project.open(tmp_path, format="coco")
    problems = [p for p in validate_project(project).problems]
    assert len(problems) == 1
    assert problems[0].file == "instances.json" and problems[0].severity == "error"
    assert problems[0].message.startswith("not valid JSON: ")


def test_coco_100k_annotations(tmp_path: Path) -> None:
    n_images, per_image = 1000, 100
    for i in range(2):
        _image(tmp_path / "images" / f"{i}.jpg", 64, 48)
    images = [{"id": i, "file_name": f"{i % 2}.jpg" if i < 2 else f"none{i}.jpg", "width": 64,
               "height": 48} for i in range(n_images)]
    anns = [{"id": k, "image_id": k % 2, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 12,
             "iscrowd": 0} for k in range(n_images * per_image)]
    _coco(tmp_path, {"images": images, "annotations": anns,
                     "categories": [{"id": 1, "name": "x"}]})
    start = time.perf_counter()
    project = Project.open(tmp_path)
    report = validate_project(project, check_images=False)
    elapsed = time.perf_counter() - start
    assert report.objects == n_images * per_image
    assert sum(p.message.endswith("not found (listed, no image file)")
               for p in report.problems) == n_images - 2
    assert elapsed < 60  # ~1 s here; generous for two noisy shared cores


# ---------------------------------------------------------------- CreateML and labelme

def test_createml_centre_to_xyxy(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg", 200, 100)
    (tmp_path / "train.json").write_text(json.dumps([
        {"image": "a.jpg", "annotations": [
            {"label": "cat", "coordinates": {"x": 100, "y": 50, "width": 20, "height": 10}},
            {"label": "cat", "coordinates": {"x": "?", "y": 50, "width": 20, "height": 10}}]},
        {"image": "../../b.jpg", "annotations": []}]))
    project = Project.open(tmp_path)
    assert project.format == "createml"
    native = project.load_native(project.entries[0])
    assert [o.box for o in native.annotation.objects] == [(90.0, 45.0, 110.0, 55.0)]
    assert native.annotation.size.width == 200  # from the image header
    text = "\n".join(_messages(validate_project(project).problems))
    assert "error: train.json: [0].annotations[1]: needs numeric coordinates" in text
    assert "error: train.json: [1]: image '../../b.jpg' points outside the dataset folder" in text
    assert project.read_splits() == {"train": ["a"]}


def test_labelme_reversed_points_and_other_shapes(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg", 200, 100)
    (tmp_path / "a.json").write_text(json.dumps({
        "version": "5.4.1", "flags": {}, "imagePath": "a.jpg", "imageData": None,
        "imageWidth": 200, "imageHeight": 100,
        "shapes": [
            {"label": "cat", "points": [[40.5, 60], [10, 20]], "shape_type": "rectangle"},
            {"label": "cat", "points": [[1, 2], [3, 4], [5, 1]], "shape_type": "polygon"},
            {"label": "cat", "points": [[1, 2]], "shape_type": "point"},
            {"label": "cat", "points": [[1, 2]], "shape_type": "rectangle"}]}))
    project = Project.open(tmp_path)
    assert project.format == "labelme"
    native = project.load_native(project.entries[0])
    assert [o.box for o in native.annotation.objects] == [(10, 20, 40.5, 60)]
    assert native.positions == (0,)
    text = "\n".join(_messages(native.problems))
    assert "warning: a.json: 2 non-rectangle shape(s) (1 point, 1 polygon) are kept" in text
    assert "error: a.json: shapes[3]: a rectangle needs two [x, y] number points" in text


def test_labelme_malformed(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "b.jpg")
    (tmp_path / "a.json").write_text('{"shapes": [')
    (tmp_path / "b.json").write_text(json.dumps({"shapes": [], "imagePath": "b.jpg"}))
    project = Project.open(tmp_path)
    assert project.format == "labelme"
    problems = validate_project(project).problems
    assert [(p.file, p.severity) for p in problems] == [("a.json", "error")]
    assert problems[0].message.startswith("not valid JSON")


# ---------------------------------------------------------------- detection, override, saving

def test_ambiguous_folder_says_so_and_names_files(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg", 200, 100)
    _image(tmp_path / "b.jpg", 200, 100)
    for stem in "ab":
        (tmp_path / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><size><width>200</width>"
            "<height>100</height><depth>3</depth></size></annotation>")
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    guess = detect_format(tmp_path)
    assert guess.format == "voc"
    assert guess.ambiguous_with == [("yolo", [tmp_path / "a.txt"])]
    project = Project.open(tmp_path)
    assert project.format == "voc"
    (first,) = [p for p in project.scan_problems if "mixed label formats" in p.message]
    assert first.message == ("mixed label formats: opened as VOC, but the folder also holds YOLO "
                             "labels (a.txt); use --format yolo to open those instead")
    yolo = Project.open(tmp_path, format="yolo")
    assert yolo.format == "yolo" and [e.has_xml for e in yolo.entries] == [True, False]


def test_stray_coco_json_in_a_voc_folder_does_not_win(tmp_path: Path) -> None:
    for stem in "abc":
        _image(tmp_path / f"{stem}.jpg")
    for stem in "ab":
        (tmp_path / f"{stem}.xml").write_text(f"<annotation><filename>{stem}.jpg</filename>"
                                              "</annotation>")
    _coco(tmp_path, {"images": [{"id": 1, "file_name": "c.jpg"}], "annotations": [],
                     "categories": []}, "gt.json")
    guess = detect_format(tmp_path)
    assert (guess.format, guess.coverage["voc"], guess.coverage["coco"]) == ("voc", 2, 1)
    assert guess.ambiguous_with == [("coco", [tmp_path / "gt.json"])]


def test_plain_voc_and_empty_folders_stay_voc(tmp_path: Path) -> None:
    _image(tmp_path / "a.jpg")
    (tmp_path / "classes.txt").write_text("cat\n")
    project = Project.open(tmp_path)
    assert project.format == "voc" and project.scan_problems == []
    with pytest.raises(FormatError):
        Project.open(tmp_path, format="pascal")


def test_save_without_writer_refuses(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import workbench.core.project as project_module

    _image(tmp_path / "a.jpg", 200, 100)
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "classes.txt").write_text("cat\n")
    project = Project.open(tmp_path)
    monkeypatch.setattr(project_module, "writer_for", lambda fmt: None)
    ann, _ = project.load(project.entries[0])
    with pytest.raises(NotWritableError, match="saving YOLO labels is not supported yet"):
        project.save(project.entries[0], ann)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "a.txt", "classes.txt"]


def test_save_dispatches_to_registered_writer(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import workbench.core.project as project_module

    _image(tmp_path / "a.jpg", 200, 100)
    _image(tmp_path / "b.jpg", 200, 100)
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "classes.txt").write_text("cat\n")
    project = Project.open(tmp_path)
    calls = []
    monkeypatch.setattr(project_module, "writer_for",
                        lambda fmt: lambda p, e, a: calls.append((fmt, e.source.path)) or a)
    entry = project.entries[1]
    assert not entry.has_xml
    ann = project.new_annotation(entry)
    project.save(entry, ann)
    assert calls == [("yolo", tmp_path.resolve() / "b.txt")]
    assert project.entries[1].has_xml and project.entries[1].source.exists


def test_annotations_option_points_at_labels_elsewhere(tmp_path: Path) -> None:
    images = tmp_path / "photos"
    _image(images / "a.jpg", 200, 100)
    labels = tmp_path / "labels_elsewhere"
    labels.mkdir()
    (labels / "a.txt").write_text("0 0.5 0.5 0.5 0.25\n")
    (labels / "data.yaml").write_text("names: [cat]\n")
    project = Project.open(images, labels)
    assert project.format == "yolo"
    ann, problems = project.load(project.entries[0])
    assert problems == [] and [(o.name, o.box) for o in ann.objects] == [
        ("cat", (50.0, 37.5, 150.0, 62.5))]

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 200,
                                          "height": 100}],
                              "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                                               "bbox": [1, 2, 3, 4]}],
                              "categories": [{"id": 1, "name": "cat"}]}))
    project = Project.open(images, gt)
    assert project.format == "coco"
    ann, problems = project.load(project.entries[0])
    assert problems == [] and ann.objects[0].box == (1.0, 2.0, 4.0, 6.0)


def test_darknet_voc_labels_folder(tmp_path: Path) -> None:
    """darknet's voc_label.py writes ``labels/`` beside ``JPEGImages/``: the VOC tree opens as
    VOC and says so; ``--format yolo`` reads the labels."""
    _image(tmp_path / "JPEGImages" / "a.jpg", 200, 100)
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename></annotation>")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.5 0.25\n")
    (tmp_path / "classes.txt").write_text("cat\n")
    project = Project.open(tmp_path)
    assert project.format == "voc"
    assert any("YOLO labels (labels/a.txt)" in p.message for p in project.scan_problems)
    yolo = Project.open(tmp_path, format="yolo")
    ann, problems = yolo.load(yolo.entries[0])
    assert problems == [] and ann.objects[0].box == (50.0, 37.5, 150.0, 62.5)


def test_class_lists_per_format(tmp_path: Path) -> None:
    lm = tmp_path / "lm"
    _image(lm / "a.jpg")
    (lm / "a.json").write_text(json.dumps({"shapes": [], "imagePath": "a.jpg"}))
    (lm / "classes.txt").write_text("dog\ncat\n")
    project = Project.open(lm)
    assert project.format == "labelme" and project.predefined_classes() == ["dog", "cat"]
    project.write_class_list(["dog", "cat", "bird"])
    assert (lm / "classes.txt").read_text() == "dog\ncat\nbird\n"

    yolo = tmp_path / "yolo"
    _image(yolo / "a.jpg")
    (yolo / "a.txt").write_text("")
    (yolo / "classes.txt").write_text("dog\ncat\n")
    project = Project.open(yolo)
    project.write_class_list(["dog", "cat", "bird"])  # appending keeps every id
    assert (yolo / "classes.txt").read_text() == "dog\ncat\nbird\n"
    with pytest.raises(NotWritableError):
        project.write_class_list(["cat", "dog", "bird"])  # would renumber the labels
    with pytest.raises(NotWritableError):
        project.rename_class("cat", "kitten")
    assert (yolo / "classes.txt").read_text() == "dog\ncat\nbird\n"


def test_opening_one_split_folder_of_an_ultralytics_dataset(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "train" / "a.jpg", 200, 100)
    _image(tmp_path / "images" / "val" / "b.jpg", 200, 100)
    for split, stem in (("train", "a"), ("val", "b")):
        (tmp_path / "labels" / split).mkdir(parents=True)
        (tmp_path / "labels" / split / f"{stem}.txt").write_text("0 0.5 0.5 0.5 0.25\n")
    (tmp_path / "data.yaml").write_text("names: [cat]\n")
    project = Project.open(tmp_path / "images" / "train")
    assert project.format == "yolo" and [e.image_id for e in project.entries] == ["a"]
    ann, problems = project.load(project.entries[0])
    assert problems == [] and ann.objects[0].box == (50.0, 37.5, 150.0, 62.5)
    assert ann.objects[0].name == "cat" and project.class_file == tmp_path.resolve() / "data.yaml"
