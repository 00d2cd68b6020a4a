"""torch's native libraries loaded before ``import torch`` with the GIL released
(:mod:`workbench.gui.workers.preload`, used by the background ModelLoader; issue 14)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.gui.workers import preload

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_to_do_once_torch_is_imported(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setitem(sys.modules, "torch", object())
    assert preload.preload_torch_libraries() == []


def test_library_dir_of_a_package_without_one() -> None:
    assert preload.library_dir("json") is None
    assert preload.library_dir("no_such_package_here") is None


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_preloaded_libraries_are_mapped_and_torch_still_imports() -> None:
    code = textwrap.dedent("""
        import sys
        from workbench.gui.workers.preload import preload_torch_libraries
        loaded = preload_torch_libraries()
        maps = open("/proc/self/maps").read()
        assert "torch" not in sys.modules, "preloading must not import torch"
        assert "libtorch_cpu.so" in loaded and "libc10.so" in loaded, loaded
        assert all(name in maps for name in loaded), loaded
        import torch
        assert float(torch.ones(3).sum()) == 3.0
        print("ok", len(loaded))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok ")
