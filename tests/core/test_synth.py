"""The generated sample project: deterministic, valid VOC, and a photo-like variety of objects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main as cli_main
from workbench.core import synth, synth_render
from workbench.core.project import Project
from workbench.core.voc import read_annotation


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a = synth.generate_project(tmp_path / "a", num_images=6, seed=7)
    b = synth.generate_project(tmp_path / "b", num_images=6, seed=7)
    fa, fb = _files(a.root), _files(b.root)
    assert len(fa) == 6 + 6 + 1 + 3  # jpg, xml, classes.txt, train/val/trainval
    assert fa == fb
    assert a.train_ids == b.train_ids and a.val_ids == b.val_ids


def test_other_seed_gives_other_images(tmp_path: Path) -> None:
    a = synth.generate_project(tmp_path / "a", num_images=3, seed=1)
    b = synth.generate_project(tmp_path / "b", num_images=3, seed=2)
    for i in range(3):
        name = f"images/sample_{i:04d}.jpg"
        assert (a.root / name).read_bytes() != (b.root / name).read_bytes()


def test_image_does_not_depend_on_project_size(tmp_path: Path) -> None:
    small = _files(synth.generate_project(tmp_path / "s", num_images=2, seed=0).root)
    large = _files(synth.generate_project(tmp_path / "l", num_images=4, seed=0).root)
    for name in ("images/sample_0000.jpg", "images/sample_0001.jpg",
                 "annotations/sample_0000.xml", "annotations/sample_0001.xml"):
        assert small[name] == large[name]


def test_project_validates_every_image_annotated_no_problems(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    sample = synth.generate_project(tmp_path / "p", num_images=12, seed=3)
    project = Project.open(sample.root)
    assert project.annotations_dir == sample.annotations_dir.resolve()
    assert len(project.entries) == 12
    assert all(e.has_xml for e in project.entries)
    assert project.classes == list(synth.CLASSES)
    for entry in project.entries:
        ann, problems = project.load(entry)
        assert problems == [], entry.image_path
        assert ann is not None and len(ann.objects) >= 1
    assert cli_main(["validate", str(sample.root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"] == 12 and report["annotated"] == 12
    assert report["problems"] == []


def test_split_is_disjoint_and_complete(tmp_path: Path) -> None:
    sample = synth.generate_project(tmp_path / "p", num_images=10, seed=0, val_fraction=0.3)
    assert len(sample.val_ids) == 3 and len(sample.train_ids) == 7
    assert set(sample.train_ids).isdisjoint(sample.val_ids)
    assert set(sample.train_ids) | set(sample.val_ids) == {f"sample_{i:04d}" for i in range(10)}
    main = sample.root / "ImageSets" / "Main"
    assert (main / "val.txt").read_text().split() == list(sample.val_ids)
    assert (sample.root / "classes.txt").read_text() == "ball\ncrate\ncone\nbottle\ndonut\n"


def test_xml_boxes_round_trip_the_rendered_boxes(tmp_path: Path) -> None:
    sample = synth.generate_project(tmp_path / "p", num_images=2, seed=5)
    rng = synth.scene_rng(5, 1)
    w, h = synth.SIZES[int(rng.integers(len(synth.SIZES)))]
    _, objects = synth.render_scene(rng, w, h)
    ann, problems = read_annotation(sample.annotations_dir / "sample_0001.xml",
                                    sample.images_dir / "sample_0001.jpg")
    assert problems == []
    assert (ann.size.width, ann.size.height) == (w, h)
    assert [(o.name, o.box, o.difficult, o.truncated) for o in ann.objects] == \
        [(o.name, o.box, o.difficult, o.truncated) for o in objects]


def test_scenes_are_varied_like_photos() -> None:
    """Over 60 scenes: every class, many scales and aspect ratios, truncation, difficult."""
    objects, sizes = [], set()
    for i in range(60):
        rng = synth.scene_rng(0, i)
        w, h = synth.SIZES[int(rng.integers(len(synth.SIZES)))]
        image, objs = synth.render_scene(rng, w, h)
        assert image.shape == (h, w, 3) and image.dtype == np.uint8
        assert image.std() > 8  # textured, not a flat backdrop
        sizes.add((w, h))
        for o in objs:
            x1, y1, x2, y2 = o.box
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        objects.extend(objs)
    assert sizes == set(synth.SIZES)
    assert {o.name for o in objects} == set(synth.CLASSES)
    boxes = np.array([o.box for o in objects])
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(bw, bh)
    assert side.min() < 30 and side.max() > 150  # small and large objects
    aspect = bw / bh
    assert aspect.min() < 0.4 and aspect.max() > 1.8  # tall bottles, wide donuts/crates
    truncated = sum(o.truncated for o in objects)
    difficult = sum(o.difficult for o in objects)
    assert truncated >= 5
    assert 1 <= difficult <= 0.1 * len(objects)  # a few, not many
    assert 2.0 <= len(objects) / 60 <= 4.5


@pytest.mark.parametrize("name", synth.CLASSES)
def test_sprites_are_tight_and_opaque(name: str) -> None:
    rng = np.random.default_rng(11)
    for size in (20, 90):
        rgb, alpha = synth_render.render_object(rng, name, size)
        solid = alpha > 0.5
        assert rgb.shape[:2] == alpha.shape
        # the sprite canvas is the object's extent: opaque pixels touch all four edges
        assert solid[0].any() and solid[-1].any() and solid[:, 0].any() and solid[:, -1].any()
        assert 0.25 * size <= max(alpha.shape) <= 1.5 * size


def test_demo_cli_writes_project_and_rejects_bad_counts(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "demo"
    assert cli_main(["demo", str(out), "--images", "3", "--seed", "4"]) == 0
    assert "wrote 3 images" in capsys.readouterr().out
    assert len(list((out / "images").glob("*.jpg"))) == 3
    assert len(list((out / "annotations").glob("*.xml"))) == 3
    assert cli_main(["demo", str(tmp_path / "bad"), "--images", "1"]) == 2
    assert "at least 2 images" in capsys.readouterr().err
