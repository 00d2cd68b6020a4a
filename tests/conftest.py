"""Shared test configuration: headless Qt, and the real raccoon dataset when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"


@pytest.fixture(scope="session")
def raccoon_dir() -> Path:
    """``../shared/datasets/raccoon`` (images/ + annotations/); skips when absent."""
    if not (RACCOON / "images").is_dir() or not (RACCOON / "annotations").is_dir():
        pytest.skip("../shared/datasets/raccoon is not present")
    return RACCOON
