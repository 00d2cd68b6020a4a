"""Big folders (issue 14): first paint, the background state scan and the file filter at 10^5 images.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_big_folder.py \
        [--sizes 20000,100000] [--rounds 3] [--out bench/results/big_folder.txt]

The folders are generated once under ``$TMPDIR/wb-big-<n>`` (kept for the next run): ``n`` hard
links of one small JPEG named ``img<i>.jpg`` (natural order matters: ``img2`` before ``img10``)
and a tiny VOC XML beside every tenth image (one box; every 50th of those verified). Hard links
make 10^5 images in about a second and take no disk space.

Prints, per size:

* **first paint** — a fresh ``python`` process opens the folder the way ``run_gui`` does
  (``build_window(lazy=True)``) and paints the first image (whole process from start; median
  of ``--rounds``), with the scan alone measured in the same child (the open job on the
  worker thread: ``Project.open`` and warming the paths and imports the window needs next) and
  the time until the file dock is filled; goal < 1 s at any size (the baseline row
  is the 200-image raccoon folder);
* **scan** — the file dock's background state scan run to the end (every row's state),
  in ms and µs per image; "linear" means scan(100k) / scan(20k) ≈ 5;
* **filter** — each keystroke typed into the file filter (``QTest.keyClicks``, real key
  events, the event loop run until idle) and each change of the state filter, at the largest
  size: median and p95 in ms (wall clock, and the GUI thread's CPU: the machine's load
  inflates the wall clock); goal p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"
SEED_JPEG = RACCOON / "images" / "raccoon-150.jpg"  # 3.6 KB, 1 object in its XML

XML = """<annotation{verified}>
\t<folder>big</folder>
\t<filename>{name}</filename>
\t<size><width>{w}</width><height>{h}</height><depth>3</depth></size>
\t<object><name>{cls}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
\t\t<bndbox><xmin>10</xmin><ymin>10</ymin><xmax>60</xmax><ymax>50</ymax></bndbox></object>
</annotation>
"""

FIRST_PAINT_CHILD = r"""
import os, sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from workbench.gui.app import build_window, create_app
from workbench.gui.settings import Settings
opened = []
try:  # the scan's own time on the worker (importing core.project here would add its imports
    import workbench.gui.opening  # noqa: F401  to the first paint)
except ImportError:  # an older checkout (--baseline): time Project.open itself
    import workbench.core.project as project_mod
    _open = project_mod.Project.open.__func__
    def timed_open(cls, *a, **k):
        t = time.perf_counter(); p = _open(cls, *a, **k); opened.append(time.perf_counter() - t)
        return p
    project_mod.Project.open = classmethod(timed_open)
app = create_app()
try:  # as run_gui starts: paint first, scan the folder on a worker thread after that paint
    w = build_window(sys.argv[2], None, Settings(os.environ["WORKBENCH_SETTINGS"]), lazy=True)
except TypeError:  # a checkout from before the lazy start (--baseline)
    w = build_window(sys.argv[2], None, Settings(os.environ["WORKBENCH_SETTINGS"]))
class Painted(QObject):
    t = None
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and self.t is None and w.canvas.image_size()[0]:
            self.t = time.time() - t0
            QTimer.singleShot(0, loop.quit)
        return False
loop = QEventLoop()  # (app.quit() would close the window, Qt 6: the open would be cancelled)
f = Painted(); w.canvas.viewport().installEventFilter(f)
w.resize(1440, 900); w.show()
loop.exec()
try:
    from workbench.gui.app import wait_until_open
except ImportError:  # a checkout from before the worker-thread open (--baseline)
    wait_until_open = lambda window: None
wait_until_open(w)  # the project, when it opens on a worker thread
listed = time.time() - t0
if getattr(getattr(w, "opener", None), "scan_seconds", None) is not None:
    opened.append(w.opener.scan_seconds)
print("RESULT", f.t, opened[0] if opened else float("nan"), w.files.model.rowCount(), listed)
os._exit(0)  # the process's teardown is not part of the first paint
"""


def make_folder(n: int, base: Path | None = None) -> Path:
    """``n`` images (hard links of one JPEG) and a VOC XML beside every tenth; reused."""
    base = base or Path(tempfile.gettempdir())
    folder = base / f"wb-big-{n}"
    done = folder / ".complete"
    if done.is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    seed = folder / ".seed.jpg"
    shutil.copyfile(SEED_JPEG, seed)
    from PySide6.QtGui import QImageReader

    size = QImageReader(str(seed)).size()
    for i in range(1, n + 1):
        name = f"img{i}.jpg"
        try:
            os.link(seed, folder / name)
        except OSError:  # no hard links on this file system
            shutil.copyfile(seed, folder / name)
        if i % 10 == 1:
            verified = ' verified="yes"' if i % 500 == 1 else ""
            (folder / f"img{i}.xml").write_text(XML.format(
                verified=verified, name=name, w=size.width(), h=size.height(),
                cls=("raccoon", "dog", "cat")[i % 3]), encoding="utf-8")
    done.write_text("")
    return folder


def first_paint(folder: Path, rounds: int, checkout: Path = ROOT,
                ) -> tuple[list[float], list[float], int, list[float]]:
    """Per process: first paint of an image (s from start), ``Project.open`` (s), rows,
    the file dock filled (s from start). ``checkout``: the source tree to run."""
    paints, opens, rows, listed = [], [], 0, []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, WORKBENCH_SETTINGS=str(Path(tmp) / "s.ini"))
            if checkout != ROOT:
                env["PYTHONPATH"] = str(checkout)
            t0 = time.time()
            out = subprocess.run([sys.executable, "-c", FIRST_PAINT_CHILD, str(t0), str(folder)],
                                 env=env, capture_output=True, text=True, cwd=checkout,
                                 check=True)
        line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT"))
        _, paint, opened, count, filled = line.split()
        listed.append(float(filled))
        paints.append(float(paint))
        opens.append(float(opened))
        rows = int(count)
    return paints, opens, rows, listed


def _window(folder: Path, tmp: str):  # noqa: ANN202
    from PySide6.QtWidgets import QApplication

    from workbench.gui.app import build_window
    from workbench.gui.settings import Settings

    from workbench.gui.app import wait_until_open

    window = build_window(folder, None, Settings(Path(tmp) / "s.ini"))
    wait_until_open(window)
    window.resize(1440, 900)
    window.show()
    QApplication.processEvents()
    return window


def scan_time(folder: Path) -> tuple[float, int]:
    """Seconds to scan every row's state (the scanner's own steps, run back to back)."""
    with tempfile.TemporaryDirectory() as tmp:
        window = _window(folder, tmp)
        window.scanner.stop()
        model = window.files.model
        model.set_entries(list(model.names()))  # start from nothing scanned (row 0 is open)
        t = time.perf_counter()
        window.scanner.start()
        window.scanner.run_to_end()
        seconds = time.perf_counter() - t
        counts = model.counts()
        window.close()
        window.deleteLater()
    return seconds, sum(counts.values())


def filter_times(folder: Path) -> tuple[list[float], list[float], dict[str, int], list[float]]:
    """Per keystroke / per state change: ms from the key event until the event loop is idle
    (wall clock), and the GUI thread's CPU ms for each keystroke (``time.thread_time``: what
    the machine's load does not inflate)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    keys: list[float] = []
    cpu: list[float] = []
    states: list[float] = []
    visible: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        window = _window(folder, tmp)
        window.scanner.run_to_end()
        QApplication.processEvents()
        panel = window.files
        edit = panel.filter_edit
        edit.setFocus()

        def idle() -> None:
            QApplication.processEvents()
            panel.flush_filter() if hasattr(panel, "flush_filter") else None
            QApplication.processEvents()

        for word in ("img1234", "img99", "7"):
            for ch in word:
                t, c = time.perf_counter(), time.thread_time()
                QTest.keyClick(edit, ch)
                idle()
                keys.append((time.perf_counter() - t) * 1e3)
                cpu.append((time.thread_time() - c) * 1e3)
            visible[word] = panel.proxy.rowCount()
            for _ in word:
                t, c = time.perf_counter(), time.thread_time()
                QTest.keyClick(edit, Qt.Key.Key_Backspace)
                idle()
                keys.append((time.perf_counter() - t) * 1e3)
                cpu.append((time.thread_time() - c) * 1e3)
        combo = panel.state_combo
        for _ in range(2):
            for i in list(range(1, combo.count())) + [0]:
                t = time.perf_counter()
                combo.setCurrentIndex(i)
                idle()
                states.append((time.perf_counter() - t) * 1e3)
                visible[f"state:{combo.itemData(i)}"] = panel.proxy.rowCount()
        window.close()
        window.deleteLater()
    return keys, states, visible, cpu


def _p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def _spread(values: list[float], scale: float = 1.0, fmt: str = "{:.0f}") -> str:
    med = statistics.median(values) * scale
    return (f"{fmt.format(med)} (min {fmt.format(min(values) * scale)}, "
            f"max {fmt.format(max(values) * scale)})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="20000,100000")
    ap.add_argument("--rounds", type=int, default=3, help="first-paint processes per size")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "big_folder.txt")
    ap.add_argument("--no-scan", action="store_true", help="skip the (long) scan rows")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="an older checkout (`git archive REV | tar -x -C DIR`): its first "
                    "paint is measured too, one process per size, after ours")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])  # noqa: F841 - the bench's own app
    lines = [f"# bench_big_folder.py — {platform.node()} {platform.machine()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"{time.strftime('%Y-%m-%d %H:%M')}, load average "
             f"{' '.join('%.1f' % x for x in os.getloadavg())} at the start",
             f"# sizes {sizes}, first paint: median of {args.rounds} processes (min, max)"]

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    folders = {}
    for n in sizes:
        t = time.perf_counter()
        folders[n] = make_folder(n)
        say(f"folder {n}: {folders[n]} ready in {time.perf_counter() - t:.1f} s")
    say("")
    say(f"{'what':<44} {'value':>34}")
    if (RACCOON / "images").is_dir():
        paints, opens, rows, _ = first_paint(RACCOON, args.rounds)
        say(f"{'first paint, raccoon (' + str(rows) + ' images), s':<44} "
            f"{_spread(paints, 1, '{:.2f}'):>34}")
    for n in sizes:
        paints, opens, rows, listed = first_paint(folders[n], args.rounds)
        say(f"{'first paint, ' + str(n) + ' images, s':<44} {_spread(paints, 1, '{:.2f}'):>34}"
            f"  {'OK' if statistics.median(paints) < 1.0 else 'over 1 s'}")
        say(f"{'  scan on the worker (ours: the open job), s':<44} "
            f"{_spread(opens, 1, '{:.2f}'):>34}")
        say(f"{'  file dock filled, s from start':<44} {_spread(listed, 1, '{:.2f}'):>34}")
        if args.baseline is not None:
            paints, opens, _, listed = first_paint(folders[n], 1, args.baseline.resolve())
            say(f"{'  before (' + args.baseline.name + '): first paint, s':<44} "
                f"{paints[0]:>34.2f}  (Project.open {opens[0]:.2f} s)")
    scans = {}
    if not args.no_scan:
        for n in sizes:
            seconds, scanned = scan_time(folders[n])
            scans[n] = seconds
            say(f"{'state scan, ' + str(n) + ' images, s':<44} {seconds:>34.2f}"
                f"  ({seconds / n * 1e6:.0f} µs/image, {scanned} scanned)")
        if len(scans) >= 2:
            a, b = sizes[0], sizes[-1]
            say(f"{'scan growth ' + str(b) + '/' + str(a):<44} "
                f"{scans[b] / scans[a]:>34.2f}  (linear: {b / a:.2f})")
    keys, states, visible, cpu = filter_times(folders[sizes[-1]])
    say(f"{'filter keystroke at ' + str(sizes[-1]) + ', ms (n=' + str(len(keys)) + ')':<44} "
        f"{'median %.1f, p95 %.1f, max %.1f' % (statistics.median(keys), _p95(keys), max(keys)):>34}"
        f"  {'OK' if _p95(keys) < 50 else 'over 50 ms'}")
    say(f"{'  GUI thread CPU per keystroke, ms':<44} "
        f"{'median %.1f, p95 %.1f, max %.1f' % (statistics.median(cpu), _p95(cpu), max(cpu)):>34}")
    say(f"{'state filter change, ms (n=' + str(len(states)) + ')':<44} "
        f"{'median %.1f, p95 %.1f, max %.1f' % (statistics.median(states), _p95(states), max(states)):>34}"
        f"  {'OK' if _p95(states) < 50 else 'over 50 ms'}")
    say("visible rows: " + ", ".join(f"{k}={v}" for k, v in visible.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
