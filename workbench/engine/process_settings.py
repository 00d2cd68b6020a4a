"""Process-wide interpreter settings a long background run changes, in one context manager.

A training run on a worker thread shares the GIL and the garbage collector with the GUI thread:

* **GIL switch interval** (``sys.setswitchinterval``; Python's default is 5 ms). The worker runs
  long stretches of Python (torchvision's box matching and losses, the checkpoint unpickler);
  whenever the GUI thread wants the GIL back it waited up to the interval, and a ~10 ms plot
  repaint became 40-70 ms. A short interval costs nothing while nobody waits.
* **Garbage collection.** A full (generation-2) collection scans every Python object of the
  process — the window's and the model's — holding the GIL for 100-300 ms. A run collects
  nothing while it is set up; then :meth:`ProcessSettings.freeze` moves the long-lived objects
  out of the collector's way (``gc.freeze``) and collection resumes for the rest.

:func:`background_run_settings` applies both and restores the previous values on exit, also
when the body raises. The switch-interval half alone,
:func:`~workbench.core.switch_interval.short_switch_interval` (Qt- and torch-free, in core so
the GUI's job runner uses it without importing the engine), wraps every background job: an
export's or a checkpoint load's Python made the GUI thread wait up to 5 ms at every hand-over
of the GIL. Overlapping requests are safe (the same bookkeeping for both). Per-thread settings
(a worker's nice value, :mod:`workbench.gui.workers.priority`) are not process-wide and stay
with the thread.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from workbench.core.gc_pause import GcPause, enabled_outside_pauses
from workbench.core.switch_interval import _ask, _release, short_switch_interval

__all__ = ["ProcessSettings", "background_run_settings", "short_switch_interval"]


@dataclass
class ProcessSettings:
    """What :func:`background_run_settings` changed; ``freeze()`` ends the collection pause."""

    switch_interval_s: float
    frozen: bool = False
    #: The run's collector pause (counted with the process's others: core.gc_pause).
    pause: GcPause | None = field(default=None, repr=False)

    def freeze(self) -> None:
        """Move every object alive now out of the collector's scans (``gc.freeze``) and end
        the run's collection pause (the collector runs again unless another pause is on).
        Once per run; nothing without a pause or when the collector was off before any."""
        if self.pause is not None and not self.frozen and enabled_outside_pauses():
            gc.freeze()
            self.frozen = True
            self.pause.end()


@contextmanager
def background_run_settings(max_switch_interval_s: float | None = None,
                            *, pause_gc: bool = True) -> Iterator[ProcessSettings]:
    """Shorten the GIL switch interval to at most ``max_switch_interval_s`` and (with
    ``pause_gc``) disable the garbage collector until :meth:`ProcessSettings.freeze`; on exit
    the switch interval, the objects frozen here and the collector's enabled state are as they
    were before."""
    previous_interval = sys.getswitchinterval()
    settings = ProcessSettings(switch_interval_s=previous_interval)
    limit = None if max_switch_interval_s is None else float(max_switch_interval_s)
    try:
        if pause_gc:
            settings.pause = GcPause()
        if limit is not None:
            _ask(limit)
        yield settings
    finally:
        if limit is not None:
            _release(limit)
        if settings.frozen:
            gc.unfreeze()
        if settings.pause is not None:
            settings.pause.end()  # the collector is back as it was once no other pause is on
