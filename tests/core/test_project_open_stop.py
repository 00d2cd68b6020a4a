"""``Project.open(stop=...)``: the scan polls ``stop`` and ends with ``OpenCancelled`` (the
window's background open cancels an older request that way, issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.project import OpenCancelled, Project


def _folder(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(n):
        (folder / f"img{i}.jpg").write_bytes(b"")
    return folder


def test_stop_true_from_the_start_raises(tmp_path):
    folder = _folder(tmp_path, 3)
    with pytest.raises(OpenCancelled, match="scan stopped"):
        Project.open(folder, stop=lambda: True)


def test_stop_is_polled_during_the_walk_of_a_big_folder(tmp_path):
    folder = _folder(tmp_path, 9000)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 3  # the third poll says stop: inside the file loop

    with pytest.raises(OpenCancelled):
        Project.open(folder, stop=stop)
    assert len(calls) == 3


def test_stop_never_true_opens_as_usual(tmp_path):
    folder = _folder(tmp_path, 5000)
    calls = []
    project = Project.open(folder, stop=lambda: bool(calls.append(1)))
    assert len(project.entries) == 5000
    # once for the folder, every 4096 files (0, 4096), once before matching
    assert len(calls) == 4
