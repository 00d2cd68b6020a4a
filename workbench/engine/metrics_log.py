"""``RUN_DIR/metrics.jsonl``: one JSON object per line for every training event.

Rows have a ``"type"``: ``start``, ``step`` (``losses`` per term, ``loss`` total, ``lr``,
``images_per_s``), ``epoch`` (``map_voc07``, ``map_voc``, ``ap_voc07``/``ap_voc`` per class,
``train_loss``), ``checkpoint``, ``skipped`` and ``finished``. NaN is written as ``null`` so
every line is strict JSON. A resumed run appends to the same file.

**Epochs are numbered from 1**, as the GUI ("Epoch 1") and the CLI log ("epoch 1/10") show
them: ``"epoch": N`` is the N-th epoch of the run, so after it ``last.pt`` holds
``"epoch": N`` (epochs completed) too; the ``start`` row's ``first_epoch`` is the first epoch
this (possibly resumed) run trains. The engine's events keep 0-based indices; this file, the
user's record, converts them (:func:`event_row`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from workbench.engine.events import (
    CheckpointSaved,
    EpochEvaluated,
    Event,
    Finished,
    RunStarted,
    SampleSkipped,
    StepLogged,
)

log = logging.getLogger(__name__)


def json_safe(value: Any) -> Any:
    """NaN/inf → None, paths → str, tuples → lists, numpy scalars → Python."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def event_row(event: Event) -> dict[str, Any]:
    """The JSON row of one event (epochs numbered from 1, see the module docstring)."""
    if isinstance(event, StepLogged):
        return {"type": "step", "epoch": event.epoch + 1, "step": event.step,
                "global_step": event.global_step, "losses": event.losses, "loss": event.total,
                "lr": event.lr, "images_per_s": event.images_per_s,
                "elapsed_s": event.elapsed_s}
    if isinstance(event, EpochEvaluated):
        return {"type": "epoch", "epoch": event.epoch + 1, "map_voc07": event.map_voc07,
                "map_voc": event.map_voc, "ap_voc07": event.ap_voc07, "ap_voc": event.ap_voc,
                "train_loss": event.train_loss, "num_val_images": event.num_val_images,
                "eval_s": event.eval_s}
    if isinstance(event, CheckpointSaved):
        return {"type": "checkpoint", "epoch": event.epoch + 1, "path": event.path,
                "is_best": event.is_best, "metric": event.metric}
    if isinstance(event, SampleSkipped):
        return {"type": "skipped", "epoch": event.epoch + 1, "image": event.image,
                "reason": event.reason}
    if isinstance(event, Finished):
        return {"type": "finished", "epochs_completed": event.epochs_completed,
                "stopped": event.stopped, "best_metric": event.best_metric,
                "elapsed_s": event.elapsed_s}
    if isinstance(event, RunStarted):
        return {"type": "start", "model": event.model_name, "device": event.device,
                "classes": event.classes, "num_train": event.num_train,
                "num_val": event.num_val, "first_epoch": event.start_epoch + 1,
                "epochs": event.epochs, "weights": event.weights_message}
    raise TypeError(f"not a training event: {event!r}")


class MetricsLog:
    """Appends event rows to ``path`` (or does nothing when ``path`` is None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._failed = False
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: Event, **extra: Any) -> None:
        if self.path is None or self._failed:
            return
        row = {**event_row(event), **extra, "time": time.time()}
        try:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(json_safe(row), allow_nan=False) + "\n")
        except OSError as exc:  # a full disk surfaces as CheckpointError when saving
            self._failed = True
            log.warning("cannot append to %s: %s; metrics logging stops", self.path, exc)

    def write_start(self, event: RunStarted, config: Any) -> None:
        self.write(event, config=config.to_dict())


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All rows of a ``metrics.jsonl`` file."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]
