"""The GIL switch interval, shortened while background work runs; overlapping requests safe.

``sys.setswitchinterval`` is process-wide (Python's default: 5 ms). While a worker thread runs
Python, a GUI thread that wants the GIL back waits up to the interval at every hand-over (a
repaint hands it over at many of its Qt calls). :func:`short_switch_interval` shortens it for
the duration of a job; :func:`workbench.engine.process_settings.background_run_settings` (a
training run) uses the same bookkeeping, so overlapping runs on several threads end with the
interval from before the first of them: inside, it is the smallest one asked for by the runs
under way. No Qt, no torch: the GUI's job runner imports this before any engine module.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_ASKED: list[float] = []  # the maxima asked for by the runs under way
_BASE: list[float] = []   # the interval from before the first of them (one value or none)


def _ask(max_s: float) -> None:
    with _LOCK:
        if not _ASKED:
            _BASE[:] = [sys.getswitchinterval()]
        _ASKED.append(max_s)
        sys.setswitchinterval(min(_BASE[0], *_ASKED))


def _release(max_s: float) -> None:
    with _LOCK:
        _ASKED.remove(max_s)
        sys.setswitchinterval(min(_BASE[0], *_ASKED) if _ASKED else _BASE.pop())


#: What background jobs ask for: a waiting thread gets the GIL within a quarter millisecond.
JOB_SWITCH_INTERVAL_S = 0.00025


@contextmanager
def short_switch_interval(max_s: float = JOB_SWITCH_INTERVAL_S) -> Iterator[None]:
    """The GIL switch interval at most ``max_s`` inside (never lengthened; thread-safe and
    nestable across threads: see the module doc)."""
    _ask(float(max_s))
    try:
        yield
    finally:
        _release(float(max_s))


