"""How long the labeling window's event loop stalls during a scripted tour of the app.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_stalls.py [--project DIR] [--out F]

On the 800-image sample project (generated into a temporary folder by
:func:`workbench.core.synth.generate_project`, as the first run does; ``--project`` reuses one),
the tour runs, in one window with every panel of the registry:

1. open every panel for the first time (each dock shown in turn, after a pointer move: input,
   as a user picking it from the Panels menu makes);
2. File → Export dataset in every format (the dialogs answered by the script);
3. load a results folder in the Metrics panel and move the IoU control 6 times;
4. rename a class across the project (the Classes dock's Rename, answered by the script);
5. Ctrl+N (next unlabeled) over the whole folder;
6. switch 50 images with the D key, auto-detect on, the Detections panel in front (a small SSD
   checkpoint; no GPU);
7. the same 50 switches with the Detections panel tabbed behind another panel.

A ``QTimer`` ticks every 5 ms on the GUI thread; a step's stall is the longest gap between two
ticks while it runs (from the action's start until its result is on screen, and ``--settle-ms``
more: work left for later event-loop turns counts). The table gives the stall, the step's wall
time, the GUI thread's CPU time during the longest gap ("its cpu": much less than the stall
means the thread waited — for the GIL or, on a loaded machine, for a CPU) and over the whole
step ("gui cpu", the tour's own polling included); the last line is ``max stall N ms`` (goal:
under 100 ms). Results are appended to ``bench/results/gui_stalls_tour.txt`` with ``--save``.
``--profile`` explains every gap over 60 ms (the GUI thread's sampled stack, garbage
collections); ``--only`` runs parts of the tour.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TICK_MS = 5
WHY = "--why" in sys.argv
PROFILE = "--profile" in sys.argv
#: ``--profile``: gaps longer than this are explained (where the GUI thread's samples were)
GAP_MS = 60.0


class StallMeter:
    """Longest gap between ticks of a 5 ms timer on the GUI thread."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.worst = self.worst_cpu = 0.0
        self.last_cpu = time.thread_time()
        #: (start, end, GUI thread's CPU seconds) of the gaps over GAP_MS
        self.gaps: list[tuple[float, float, float]] = []
        self.timer.start()

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if now - self.last > self.worst:
            self.worst, self.worst_cpu = now - self.last, cpu - self.last_cpu
        if (now - self.last) * 1000 > GAP_MS:
            self.gaps.append((self.last, now, cpu - self.last_cpu))
        self.last, self.last_cpu = now, cpu

    def reset(self) -> None:
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        self.worst = self.worst_cpu = 0.0
        self.gaps = []

    def stall_ms(self) -> float:
        # a gap still open when the step ends counts too
        return max(self.worst, time.perf_counter() - self.last) * 1000


class Watchdog:
    """``--why``: print the GUI thread's stack (and the other threads' top frames) when a tick is
    more than ``limit_s`` late — what held the event loop."""

    def __init__(self, meter: StallMeter, limit_s: float = 0.1) -> None:
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


class Sampler:
    """``--profile``: samples the GUI thread's Python stack every millisecond (from a thread of
    its own, so only while it gets the GIL); after each step, :meth:`explain` shows for every
    gap of the :class:`StallMeter` longer than ``GAP_MS`` which functions the GUI thread was in
    (inclusive sample counts) — few samples over a long gap mean the GIL or the CPU was
    elsewhere (another thread, another process)."""

    def __init__(self) -> None:
        self.gui = threading.get_ident()
        self.samples: list[tuple[float, tuple, tuple]] = []
        self.me = 0
        self.collections: list[tuple[float, float, int, str]] = []  # start, end, generation, thread
        self._gc_start = 0.0
        import gc

        gc.callbacks.append(self._on_gc)
        threading.Thread(target=self._run, daemon=True, name="stall-sampler").start()

    def _run(self) -> None:
        self.me = threading.get_ident()
        while True:
            time.sleep(0.001)
            frames = sys._current_frames()
            stack = []
            frame = frames.get(self.gui)
            while frame is not None:
                stack.append((frame.f_code, frame.f_lineno))
                frame = frame.f_back
            others = tuple(_top(f) for tid, f in frames.items() if tid not in (self.gui, self.me))
            del frames, frame
            self.samples.append((time.perf_counter(), tuple(stack), others))

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif info.get("generation", 0) >= 1:
            self.collections.append((self._gc_start, time.perf_counter(), info["generation"],
                                     threading.current_thread().name))

    def reset(self) -> None:
        self.samples = []
        self.collections = []

    def explain(self, gaps: list[tuple[float, float, float]], top: int = 18) -> None:
        from collections import Counter

        samples = self.samples
        for start, end, cpu in sorted(gaps, key=lambda g: g[0] - g[1])[:3]:
            around = [(t, st, o) for t, st, o in samples if start - 0.02 <= t <= end + 0.02]
            inside = [st for t, st, _o in around if start <= t <= end]
            gcs = [f"gen{g} {(min(b, end) - max(a, start)) * 1000:.0f} ms on {who}"
                   for a, b, g, who in self.collections if a < end and b > start]
            print(f"    gap {(end - start) * 1000:.0f} ms: GUI thread CPU {cpu * 1000:.0f} ms, "
                  f"{len(inside)} samples" + (f"; gc: {', '.join(gcs)}" if gcs else ""),
                  flush=True)
            # the longest silence of the sampler (it needs the GIL too): who had it just after
            silent = max(zip(around, around[1:]), key=lambda ab: ab[1][0] - ab[0][0],
                         default=None)
            if silent is not None and silent[1][0] - silent[0][0] > 0.03:
                (t0, _s0, o0), (t1, _s1, o1) = silent
                print(f"      sampler silent {(t1 - t0) * 1000:.0f} ms; other threads after: "
                      + " | ".join(_where(top) for top in o1))
            inclusive: Counter = Counter()
            leaves: Counter = Counter()
            for stack in inside:
                seen = set()
                for code, _line in stack:
                    if code.co_filename == __file__ or code.co_filename.startswith("<frozen"):
                        continue  # the tour's own frames and the import machinery: in all
                    key = f"{Path(code.co_filename).name}:{code.co_firstlineno} {code.co_name}"
                    if key not in seen:
                        seen.add(key)
                        inclusive[key] += 1
                if stack:
                    code, line = stack[0]
                    leaves[f"{Path(code.co_filename).name}:{line} {code.co_name}"] += 1
            for key, n in inclusive.most_common(top):
                print(f"      {n:5d}  {key}")
            print("      leaves: " + "; ".join(f"{k} {n}" for k, n in leaves.most_common(6)))
            # the other threads running Python meanwhile (idle pool threads have no frame)
            busy: Counter = Counter()
            for t, _st, others in around:
                if start <= t <= end:
                    for frames in others:
                        if frames and not _idle(frames):
                            busy[_where(frames[:2])] += 1
            if busy:
                print("      other threads: " + "; ".join(f"{k} {n}"
                                                         for k, n in busy.most_common(5)))


def _top(frame, depth: int = 4) -> tuple:  # noqa: ANN001
    """(code, line) of a frame and of up to ``depth - 1`` callers (no frame objects kept: the
    samples must not keep frames alive, nor grow the collector's work)."""
    out = []
    while frame is not None and len(out) < depth:
        out.append((frame.f_code, frame.f_lineno))
        frame = frame.f_back
    return tuple(out)


#: leaf functions of a thread that waits (not a competitor for the GIL)
_IDLE = {"wait", "sleep", "_wait_for_tstate_lock", "get", "select", "poll", "_worker", "acquire"}


def _idle(top: tuple) -> bool:
    return top[0][0].co_name in _IDLE


def _where(top: tuple) -> str:
    """``file:line name`` of a frame and its callers, from :func:`_top`."""
    return " < ".join(f"{Path(code.co_filename).name}:{line} {code.co_name}" for code, line in top)


SAMPLER: Sampler | None = None
SETTLE_S = 0.0
#: the parts of the tour (``--only``)
GROUPS = ("panels", "export", "metrics", "rename", "ctrln", "switch")
ONLY: set[str] = set(GROUPS)
PANEL_FILTER: list[str] = []
#: ``--cprofile``: words of the step labels whose GUI-thread CPU is profiled
CPROFILE: list[str] = []


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
    if SAMPLER is not None:
        SAMPLER.reset()
    profiler = None
    if any(word in label.lower() for word in CPROFILE):
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # the GUI thread's CPU only
        profiler.enable()
    cpu0 = time.thread_time()
    QTimer.singleShot(0, go)
    ok = pump(lambda: bool(started) and done(), timeout_s)
    wall = time.perf_counter() - started[0] if started else float("nan")
    # what the step queued (repaints, widgets built in later event-loop turns) lands in it
    settle = time.perf_counter() + SETTLE_S
    pump(lambda: time.perf_counter() >= settle)
    cpu = time.thread_time() - cpu0
    if profiler is not None:
        profiler.disable()
    rows.append((label, meter.stall_ms(), wall, "" if ok else "TIMED OUT", meter.worst_cpu * 1000,
                 cpu))
    print(f"  {label:<52} {rows[-1][1]:8.0f} ms {wall:8.2f} s {rows[-1][4]:6.0f} ms "
          f"{cpu:6.2f} s {rows[-1][3]}", flush=True)
    if SAMPLER is not None:
        SAMPLER.explain(meter.gaps)
    if profiler is not None:
        print_profile(profiler)


def print_profile(profiler, top: int = 30) -> None:  # noqa: ANN001
    """``--cprofile``: the GUI thread's CPU by function (cumulative, the tour's own frames and
    Qt's event loop left out)."""
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"workbench|numpy|pyqtgraph", top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print("\n".join("      " + line for line in lines[start:] if line.strip()), flush=True)


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
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

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
    global SAMPLER
    if PROFILE:
        SAMPLER = Sampler()
    from workbench.gui.jobs import model_loader  # as run_gui does once the window is up

    model_loader().start_when_idle(window=window)
    rows: list = []
    print(f"  {'step':<52} {'stall':>11} {'wall':>10} {'its cpu':>9} {'gui cpu':>8}", flush=True)
    # as File > Open Folder, Open Recent, the welcome page and drag-and-drop open a folder while
    # the event loop runs: scanned on a worker (gui/opening.py), shown when the scan is done
    # (window.open_project called directly reads the folder and imports the decoder on the
    # GUI thread: start-up's small-folder path, before the event loop runs)
    step(meter, rows, "open the 800-image sample project",
         lambda: window.open_folder(project_dir / "images", project_dir / "annotations"),
         done=lambda: window.project is not None and not window.opener.busy)
    # Ctrl+N right away: the file states are not all known yet
    step(meter, rows, "Ctrl+N over the folder, just opened",
         lambda: QTest.keyClick(window.canvas, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier),
         done=lambda: not window.scanner._timer.isActive())

    # 1. every panel for the first time
    host = window.panel_host
    from workbench.gui.panels.registry import PANELS

    def pick(key: str, n: int) -> None:
        """As a user picking the panel from the Panels menu: the pointer moves over the window
        first (input, which holds back the idle-time import of torch:
        ModelLoader.start_when_idle; a triggered action alone is none), then the dock's toggle
        action."""
        QTest.mouseMove(window.canvas.viewport(), QPoint(40 + 7 * n, 40 + 5 * n))
        host.docks[key].toggleViewAction().trigger()

    for n, (module, cls, title) in enumerate(PANELS if "panels" in ONLY else []):
        if PANEL_FILTER and not any(w in title.lower() for w in PANEL_FILTER):
            continue
        key = f"{module}.{cls}"
        step(meter, rows, f"open panel {title}", lambda k=key, i=n: pick(k, i),
             done=lambda k=key: k in host.panels or k in host.errors, timeout_s=600)
    print(f"  models loaded in the background: {model_loader().done} "
          f"({model_loader().seconds or 0:.1f} s)")

    # 2. export every format (dialogs answered here)
    answers: list[str] = []
    dialogs.show_info = lambda *_a, **_k: answers.append("info")  # type: ignore[assignment]
    dialogs.show_error = lambda *a, **_k: answers.append(f"error {a[-1]}")  # type: ignore
    from workbench.gui import exporting

    for fmt, label in FORMATS if "export" in ONLY else []:
        choice = ExportChoice(fmt=fmt, out=work / f"export-{fmt}", overwrite=True)
        dialogs.choose_export = lambda *_a, c=choice, **_k: c  # type: ignore[assignment]
        n = len(answers)
        step(meter, rows, f"export {label}", lambda: exporting.export_dataset(window),
             done=lambda n=n: len(answers) > n)
    if any(a.startswith("error") for a in answers):
        print("  export errors:", [a for a in answers if a.startswith("error")])

    if "metrics" in ONLY:
        metrics_steps(window, work, meter, rows)
    if "rename" in ONLY:
        rename_step(window, meter, rows)
    if "ctrln" in ONLY:
        # 5. Ctrl+N over the folder (every image is labeled: the whole folder is scanned)
        window.show_row(0)
        step(meter, rows, "Ctrl+N over the folder",
             lambda: QTest.keyClick(window.canvas, Qt.Key.Key_N,
                                    Qt.KeyboardModifier.ControlModifier),
             done=lambda: not window.scanner._timer.isActive())
    if "switch" in ONLY:
        switch_steps(window, checkpoint, meter, rows)
    window.close()
    if SAMPLER is not None:
        __import__("gc").callbacks.remove(SAMPLER._on_gc)
    return rows


def metrics_steps(window, work: Path, meter: StallMeter, rows: list) -> None:  # noqa: ANN001
    """3. metrics: load a results folder, move the IoU control"""
    host = window.panel_host
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


def rename_step(window, meter: StallMeter, rows: list) -> None:  # noqa: ANN001
    """4. rename a class across the project (Classes dock, dialogs answered here)"""
    from workbench.gui import dialogs

    classes = window.classes
    old = classes.names()[0]
    new = f"{old}_renamed"
    dialogs.ask_text = lambda *_a, **_k: new  # type: ignore[assignment]
    dialogs.ask_yes_no = lambda *_a, **_k: True  # type: ignore[assignment]
    classes.select_name(old)
    step(meter, rows, f"rename class '{old}' across the project", classes.rename_clicked,
         done=lambda: new in classes.names())


def switch_steps(window, checkpoint: Path, meter: StallMeter, rows: list) -> None:  # noqa: ANN001
    """6. 50 image switches, auto-detect on, Detections in front; 7. the same, tabbed behind"""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QDockWidget

    host = window.panel_host
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

    def in_front() -> str:
        return ", ".join(type(p).__name__ for p in host.panels.values()
                         if p.isVisible() and not p.visibleRegion().isEmpty())

    print(f"  panels in front: {in_front()}")
    ran = det.detector.forward_images if hasattr(det.detector, "forward_images") else None
    step(meter, rows, "50 switches (D), auto-detect, Detections in front", switches,
         done=detections_idle)
    started = getattr(det, "detections_started", None)
    if ran is not None:  # submitted is not run: a detection waits while images flip by
        print(f"  the detector ran on {det.detector.forward_images - ran} images meanwhile "
              "(this panel's, and the Errors panel's evaluation: the same detector)")
    # 7. the same with the panel tabbed behind another one
    dock = next(d for d in window.findChildren(QDockWidget) if d.widget() is det
                or (d.widget() is not None and d.widget().isAncestorOf(det)))
    others = [d for d in window.tabifiedDockWidgets(dock) if not d.isHidden()]
    if others:
        others[0].raise_()
        pump(lambda: False, 0.1)
        print(f"  panels in front: {in_front()}")
        before = getattr(det, "detections_started", 0)
        step(meter, rows, "50 switches (D), Detections tabbed behind", switches,
             done=detections_idle)
        after = getattr(det, "detections_started", 0)
        print(f"  detections started: in front {started}, tabbed behind {after - before}")


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
    parser.add_argument("--profile", action="store_true",
                        help=f"after each step, where the GUI thread was (sampled every ms) "
                             f"during each gap over {GAP_MS:.0f} ms")
    parser.add_argument("--only", default=",".join(GROUPS),
                        help=f"comma-separated parts of the tour to run ({', '.join(GROUPS)}; "
                             "default: all); opening the project always runs")
    parser.add_argument("--panels", default="",
                        help="with 'panels': only the panels whose title contains one of these "
                             "comma-separated words (e.g. Metrics,Train)")
    parser.add_argument("--cprofile", default="",
                        help="comma-separated words: the steps whose label contains one get "
                             "the GUI thread's CPU profiled by function (cProfile, thread time)")
    parser.add_argument("--settle-ms", type=float, default=300.0,
                        help="keep measuring this long after a step's result is there (work "
                             "a step left for later event-loop turns counts in it)")
    args = parser.parse_args()
    global SETTLE_S
    SETTLE_S = args.settle_ms / 1000
    ONLY.clear()
    ONLY.update(g.strip() for g in args.only.split(",") if g.strip())
    unknown = ONLY - set(GROUPS)
    if unknown:
        parser.error(f"--only: unknown part(s) {sorted(unknown)}; choose from {GROUPS}")
    CPROFILE.extend(w.strip().lower() for w in args.cprofile.split(",") if w.strip())
    PANEL_FILTER.extend(w.strip().lower() for w in args.panels.split(",") if w.strip())
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
        checkpoint = make_checkpoint(work) if "switch" in ONLY else work
        t0 = time.perf_counter()
        rows = tour(project, work, checkpoint)
        worst = max(r[1] for r in rows)
        lines = [f"{'step':<52} {'stall ms':>9} {'wall s':>8} {'its cpu':>8} {'gui cpu s':>9}"]
        lines += [f"{label:<52} {stall:9.0f} {wall:8.2f} {stall_cpu:8.0f} {cpu:9.2f} {note}"
                  .rstrip() for label, stall, wall, note, stall_cpu, cpu in rows]
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
