"""Load a package's big shared libraries with the GIL released, before the package is imported.

``import torch`` on a background thread stalled the GUI thread for 0.6-1.4 s at a time
(``bench/bench_gui_stalls.py``): the extension ``torch._C`` is loaded by ``dlopen`` with the GIL
held (CPython's import machinery, ``Python/dynload_shlib.c``, holds it — and so does
``ctypes.CDLL``, whose ``_dlopen`` is the same call), and that ``dlopen`` also loads
``libtorch_cpu.so`` & co. and runs their static initialisers (operator registration: most of
the import's native time). Calling the C library's ``dlopen`` as a *foreign function* through
ctypes releases the GIL for the call (ctypes releases it around every ``CDLL`` function call),
so those libraries are loaded and initialised while the GUI thread keeps running; the later
``import torch`` finds them loaded. Only libraries that never call into Python are loaded this
way (not ``libtorch_python.so``): their initialisers must not need the GIL. Linux only; any
failure leaves the work to the import itself.

Measured (``/tmp`` script, 2-CPU machine under load, background ``import torch`` while the main
thread ticks every 2 ms; 3 runs each): longest main-thread gap 646-1370 ms without, 176-293 ms
with the preload; what is left is the Python part of torch's import (and CPU starvation).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: torch's native libraries in load order (each only once its dependencies are loaded);
#: ``libtorch_global_deps`` with RTLD_GLOBAL, as ``torch._load_global_deps`` loads it.
TORCH_LIBRARIES = ("libtorch_global_deps.so", "libc10.so", "libtorch_cpu.so", "libc10_cuda.so",
                   "libtorch_cuda.so", "libtorch.so")
_GLOBAL = frozenset({"libtorch_global_deps.so"})


def library_dir(package: str) -> Path | None:
    """``<package>/lib`` of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return lib if lib.is_dir() else None


def preload_torch_libraries() -> list[str]:
    """dlopen torch's native libraries with the GIL released (see the module doc); the names
    loaded (empty when torch is already imported, not installed, or not on Linux)."""
    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return []
    lib = library_dir("torch")
    if lib is None:
        return []
    import ctypes  # here: the import hook is installed on the GUI thread at start-up

    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: libc's dlopen and dlerror
        dlopen, dlerror = libc.dlopen, libc.dlerror
    except (OSError, AttributeError) as exc:
        log.debug("no dlopen through ctypes: %s", exc)
        return []
    dlopen.argtypes, dlopen.restype = [ctypes.c_char_p, ctypes.c_int], ctypes.c_void_p
    dlerror.argtypes, dlerror.restype = [], ctypes.c_char_p
    loaded = []
    for name in TORCH_LIBRARIES:
        path = lib / name
        if not path.is_file():
            continue
        mode = os.RTLD_NOW | (os.RTLD_GLOBAL if name in _GLOBAL else os.RTLD_LOCAL)
        if not dlopen(os.fsencode(path), mode):  # the GIL is released during this call
            error = dlerror()
            log.debug("preloading %s failed (%s); import torch will load it", path,
                      error.decode(errors="replace") if error else "?")
            break
        loaded.append(name)
    return loaded


class _PreloadBeforeTorch:
    """A ``sys.meta_path`` entry that, the first time ``torch`` is looked up, loads its native
    libraries with the GIL released (:func:`preload_torch_libraries`) and then lets the
    normal finders find it: whichever thread imports torch first — the background
    :class:`~workbench.gui.jobs.ModelLoader`, or a panel's job that loads a checkpoint before
    the loader got to it — the GUI thread keeps running meanwhile. Finds nothing itself. It
    stays in ``sys.meta_path`` (removing it while the import machinery walks the list would
    skip the finder after it) and does nothing after its first call; the import's module lock
    keeps a second thread out until the first has finished."""

    def __init__(self) -> None:
        self.done = False
        self.loaded: list[str] = []

    def find_spec(self, name: str, _path: object = None, _target: object = None) -> None:
        if name == "torch" and not self.done:
            self.done = True
            try:
                self.loaded = preload_torch_libraries()
            except Exception as exc:  # noqa: BLE001 - the import itself loads them then
                log.debug("preloading torch's libraries failed: %s", exc)
        return None

    def invalidate_caches(self) -> None:
        """(importlib calls this on every finder; nothing is cached here)"""


def preload_before_torch_import() -> _PreloadBeforeTorch | None:
    """Install :class:`_PreloadBeforeTorch` at the front of ``sys.meta_path`` (once; ``None``
    when torch is already imported or the hook is already there). Linux only, as the preload."""
    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return None
    if any(isinstance(f, _PreloadBeforeTorch) for f in sys.meta_path):
        return None
    hook = _PreloadBeforeTorch()
    sys.meta_path.insert(0, hook)
    return hook
