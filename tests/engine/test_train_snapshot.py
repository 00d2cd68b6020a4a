"""Snapshot of a VOC folder: split files written, reused and user-edited; classes; difficult."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.engine.events import DatasetError
from workbench.engine.snapshot import take_snapshot


def test_snapshot_writes_a_seeded_split_and_reuses_it(tiny_voc: Path) -> None:
    snap = take_snapshot(tiny_voc, val_fraction=0.25,
                         seed=3)
    split = tiny_voc / "ImageSets" / "Main"
    assert snap.split_dir == split
    train_ids = split.joinpath("train.txt").read_text().split()
    val_ids = split.joinpath("val.txt").read_text().split()
    assert len(train_ids) == 6 and len(val_ids) == 2
    assert [r.image_id for r in snap.train] == train_ids
    assert [r.image_id for r in snap.val] == val_ids
    assert snap.classes == ("blue", "red")
    again = take_snapshot(tiny_voc, val_fraction=0.5,
                          seed=99)
    assert [r.image_id for r in again.val] == val_ids  # the files win over the arguments


def test_user_edited_split_is_respected(tiny_voc: Path) -> None:
    split = tiny_voc / "ImageSets" / "Main"
    split.mkdir(parents=True)
    split.joinpath("train.txt").write_text("img_000\nimg_001\nimg_002\nghost\n")
    split.joinpath("val.txt").write_text("img_003\n")
    snap = take_snapshot(tiny_voc)
    train = [r.image_id for r in snap.train]
    val = [r.image_id for r in snap.val]
    assert train[:3] == ["img_000", "img_001", "img_002"] and val[0] == "img_003"
    assert any("1 ids in" in n and "ghost" in n for n in snap.notes)
    # images labeled after the split was written are appended, by a seeded per-id draw
    assert sorted(train[3:] + val[1:]) == ["img_004", "img_005", "img_006", "img_007"]
    assert any("newly labeled images" in n for n in snap.notes)
    on_disk = split.joinpath("train.txt").read_text().split()
    assert on_disk == ["img_000", "img_001", "img_002", "ghost"] + train[3:]
    again = take_snapshot(tiny_voc)
    assert [r.image_id for r in again.train] == train and [r.image_id for r in again.val] == val


def test_snapshot_is_frozen_and_keeps_difficult_flags(tiny_voc: Path) -> None:
    from workbench.core.voc import read_annotation, write_annotation
    import dataclasses

    xml = tiny_voc / "annotations" / "img_000.xml"
    ann, _ = read_annotation(xml)
    objs = (dataclasses.replace(ann.objects[0], difficult=True),) + ann.objects[1:]
    write_annotation(dataclasses.replace(ann, objects=objs), xml)
    snap = take_snapshot(tiny_voc, val_fraction=0.0)
    rec = next(r for r in (*snap.train, *snap.val) if r.image_id == "img_000")
    assert rec.difficult[0] and rec.boxes.shape == (len(objs), 4)
    boxes, labels = rec.targets({"blue": 1, "red": 2})
    assert len(boxes) == len(objs) - 1  # difficult left out of training targets
    np.testing.assert_array_equal(boxes, rec.boxes[1:])
    # edits after the snapshot do not reach it
    write_annotation(dataclasses.replace(ann, objects=()), xml)
    assert rec.boxes.shape == (len(objs), 4)
    # the image without boxes is a valid (negative) training image
    assert any(len(r.boxes) == 0 for r in snap.train)


def test_missing_folder_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        take_snapshot(tmp_path / "nope")


def test_no_split_is_written_for_an_unlabeled_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    snap = take_snapshot(tmp_path / "empty")
    assert snap.train == () and not (tmp_path / "empty" / "ImageSets").exists()
