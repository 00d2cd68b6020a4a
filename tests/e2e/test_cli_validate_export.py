"""``workbench validate`` and ``workbench export`` end to end (real files, real CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from workbench.cli import main
from workbench.core.export import read_export, same_records
from workbench.core.project import Project
from workbench.core.voc import read_annotation

ROOT = Path(__file__).resolve().parents[2]


def _raccoon_records(raccoon_dir: Path) -> dict:
    out = {}
    for xml in (raccoon_dir / "annotations").glob("*.xml"):
        ann, _ = read_annotation(xml)
        out[xml.stem] = [(o.name, o.box, o.difficult) for o in ann.objects]
    return out


def test_validate_raccoon_json(raccoon_dir: Path, capsys) -> None:
    assert main(["validate", str(raccoon_dir / "images"), "--annotations",
                 str(raccoon_dir / "annotations"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "images": 200, "annotated": 200, "objects": 217, "per_class": {"raccoon": 217},
        "problems": []}


def test_validate_entry_point_exit_status(raccoon_dir: Path, tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "workbench", "validate", str(raccoon_dir)],
                        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "images     200" in ok.stdout and "raccoon  217" in ok.stdout
    assert ok.stdout.rstrip().endswith("0 errors, 0 warnings")
    missing = subprocess.run([sys.executable, "-m", "workbench", "validate", str(tmp_path / "x")],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert missing.returncode == 2 and "no such folder" in missing.stderr


def _broken_project(folder: Path) -> Path:
    Image.new("RGB", (50, 40)).save(folder / "a.jpg")
    Image.new("RGB", (50, 40)).save(folder / "b.jpg")
    (folder / "c.jpg").write_bytes(b"garbage")
    (folder / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename><size><width>50</width><height>40</height>"
        "<depth>3</depth></size><object><name>cat</name><bndbox><xmin>30</xmin><ymin>1</ymin>"
        "<xmax>10</xmax><ymax>9</ymax></bndbox></object><object><name>dog</name><bndbox>"
        "<xmin>1</xmin><ymin>1</ymin><xmax>60</xmax><ymax>9</ymax></bndbox></object></annotation>")
    (folder / "b.xml").write_text("<annotation><filename>b.jpg")
    return folder


def test_validate_reports_every_problem(tmp_path: Path, capsys) -> None:
    folder = _broken_project(tmp_path)
    assert main(["validate", str(folder), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("images", "annotated", "objects", "per_class")} == {
        "images": 3, "annotated": 2, "objects": 2, "per_class": {"cat": 1, "dog": 1}}
    got = [(p["file"], p["object"], p["severity"], p["message"].split(" (")[0])
           for p in report["problems"]]
    assert got == [
        ("a.xml", 0, "error", "inverted box"),
        ("a.xml", 1, "warning", "box"),
        ("b.xml", None, "error", "not well-formed XML"),
        ("c.jpg", None, "error", "unreadable image"),
    ]
    assert main(["validate", str(folder)]) == 1
    table = capsys.readouterr().out
    assert "severity  file   object  message" in table
    assert "3 errors, 1 warnings" in table


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
def test_export_raccoon_reads_back_identically(raccoon_dir: Path, tmp_path: Path, fmt: str,
                                               capsys) -> None:
    out = tmp_path / fmt
    assert main(["export", str(raccoon_dir), "--format", fmt, "--out", str(out), "--seed", "7"]) == 0
    assert "read back: identical" in capsys.readouterr().out
    back = read_export(out, fmt)
    source = _raccoon_records(raccoon_dir)
    assert len(back) == 200 and sum(len(v) for v in back.values()) == 217
    assert same_records(source, back, tol=0.01 if fmt == "yolo" else 1e-9,
                        compare_difficult=fmt != "yolo")
    if fmt == "voc":
        assert main(["validate", str(out), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["images"], report["objects"], report["problems"]) == (200, 217, [])
        val = (out / "ImageSets" / "Main" / "val.txt").read_text().split()
        train = (out / "ImageSets" / "Main" / "train.txt").read_text().split()
        assert (len(train), len(val)) == (160, 40) and not set(train) & set(val)
        xml = (out / "Annotations" / "raccoon-1.xml").read_text()
        assert xml.startswith('<annotation verified="yes">\n\t<folder>voc</folder>\n'
                              "\t<filename>raccoon-1.jpg</filename>\n\t<source>")
        assert (out / "JPEGImages" / "raccoon-1.jpg").read_bytes() == \
            (raccoon_dir / "images" / "raccoon-1.jpg").read_bytes()
    if fmt == "coco":
        from pycocotools.coco import COCO

        coco = COCO(str(out / "instances.json"))
        assert len(coco.getImgIds()) == 200 and len(coco.getAnnIds()) == 217
        first = coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0]
        assert first["bbox"] == [80.0, 87.0, 442.0, 321.0]  # raccoon-1: VOC (81, 88, 522, 408)
    if fmt == "yolo":
        assert (out / "labels" / "train").is_dir() and (out / "classes.txt").read_text() == "raccoon\n"


def test_export_split_is_reproducible_by_seed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(12):
        Image.new("RGB", (20, 20)).save(src / f"i{i}.png")
        (src / f"i{i}.xml").write_text(
            f"<annotation><filename>i{i}.png</filename><size><width>20</width><height>20</height>"
            "<depth>3</depth></size><object><name>x</name><bndbox><xmin>2</xmin><ymin>2</ymin>"
            "<xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>")
    outs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        out = tmp_path / f"out_{name}"
        assert main(["export", str(src), "--format", "voc", "--out", str(out),
                     "--seed", str(seed), "--val-fraction", "0.25"]) == 0
        outs[name] = (out / "ImageSets" / "Main" / "val.txt").read_text()
        assert sorted((out / "JPEGImages").iterdir())[0].suffix == ".jpg"  # PNG → VOC JPEG
    assert outs["a"] == outs["b"] != outs["c"]
    assert len(outs["a"].split()) == 3


def test_export_keeps_unknown_elements_and_rotates_exif_images(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (60, 40)).save(src / "r.jpg", exif=exif)  # displayed as 40x60
    (src / "r.xml").write_text(
        '<annotation><filename>r.jpg</filename><owner>me</owner><size><width>40</width>'
        "<height>60</height><depth>3</depth></size><object><name>cat</name><occluded>1</occluded>"
        "<bndbox><xmin>1.5</xmin><ymin>1</ymin><xmax>30</xmax><ymax>55</ymax></bndbox>"
        "</object></annotation>")
    out = tmp_path / "out"
    assert main(["export", str(src), "--format", "voc", "--out", str(out)]) == 0
    xml = (out / "Annotations" / "r.xml").read_text()
    assert "<owner>me</owner>" in xml and "<occluded>1</occluded>" in xml and "<xmin>1.5</xmin>" in xml
    with Image.open(out / "JPEGImages" / "r.jpg") as img:
        assert img.size == (40, 60) and img.getexif().get(0x0112, 1) == 1


def test_export_refuses_non_empty_output(tmp_path: Path, capsys) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    assert main(["export", str(tmp_path), "--format", "coco", "--out", str(tmp_path / "out")]) == 2
    assert "folder is not empty" in capsys.readouterr().err
    assert Project.open(tmp_path).entries == []


def test_export_nested_folders_with_repeated_stems(tmp_path: Path) -> None:
    images, labels = tmp_path / "imgs", tmp_path / "xml"
    for sub in ("day", "night"):
        (images / sub).mkdir(parents=True)
        (labels / sub).mkdir(parents=True)
        Image.new("RGB", (30, 20)).save(images / sub / "a.jpg")
        (labels / sub / "a.xml").write_text(
            f"<annotation><filename>a.jpg</filename><size><width>30</width><height>20</height>"
            f"<depth>3</depth></size><object><name>{sub}</name><bndbox><xmin>2</xmin><ymin>3</ymin>"
            "<xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>")
    out = tmp_path / "coco"
    assert main(["export", str(images), "--annotations", str(labels), "--format", "coco",
                 "--out", str(out), "--val-fraction", "0.5"]) == 0
    doc = json.loads((out / "instances.json").read_text())
    assert sorted(i["file_name"] for i in doc["images"]) == ["day_a.jpg", "night_a.jpg"]
    assert sorted(i["split"] for i in doc["images"]) == ["train", "val"]
    assert [c["name"] for c in doc["categories"]] == ["day", "night"]
    assert [a["bbox"] for a in doc["annotations"]] == [[1.0, 2.0, 8.0, 7.0]] * 2
    assert read_export(out, "coco") == {"day_a": [("day", (1.0, 2.0, 9.0, 9.0), False)],
                                        "night_a": [("night", (1.0, 2.0, 9.0, 9.0), False)]}
