"""Keep freed heap memory for reuse while big files are read (glibc's ``mallopt``).

The vectorised readers (:mod:`workbench.core.numtext`, :mod:`workbench.core.results`) work
on ~1 MB slices of a file, each pass making numpy temporaries of a few MB that are freed before
the next slice. glibc's defaults give that memory back to the kernel whenever more than
``M_TRIM_THRESHOLD`` (128 KB, raised on the fly to twice the largest freed ``mmap`` block, so
~2 MB here) lies free at the top of the heap — so every slice faults its temporaries in again:
reading a 500k-detection COCO results file in a fresh process took ~100k page faults (~400 MB
of zeroed pages, ~20% of its CPU time, most of it in the kernel); with the settings below
~30k (the file and the results themselves), measured in ``bench/bench_results_read.py``.

:func:`keep_freed_memory` sets what glibc's own dynamic scheme settles on at most
(``M_MMAP_THRESHOLD`` 32 MB: blocks below come from the heap, bigger ones are still mapped and
unmapped on their own) and keeps up to 64 MB of freed heap for reuse (``M_TRIM_THRESHOLD``).
Process-wide and once per process; a no-op (``False``) where the C library has no
``mallopt`` (not Linux, musl's stub).
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20

_state: dict[str, bool] = {}


def keep_freed_memory() -> bool:
    """Set the heap thresholds above (once per process); whether they are in effect."""
    if "set" in _state:
        return _state["set"]
    ok = False
    if sys.platform.startswith("linux"):
        import ctypes  # (here: ~5 ms of import, paid only by a process that reads results)

        try:
            mallopt = ctypes.CDLL(None).mallopt
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            mallopt.restype = ctypes.c_int
            # mallopt answers 1 on success (musl's stub answers 0)
            ok = (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                  and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    _state["set"] = ok
    log.debug("heap thresholds for big reads: %s", "set" if ok else "not available")
    return ok
