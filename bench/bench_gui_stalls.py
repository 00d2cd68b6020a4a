"""How long the labeling window's event loop stalls during a scripted tour of the app.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_stalls.py [--project DIR] [--out F]

On the 800-image sample project (generated into a temporary folder by
:func:`workbench.core.synth.generate_project`, as the first run does; ``--project`` reuses one),
the tour runs, in one window with every panel of the registry:

1. open every panel for the first time (each dock shown in turn);
2. File → Export dataset in every format (the dialogs answered by the script);
3. load a results folder in the Metrics panel and move the IoU control 6 times;
4. rename a class across the project (the Classes dock's Rename, answered by the script);
5. Ctrl+N (next unlabeled) over the whole folder;
6. switch 50 images with the D key, auto-detect on, the Detections panel in front (a small SSD
   checkpoint; no GPU);
7. the same 50 switches with the Detections panel tabbed behind another panel.

A ``QTimer`` ticks every 5 ms on the GUI thread; a step's stall is the longest gap between two
ticks while it runs (from the action's start until its result is on screen). The table gives
the stall and the step's wall time; the last line is ``max stall N ms`` (goal: under 100 ms).
Results are appended to ``bench/results/gui_stalls_tour.txt`` with ``--save``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TICK_MS = 5
WHY = "--why" in sys.argv


class StallMeter:
    """Longest gap between ticks of a 5 ms timer on the GUI thread."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def reset(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0

    def stall_ms(self) -> float:
        # a gap still open when the step ends counts too
        return max(self.worst, time.perf_counter() - self.last) * 1000


class Watchdog:
    """``--why``: print the GUI thread's stack (and the other threads' top frames) when a tick is
    more than ``limit_s`` late — what held the event loop."""

    def __init__(self, meter: StallMeter, limit_s: float = 0.1) -> None:
        import threading

        self.meter, self.limit_s = meter, limit_s
        self.gui = threading.get_ident()
        self.reported = 0.0
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        import traceback

        while True:
            time.sleep(0.02)
            late = time.perf_counter() - self.meter.last
            if late > self.limit_s and self.meter.last != self.reported:
                self.reported = self.meter.last
                frames = sys._current_frames()
                stack = "".join(traceback.format_stack(frames[self.gui], limit=8))
                others = {tid: traceback.extract_stack(f)[-1] for tid, f in frames.items()
                          if tid not in (self.gui,) and f is not sys._getframe()}
                print(f"--- GUI thread {late * 1000:.0f} ms late:\n{stack}"
                      + "".join(f"    other: {fr.filename}:{fr.lineno} {fr.name}\n"
                                for fr in others.values()), flush=True)


def pump(until: Callable[[], bool], timeout_s: float = 300.0) -> bool:
    """Run the event loop until ``until()`` (checked every few ms) or the timeout."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    end = time.perf_counter() + timeout_s
    while not until():
        if time.perf_counter() > end:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.001)
    return True


def step(meter: StallMeter, rows: list, label: str, action: Callable[[], object],
         done: Callable[[], bool] = lambda: True, timeout_s: float = 300.0) -> None:
    """Run ``action`` from the event loop, wait until ``done()``; record the worst gap."""
    from PySide6.QtCore import QTimer

    pump(lambda: True)
    started: list[float] = []

    def go() -> None:
        started.append(time.perf_counter())
        action()

    meter.reset()
    QTimer.singleShot(0, go)
    ok = pump(lambda: bool(started) and done(), timeout_s)
    pump(lambda: True)  # what the step queued (repaints) lands in it
    wall = time.perf_counter() - started[0] if started else float("nan")
    rows.append((label, meter.stall_ms(), wall, "" if ok else "TIMED OUT"))
    print(f"  {label:<52} {rows[-1][1]:8.0f} ms {wall:8.2f} s {rows[-1][3]}", flush=True)


def write_results(project, folder: Path, miss_every: int = 5) -> None:  # noqa: ANN001
    """Devkit results (``comp4_det_test_<class>.txt``): every box found with a jittered box,
    plus one false positive per image, some boxes missed."""
    import numpy as np

    from workbench.core.voc import read_annotation

    rng = np.random.default_rng(0)
    lines: dict[str, list[str]] = {}
    for i, entry in enumerate(project.entries):
        xml = getattr(entry, "annotation_path", None) or getattr(entry, "xml_path", None)
        if xml is None or not Path(xml).is_file():
            continue
        ann, _ = read_annotation(xml)
        stem = Path(ann.filename).stem if ann.filename else Path(xml).stem
        stem = Path(xml).stem
        for j, obj in enumerate(ann.objects):
            if (i + j) % miss_every == 0:
                continue
            x1, y1, x2, y2 = obj.box
            w, h = x2 - x1, y2 - y1
            jit = rng.normal(0, 0.06, 4) * [w, h, w, h]
            box = (x1 + jit[0], y1 + jit[1], x2 + jit[2], y2 + jit[3])
            lines.setdefault(obj.name, []).append(
                f"{stem} {rng.uniform(0.3, 1):.4f} " + " ".join(f"{v:.1f}" for v in box))
            if j == 0:
                lines[obj.name].append(f"{stem} {rng.uniform(0, 0.6):.4f} 1 1 30 30")
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in lines.items():
        (folder / f"comp4_det_test_{name}.txt").write_text("\n".join(rows) + "\n")


def make_checkpoint(folder: Path) -> Path:
    """A small SSDlite checkpoint (a step of training is enough to measure the GUI), made in
    another process so that this one imports torch when the app does."""
    import subprocess

    code = ("import importlib.util, sys; from pathlib import Path; "
            "spec = importlib.util.spec_from_file_location('h', sys.argv[1]); "
            "h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h); "
            "print(h.make_checkpoint(Path(sys.argv[2]), steps=1)[0])")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "tests" / "detections_helpers.py"),
                          str(folder)], capture_output=True, text=True, check=True, cwd=ROOT)
    return Path(out.stdout.strip().splitlines()[-1])


def tour(project_dir: Path, work: Path, checkpoint: Path) -> list:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDockWidget

    from workbench.gui import dialogs
    from workbench.gui.app import create_app
    from workbench.gui.export_dialog import FORMATS, ExportChoice
    from workbench.gui.main_window import MainWindow
    from workbench.gui.settings import Settings

    app = create_app() if QApplication.instance() is None else QApplication.instance()
    window = MainWindow(Settings(work / "settings.ini"))
    window.resize(1440, 900)
    window.show()
    meter = StallMeter()
    if WHY:
        Watchdog(meter)
    from workbench.gui.jobs import model_loader  # as run_gui does once the window is up

    model_loader().start_when_idle()
    rows: list = []
    print(f"  {'step':<52} {'stall':>11} {'wall':>10}", flush=True)
    step(meter, rows, "open the 800-image sample project",
         lambda: window.open_project(project_dir / "images", project_dir / "annotations"))
    # Ctrl+N right away: the file states are not all known yet
    step(meter, rows, "Ctrl+N over the folder, just opened",
         lambda: QTest.keyClick(window.canvas, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier),
         done=lambda: not window.scanner._timer.isActive())

    # 1. every panel for the first time
    host = window.panel_host
    from workbench.gui.panels.registry import PANELS

    for module, cls, title in PANELS:  # from the Panels menu: the dock's toggle action
        key = f"{module}.{cls}"
        step(meter, rows, f"open panel {title}",
             lambda k=key: host.docks[k].toggleViewAction().trigger(),
             done=lambda k=key: k in host.panels or k in host.errors, timeout_s=600)
    print(f"  models loaded in the background: {model_loader().done} "
          f"({model_loader().seconds or 0:.1f} s)")

    # 2. export every format (dialogs answered here)
    answers: list[str] = []
    dialogs.show_info = lambda *_a, **_k: answers.append("info")  # type: ignore[assignment]
    dialogs.show_error = lambda *a, **_k: answers.append(f"error {a[-1]}")  # type: ignore
    from workbench.gui import exporting

    for fmt, label in FORMATS:
        choice = ExportChoice(fmt=fmt, out=work / f"export-{fmt}", overwrite=True)
        dialogs.choose_export = lambda *_a, c=choice, **_k: c  # type: ignore[assignment]
        n = len(answers)
        step(meter, rows, f"export {label}", lambda: exporting.export_dataset(window),
             done=lambda n=n: len(answers) > n)
    if any(a.startswith("error") for a in answers):
        print("  export errors:", [a for a in answers if a.startswith("error")])

    # 3. metrics: load a results folder, move the IoU control
    results = work / "results"
    write_results(window.project, results)
    metrics = window.panel("MetricsPanel")
    host.show_panel("Metrics")

    def metrics_idle() -> bool:
        return metrics.result is not None and not getattr(metrics, "busy", False)

    step(meter, rows, "metrics: load results + evaluate", lambda: metrics.load_results(results),
         done=metrics_idle)
    for value in (0.55, 0.6, 0.65, 0.7, 0.5, 0.55):
        step(meter, rows, f"metrics: IoU -> {value:.2f}",
             lambda v=value: metrics.iou_spin.setValue(v), done=metrics_idle)

    # 4. rename a class across the project (Classes dock, dialogs answered here)
    classes = window.classes
    old = classes.names()[0]
    new = f"{old}_renamed"
    dialogs.ask_text = lambda *_a, **_k: new  # type: ignore[assignment]
    dialogs.ask_yes_no = lambda *_a, **_k: True  # type: ignore[assignment]
    classes.select_name(old)
    step(meter, rows, f"rename class '{old}' across the project", classes.rename_clicked,
         done=lambda: new in classes.names())

    # 5. Ctrl+N over the folder (every image is labeled: the whole folder is scanned)
    window.show_row(0)
    step(meter, rows, "Ctrl+N over the folder",
         lambda: QTest.keyClick(window.canvas, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier),
         done=lambda: not window.scanner._timer.isActive())

    # 6. 50 image switches, auto-detect on, Detections in front
    det = window.panel("DetectionsPanel")
    host.show_panel("Detections")
    det.auto_run.setChecked(True)
    step(meter, rows, "detections: load checkpoint", lambda: det.set_checkpoint(checkpoint),
         done=lambda: det.detector is not None, timeout_s=600)
    window.show_row(0)

    def switches() -> None:
        for _ in range(50):
            QTest.keyClick(window.canvas, Qt.Key.Key_D)
            pump(lambda: False, 0.03)  # a quick labeler: ~30 images a second

    def detections_idle() -> bool:
        runner = getattr(det, "jobs", None)
        return runner is None or not runner.busy

    step(meter, rows, "50 switches (D), auto-detect, Detections in front", switches,
         done=detections_idle)
    started = getattr(det, "detections_started", None)
    # 7. the same with the panel tabbed behind another one
    dock = next(d for d in window.findChildren(QDockWidget) if d.widget() is det
                or (d.widget() is not None and d.widget().isAncestorOf(det)))
    others = [d for d in window.tabifiedDockWidgets(dock) if not d.isHidden()]
    if others:
        others[0].raise_()
        pump(lambda: False, 0.1)
        before = getattr(det, "detections_started", 0)
        step(meter, rows, "50 switches (D), Detections tabbed behind", switches,
             done=detections_idle)
        after = getattr(det, "detections_started", 0)
        print(f"  detections started: in front {started}, tabbed behind {after - before}")
    window.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path,
                        help="a sample project folder to copy from (generated there if missing)")
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--save", action="store_true",
                        help="append the table to bench/results/gui_stalls_tour.txt")
    parser.add_argument("--note", default="", help="a line recorded with --save")
    parser.add_argument("--why", action="store_true",
                        help="print the GUI thread's stack whenever it is 100 ms late")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = work / "sample"
        if args.project is not None and (args.project / "images").is_dir():
            import shutil  # a fresh copy: the tour renames a class

            shutil.copytree(args.project, project)
        else:
            from workbench.core.synth import generate_project

            t0 = time.perf_counter()
            generate_project(project, num_images=args.images)
            print(f"generated {args.images} images in {time.perf_counter() - t0:.0f} s")
            if args.project is not None:
                shutil_copy = __import__("shutil").copytree
                shutil_copy(project, args.project)
        checkpoint = make_checkpoint(work)
        t0 = time.perf_counter()
        rows = tour(project, work, checkpoint)
        worst = max(r[1] for r in rows)
        lines = [f"{'step':<52} {'stall ms':>9} {'wall s':>8}"]
        lines += [f"{label:<52} {stall:9.0f} {wall:8.2f} {note}".rstrip()
                  for label, stall, wall, note in rows]
        lines.append(f"max stall {worst:.0f} ms")
        print("\n".join(lines))
        if args.save:
            out = ROOT / "bench" / "results" / "gui_stalls_tour.txt"
            load = os.getloadavg()
            with out.open("a") as f:
                f.write(f"# {time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} CPUs, load "
                        f"average {load[0]:.1f} · tour {time.perf_counter() - t0:.0f} s"
                        + (f" · {args.note}" if args.note else "") + "\n")
                f.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
