"""torch's native libraries loaded before ``import torch`` with the GIL released
(:mod:`workbench.gui.workers.preload`, used by the background ModelLoader; issue 14)."""

from __future__ import annotations

import os
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


def test_import_hook_finds_nothing_and_preloads_once(monkeypatch) -> None:  # noqa: ANN001
    calls: list[int] = []
    monkeypatch.setattr(preload, "preload_torch_libraries",
                        lambda: calls.append(1) or ["libc10.so"])
    hook = preload._PreloadBeforeTorch()
    assert hook.find_spec("numpy") is None and calls == [] and not hook.done
    assert hook.find_spec("torch.nn") is None and calls == []  # only the top package
    assert hook.find_spec("torch") is None and calls == [1]
    assert hook.done and hook.loaded == ["libc10.so"]
    assert hook.find_spec("torch") is None and calls == [1]  # a second lookup: nothing


def test_import_hook_is_installed_once_and_not_once_torch_is_imported(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    if not sys.platform.startswith("linux"):
        assert preload.preload_before_torch_import() is None
        return
    hook = preload.preload_before_torch_import()
    assert sys.meta_path[0] is hook
    assert preload.preload_before_torch_import() is None  # already there
    assert sum(isinstance(f, preload._PreloadBeforeTorch) for f in sys.meta_path) == 1
    monkeypatch.setitem(sys.modules, "torch", object())
    sys.meta_path.remove(hook)
    assert preload.preload_before_torch_import() is None


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_import_hook_preloads_for_a_thread_that_imports_torch() -> None:
    """A panel's job imports torch before the ModelLoader does (a checkpoint loaded at once):
    its native libraries are still loaded with the GIL released, by the hook."""
    code = textwrap.dedent("""
        import sys, threading
        from workbench.gui.workers.preload import preload_before_torch_import
        hook = preload_before_torch_import()
        import json  # other imports pass through
        assert not hook.done
        out = []
        worker = threading.Thread(target=lambda: out.append(__import__("torch").ones(2).sum()))
        worker.start(); worker.join()
        assert hook.done and "libtorch_cpu.so" in hook.loaded, hook.loaded
        assert float(out[0]) == 2.0
        print("ok", len(hook.loaded))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok ")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_the_model_loader_imports_torch_through_the_hook() -> None:
    """The background loader started without start_when_idle (a script, a test) preloads
    torch's libraries the same one way: through the hook it installs."""
    code = textwrap.dedent("""
        import sys
        from PySide6.QtCore import QCoreApplication
        app = QCoreApplication([])
        from workbench.gui.jobs import ModelLoader
        from workbench.gui.workers.preload import _PreloadBeforeTorch
        loader = ModelLoader()
        loader.start()
        assert loader.wait(300) and loader.error is None, loader.error
        hooks = [f for f in sys.meta_path if isinstance(f, _PreloadBeforeTorch)]
        assert len(hooks) == 1 and hooks[0].done, hooks
        assert "libtorch_cpu.so" in hooks[0].loaded, hooks[0].loaded
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
