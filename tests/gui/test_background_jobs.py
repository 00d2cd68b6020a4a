"""Generator jobs on :class:`workbench.gui.jobs.JobRunner` (pre-labeling a folder): items as
signals, cancel between items, a nicer thread for long jobs, failures as messages."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from workbench.gui.jobs import JobRunner
from workbench.gui.workers.priority import BACKGROUND_NICENESS


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_long_job_runner_runs_nicer_than_the_gui(qtbot) -> None:  # noqa: ANN001
    def make(ctx):  # noqa: ANN001, ANN202
        yield _nice()

    runner = JobRunner(niceness=BACKGROUND_NICENESS)
    got: list[int] = []
    job = runner.submit(make)
    job.yielded.connect(got.append)
    with qtbot.waitSignal(job.finished, timeout=5000):
        pass
    assert got == [min(_nice() + BACKGROUND_NICENESS, 19)]
    assert runner.shutdown(5000)


def test_cancel_stops_between_items_and_failures_are_messages(qtbot) -> None:  # noqa: ANN001
    gate = threading.Event()

    def make(ctx):  # noqa: ANN001, ANN202
        for i in range(1000):
            yield i
            if i == 2:
                gate.set()
                ctx.stop.wait(5)
            if ctx.stop.is_set():
                yield "summary"  # an engine generator's last event (drain delivers it)
                return

    runner = JobRunner()
    got: list[object] = []
    job = runner.submit(make, drain=True)
    job.yielded.connect(got.append)
    with qtbot.waitSignal(job.cancelled, timeout=5000):
        assert gate.wait(5)
        job.cancel()
    assert got == [0, 1, 2, "summary"]

    def broken(ctx):  # noqa: ANN001, ANN202
        yield 1
        raise OSError("disk full")

    failing = runner.submit(broken)
    with qtbot.waitSignal(failing.failed, timeout=5000) as blocker:
        pass
    assert blocker.args == ["OSError: disk full"]
    assert runner.shutdown(5000)
