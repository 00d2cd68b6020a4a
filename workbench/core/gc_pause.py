"""One process-wide, counted pause of Python's cyclic garbage collector.

Several parts pause the collector for a while, each on its own thread: a folder scan
(:mod:`workbench.core.project_scan`), the GUI's background imports
(:mod:`workbench.gui.workers.heap`) and a training run's set-up
(:mod:`workbench.engine.process_settings`). ``gc.disable``/``gc.enable`` are process-wide, so
pauses that each remembered "was it enabled?" and put that back could interleave badly: A
pauses (enabled → off), B pauses (remembers *off*), A ends (on), B ends (puts back *off*) — and
the collector stayed off for the rest of the session. Here every pause is counted under one
lock: the collector goes off when the first pause starts and comes back, if it was on then,
when the last one ends — whatever the order they end in.

Where one thread collects by hand (:func:`set_manual`: the GUI thread, so that Qt objects are
never freed on a worker), automatic collection stays off whatever the pauses do.

A :class:`GcPause` can end before its ``with`` block does (:meth:`GcPause.end`, what a training
run does once its long-lived objects are frozen); ending twice is harmless.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_count = 0
_was_enabled = False
_manual = False  # automatic collection is off for good: one thread collects (gui.gc_thread)


def set_manual(on: bool) -> None:
    """Whether automatic collection is off for good, collected by hand on one thread (the GUI's
    :mod:`workbench.gui.gc_thread`): a pause that ends then never turns it back on."""
    global _manual
    with _lock:
        _manual = bool(on)


class GcPause:
    """One pause; :meth:`end` (or leaving :func:`paused`) ends it, once."""

    def __init__(self) -> None:
        global _count, _was_enabled
        with _lock:
            if _count == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _count += 1
        self._ended = False

    def end(self) -> None:
        global _count
        with _lock:
            if self._ended:
                return
            self._ended = True
            _count -= 1
            if _count == 0 and _was_enabled and not _manual:
                gc.enable()


def end_manual(enable: bool) -> None:
    """Leave :func:`set_manual`: automatic collection on again (``enable``) — now, or when the
    last pause under way ends."""
    global _manual, _was_enabled
    with _lock:
        _manual = False
        if enable:
            if _count:
                _was_enabled = True
            else:
                gc.enable()


def enabled_outside_pauses() -> bool:
    """Whether the collector is on when no pause is under way (as it was before the first)."""
    with _lock:
        if _manual:
            return False
        return _was_enabled if _count else gc.isenabled()


def active_pauses() -> int:
    """Pauses under way now (tests, diagnostics)."""
    with _lock:
        return _count


@contextmanager
def paused() -> Iterator[GcPause]:
    """The collector off for the body (counted with every other pause), also when it raises."""
    pause = GcPause()
    try:
        yield pause
    finally:
        pause.end()
