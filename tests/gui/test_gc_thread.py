"""gui.gc_thread: automatic collection off, the GUI thread collects from its timer."""

from __future__ import annotations

import gc
import threading

import pytest

from workbench.core.gc_pause import active_pauses, paused
from workbench.gui.gc_thread import GuiThreadCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self
        self.freed_on: list[str] = []


@pytest.mark.own_gc
def test_cycles_are_freed_on_the_collectors_thread(qtbot) -> None:  # noqa: ANN001
    was = gc.isenabled()
    gc.enable()
    collector = GuiThreadCollector(interval_ms=20)
    try:
        assert not gc.isenabled()
        freed_on: list[str] = []

        class Tracked:
            def __init__(self) -> None:
                self.me = self

            def __del__(self) -> None:
                freed_on.append(threading.current_thread().name)

        kept: list = []

        def worker() -> None:  # garbage cycles, then enough new objects to pass a threshold
            for _ in range(3):
                Tracked()
            kept.extend([i] for i in range(5 * gc.get_threshold()[0]))

        t = threading.Thread(target=worker, name="worker")
        t.start()
        t.join()
        assert freed_on == []  # the worker's allocations collected nothing
        with paused():  # a scan's pause ending does not turn automatic collection back on
            pass
        assert not gc.isenabled()
        qtbot.waitUntil(lambda: len(freed_on) == 3, timeout=3000)
        assert set(freed_on) == {threading.current_thread().name}
        assert collector.collections[0] >= 1
    finally:
        collector.stop()
    assert gc.isenabled() and active_pauses() == 0
    if not was:
        gc.disable()
