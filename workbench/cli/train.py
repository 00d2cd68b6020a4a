"""``workbench train``: train a detector on a labeled folder, headless.

    workbench train IMAGES_DIR [--annotations DIR] --model NAME --epochs N --batch-size B
                    [--lr LR] [--image-size N] [--device auto|cpu|cuda|mps]
                    [--weights coco|imagenet|FILE|hub]
                    [--resume CKPT] --out RUN_DIR

Shows a progress bar with ETA and one line per epoch; writes ``RUN_DIR/metrics.jsonl``,
``RUN_DIR/last.pt`` and ``RUN_DIR/best.pt``. Exit status 0 when the run completes, 1 on a
fault (the message names the cause), 2 when asked-for pretrained weights could not be
downloaded (one line says why and what to do instead), 130 when stopped with Ctrl+C (the
current step finishes, ``last.pt`` holds the last completed epoch). The same command runs under
``torchrun --nproc-per-node N -m workbench train ...`` with DistributedDataParallel.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from workbench.core.models import DEFAULT_MODEL, DEFAULT_RECIPE, trainable_names
from workbench.engine.events import fmt_count, fmt_duration

MODEL_NAMES = trainable_names()  # the model catalog's (workbench.core.models)
#: Defaults of the options a model's recipe may set (see ``ModelEntry.recipe``): an option
#: given on the command line wins, then the recipe, then these.
RECIPE_DEFAULTS: dict[str, Any] = dict(DEFAULT_RECIPE)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train SSD / Faster R-CNN on a labeled folder",
        description="Train a detector on IMAGES_DIR's VOC labels; the split is read from (or "
        "written to) ImageSets/Main/train.txt and val.txt beside the annotations. Models: "
        + ", ".join(MODEL_NAMES) + ". Options left out come from the model's recipe where it "
        "has one (demo_ssdlite_cpu: AdamW, lr 3e-3, batch 8, 60 epochs), else the defaults "
        "shown.")
    p.add_argument("images", type=Path, metavar="IMAGES_DIR")
    p.add_argument("--annotations", type=Path, metavar="DIR",
                   help="VOC XML folder (default: found like the GUI does)")
    p.add_argument("--format", dest="label_format", default=None,
                   choices=("voc", "yolo", "coco", "createml", "labelme"),
                   help="label format of IMAGES_DIR (default: detected from its files); YOLO "
                   "folders and COCO train/val files bring their own split")
    p.add_argument("--model", default=None, metavar="NAME",
                   help=f"detector (default {DEFAULT_MODEL}; with --resume: the checkpoint's)")
    p.add_argument("--epochs", type=_int_at_least(1), metavar="N", help="total epochs (10)")
    p.add_argument("--batch-size", type=_int_at_least(1), metavar="B",
                   help="images per step and process (4)")
    p.add_argument("--lr", type=_learning_rate, metavar="LR", help="base learning rate "
                   "(default: the family's, scaled by batch size x processes)")
    p.add_argument("--image-size", type=_int_at_least(32), metavar="N",
                   help="SSD input side / Faster R-CNN shorter side (default: the model's)")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|mps (auto)")
    p.add_argument("--weights", metavar="coco|imagenet|FILE|hub",
                   help="start from pretrained weights: 'coco' (the model's torchvision COCO "
                   "detector weights) or 'imagenet' (its backbone's), downloaded into the torch "
                   "hub cache on this request only (size shown first, SHA-256 checked; "
                   "$WORKBENCH_WEIGHTS_BASE_URL names a mirror of "
                   "https://download.pytorch.org/models/); a weights file (COCO detector or "
                   "ImageNet backbone state_dict, or a checkpoint); or 'hub' for whichever is "
                   "already in the torch hub cache (default: train from scratch)")
    p.add_argument("--priors", choices=("torchvision", "voc_paper"),
                   help="SSD prior boxes: 'torchvision' (the model's own COCO configuration, "
                   "default) or 'voc_paper' (ssd300_vgg16 only: the SSD paper's VOC priors, "
                   "scales 0.1, 0.2 ... 0.9 — what the Priors panel shows as 'SSD300 (paper, "
                   "VOC)'); the checkpoint records it")
    p.add_argument("--resume", type=Path, metavar="CKPT",
                   help="continue a run from its last.pt (epoch count continues; model, "
                   "optimizer and recipe come from the checkpoint, --epochs may extend it)")
    p.add_argument("--out", type=Path, required=True, metavar="RUN_DIR")
    p.add_argument("--val-fraction", type=_fraction, default=0.2,
                   help="share of images for a new val split (0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedule", choices=("cosine", "step", "constant"), help="(cosine)")
    p.add_argument("--warmup-steps", type=_int_at_least(0), help="linear warm-up steps (100)")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), help="(sgd)")
    p.add_argument("--grad-clip", type=_non_negative, help="max gradient norm; 0 = off (10)")
    p.add_argument("--workers", type=_int_at_least(0), default=0,
                   help="DataLoader workers (spawned)")
    from workbench.engine.config import AUGMENTATION_CHOICES  # no torch: safe at register

    p.add_argument("--augment", choices=AUGMENTATION_CHOICES,
                   help="augmentation: the model family's own (auto; SSD: photometric / "
                   "zoom-out / IoU crop / flip, others: flip), SSD's chain, flips only, none")
    p.add_argument("--no-augment", action="store_true", help="no data augmentation (= --augment "
                   "none)")
    p.add_argument("--scale-jitter", action="store_true",
                   help="Faster R-CNN multi-scale training")
    p.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm under torchrun")
    p.add_argument("--eval-every", type=_int_at_least(1), default=1, metavar="N")
    p.add_argument("--max-steps-per-epoch", type=_int_at_least(1), metavar="N")
    p.set_defaults(func=run)


#: --lr above this is refused: no detector recipe comes near it (SGD 0.02, AdamW 3e-3), and
#: such a run only diverges (``--lr 1e9`` reached loss 1e19 before this check).
MAX_LR = 10.0


def _int_at_least(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low} (got {value})")
        return value
    parse.__name__ = "whole number"
    return parse


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {text})")
    return value


def _learning_rate(text: str) -> float:
    value = _float(text)
    if not 0.0 < value <= MAX_LR:
        raise argparse.ArgumentTypeError(
            f"must be a positive number no larger than {MAX_LR:g} (got {text}; typical: "
            "0.0001 to 0.1)")
    return value


def _non_negative(text: str) -> float:
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {text})")
    return value


def _fraction(text: str) -> float:
    value = _float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1) (got {text})")
    return value


def _config(args: argparse.Namespace) -> Any:
    from workbench.engine.config import TrainConfig
    from workbench.engine.detectors import ConfigError, get_spec

    if args.resume is not None:
        return _resume_config(args)
    args.model = args.model or DEFAULT_MODEL
    try:
        recipe = dict(get_spec(args.model).recipe)
    except ConfigError:
        recipe = {}  # the trainer reports the unknown model by name
    recipe.pop("model", None)
    chosen = {key: getattr(args, key) if getattr(args, key) is not None
              else recipe.get(key, default) for key, default in RECIPE_DEFAULTS.items()}
    extra = {k: v for k, v in recipe.items() if k not in RECIPE_DEFAULTS
             and k not in ("augment", "augmentation")}
    return TrainConfig(
        images_dir=args.images, annotations_dir=args.annotations, model=args.model,
        epochs=chosen["epochs"], batch_size=chosen["batch_size"], lr=chosen["lr"],
        image_size=chosen["image_size"], device=args.device, weights=args.weights,
        priors=getattr(args, "priors", None) or "torchvision", resume=args.resume,
        out_dir=args.out, val_fraction=args.val_fraction, seed=args.seed,
        schedule=chosen["schedule"], warmup_steps=chosen["warmup_steps"],
        optimizer=chosen["optimizer"], grad_clip=chosen["grad_clip"] or None,
        num_workers=args.workers, augment=not args.no_augment and recipe.get("augment", True),
        augmentation=args.augment or recipe.get("augmentation", "auto"),
        scale_jitter=args.scale_jitter, amp=not args.no_amp, sync_batchnorm=args.sync_bn,
        eval_every=args.eval_every, max_steps_per_epoch=args.max_steps_per_epoch,
        label_format=getattr(args, "label_format", None), **extra)


#: Options a resumed run takes from its checkpoint; giving a different value is refused (the
#: saved optimizer/scheduler states and weights only fit these). --epochs may extend the run.
RESUME_FROM_CHECKPOINT = ("model", "optimizer", "schedule", "lr", "warmup_steps", "batch_size",
                          "image_size", "grad_clip", "priors")


def _resume_config(args: argparse.Namespace) -> Any:
    """The checkpoint's own settings, with only what may change taken from the command line."""
    from workbench.engine.checkpoint import read_checkpoint
    from workbench.engine.config import TrainConfig
    from workbench.engine.events import ConfigError

    ckpt = read_checkpoint(args.resume, for_resume=True)
    saved = dict(ckpt["config"])
    saved["model"] = ckpt["model_name"]
    saved.setdefault("image_size", ckpt["image_size"])
    conflicts = []
    for key in RESUME_FROM_CHECKPOINT:
        given = getattr(args, key, None)
        if given is None:
            continue
        if key == "grad_clip":
            given = given or None  # 0 = off
        theirs = saved.get(key)
        if key == "image_size":
            theirs = ckpt["image_size"]
        if key == "priors":
            theirs = theirs or "torchvision"  # checkpoints from before the option
        if given != theirs:
            shown = "the model's default" if theirs is None else theirs
            conflicts.append(f"--{key.replace('_', '-')} {given} (the checkpoint's: {shown})")
    if args.weights is not None:
        conflicts.append(f"--weights {args.weights} (a resumed run continues from the "
                         "checkpoint's weights)")
    if conflicts:
        raise ConfigError(f"cannot resume from {args.resume} with {'; '.join(conflicts)}: a "
                          "resumed run keeps the model, optimizer and recipe of its checkpoint "
                          "— leave these options out, or start a new run in another --out")
    values = {k: v for k, v in saved.items() if k not in (
        "images_dir", "annotations_dir", "resume", "out_dir", "device", "weights",
        "num_workers", "val_fraction", "seed", "eval_every", "label_format")}
    values.update(images_dir=args.images, annotations_dir=args.annotations, resume=args.resume,
                  out_dir=args.out, device=args.device, weights=None, num_workers=args.workers,
                  val_fraction=args.val_fraction, seed=args.seed, eval_every=args.eval_every,
                  label_format=getattr(args, "label_format", None))
    for key, value in (("epochs", args.epochs),
                       ("max_steps_per_epoch", args.max_steps_per_epoch),
                       ("augmentation", args.augment)):
        if value is not None:
            values[key] = value
    for flag, key, value in ((args.no_augment, "augment", False),
                             (args.scale_jitter, "scale_jitter", True),
                             (args.no_amp, "amp", False), (args.sync_bn, "sync_batchnorm", True)):
        if flag:
            values[key] = value
    return TrainConfig.from_dict(values)


class ProgressPrinter:
    """Prints events: a progress bar (redrawn in place on a terminal, every 10% otherwise) and
    one line per epoch."""

    def __init__(self, out: TextIO | None = None) -> None:
        # Looked up at call time: a default bound at import would keep a stream that pytest's
        # capture (or any redirect) has since closed.
        self.out = out if out is not None else sys.stdout
        self.tty = self.out.isatty()
        self.epochs = 0
        self.last_printed = -1.0
        self.last_line_len = 0

    def _line(self, text: str) -> None:
        if self.tty and self.last_line_len:
            self.out.write("\r" + " " * self.last_line_len + "\r")
            self.last_line_len = 0
        self.out.write(text + "\n")
        self.out.flush()

    def handle(self, event: Any) -> None:
        from workbench.engine import events as ev

        if isinstance(event, ev.RunStarted):
            self.epochs = event.epochs
            self._line(f"training {event.model_name} on {event.device}: {event.num_train} train"
                       f" / {event.num_val} val images, classes {', '.join(event.classes)}")
            self._line(f"weights: {event.weights_message}")
            if event.start_epoch:
                self._line(f"resuming at epoch {event.start_epoch + 1}/{event.epochs}")
        elif isinstance(event, ev.StepLogged):
            self._progress(event)
        elif isinstance(event, ev.SampleSkipped):
            self._line(f"warning: skipped {event.image}: {event.reason}")
        elif isinstance(event, ev.EpochEvaluated):
            self._line(f"epoch {event.epoch + 1}/{self.epochs}  loss {event.train_loss:.4f}  "
                       f"mAP VOC07(11pt) {event.map_voc07:.4f}  VOC(all-pt) {event.map_voc:.4f}"
                       f"  ({event.num_val_images} val images, {event.eval_s:.1f} s)")
        elif isinstance(event, ev.CheckpointSaved):
            best = "  [best]" if event.is_best else ""
            self._line(f"saved {event.path}{best}")
        elif isinstance(event, ev.Finished):
            how = "stopped" if event.stopped else "finished"
            self._line(f"{how} after {fmt_count(event.epochs_completed, 'epoch')} in "
                       f"{fmt_duration(event.elapsed_s)}; best checkpoint: "
                       f"{event.best_checkpoint or '-'}")

    def _progress(self, e: Any) -> None:
        frac = (e.step + 1) / e.steps_per_epoch
        width = 24
        filled = int(frac * width)
        bar = "#" * filled + "." * (width - filled)
        terms = " ".join(f"{k.replace('loss_', '')} {v:.3f}" for k, v in e.losses.items())
        text = (f"epoch {e.epoch + 1}/{self.epochs} [{bar}] {e.step + 1}/{e.steps_per_epoch} "
                f"loss {e.total:.3f} ({terms}) lr {e.lr:.2e} {e.images_per_s:.1f} img/s "
                f"ETA {fmt_duration(e.eta_s)}")
        if self.tty:
            self.out.write("\r" + text.ljust(self.last_line_len))
            self.out.flush()
            self.last_line_len = len(text)
            if e.step + 1 == e.steps_per_epoch:
                self.out.write("\n")
                self.last_line_len = 0
        elif frac - self.last_printed >= 0.1 or e.step + 1 == e.steps_per_epoch or e.step == 0:
            self.out.write(text + "\n")
            self.out.flush()
            self.last_printed = frac if e.step + 1 < e.steps_per_epoch else -1.0


def run(args: argparse.Namespace) -> int:
    from workbench.engine.events import TrainingError
    from workbench.engine.trainer import train

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    main_rank = int(os.environ.get("RANK", "0")) == 0
    printer = ProgressPrinter()
    stop = threading.Event()
    previous = None
    if not distributed and threading.current_thread() is threading.main_thread():
        def on_sigint(signum: int, frame: Any) -> None:
            if stop.is_set():
                raise KeyboardInterrupt
            stop.set()
            print("\nstopping after this step (Ctrl+C again to abort)", file=sys.stderr)

        previous = signal.signal(signal.SIGINT, on_sigint)
    t0 = time.perf_counter()
    finished = None
    if main_rank:
        from workbench.core.outfolder import OutputFolderError, check_output_folder

        try:  # a full, read-only or forbidden --out: one line, before the model is built
            check_output_folder(args.out)
        except OutputFolderError as exc:
            print(f"error: {exc}", file=sys.stderr)
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            return 2
    try:
        if args.resume is None and main_rank:
            code = fetch_weights(args.model or DEFAULT_MODEL, args.weights,
                                 cancelled=stop.is_set)
            if code:
                return code
        elif args.resume is None:  # other torchrun ranks use rank 0's download
            _wait_for_cache(args.model or DEFAULT_MODEL, args.weights)
        config = _config(args)
        for event in train(config, stop=stop):
            if main_rank:
                printer.handle(event)
            finished = event
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    from workbench.engine.events import Finished

    if isinstance(finished, Finished) and finished.stopped:
        return 130
    if main_rank and finished is None:
        print(f"error: the run ended without finishing ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr)
        return 1
    return 0


def fetch_weights(model: str, weights: str | None, out: TextIO | None = None,
                  cancelled: Any = None) -> int:
    """For ``--weights coco|imagenet``: put the file into the torch hub cache (one line with the
    size first, then a progress line), or say it is there already. Returns 0; 2 with one line
    on stderr when it cannot be had (offline, HTTP error, bad hash, model without such weights);
    130 when ``cancelled()`` turned true (Ctrl+C) — nothing is kept then.
    """
    from workbench.engine.events import WeightsError
    from workbench.engine.weights_download import (
        DOWNLOAD_CHOICES,
        DownloadCancelled,
        download,
        remote_weights,
    )

    if weights is None or weights.strip().lower() not in DOWNLOAD_CHOICES:
        return 0
    out = out if out is not None else sys.stdout
    try:
        remote = remote_weights(model, weights)
        if remote.cached:
            out.write(f"{remote.what} weights for {model} already in the torch hub cache: "
                      f"{remote.path} (no download)\n")
            return 0
        out.write(remote.announcement() + "\n")
        out.flush()
        bar = DownloadLine(out)
        download(remote, progress=bar.update, cancelled=cancelled)
        bar.close(f"saved {remote.path}")
    except DownloadCancelled as exc:
        print(str(exc), file=sys.stderr)
        return 130
    except WeightsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def _wait_for_cache(model: str, weights: str | None, timeout_s: float = 3600.0) -> None:
    """Other torchrun ranks wait for rank 0's download (they never download themselves; when
    rank 0 fails, torchrun ends them)."""
    from workbench.engine.weights import hub_file
    from workbench.engine.weights_download import DOWNLOAD_CHOICES, weights_enum

    if weights is None or weights.strip().lower() not in DOWNLOAD_CHOICES:
        return
    path = hub_file(weights_enum(model, weights))
    deadline = time.monotonic() + timeout_s
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(1.0)


class DownloadLine:
    """A download's progress line: redrawn in place on a terminal, every 10 % otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.t0 = time.perf_counter()
        self.last = -1.0
        self.width = 0

    def update(self, done: int, total: int | None) -> None:
        from workbench.engine.weights_download import fmt_size

        rate = done / max(1e-6, time.perf_counter() - self.t0)
        if total:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 24) + "." * (24 - int(frac * 24))
            text = f"downloading [{bar}] {fmt_size(done)} / {fmt_size(total)} " \
                   f"{fmt_size(int(rate))}/s"
        else:
            frac = 0.0
            text = f"downloading {fmt_size(done)} {fmt_size(int(rate))}/s"
        if self.tty:
            self.out.write("\r" + text.ljust(self.width))
            self.width = len(text)
            self.out.flush()
        elif total and (frac - self.last >= 0.1 or done == total):
            self.out.write(text + "\n")
            self.out.flush()
            self.last = frac

    def close(self, text: str) -> None:
        if self.tty and self.width:
            self.out.write("\n")
        self.out.write(text + "\n")
        self.out.flush()
