"""Paths that escape: a file name derived from data never writes outside its output folder.

Found by the adversarial pass (issue 12): a class ``a/../../../escaped`` passed ``validate``,
and ``detect --format devkit --out OUT`` wrote ``escaped.txt`` two levels above OUT.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.core.safepath import (
    UnsafeNameError, escape_name, is_safe_name, safe_child, unescape_name, unsafe_reason,
)

HOSTILE = ["a/../../../escaped", "..", ".", "", "../x", "x/..", "a\\..\\..\\b", "a\x00b",
           "a\nb", "tab\there", "CON", "nul.txt", "com1", "a.", "a ", "x:y", "what?", "100%",
           "%2F", "%", "é/ü", "\x7f", "...", " ", "LPT9.tar.gz"]


@pytest.mark.parametrize("name", HOSTILE)
def test_escape_round_trips_and_is_safe(name: str) -> None:
    escaped = escape_name(name)
    assert unescape_name(escaped) == name
    assert is_safe_name(escaped), (name, escaped, unsafe_reason(escaped))


@pytest.mark.parametrize("name", ["cat", "dog person", "pottedplant", "é", "a.b", "v1.2-x"])
def test_safe_names_are_left_alone(name: str) -> None:
    assert is_safe_name(name)
    assert escape_name(name) == name


@pytest.mark.parametrize("name", ["a/../../../escaped", "..", ".", "", "a\x00b", "a\nb", "CON"])
def test_safe_child_refuses_unsafe_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeNameError, match="cannot be used as a file name"):
        safe_child(tmp_path, name)
    escaped = safe_child(tmp_path, name, escape=True)
    assert escaped.parent == tmp_path


def test_safe_child_local_mode_allows_what_this_file_system_allows(tmp_path: Path) -> None:
    # image stems come from this file system: ':' or a newline are legal names here
    assert safe_child(tmp_path, "a:b\nc.json", portable=False) == tmp_path / "a:b\nc.json"
    for bad in ("..", "a/b", "a\x00"):
        with pytest.raises(UnsafeNameError):
            safe_child(tmp_path, bad, portable=False)


class _Det:
    def __init__(self, image_id: str, labels: list[str]) -> None:
        self.image_id = image_id
        n = len(labels)
        self.boxes = np.tile(np.array([[1.0, 2.0, 30.0, 40.0]]), (n, 1))
        self.scores = np.linspace(0.9, 0.5, n)
        self.labels = np.asarray(labels, dtype=object)


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_devkit_writer_keeps_hostile_class_inside_out(tmp_path: Path) -> None:
    from workbench.cli.detect import write_devkit
    from workbench.core.results import read_results

    out = tmp_path / "a" / "b" / "c" / "OUT"
    out.mkdir(parents=True)
    classes = ["a/../../../escaped", "..", "cat", "100%"]
    write_devkit(out, classes, [_Det("img1", classes)])
    files = _all_files(tmp_path)
    assert all(out in f.parents for f in files), files
    assert not any(f.name == "escaped.txt" for f in files)
    # the class names come back exactly from the escaped file names
    back = read_results(out)
    assert sorted({str(label) for d in back for label in d.labels}) == sorted(classes)


@pytest.fixture(scope="module")
def hostile_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An untrained tiny SSDlite whose class list holds a path that climbs out."""
    import torch
    from PIL import Image

    from workbench.engine.checkpoint import make_checkpoint, save_checkpoint
    from workbench.engine.detectors import build_detector

    root = tmp_path_factory.mktemp("hostile_ckpt")
    torch.manual_seed(0)
    model, info = build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=128)
    ckpt = make_checkpoint(model.eval(), info=info, classes=["a/../../../escaped", ".."],
                           config={}, epoch=1,
                           postprocess={"score_threshold": 0.0, "nms_iou": 1.0, "top_k": 20})
    path = save_checkpoint(ckpt, root / "hostile.pt")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 80, 3)) * 255).astype(np.uint8)).save(images / "x.png")
    return path, images


def test_detect_devkit_never_writes_outside_out(hostile_checkpoint: tuple[Path, Path],
                                                tmp_path: Path) -> None:
    from workbench.cli import main
    from workbench.core.results import read_results

    ckpt, images = hostile_checkpoint
    out = tmp_path / "one" / "two" / "three" / "OUT"
    assert main(["detect", str(ckpt), str(images), "--out", str(out), "--format",
                 "devkit"]) == 0
    files = _all_files(tmp_path)
    assert files and all(out in f.parents for f in files), files
    labels = {str(label) for d in read_results(out) for label in d.labels}
    assert labels <= {"a/../../../escaped", ".."} and labels


def test_validate_warns_on_class_names_that_are_not_file_names(tmp_path: Path) -> None:
    from PIL import Image

    from workbench.core.annotation import Annotation, ImageSize, VocObject
    from workbench.core.project import Project
    from workbench.core.validate import validate_project
    from workbench.core.voc import write_annotation

    Image.new("RGB", (50, 40)).save(tmp_path / "img.jpg")
    objs = tuple(VocObject(name=n, box=(1.0, 1.0, 20.0, 20.0))
                 for n in ("a/../../../escaped", "ok", "CON"))
    write_annotation(Annotation(filename="img.jpg", size=ImageSize(50, 40, 3), objects=objs),
                     tmp_path / "img.xml")
    report = validate_project(Project.open(tmp_path))
    unsafe = [p for p in report.problems if "file name" in p.message]
    assert {p.object for p in unsafe} == {0, 2}
    assert all(p.severity == "warning" for p in unsafe)
    assert any("a/../../../escaped" in p.message and "separator" in p.message for p in unsafe)


def test_devkit_lines_keep_image_ids_with_spaces(tmp_path: Path) -> None:
    """One line is ``id score x1 y1 x2 y2``: an id with a space would make 7 fields."""
    from workbench.cli.detect import write_devkit
    from workbench.core.results import read_results

    ids = ["my photo", "tab\there", "100%", "plain"]
    write_devkit(tmp_path, ["cat"], [_Det(i, ["cat"]) for i in ids])
    assert sorted(d.image_id for d in read_results(tmp_path)) == sorted(ids)
