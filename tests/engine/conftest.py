"""Fixtures of the training tests: a tiny generated VOC folder (see ``tests/train_helpers.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def _helpers():  # noqa: ANN202
    name = "workbench_train_helpers"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "train_helpers.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


H = _helpers()


@pytest.fixture
def tiny_records(tmp_path: Path) -> list:
    """8 images (the last without objects) as engine records; no XML needed."""
    return H.write_tiny_voc(tmp_path / "tiny", write_xml=False)


@pytest.fixture
def tiny_voc(tmp_path: Path) -> Path:
    """A tiny VOC folder with images/ and annotations/ (XML through core.voc)."""
    root = tmp_path / "tiny_voc"
    H.write_tiny_voc(root)
    return root


@pytest.fixture(name="snapshot_of")
def snapshot_of_fixture():  # noqa: ANN201
    """:func:`train_helpers.snapshot_of`: records → a DataSnapshot (last ``n_val`` as val)."""
    return H.snapshot_of


@pytest.fixture(name="write_tiny_voc")
def write_tiny_voc_fixture():  # noqa: ANN201
    return H.write_tiny_voc
