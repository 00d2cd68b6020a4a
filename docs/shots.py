"""Helpers the ``docs/make_*`` screenshot scripts share: waiting on the real app's event loop.

The scripts drive the real window offscreen (``QT_QPA_PLATFORM=offscreen``) and grab it; a
background job's result arrives through the event loop, so they process events until it has.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait(app: Any, cond: Callable[[], object], timeout: float = 300.0,
         what: str = "the window") -> None:
    """Process events until ``cond()`` is true; exit naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def settle(app: Any, seconds: float = 0.4) -> None:
    """Process events for ``seconds`` (layouts, repaints, queued signals)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
