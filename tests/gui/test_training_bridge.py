"""TrainingBridge: the generator runs on a QThread and its events arrive as Qt signals."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt, QThread

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("workbench_train_helpers",
                                               ROOT / "tests" / "train_helpers.py")
H = sys.modules.get("workbench_train_helpers")
if H is None:
    H = importlib.util.module_from_spec(_spec)
    sys.modules["workbench_train_helpers"] = H
    _spec.loader.exec_module(H)
write_tiny_voc, snapshot_of = H.write_tiny_voc, H.snapshot_of

from workbench.engine.config import TrainConfig  # noqa: E402
from workbench.engine.events import EpochEvaluated, Finished, StepLogged  # noqa: E402
from workbench.gui.workers.bridge import TrainingBridge  # noqa: E402

torch.set_num_threads(1)


def _config(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(images_dir=tmp_path, model="ssdlite320_mobilenet_v3_large", image_size=96,
                epochs=1, batch_size=3, warmup_steps=1, out_dir=tmp_path / "run")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture
def data(tmp_path: Path):
    return snapshot_of(write_tiny_voc(tmp_path / "voc", write_xml=False))


def test_events_arrive_as_signals_on_the_gui_thread(qtbot, tmp_path: Path, data) -> None:
    bridge = TrainingBridge()
    got: dict[str, list] = {"steps": [], "epochs": [], "saved": [], "threads": []}
    main = QThread.currentThread()

    def on_steps(events: list) -> None:
        got["steps"].extend(events)
        got["threads"].append(QThread.currentThread() is main)

    bridge.steps_logged.connect(on_steps)
    bridge.epoch_evaluated.connect(got["epochs"].append)
    bridge.checkpoint_saved.connect(got["saved"].append)
    bridge.set_preview_image(data.val[0].image_path)
    # read in the worker thread while the run is in progress (a direct connection)
    interval = sys.getswitchinterval()

    def in_worker(event: object) -> None:
        got["interval"] = sys.getswitchinterval()
        got["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    bridge.run_started.connect(in_worker, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(bridge.preview_ready, timeout=120_000) as preview, \
            qtbot.waitSignal(bridge.training_finished, timeout=120_000) as finished, \
            qtbot.waitSignal(bridge.running_changed, timeout=120_000,
                             check_params_cb=lambda running: not running):
        bridge.start(_config(tmp_path), data)
        assert bridge.is_running()
    assert isinstance(finished.args[0], Finished) and finished.args[0].epochs_completed == 1
    assert [type(e) for e in got["steps"]] == [StepLogged, StepLogged]
    assert all(got["threads"]) and got["threads"]
    assert isinstance(got["epochs"][0], EpochEvaluated)
    assert 0.0 <= got["epochs"][0].map_voc07 <= 1.0
    assert got["saved"][0].path == tmp_path / "run" / "last.pt"
    path, detections = preview.args
    assert path == str(data.val[0].image_path)
    assert detections.image_id == data.val[0].image_id
    assert detections.boxes.shape[1] == 4 and not bridge.is_running()
    # a waiting GUI thread got the GIL within 0.25 ms during the run; the default is back after
    assert got["interval"] == pytest.approx(TrainingBridge.SWITCH_INTERVAL_S)
    assert sys.getswitchinterval() == interval
    # the worker (and the OpenMP threads it starts) yields the CPU to the GUI thread
    if sys.platform.startswith("linux"):
        gui_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert got["nice"] == min(gui_nice + TrainingBridge.WORKER_NICENESS, 19)


def test_stop_ends_the_thread_promptly(qtbot, tmp_path: Path, data) -> None:
    bridge = TrainingBridge()
    bridge.steps_logged.connect(lambda events: bridge.stop())
    with qtbot.waitSignal(bridge.training_finished, timeout=120_000) as finished:
        bridge.start(_config(tmp_path, epochs=50, batch_size=2), data)
    assert finished.args[0].stopped and finished.args[0].epochs_completed == 0
    assert bridge.wait(5000)


def test_fault_arrives_as_failed_message(qtbot, tmp_path: Path, data) -> None:
    bridge = TrainingBridge()
    empty = snapshot_of([], n_val=0)
    with qtbot.waitSignal(bridge.failed, timeout=60_000) as failed:
        bridge.start(_config(tmp_path), empty)
    assert "no labeled images to train on" in failed.args[0]
    assert bridge.wait(5000)
    with pytest.raises(RuntimeError, match="already in progress"):
        bridge.start(_config(tmp_path, epochs=50), data)
        bridge.start(_config(tmp_path), data)
    bridge.stop()
    assert bridge.wait(30000)
