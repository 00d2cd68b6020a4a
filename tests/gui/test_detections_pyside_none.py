"""PySide6 6.12 abi3 wheels drop a reference to None on every void method call on Python 3.11;
importing workbench.gui must make that harmless (else the app aborts after a few repaints)."""

from __future__ import annotations

import subprocess
import sys


def test_many_void_calls_do_not_abort() -> None:
    code = ("import workbench.gui\n"
            "from PySide6.QtCore import QPoint, QRect\n"
            "r = QRect()\n"
            "for _ in range(200_000):\n"
            "    r.moveTopLeft(QPoint(1, 2))\n"
            "print('alive')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.strip() == "alive"
