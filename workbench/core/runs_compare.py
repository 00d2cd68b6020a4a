"""Compare training runs: read each run folder's ``metrics.jsonl`` into per-epoch curves and
put the runs' per-class AP side by side (torch-free; the Runs panel and tests use it).

A **run** is a folder holding ``metrics.jsonl`` (written by
:class:`workbench.engine.metrics_log.MetricsLog`; the Train panel puts its runs in
``<project>/runs/<model>-<stamp>/``, next to ``last.pt`` / ``best.pt``). The file's rows are
read as follows (epochs are numbered from 1, as in the file, the Train panel and the CLI log):

* **Loss per epoch** — the mean of the ``"loss"`` (total training loss) of the epoch's
  ``step`` rows, which is the ``train_loss`` the trainer records for the epoch. Only
  *completed* epochs count (those with an ``epoch`` or ``checkpoint`` row): the partial epoch
  of a run that was stopped, or is still training, is left out.
* **mAP per epoch** — ``map_voc07`` (VOC2007 11-point) and ``map_voc`` (VOC2010+ all-point) of
  the ``epoch`` rows; only evaluated epochs have one (``eval_every``).
* **Per-class AP** — the ``epoch`` rows' ``ap_voc07`` / ``ap_voc`` dicts (class → AP on the
  run's validation split). :func:`compare_ap` takes them from each run's *best* epoch (the
  evaluated epoch with the highest ``map_voc07``, the earliest on ties — what ``best.pt``
  holds when every epoch is evaluated) or its *last* evaluated epoch.
* **Resumes** append to the same file: a ``start`` row whose ``first_epoch`` is ``F`` drops
  whatever earlier rows said about epochs ``>= F`` (a resume from an earlier ``last.pt``
  retrains them).

Null numbers (NaN in the run) stay NaN. A line that is not JSON raises ``ValueError`` naming
the file and line, except a cut-off *last* line (a run being written right now), which is
skipped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
#: How :func:`compare_ap` picks each run's epoch.
EPOCH_CHOICES = ("best", "last")
#: The AP variants of a ``metrics.jsonl`` epoch row.
AP_METRICS = {"voc07": "VOC2007 11-point", "voc": "VOC2010+ all-point"}


@dataclass
class RunCurves:
    """One run's per-epoch numbers (see the module doc for where each comes from)."""

    path: Path
    model: str = ""
    classes: tuple[str, ...] = ()
    #: completed epochs with their mean training loss (``(E,)`` each, ascending epochs)
    loss_epochs: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    #: evaluated epochs with their mAP@0.5 (ascending epochs)
    map_epochs: list[int] = field(default_factory=list)
    map_voc07: list[float] = field(default_factory=list)
    map_voc: list[float] = field(default_factory=list)
    #: evaluated epoch → class → AP, per metric key of :data:`AP_METRICS`
    ap: dict[str, dict[int, dict[str, float]]] = field(
        default_factory=lambda: {"voc07": {}, "voc": {}})
    finished: bool = False

    @property
    def name(self) -> str:
        """The run folder's name (what the Runs list and the plot legends show)."""
        return self.path.name

    def best_epoch(self) -> int | None:
        """The evaluated epoch with the highest finite ``map_voc07`` (earliest on ties)."""
        best: tuple[float, int] | None = None
        for epoch, value in zip(self.map_epochs, self.map_voc07):
            if math.isfinite(value) and (best is None or value > best[0]):
                best = (value, epoch)
        return None if best is None else best[1]

    def last_epoch(self) -> int | None:
        """The last evaluated epoch."""
        return self.map_epochs[-1] if self.map_epochs else None

    def epoch_for(self, which: str) -> int | None:
        if which not in EPOCH_CHOICES:
            raise ValueError(f"epoch choice must be one of {EPOCH_CHOICES}, got {which!r}")
        return self.best_epoch() if which == "best" else self.last_epoch()

    def map_at(self, epoch: int, metric: str = "voc07") -> float:
        i = self.map_epochs.index(epoch)
        return (self.map_voc07 if metric == "voc07" else self.map_voc)[i]


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc})") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # cut off while the run is writing it
                break
            raise ValueError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}: line {number} is not a JSON object")
        rows.append(row)
    return rows


def _epoch_of(row: dict[str, Any], path: Path, number: int) -> int:
    epoch = row.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise ValueError(f"{path}: row {number} ({row.get('type')}) has no epoch >= 1: {epoch!r}")
    return epoch


def read_run(folder: str | Path) -> RunCurves:
    """The curves of the run in ``folder`` (which holds ``metrics.jsonl``).

    Raises ``FileNotFoundError`` when there is no ``metrics.jsonl``, ``ValueError`` naming the
    file and line for a malformed one.
    """
    folder = Path(folder)
    path = folder / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no {METRICS_FILE} (not a training run folder)")
    run = RunCurves(folder)
    step_losses: dict[int, list[float]] = {}
    completed: set[int] = set()
    train_loss: dict[int, float] = {}
    evaluated: dict[int, tuple[float, float, dict[str, float], dict[str, float]]] = {}
    for number, row in enumerate(_rows(path), 1):
        kind = row.get("type")
        if kind == "start":
            run.model = str(row.get("model") or run.model)
            run.classes = tuple(str(c) for c in row.get("classes") or run.classes)
            run.finished = False
            first = row.get("first_epoch", 1)
            first = first if isinstance(first, int) else 1
            for table in (step_losses, train_loss, evaluated):
                for epoch in [e for e in table if e >= first]:
                    del table[epoch]
            completed = {e for e in completed if e < first}
        elif kind == "step":
            loss = _number(row.get("loss"))
            step_losses.setdefault(_epoch_of(row, path, number), []).append(loss)
        elif kind == "epoch":
            epoch = _epoch_of(row, path, number)
            completed.add(epoch)
            train_loss[epoch] = _number(row.get("train_loss"))
            evaluated[epoch] = (_number(row.get("map_voc07")), _number(row.get("map_voc")),
                                {str(k): _number(v) for k, v in (row.get("ap_voc07") or {}).items()},
                                {str(k): _number(v) for k, v in (row.get("ap_voc") or {}).items()})
        elif kind == "checkpoint":
            completed.add(_epoch_of(row, path, number))
        elif kind == "finished":
            run.finished = True
    for epoch in sorted(completed):
        finite = [v for v in step_losses.get(epoch, []) if math.isfinite(v)]
        mean = math.fsum(finite) / len(finite) if finite else train_loss.get(epoch, math.nan)
        run.loss_epochs.append(epoch)
        run.loss.append(mean)
    for epoch in sorted(evaluated):
        m07, m10, ap07, ap10 = evaluated[epoch]
        if math.isnan(m07) and math.isnan(m10) and not ap07:
            continue  # an epoch row without evaluation numbers
        run.map_epochs.append(epoch)
        run.map_voc07.append(m07)
        run.map_voc.append(m10)
        run.ap["voc07"][epoch] = ap07
        run.ap["voc"][epoch] = ap10
    return run


def find_runs(project_root: str | Path) -> list[Path]:
    """Run folders of a project: ``<project_root>/runs/*/`` holding ``metrics.jsonl``, sorted by
    name (the Train panel's ``<model>-<YYYYmmdd-HHMMSS>`` names sort by model, then time)."""
    runs = Path(project_root) / "runs"
    if not runs.is_dir():
        return []
    return sorted((p for p in runs.iterdir() if (p / METRICS_FILE).is_file()),
                  key=lambda p: p.name)


@dataclass(frozen=True)
class ApComparison:
    """Per-class AP of ``R`` runs side by side.

    ``runs`` the run names; ``epochs`` the epoch each run's numbers come from (None: the run was
    never evaluated); ``classes`` every class any run has AP for, in order of first appearance
    (runs in order), then the row ``"mAP"``; ``values[c][r]`` the AP (NaN where the run has none);
    ``diffs[c][r - 1] = values[c][r] - values[c][0]`` for runs ``1..R-1`` (NaN when one is NaN).
    """

    runs: tuple[str, ...]
    epochs: tuple[int | None, ...]
    metric: str
    which: str
    classes: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    diffs: tuple[tuple[float, ...], ...]

    def text_rows(self) -> list[list[str]]:
        """The table as text: class, one AP per run (3 decimals, "—" for none), then the
        differences with a sign ("+0.125", "-0.050", "—")."""
        return [[name, *(format_ap(v) for v in vals), *(format_diff(d) for d in diffs)]
                for name, vals, diffs in zip(self.classes, self.values, self.diffs)]


def format_ap(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"


def format_diff(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:+.3f}"


def compare_ap(runs: Sequence[RunCurves], which: str = "best",
               metric: str = "voc07") -> ApComparison:
    """Per-class AP (``metric`` ``"voc07"`` or ``"voc"``) of ``runs`` at each run's ``which``
    epoch (``"best"`` or ``"last"``), with the differences to the first run."""
    if metric not in AP_METRICS:
        raise ValueError(f"metric must be one of {sorted(AP_METRICS)}, got {metric!r}")
    epochs = tuple(run.epoch_for(which) for run in runs)
    per_run = [run.ap[metric].get(e, {}) if e is not None else {} for run, e in zip(runs, epochs)]
    classes: list[str] = []
    for table in per_run:
        classes.extend(c for c in table if c not in classes)
    values = [[table.get(c, math.nan) for table in per_run] for c in classes]
    values.append([run.map_at(e, metric) if e is not None else math.nan
                   for run, e in zip(runs, epochs)])
    diffs = [[v - row[0] for v in row[1:]] for row in values]
    return ApComparison(tuple(r.name for r in runs), epochs, metric, which,
                        (*classes, "mAP"), tuple(tuple(r) for r in values),
                        tuple(tuple(d) for d in diffs))
