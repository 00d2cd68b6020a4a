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
* **open** — the open job's work (``Project.open``, the path strings, the dock's names) run
  on the main thread of a child process: wall clock and that thread's CPU time (best of 2);
* **scan** — the file dock's background state scan run to the end (every row's state),
  wall clock and GUI-thread CPU (best of 2), µs per image; "linear" means
  scan(100k) / scan(20k) ≈ 5 (the growth rows use CPU time: the machine's load changes
  during a run and inflates the wall clock);
* **filter** — each keystroke typed into the file filter (``QTest.keyClicks``, real key
  events, the event loop run until idle) and each change of the state filter, at the largest
  size: median and p95 in ms (wall clock, and the GUI thread's CPU); goal p95 < 50 ms.

Every measurement runs in a child process of the checkout measured, so ``--baseline DIR``
(an older checkout) gets the same rows, each right after ours (the same load).
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
    cpu = None
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and self.t is None and w.canvas.image_size()[0]:
            self.t = time.time() - t0
            self.cpu = time.thread_time()  # (the GUI thread's)
            QTimer.singleShot(0, loop.quit)
        return False
shown = []  # GUI-thread CPU of showing the scanned project (open_project)
_open_project = w.open_project
def timed_open_project(*a, **k):
    c = time.thread_time(); r = _open_project(*a, **k); shown.append(time.thread_time() - c)
    return r
w.open_project = timed_open_project
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
print("RESULT", f.t, opened[0] if opened else float("nan"), w.files.model.rowCount(), listed,
      f.cpu, shown[0] if shown else float("nan"))
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
                ) -> tuple[list[float], list[float], int, list[float], list[float], list[float]]:
    """Per process: first paint of an image (s from start), ``Project.open`` (s), rows,
    the file dock filled (s from start), the GUI thread's CPU at the first paint (s) and
    while showing the scanned project (s). ``checkout``: the source tree to run."""
    paints, opens, rows, listed, cpus, shows = [], [], 0, [], [], []
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
        _, paint, opened, count, filled, cpu, show = line.split()
        cpus.append(float(cpu))
        shows.append(float(show))
        listed.append(float(filled))
        paints.append(float(paint))
        opens.append(float(opened))
        rows = int(count)
    return paints, opens, rows, listed, cpus, shows


def _child(what: str, folder: Path, checkout: Path) -> dict:
    """Run ``what`` (open / scan / filter) on ``folder`` in a child process of ``checkout``."""
    import json

    env = dict(os.environ, PYTHONPATH=str(checkout), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", what,
                          str(folder)], env=env, capture_output=True, text=True,
                         cwd=checkout, check=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("CHILD "))
    return json.loads(line[len("CHILD "):])


def open_time(folder: Path, rounds: int = 2) -> tuple[float, float, int]:
    """The open job's work on this thread: (wall s, CPU s), best of ``rounds``; entries."""
    import gc

    from workbench.gui import project_ops as ops
    from workbench.gui.navigation import display_names

    best = (float("inf"), float("inf"))
    n = 0
    for _ in range(rounds):
        gc.collect()
        t, c = time.perf_counter(), time.thread_time()
        project = ops.open_project(folder)
        for entry in project.entries:
            os.fspath(entry.image_path)
            os.fspath(entry.xml_path)
        display_names(project.images_dir, project.entries)
        best = (min(best[0], time.perf_counter() - t), min(best[1], time.thread_time() - c))
        n = len(project.entries)
        del project
    return best[0], best[1], n


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


def scan_time(folder: Path, rounds: int = 2) -> tuple[float, float, int]:
    """Seconds to scan every row's state (the scanner's own steps, run back to back): wall
    and GUI-thread CPU, best of ``rounds``; rows scanned."""
    import gc

    best = (float("inf"), float("inf"))
    with tempfile.TemporaryDirectory() as tmp:
        window = _window(folder, tmp)
        model = window.files.model
        for _ in range(rounds):
            window.scanner.stop()
            model.set_entries(list(model.names()))  # start from nothing scanned (row 0 is open)
            gc.collect()
            t, c = time.perf_counter(), time.thread_time()
            window.scanner.start()
            window.scanner.run_to_end()
            best = (min(best[0], time.perf_counter() - t), min(best[1], time.thread_time() - c))
        counts = model.counts()
        window.close()
        window.deleteLater()
    return best[0], best[1], sum(counts.values())


def filter_times(folder: Path) -> tuple[list[float], list[float], dict[str, int], list[float],
                                        list[float]]:
    """Per keystroke / per state change: ms from the key event until the event loop is idle
    (wall clock), and the GUI thread's CPU ms for each keystroke and each state change
    (``time.thread_time``: what the machine's load does not inflate)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    keys: list[float] = []
    cpu: list[float] = []
    states: list[float] = []
    state_cpu: list[float] = []
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
                t, c = time.perf_counter(), time.thread_time()
                combo.setCurrentIndex(i)
                idle()
                states.append((time.perf_counter() - t) * 1e3)
                state_cpu.append((time.thread_time() - c) * 1e3)
                visible[f"state:{combo.itemData(i)}"] = panel.proxy.rowCount()
        window.close()
        window.deleteLater()
    return keys, states, visible, cpu, state_cpu


def child_main(what: str, folder: Path) -> int:
    import json

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])  # noqa: F841
    if what == "open":
        wall, cpu, n = open_time(folder)
        out: dict = {"wall": wall, "cpu": cpu, "n": n}
    elif what == "scan":
        wall, cpu, n = scan_time(folder)
        out = {"wall": wall, "cpu": cpu, "n": n}
    else:
        keys, states, visible, cpu, state_cpu = filter_times(folder)
        out = {"keys": keys, "states": states, "visible": visible, "cpu": cpu,
               "state_cpu": state_cpu}
    print("CHILD " + json.dumps(out), flush=True)
    os._exit(0)  # (the window's teardown is not measured)


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
                    help="an older checkout (`git archive REV | tar -x -C DIR`): every row "
                    "is measured for it too, right after ours (first paint: one process)")
    ap.add_argument("--child", nargs=2, metavar=("WHAT", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main(args.child[0], Path(args.child[1]))
    sizes = [int(s) for s in args.sizes.split(",")]
    trees = [("ours", ROOT)]
    if args.baseline is not None:
        trees.append((f"before ({args.baseline.name})", args.baseline.resolve()))

    lines = [f"# bench_big_folder.py — {platform.node()} {platform.machine()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"{time.strftime('%Y-%m-%d %H:%M')}, load average "
             f"{' '.join('%.1f' % x for x in os.getloadavg())} at the start",
             f"# sizes {sizes}, first paint: median of {args.rounds} processes (min, max); "
             "open / scan: best of 2 in one child process; CPU = that thread's CPU time"]

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    def row(what: str, value: str, note: str = "") -> None:
        say(f"{what:<54} {value:>34}" + (f"  {note}" if note else ""))

    def stats(values: list[float]) -> str:
        return "median %.1f, p95 %.1f, max %.1f" % (statistics.median(values), _p95(values),
                                                    max(values))

    folders = {}
    for n in sizes:
        t = time.perf_counter()
        folders[n] = make_folder(n)
        say(f"folder {n}: {folders[n]} ready in {time.perf_counter() - t:.1f} s")
    say("")
    row("what", "value")
    if (RACCOON / "images").is_dir():
        for label, tree in trees:
            paints, _, rows, _, cpus, _ = first_paint(
                RACCOON, args.rounds if tree == ROOT else 1, tree)
            row(f"first paint, raccoon ({rows} images), s, {label}",
                _spread(paints, 1, "{:.2f}"), f"GUI-thread CPU {statistics.median(cpus):.2f} s")
    for n in sizes:
        for label, tree in trees:
            rounds = args.rounds if tree == ROOT else 1
            paints, opens, rows, listed, cpus, shows = first_paint(folders[n], rounds, tree)
            row(f"first paint, {n} images, s, {label}", _spread(paints, 1, "{:.2f}"),
                f"GUI-thread CPU {statistics.median(cpus):.2f} s; "
                + ("OK" if statistics.median(paints) < 1.0 else "over 1 s"))
            row("  the open job on the worker, s", _spread(opens, 1, "{:.2f}"))
            row("  file dock filled, s from start", _spread(listed, 1, "{:.2f}"))
            row("  project shown: GUI-thread CPU, ms", _spread(shows, 1e3, "{:.0f}"))
    growth: dict[tuple[str, str], dict[int, float]] = {}
    if not args.no_scan:
        for what in ("open", "scan"):
            for n in sizes:
                for label, tree in trees:
                    r = _child(what, folders[n], tree)
                    growth.setdefault((what, label), {})[n] = r["cpu"]
                    title = "open job (main thread)" if what == "open" else "state scan"
                    row(f"{title}, {n} images, {label}", f"{r['wall']:.2f} s, CPU {r['cpu']:.2f} s",
                        f"({r['cpu'] / n * 1e6:.0f} µs CPU/image, {r['n']} rows)")
        if len(sizes) >= 2:
            a, b = sizes[0], sizes[-1]
            for (what, label), by_size in growth.items():
                row(f"{what} growth {b}/{a} (CPU), {label}",
                    f"{by_size[b] / by_size[a]:.2f}", f"(linear: {b / a:.2f})")
    for label, tree in trees:
        r = _child("filter", folders[sizes[-1]], tree)
        keys, states, cpu, state_cpu = r["keys"], r["states"], r["cpu"], r["state_cpu"]
        row(f"filter keystroke at {sizes[-1]}, ms (n={len(keys)}), {label}", stats(keys),
            "OK" if _p95(keys) < 50 else "over 50 ms")
        row("  GUI thread CPU per keystroke, ms", stats(cpu))
        row(f"state filter change, ms (n={len(states)}), {label}", stats(states),
            "OK" if _p95(states) < 50 else "over 50 ms")
        row("  GUI thread CPU per state change, ms", stats(state_cpu))
        say("  visible rows: " + ", ".join(f"{k}={v}" for k, v in r["visible"].items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
