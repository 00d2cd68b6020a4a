"""Training as a generator of events (docs/architecture.md, "Inside the window"; docs/training.md).

``for event in train(config, data, stop): ...`` — the CLI logs the events, the GUI bridge
re-emits them as Qt signals from a QThread, tests look at them. Between two steps the generator
checks ``stop`` (a :class:`threading.Event`) and returns promptly with ``Finished(stopped=True)``.
Faults raise :class:`workbench.engine.events.TrainingError` subclasses; files already written
(``last.pt``, ``best.pt``, ``metrics.jsonl``) stay valid.

Per step: forward in train mode (losses dict) → non-finite check → backward (AMP grad scaler
on CUDA) → gradient-norm clipping → optimizer step → per-step LR schedule (linear warm-up, then
cosine or step decay). Per epoch (rank 0): VOC07 and VOC all-point mAP on the val split,
``last.pt`` (+ ``best.pt`` when the mAP improved), one ``metrics.jsonl`` row per event.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.engine import distributed as dd
from workbench.engine.checkpoint import (
    finite_metric,
    make_checkpoint,
    read_checkpoint,
    save_checkpoint,
    unwrap,
)
from workbench.engine.config import TrainConfig, finetune_lr_scale
from workbench.engine.dataset import DetectionDataset, collate, loader_context, should_cache
from workbench.engine.detectors import build_detector, get_spec, set_postprocess
from workbench.engine.device import describe_device, resolve_device
from workbench.engine.evaluate import EVAL_SCORE_FLOOR, EVAL_TOP_K, EvalAborted, \
    evaluate_detector
from workbench.engine.events import (
    CheckpointError,
    CheckpointSaved,
    ConfigError,
    DivergedError,
    EmptyDatasetError,
    EpochEvaluated,
    Event,
    Finished,
    NonFiniteLossError,
    OutOfMemoryError,
    RunStarted,
    SampleSkipped,
    StepLogged,
)
from workbench.engine.metrics_log import MetricsLog
from workbench.engine.precise_bn import recalibrate_batchnorm
from workbench.engine.schedule import EpochSampler, make_optimizer, make_scheduler
from workbench.engine.snapshot import DataSnapshot, check_trainable, take_snapshot
from workbench.engine.transforms import train_transform
from workbench.engine.weights import check_request

log = logging.getLogger(__name__)


def train(config: TrainConfig, data: DataSnapshot | None = None,
          stop: threading.Event | None = None) -> Iterator[Event]:
    """Train ``config.model`` on ``data`` (default: a snapshot of ``config.images_dir``).

    Yields :class:`RunStarted`, then :class:`StepLogged` per step, :class:`SampleSkipped` for
    unreadable images, :class:`EpochEvaluated` and :class:`CheckpointSaved` per epoch (rank 0)
    and a final :class:`Finished`. With ``config.resume`` the run continues from that
    checkpoint's epoch (model, optimizer, scheduler, classes, image size and step count).
    """
    info = dd.init_from_env()
    try:
        yield from _Run(config, data, stop or threading.Event(), info).run()
    finally:
        dd.cleanup(info)


def _without_unreadable(data: DataSnapshot) -> tuple[DataSnapshot, list[tuple[str, str]]]:
    """Leave out the training images the decoder refuses from their header (not an image,
    over the pixel limit, under the minimum side: what ``validate`` reports as errors, with
    the same message). Returns the snapshot and ``[(image, reason)]``; raises
    :class:`EmptyDatasetError` when no training image is left."""
    import dataclasses

    from workbench.core.imageinfo import ImageReadError, image_info

    keep, bad = [], []
    for record in data.train:
        try:
            image_info(record.image_path)
        except ImageReadError as exc:
            log.error("leaving out %s", exc)
            bad.append((str(record.image_path), str(exc)))
        else:
            keep.append(record)
    if not bad:
        return data, []
    if not keep:
        raise EmptyDatasetError(f"none of the {len(bad)} training images can be read (first: "
                                f"{bad[0][1]}): run `workbench validate` and fix or remove them")
    return dataclasses.replace(data, train=tuple(keep)), bad


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
        or "not enough memory" in text)


def _has_frozen_bn(model: torch.nn.Module) -> bool:
    """Whether torchvision built ``model`` with frozen batch norm (its pretrained layout)."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    return any(isinstance(m, FrozenBatchNorm2d) for m in model.modules())


#: A run is stopped as diverged (DivergedError) when its loss stays above DIVERGENCE_FACTOR x
#: its first step's loss for DIVERGENCE_STEPS consecutive steps. Detection losses start near
#: their maximum (random heads) and fall; a 10,000-fold rise only comes from a learning rate far
#: too high (``--lr 1e9`` reached 1e19 and "finished"). Three steps ride out one bad batch.
DIVERGENCE_FACTOR = 1e4
DIVERGENCE_STEPS = 3

#: Settings a resumed run must share with its checkpoint (the optimizer/scheduler states
#: saved there only fit these); the CLI takes them from the checkpoint.
RESUME_KEPT = ("optimizer", "schedule")


def _check_resume_matches(ckpt: dict[str, Any], cfg: TrainConfig) -> None:
    saved = ckpt.get("config") or {}
    clashes = [f"{key} {getattr(cfg, key)!r} (the checkpoint's: {saved[key]!r})"
               for key in RESUME_KEPT if key in saved and saved[key] != getattr(cfg, key)]
    if clashes:
        raise ConfigError(f"cannot resume {cfg.resume} with {', '.join(clashes)}: a resumed run "
                          "keeps its checkpoint's optimizer and schedule")


class _Run:
    """State of one run; :meth:`run` is the event generator."""

    def __init__(self, config: TrainConfig, data: DataSnapshot | None,
                 stop: threading.Event, dist: dd.DistInfo) -> None:
        self.config = config
        self.stop = stop
        self.dist = dist
        self.t0 = time.perf_counter()
        self._given = data
        self.step_times: list[float] = []
        self.eval_s = 0.0
        self.best = -math.inf
        self.last_path: Path | None = None
        self.best_path: Path | None = None
        self.first_loss: float | None = None  # of this process's first step (divergence check)
        self.diverging_steps = 0

    # -- setup --------------------------------------------------------------------------------
    def _setup(self) -> RunStarted:
        cfg = self.config
        torch.manual_seed(cfg.seed + self.dist.rank)
        self.device = resolve_device(cfg.device, self.dist.local_rank if self.dist.enabled
                                     else None)
        ckpt = read_checkpoint(cfg.resume, for_resume=True) if cfg.resume is not None else None
        if ckpt is not None:
            _check_resume_matches(ckpt, cfg)
        if ckpt is None:  # an unknown model or an absent file fails before the data is read
            get_spec(cfg.model)
            check_request(cfg.weights)
        classes = tuple(ckpt["classes"]) if ckpt is not None else None
        data = self._given
        if data is None:
            data = take_snapshot(cfg.images_dir, cfg.annotations_dir,
                                 val_fraction=cfg.val_fraction, seed=cfg.seed,
                                 classes=classes, label_format=cfg.label_format)
        elif classes is not None:
            data = data.with_classes(classes)
        self.data: DataSnapshot
        self.data, self.unreadable = _without_unreadable(data)
        check_trainable(self.data)
        self.classes = self.data.classes
        model_name = ckpt["model_name"] if ckpt is not None else cfg.model
        image_size = int(ckpt["image_size"]) if ckpt is not None else cfg.image_size
        layout = bool((ckpt.get("detector") or {}).get("pretrained_layout")) if ckpt else None
        priors = (ckpt.get("detector") or {}).get("priors") if ckpt is not None else cfg.priors
        model, self.info = build_detector(
            model_name, len(self.classes) + 1, image_size=image_size,
            weights=None if ckpt is not None else cfg.weights, pretrained_layout=layout,
            priors=priors)
        self.family = get_spec(model_name).family
        configure = getattr(model, "configure_training", None)
        if callable(configure):  # model-specific recipe settings (engine.classic_models)
            configure(cfg.extra)
        self.image_size = int(self.info["image_size"])
        weights_message = str(self.info["weights_message"])
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            self.info = {**(ckpt.get("detector") or self.info)}  # what the run started from
            weights_message = (f"resumed from {cfg.resume} after epoch {ckpt['epoch']}; the run "
                               f"started with: {self.info.get('weights_message', 'unknown')}")
            self.best = finite_metric((ckpt.get("metrics") or {}).get("best_metric"))
        set_postprocess(model, score_threshold=EVAL_SCORE_FLOOR, nms_iou=cfg.nms_iou,
                        top_k=EVAL_TOP_K)
        if self.family == "fasterrcnn" and cfg.scale_jitter:
            # torchvision picks a random min_size per batch in train mode, the last in eval.
            sizes = [s for s in range(int(self.image_size * 0.75) // 32 * 32,
                                      int(self.image_size * 1.25) + 1, 32) if s > 0]
            transform: Any = model.transform
            transform.min_size = tuple(sorted(set(sizes) - {self.image_size})) + (
                self.image_size,)
        model.to(self.device)
        self.cuda = self.device.type == "cuda"
        if self.cuda and cfg.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = dd.wrap_model(model, self.device, self.dist, cfg.sync_batchnorm)
        self._setup_data()
        # The fine-tuning recipe follows what the run started from (kept in the checkpoint's
        # detector info, so a resumed run keeps it).
        weights_kind = str(self.info.get("weights_kind", "none"))
        self.optimizer = make_optimizer(unwrap(self.model), cfg, self.family,
                                        self.dist.world_size, weights_kind)
        if ckpt is None and weights_kind != "none" and cfg.lr is None:
            lr = cfg.effective_lr(self.family, self.dist.world_size, weights_kind)
            weights_message += (f"; fine-tuning: learning rate {lr:.3g} "
                                f"({finetune_lr_scale(self.family, weights_kind):g} x the "
                                "from-scratch default)"
                                + (", frozen batch norm" if _has_frozen_bn(model) else ""))
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.scheduler = make_scheduler(self.optimizer, cfg, self.total_steps,
                                        self.steps_per_epoch)
        self.start_epoch, self.global_step = 0, 0
        if ckpt is not None:
            self.start_epoch = int(ckpt["epoch"])
            self.global_step = int(ckpt.get("global_step", 0))
            try:
                if ckpt.get("optimizer"):
                    self.optimizer.load_state_dict(ckpt["optimizer"])
                if ckpt.get("scheduler"):
                    self.scheduler.load_state_dict(ckpt["scheduler"])
            except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as exc:
                raise CheckpointError(
                    f"checkpoint {cfg.resume}: its optimizer/scheduler state does not fit this "
                    f"run ({type(exc).__name__}: {exc}); resume with the checkpoint's own "
                    "settings or start a new run") from exc
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.cuda and cfg.amp)
        if cfg.out_dir is not None and self.dist.is_main:
            from workbench.core.atomic import clean_stale_temps

            clean_stale_temps(cfg.out_dir)  # checkpoint temps of runs killed mid-save
        self.metrics = MetricsLog(cfg.out_dir / "metrics.jsonl"
                                  if cfg.out_dir is not None and self.dist.is_main else None)
        return RunStarted(cfg.out_dir, model_name, describe_device(self.device), self.classes,
                          len(self.data.train), len(self.data.val), self.start_epoch,
                          cfg.epochs, self.steps_per_epoch, weights_message)

    def _setup_data(self) -> None:
        cfg = self.config
        records = self.data.train
        self.max_side = self._max_side()
        cache = should_cache(records, cfg.cache_budget_mb, cfg.cache_images, self.max_side)
        self.train_set = DetectionDataset(
            records, self.classes, train_transform(self.family, self.image_size, cfg.augment,
                                              cfg.augmentation),
            seed=cfg.seed, cache=cache, max_side=self.max_side)
        if self.dist.enabled:
            self.sampler: Any = torch.utils.data.DistributedSampler(
                self.train_set, num_replicas=self.dist.world_size, rank=self.dist.rank,
                shuffle=True, seed=cfg.seed)
        else:
            self.sampler = EpochSampler(len(self.train_set), cfg.seed)
        per_rank = math.ceil(len(self.train_set) / self.dist.world_size)
        # a last batch of one image breaks batch norm on 1x1 feature maps (SSDlite): drop it
        drop_last = per_rank > cfg.batch_size and per_rank % cfg.batch_size == 1
        self.loader = torch.utils.data.DataLoader(
            self.train_set, batch_size=cfg.batch_size, sampler=self.sampler,
            num_workers=cfg.num_workers, collate_fn=collate, drop_last=drop_last,
            pin_memory=self.device.type == "cuda",
            multiprocessing_context=loader_context(cfg.num_workers),
            persistent_workers=cfg.num_workers > 0)
        steps = len(self.loader)
        if cfg.max_steps_per_epoch is not None:
            steps = min(steps, cfg.max_steps_per_epoch)
        self.steps_per_epoch = max(1, steps)

    def _max_side(self) -> int | None:
        """Longest image side worth decoding: SSD crops (down to 0.3 of a side) and resizes to
        the square input, so twice the input side keeps the detail; Faster R-CNN resizes to
        at most ``transform.max_size`` (times the largest scale jitter)."""
        if self.family == "ssd":
            return 2 * self.image_size
        max_size = getattr(getattr(unwrap(self.model), "transform", None), "max_size", None)
        if self.family == "fasterrcnn" and max_size:
            return int(max_size * (1.25 if self.config.scale_jitter else 1.0)) + 1
        return None

    def _eval_max_side(self) -> int | None:
        """Evaluation images are shrunk like training images (area interpolation, to twice
        the SSD input side / Faster R-CNN's ``max_size``) before the model's own resize."""
        if self.family == "ssd":
            return 2 * self.image_size
        max_size = getattr(getattr(unwrap(self.model), "transform", None), "max_size", None)
        return int(max_size) if self.family == "fasterrcnn" and max_size else None

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        started = self._setup()
        if self.dist.is_main:
            self.metrics.write_start(started, self.config)
            yield started
            for image, reason in self.unreadable:  # what validate calls errors, reported once
                event: Event = SampleSkipped(self.start_epoch, image, reason)
                self.metrics.write(event)
                yield event
        completed, stopped = self.start_epoch, False
        for epoch in range(self.start_epoch, self.config.epochs):
            losses: list[float] = []
            self.interrupted = False
            for event in self._train_epoch(epoch, losses):
                yield event
            if not losses and self.epoch_skipped and not self.interrupted \
                    and not self.dist.enabled:
                raise EmptyDatasetError(
                    f"no training image of epoch {epoch + 1} could be read "
                    f"({self.epoch_skipped} skipped; first: {self.first_skip}): "
                    "run `workbench validate` and fix or remove them")
            stopped = dd.broadcast_flag(self.dist, self.interrupted)
            if stopped:
                break
            completed = epoch + 1
            if self.dist.is_main:
                yield from self._end_epoch(epoch, losses)
            dd.barrier(self.dist)
            if dd.broadcast_flag(self.dist, self.stop.is_set()):
                stopped = True
                break
        elapsed = time.perf_counter() - self.t0
        out = self.config.out_dir
        if out is not None and self.dist.is_main:  # earlier runs' files count after a resume
            self.last_path = self.last_path or _existing(out / "last.pt")
            self.best_path = self.best_path or _existing(out / "best.pt")
        finished = Finished(completed, stopped, self.best, self.last_path, self.best_path,
                            elapsed)
        if self.dist.is_main:
            self.metrics.write(finished)
            yield finished

    def _train_epoch(self, epoch: int, losses: list[float]) -> Iterator[Event]:
        self.model.train()
        self.sampler.set_epoch(epoch)
        self.train_set.set_epoch(epoch)
        tick = time.perf_counter()
        self.epoch_skipped, self.first_skip = 0, ""
        for step, (_indices, images, targets, skipped) in enumerate(self.loader):
            if step >= self.steps_per_epoch:
                break
            if self.stop.is_set() and not self.dist.enabled:  # DDP ranks stop at epoch ends
                self.interrupted = True
                break
            for index, reason in skipped:
                record = self.train_set.records[index]
                log.warning("skipping %s this epoch: %s", record.image_path, reason)
                event: Event = SampleSkipped(epoch, str(record.image_path), reason)
                self.epoch_skipped += 1
                self.first_skip = self.first_skip or reason
                if self.dist.is_main:
                    self.metrics.write(event)
                yield event
            if not images:
                continue
            lr = float(self.optimizer.param_groups[0]["lr"])  # the LR this step uses
            values = self._step(images, targets, epoch, step)
            total = float(sum(values.values()))
            losses.append(total)
            self._check_divergence(total, epoch, step, lr)
            self.global_step += 1
            now = time.perf_counter()
            self.step_times.append(now - tick)
            tick = now
            event = self._step_event(epoch, step, values, total, len(images), lr)
            if self.dist.is_main:
                self.metrics.write(event)
                yield event

    def _check_divergence(self, total: float, epoch: int, step: int, lr: float) -> None:
        """Raise :class:`DivergedError` when the loss has stayed above ``DIVERGENCE_FACTOR`` x
        the first step's loss for ``DIVERGENCE_STEPS`` steps in a row (see the constants)."""
        if self.first_loss is None:
            self.first_loss = total if total > 0 else None
            return
        if total <= DIVERGENCE_FACTOR * self.first_loss:
            self.diverging_steps = 0
            return
        self.diverging_steps += 1
        if self.diverging_steps >= DIVERGENCE_STEPS:
            kept = f"; the last good checkpoint {self.last_path} is kept" if self.last_path \
                else ""
            raise DivergedError(
                f"training diverged: the loss was {total:.3g} at epoch {epoch + 1}, step "
                f"{step + 1}, over {DIVERGENCE_FACTOR:g} x the first step's "
                f"{self.first_loss:.3g} for {DIVERGENCE_STEPS} steps in a row{kept}; lower the "
                f"learning rate (now {lr:.3g})")

    def _step(self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]],
              epoch: int, step: int) -> dict[str, float]:
        cfg = self.config
        dev = self.device
        images = [im.to(dev, non_blocking=True) for im in images]
        targets = [{k: v.to(dev, non_blocking=True) for k, v in t.items()} for t in targets]
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.scaler.is_enabled() \
            else nullcontext()
        try:
            with autocast:
                loss_dict = self.model(images, targets)
            loss = sum(loss_dict.values())
            values = {k: float(v.detach()) for k, v in loss_dict.items()}
            if not all(math.isfinite(v) for v in values.values()):
                terms = ", ".join(f"{k}={v:g}" for k, v in values.items())
                kept = f"; the last good checkpoint {self.last_path} is kept" \
                    if self.last_path else ""
                raise NonFiniteLossError(
                    f"the loss became non-finite at epoch {epoch + 1}, step {step + 1} "
                    f"({terms}){kept}; try a lower learning rate (now "
                    f"{self.optimizer.param_groups[0]['lr']:.3g}) or check the labels")
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
        except ValueError as exc:
            if "Expected more than 1 value per channel" in str(exc):
                raise ConfigError(
                    f"batch size {len(images)} is too small for {self.info['model_name']} "
                    "(its batch norm needs at least 2 images per batch)") from exc
            raise
        except (RuntimeError, MemoryError) as exc:
            if isinstance(exc, MemoryError) or _is_oom(exc):
                first = str(exc).strip().splitlines()[0] if str(exc) else "MemoryError"
                raise OutOfMemoryError(
                    f"out of memory on {self.device} with batch size {cfg.batch_size} at "
                    f"image size {self.image_size}: {first}; lower the batch size or the "
                    "image size") from exc
            raise
        return values

    def _step_event(self, epoch: int, step: int, values: dict[str, float], total: float,
                    n_images: int, lr: float) -> StepLogged:
        recent = self.step_times[-20:]
        per_step = float(np.mean(recent))
        left_steps = (self.steps_per_epoch - step - 1) + \
            (self.config.epochs - epoch - 1) * self.steps_per_epoch
        eta = left_steps * per_step + self._evals_left(epoch) * self._eval_estimate(per_step)
        return StepLogged(epoch, step, self.steps_per_epoch, self.global_step, values, total, lr,
                          n_images / max(self.step_times[-1], 1e-9),
                          time.perf_counter() - self.t0, eta)

    def _eval_estimate(self, per_step: float) -> float:
        if self.eval_s > 0:
            return self.eval_s
        # forward only ≈ 1/3 of a training step per image
        return len(self.data.val) * per_step / max(1, self.config.batch_size) / 3

    def _evaluates(self, epoch: int) -> bool:
        return bool(self.data.val) and (
            (epoch + 1) % self.config.eval_every == 0 or epoch + 1 == self.config.epochs)

    def _evals_left(self, epoch: int) -> int:
        """How many of the epochs ``epoch .. epochs-1`` evaluate (what :meth:`_evaluates` says
        of each), in O(1): it is asked at every step."""
        every, epochs = self.config.eval_every, self.config.epochs
        if not self.data.val or epoch >= epochs:
            return 0
        return epochs // every - epoch // every + (1 if epochs % every else 0)

    # -- end of epoch (rank 0) ----------------------------------------------------------------
    def _recalibrate_batchnorm(self, epoch: int) -> None:
        n = min(len(self.train_set), self.config.bn_recalibration_images)
        if n <= 0:
            return
        calib = DetectionDataset(self.data.train, self.classes,
                                 train_transform(self.family, self.image_size, augment=False),
                                 cache=self.train_set.cache_enabled, max_side=self.max_side)
        calib._cache = self.train_set._cache  # share decoded images
        order = np.random.default_rng([self.config.seed, epoch, 7]).permutation(
            len(self.train_set))[:n]
        recalibrate_batchnorm(unwrap(self.model), calib, sorted(order.tolist()),
                              self.config.batch_size, self.device)

    def _end_epoch(self, epoch: int, losses: list[float]) -> Iterator[Event]:
        cfg = self.config
        train_loss = float(np.mean(losses)) if losses else float("nan")
        metrics: dict[str, Any] = {"train_loss": train_loss}
        metric = -train_loss if math.isfinite(train_loss) else -math.inf
        if self._evaluates(epoch) or cfg.out_dir is not None:
            self._recalibrate_batchnorm(epoch)
        if self._evaluates(epoch):
            try:
                result = evaluate_detector(unwrap(self.model), self.data.val, self.classes,
                                           self.device, cfg.batch_size, self.stop,
                                           self._eval_max_side())
            except EvalAborted:
                result = None
            if result is not None:
                self.eval_s = result.seconds
                event: Event = EpochEvaluated(epoch, result.map_voc07, result.map_voc,
                                       result.ap_voc07, result.ap_voc, train_loss,
                                       result.num_images, result.seconds)
                metrics.update(map_voc07=result.map_voc07, map_voc=result.map_voc,
                               ap_voc07=result.ap_voc07, ap_voc=result.ap_voc)
                metric = finite_metric(result.map_voc07, 0.0)
                self.metrics.write(event)
                yield event
        if cfg.out_dir is None:
            return
        is_best = metric > self.best
        if is_best:
            self.best = metric
        metrics["best_metric"] = self.best
        ckpt = make_checkpoint(
            self.model, info=self.info, classes=self.classes, config=cfg.to_dict(),
            epoch=epoch + 1, global_step=self.global_step, optimizer=self.optimizer,
            scheduler=self.scheduler, metrics=metrics,
            postprocess={"score_threshold": cfg.score_threshold, "nms_iou": cfg.nms_iou,
                         "top_k": cfg.top_k, "class_agnostic": False})
        self.last_path = save_checkpoint(ckpt, cfg.out_dir / "last.pt")
        if is_best:
            self.best_path = save_checkpoint(ckpt, cfg.out_dir / "best.pt")
        event = CheckpointSaved(epoch, self.last_path, is_best, metric)
        self.metrics.write(event)
        yield event
