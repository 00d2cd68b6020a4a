"""``workbench train`` end to end, as a user runs it (subprocess), on a tiny generated folder."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("workbench_train_helpers",
                                               ROOT / "tests" / "train_helpers.py")
H = sys.modules.get("workbench_train_helpers")
if H is None:
    H = importlib.util.module_from_spec(_spec)
    sys.modules["workbench_train_helpers"] = H
    _spec.loader.exec_module(H)
write_tiny_voc, snapshot_of = H.write_tiny_voc, H.snapshot_of

COMMON = ["--model", "ssdlite320_mobilenet_v3_large", "--image-size", "96",
          "--batch-size", "3", "--warmup-steps", "1"]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("WORLD_SIZE", None)
    return env


def _workbench(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "train", *args], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=timeout)


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_train_then_resume_writes_metrics_and_checkpoints(tmp_path: Path) -> None:
    write_tiny_voc(tmp_path / "voc")
    run = tmp_path / "run"
    done = _workbench(str(tmp_path / "voc"), *COMMON, "--epochs", "2", "--out", str(run))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "training ssdlite320_mobilenet_v3_large on cpu" in out
    assert "weights: no pretrained weights: training from scratch" in out
    assert out.count("mAP VOC07(11pt)") == 2 and "epoch 2/2  loss" in out
    assert "ETA" in out and f"saved {run / 'last.pt'}" in out
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "metrics.jsonl"]
    rows = _rows(run)
    epochs = [r for r in rows if r["type"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]  # as the log prints them
    assert set(epochs[0]["ap_voc07"]) == {"blue", "red"}
    steps = [r for r in rows if r["type"] == "step"]
    assert len(steps) == 4 and set(steps[0]["losses"]) == {"bbox_regression", "classification"}
    split = tmp_path / "voc" / "ImageSets" / "Main"
    assert len(split.joinpath("val.txt").read_text().split()) == 2

    again = _workbench(str(tmp_path / "voc"), *COMMON, "--epochs", "3",
                       "--resume", str(run / "last.pt"), "--out", str(run))
    assert again.returncode == 0, again.stderr
    assert "resuming at epoch 3/3" in again.stdout and "epoch 3/3  loss" in again.stdout
    assert "epoch 1/3" not in again.stdout
    assert [r["epoch"] for r in _rows(run) if r["type"] == "epoch"] == [1, 2, 3]
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 3


def test_faults_exit_non_zero_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = _workbench(str(tmp_path / "empty"), *COMMON, "--out", str(tmp_path / "r"))
    assert done.returncode == 1
    assert "error: no labeled images to train on" in done.stderr



def test_bad_model_and_missing_weights_in_process(tmp_path: Path, capsys) -> None:
    from workbench.cli import main

    write_tiny_voc(tmp_path / "voc", n_images=3)
    assert main(["train", str(tmp_path / "empty"), "--model", "yolo",
                 "--out", str(tmp_path / "r")]) == 1
    assert "error: unknown model 'yolo'" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "voc"), *COMMON, "--weights",
                 str(tmp_path / "none.pth"), "--out", str(tmp_path / "r")]) == 1
    assert f"error: weights file {tmp_path / 'none.pth'} does not exist" in \
        capsys.readouterr().err
    assert not (tmp_path / "r" / "last.pt").exists()


@pytest.mark.slow
def test_torchrun_two_gloo_processes_rank0_writes_one_checkpoint(tmp_path: Path) -> None:
    write_tiny_voc(tmp_path / "voc", n_images=12)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "workbench", "train", str(tmp_path / "voc"), *COMMON, "--epochs", "1",
           "--out", str(run)]
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("mAP VOC07(11pt)") == 1  # rank 0 alone evaluates and logs
    assert done.stdout.count("saved ") == 1
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "metrics.jsonl"]
    rows = _rows(run)
    assert [r["type"] for r in rows].count("start") == 1
    assert [r["type"] for r in rows].count("epoch") == 1
    # 10 train images, 2 ranks × batch 3 → 2 steps per rank (DistributedSampler shards)
    assert [r["type"] for r in rows].count("step") == 2
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 1


def test_ctrl_c_stops_after_the_step_with_status_130(tmp_path: Path) -> None:
    import signal

    write_tiny_voc(tmp_path / "voc")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "train", str(tmp_path / "voc"), *COMMON,
         "--epochs", "50", "--batch-size", "2", "--out", str(tmp_path / "run")],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("epoch 1/50 ["):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopping after this step" in err
    assert "stopped after 0 epochs" in out


def test_options_left_out_come_from_the_models_recipe(tmp_path: Path) -> None:
    from workbench.cli import build_parser
    from workbench.cli.train import _config

    def config(*extra: str):  # noqa: ANN202
        return _config(build_parser().parse_args(
            ["train", str(tmp_path), "--out", str(tmp_path / "r"), *extra]))

    demo = config("--model", "demo_ssdlite_cpu")
    assert (demo.optimizer, demo.lr, demo.batch_size, demo.epochs, demo.weight_decay,
            demo.warmup_steps, demo.image_size) == ("adamw", 3e-3, 8, 60, 1e-4, 50, 320)
    mine = config("--model", "demo_ssdlite_cpu", "--epochs", "3", "--optimizer", "sgd",
                  "--lr", "0.01", "--grad-clip", "0")
    assert (mine.optimizer, mine.lr, mine.epochs, mine.batch_size, mine.grad_clip) == (
        "sgd", 0.01, 3, 8, None)
    assert (demo.augment, demo.augmentation) == (True, "auto")
    ssd_aug = config("--model", "demo_ssdlite_cpu", "--augment", "ssd")
    assert (ssd_aug.augment, ssd_aug.augmentation) == (True, "ssd")
    assert config("--no-augment").augment is False
    stock = config()  # torchvision models have no recipe: the documented defaults
    assert (stock.model, stock.optimizer, stock.lr, stock.batch_size, stock.epochs,
            stock.warmup_steps, stock.grad_clip) == (
        "ssdlite320_mobilenet_v3_large", "sgd", None, 4, 10, 100, 10.0)
