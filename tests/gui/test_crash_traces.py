"""A crash in a C library prints every thread's Python stack (``app.enable_crash_traces``, on
in ``run_gui``): an intermittent SIGSEGV seen once in the real-display test left only an exit
status -11 and the log lines before it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CRASH = """
import threading, time, faulthandler
from workbench.gui.app import enable_crash_traces
assert not faulthandler.is_enabled()
assert enable_crash_traces() is True
threading.Thread(target=time.sleep, args=(30,), name="bystander", daemon=True).start()
time.sleep(0.1)
faulthandler._sigsegv()
"""


def test_a_segfault_prints_every_threads_stack() -> None:
    out = subprocess.run([sys.executable, "-c", CRASH], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == -11, (out.returncode, out.stderr)
    assert "Fatal Python error: Segmentation fault" in out.stderr
    assert "Current thread" in out.stderr
    assert out.stderr.count("File ") >= 2  # the crashing thread's stack and the bystander's


def test_without_a_standard_error_it_says_why_and_stays_off() -> None:
    code = ("import sys, faulthandler; sys.stderr = None\n"
            "from workbench.gui.app import enable_crash_traces\n"
            "print(enable_crash_traces(), faulthandler.is_enabled())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
