"""Training benchmarks: loop overhead, GUI responsiveness while training, a CPU run on raccoon.

    .venv/bin/python bench/bench_train.py [--data DIR] [--threads N] [--skip-gui] [--skip-run]
                                          [--trace-stalls FILE]

1. **Loop throughput** — images/s of :func:`workbench.engine.trainer.train` vs a minimal plain
   torchvision loop (``loss = sum(model(images, targets).values()); backward; step``) on the same
   model, data (same records, transform, no decoded-image cache in either) and device, measured
   in the same process, alternating A/B/A/B; the first steps of each measurement are excluded.
   Goal: ratio >= 0.95.
2. **GUI stall** — the Train dock in a real MainWindow trains on a QThread while a 5 ms QTimer
   measures the gaps of the GUI event loop. Goal: longest gap < 50 ms.
3. **CPU run on raccoon** — ``train()`` on a temporary copy of the raccoon folder (the split is
   written there, never into the shared dataset); prints the mAP curve per epoch.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from workbench.engine.config import TrainConfig  # noqa: E402
from workbench.engine.events import EpochEvaluated, Finished, RunStarted, StepLogged  # noqa: E402

RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"


def copy_dataset(src: Path, dst: Path) -> Path:
    """Copy images/ + annotations/ (the run writes ImageSets/Main into the copy)."""
    for sub in ("images", "annotations"):
        shutil.copytree(src / sub, dst / sub)
    return dst


# -- 1. loop throughput -------------------------------------------------------------------------
def plain_loop(model: torch.nn.Module, dataset: object, batch_size: int, steps: int,
               lr: float) -> list[tuple[float, int]]:
    """The minimal torchvision training loop; returns (seconds, images) per step."""
    from workbench.engine.dataset import collate

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                         collate_fn=collate, drop_last=True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=4e-5)
    model.train()
    out: list[tuple[float, int]] = []
    tick = time.perf_counter()
    while len(out) < steps:
        for _, images, targets, _ in loader:
            loss = sum(model(images, targets).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            now = time.perf_counter()
            out.append((now - tick, len(images)))
            tick = now
            if len(out) >= steps:
                break
    return out


def our_loop(config: TrainConfig, data: object, steps: int) -> list[tuple[float, int]]:
    from workbench.engine.trainer import train

    cfg = config.replace(epochs=10_000, max_steps_per_epoch=steps, out_dir=None)
    out: list[tuple[float, int]] = []
    last = None
    for event in train(cfg, data):
        if isinstance(event, StepLogged):
            now = time.perf_counter()
            if last is not None:
                out.append((now - last, config.batch_size))
            last = now
            if len(out) >= steps:
                break
    return out


def bench_loop(data_dir: Path, model_name: str, size: int, batch: int, steps: int,
               rounds: int) -> list[tuple[str, float, float]]:
    from workbench.engine.dataset import DetectionDataset
    from workbench.engine.detectors import build_detector
    from workbench.engine.snapshot import DataSnapshot, take_snapshot
    from workbench.engine.transforms import train_transform

    # a split in a throw-away folder: the other sections keep the default 80/20 split
    snap = take_snapshot(data_dir, val_fraction=0.0,
                         split_dir=Path(tempfile.mkdtemp(prefix="bench_split_")))
    data = DataSnapshot(snap.classes, snap.train, ())
    config = TrainConfig(images_dir=data_dir, model=model_name, image_size=size,
                         batch_size=batch, augment=False, warmup_steps=1, cache_images=False,
                         lr=0.01, schedule="constant")
    torch.manual_seed(0)
    model, _ = build_detector(model_name, len(data.classes) + 1, image_size=size)
    dataset = DetectionDataset(data.train, data.classes,
                               train_transform("ssd" if "ssd" in model_name else "fasterrcnn",
                                               size, augment=False), cache=False)
    skip = 3
    ours, plain = [], []
    for _ in range(rounds):
        p = plain_loop(model, dataset, batch, steps + skip, 0.01)[skip:]
        plain.append(sum(n for _, n in p) / sum(t for t, _ in p))
        o = our_loop(config, data, steps + skip)[skip:]
        ours.append(sum(n for _, n in o) / sum(t for t, _ in o))
    return [("plain torchvision loop", statistics.median(plain), 1.0),
            ("workbench train()", statistics.median(ours),
             statistics.median(ours) / statistics.median(plain))]


# -- 2. GUI stall -------------------------------------------------------------------------------
def bench_gui(data_dir: Path, epochs: int, size: int, batch: int,
              trace: Path | None = None) -> dict[str, float]:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.gui.main_window import MainWindow
    from workbench.gui.panels.training import TrainingPanel
    from workbench.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="bench_gui_"))
    window = MainWindow(Settings(tmp / "s.ini"), panels=[])
    window.resize(1400, 900)
    window.show()
    window.open_project(data_dir)
    panel = TrainingPanel(window)
    panel.resize(520, 900)
    panel.show()
    panel.epochs.setValue(epochs)
    panel.batch.setValue(batch)
    panel.image_size.setValue(size)
    # As a user sees it before pressing Start: the window painted once and the file-state scan
    # done (without this, the first paint of the window and plots — 60 ms — was counted as a
    # stall caused by training).
    settle = time.perf_counter() + 1.0
    while time.perf_counter() < settle or window.scanner.running:
        app.processEvents()
        time.sleep(0.005)
    gaps: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(5)

    marks: list[tuple[float, str]] = []
    t_start = [0.0]

    # --trace-stalls: faulthandler's watchdog is a C thread that needs no GIL; re-armed at every
    # tick, it writes every Python thread's stack when the GUI thread misses ticks for 35 ms —
    # where the GUI thread was (a slot, or waiting for the GIL) and what the worker was doing.
    trace_file = open(trace, "w") if trace is not None else None  # noqa: SIM115

    def tick() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        clock.restart()
        if trace_file is not None:
            faulthandler.cancel_dump_traceback_later()
            trace_file.write(f"--- tick {time.perf_counter() - t_start[0]:.3f} s "
                             f"gap {gaps[-1]:.1f} ms\n")
            trace_file.flush()
            faulthandler.dump_traceback_later(0.035, file=trace_file)
        if gaps[-1] > 50:
            marks.append((time.perf_counter() - t_start[0] - gaps[-1] / 1e3,
                          f"gap {gaps[-1]:.0f} ms"))

    def mark(name: str):  # noqa: ANN202
        return lambda *a: marks.append((time.perf_counter() - t_start[0], name))

    for name in ("run_started", "epoch_evaluated", "checkpoint_saved", "preview_ready",
                 "training_finished"):
        getattr(panel.bridge, name).connect(mark(name))

    timer.timeout.connect(tick)
    loop = QEventLoop()
    panel.bridge.running_changed.connect(lambda running: None if running else loop.quit())
    steps: list[int] = []
    panel.bridge.steps_logged.connect(lambda events: steps.append(len(events)))
    t0 = time.perf_counter()
    t_start[0] = t0
    clock.start()
    timer.start()
    marks.append((0.0, "Start pressed"))
    panel.start()
    marks.append((time.perf_counter() - t0, "start() returned"))
    loop.exec()
    timer.stop()
    if trace_file is not None:
        faulthandler.cancel_dump_traceback_later()
        trace_file.close()
    elapsed = time.perf_counter() - t0
    panel.grab().save(str(Path(tempfile.gettempdir()) / "bench_train_panel.png"))
    window.grab().save(str(Path(tempfile.gettempdir()) / "bench_train_window.png"))
    g = np.asarray(gaps[1:])
    for t, what in sorted(marks):
        print(f"    {t:8.2f} s  {what}", file=sys.stderr)
    return {"seconds": elapsed, "ticks": len(g), "steps": sum(steps),
            "signals": len(steps), "max_gap_ms": float(g.max()),
            "p99_gap_ms": float(np.percentile(g, 99)), "median_gap_ms": float(np.median(g))}


# -- 3. raccoon run -----------------------------------------------------------------------------
def bench_run(data_dir: Path, model_name: str, size: int, batch: int, epochs: int,
              lr: float | None, out: Path) -> tuple[list[tuple], dict]:
    from workbench.engine.trainer import train

    cfg = TrainConfig(images_dir=data_dir, model=model_name, image_size=size, batch_size=batch,
                      epochs=epochs, lr=lr, out_dir=out, warmup_steps=50)
    rows, info = [], {}
    t0 = time.perf_counter()
    for event in train(cfg):
        if isinstance(event, RunStarted):
            info.update(train=event.num_train, val=event.num_val, steps=event.steps_per_epoch,
                        device=event.device)
        elif isinstance(event, EpochEvaluated):
            rows.append((event.epoch + 1, event.train_loss, event.map_voc07, event.map_voc,
                         time.perf_counter() - t0))
            print(f"  epoch {event.epoch + 1}: loss {event.train_loss:.3f} "
                  f"mAP07 {event.map_voc07:.4f} mAP {event.map_voc:.4f}", flush=True)
        elif isinstance(event, Finished):
            info["elapsed"] = event.elapsed_s
    return rows, info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=RACCOON)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="ssdlite320_mobilenet_v3_large")
    ap.add_argument("--loop-size", type=int, default=320)
    ap.add_argument("--loop-steps", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--run-epochs", type=int, default=12)
    ap.add_argument("--run-size", type=int, default=256)
    ap.add_argument("--run-lr", type=float, default=0.05)
    ap.add_argument("--skip-loop", action="store_true")
    ap.add_argument("--skip-gui", action="store_true")
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--trace-stalls", type=Path, metavar="FILE",
                    help="write all thread stacks to FILE whenever the GUI misses ticks for 35 ms")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.data / "images").is_dir():
        print(f"no dataset at {args.data}", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    data = copy_dataset(args.data, tmp / "data")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {args.data}")
    if not args.skip_loop:
        rows = bench_loop(data, args.model, args.loop_size, 4, args.loop_steps, args.rounds)
        print(f"\n## Loop throughput ({args.model}, {args.loop_size} px, batch 4, CPU, "
              f"median of {args.rounds} rounds x {args.loop_steps} steps)\n")
        print("| loop | images/s | ratio vs plain |\n| --- | ---: | ---: |")
        for name, ips, ratio in rows:
            print(f"| {name} | {ips:.2f} | {ratio:.3f} |")
    if not args.skip_gui:
        g = bench_gui(data, 1, 256, 4, args.trace_stalls)
        print("\n## GUI event loop while training (Train dock, 1 epoch, 256 px, batch 4)\n")
        print("| training s | steps | step signals | 5 ms ticks | median gap ms | p99 gap ms | "
              "max gap ms |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        print(f"| {g['seconds']:.1f} | {g['steps']} | {g['signals']} | {g['ticks']} | "
              f"{g['median_gap_ms']:.1f} | {g['p99_gap_ms']:.1f} | {g['max_gap_ms']:.1f} |")
    if not args.skip_run:
        print(f"\n## CPU run on raccoon ({args.model}, {args.run_size} px, batch 8, "
              f"{args.run_epochs} epochs, lr {args.run_lr}, from scratch)\n", flush=True)
        rows, info = bench_run(data, args.model, args.run_size, 8, args.run_epochs,
                               args.run_lr, tmp / "run")
        print(f"\n{info.get('train')} train / {info.get('val')} val images, "
              f"{info.get('steps')} steps per epoch, {info.get('elapsed', 0):.0f} s total\n")
        print("| epoch | train loss | mAP VOC07 (11-pt) | mAP VOC (all-pt) | elapsed s |\n"
              "| ---: | ---: | ---: | ---: | ---: |")
        for epoch, loss, m07, m10, t in rows:
            print(f"| {epoch} | {loss:.3f} | {m07:.4f} | {m10:.4f} | {t:.0f} |")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
