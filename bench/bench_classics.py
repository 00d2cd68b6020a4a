"""The classics (R-CNN, Fast R-CNN on selective search) next to SSDlite and Faster R-CNN 320.

    .venv/bin/python bench/bench_classics.py [--minutes 3] [--threads 2] [--steps-per-epoch 20]
        [--models rcnn_ss,fast_rcnn_ss,ssdlite320_mobilenet_v3_large,
                  fasterrcnn_mobilenet_v3_large_320_fpn] [--cache DIR] [--images N]

``--images N`` keeps the first N training photos and N/4 (at least 4) val photos (quick checks).

Every model trains **from scratch** on the raccoon photos (``../shared/datasets/raccoon``,
160/40 split written to a temporary folder; the dataset is never modified) through
:func:`workbench.engine.trainer.train` — the generator the CLI and the Train button run — with
its own catalog recipe, under the **same CPU budget** of ``--minutes`` CPU-minutes of
training steps (``time.process_time`` of this process, all its threads: on a shared machine
wall-clock time moves with the other jobs' load, CPU time much less):

1. a 5-step calibration run (no validation) measures the model's CPU seconds per step (steps
   3..5);
2. the real run gets ``epochs = budget / (steps-per-epoch x step CPU time)`` epochs of
   ``--steps-per-epoch`` steps (``--max-steps-per-epoch``; the cosine schedule spans them) and
   evaluates once, after the last epoch (VOC mAP@0.5 on the 40 val photos, precise BN as
   usual). The CPU minutes it really took are printed with the results.

Selective search runs first, once per photo and per mirrored training photo (the classics'
"flip" recipe), into the proposal cache (``--cache``, default a folder under /tmp kept between
runs; what it costs is printed, cold); training and evaluation then read the cache, and the
script counts the selective-search runs that still happen (should be 0). Reported per model:
val mAP (VOC2010+ all-point and VOC07 11-point), training seconds per image (median step time
/ batch size, first 3 steps left out), inference seconds per image (the evaluation's time /
images, batch = the recipe's, proposals cached) and, for the classics, the same plus the mean
cold selective-search time per photo (what a new photo costs), and the ratios to SSDlite
measured in the same run. The machine is shared (2 cores, several other jobs): the absolute
numbers move with its load; the ratios of one run are the comparison.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RACCOON = ROOT.parent / "shared" / "datasets" / "raccoon"
DEFAULT_MODELS = ("rcnn_ss", "fast_rcnn_ss", "ssdlite320_mobilenet_v3_large",
                  "fasterrcnn_mobilenet_v3_large_320_fpn")
BASELINE = "ssdlite320_mobilenet_v3_large"
CLASSICS = ("rcnn_ss", "fast_rcnn_ss")


class SearchCounter:
    """Counts selective-search runs made through the proposal cache."""

    def __init__(self) -> None:
        from workbench.core import proposal_cache

        self.runs = 0
        self.module = proposal_cache
        self.real = proposal_cache.selective_search

        def counting(*args, **kwargs):  # noqa: ANN202
            self.runs += 1
            return self.real(*args, **kwargs)

        proposal_cache.selective_search = counting


def prepass(data, cache_dir: Path) -> dict[str, float]:  # noqa: ANN001
    """Selective search for every val photo and every train photo and its mirror, through the
    classics' own :class:`ProposalSource` (same pixels, same key as training will use)."""
    import numpy as np

    from workbench.engine.classic_base import ProposalSource, to_bgr_uint8
    from workbench.engine.dataset import read_image_rgb, to_tensor

    source = ProposalSource(cache_dir=str(cache_dir))
    seconds, counts = [], []
    t0 = time.perf_counter()
    jobs = [(r, False) for r in data.val] + [(r, f) for r in data.train for f in (False, True)]
    for record, flip in jobs:
        image = read_image_rgb(record.image_path)
        if flip:
            image = np.ascontiguousarray(image[:, ::-1])
        result, cached = source.cache.proposals(to_bgr_uint8(to_tensor(image)), source.params)
        if not flip:
            seconds.append(result.seconds)
            counts.append(result.count)
    wall = time.perf_counter() - t0
    return {"images": len(jobs), "wall_s": wall, "hits": source.cache.hits,
            "misses": source.cache.misses, "ss_s_per_photo": statistics.mean(seconds),
            "proposals_per_photo": statistics.mean(counts)}


def _config(model: str, data_root: Path, overrides: dict):  # noqa: ANN202
    from workbench.core.models import get_model
    from workbench.engine.config import TrainConfig

    recipe = get_model(model).full_recipe()
    recipe.pop("model", None)
    recipe.update(overrides)
    return TrainConfig(images_dir=data_root, device="cpu", seed=0, model=model, **recipe)


def calibrate(model: str, data_root: Path, data) -> float:  # noqa: ANN001
    """Median CPU seconds of training steps 3..5 (no validation)."""
    from workbench.engine.events import StepLogged
    from workbench.engine.snapshot import DataSnapshot
    from workbench.engine.trainer import train

    config = _config(model, data_root, {"epochs": 1, "max_steps_per_epoch": 5,
                                        "warmup_steps": 0})
    times, last = [], None
    for event in train(config, DataSnapshot(data.classes, data.train, ())):
        if isinstance(event, StepLogged):
            now = time.process_time()
            if last is not None:
                times.append(now - last)
            last = now
    return statistics.median(times[1:])


def run_one(model: str, data_root: Path, data, budget_s: float,  # noqa: ANN001
            steps_per_epoch: int, step_s: float) -> dict:
    from workbench.engine.events import EpochEvaluated, Finished, RunStarted, StepLogged
    from workbench.engine.trainer import train

    epochs = max(1, round(budget_s / (steps_per_epoch * step_s)))
    config = _config(model, data_root, {"epochs": epochs, "max_steps_per_epoch": steps_per_epoch,
                                        "eval_every": epochs})
    row: dict = {"model": model, "epochs": epochs, "batch": config.batch_size}
    step_times: list[float] = []
    t0 = c0 = train_s = train_cpu = 0.0
    last = 0.0
    for event in train(config, data):
        now = time.perf_counter()
        if isinstance(event, RunStarted):
            t0, c0 = now, time.process_time()
            last = c0
            print(f"# {model}: {event.num_train} train / {event.num_val} val, {epochs} epochs x "
                  f"{event.steps_per_epoch} steps, batch {config.batch_size}, "
                  f"calibrated {step_s:.2f} CPU s/step", flush=True)
        elif isinstance(event, StepLogged):
            cpu = time.process_time()
            step_times.append((cpu - last) / config.batch_size)  # CPU s per image
            last = cpu
            row["steps"] = event.global_step
            train_s, train_cpu = now - t0, cpu - c0
        elif isinstance(event, EpochEvaluated):
            row.update(map_voc=event.map_voc, map_voc07=event.map_voc07,
                       infer_s=event.eval_s / max(1, event.num_val_images),
                       train_loss=event.train_loss)
            last = time.process_time()
        elif isinstance(event, Finished):
            row["stopped"] = event.stopped
    row["train_min"], row["train_cpu_min"] = train_s / 60, train_cpu / 60
    row["train_s_per_image"] = statistics.median(step_times[3:] or step_times)
    print(f"# {model}: {row.get('steps')} steps in {row['train_cpu_min']:.1f} CPU-min "
          f"({row['train_min']:.1f} wall min incl. the evaluation), mAP "
          f"{row.get('map_voc', math.nan):.3f}", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="CPU-minutes per model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=20)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument("--images", type=int, help="training photos kept (quick runs)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "workbench-bench-proposals")
    args = parser.parse_args(argv)
    if not (RACCOON / "images").is_dir():
        print(f"no raccoon dataset at {RACCOON}", file=sys.stderr)
        return 2
    os.environ["WORKBENCH_PROPOSAL_CACHE"] = str(args.cache)
    import torch

    from workbench.engine.snapshot import take_snapshot

    torch.set_num_threads(args.threads)
    models = [m for m in args.models.split(",") if m]
    counter = SearchCounter()
    with tempfile.TemporaryDirectory() as tmp:
        data = take_snapshot(RACCOON, val_fraction=0.2, seed=0, split_dir=Path(tmp) / "split")
        if args.images:
            from workbench.engine.snapshot import DataSnapshot

            data = DataSnapshot(data.classes, data.train[:args.images],
                                data.val[:max(4, args.images // 4)])
        print(f"# raccoon: {len(data.train)} train / {len(data.val)} val, {args.threads} torch "
              f"threads, budget {args.minutes:g} CPU-min of training per model, "
              f"from scratch, CPU", flush=True)
        pre = prepass(data, args.cache)
        print(f"# selective search (ProposalParams defaults): {pre['misses']} photos searched, "
              f"{pre['hits']} already cached, {pre['wall_s']:.0f} s; cold "
              f"{pre['ss_s_per_photo']:.2f} s and {pre['proposals_per_photo']:.0f} proposals "
              f"per photo", flush=True)
        before = counter.runs
        rows = {}
        for model in models:
            step_s = calibrate(model, RACCOON, data)
            rows[model] = run_one(model, RACCOON, data, args.minutes * 60, args.steps_per_epoch,
                                  step_s)
        during = counter.runs - before
    print()
    print(f"Raccoon, val mAP@0.5 after {args.minutes:g} CPU-min of training each (from "
          f"scratch, {args.threads} CPU threads, shared 2-core machine); seconds are CPU "
          f"seconds for training, wall seconds for inference; ratios vs {BASELINE}")
    print()
    base = rows.get(BASELINE)
    print("| model | steps | CPU-min | val mAP (VOC07) | train CPU s/img | infer s/img | "
          "+ sel. search s/img | train x | infer x |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, r in rows.items():
        total = r.get("infer_s", math.nan) + (pre["ss_s_per_photo"] if model in CLASSICS
                                              else 0.0)
        tx = r["train_s_per_image"] / base["train_s_per_image"] if base else math.nan
        ix = total / base["infer_s"] if base and base.get("infer_s") else math.nan
        ss = f"{total:.3f}" if model in CLASSICS else "-"
        print(f"| `{model}` | {r.get('steps', 0)} | {r['train_cpu_min']:.1f} | "
              f"{r.get('map_voc', math.nan):.3f} "
              f"({r.get('map_voc07', math.nan):.3f}) | {r['train_s_per_image']:.3f} | "
              f"{r.get('infer_s', math.nan):.3f} | {ss} | {tx:.2f} | {ix:.2f} |")
    print()
    print(f"selective-search runs during training and evaluation: {during} (proposal cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
