"""GeneratorTask (pre-labeling a folder): events as signals, cancel between items, and a thread
that yields the CPU to the GUI."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from workbench.gui.panels.detections_jobs import GeneratorTask
from workbench.gui.workers.priority import BACKGROUND_NICENESS


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_job_thread_runs_nicer_than_the_gui(qtbot) -> None:  # noqa: ANN001
    def make(stop: threading.Event):  # noqa: ANN202
        yield _nice()

    task = GeneratorTask(make)
    got: list[int] = []
    task.event.connect(got.append)
    with qtbot.waitSignal(task.finished, timeout=5000):
        task.start()
    qtbot.waitUntil(lambda: len(got) == 1, timeout=2000)
    assert got == [min(_nice() + BACKGROUND_NICENESS, 19)]


def test_cancel_stops_between_items_and_failures_are_messages(qtbot) -> None:  # noqa: ANN001
    gate = threading.Event()

    def make(stop: threading.Event):  # noqa: ANN202
        for i in range(1000):
            yield i
            if i == 2:
                gate.set()
                stop.wait(5)
            if stop.is_set():
                return

    task = GeneratorTask(make)
    got: list[int] = []
    task.event.connect(got.append)
    with qtbot.waitSignal(task.finished_ok, timeout=5000):
        task.start()
        assert gate.wait(5)
        task.cancel()
    qtbot.waitUntil(lambda: len(got) == 3, timeout=2000)
    assert got == [0, 1, 2]

    def broken(stop: threading.Event):  # noqa: ANN202
        yield 1
        raise OSError("disk full")

    failing = GeneratorTask(broken)
    with qtbot.waitSignal(failing.failed, timeout=5000) as blocker:
        failing.start()
    assert blocker.args == ["disk full"]
    assert failing.wait(5000)
