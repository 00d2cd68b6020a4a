"""The CPU demo detector: val mAP vs minutes, trained from scratch with the real trainer.

    .venv/bin/python bench/bench_demo.py [--minutes 10] [--clock wall|cpu] [--threads 2]
        [--models demo_ssdlite_cpu,ssdlite320_mobilenet_v3_large] [--dataset sample|raccoon]
        [--images 240] [--epochs N] [--json OUT.json]

Trains each model in turn with :data:`workbench.engine.demo_model.RECIPE` (only the model name
changes), through :func:`workbench.engine.trainer.train` — the generator the GUI's Train button
runs — evaluating VOC mAP@0.5 on the val split after every epoch. A run stops at its last epoch
or when ``--minutes`` have passed: wall-clock minutes, or with ``--clock cpu`` the process's CPU
minutes (``time.process_time``; with ``--threads 1`` one CPU-minute is a minute of one core,
whatever else the machine runs). The first model is the demo recipe; the others
are baselines measured in the same run (default: torchvision's stock SSDlite320 MobileNetV3
from scratch with the same recipe). Prints mAP (VOC2010+ all-point) at each minute mark and the
ratio to the first baseline.

``--dataset sample`` generates the sample project (``workbench demo``, seed 0) in a temporary
folder; ``--dataset raccoon`` uses ``../shared/datasets/raccoon`` (160/40 split written to a
temporary folder; the dataset is never modified).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"


def run_one(model: str, data_root: Path, data, minutes: float, epochs: int | None,  # noqa: ANN001
            out_dir: Path, overrides: dict, clock: str = "wall") -> list[dict]:
    """Train ``model`` on the snapshot ``data``; one row per evaluated epoch."""
    from workbench.engine.config import TrainConfig
    from workbench.engine.demo_model import RECIPE
    from workbench.engine.events import EpochEvaluated, Finished, RunStarted, StepLogged
    from workbench.engine.trainer import train

    recipe = {**RECIPE, **overrides, "model": model}
    if epochs is not None:
        recipe["epochs"] = epochs
    config = TrainConfig(images_dir=data_root, out_dir=out_dir, device="cpu", seed=0, **recipe)
    stop = threading.Event()
    rows: list[dict] = []
    t0 = c0 = None
    for event in train(config, data, stop):
        now = time.perf_counter()
        if isinstance(event, RunStarted):
            t0, c0 = now, time.process_time()
            print(f"# {model}: {event.num_train} train / {event.num_val} val images, "
                  f"{event.epochs} epochs x {event.steps_per_epoch} steps, {event.device}",
                  flush=True)
        elif isinstance(event, StepLogged):
            spent = now - t0 if clock == "wall" else time.process_time() - c0
            if spent > minutes * 60:
                stop.set()
        elif isinstance(event, EpochEvaluated):
            row = {"model": model, "epoch": event.epoch + 1, "minutes": (now - t0) / 60,
                   "cpu_minutes": (time.process_time() - c0) / 60, "map_voc": event.map_voc,
                   "map_voc07": event.map_voc07, "train_loss": event.train_loss,
                   "ap_voc": event.ap_voc}
            rows.append(row)
            print(f"  epoch {row['epoch']:3d}  {row['minutes']:6.2f} min  "
                  f"({row['cpu_minutes']:6.2f} CPU-min)  "
                  f"mAP {row['map_voc']:.3f} (VOC07 {row['map_voc07']:.3f})  "
                  f"loss {row['train_loss']:.3f}", flush=True)
        elif isinstance(event, Finished):
            print(f"# {model}: {'stopped' if event.stopped else 'finished'} after "
                  f"{event.epochs_completed} epochs, {event.elapsed_s / 60:.1f} min", flush=True)
    return rows


def mean_box_baseline(data) -> dict[str, float]:  # noqa: ANN001
    """Val mAP of a detector that never looks at the image: per class, the mean training box
    (centre and size relative to the image), once per val image with score 1.

    One-class photo sets whose objects fill the frame (raccoon) score high on mAP@0.5 this way;
    a trained model's number means something only above this one.
    """
    import numpy as np

    from workbench.core.detections import ImageDetections
    from workbench.engine.evaluate import score

    rel: dict[str, list[np.ndarray]] = {}
    for r in data.train:
        if not (r.width and r.height):
            continue
        scale = np.array([r.width, r.height, r.width, r.height], np.float64)
        for box, name in zip(r.boxes, r.names):
            rel.setdefault(str(name), []).append(np.asarray(box, np.float64) / scale)
    mean = {name: np.mean(boxes, axis=0) for name, boxes in rel.items()}
    dets = []
    for r in data.val:
        scale = np.array([r.width, r.height, r.width, r.height], np.float64)
        names = [n for n in data.classes if n in mean]
        dets.append(ImageDetections(r.image_id, np.array([mean[n] * scale for n in names]),
                                    np.ones(len(names)), np.array(names)))
    map07, map10, _, _ = score(data.val, dets, data.classes)
    return {"map_voc": map10, "map_voc07": map07}


def at_minute(rows: list[dict], minute: float, key: str = "minutes") -> float:
    """The latest val mAP evaluated at or before ``minute`` (NaN before the first)."""
    done = [r["map_voc"] for r in rows if r[key] <= minute + 1e-9]
    return done[-1] if done else math.nan


def first_reaching(rows: list[dict], level: float, key: str = "minutes") -> str:
    hit = [r[key] for r in rows if r["map_voc"] >= level]
    return f"{hit[0]:.1f}" if hit else "—"


def table(results: dict[str, list[dict]], minutes: float, key: str = "minutes") -> str:
    models = list(results)
    last = max((r[key] for rows in results.values() for r in rows), default=0.0)
    end = min(minutes, last)
    step = 1 if end <= 15 else 5
    marks: list[float] = list(range(step, int(end) + 1, step))
    if not marks or end > marks[-1] + 1e-9:
        marks.append(end)
    head = f"| {'minutes' if key == 'minutes' else 'CPU-minutes'} | " + " | ".join(f"{m} mAP" for m in models)
    if len(models) > 1:
        head += f" | ratio {models[0]} / {models[1]}"
    lines = [head + " |", "|" + "---|" * (head.count("|"))]
    for mark in marks:
        vals = [at_minute(results[m], mark, key) for m in models]
        cells = ["—" if math.isnan(v) else f"{v:.3f}" for v in vals]
        line = f"| {mark:.4g} | " + " | ".join(cells)
        if len(models) > 1:
            a, b = vals[0], vals[1]
            line += " | " + (f"{a / b:.2f}×" if b and not math.isnan(a) and not math.isnan(b)
                             and b > 0 else "—")
        lines.append(line + " |")
    lines.append("")
    lines.append("| model | epochs | best mAP | final mAP | final VOC07 | min to 0.5 | min to 0.8 "
                 "| min to 0.9 |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for m, rows in results.items():
        if not rows:
            continue
        best = max(r["map_voc"] for r in rows)
        lines.append(f"| {m} | {rows[-1]['epoch']} | {best:.3f} | {rows[-1]['map_voc']:.3f} | "
                     f"{rows[-1]['map_voc07']:.3f} | {first_reaching(rows, 0.5, key)} | "
                     f"{first_reaching(rows, 0.8, key)} | {first_reaching(rows, 0.9, key)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="what --minutes counts: wall-clock or this process's CPU time")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="demo_ssdlite_cpu,ssdlite320_mobilenet_v3_large")
    parser.add_argument("--dataset", choices=("sample", "raccoon"), default="sample")
    parser.add_argument("--images", type=int, default=None, help="sample project size")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe setting (e.g. --set lr=0.005)")
    parser.add_argument("--family", default=None,
                        help="train with another family's augmentation (e.g. ssd: SSD's "
                        "photometric / zoom-out / IoU-crop / flip)")
    parser.add_argument("--json", type=Path, default=None, help="write all rows here")
    args = parser.parse_args()

    import torch

    from workbench.core.synth import DEFAULT_IMAGES, generate_project
    from workbench.engine.snapshot import take_snapshot

    torch.set_num_threads(args.threads)
    if args.family:
        import dataclasses

        from workbench.engine.detectors import get_spec, register_detector

        for name in args.models.split(","):
            register_detector(dataclasses.replace(get_spec(name), family=args.family))
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        tmp_path = Path(tmp)
        if args.dataset == "sample":
            t = time.perf_counter()
            sample = generate_project(tmp_path / "sample", args.images or DEFAULT_IMAGES, seed=0)
            print(f"# sample project: {len(sample.train_ids)} train / {len(sample.val_ids)} val "
                  f"images generated in {time.perf_counter() - t:.1f} s", flush=True)
            data_root = sample.root
            data = take_snapshot(data_root)
        else:
            if not (RACCOON / "images").is_dir():
                print(f"no raccoon dataset at {RACCOON}", file=sys.stderr)
                return 2
            data_root = RACCOON
            data = take_snapshot(RACCOON, val_fraction=0.2, seed=0,
                                 split_dir=tmp_path / "split")
        print(f"# {args.dataset}: {len(data.train)} train / {len(data.val)} val, classes "
              f"{list(data.classes)}, {args.threads} threads, budget {args.minutes:g} {args.clock} min",
              flush=True)
        baseline = mean_box_baseline(data)
        print(f"# baseline without looking at the image (mean training box per class, score 1):"
              f" val mAP {baseline['map_voc']:.3f} (VOC07 {baseline['map_voc07']:.3f})",
              flush=True)
        results = {}
        for i, model in enumerate(m for m in args.models.split(",") if m):
            results[model] = run_one(model, data_root, data, args.minutes, args.epochs,
                                     tmp_path / f"run{i}", overrides, args.clock)
    print()
    key = "minutes" if args.clock == "wall" else "cpu_minutes"
    print(f"Val mAP@0.5 (VOC all-point) vs {'wall-clock' if key == 'minutes' else 'CPU'} "
          f"minutes, {args.dataset}, from scratch, "
          f"{args.threads} CPU threads")
    print()
    print(table(results, args.minutes, key))
    print(f"\nmean-box baseline (never looks at the image): mAP {baseline['map_voc']:.3f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"baseline": baseline, **results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
