"""Python's cyclic garbage collector runs on the GUI thread only, from a timer.

A collection runs in whichever thread happens to allocate when a generation's threshold is
passed. In this window that is often a worker (a folder scan, an export, a detection job):
when the garbage it collects holds Qt objects of the GUI thread — a finished job's handle, a
panel's closure, a widget's wrapper — their C++ destructors run on that worker while the GUI
thread delivers their queued signals, and the process crashes (seen as segfaults in
``QThreadPool.waitForDone`` and in a job's progress relay). pyqtgraph's ``GarbageCollector``
answers it the same way: automatic collection off, and the GUI thread collects on a timer,
generation by generation as the thresholds say, so what it frees is freed where it lives.

The collector's pauses elsewhere (:mod:`workbench.core.gc_pause`: folder scans, background
imports, a training run) find automatic collection off and leave it off; the imported heap is
still frozen (``gc.freeze``) so that full collections here stay short.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

from workbench.core import gc_pause


class GuiThreadCollector(QObject):
    """Turns automatic collection off and collects from a timer on the thread it lives in
    (create it on the GUI thread). :meth:`stop` puts automatic collection back."""

    #: How often the counts are looked at. Short: a generation-0 pass costs with the young
    #: objects made since the last one, and with 500 ms a busy moment (image switches with
    #: detection jobs) left 20-40 ms passes; at 50 ms they are a few ms. Generation 1 and 2
    #: come as the automatic thresholds would have them.
    INTERVAL_MS = 50

    def __init__(self, parent: QObject | None = None, interval_ms: int | None = None) -> None:
        super().__init__(parent)
        self.was_enabled = gc.isenabled()
        self.threshold = gc.get_threshold()
        self.collections = [0, 0, 0]  #: passes made per generation (tests, diagnostics)
        gc_pause.set_manual(True)
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(self.INTERVAL_MS if interval_ms is None else interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds (youngest first);
        while a pause is under way (a scan, the background imports: core.gc_pause) only the
        youngest, as those pauses want no long passes."""
        l0, l1, l2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if l0 > t0:
            gc.collect(0)
            self.collections[0] += 1
            if l1 > t1 and not gc_pause.active_pauses():
                gc.collect(1)
                self.collections[1] += 1
                if l2 > t2:
                    gc.collect(2)
                    self.collections[2] += 1

    def stop(self, generation: int = 2) -> None:
        """Stop the timer, collect here (up to ``generation``), and put automatic collection
        back as it was."""
        self.timer.stop()
        gc.collect(generation)
        gc_pause.end_manual(self.was_enabled)


_COLLECTOR: GuiThreadCollector | None = None


def install(app: QObject) -> GuiThreadCollector:
    """The process's collector, made once, a child of ``app`` (the QApplication)."""
    global _COLLECTOR
    if _COLLECTOR is None:
        _COLLECTOR = GuiThreadCollector(app)
    return _COLLECTOR
