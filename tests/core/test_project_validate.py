"""core.validate: counts and the project-level checks (duplicates, class-file typos, splits)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.project import Project
from workbench.core.validate import validate_project
from workbench.core.voc import write_annotation


def test_duplicates_typos_splits_and_unreadable_images(tmp_path: Path) -> None:
    for name in ("a", "b"):
        Image.new("RGB", (40, 30)).save(tmp_path / f"{name}.jpg")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    box = (1.0, 1.0, 20.0, 20.0)
    write_annotation(Annotation("a.jpg", ImageSize(40, 30, 3),
                                (VocObject("cat", box), VocObject("cat", box), VocObject("dgo", box))),
                     tmp_path / "a.xml")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    main = tmp_path / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("a\nzzz\n")
    (main / "cat_train.txt").write_text("zzz  1\n")
    report = validate_project(Project.open(tmp_path))
    assert (report.images, report.annotated, report.objects) == (3, 1, 3)
    assert report.per_class == {"cat": 2, "dog": 0, "dgo": 1}
    assert [(p.file, p.object, p.severity, p.message) for p in report.problems] == [
        ("a.xml", 1, "warning", "duplicate of object 0 ('cat', same box)"),
        ("a.xml", 2, "warning", "class 'dgo' is not in classes.txt"),
        ("broken.png", None, "error",
         report.problems[2].message),
        ("ImageSets/Main/train.txt", None, "warning", "lists 1 image ids with no image (first: zzz)"),
    ]
    assert report.problems[2].message.startswith("unreadable image")
    assert (report.errors, report.warnings) == (1, 3)
    assert report.to_json()["problems"][0] == {
        "file": "a.xml", "object": 1, "severity": "warning",
        "message": "duplicate of object 0 ('cat', same box)"}


def test_clean_labelimg_project_has_no_problems(raccoon_dir: Path) -> None:
    report = validate_project(Project.open(raccoon_dir))
    assert (report.images, report.annotated, report.objects, report.per_class) == (
        200, 200, 217, {"raccoon": 217})
    assert report.problems == ()


def test_entry_lookup_through_a_symlinked_folder(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    Image.new("RGB", (8, 8)).save(real / "x.jpg")
    (tmp_path / "link").symlink_to(real)
    p = Project.open(real)
    assert p.entry(tmp_path / "link" / "x.jpg") == p.entries[0]
    assert p.entry("x.jpg") == p.entries[0]
    assert p.entry(tmp_path / "nope.jpg") is None
