"""Issue 14: showing a project of 10^5 images on the GUI thread — the last image seen is found
by the entries' keys, and the file dock's lower-case names are made in one pass; both must
give what the per-entry way gives."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.core.project import Entry, Project
from workbench.gui.navigation import row_of_path
from workbench.gui.panels.files import FileListModel


def _entries(root: Path, keys: list[str]) -> list[Entry]:
    return [Entry(root / k, root / (k + ".xml"), False, k, Path(k).stem) for k in keys]


def test_row_of_path_by_key(tmp_path):
    root = tmp_path / "f"
    entries = _entries(root, ["a.jpg", "sub/b.jpg", "sub/deeper/c.jpg", "d.jpg"])
    for i, e in enumerate(entries):
        assert row_of_path(root, entries, os.fspath(e.image_path)) == i
    assert row_of_path(root, entries, os.fspath(root / "gone.jpg")) is None
    assert row_of_path(root, entries, os.fspath(tmp_path / "other" / "a.jpg")) is None
    assert row_of_path(root, entries, None) is None
    assert row_of_path(root, entries, "") is None


def test_row_of_path_without_keys_looks_at_every_path(tmp_path):
    root = tmp_path / "f"
    entries = [Entry(root / n, root / (n + ".xml"), False) for n in ("a.jpg", "b.jpg")]
    assert row_of_path(root, entries, os.fspath(root / "b.jpg")) == 1
    assert row_of_path(root, entries, os.fspath(root / "c.jpg")) is None


def test_row_of_path_on_a_scanned_project(tmp_path):
    root = tmp_path / "f"
    (root / "sub").mkdir(parents=True)
    for name in ("img10.jpg", "img2.jpg", "sub/img1.png"):
        (root / name).write_bytes(b"")
    project = Project.open(root)
    for i, e in enumerate(project.entries):
        assert row_of_path(project.images_dir, project.entries, os.fspath(e.image_path)) == i
    assert [e.key for e in project.entries] == ["img2.jpg", "img10.jpg", "sub/img1.png"]


def test_lower_names_equal_a_lower_per_name(qtbot):
    model = FileListModel()
    for names in (["IMG1.jpg", "a/B2.PNG", "x"], ["ΣΑΣ.jpg", "İstanbul.JPG", "Straße.png"],
                  ["two\nlines.jpg", "B.jpg"], ["ONE.JPG"], []):
        model.set_entries(names)
        assert model.lower_names == [n.lower() for n in names]
        assert model.rowCount() == len(names)
