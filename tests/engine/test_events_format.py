"""How the CLI and the Train dock say durations and counts of a run."""

from __future__ import annotations

from workbench.engine.events import fmt_count, fmt_duration


def test_durations() -> None:
    assert [fmt_duration(s) for s in (-3, 0, 59.4, 59.6, 65, 3599, 3600, 3725, 90061)] == [
        "00:00", "00:00", "00:59", "01:00", "01:05", "59:59", "1:00:00", "1:02:05", "25:01:01"]


def test_counts() -> None:
    assert [fmt_count(n, "epoch") for n in (0, 1, 2)] == ["0 epochs", "1 epoch", "2 epochs"]
