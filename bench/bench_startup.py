"""Start-up beside LabelImg (issue 14): open the raccoon folder, paint its first photo, quit.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_startup.py \
        [--labelimg-python /tmp/labelimg-venv/bin/python] [--rounds 5] [--settled] \
        [--out bench/results/startup.txt]

LabelImg 1.8.6 runs from its own virtual environment (PyQt5 + lxml from PyPI; it cannot share
ours: PyQt5 and PySide6 in one process do not mix). Make it once with::

    python3 -m venv /tmp/labelimg-venv && /tmp/labelimg-venv/bin/pip install labelImg==1.8.6

Each round starts both programs once, in alternating order (the machine's load affects them
alike), offscreen, with a fresh settings file / home folder. Each child opens
``../shared/datasets/raccoon`` (ours: the folder; LabelImg: ``images/`` with ``annotations/``
as its save folder, the way its command line takes them), closes its window from a zero-time
timer once it is *ready* (below), as a user would, and exits the way the program does (ours:
``workbench.gui.app.finish``, what ``run_gui`` does after its event loop). Ours starts the way
``run_gui`` does (``workbench.gui`` imported before PySide6, as by the ``workbench`` command;
``build_window(lazy=True)``): it paints the folder's first photo (Qt's reader) before the
folder is scanned on a worker thread; it is ready once the project is open and that photo is
shown again with its boxes, the file list filled — LabelImg is ready at its first paint (it
reads everything before). The file dock's state scan (each file's state read for its icon and
the counters) starts ``STATE_SCAN_DELAY_MS`` (300 ms) after the project is shown, so a child
that closes at *ready* does not pay it; ``--settled`` adds a row of ours that closes once that
scan has ended (what a session longer than a glance pays; its *ready* column is the scan's
end). Measured per child:

* **CPU** — user + system seconds of the whole process (``resource.getrusage(RUSAGE_CHILDREN)``
  before and after ``subprocess.run``): interpreter, imports, window, scan, decode, paint
  until ready, teardown;
* **CPU at first paint** — the child's own ``getrusage(RUSAGE_SELF)`` at its first paint;
* **first paint** — wall seconds from just before the child was started to its first paint
  (``time.time()`` passed in; includes the interpreter's start);
* **ready** — wall seconds to the first paint showing the project's boxes (= first paint for
  LabelImg).

Both interpreters use cached bytecode, as installed programs do (LabelImg's ``.pyc`` come from
``pip install``; ours are written to ``PYTHONPYCACHEPREFIX`` by a warm-up run, so a
``PYTHONDONTWRITEBYTECODE`` environment does not make us compile 60 modules per start). Without
LabelImg's environment the script says so and compares with a minimal PyQt/PySide window that
opens the folder and paints the first image (the floor of any Qt labeling tool).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"
LABELIMG_PYTHON = Path("/tmp/labelimg-venv/bin/python")

OURS = r"""
import os, resource, sys, time
t0 = float(sys.argv[1])
SETTLED = os.environ.get("WB_BENCH_SETTLED") == "1"  # (--settled: close once the states are read)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
from workbench.gui.app import build_window, create_app  # first, as the launcher does
from workbench.gui.settings import Settings
from PySide6.QtCore import QEvent, QObject, QTimer
app = create_app()
try:  # what run_gui does: paint first, scan the folder after that paint
    w = build_window(sys.argv[2], None, Settings(os.environ["WORKBENCH_SETTINGS"]), lazy=True)
except TypeError:  # an older checkout (--baseline): no lazy start
    w = build_window(sys.argv[2], None, Settings(os.environ["WORKBENCH_SETTINGS"]))
class Painted(QObject):
    t = ready = None
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and w.canvas.image_size()[0]:
            if self.t is None:
                self.t, self.cpu = time.time() - t0, cpu()
                self.modules = len(sys.modules)
                self.heavy = [m for m in ("numpy", "lxml", "PIL", "cv2", "pyqtgraph", "torch")
                              if m in sys.modules]
            if self.ready is None and getattr(w, "opening", None) is None \
                    and w.current_annotation() is not None:
                self.ready, self.ready_cpu = time.time() - t0, cpu()
                if SETTLED:
                    QTimer.singleShot(0, settle)
                else:
                    QTimer.singleShot(0, w.close)  # as the user closes the window
        return False
def settle():
    if w.scanner.running:
        QTimer.singleShot(20, settle)
    else:
        f.ready, f.ready_cpu = time.time() - t0, cpu()
        w.close()
f = Painted(); w.canvas.viewport().installEventFilter(f)
w.show()
code = int(app.exec())
print("RESULT", f.t, f.cpu, f.ready, f.ready_cpu, f.modules, ",".join(f.heavy) or "-")
sys.stdout.flush()
import workbench.gui.app as wa
if hasattr(wa, "finish"):  # what run_gui does after its event loop (older checkouts: return)
    wa.finish(code)
"""

LABELIMG = r"""
import os, resource, sys, time
t0 = float(sys.argv[1])
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
from PyQt5.QtCore import QEvent, QObject, QTimer
import labelImg
from labelImg.labelImg import get_main_app
classes = os.path.join(os.path.dirname(labelImg.__file__), "data", "predefined_classes.txt")
app, win = get_main_app([sys.argv[0], sys.argv[2], classes, sys.argv[3]])
class Painted(QObject):
    t = None
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint and self.t is None and not win.canvas.pixmap.isNull():
            self.t, self.cpu = time.time() - t0, cpu()  # boxes and file list are there too
            self.modules = len(sys.modules)
            QTimer.singleShot(0, win.close)  # as the user closes the window (it saves settings)
        return False
f = Painted(); win.canvas.installEventFilter(f)
app.exec_()
heavy = [m for m in ("numpy", "lxml", "PIL", "cv2") if m in sys.modules]
print("RESULT", f.t, f.cpu, f.t, f.cpu, f.modules, ",".join(heavy) or "-")
"""

MINIMAL = r"""
import os, resource, sys, time
t0 = float(sys.argv[1])
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QListWidget, QMainWindow, QDockWidget
app = QApplication([])
win = QMainWindow(); label = QLabel(); win.setCentralWidget(label)
names = sorted(n for n in os.listdir(sys.argv[2]) if n.lower().endswith((".jpg", ".png")))
files = QListWidget(); files.addItems(names)
dock = QDockWidget("Files"); dock.setWidget(files)
win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
label.setPixmap(QPixmap(os.path.join(sys.argv[2], names[0])))
class Painted(QObject):
    t = None
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and self.t is None:
            self.t, self.cpu = time.time() - t0, cpu()
            QTimer.singleShot(0, win.close)
        return False
f = Painted(); label.installEventFilter(f)
win.resize(1440, 900); win.show()
app.exec()
print("RESULT", f.t, f.cpu, f.t, f.cpu, len(sys.modules), "-")
"""


def _run(python: str, code: str, args: list[str], env: dict[str, str],
         cwd: Path = ROOT, settled: bool = False) -> tuple[float, float, float, float, str]:
    """(CPU s, CPU at first paint s, first paint s, ready s, note) of one child process."""
    if cwd != ROOT:  # another checkout of ours (--baseline)
        env = dict(env, PYTHONPATH=str(cwd))
    if settled:
        env = dict(env, WB_BENCH_SETTLED="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    out = subprocess.run([python, "-c", code, repr(t0), *args], env=env, capture_output=True,
                         text=True, cwd=cwd, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"{python} failed ({out.returncode}): {out.stderr[-1500:]}")
    _, paint, paint_cpu, ready, _ready_cpu, modules, heavy = line.split()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, float(paint_cpu), float(paint), float(ready), \
        f"{modules} modules at first paint; {heavy}"


def _fmt(values: list[float]) -> str:
    return (f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labelimg-python", type=Path, default=LABELIMG_PYTHON)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="also run an older checkout of this repository (e.g. made with "
                    "`git archive REV | tar -x -C DIR`) in the same rounds")
    ap.add_argument("--settled", action="store_true",
                    help="also run ours until the file dock's state scan has ended")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "startup.txt")
    args = ap.parse_args()
    if not (RACCOON / "images").is_dir():
        print(f"no raccoon data set at {RACCOON}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="wb-startup-"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPYCACHEPREFIX=str(tmp / "pycache"),
               HOME=str(tmp / "home"), XDG_RUNTIME_DIR=str(tmp / "run"),
               WORKBENCH_SETTINGS=str(tmp / "settings.ini"))
    (tmp / "home").mkdir()
    (tmp / "run").mkdir(mode=0o700)
    ours = ("Detection Workbench", sys.executable, OURS, [str(RACCOON)], ROOT)
    if args.labelimg_python.exists():
        other = ("LabelImg 1.8.6", str(args.labelimg_python), LABELIMG,
                 [str(RACCOON / "images"), str(RACCOON / "annotations")], ROOT)
    else:
        print(f"LabelImg's environment {args.labelimg_python} is missing: comparing with a "
              "minimal PySide6 window instead (see the module doc)", file=sys.stderr)
        other = ("minimal PySide6 window (LabelImg missing)", sys.executable, MINIMAL,
                 [str(RACCOON / "images")], ROOT)
    cases = [ours, other]
    if args.baseline is not None:
        cases.append((f"Workbench before ({args.baseline.name})", sys.executable, OURS,
                      [str(RACCOON)], args.baseline.resolve()))
    if args.settled:
        cases.append(("Workbench, file states read", sys.executable, OURS, [str(RACCOON)],
                      ROOT))
    for name, python, code, cargs, cwd in cases:  # warm-up: bytecode caches, files cached
        _run(python, code, cargs, env, cwd, name.endswith("states read"))
    columns = ("CPU s", "CPU at first paint s", "first paint s", "ready s")
    values: dict[str, dict[str, list[float]]] = {c[0]: {k: [] for k in columns} for c in cases}
    notes: dict[str, str] = {}
    raw: list[str] = []
    for r in range(args.rounds):
        for name, python, code, cargs, cwd in (cases if r % 2 == 0 else cases[::-1]):
            Path(env["WORKBENCH_SETTINGS"]).unlink(missing_ok=True)
            (tmp / "home" / ".labelImgSettings.pkl").unlink(missing_ok=True)  # (LabelImg's)
            *measured, note = _run(python, code, cargs, env, cwd, name.endswith("states read"))
            for k, v in zip(columns, measured):
                values[name][k].append(v)
            notes[name] = note
            raw.append(f"round {r + 1}: {name:<28} " + ", ".join(
                f"{k} {v:.3f}" for k, v in zip(columns, measured)) + f" ({note})")
    a, b = cases[0][0], cases[1][0]
    lines = [f"# bench_startup.py — {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
             f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, load average "
             f"{' '.join('%.1f' % x for x in os.getloadavg())} at the start",
             f"# raccoon folder ({RACCOON}), offscreen, {args.rounds} interleaved rounds after "
             "one warm-up each; median (min, max)",
             "",
             f"{'program':<44}" + "".join(f" {k:>26}" for k in columns)]
    for name in values:
        lines.append(f"{name:<44}" + "".join(f" {_fmt(values[name][k]):>26}" for k in columns))

    def ratio(x: str, y: str, label: str) -> str:
        return f"{label:<44}" + "".join(
            f" {_fmt([p / q for p, q in zip(values[x][k], values[y][k])]):>26}"
            for k in columns)

    lines.append(ratio(a, b, "ratio ours / " + b + " (per round)"))
    if args.baseline is not None:
        lines.append(ratio(cases[2][0], b, "ratio before / " + b + " (per round)"))
        lines.append(ratio(a, cases[2][0], "ratio ours / before (per round)"))
    if args.settled:
        lines.append(ratio(cases[-1][0], b, "ratio states read / " + b + " (per round)"))
    lines.append("")
    lines += [f"{name}: {notes[name]}" for name in values]
    lines.append("")
    lines += raw
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
