"""``workbench import`` end to end: the raccoon photos converted to each format (by converters
written here, independent of the code under test), imported back to VOC, compared with the
original VOC boxes (within 1 px); layouts, splits, file names with spaces, refusals."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from workbench.cli import main
from workbench.core.voc import read_annotation

# ---------------------------------------------------------------- the originals, read once


def _originals(raccoon_dir: Path) -> dict[str, dict]:
    """``{stem: {"file", "size", "boxes": [(name, xmin, ymin, xmax, ymax)]}}`` from the XML
    text itself (VOC 1-based inclusive integers, as LabelImg wrote them)."""
    from lxml import etree

    out = {}
    for xml in sorted((raccoon_dir / "annotations").glob("*.xml")):
        root = etree.parse(str(xml)).getroot()
        size = root.find("size")
        boxes = []
        for obj in root.findall("object"):
            b = obj.find("bndbox")
            boxes.append((obj.findtext("name"),
                          *(float(b.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))))
        image = raccoon_dir / "images" / root.findtext("filename")
        if not image.exists():
            image = raccoon_dir / "images" / f"{xml.stem}.jpg"
        out[xml.stem] = {"file": image, "boxes": boxes,
                         "size": (int(size.findtext("width")), int(size.findtext("height")))}
    return out


@pytest.fixture(scope="module")
def originals(raccoon_dir: Path) -> dict[str, dict]:
    data = _originals(raccoon_dir)
    assert len(data) == 200 and sum(len(d["boxes"]) for d in data.values()) == 217
    return data


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _split(i: int) -> str:
    return "val" if i % 5 == 0 else "train"


# ---------------------------------------------------------------- converters (test-owned)

def to_yolo_ultralytics(data: dict, root: Path) -> None:
    for i, (stem, d) in enumerate(sorted(data.items())):
        split, (w, h) = _split(i), d["size"]
        _place(d["file"], root / "images" / split / d["file"].name)
        lines = []
        for _, x1, y1, x2, y2 in d["boxes"]:
            x1 -= 1  # VOC 1-based inclusive → pixel edges
            y1 -= 1
            lines.append(f"0 {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                         f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n")
        label = root / "labels" / split / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(lines))
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames:\n"
                                    "  0: raccoon\n")


def to_coco(data: dict, root: Path) -> None:
    images, annotations = [], []
    for i, (_stem, d) in enumerate(sorted(data.items()), start=1):
        _place(d["file"], root / "images" / d["file"].name)
        images.append({"id": i, "file_name": d["file"].name, "width": d["size"][0],
                       "height": d["size"][1]})
        for _, x1, y1, x2, y2 in d["boxes"]:
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": 1,
                                "bbox": [x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1],
                                "area": (x2 - x1 + 1) * (y2 - y1 + 1), "iscrowd": 0})
    (root / "instances.json").write_text(json.dumps(
        {"info": {}, "images": images, "annotations": annotations,
         "categories": [{"id": 1, "name": "raccoon"}]}))


def to_createml(data: dict, root: Path) -> None:
    records = []
    for _stem, d in sorted(data.items()):
        _place(d["file"], root / d["file"].name)
        records.append({"image": d["file"].name, "annotations": [
            {"label": n, "coordinates": {"x": (x1 - 1 + x2) / 2, "y": (y1 - 1 + y2) / 2,
                                         "width": x2 - x1 + 1, "height": y2 - y1 + 1}}
            for n, x1, y1, x2, y2 in d["boxes"]]})
    (root / "annotations.json").write_text(json.dumps(records))


def to_labelme(data: dict, root: Path) -> None:
    for _stem, d in sorted(data.items()):
        _place(d["file"], root / d["file"].name)
        shapes = [{"label": n, "points": [[x1 - 1, y1 - 1], [x2, y2]], "group_id": None,
                   "shape_type": "rectangle", "flags": {}} for n, x1, y1, x2, y2 in d["boxes"]]
        doc = {"version": "5.2.1", "flags": {}, "shapes": shapes, "imagePath": d["file"].name,
               "imageData": None, "imageHeight": d["size"][1], "imageWidth": d["size"][0]}
        (root / f"{d['file'].stem}.json").write_text(json.dumps(doc, indent=2))


CONVERTERS = {"yolo": to_yolo_ultralytics, "coco": to_coco, "createml": to_createml,
              "labelme": to_labelme}


def _check_voc_tree(out: Path, data: dict) -> None:
    xmls = sorted((out / "Annotations").glob("*.xml"))
    assert len(list((out / "JPEGImages").iterdir())) == 200 and len(xmls) == 200
    objects = 0
    for xml in xmls:
        ann, problems = read_annotation(xml, out / "JPEGImages" / f"{xml.stem}.jpg")
        assert not problems, problems
        want = data[xml.stem]["boxes"]
        assert len(ann.objects) == len(want)
        for o, (name, x1, y1, x2, y2) in zip(ann.objects, want):
            assert o.name == name
            assert o.box == pytest.approx((x1 - 1, y1 - 1, x2, y2), abs=1.0)
        objects += len(ann.objects)
    assert objects == 217
    assert (out / "classes.txt").read_text() == "raccoon\n"


@pytest.mark.parametrize("fmt", sorted(CONVERTERS))
def test_import_each_format_gives_the_original_boxes(fmt: str, originals: dict, tmp_path: Path,
                                                     capsys) -> None:
    pytest.importorskip(f"workbench.core.formats.{fmt}")
    src = tmp_path / f"raccoon-{fmt}"
    CONVERTERS[fmt](originals, src)
    out = tmp_path / "voc"
    assert main(["import", str(src), "--out", str(out)]) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    assert "imported 200 images (200 annotated, 217 objects, 1 classes)" in printed
    assert printed.rstrip().endswith("read back: identical")
    _check_voc_tree(out, originals)
    if fmt == "yolo":  # the source's split folders become ImageSets/Main
        main_dir = out / "ImageSets" / "Main"
        train, val = ((main_dir / f"{s}.txt").read_text().split() for s in ("train", "val"))
        assert (len(train), len(val)) == (160, 40)
        assert sorted((main_dir / "trainval.txt").read_text().split()) == sorted(train + val)
    # never moved: the source still holds every image
    assert len([p for p in src.rglob("*.jpg")]) == 200


def test_import_voc_copy_and_validate(originals: dict, raccoon_dir: Path, tmp_path: Path,
                                      capsys) -> None:
    out = tmp_path / "voc"
    assert main(["import", str(raccoon_dir), "--out", str(out), "--copy"]) == 0
    assert "images: 200 copied" in capsys.readouterr().out
    _check_voc_tree(out, originals)
    image = next((out / "JPEGImages").iterdir())
    assert image.stat().st_nlink == 1 and not image.is_symlink()
    assert main(["validate", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["images"], report["annotated"], report["objects"]) == (200, 200, 217)


# ---------------------------------------------------------------- small cases


def _tiny_yolo(root: Path, names: list[str]) -> None:
    """LabelImg's YOLO layout: images, .txt and classes.txt side by side."""
    root.mkdir(parents=True)
    for i, name in enumerate(names):
        Image.new("RGB", (100, 50), (40, 80, 120)).save(root / f"{name}.jpg")
        (root / f"{name}.txt").write_text(f"{i % 2} 0.5 0.5 0.4 0.4\n")
    (root / "classes.txt").write_text("cat\ndog\n")


def test_file_names_with_spaces_and_link_mode(tmp_path: Path, capsys) -> None:
    pytest.importorskip("workbench.core.formats.yolo")
    src = tmp_path / "my data"
    _tiny_yolo(src, ["a photo", "another photo (2)", "x"])
    out = tmp_path / "out dir"
    assert main(["import", str(src), "--out", str(out), "--link"]) == 0
    printed = capsys.readouterr().out
    assert "read back: identical" in printed and "images: 3 hard-linked" in printed
    ann, problems = read_annotation(out / "Annotations" / "another photo (2).xml")
    assert [o.name for o in ann.objects] == ["dog"] and not problems
    assert ann.objects[0].box == pytest.approx((30.0, 15.0, 70.0, 35.0), abs=1.0)
    assert ann.filename == "another photo (2).jpg"
    assert (out / "JPEGImages" / "a photo.jpg").stat().st_ino == (src / "a photo.jpg").stat().st_ino


def test_destination_must_be_new_or_empty_and_outside(tmp_path: Path, capsys) -> None:
    pytest.importorskip("workbench.core.formats.yolo")
    src = tmp_path / "src"
    _tiny_yolo(src, ["a"])
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    assert main(["import", str(src), "--out", str(full)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (full / "keep.txt").read_text() == "mine"
    assert main(["import", str(src), "--out", str(src / "voc")]) == 2
    assert "inside the dataset" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["import", str(src), "--out", str(empty)]) == 0


def test_coco_file_name_with_dotdot_is_refused(tmp_path: Path, capsys) -> None:
    pytest.importorskip("workbench.core.formats.coco")
    outside = tmp_path / "secret.jpg"
    Image.new("RGB", (40, 30)).save(outside)
    src = tmp_path / "coco"
    (src / "images").mkdir(parents=True)
    Image.new("RGB", (40, 30)).save(src / "images" / "ok.jpg")
    (src / "instances.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "ok.jpg", "width": 40, "height": 30},
                   {"id": 2, "file_name": "../../secret.jpg", "width": 40, "height": 30}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]},
                        {"id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 1, 10, 10]}],
        "categories": [{"id": 1, "name": "thing"}]}))
    out = tmp_path / "out"
    main(["import", str(src), "--out", str(out)])
    captured = capsys.readouterr()
    assert "../../secret.jpg" in captured.err  # the problem names the record
    assert sorted(p.name for p in (out / "JPEGImages").iterdir()) == ["ok.jpg"]
    assert not (out / "Annotations" / "secret.xml").exists()


def test_cancel_removes_what_was_written_and_format_override(tmp_path: Path, capsys) -> None:
    import threading

    from workbench.core.importing import ImportCancelled, import_dataset

    pytest.importorskip("workbench.core.formats.yolo")
    src = tmp_path / "src"
    _tiny_yolo(src, [f"img{i}" for i in range(6)])
    stop = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int, name: str) -> None:
        seen.append(done)
        if done == 3:
            stop.set()

    out = tmp_path / "out"
    with pytest.raises(ImportCancelled):
        import_dataset(src, out, progress=progress, stop=stop)
    assert seen == [1, 2, 3] and not out.exists()
    # --format voc on a YOLO folder: no XML there, so images only and nothing annotated
    assert main(["import", str(src), "--out", str(out), "--format", "voc"]) == 0
    assert "imported 6 images (0 annotated, 0 objects" in capsys.readouterr().out


def test_coco_train_and_val_files_become_the_split(tmp_path: Path, capsys) -> None:
    pytest.importorskip("workbench.core.formats.coco")
    src = tmp_path / "coco"
    (src / "images").mkdir(parents=True)
    docs = {"train": {"images": [], "annotations": [], "categories": [{"id": 7, "name": "cat"}]},
            "val": {"images": [], "annotations": [], "categories": [{"id": 7, "name": "cat"}]}}
    for i in range(5):
        split = "val" if i == 2 else "train"
        Image.new("RGB", (60, 40)).save(src / "images" / f"im {i}.jpg")
        doc = docs[split]
        doc["images"].append({"id": i, "file_name": f"im {i}.jpg", "width": 60, "height": 40})
        doc["annotations"].append({"id": i, "image_id": i, "category_id": 7,
                                   "bbox": [1.5, 2, 10, 20], "area": 200, "iscrowd": 0})
    for split, doc in docs.items():
        (src / f"instances_{split}.json").write_text(json.dumps(doc))
    out = tmp_path / "voc"
    assert main(["import", str(src), "--out", str(out)]) == 0
    assert "splits: train 4, val 1, trainval 5" in capsys.readouterr().out
    main_dir = out / "ImageSets" / "Main"
    assert (main_dir / "val.txt").read_text() == "im%202\n"  # ids escaped in split files
    ann, _ = read_annotation(out / "Annotations" / "im 2.xml")
    assert ann.objects[0].box == pytest.approx((1.5, 2.0, 11.5, 22.0), abs=1.0)
