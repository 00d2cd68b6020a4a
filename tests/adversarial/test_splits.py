"""Odd file names in split files, export read-back and the folder scan (issue 12).

Found by the adversarial pass: names with spaces or newlines broke ``ImageSets/Main/*.txt``
(first token kept; an image flipped between train and val; "added 2 newly labeled images" on
every run); ``[`` crashed the YOLO export's read-back; a symlink loop stopped the window from
opening (``RuntimeError: Symlink loop``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.project import Project
from workbench.core.safepath import escape_id, unescape_id
from workbench.core.voc import write_annotation

ODD_STEMS = ["my photo", "two  spaces", "line\nbreak", "tab\tx", "a%20b", "100%", "x[1]",
             "star*", " lead", "trail ", "é ü", "plain", "img2", "img10"]


def _labeled(folder: Path, stem: str, name: str = "cat") -> None:
    Image.new("RGB", (40, 30), (120, 30, 30)).save(folder / f"{stem}.jpg")
    shown = f"{stem}.jpg".encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    ann = Annotation(filename=shown, size=ImageSize(40, 30, 3),
                     objects=(VocObject(name=name, box=(2.0, 3.0, 20.0, 25.0)),))
    write_annotation(ann, folder / f"{stem}.xml")


@pytest.fixture()
def odd_project(tmp_path: Path) -> Path:
    for stem in ODD_STEMS:
        _labeled(tmp_path, stem)
    return tmp_path


@pytest.mark.parametrize("stem", ODD_STEMS)
def test_split_id_token_round_trips(stem: str) -> None:
    token = escape_id(stem)
    assert token.split() == [token]
    assert unescape_id(token) == stem


def test_write_then_read_splits_round_trips_every_name(odd_project: Path) -> None:
    project = Project.open(odd_project)
    written = project.write_splits(val_fraction=0.3, seed=1)
    assert sorted(written["trainval"]) == sorted(ODD_STEMS)
    read = Project.open(odd_project).read_splits()
    for name in ("train", "val", "trainval"):
        assert read[name] == written[name]
    assert not set(read["train"]) & set(read["val"])
    # one id per line: plain VOC ids are written as they are
    lines = (odd_project / "ImageSets/Main/trainval.txt").read_text().splitlines()
    assert len(lines) == len(ODD_STEMS) and "plain" in lines and "my%20photo" in lines


def test_validate_does_not_report_odd_names_as_missing(odd_project: Path) -> None:
    from workbench.core.validate import validate_project

    project = Project.open(odd_project)
    project.write_splits()
    report = validate_project(Project.open(odd_project))
    assert not [p for p in report.problems if "image ids with no image" in p.message]


def test_training_split_is_stable_across_runs(odd_project: Path) -> None:
    from workbench.engine.snapshot import take_snapshot

    first = take_snapshot(odd_project, val_fraction=0.3, seed=0)
    second = take_snapshot(odd_project, val_fraction=0.3, seed=0)
    ids = lambda recs: [r.image_id for r in recs]  # noqa: E731
    assert sorted(ids(first.train) + ids(first.val)) == sorted(ODD_STEMS)
    assert ids(second.train) == ids(first.train) and ids(second.val) == ids(first.val)
    assert not [n for n in second.notes if "newly labeled" in n or "no labeled image" in n], \
        second.notes


def test_non_utf8_file_name_in_the_split(tmp_path: Path) -> None:
    """A Latin-1 name from an old Samba share: the split is written and read back exactly."""
    from workbench.engine.snapshot import take_snapshot

    stem = os.fsdecode(b"latin\xe9")
    try:
        Image.new("RGB", (4, 4)).save(tmp_path / "probe\udce9.jpg")
    except (UnicodeEncodeError, OSError):
        pytest.skip("this file system refuses non-UTF-8 names")
    (tmp_path / "probe\udce9.jpg").unlink()
    _labeled(tmp_path, stem)
    _labeled(tmp_path, "other")
    first = take_snapshot(tmp_path, val_fraction=0.5, seed=0)
    second = take_snapshot(tmp_path, val_fraction=0.5, seed=0)
    got = sorted(r.image_id for r in (*second.train, *second.val))
    assert got == sorted([stem, "other"])
    assert [r.image_id for r in first.train] == [r.image_id for r in second.train]
    assert b"latin%E9" in (tmp_path / "ImageSets/Main/trainval.txt").read_bytes()


def test_yolo_export_read_back_with_bracket_in_name(tmp_path: Path) -> None:
    from workbench.core.export import export_project, read_export, same_records

    src = tmp_path / "src"
    src.mkdir()
    for stem in ("x[1]", "y[ab]*", "plain", "q?"):
        _labeled(src, stem)
    summary = export_project(Project.open(src), tmp_path / "out", "yolo")
    back = read_export(tmp_path / "out", "yolo")
    assert sorted(back) == sorted(summary.source)
    assert same_records(back, summary.source, tol=1e-3, compare_difficult=False)


def test_symlink_loop_is_reported_and_skipped(tmp_path: Path) -> None:
    _labeled(tmp_path, "ok")
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    (tmp_path / "self.xml").symlink_to("self.xml")
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("..")
    project = Project.open(tmp_path)
    assert [e.key for e in project.entries] == ["ok.jpg"]
    loops = [p for p in project.scan_problems if "symlink loop" in p.message]
    assert sorted(p.file for p in loops) == ["loop.jpg", "self.xml"]
    assert project.entry(tmp_path / "loop.jpg") is None
    from workbench.core.validate import validate_project

    assert validate_project(project).objects == 1


def test_opening_a_symlink_loop_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(FileNotFoundError, match="cannot be opened"):
        Project.open(tmp_path / "a")
