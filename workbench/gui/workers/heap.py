"""Keep Python's full garbage collections short in the GUI process: freeze the long-lived heap.

A full (generation-2) collection scans every object the collector tracks and holds the GIL
while it does, whichever thread triggers it. Once torch, torchvision, pyqtgraph and the panels
are imported that is a million-odd objects: ``bench/bench_gui_stalls.py --profile`` caught
collections of 240-430 ms holding the GIL (on the model loader during torch's import, on the
GUI thread while a panel was built, on an export job's worker), each one a frozen window.

Almost all of those objects are module-level: functions, classes, docstrings, dispatch tables
that live as long as the process. :func:`imports_then_freeze` wraps the background imports of
:class:`~workbench.gui.jobs.ModelLoader`: the collector is paused while they run (an import
makes few cycles; the pause only delays collecting them) and afterwards every object alive is
moved to the permanent generation (``gc.freeze``), which later collections skip — they scan
only what was made since (documents, job results), a few milliseconds. The price: garbage
cycles that exist at the moment of the freeze are never freed (import-time garbage, small).

A training run (:mod:`workbench.engine.process_settings`) unfreezes on its exit what it froze —
``gc.unfreeze`` empties the whole permanent generation, these objects too. That is left so: the
run's model and optimizer may be garbage cycles by then, and freezing them again would keep
them forever; the next full collection after a run scans everything once and frees them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from workbench.core.gc_pause import paused


def freeze_long_lived() -> None:
    """Move every object the collector tracks now to the permanent generation (not scanned by
    later collections); O(1), no scan."""
    gc.freeze()


@contextmanager
def imports_then_freeze() -> Iterator[None]:
    """Pause the collector (process-wide, counted with every other pause:
    :mod:`workbench.core.gc_pause`) for the body, then :func:`freeze_long_lived`; the
    collector is back as it was when the last pause ends, also when the body raises."""
    with paused():
        try:
            yield
        finally:
            freeze_long_lived()
