"""short_switch_interval: the GIL switch interval shortened inside, overlapping requests from
several threads (background jobs, a training run) ending with the value from before them."""

from __future__ import annotations

import sys
import threading

import pytest

from workbench.core.switch_interval import short_switch_interval
from workbench.engine.process_settings import background_run_settings


def test_overlapping_requests_end_with_the_interval_from_before() -> None:
    before = sys.getswitchinterval()
    job = short_switch_interval(0.001)
    job.__enter__()
    assert sys.getswitchinterval() == pytest.approx(0.001)
    with background_run_settings(0.00025, pause_gc=False):
        assert sys.getswitchinterval() == pytest.approx(0.00025)  # the smallest asked for
        job.__exit__(None, None, None)  # the job ends first: the training run keeps its own
        assert sys.getswitchinterval() == pytest.approx(0.00025)
    assert sys.getswitchinterval() == before


def test_never_lengthens_and_restores_after_an_exception() -> None:
    before = sys.getswitchinterval()
    with short_switch_interval(before * 4):
        assert sys.getswitchinterval() == before
    with pytest.raises(RuntimeError, match="boom"), short_switch_interval(0.0001):
        raise RuntimeError("boom")
    assert sys.getswitchinterval() == before


def test_threads_entering_and_leaving_in_any_order() -> None:
    before = sys.getswitchinterval()
    gates = [threading.Event() for _ in range(4)]
    inside = threading.Barrier(5)

    def job(i: int) -> None:
        with short_switch_interval(0.0005 + i * 0.0001):
            inside.wait(5)
            gates[i].wait(5)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    inside.wait(5)
    assert sys.getswitchinterval() == pytest.approx(0.0005)
    for i in (0, 2, 3, 1):  # the smallest request leaves first
        gates[i].set()
        threads[i].join(5)
    assert sys.getswitchinterval() == before
