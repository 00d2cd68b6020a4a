"""core.gc_pause: pauses from different places, ended in any order, put the collector back."""

from __future__ import annotations

import gc
import threading

import pytest

from workbench.core.gc_pause import GcPause, active_pauses, paused


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    assert active_pauses() == 0
    if not was:
        gc.disable()


def test_pauses_ended_out_of_order_leave_the_collector_on(collector_on) -> None:  # noqa: ANN001
    a = GcPause()
    assert not gc.isenabled() and active_pauses() == 1
    b = GcPause()
    a.end()  # the first one ends while the second is still on: stays off
    assert not gc.isenabled() and active_pauses() == 1
    b.end()
    assert gc.isenabled() and active_pauses() == 0


def test_the_three_users_interleaved(collector_on) -> None:  # noqa: ANN001
    """The scan, the GUI's background imports and a training run, overlapping as on threads."""
    from workbench.core.gc_pause import paused as gc_paused
    from workbench.engine.process_settings import background_run_settings
    from workbench.gui.workers.heap import imports_then_freeze

    try:
        loader = imports_then_freeze()
        loader.__enter__()
        scan = gc_paused()
        scan.__enter__()
        run = background_run_settings(None)
        settings = run.__enter__()
        loader.__exit__(None, None, None)  # the loader ends first (freezes, does not enable)
        assert not gc.isenabled() and active_pauses() == 2
        settings.freeze()  # the run's pause ends early
        assert not gc.isenabled() and active_pauses() == 1
        scan.__exit__(None, None, None)
        assert gc.isenabled() and active_pauses() == 0
        run.__exit__(None, None, None)
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_a_collector_off_before_stays_off_and_end_is_idempotent() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        with paused() as pause:
            assert not gc.isenabled()
            pause.end()
            pause.end()
            assert active_pauses() == 0
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_concurrent_pauses_from_threads(collector_on) -> None:  # noqa: ANN001
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(200):
            with paused():
                assert not gc.isenabled()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.isenabled() and active_pauses() == 0


def test_manual_collection_is_not_undone_by_pauses(collector_on) -> None:  # noqa: ANN001
    """gui.gc_thread's mode: automatic collection stays off whatever pauses do, and comes back
    when it ends — at once, or when the last pause under way ends."""
    from workbench.core import gc_pause

    gc_pause.set_manual(True)
    gc.disable()
    with paused():
        pass
    assert not gc.isenabled() and not gc_pause.enabled_outside_pauses()
    pause = GcPause()
    gc_pause.end_manual(True)  # a pause is still on: the collector waits for it
    assert not gc.isenabled()
    pause.end()
    assert gc.isenabled()
    gc_pause.set_manual(True)
    gc.disable()
    gc_pause.end_manual(True)
    assert gc.isenabled()
