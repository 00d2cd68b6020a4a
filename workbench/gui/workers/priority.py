"""Long background jobs (training, pre-labeling a folder) yield the CPU to the GUI thread.

On Linux the nice value is per thread, and threads a thread starts (torch's OpenMP threads)
inherit it. A worker at nice +5 still gets every core the GUI thread does not use; when the
GUI has work (a repaint, a slot) the scheduler gives it a core at once. With every core training,
the GUI thread's gaps were up to 77 ms without this (``bench/bench_train.py``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

#: How much nicer than the GUI a long background job runs.
BACKGROUND_NICENESS = 5


def lower_thread_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    """Raise the calling thread's nice value by ``niceness`` (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux") or niceness <= 0:
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
    except OSError as exc:  # a sandbox may forbid it; the job runs all the same
        log.info("could not lower the priority of thread %s: %s", tid, exc)
