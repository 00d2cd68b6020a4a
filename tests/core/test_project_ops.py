"""Project operations the GUI uses: save, new annotation, class rename (all-or-nothing), splits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PIL import Image

from workbench.core import atomic
from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.project import Project, split_ids
from workbench.core.voc import read_annotation, write_annotation


def _project(tmp_path: Path, n: int = 5) -> Project:
    for i in range(n):
        Image.new("RGB", (40, 30)).save(tmp_path / f"im{i}.jpg")
    for i in range(n - 1):
        name = "cat" if i % 2 else "dog"
        write_annotation(Annotation(f"im{i}.jpg", ImageSize(40, 30, 3),
                                    (VocObject(name, (1.0, 2.0, 20.0, 25.0)),
                                     VocObject("bird", (0.0, 0.0, 5.0, 5.0)))),
                         tmp_path / f"im{i}.xml")
    return Project.open(tmp_path)


def test_new_annotation_and_save_mark_the_entry(tmp_path: Path) -> None:
    p = _project(tmp_path)
    entry = p.entries[-1]
    assert not entry.has_xml
    ann = p.new_annotation(entry)
    assert (ann.filename, ann.size, ann.folder, ann.path) == (
        "im4.jpg", ImageSize(40, 30, 3), tmp_path.name, str(tmp_path / "im4.jpg"))
    assert p.classes == ["bird", "cat", "dog"]
    saved = p.save(entry, dataclasses.replace(ann, objects=(VocObject("ant", (1.0, 1.0, 9.0, 9.0)),)))
    assert saved.raw == (tmp_path / "im4.xml").read_bytes()
    assert p.entries[-1].has_xml
    assert p.classes == ["bird", "cat", "dog", "ant"]  # cached list extended, not reordered
    assert Project.open(tmp_path).classes == ["ant", "bird", "cat", "dog"]
    loaded, problems = p.load(p.entries[-1])
    assert loaded.objects[0].name == "ant" and problems == []


def test_class_file_order_comes_first(tmp_path: Path) -> None:
    p = _project(tmp_path)
    (tmp_path / "predefined_classes.txt").write_text("\ufeffzebra\n\n dog \nzebra\n")
    assert p.refresh_classes() == ["zebra", "dog", "bird", "cat"]
    p.write_class_list(["zebra", "dog", "cat"])
    assert (tmp_path / "predefined_classes.txt").read_text() == "zebra\ndog\ncat\n"


def test_rename_class_rewrites_every_file_and_the_class_file(tmp_path: Path) -> None:
    p = _project(tmp_path)
    (tmp_path / "classes.txt").write_text("dog\ncat\nbird\n")
    before_im0 = (tmp_path / "im0.xml").read_bytes()
    assert p.rename_class("cat", "kitten") == 2
    names = [[o.name for o in read_annotation(tmp_path / f"im{i}.xml")[0].objects] for i in range(4)]
    assert names == [["dog", "bird"], ["kitten", "bird"], ["dog", "bird"], ["kitten", "bird"]]
    assert (tmp_path / "im0.xml").read_bytes() == before_im0  # untouched file not rewritten
    assert (tmp_path / "classes.txt").read_text() == "dog\nkitten\nbird\n"
    assert p.classes == ["dog", "kitten", "bird"]
    assert p.rename_class("kitten", "dog") == 2  # merge into an existing class
    assert (tmp_path / "classes.txt").read_text() == "dog\nbird\n"
    assert p.classes == ["dog", "bird"]


def test_rename_class_is_all_or_nothing(tmp_path: Path, monkeypatch) -> None:
    p = _project(tmp_path)
    before = {f.name: f.read_bytes() for f in tmp_path.glob("*.xml")}
    real = atomic._prepare
    calls: list[Path] = []

    def flaky(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(path, data)

    monkeypatch.setattr(atomic, "_prepare", flaky)
    with pytest.raises(OSError, match="disk full"):
        p.rename_class("bird", "sparrow")
    assert {f.name: f.read_bytes() for f in tmp_path.glob("*.xml")} == before
    assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith(".")) == []


def test_rename_rejects_empty_names(tmp_path: Path) -> None:
    p = _project(tmp_path)
    with pytest.raises(ValueError, match="must not be empty"):
        p.rename_class("cat", "  ")


def test_split_ids_is_seeded_and_complete() -> None:
    ids = [f"img{i}" for i in range(10)]
    train, val = split_ids(ids, 0.2, seed=0)
    assert (len(train), len(val)) == (8, 2)
    assert sorted(train + val) == sorted(ids)
    assert split_ids(reversed(ids), 0.2, seed=0) == (train, val)  # input order does not matter
    assert any(split_ids(ids, 0.2, seed=s)[1] != val for s in range(1, 5))
    assert split_ids(["a", "b"], 0.01, seed=0)[1] != []  # never an empty val with 2+ images
    assert split_ids(["a"], 0.5) == (["a"], [])
    with pytest.raises(ValueError):
        split_ids(ids, 1.5)


def test_write_splits_for_h5(tmp_path: Path) -> None:
    p = _project(tmp_path)
    splits = p.write_splits(val_fraction=0.25, seed=3)
    main = tmp_path / "ImageSets" / "Main"
    assert sorted(x.name for x in main.iterdir()) == ["train.txt", "trainval.txt", "val.txt"]
    assert (main / "trainval.txt").read_text() == "im0\nim1\nim2\nim3\n"
    assert len(splits["val"]) == 1 and len(splits["train"]) == 3
    assert (main / "val.txt").read_text() == f"{splits['val'][0]}\n"
    assert p.write_splits(val_fraction=0.25, seed=3) == splits
    assert p.read_splits() == splits
