"""Runs panel: GUI-thread cost of comparing long runs (issue 15's "nothing > 50 ms").

    OMP_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_runs_panel.py

Three generated runs of 300 epochs x 100 steps, 20 classes (metrics.jsonl as the trainer
writes it). Reading them is the worker's job (timed once); then, on the GUI thread, each
action 10 times (median / max ms):

* baseline — what the first version did on every change: clear both plots and re-plot every
  checked run with point symbols;
* now — curves kept between changes, symbols only up to RunsPlots.MAX_SYMBOLS points.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_runs(root: Path, runs: int = 3, epochs: int = 300, steps: int = 100) -> None:
    classes = [f"c{i}" for i in range(20)]
    for r in range(runs):
        rows = [{"type": "start", "model": "m", "classes": classes, "first_epoch": 1}]
        for e in range(1, epochs + 1):
            rows += [{"type": "step", "epoch": e, "step": s, "loss": 1.0 / e + r}
                     for s in range(steps)]
            ap = {c: 0.5 for c in classes}
            rows.append({"type": "epoch", "epoch": e, "map_voc07": 0.5, "map_voc": 0.4,
                         "ap_voc07": ap, "ap_voc": ap})
            rows.append({"type": "checkpoint", "epoch": e})
        folder = root / "runs" / f"run{r}"
        folder.mkdir(parents=True)
        (folder / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))


def main() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from workbench.gui.panels.runs import RunsPanel, read_runs
    from workbench.gui.panels.runs_plots import RunsPlots

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    write_runs(tmp)
    t = time.perf_counter()
    listing = read_runs(tmp)
    read_s = time.perf_counter() - t

    class Window:  # no project, no hub: the panel is fed the listing directly
        project = None
        hub = None

    def measure(baseline: bool) -> dict[str, list[float]]:
        panel = RunsPanel(Window())  # type: ignore[arg-type]
        panel.resize(380, 900)
        panel.show()
        if baseline:
            RunsPlots.MAX_SYMBOLS = 10**9
            original = panel.plots.show_runs

            def redraw_all(runs, metric="voc07"):  # noqa: ANN001, ANN202
                for plot in (panel.plots.loss_plot, panel.plots.map_plot):
                    plot.clear()
                panel.plots._items.clear()
                original(runs, metric)

            panel.plots.show_runs = redraw_all  # type: ignore[method-assign]
        panel._fill(listing)
        for i in range(3):
            panel.list.item(i).setCheckState(Qt.CheckState.Checked)
        app.processEvents()
        times: dict[str, list[float]] = {"uncheck a run": [], "check it again": [],
                                         "11-point <-> all-point": []}
        for _ in range(10):
            for label, act in (
                    ("uncheck a run", lambda: panel.list.item(1).setCheckState(
                        Qt.CheckState.Unchecked)),
                    ("check it again", lambda: panel.list.item(1).setCheckState(
                        Qt.CheckState.Checked)),
                    ("11-point <-> all-point", lambda: panel.metric_box.setCurrentIndex(
                        1 - panel.metric_box.currentIndex()))):
                t = time.perf_counter()
                act()
                app.processEvents()
                times[label].append((time.perf_counter() - t) * 1000)
        RunsPlots.MAX_SYMBOLS = 60
        panel.close()
        return times

    base, now = measure(True), measure(False)
    print(f"3 runs x 300 epochs x 100 steps, 20 classes; reading them (worker): {read_s:.2f} s")
    print("| action (GUI thread) | baseline median / max ms | now median / max ms | ratio |")
    print("|---|---:|---:|---:|")
    for label in base:
        b, n = sorted(base[label]), sorted(now[label])
        print(f"| {label} | {b[5]:.1f} / {b[-1]:.1f} | {n[5]:.1f} / {n[-1]:.1f} | "
              f"{b[5] / n[5]:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
