"""The model catalog (workbench.core.models) is the one list every part of the program reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core import models as catalog

#: Built with 3 classes in the test (seconds on 2 CPU cores); the others are only looked up.
SMALL = {"ssdlite320_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn",
         "demo_ssdlite_cpu"}


def test_entries_are_well_formed() -> None:
    names = [m.name for m in catalog.CATALOG]
    assert len(names) == len(set(names))
    assert catalog.DEFAULT_MODEL in catalog.trainable_names()
    assert "fasterrcnn_resnet50_fpn_v2" in catalog.trainable_names()
    for m in catalog.CATALOG:
        assert m.family in ("ssd", "fasterrcnn", "ssd-demo", "rcnn", "fast_rcnn")
        assert m.min_image_size <= m.default_image_size
        assert m.label and m.description
        recipe = m.full_recipe()
        assert set(catalog.DEFAULT_RECIPE) <= set(recipe)
        assert recipe["optimizer"] in ("sgd", "adamw")
        assert recipe["schedule"] in ("cosine", "step", "constant")
    assert catalog.get_model("demo_ssdlite_cpu").full_recipe()["epochs"] == 60
    assert catalog.get_model("ssd300_vgg16").full_recipe()["lr"] is None  # family default
    with pytest.raises(KeyError, match="unknown model 'yolo'"):
        catalog.get_model("yolo")


def test_catalog_is_torch_and_qt_free() -> None:
    code = ("import sys; sys.modules['torch'] = None; sys.modules['PySide6'] = None\n"
            "import workbench.core.models, workbench.cli.train, workbench.cli.priors\n"
            "print(len(workbench.core.models.CATALOG))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert int(out.stdout) == len(catalog.CATALOG)


def test_every_trainable_entry_has_a_builder_and_small_ones_build() -> None:
    from workbench.engine import demo_model
    from workbench.engine.config import TrainConfig
    from workbench.engine.detectors import build_detector, detector_names, get_spec

    names = catalog.trainable_names()
    # The catalog's models first, in its order (tests may register models of their own).
    assert detector_names()[:len(names)] == list(names)
    assert TrainConfig(images_dir=Path(".")).model == catalog.DEFAULT_MODEL
    for entry in catalog.trainable_models():
        spec = get_spec(entry.name)
        assert callable(spec.build)
        assert (spec.family, spec.default_image_size, spec.min_image_size, spec.description) \
            == (entry.family, entry.default_image_size, entry.min_image_size, entry.description)
        TrainConfig(images_dir=Path("."), **{"model": entry.name, **entry.full_recipe()})
        if entry.name in SMALL:
            model, info = build_detector(entry.name, 3)
            assert info["family"] == entry.family
            assert info["image_size"] == entry.default_image_size
            assert sum(p.numel() for p in model.parameters()) > 0
    assert (
        catalog.get_model(demo_model.NAME).family,
        catalog.get_model(demo_model.NAME).default_image_size) == (demo_model.FAMILY, demo_model.DEFAULT_SIZE)


def test_priors_models_follow_the_catalog() -> None:
    from workbench.core.priors import SSD300_VOC_PAPER
    from workbench.engine.anchor_extract import PRIOR_MODELS, TORCHVISION_MODELS

    assert catalog.SSD300_VOC_PAPER == SSD300_VOC_PAPER
    assert catalog.prior_names() == PRIOR_MODELS
    assert PRIOR_MODELS[0] == SSD300_VOC_PAPER
    assert set(TORCHVISION_MODELS) == set(catalog.prior_names()) - {SSD300_VOC_PAPER}


def test_cli_choices_equal_the_catalog(capsys) -> None:  # noqa: ANN001
    from workbench.cli import main
    from workbench.cli import priors as priors_cli
    from workbench.cli import train as train_cli

    assert catalog.trainable_names() == train_cli.MODEL_NAMES
    assert dict(catalog.DEFAULT_RECIPE) == train_cli.RECIPE_DEFAULTS
    assert catalog.prior_names() == priors_cli.MODEL_CHOICES
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in catalog.trainable_names():
        assert name in text
    with pytest.raises(SystemExit) as exc:
        main(["priors", "--model", "yolo"])
    assert exc.value.code == 2


def test_train_and_priors_panels_list_the_catalog(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from workbench.gui.main_window import MainWindow
    from workbench.gui.panels.training import TrainingPanel
    from workbench.gui.settings import Settings

    window = MainWindow(Settings(tmp_path / "s.ini"),
                        panels=[("workbench.gui.panels.priors", "PriorsPanel", "Priors")])
    qtbot.addWidget(window)
    train = TrainingPanel(window)
    qtbot.addWidget(train)
    box = train.model_box
    assert [box.itemData(i) for i in range(box.count())] == list(catalog.trainable_names())
    assert box.currentData() == catalog.DEFAULT_MODEL
    train.shutdown()
    priors = window.panel("PriorsPanel")
    combo = priors.model_combo
    assert [combo.itemData(i) for i in range(combo.count())] == list(catalog.prior_names())
    assert [combo.itemText(i) for i in range(combo.count())] == [
        m.label for m in catalog.prior_models()]


def test_docs_list_the_catalog() -> None:
    import re

    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "training.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9_]+)`(?: \(default\))? \| (\d+) \|", text, flags=re.M)
    assert {name: int(size) for name, size in rows} == {
        m.name: m.default_image_size for m in catalog.trainable_models()}
    text = (docs / "insight-panels.md").read_text(encoding="utf-8")
    priors = re.search(r"`priors` accepts these `--model` names[^:]*:(.*?)\. It prints", text,
                       flags=re.S)
    assert priors is not None
    assert re.findall(r"`([a-z0-9_]+)`", priors.group(1)) == list(catalog.prior_names())
