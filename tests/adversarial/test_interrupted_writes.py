"""Writes killed midway (issue 12): a class rename is all-or-nothing across files, and the
temporary files of killed saves are cleaned at start.

Before: 3 of 60 ``kill -9`` during a class rename left both names in the project; 56 temp files
from saves, 100 from renames and 276 MB of checkpoint temps were found lying around.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from workbench.core.annotation import Annotation, ImageSize, VocObject
from workbench.core.atomic import TEMP_NAME, clean_stale_temps
from workbench.core.project import RENAME_JOURNAL, Project
from workbench.core.voc import write_annotation

N_FILES = 6


def _project(root: Path) -> Path:
    for i in range(N_FILES):
        Image.new("RGB", (40, 30)).save(root / f"img{i}.jpg")
        objects = (VocObject(name="cat", box=(1.0, 1.0, 20.0, 20.0)),
                   VocObject(name="dog", box=(2.0, 2.0, 30.0, 25.0)))
        write_annotation(Annotation(filename=f"img{i}.jpg", size=ImageSize(40, 30, 3),
                                    objects=objects), root / f"img{i}.xml")
    (root / "predefined_classes.txt").write_text("cat\ndog\n")
    return root


def _names(root: Path) -> set[str]:
    project = Project.open(root)
    return set(project.classes)


KILL_AFTER = """
import os, sys
from workbench.core.project import Project
real = os.replace
count = {"n": 0}
def dying_replace(src, dst):
    if str(dst).endswith(".xml") or str(dst).endswith(".txt"):
        count["n"] += 1
        if count["n"] > int(sys.argv[2]):
            os._exit(9)  # as kill -9: no cleanup, no rollback
    return real(src, dst)
os.replace = dying_replace
Project.open(sys.argv[1]).rename_class("cat", "feline")
"""


@pytest.mark.parametrize("after", [0, 1, 3, N_FILES])
def test_rename_killed_midway_is_finished_on_next_open(tmp_path: Path, after: int) -> None:
    root = _project(tmp_path)
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER, str(root), str(after)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert (root / RENAME_JOURNAL).is_file()  # the kill left the journal
    project = Project.open(root)  # rolls forward
    assert set(project.classes) == {"feline", "dog"}
    assert not (root / RENAME_JOURNAL).exists()
    assert any("interrupted" in p.message and "finished" in p.message
               for p in project.scan_problems)
    assert (root / "predefined_classes.txt").read_text() == "feline\ndog\n"
    assert not [p for p in root.iterdir() if TEMP_NAME.match(p.name)
                and time.time() - p.stat().st_mtime > 60]


def test_a_rename_that_fails_in_process_is_rolled_back_without_a_journal(
        tmp_path: Path, monkeypatch) -> None:
    root = _project(tmp_path)
    project = Project.open(root)
    real = os.replace
    count = {"n": 0}

    def failing(src, dst):
        count["n"] += 1
        if count["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        project.rename_class("cat", "feline")
    monkeypatch.setattr(os, "replace", real)
    assert not (root / RENAME_JOURNAL).exists()
    assert _names(root) == {"cat", "dog"}


def test_unwritable_project_keeps_the_journal_and_says_so(tmp_path: Path, monkeypatch) -> None:
    root = _project(tmp_path)
    (root / RENAME_JOURNAL).write_text('{"operation": "rename_class", "old": "cat", '
                                       '"new": "feline"}\n')
    import workbench.core.project as project_module

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(project_module, "atomic_write_many", read_only)
    project = Project.open(root)
    assert (root / RENAME_JOURNAL).exists()
    assert any(p.severity == "error" and "cannot be finished" in p.message
               for p in project.scan_problems)


def _temp(folder: Path, target: str, age_s: float) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target}.", suffix=".tmp", dir=folder)
    os.write(fd, b"partial")
    os.close(fd)
    old = time.time() - age_s
    os.utime(name, (old, old))
    return Path(name)


def test_stale_temp_files_are_removed_at_open_and_only_ours(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "sub").mkdir()
    stale = [_temp(root, "img0.xml", 3600), _temp(root / "sub", "x.xml", 600),
             _temp(root, "predefined_classes.txt", 120)]
    fresh = _temp(root, "img1.xml", 5)  # a save in progress elsewhere: left alone
    theirs = [root / ".img2.xml.tmp", root / "notes.abcdefgh.tmp", root / ".hidden_file"]
    for p in theirs:
        p.write_text("user data")
        os.utime(p, (time.time() - 3600,) * 2)
    Project.open(root)
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and all(p.exists() for p in theirs)


def test_stale_checkpoint_temps_are_removed_when_a_run_starts(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    stale = _temp(run, "last.pt", 3600)
    fresh = _temp(run, "best.pt", 1)
    assert clean_stale_temps(run) == [stale]
    assert fresh.exists() and not stale.exists()
