"""After its window has closed, ``run_gui`` ends the process without the interpreter's teardown
(``workbench.gui.app.finish``: ~70 ms of CPU after a labeling session, issue 14, and a SIGSEGV
in about one quit out of three with a project open). While the program owns the clipboard or
the selection, the application object is shut down first: Qt hands them to the system in its
destructor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import atexit, sys
from PySide6.QtCore import QTimer
from PySide6.QtGui import QClipboard, QColor, QImage
from workbench.gui import app
folder = sys.argv[1]
image = QImage(40, 30, QImage.Format.Format_RGB888)
image.fill(QColor(90, 120, 30))
assert image.save(folder + "/a.png")
if sys.argv[2] == "owns-clipboard":  # (the offscreen platform never owns it)
    QClipboard.ownsClipboard = lambda self: True
make = app.create_app
def create():
    qapp = make()
    qapp.destroyed.connect(lambda: print("application destroyed", flush=True))
    QTimer.singleShot(400, lambda: [w.close() for w in qapp.topLevelWidgets() if w.isVisible()])
    return qapp
app.create_app = create
atexit.register(lambda: print("interpreter teardown", flush=True))
print("closed with", app.run_gui(folder), flush=True)
"""


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    folder = tmp_path / "images"
    folder.mkdir()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               WORKBENCH_SETTINGS=str(tmp_path / "s.ini"))
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), mode], env=env,
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    # the window's close wrote the settings (closeEvent ran before the process ended)
    assert "geometry" in (tmp_path / "s.ini").read_text(encoding="utf-8").lower()
    return out


def test_process_ends_without_the_interpreter_teardown(tmp_path: Path) -> None:
    out = _run(tmp_path, "plain")
    assert "closed with" not in out.stdout  # run_gui did not return
    assert "interpreter teardown" not in out.stdout
    assert "application destroyed" not in out.stdout


def test_application_shut_down_first_while_the_program_owns_the_clipboard(
        tmp_path: Path) -> None:
    out = _run(tmp_path, "owns-clipboard")
    assert "application destroyed" in out.stdout  # Qt's destructor ran (clipboard handed on)
    assert "closed with" not in out.stdout
    assert "interpreter teardown" not in out.stdout
