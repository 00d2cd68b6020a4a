"""Shared test configuration: headless Qt, and the real raccoon dataset when present."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The on-disk caches (selective-search proposals, parsed ground truth) go to a folder of this
# test session, not the user's ~/.cache; subprocesses inherit it. Tests of the default places
# unset these themselves.
_CACHES = tempfile.mkdtemp(prefix="workbench-test-caches-")
atexit.register(shutil.rmtree, _CACHES, ignore_errors=True)
os.environ.setdefault("WORKBENCH_PROPOSAL_CACHE", os.path.join(_CACHES, "proposals"))
os.environ.setdefault("WORKBENCH_GT_CACHE", os.path.join(_CACHES, "gt"))

ROOT = Path(__file__).resolve().parents[1]
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"


@pytest.fixture(scope="session")
def raccoon_dir() -> Path:
    """``../shared/datasets/raccoon`` (images/ + annotations/); skips when absent."""
    if not (RACCOON / "images").is_dir() or not (RACCOON / "annotations").is_dir():
        pytest.skip("../shared/datasets/raccoon is not present")
    return RACCOON
