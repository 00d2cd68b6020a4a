"""background_run_settings: the GIL switch interval and the collector inside, restored after."""

from __future__ import annotations

import gc
import sys

import pytest

from workbench.engine.process_settings import background_run_settings


def test_values_inside_and_restored_after() -> None:
    before = sys.getswitchinterval()
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    with background_run_settings(0.00025) as settings:
        assert sys.getswitchinterval() == pytest.approx(0.00025)
        assert not gc.isenabled()
        junk = [object() for _ in range(100)]
        settings.freeze()
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen_before
        settings.freeze()  # once per run
        del junk
    assert sys.getswitchinterval() == before
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before


def test_restored_after_an_exception() -> None:
    before = sys.getswitchinterval()
    frozen_before = gc.get_freeze_count()
    with pytest.raises(RuntimeError, match="boom"), background_run_settings(0.0001) as settings:
        settings.freeze()
        assert sys.getswitchinterval() == pytest.approx(0.0001)
        raise RuntimeError("boom")
    assert sys.getswitchinterval() == before
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before
    with pytest.raises(ValueError), background_run_settings(0.0001):  # before any freeze
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled() and sys.getswitchinterval() == before


def test_never_lengthens_the_interval_and_keeps_a_disabled_collector_disabled() -> None:
    before = sys.getswitchinterval()
    gc.disable()
    try:
        with background_run_settings(before * 10) as settings:
            assert sys.getswitchinterval() == before
            settings.freeze()  # the collector was off: it stays off, nothing is frozen
            assert not gc.isenabled() and not settings.frozen
        assert not gc.isenabled()
    finally:
        gc.enable()
    with background_run_settings(None, pause_gc=False):
        assert gc.isenabled() and sys.getswitchinterval() == before
