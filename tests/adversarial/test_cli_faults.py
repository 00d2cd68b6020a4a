"""Faults in the CLI: bad options, a diverging run, full / read-only output folders (issue 12).

Before: ``--max-steps-per-epoch 0`` and a negative ``--warmup-steps`` were accepted silently;
``--lr 1e9`` ran to loss 1e19 and exited 0; ``export``, ``detect --out``, ``gui --screenshot``
and ``train --out`` on a full or read-only disk ended in tracebacks (train only after ~50 s of
model building).

Read-only folders: these tests run as root on CI, where ``chmod 0o555`` does not stop writes,
so the read-only and full cases are simulated — a path under a regular file (ENOTDIR, real) and
``os.open`` raising EROFS / ENOSPC at the probe; the chmod variant runs only as a normal user.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def _train_helpers():  # tests/train_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "adversarial_train_helpers_f", Path(__file__).resolve().parents[1] / "train_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _train_helpers()


def _main(argv: list[str]) -> int:
    from workbench.cli import main

    return main(argv)


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults") / "voc"
    H.write_tiny_voc(root, n_images=6)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.engine.checkpoint import make_checkpoint, save_checkpoint
    from workbench.engine.detectors import build_detector

    torch.manual_seed(0)
    model, info = build_detector("ssdlite320_mobilenet_v3_large", 3, image_size=128)
    ckpt = make_checkpoint(model.eval(), info=info, classes=["red", "blue"], config={}, epoch=1,
                           postprocess={"score_threshold": 0.0, "nms_iou": 0.5, "top_k": 5})
    return save_checkpoint(ckpt, tmp_path_factory.mktemp("ckpt") / "m.pt")


# ------------------------------------------------------------------------------ options

@pytest.mark.parametrize("option", [
    ["--max-steps-per-epoch", "0"], ["--warmup-steps", "-1"], ["--lr", "1e9"], ["--lr", "0"],
    ["--lr", "nan"], ["--epochs", "0"], ["--batch-size", "0"], ["--val-fraction", "1.5"],
    ["--image-size", "8"], ["--grad-clip", "-1"], ["--eval-every", "0"], ["--workers", "-2"]])
def test_bad_train_options_are_refused_with_a_message(voc: Path, tmp_path: Path, option,
                                                      capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        _main(["train", str(voc), *option, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert f"argument {option[0]}" in err and ("must" in err or "not a" in err), err
    assert not (tmp_path / "run").exists()


def test_config_refuses_the_same_values_for_the_gui_and_scripts(tmp_path: Path) -> None:
    from workbench.engine.config import TrainConfig
    from workbench.engine.events import ConfigError

    with pytest.raises(ConfigError, match="warm-up steps"):
        TrainConfig(images_dir=tmp_path, warmup_steps=-1)
    with pytest.raises(ConfigError, match="max steps per epoch"):
        TrainConfig(images_dir=tmp_path, max_steps_per_epoch=0)


# ------------------------------------------------------------------------------ divergence

@pytest.fixture(autouse=True)
def _unregister_test_models():
    """The exploding model must not outlive its test (other tests list every registered
    detector: the catalog, the weights enums)."""
    from workbench.engine import detectors

    before = set(detectors.detector_names())  # the built-ins are registered on first use
    yield
    for name in set(detectors._REGISTRY) - before:  # noqa: SLF001
        del detectors._REGISTRY[name]  # noqa: SLF001


def _register_exploding() -> str:
    """ssdlite whose training losses are multiplied by 1e6 from the 2nd step on (finite)."""
    from workbench.engine.detectors import DetectorSpec, get_spec, register_detector

    name = "exploding_test_model"
    base = get_spec("ssdlite320_mobilenet_v3_large")

    def build(num_classes: int, size: int, weights_backbone) -> torch.nn.Module:
        model = base.build(num_classes, size, weights_backbone)
        original = model.forward
        calls = {"n": 0}

        def forward(images, targets=None):
            out = original(images, targets)
            if model.training and torch.is_grad_enabled():
                calls["n"] += 1
                if calls["n"] >= 2:
                    out = {k: v * 1e6 for k, v in out.items()}
            return out

        model.forward = forward
        return model

    register_detector(DetectorSpec(name, "ssd", 96, 64, build, "test model"))
    return name


def test_a_diverging_run_stops_with_a_message(voc: Path, tmp_path: Path) -> None:
    from workbench.engine.config import TrainConfig
    from workbench.engine.events import DivergedError, StepLogged
    from workbench.engine.trainer import DIVERGENCE_STEPS, train

    model = _register_exploding()
    cfg = TrainConfig(images_dir=voc, model=model, image_size=96, epochs=10, batch_size=2,
                      warmup_steps=0, out_dir=None, augment=False)
    steps = []
    with pytest.raises(DivergedError, match="training diverged.*lower the learning rate"):
        for event in train(cfg):
            if isinstance(event, StepLogged):
                steps.append(event.total)
    # the first step, then N far above it: the N-th raises before its event is logged
    assert len(steps) == DIVERGENCE_STEPS
    assert all(np.isfinite(steps))  # finite all along: the non-finite check alone missed it


def test_a_diverging_run_exits_non_zero_in_the_cli(voc: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    model = _register_exploding()
    code = _main(["train", str(voc), "--model", model, "--image-size", "96", "--epochs", "10",
                  "--batch-size", "2", "--warmup-steps", "0", "--out", str(tmp_path / "run")])
    assert code == 1
    assert "training diverged" in capsys.readouterr().err


# ------------------------------------------------------------------------------ output folders

def _blocked(tmp_path: Path) -> Path:
    """A folder path under a regular file: every write fails with ENOTDIR, even as root."""
    (tmp_path / "a_file").write_text("x")
    return tmp_path / "a_file" / "out"


def _commands(voc: Path, ckpt: Path, out: Path) -> dict[str, list[str]]:
    return {
        "export": ["export", str(voc), "--format", "voc", "--out", str(out)],
        "detect": ["detect", str(ckpt), str(voc / "images"), "--out", str(out)],
        "gui": ["gui", str(voc), "--screenshot", str(out / "shot.png")],
        "train": ["train", str(voc), "--model", "ssdlite320_mobilenet_v3_large",
                  "--image-size", "96", "--epochs", "1", "--out", str(out)],
    }


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("INFO")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", ["export", "detect", "gui", "train"])
def test_output_under_a_file_is_one_line_and_exit_2(voc: Path, checkpoint: Path,
                                                    tmp_path: Path, command: str,
                                                    capsys: pytest.CaptureFixture) -> None:
    out = _blocked(tmp_path)
    t0 = time.perf_counter()
    code = _main(_commands(voc, checkpoint, out)[command])
    line = _one_line(capsys.readouterr().err)
    assert code == 2
    assert "cannot write to" in line and "not a folder" in line and str(tmp_path) in line
    assert time.perf_counter() - t0 < 10  # before any model is built
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


@pytest.fixture(params=[(errno.EROFS, "read-only"), (errno.ENOSPC, "disk is full"),
                        (errno.EACCES, "permission denied")], ids=["EROFS", "ENOSPC", "EACCES"])
def failing_probe(request, monkeypatch) -> str:
    code, words = request.param
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if ".workbench-write-probe" in os.fspath(path):
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    return words


@pytest.mark.parametrize("command", ["export", "detect", "gui", "train"])
def test_read_only_or_full_disk_at_the_probe(voc: Path, checkpoint: Path, tmp_path: Path,
                                             command: str, failing_probe: str,
                                             capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "new" / "out"
    code = _main(_commands(voc, checkpoint, out)[command])
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and failing_probe in line and str(out.parent if command == "gui"
                                                        else out) in line
    assert not (tmp_path / "new").exists()  # the folders the probe made are gone again


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores chmod 0o555; EROFS/EACCES are simulated above")
def test_chmod_read_only_folder(voc: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        code = _main(["export", str(voc), "--format", "voc", "--out", str(out / "x")])
    finally:
        out.chmod(0o755)
    assert code == 2 and "permission denied" in capsys.readouterr().err


def test_disk_filling_up_during_export_leaves_nothing(voc: Path, tmp_path: Path, monkeypatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    import workbench.core.export as export

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export, "atomic_write_text", full)  # images written, then the disk fills
    out = tmp_path / "export"
    code = _main(["export", str(voc), "--format", "voc", "--out", str(out)])
    line = _one_line(capsys.readouterr().err)
    assert code == 2 and "disk is full" in line and "nothing was kept" in line
    assert not out.exists()


def test_disk_filling_up_during_detect_removes_what_it_wrote(
        voc: Path, checkpoint: Path, tmp_path: Path, monkeypatch,
        capsys: pytest.CaptureFixture) -> None:
    import workbench.core.atomic as atomic

    real = atomic.atomic_write_text
    calls = {"n": 0}

    def fills_up(path, text, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, text, *args, **kwargs)

    monkeypatch.setattr(atomic, "atomic_write_text", fills_up)
    out = tmp_path / "det"
    out.mkdir()
    (out / "keep.txt").write_text("the user's file")
    code = _main(["detect", str(checkpoint), str(voc / "images"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "disk is full" in err and "2 files written so far were removed" in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
