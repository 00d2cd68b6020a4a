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


@pytest.fixture(autouse=True)
def _gui_thread_gc(request: pytest.FixtureRequest):  # noqa: ANN202
    """GUI tests run as the app does (workbench.gui.gc_thread, installed by create_app):
    Python's garbage collected on the GUI thread only, never on a job's worker thread, where
    freeing a Qt object of the GUI thread crashed the process."""
    if request.node.get_closest_marker("own_gc") or not {"qtbot", "qapp"} & set(
            request.fixturenames):
        yield
        return
    request.getfixturevalue("qapp")
    from workbench.gui.gc_thread import GuiThreadCollector

    collector = GuiThreadCollector()
    yield
    collector.stop(generation=1)  # the young garbage here; a full pass per test costs too much
    collector.deleteLater()


@pytest.fixture(autouse=True)
def _fresh_shared_detectors():  # noqa: ANN202
    """Each test starts as a new app would: no checkpoint loaded yet by an earlier test's
    panels (workbench.gui.workers.detectors keeps one detector per checkpoint file version)."""
    yield
    import sys

    if "workbench.gui.workers.detectors" in sys.modules:
        sys.modules["workbench.gui.workers.detectors"].forget_detectors()


@pytest.fixture(scope="session")
def raccoon_dir() -> Path:
    """``../shared/datasets/raccoon`` (images/ + annotations/); skips when absent."""
    if not (RACCOON / "images").is_dir() or not (RACCOON / "annotations").is_dir():
        pytest.skip("../shared/datasets/raccoon is not present")
    return RACCOON
