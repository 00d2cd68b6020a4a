"""Project scanning: flat, nested, VOC layout, separate annotation folder, matching rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.project import Project
from workbench.core.voc import write_annotation


def _img(path: Path, size=(32, 24), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 10, 10)).save(path, format=fmt)
    return path


def _ann(xml: Path, filename: str, *names: str) -> Path:
    objects = tuple(VocObject(n, (1.0, 1.0, 10.0, 10.0)) for n in names)
    write_annotation(Annotation(filename, ImageSize(32, 24, 3), objects), xml)
    return xml


def test_flat_nested_any_case_extensions_natural_order(tmp_path: Path) -> None:
    for name, fmt in [("img10.JPG", "JPEG"), ("img2.jpeg", "JPEG"), ("b.Png", "PNG"),
                      ("c.bmp", "BMP"), ("d.TIF", "TIFF"), ("e.tiff", "TIFF"), ("f.WebP", "WEBP"),
                      ("sub/deep/g.jpg", "JPEG")]:
        _img(tmp_path / name, fmt=fmt)
    (tmp_path / "notes.txt").write_text("x")
    _img(tmp_path / ".hidden" / "h.jpg")
    _ann(tmp_path / "img2.xml", "img2.jpeg", "cat")
    _ann(tmp_path / "sub" / "deep" / "g.xml", "g.jpg", "dog")
    p = Project.open(tmp_path)
    assert p.layout == "flat"
    assert [e.key for e in p.entries] == ["b.Png", "c.bmp", "d.TIF", "e.tiff", "f.WebP", "img2.jpeg",
                                          "img10.JPG", "sub/deep/g.jpg"]
    assert [e.key for e in p.annotated] == ["img2.jpeg", "sub/deep/g.jpg"]
    unlabeled = p.entry(tmp_path / "img10.JPG")
    assert unlabeled.xml_path == tmp_path / "img10.xml" and not unlabeled.has_xml
    assert p.xml_path_for("sub/deep/g.jpg") == tmp_path / "sub" / "deep" / "g.xml"
    assert p.classes == ["cat", "dog"]
    assert p.scan_problems == []


def test_voc_layout_from_root_or_jpegimages(tmp_path: Path) -> None:
    root = tmp_path / "VOC2007"
    for stem in ("000005", "000007", "000009"):
        _img(root / "JPEGImages" / f"{stem}.jpg")
    _ann(root / "Annotations" / "000005.xml", "000005.jpg", "chair")
    _ann(root / "Annotations" / "000007.xml", "000007.jpg", "car")
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("000005\n000007\n")
    (main / "car_train.txt").write_text("000005 -1\n000007  1\n")
    for opened in (root, root / "JPEGImages"):
        p = Project.open(opened)
        assert (p.layout, p.root, p.annotations_dir) == ("voc", root, root / "Annotations")
        assert [e.has_xml for e in p.entries] == [True, True, False]
        assert p.entries[2].xml_path == root / "Annotations" / "000009.xml"
        assert p.read_splits() == {"car_train": ["000005", "000007"], "train": ["000005", "000007"]}


def test_separate_folder_matched_by_filename_then_stem(tmp_path: Path) -> None:
    images, labels = tmp_path / "imgs", tmp_path / "labels"
    _img(images / "cat.jpg")
    _img(images / "dog.png")
    _img(images / "nested" / "owl.jpg")
    _img(images / "plain.jpg")
    _ann(labels / "label_0001.xml", "cat.jpg", "cat")           # by <filename>
    _ann(labels / "dog.xml", "DSC_0001.JPG", "dog")              # stale filename: by stem
    _ann(labels / "nested" / "x.xml", "owl.jpg", "owl")          # by filename, same sub-folder
    _ann(labels / "ghost.xml", "ghost.jpg", "ghost")             # names a missing image
    p = Project.open(images, labels)
    assert p.layout == "separate"
    got = {e.key: (e.xml_path.relative_to(labels).as_posix() if e.has_xml else None)
           for e in p.entries}
    assert got == {"cat.jpg": "label_0001.xml", "dog.png": "dog.xml", "nested/owl.jpg": "nested/x.xml",
                   "plain.jpg": None}
    assert p.entry(images / "plain.jpg").xml_path == labels / "plain.xml"
    assert p.orphans == [labels / "ghost.xml"]
    assert [(x.file, x.severity, x.message) for x in p.scan_problems] == [
        ("labels/ghost.xml", "error", "names image 'ghost.jpg', which is not in the project")]
    _, problems = p.load(p.entry(images / "dog.png"))
    assert [x.message for x in problems] == [
        "<filename> 'DSC_0001.JPG' differs from the image file 'dog.png'"]


def test_images_and_annotations_subfolders_are_recognised(tmp_path: Path) -> None:
    _img(tmp_path / "images" / "a.jpg")
    _ann(tmp_path / "annotations" / "a.xml", "a.jpg", "cat")
    p = Project.open(tmp_path)
    assert (p.layout, p.images_dir, p.annotations_dir) == (
        "separate", tmp_path / "images", tmp_path / "annotations")
    assert p.entries[0].has_xml


def test_two_xml_claiming_one_image_and_stem_clash(tmp_path: Path) -> None:
    _img(tmp_path / "a.jpg")
    _img(tmp_path / "a.png", fmt="PNG")
    _ann(tmp_path / "a.xml", "a.png", "cat")
    _ann(tmp_path / "copy.xml", "a.png", "cat")
    p = Project.open(tmp_path)
    by_key = {e.key: e for e in p.entries}
    assert by_key["a.png"].has_xml and by_key["a.png"].xml_path == tmp_path / "a.xml"
    assert not by_key["a.jpg"].has_xml and by_key["a.jpg"].xml_path == tmp_path / "a.jpg.xml"
    assert [(x.file, x.severity) for x in p.scan_problems] == [
        ("copy.xml", "error"), ("a.jpg", "warning")]
    assert "already has a.xml" in p.scan_problems[0].message


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope: no such folder"):
        Project.open(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no such annotations folder"):
        Project.open(tmp_path, tmp_path / "nope")


def test_raccoon_project(raccoon_dir: Path) -> None:
    p = Project.open(raccoon_dir / "images", raccoon_dir / "annotations")
    assert len(p.entries) == 200 and len(p.annotated) == 200
    assert p.classes == ["raccoon"]
    total = 0
    for e in p.entries:
        ann, problems = p.load(e)
        assert problems == []
        total += len(ann.objects)
    assert total == 217


def test_natural_text_key_sorts_and_ties_as_natural_key() -> None:
    import random

    from workbench.core.project_scan import natural_key, natural_text_key

    names = ["a", "a0", "a00", "a1", "a01", "a001b", "a1b", "A1", "b", "", "0", "00", "10", "9",
             "x.y.z", "img2.jpg", "img10.jpg", "IMG2.JPG", "\u0663.jpg", "\u0660\u0663.jpg",
             "3.jpg", "a\x01b", "ab", "a b", "2a3b4", "2a3b04", "2a03b4", "photo_12_3.png",
             "photo_12_30.png", "photo_1_300.png", "é1", "e1", "ß2", "ss2"]
    names += [f"{random.Random(i).choice(['im', 'IM', 'x'])}{i % 37}_{i % 5}.jpg"
              for i in range(300)]
    for seed in range(5):
        random.Random(seed).shuffle(names)
        assert sorted(names, key=natural_text_key) == sorted(names, key=natural_key)
    for a in names[:60]:
        for b in names[:60]:
            assert (natural_text_key(a) == natural_text_key(b)) == \
                (natural_key(a) == natural_key(b))


def test_annotations_folder_with_xml_anywhere_opens_as_voc(tmp_path: Path) -> None:
    from workbench.core.project_scan import _holds_xml

    images, ann = tmp_path / "img", tmp_path / "ann"
    _img(images / "a.jpg")
    (ann / ".hidden").mkdir(parents=True)
    _ann(ann / ".hidden" / "a.xml", "a.jpg", "cat")  # in a hidden folder: not seen
    (ann / "notes.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    assert not _holds_xml(ann)
    assert Project.open(images, ann).format == "yolo"
    _ann(ann / "deep" / "er" / "a.XML", "a.jpg", "cat")
    assert _holds_xml(ann)
    project = Project.open(images, ann)
    assert project.format == "voc"
    assert [e.has_xml for e in project.entries] == [True]


@pytest.mark.parametrize("layout", ["voc", "beside"])
def test_entry_paths_print_as_pathlib_formats_them(tmp_path: Path, layout: str) -> None:
    """The entries' paths carry the strings the scan joined (not formatted again): each is
    exactly what pathlib gives for the same parts, in subfolders and with odd names too."""
    root = tmp_path / "p q"
    names = ["a.jpg", "sub/b c.jpg", "sub/deep/é.jpg", "x.y.jpg", "-d.jpg"]
    for name in names:
        image = _img(root / ("JPEGImages" if layout == "voc" else "") / name, fmt="JPEG")
        ann = (root / "Annotations" / name if layout == "voc" else image).with_suffix(".xml")
        ann.parent.mkdir(parents=True, exist_ok=True)
        _ann(ann, image.name, "cat")
    project = Project.open(root / "JPEGImages" if layout == "voc" else root)
    assert len(project.entries) == len(names) and all(e.has_xml for e in project.entries)
    for entry in project.entries:
        for path in (entry.image_path, entry.xml_path):
            assert str(path) == str(Path(*path.parts)) and path.exists()
            assert path == Path(str(path))
