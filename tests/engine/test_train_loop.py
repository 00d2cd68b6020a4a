"""The training generator on a tiny generated folder (ssdlite320 at 96 px, CPU, 1 thread)."""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.engine import checkpoint as ck
from workbench.engine.config import TrainConfig
from workbench.engine.detectors import DetectorSpec, _ssdlite, get_spec, register_detector
from workbench.engine.events import (
    CheckpointError,
    CheckpointSaved,
    ClassWithoutBoxesError,
    EmptyDatasetError,
    EpochEvaluated,
    Finished,
    NonFiniteLossError,
    OutOfMemoryError,
    RunStarted,
    SampleSkipped,
    StepLogged,
)
from workbench.engine.metrics_log import read_metrics
from workbench.engine.trainer import train

torch.set_num_threads(1)


def _config(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(images_dir=tmp_path, model="ssdlite320_mobilenet_v3_large", image_size=96,
                epochs=1, batch_size=3, warmup_steps=1, out_dir=tmp_path / "run")
    base.update(kw)
    return TrainConfig(**base)


def test_loss_goes_down_on_a_tiny_set(tmp_path: Path, tiny_records, snapshot_of) -> None:
    data = snapshot_of(tiny_records[:4], n_val=0)
    cfg = _config(tmp_path, epochs=12, lr=0.05, schedule="constant", warmup_steps=0,
                  augment=False, out_dir=None)
    totals = [e.total for e in train(cfg, data) if isinstance(e, StepLogged)]
    assert len(totals) == 12  # 4 images, batch 3: the lone 4th image is dropped
    assert np.mean(totals[-3:]) < 0.8 * totals[0], totals


def test_epoch_events_carry_map_and_files_are_written(tmp_path: Path, tiny_records, snapshot_of) -> None:
    events = list(train(_config(tmp_path, epochs=2), snapshot_of(tiny_records)))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["RunStarted", "StepLogged", "StepLogged", "EpochEvaluated",
                     "CheckpointSaved", "StepLogged", "StepLogged", "EpochEvaluated",
                     "CheckpointSaved", "Finished"]
    ev = [e for e in events if isinstance(e, EpochEvaluated)]
    assert [e.epoch for e in ev] == [0, 1] and ev[0].num_val_images == 2
    for e in ev:
        assert 0.0 <= e.map_voc07 <= 1.0 and 0.0 <= e.map_voc <= 1.0
        assert set(e.ap_voc07) == {"blue", "red"} and set(e.ap_voc) == {"blue", "red"}
    steps = [e for e in events if isinstance(e, StepLogged)]
    assert [s.global_step for s in steps] == [1, 2, 3, 4]
    assert set(steps[0].losses) == {"bbox_regression", "classification"}
    assert steps[0].total == pytest.approx(sum(steps[0].losses.values()))
    assert steps[0].lr == pytest.approx(0.01 * 3 / 8 * 0.001)  # first warm-up step
    assert steps[-1].eta_s < steps[0].eta_s
    run = tmp_path / "run"
    rows = read_metrics(run / "metrics.jsonl")
    assert [r["type"] for r in rows].count("step") == 4
    epoch_rows = [r for r in rows if r["type"] == "epoch"]
    assert [r["epoch"] for r in epoch_rows] == [1, 2]  # numbered as shown, from 1
    assert set(epoch_rows[0]) >= {"map_voc07", "map_voc", "ap_voc07", "ap_voc", "train_loss"}
    raw = torch.load(run / "last.pt", weights_only=True)
    assert raw["epoch"] == 2 and raw["global_step"] == 4 and raw["classes"] == ["blue", "red"]
    assert raw["metrics"]["map_voc07"] == pytest.approx(ev[-1].map_voc07)
    assert (run / "best.pt").is_file()
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.epochs_completed == 2 and not fin.stopped


def test_resume_continues_the_epoch_count(tmp_path: Path, tiny_records, snapshot_of) -> None:
    data = snapshot_of(tiny_records)
    list(train(_config(tmp_path, epochs=1), data))
    cfg = _config(tmp_path, epochs=3, resume=tmp_path / "run" / "last.pt")
    events = list(train(cfg, data))
    started = events[0]
    assert isinstance(started, RunStarted) and started.start_epoch == 1
    assert "resumed from" in started.weights_message
    steps = [e for e in events if isinstance(e, StepLogged)]
    assert sorted({s.epoch for s in steps}) == [1, 2]
    assert steps[0].global_step == 3  # 2 steps before the resume
    saved = [e.epoch for e in events if isinstance(e, CheckpointSaved)]
    assert saved == [1, 2] and events[-1].epochs_completed == 3
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["epoch"] == 3
    rows = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r["epoch"] for r in rows if r["type"] == "epoch"] == [1, 2, 3]
    assert [r["first_epoch"] for r in rows if r["type"] == "start"] == [1, 2]


def test_stop_mid_epoch_returns_promptly(tmp_path: Path, tiny_records, snapshot_of) -> None:
    stop = threading.Event()
    cfg = _config(tmp_path, epochs=5, batch_size=2)
    gen = train(cfg, snapshot_of(tiny_records), stop)
    seen = []
    for event in gen:
        seen.append(event)
        if isinstance(event, StepLogged):
            stop.set()
            t0 = time.perf_counter()
            rest = list(gen)
            waited = time.perf_counter() - t0
            break
    assert waited < 1.0
    assert [type(e).__name__ for e in rest] == ["Finished"]
    assert rest[0].stopped and rest[0].epochs_completed == 0
    assert not (tmp_path / "run" / "last.pt").exists()


def _faulty_spec(name: str, fail_on_call: int, exc: Exception | None) -> None:
    """Register ``name``: ssdlite whose ``fail_on_call``-th training forward returns NaN losses
    (``exc`` None) or raises ``exc``."""

    def build(num_classes: int, size: int, weights_backbone) -> torch.nn.Module:
        model = _ssdlite(num_classes, size, weights_backbone)
        original = model.forward
        calls = {"n": 0}

        def forward(images, targets=None):
            out = original(images, targets)
            if model.training and torch.is_grad_enabled():  # not precise-BN passes
                calls["n"] += 1
                if calls["n"] == fail_on_call:
                    if exc is not None:
                        raise exc
                    out = {k: v * float("nan") for k, v in out.items()}
            return out

        model.forward = forward
        return model

    base = get_spec("ssdlite320_mobilenet_v3_large")
    register_detector(DetectorSpec(name, "ssd", 96, 64, build, "test model"))
    assert base.name != name


def test_injected_nan_stops_with_message(tmp_path: Path, tiny_records, snapshot_of) -> None:
    _faulty_spec("nan_after_two", 3, None)
    data = snapshot_of(tiny_records)
    events = []
    with pytest.raises(NonFiniteLossError) as info:
        for event in train(_config(tmp_path, model="nan_after_two", epochs=3), data):
            events.append(event)
    message = str(info.value)
    assert "loss became non-finite at epoch 2, step 1" in message
    assert "bbox_regression=nan" in message and "last.pt is kept" in message
    model, ckpt = ck.load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_out_of_memory_becomes_a_typed_error(tmp_path: Path, tiny_records, snapshot_of) -> None:
    _faulty_spec("oom_model", 1, RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    with pytest.raises(OutOfMemoryError, match="out of memory on cpu with batch size 3 at "
                                               "image size 96.*lower the batch size"):
        list(train(_config(tmp_path, model="oom_model"), snapshot_of(tiny_records)))


def test_corrupt_image_is_skipped_with_an_event(tmp_path: Path, tiny_records, snapshot_of) -> None:
    tiny_records[1].image_path.write_bytes(b"\x89PNG truncated")
    events = list(train(_config(tmp_path, out_dir=None), snapshot_of(tiny_records)))
    skipped = [e for e in events if isinstance(e, SampleSkipped)]
    assert len(skipped) == 1 and skipped[0].image.endswith("img_001.png")
    assert "unreadable image" in skipped[0].reason and "img_001.png" in skipped[0].reason
    assert isinstance(events[-1], Finished) and events[-1].epochs_completed == 1


def test_empty_dataset_and_class_without_boxes(tmp_path: Path, tiny_records, snapshot_of) -> None:
    empty = snapshot_of(tiny_records[-1:], n_val=0)  # the image without objects
    with pytest.raises(EmptyDatasetError, match="no boxes"):
        list(train(_config(tmp_path), empty))
    with pytest.raises(EmptyDatasetError, match="no labeled images to train on"):
        list(train(_config(tmp_path), snapshot_of([], n_val=0)))
    data = snapshot_of(tiny_records)
    data = type(data)(("blue", "red", "green"), data.train, data.val)
    with pytest.raises(ClassWithoutBoxesError, match="'green' \\(0 in all"):
        list(train(_config(tmp_path), data))


def test_disk_full_while_saving_keeps_last_good_checkpoint(tmp_path: Path, tiny_records, snapshot_of,
                                                           monkeypatch) -> None:
    data = snapshot_of(tiny_records)
    gen = train(_config(tmp_path, epochs=2), data)
    real_save = torch.save
    with pytest.raises(CheckpointError, match="disk full while saving checkpoint"):
        for event in gen:
            if isinstance(event, CheckpointSaved) and event.epoch == 0:
                def full(*a, **k):
                    raise OSError(errno.ENOSPC, "No space left on device")
                monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(torch, "save", real_save)
    _, ckpt = ck.load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["epoch"] == 1
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.pt", "last.pt",
                                                                    "metrics.jsonl"]


@pytest.mark.slow
def test_faster_rcnn_family_trains_with_scale_jitter(tmp_path: Path, tiny_records,
                                                     snapshot_of) -> None:
    cfg = _config(tmp_path, model="fasterrcnn_mobilenet_v3_large_320_fpn", image_size=128,
                  batch_size=2, max_steps_per_epoch=2, scale_jitter=True, out_dir=None)
    events = list(train(cfg, snapshot_of(tiny_records)))
    steps = [e for e in events if isinstance(e, StepLogged)]
    assert len(steps) == 2
    assert set(steps[0].losses) == {"loss_classifier", "loss_box_reg", "loss_objectness",
                                    "loss_rpn_box_reg"}
    assert all(np.isfinite(s.total) for s in steps)
    assert sum(isinstance(e, EpochEvaluated) for e in events) == 1
    started = events[0]
    assert "cpu" in started.device and started.steps_per_epoch == 2


def test_evaluations_left_for_the_eta_equal_counting_them() -> None:
    """The ETA counts the evaluations still to come at every step, in O(1) (summing over the
    epochs took 2.6 ms a step at 10,000 epochs)."""
    from types import SimpleNamespace

    from workbench.engine.trainer import _Run

    for val in ((), ("an image",)):
        for epochs in range(1, 13):
            for every in range(1, 6):
                run = SimpleNamespace(config=SimpleNamespace(epochs=epochs, eval_every=every),
                                      data=SimpleNamespace(val=val))
                for epoch in range(epochs + 1):
                    counted = sum(1 for e in range(epoch, epochs) if _Run._evaluates(run, e))
                    assert _Run._evals_left(run, epoch) == counted, (val, epochs, every, epoch)
