"""What a training run reports, and how it fails.

:func:`workbench.engine.trainer.train` is a generator of the frozen events below. They carry plain
Python numbers, strings and numpy arrays — never live tensors — so the CLI can log them, the GUI
bridge can send them across threads as Qt signals, and tests can compare them.

Faults are typed exceptions deriving from :class:`TrainingError`; their message is written for
the person running the training (it names the file, the class or the setting at fault).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def fmt_duration(seconds: float) -> str:
    """``3725`` → ``"1:02:05"``; ``65`` → ``"01:05"`` (elapsed times and ETAs of a run)."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def fmt_count(n: int, noun: str) -> str:
    """``fmt_count(1, "epoch")`` → ``"1 epoch"``; ``fmt_count(2, "epoch")`` → ``"2 epochs"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True)
class RunStarted:
    """The run is set up: data split, model built, about to take the first step."""

    run_dir: Path | None
    model_name: str
    device: str
    classes: tuple[str, ...]
    num_train: int
    num_val: int
    start_epoch: int  # 0-based index of the first epoch this run trains
    epochs: int  # total epochs the run will have trained when it finishes
    steps_per_epoch: int
    weights_message: str  # what pretrained weights were loaded (or why none)


@dataclass(frozen=True)
class StepLogged:
    """One optimisation step.

    ``losses`` maps each loss term the detector returned (e.g. ``bbox_regression``,
    ``classification`` for SSD; ``loss_classifier``, ``loss_box_reg``, ``loss_objectness``,
    ``loss_rpn_box_reg`` for Faster R-CNN) to its value; ``total`` is their sum.
    ``global_step`` counts steps from the start of training (it continues across resumes).
    """

    epoch: int  # 0-based
    step: int  # 0-based within the epoch
    steps_per_epoch: int
    global_step: int
    losses: dict[str, float]
    total: float
    lr: float
    images_per_s: float
    elapsed_s: float  # since the run (this process) started
    eta_s: float  # estimated time to the end of the run, including evaluation


@dataclass(frozen=True)
class EpochEvaluated:
    """Validation-split evaluation after an epoch.

    ``map_voc07`` is the VOC2007 11-point interpolated mAP, ``map_voc`` the VOC2010+ all-point
    mAP, both at IoU 0.5 with ``difficult`` objects ignored; ``ap_voc07`` / ``ap_voc`` give AP
    per class name (NaN for a class with no ground truth in the val split).
    """

    epoch: int
    map_voc07: float
    map_voc: float
    ap_voc07: dict[str, float]
    ap_voc: dict[str, float]
    train_loss: float  # mean total loss over the epoch's steps
    num_val_images: int
    eval_s: float


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint file was written (atomically) after ``epoch``."""

    epoch: int
    path: Path
    is_best: bool
    metric: float  # the value best.pt is chosen by (map_voc07; -total loss when no val split)


@dataclass(frozen=True)
class SampleSkipped:
    """An image could not be used this epoch (e.g. unreadable); training goes on without it."""

    epoch: int
    image: str
    reason: str


@dataclass(frozen=True)
class Finished:
    """The run ended. ``stopped`` is True when the user asked it to stop early."""

    epochs_completed: int  # total epochs trained, counting those before a resume
    stopped: bool
    best_metric: float
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    elapsed_s: float


Event = RunStarted | StepLogged | EpochEvaluated | CheckpointSaved | SampleSkipped | Finished


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------
class TrainingError(Exception):
    """Base of every fault that ends a run; ``str(exc)`` is the message for the user."""


class ConfigError(TrainingError, ValueError):
    """A setting is invalid (unknown model, image size too small, bad epochs...)."""


class DatasetError(TrainingError):
    """The data cannot be used (missing folder, unreadable split file...)."""


class EmptyDatasetError(DatasetError):
    """No usable training images."""


class ClassWithoutBoxesError(DatasetError):
    """A class in the project's class list has no (non-difficult) box in the training split."""


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class DivergedError(NonFiniteLossError):
    """The loss stayed far above its first value (see ``trainer.DIVERGENCE_FACTOR``): the
    learning rate is too high; the last good checkpoint is kept."""


class OutOfMemoryError(TrainingError):
    """The device ran out of memory; try a smaller batch size or image size."""


class CheckpointError(TrainingError):
    """A checkpoint could not be written or read."""


class WeightsError(TrainingError):
    """Pretrained weights were asked for but are absent or do not fit the model."""
