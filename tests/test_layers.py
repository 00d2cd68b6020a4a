"""The layer rules of DESIGN.md §2, checked two ways.

1. ``workbench.core`` (every module) imports with PySide6, pyqtgraph, torch and torchvision
   made unimportable; ``workbench.engine`` (every module) imports with PySide6 and pyqtgraph
   unimportable. Each runs in a fresh interpreter so nothing already imported hides a leak.
2. ``lint-imports`` (import-linter contracts in pyproject.toml) passes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_IMPORT_ALL = """
import importlib, pkgutil, sys
for blocked in {blocked!r}:
    sys.modules[blocked] = None  # "import blocked" now raises ImportError
import {package} as pkg
names = [m.name for m in pkgutil.walk_packages(pkg.__path__, "{package}.")]
for name in names:
    importlib.import_module(name)
leaked = sorted(b for b in {blocked!r} if sys.modules.get(b) is not None)
print(len(names), "modules", "leaked:", leaked)
"""


def _import_all(package: str, blocked: tuple[str, ...]) -> str:
    code = _IMPORT_ALL.format(package=package, blocked=blocked)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, f"{package} imports a forbidden layer:\n{done.stderr[-3000:]}"
    return done.stdout


def test_core_imports_without_qt_and_torch() -> None:
    out = _import_all("workbench.core", ("PySide6", "pyqtgraph", "torch", "torchvision"))
    assert out.strip().endswith("leaked: []")
    assert int(out.split()[0]) >= 8  # boxes, annotation, voc, project, classes, ... all imported


def test_engine_imports_without_qt() -> None:
    out = _import_all("workbench.engine", ("PySide6", "pyqtgraph"))
    assert out.strip().endswith("leaked: []")


def test_import_linter_contracts() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail(f"{exe} missing: install the test extra (pip install -e '.[test]')")
    done = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
