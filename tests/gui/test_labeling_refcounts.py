"""PySide6 6.12 abi3 wheels on Python < 3.12 drop references to None/True/False (void calls,
``Signal.emit()``); ``import workbench.gui`` must make a long session survive them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import workbench.gui
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
class O(QObject):
    moved = Signal(float, float)
o, label = O(), QLabel()
o.moved.connect(lambda x, y: None)
for i in range(20000):   # ~ a long labeling session of mouse moves and label updates
    o.moved.emit(1.0, 2.0)
    label.setText("x")
print("survived")
"""


def test_many_emits_and_void_calls_do_not_abort():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "survived"


def test_workaround_applies_only_to_affected_pyside_releases():
    from workbench.gui.pyside_compat import make_none_immortal

    before = sys.getrefcount(None)
    assert make_none_immortal("6.11.3") is False
    assert sys.getrefcount(None) - before < 1000  # untouched (a few refs may come and go)
    assert make_none_immortal("6.12.0") is (sys.version_info < (3, 12))
