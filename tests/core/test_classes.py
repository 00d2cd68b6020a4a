"""Class list files and the stable merge order."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.classes import (
    ClassFileError, class_ids, find_class_file, merge_classes, read_class_file, rename_in_list,
    write_class_file,
)


def test_read_strips_blank_duplicate_and_bom(tmp_path: Path) -> None:
    f = tmp_path / "predefined_classes.txt"
    f.write_bytes(b"\xef\xbb\xbfdog\r\n\r\n cat \ndog\nbird\n")
    assert read_class_file(f) == ["dog", "cat", "bird"]


def test_write_and_find(tmp_path: Path) -> None:
    write_class_file(tmp_path / "classes.txt", ["b", "a", "b"])
    assert (tmp_path / "classes.txt").read_text() == "b\na\n"
    assert find_class_file([None, tmp_path / "missing", tmp_path]) == tmp_path / "classes.txt"
    (tmp_path / "predefined_classes.txt").write_text("x\n")
    assert find_class_file([tmp_path]) == tmp_path / "predefined_classes.txt"


def test_bad_file_names_itself(tmp_path: Path) -> None:
    f = tmp_path / "classes.txt"
    f.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ClassFileError, match="classes.txt: class list is not UTF-8"):
        read_class_file(f)


def test_merge_order_is_stable() -> None:
    assert merge_classes(["zebra", "dog"], ["cat", "dog", "ant", "cat"]) == ["zebra", "dog", "ant", "cat"]
    assert merge_classes([], ["b", "a"]) == merge_classes([], ["a", "b"]) == ["a", "b"]


def test_ids_and_rename() -> None:
    assert class_ids(["cat", "dog"]) == {"cat": 1, "dog": 2}
    assert rename_in_list(["a", "b", "c"], "b", "x") == ["a", "x", "c"]
    assert rename_in_list(["a", "b", "c"], "c", "a") == ["a", "b"]
