"""Checkpoints with bad values, and resuming a run (issue 12).

Before: ``train DIR --resume RUN/last.pt --out RUN`` without ``--model`` on a demo-recipe run
crashed with ``KeyError: 'momentum'`` (its AdamW state loaded into SGD); well-formed checkpoints
with bad values (missing ``epoch``/``params``/``lr_lambdas``, ``image_size="big"``, an empty
state_dict, ``top_k=None``) gave tracebacks in detect / eval / export-onnx / train --resume.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


def _train_helpers():  # tests/train_helpers.py (tests are not a package)
    spec = importlib.util.spec_from_file_location(
        "adversarial_train_helpers", Path(__file__).resolve().parents[1] / "train_helpers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _main(argv: list[str]) -> int:
    from workbench.cli import main

    return main(argv)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A one-step demo-recipe run (AdamW, the recipe of demo_ssdlite_cpu): (voc dir, run dir)."""
    root = tmp_path_factory.mktemp("demo_run")
    _train_helpers().write_tiny_voc(root / "voc", n_images=4)
    run = root / "run"
    code = _main(["train", str(root / "voc"), "--model", "demo_ssdlite_cpu", "--epochs", "1",
                  "--max-steps-per-epoch", "1", "--image-size", "128", "--batch-size", "2",
                  "--out", str(run)])
    assert code == 0 and (run / "last.pt").is_file()
    return root / "voc", run


def test_resume_without_model_takes_everything_from_the_checkpoint(
        demo_run: tuple[Path, Path], tmp_path: Path) -> None:
    voc, run = demo_run
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    (resumed / "last.pt").write_bytes((run / "last.pt").read_bytes())
    code = _main(["train", str(voc), "--resume", str(resumed / "last.pt"), "--epochs", "2",
                  "--out", str(resumed)])
    assert code == 0
    ckpt = torch.load(resumed / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and ckpt["model_name"] == "demo_ssdlite_cpu"
    assert ckpt["config"]["optimizer"] == "adamw"
    assert "betas" in ckpt["optimizer"]["param_groups"][0]  # still AdamW's state


@pytest.mark.parametrize("option", [["--optimizer", "sgd"], ["--model", "ssd300_vgg16"],
                                    ["--lr", "0.5"], ["--image-size", "160"],
                                    ["--weights", "coco"]])
def test_resume_refuses_a_conflicting_option(demo_run: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture, option) -> None:
    voc, run = demo_run
    code = _main(["train", str(voc), "--resume", str(run / "last.pt"), *option,
                  "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code != 0
    assert "cannot resume" in err and option[0] in err and "checkpoint" in err


def test_engine_refuses_a_resume_with_another_optimizer(demo_run: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    """The GUI and scripts call the engine directly: the typed error, not KeyError."""
    from workbench.engine.config import TrainConfig
    from workbench.engine.events import ConfigError
    from workbench.engine.trainer import train

    voc, run = demo_run
    cfg = TrainConfig(images_dir=voc, model="demo_ssdlite_cpu", optimizer="sgd", epochs=2,
                      resume=run / "last.pt", out_dir=tmp_path / "o", image_size=128)
    with pytest.raises(ConfigError, match="checkpoint's optimizer"):
        list(train(cfg))


def _drop(*keys: str) -> Callable[[dict], None]:
    def mutate(ckpt: dict) -> None:
        target = ckpt
        for k in keys[:-1]:
            target = target[k]
        if isinstance(target, list):
            for item in target:
                item.pop(keys[-1], None)
        else:
            del target[keys[-1]]
    return mutate


def _set(key: str, value, sub: str | None = None) -> Callable[[dict], None]:
    def mutate(ckpt: dict) -> None:
        (ckpt[sub] if sub else ckpt)[key] = value
    return mutate


#: name → (mutation, does it break inference too, or only a resume)
HOSTILE: dict[str, tuple[Callable[[dict], None], bool]] = {
    "missing epoch": (_drop("epoch"), False),
    "missing optimizer params": (_drop("optimizer", "param_groups", "params"), False),
    "missing lr_lambdas": (_drop("scheduler", "lr_lambdas"), False),
    "missing config": (_drop("config"), False),
    "image_size big": (_set("image_size", "big"), True),
    "image_size 0": (_set("image_size", 0), True),
    "empty state_dict": (_set("model", {}), True),
    "top_k None": (_set("top_k", None, "postprocess"), True),
    "score 7": (_set("score_threshold", 7.0, "postprocess"), True),
    "classes not a list": (_set("classes", "cat"), True),
    "classes empty": (_set("classes", []), True),
    "unknown model": (_set("model_name", "no_such_net"), True),
    "epoch -1": (_set("epoch", -1), True),
    "postprocess a list": (_set("postprocess", [1, 2]), True),
}


@pytest.fixture(scope="module")
def hostile(demo_run: tuple[Path, Path], tmp_path_factory) -> dict[str, Path]:
    _, run = demo_run
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name, (mutate, _) in HOSTILE.items():
        ckpt = torch.load(run / "last.pt", weights_only=True)
        mutate(ckpt)
        paths[name] = folder / (name.replace(" ", "_") + ".pt")
        torch.save(ckpt, paths[name])
    return paths


def _commands(ckpt: Path, voc: Path, out: Path, inference: bool) -> list[list[str]]:
    resume = [["train", str(voc), "--resume", str(ckpt), "--epochs", "3", "--out",
               str(out / "run")]]
    if not inference:
        return resume
    return resume + [["detect", str(ckpt), str(voc / "images"), "--out", str(out / "det")],
                     ["eval", str(voc), "--checkpoint", str(ckpt)],
                     ["export-onnx", str(ckpt), str(out / "m.onnx"), "--no-check"]]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_bad_checkpoint_values_are_one_message_not_a_traceback(
        case: str, hostile: dict[str, Path], demo_run: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    voc, _ = demo_run
    for argv in _commands(hostile[case], voc, tmp_path, HOSTILE[case][1]):
        code = _main(argv)  # an uncaught exception fails the test
        err = capsys.readouterr().err
        assert code != 0, argv
        assert "checkpoint" in err and str(hostile[case]) in err, (argv, err)
        assert "Traceback" not in err
    assert not (tmp_path / "det").exists() and not (tmp_path / "m.onnx").exists()


def test_validator_accepts_the_real_checkpoint(demo_run: tuple[Path, Path]) -> None:
    from workbench.engine.checkpoint import check_checkpoint

    _, run = demo_run
    ckpt = torch.load(run / "last.pt", weights_only=True)
    check_checkpoint(ckpt, run / "last.pt", for_resume=True)
