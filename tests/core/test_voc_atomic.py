"""Atomic writes: a failure between write and rename leaves the old file intact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.core import atomic
from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.atomic import atomic_write_bytes, atomic_write_many
from workbench.core.voc import read_annotation, write_annotation


def test_write_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failure_before_rename_leaves_old_annotation(tmp_path: Path, monkeypatch) -> None:
    xml = tmp_path / "a.xml"
    old = Annotation("a.jpg", ImageSize(10, 10, 3), (VocObject("cat", (0.0, 0.0, 5.0, 5.0)),))
    write_annotation(old, xml)
    before = xml.read_bytes()

    def crash(src, dst):  # the process "dies" after the temp file is written and fsynced
        assert Path(src).read_bytes().count(b"<object>") == 2
        raise OSError("simulated crash")

    monkeypatch.setattr(atomic.os, "replace", crash)
    new = Annotation("a.jpg", ImageSize(10, 10, 3), old.objects * 2)
    with pytest.raises(OSError, match="simulated crash"):
        write_annotation(new, xml)
    monkeypatch.undo()
    assert xml.read_bytes() == before
    assert len(read_annotation(xml)[0].objects) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xml"]  # temp file cleaned up


def test_many_is_all_or_nothing_when_preparing_fails(tmp_path: Path, monkeypatch) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"a0")
    b.write_bytes(b"b0")
    real = atomic._prepare
    calls = []

    def flaky(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(path, data)

    monkeypatch.setattr(atomic, "_prepare", flaky)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_many([(a, b"a1"), (b, b"b1")])
    assert (a.read_bytes(), b.read_bytes()) == (b"a0", b"b0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_many_rolls_back_when_a_rename_fails(tmp_path: Path, monkeypatch) -> None:
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    a.write_bytes(b"a0")
    b.write_bytes(b"b0")
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("rename failed")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky)
    with pytest.raises(OSError, match="rename failed"):
        atomic_write_many([(a, b"a1"), (c, b"c1"), (b, b"b1")])
    monkeypatch.undo()
    assert (a.read_bytes(), b.read_bytes()) == (b"a0", b"b0")
    assert not c.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
